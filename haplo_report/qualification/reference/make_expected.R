# Reference values for haplo_report.analysis.stats, computed with R survival and cmprsk.
#
# Regenerate (from the repository root):  Rscript haplo_report/qualification/reference/make_expected.R
# Writes the input cohorts (inputs/*.csv, fixed seed) and the expected outputs
# (expected/*.csv, 17 significant digits). R is not a runtime dependency: the tests
# only read the committed CSVs.
#
# Conventions applied here so that the expected files state the SAP rules:
# - landmarks beyond the last observed time of a group are NA ("NE"), never carried, unless
#   nobody is censored at that last time (SAP v2: the curve is determined, its last value and
#   CI are reported);
# - log(-log) CI limits are NA where S is 0 or 1 (R's summary(times=) fills 1 before
#   the first time, where the formula is undefined; survfit itself gives NA there);
# - cumulative-incidence CI: est^exp(+/-z se / (est log est)), z = qnorm(0.975), NA
#   where est is 0 or 1.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})
options(digits = 17)

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(normalizePath(script)) else "haplo_report/qualification/reference"
dir.create(file.path(here, "inputs"), showWarnings = FALSE)
dir.create(file.path(here, "expected"), showWarnings = FALSE)

source(file.path(here, "ci_helpers.R"))  # z, loglog_ci, cif_ci
landmarks <- c(100, 365, 730, 5000)

# ---- input cohorts (status: 0 censored, 1 relapse, 2 death without relapse) ----
set.seed(20240531)

make_cohort <- function(n, relapse_rate, nrm_rate, fu_min, fu_max, months = FALSE) {
  relapse <- rexp(n, relapse_rate)
  nrm <- rexp(n, nrm_rate)
  cens <- runif(n, fu_min, fu_max)
  time <- pmin(relapse, nrm, cens)
  status <- ifelse(time == cens, 0L, ifelse(time == relapse, 1L, 2L))
  time <- if (months) 30 * ceiling(time / 30) else ceiling(time)
  data.frame(id = sprintf("P%03d", seq_len(n)), time = time, status = status,
             group2 = sample(c("A", "B"), n, replace = TRUE),
             group3 = sample(c("CR1", "CR2", "CR3+"), n, replace = TRUE, prob = c(.5, .3, .2)))
}

cohorts <- list()
# 31 patients: ~35% relapse and ~15% NRM by 1 year, follow-up 6 to 40 months.
cohorts$cohort31 <- make_cohort(31, 0.0012, 0.0005, 180, 1200)
# heavy ties: whole months, relapse and NRM on the same days; a day-0 death, a day-0 censoring.
ties <- make_cohort(80, 0.0015, 0.0012, 90, 900, months = TRUE)
ties$time[1:2] <- 0
ties$status[1:2] <- c(2L, 0L)
cohorts$ties <- ties
# a larger cohort (3 groups with different relapse risk) for the tests.
large <- make_cohort(300, 0.0010, 0.0006, 100, 1500)
hi <- large$group3 == "CR3+"
large$status[hi & large$status == 0 & runif(300) < 0.5] <- 1L
cohorts$large <- large
# follow-up shorter than a year: 365 and 730 are past the last follow-up.
cohorts$short <- make_cohort(25, 0.002, 0.001, 60, 300)
# no relapse at all (only NRM and censoring).
norel <- cohorts$cohort31[1:15, ]
norel$status[norel$status == 1L] <- 0L
norel$id <- sprintf("N%03d", 1:15)
cohorts$norelapse <- norel
# everybody censored.
allc <- cohorts$cohort31[1:12, ]
allc$status <- 0L
allc$id <- sprintf("C%03d", 1:12)
cohorts$allcensored <- allc
# one patient, relapse on day 200.
cohorts$one <- data.frame(id = "S001", time = 200, status = 1L, group2 = "A", group3 = "CR1")
# everybody fails by day 300 (KM reaches 0; the CIF of the two causes sums to 1).
allf <- cohorts$cohort31[1:10, ]
allf$time <- c(20, 40, 40, 90, 120, 150, 150, 200, 260, 300)
allf$status <- c(1L, 2L, 1L, 1L, 2L, 1L, 1L, 2L, 1L, 2L)
allf$id <- sprintf("F%03d", 1:10)
cohorts$allfail <- allf

for (name in names(cohorts)) write_csv(cohorts[[name]], paste0(name, ".csv"), "inputs")

# ---- helpers ----

km_rows <- function(name, d) {
  fit <- survfit(Surv(time, status > 0) ~ 1, data = d, conf.type = "log-log")
  s <- summary(fit, censored = TRUE)
  table <- data.frame(dataset = name, time = s$time, n_risk = s$n.risk, n_event = s$n.event,
                      n_censor = s$n.censor, estimate = s$surv, se = s$std.err,
                      ci_lower = s$lower, ci_upper = s$upper)
  lm <- summary(fit, times = landmarks, extend = TRUE)
  se_log <- ifelse(lm$surv > 0, lm$std.err / lm$surv, NaN)
  ci <- loglog_ci(lm$surv, se_log)
  past <- lm$time > max(d$time) & !determined(d$time, d$status)
  land <- data.frame(dataset = name, time = lm$time,
                     estimate = ifelse(past, NA, lm$surv), se = ifelse(past, NA, lm$std.err),
                     ci_lower = ifelse(past, NA, ci$lower), ci_upper = ifelse(past, NA, ci$upper),
                     n_risk = sapply(landmarks, function(t) sum(d$time >= t)),
                     events = sapply(landmarks, function(t) sum(d$time <= t & d$status > 0)),
                     flag = ifelse(past, "NE", ""))
  q <- quantile(fit, probs = c(0.25, 0.5, 0.75))
  quant <- data.frame(dataset = name, quantile = c(0.25, 0.5, 0.75), estimate = q$quantile,
                      ci_lower = q$lower, ci_upper = q$upper)
  list(table = table, land = land, quant = quant)
}

