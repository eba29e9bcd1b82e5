# R reference values for the bundled example data cut (data/example, params/example.yml).
#
# Regenerate (from the repository root):
#   .venv/bin/python haplo_report/qualification/reference/export_example.py   # ADTTE rows -> inputs/example_adtte.csv
#   Rscript haplo_report/qualification/reference/make_expected_example.R      # -> expected/example_*.csv
# R is not a runtime dependency: tests/test_reference_example.py reads the committed CSVs.
#
# Per ADTTE parameter, overall and per level of MRDGRP, DISGRP and PHGRP:
# - KM endpoints (PFS, OS, GRFS): survfit(conf.type = "log-log") at the endpoint's landmarks and
#   at day 5000 (past follow-up), quartiles with their CI; log-rank (survdiff) per subgroup;
# - competing-risk endpoints: cuminc + timepoints (est, var) at the landmarks and day 5000, CI
#   est^exp(+/-z se / (est log est)), z = qnorm(0.975); Gray's test (cuminc $Tests, cause 1);
# - reverse-KM median follow-up on OS and its range; median day of recovery for ANC and PLT.
# SAP conventions, as in make_expected.R: a landmark past the last observed time of the group
# is NA ("NE"), never carried, unless nobody is censored at that time (v2: determined curve,
# last value reported); CI limits are NA where the estimate is 0 or 1.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})
options(digits = 17)

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(normalizePath(script)) else "haplo_report/qualification/reference"

source(file.path(here, "ci_helpers.R"))  # z, loglog_ci, cif_ci
km_endpoints <- c("PFS", "OS", "GRFS")
cif_endpoints <- c("CIR", "NRM", "AGVHD24", "AGVHD34", "CGVHD", "CGVHDMS", "ANC", "PLT")
subgroups <- c("MRDGRP", "DISGRP", "PHGRP")
subgroup_min_n <- 5
subgroup_min_events <- 5  # SAP v3: a test also needs this many events across its levels
past_follow_up <- 5000
# endpoints.FIXED_LANDMARKS; the others use landmarks_days of params/example.yml
landmarks_of <- function(code) {
  switch(code, AGVHD24 = , AGVHD34 = 100, ANC = , PLT = c(28, 100), CGVHD = , CGVHDMS = c(365, 730),
         c(100, 365, 730))
}


adtte <- read.csv(file.path(here, "inputs", "example_adtte.csv"), stringsAsFactors = FALSE,
                  na.strings = "")
km_land <- km_quant <- cif_land <- tests <- recovery <- list()
for (code in unique(adtte$PARAMCD)) {
  d <- adtte[adtte$PARAMCD == code, ]
  times <- c(landmarks_of(code), past_follow_up)
  parts <- list(All = d)
  for (variable in subgroups) {
    known <- d[!is.na(d[[variable]]), ]
    for (level in sort(unique(known[[variable]]))) {
      parts[[paste0(variable, "=", level)]] <- known[known[[variable]] == level, ]
    }
  }
  for (label in names(parts)) {
    if (code %in% km_endpoints) {
      k <- km_rows(code, label, parts[[label]], times)
      km_land[[length(km_land) + 1]] <- k$land
      km_quant[[length(km_quant) + 1]] <- k$quant
    } else {
      cif_land[[length(cif_land) + 1]] <- cif_rows(code, label, parts[[label]], times)
    }
  }
  for (variable in subgroups) {
    known <- d[!is.na(d[[variable]]), ]
    if (length(unique(known[[variable]])) < 2) next
    events <- sum(known$EVNTTYPE == 1)
    few_patients <- min(table(known[[variable]])) < subgroup_min_n
    if (few_patients || events < subgroup_min_events) {
      tests[[length(tests) + 1]] <- data.frame(
        endpoint = code, grouping = variable,
        test = if (few_patients) "not_tested" else "not_tested_events", statistic = NA,
        df = NA, p_value = NA, n = nrow(known), events = events)
    } else if (code %in% km_endpoints) {
      sd <- survdiff(Surv(AVAL, EVNTTYPE == 1) ~ known[[variable]], data = known)
      tests[[length(tests) + 1]] <- data.frame(
        endpoint = code, grouping = variable, test = "logrank", statistic = sd$chisq,
        df = sum(sd$exp > 0) - 1, p_value = sd$pvalue, n = nrow(known),
        events = sum(known$EVNTTYPE == 1))
    } else {
      g <- cuminc(known$AVAL, known$EVNTTYPE, known[[variable]], cencode = 0)$Tests
      tests[[length(tests) + 1]] <- data.frame(
        endpoint = code, grouping = variable, test = "gray", statistic = g["1", "stat"],
        df = g["1", "df"], p_value = g["1", "pv"], n = nrow(known),
        events = sum(known$EVNTTYPE == 1))
    }
  }
  if (code %in% c("ANC", "PLT")) {
    days <- d$AVAL[d$EVNTTYPE == 1]
    recovery[[length(recovery) + 1]] <- data.frame(
      endpoint = code, median_days = median(days), min = min(days), max = max(days),
      n = length(days))
  }
}

os <- adtte[adtte$PARAMCD == "OS", ]
rfit <- survfit(Surv(AVAL, EVNTTYPE == 0) ~ 1, data = os, conf.type = "log-log")
rq <- quantile(rfit, probs = 0.5)
alive <- os$AVAL[os$EVNTTYPE == 0]
followup <- data.frame(endpoint = "OS", median = unname(rq$quantile),
                       ci_lower = unname(rq$lower), ci_upper = unname(rq$upper),
                       min = min(alive), max = max(alive), n = nrow(os),
                       deaths = sum(os$EVNTTYPE == 1))

write_csv(do.call(rbind, km_land), "example_km_landmarks.csv")
write_csv(do.call(rbind, km_quant), "example_km_quantiles.csv")
write_csv(do.call(rbind, cif_land), "example_cif_landmarks.csv")
write_csv(do.call(rbind, tests), "example_tests.csv")
write_csv(do.call(rbind, recovery), "example_recovery.csv")
write_csv(followup, "example_followup.csv")
cat("example reference files written to", file.path(here, "expected"), "\n")
