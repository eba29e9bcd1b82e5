# R reference values for the MRD analysis (SAP v2), written from the SAP alone.
#
# Regenerate (from the repository root):
#   .venv/bin/python haplo_report/qualification/reference/export_example.py   # also inputs/example_mrd_*.csv
#   Rscript haplo_report/qualification/reference/make_expected_mrd.R          # -> expected/mrd_*.csv
# Inputs per cut: <cut>_patients.csv (USUBJID, FASFL, HSCTDT, CUTDT, RELDT, DTHDT, FUPDAYS) and
# <cut>_assessments.csv (USUBJID, ADY, RESULT, METHOD); cuts: example_mrd (the bundled example
# cut), mrd_handbuilt (one or more patients per v2 rule).
#
# Landmarks day 30, 90, 180 (window +/-14) and 365 (+/-30); MRD-positive: RESULT >= 1e-4 for
# both methods. A landmark counts patients with HSCTDT + landmark <= CUTDT; relapse or death on
# or before the landmark day is its own row; the rest are the population when they have an
# assessment in the window: the closest, at equal distance the later, on one day the highest.
# MRD-negative at 1 year: failure = relapse or death by day 365; pending = alive and
# relapse-free at the cut with the window's last day after the cut; else success/failure by
# the day-365 assessment; else not evaluable. Rates: binom.test (Clopper-Pearson).

options(digits = 17)
args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(normalizePath(script)) else "haplo_report/qualification/reference"
source(file.path(here, "ci_helpers.R"))  # write_csv

threshold <- 1e-4
landmarks <- c(30, 90, 180, 365)
window_of <- function(landmark) if (landmark == 365) 30 else 14

chosen_result <- function(a, landmark) {
  # result of the assessment that counts, NA without one in the window
  w <- window_of(landmark)
  a <- a[abs(a$ADY - landmark) <= w, ]
  if (nrow(a) == 0) return(NA_real_)
  a$distance <- abs(a$ADY - landmark)
  a <- a[a$distance == min(a$distance), ]
  a <- a[a$ADY == max(a$ADY), ]
  max(a$RESULT)
}

rate <- function(k, n) {
  if (n == 0) return(c(k = k, n = n, estimate = NA, lower = NA, upper = NA))
  ci <- binom.test(k, n)$conf.int
  c(k = k, n = n, estimate = k / n, lower = ci[1], upper = ci[2])
}

analyse <- function(cut) {
  p <- read.csv(file.path(here, "inputs", paste0(cut, "_patients.csv")),
                stringsAsFactors = FALSE, na.strings = "")
  a <- read.csv(file.path(here, "inputs", paste0(cut, "_assessments.csv")),
                stringsAsFactors = FALSE, na.strings = "")
  p <- p[p$FASFL == "Y", ]
  hsct <- as.Date(p$HSCTDT)
  cutdt <- as.Date(p$CUTDT)
  relapse <- as.numeric(as.Date(p$RELDT) - hsct)
  death <- as.numeric(as.Date(p$DTHDT) - hsct)
  event <- pmin(relapse, death, na.rm = TRUE)
  rows <- list()
  for (landmark in landmarks) {
    reached <- hsct + landmark <= cutdt
    by_landmark <- reached & !is.na(event) & event <= landmark
    result <- sapply(p$USUBJID, function(id) chosen_result(a[a$USUBJID == id, ], landmark))
    population <- reached & !by_landmark & !is.na(result)
    negative <- sum(population & result < threshold)
    r <- rate(negative, sum(population))
    rows[[length(rows) + 1]] <- data.frame(
      cut = cut, landmark = landmark, fas = nrow(p), reached = sum(reached),
      event = sum(by_landmark), no_assessment = sum(reached & !by_landmark & is.na(result)),
      evaluable = sum(population), negative = negative, estimate = r[["estimate"]],
      lower = r[["lower"]], upper = r[["upper"]])
  }
  result <- sapply(p$USUBJID, function(id) chosen_result(a[a$USUBJID == id, ], 365))
  failure_event <- !is.na(event) & event <= 365
  open <- is.na(event) & hsct + 365 + 30 > cutdt
  pending <- !failure_event & open
  decided <- !failure_event & !open
  success <- decided & !is.na(result) & result < threshold
  failure_positive <- decided & !is.na(result) & result >= threshold
  not_evaluable <- decided & is.na(result)
  counts <- c(success = sum(success), failure = sum(failure_event | failure_positive),
              not_evaluable = sum(not_evaluable), pending = sum(pending))
  primary <- rate(counts[["success"]], counts[["success"]] + counts[["failure"]])
  sensitivity <- rate(counts[["success"]],
                      counts[["success"]] + counts[["failure"]] + counts[["not_evaluable"]])
  one_year <- data.frame(
    cut = cut, rate = c("primary", "sensitivity"), fas = nrow(p),
    success = counts[["success"]], failure = counts[["failure"]],
    failure_event = sum(failure_event), failure_positive = sum(failure_positive),
    not_evaluable = counts[["not_evaluable"]], pending = counts[["pending"]],
    k = c(primary[["k"]], sensitivity[["k"]]), n = c(primary[["n"]], sensitivity[["n"]]),
    estimate = c(primary[["estimate"]], sensitivity[["estimate"]]),
    lower = c(primary[["lower"]], sensitivity[["lower"]]),
    upper = c(primary[["upper"]], sensitivity[["upper"]]))
  categories <- data.frame(
    cut = cut, USUBJID = p$USUBJID,
    category = ifelse(failure_event | failure_positive, "failure",
                      ifelse(success, "success", ifelse(pending, "pending", "not evaluable"))))
  list(landmarks = do.call(rbind, rows), one_year = one_year, categories = categories)
}

cuts <- lapply(c("example_mrd", "mrd_handbuilt"), analyse)
write_csv(do.call(rbind, lapply(cuts, `[[`, "landmarks")), "mrd_landmarks.csv")
write_csv(do.call(rbind, lapply(cuts, `[[`, "one_year")), "mrd_one_year.csv")
write_csv(do.call(rbind, lapply(cuts, `[[`, "categories")), "mrd_categories.csv")
cat("MRD reference files written to", file.path(here, "expected"), "\n")