cif_rows <- function(name, d) {
  out <- list()
  for (cause in 1:2) {
    times <- sort(unique(d$time))
    has_cause <- any(d$status == cause)
    if (has_cause) {
      fit <- cuminc(d$time, ifelse(d$status == 0, 0, ifelse(d$status == cause, 1, 2)))
      tp <- timepoints(fit, times)
    }
    # without an event of this cause cuminc has no curve (or fails): the estimate is 0
    est <- if (has_cause) tp$est["1 1", ] else rep(0, length(times))
    var <- if (has_cause) tp$var["1 1", ] else rep(0, length(times))
    ci <- cif_ci(est, sqrt(var))
    table <- data.frame(dataset = name, cause = cause, time = times, estimate = est,
                        se = sqrt(var), ci_lower = ci$lower, ci_upper = ci$upper)
    done <- determined(d$time, d$status)
    if (has_cause) {
      tl <- cif_timepoints(fit, landmarks, done, max(d$time))
      e <- tl$est
      v <- tl$var
    } else {
      e <- ifelse(landmarks > max(d$time) & !done, NA, 0)
      v <- e
    }
    ci <- cif_ci(e, sqrt(v))
    land <- data.frame(dataset = name, cause = cause, time = landmarks, estimate = e,
                       se = sqrt(v), ci_lower = ci$lower, ci_upper = ci$upper,
                       n_risk = sapply(landmarks, function(t) sum(d$time >= t)),
                       events = sapply(landmarks, function(t) sum(d$time <= t & d$status == cause)),
                       flag = ifelse(is.na(e), "NE", ""))
    out[[cause]] <- list(table = table, land = land)
  }
  out
}

km_table <- km_land <- km_quant <- cif_table <- cif_land <- list()
logrank <- gray <- follow <- list()
for (name in names(cohorts)) {
  d <- cohorts[[name]]
  k <- km_rows(name, d)
  km_table[[name]] <- k$table
  km_land[[name]] <- k$land
  km_quant[[name]] <- k$quant
  for (c in cif_rows(name, d)) {
    cif_table[[length(cif_table) + 1]] <- c$table
    cif_land[[length(cif_land) + 1]] <- c$land
  }
  # reverse Kaplan-Meier follow-up; "death" here is any event (status > 0)
  rfit <- survfit(Surv(time, status == 0) ~ 1, data = d, conf.type = "log-log")
  rq <- quantile(rfit, probs = 0.5)
  alive <- d$time[d$status == 0]
  follow[[name]] <- data.frame(dataset = name, median = unname(rq$quantile),
                               ci_lower = unname(rq$lower), ci_upper = unname(rq$upper),
                               minimum = if (length(alive)) min(alive) else NA,
                               maximum = if (length(alive)) max(alive) else NA)
  for (grouping in c("group2", "group3")) {
    if (length(unique(d[[grouping]])) < 2 || !any(d$status > 0)) next
    sd <- survdiff(Surv(time, status > 0) ~ d[[grouping]], data = d)
    logrank[[length(logrank) + 1]] <- data.frame(
      dataset = name, grouping = grouping, statistic = sd$chisq,
      df = sum(sd$exp > 0) - 1, p_value = sd$pvalue)
    ci <- cuminc(d$time, d$status, d[[grouping]])
    tests <- ci$Tests
    gray[[length(gray) + 1]] <- data.frame(
      dataset = name, grouping = grouping, cause = as.integer(rownames(tests)),
      statistic = tests[, "stat"], df = tests[, "df"], p_value = tests[, "pv"])
  }
}

write_csv(do.call(rbind, km_table), "km_table.csv")
write_csv(do.call(rbind, km_land), "km_landmarks.csv")
write_csv(do.call(rbind, km_quant), "km_quantiles.csv")
write_csv(do.call(rbind, cif_table), "cif_table.csv")
write_csv(do.call(rbind, cif_land), "cif_landmarks.csv")
write_csv(do.call(rbind, logrank), "logrank.csv")
write_csv(do.call(rbind, gray), "gray.csv")
write_csv(do.call(rbind, follow), "followup.csv")

binom <- data.frame(k = c(0, 10, 3, 15, 1, 0, 31, 7, 12),
                    n = c(10, 10, 31, 31, 1, 1, 31, 20, 25),
                    level = c(rep(0.95, 8), 0.90))
ci <- t(mapply(function(k, n, level) binom.test(k, n, conf.level = level)$conf.int,
               binom$k, binom$n, binom$level))
binom$lower <- ci[, 1]
binom$upper <- ci[, 2]
write_csv(binom, "binomial.csv")
cat("reference files written to", here, "\n")
