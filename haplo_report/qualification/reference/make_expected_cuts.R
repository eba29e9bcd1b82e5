# R reference values for the SAP version 2 derivation rules, derived here from the raw tables
# (independently of the suite's derive.py) for several data cuts of the same raw data.
#
# Regenerate (from the repository root):  Rscript haplo_report/qualification/reference/make_expected_cuts.R
# R is not a runtime dependency: tests/test_reference_cuts.py reads the committed CSVs.
#
# Cuts (CUTS below):
# - example: data/example at 2026-07-31 (params/example.yml); a patient alive with last contact
#   more than 180 days before the cut (lost to follow-up);
# - interim: data/example at 2025-08-10: one patient registered after the cut (not enrolled),
#   two enrolled but transplanted after it;
# - sameday: inputs/sameday (hand-built) at 2025-12-31: relapse and death on one day, GVHD onset
#   on the day of death and on the day of a competing relapse (gvhd_relapse_competes: true),
#   recovery on the day of death, a death with recorded cause RELAPSE but no relapse, a death
#   after relapse with another cause, last contact only from records, an event after the cut,
#   consent after the cut, a patient outside the safety set with adverse events.
#
# SAP v2 rules written out here: enrolled = RFICDT <= cut; last known alive = latest of
# LSTALVDT and every dated record before death and on or before the cut, capped at the cut;
# end of follow-up = death, else last known alive; relapse-related death = death on or after
# the first relapse; lost to follow-up = alive and cut - last known alive > ltfu_days (180);
# same-day: relapse wins over death (CIR event, NRM competing), GVHD onset wins over death and
# competing relapse, recovery wins over death. Estimates as make_expected_example.R: KM /
# cuminc at every landmark, overall and per level of MRDGRP, DISGRP, PHGRP (levels with
# patients), tests only when both levels have >= 5 patients; NE past the last time unless no
# patient is censored then (determined curve).

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})
options(digits = 17)

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(normalizePath(script)) else "haplo_report/qualification/reference"
root <- normalizePath(file.path(here, "..", "..", ".."))
source(file.path(here, "ci_helpers.R"))  # z, loglog_ci, cif_ci, determined, cif_timepoints

CUTS <- list(
  example = list(folder = file.path(root, "data", "example"), cut = "2026-07-31",
                 relapse_competes = FALSE),
  interim = list(folder = file.path(root, "data", "example"), cut = "2025-08-10",
                 relapse_competes = FALSE),
  sameday = list(folder = file.path(here, "inputs", "sameday"), cut = "2025-12-31",
                 relapse_competes = TRUE)
)
ltfu_days <- 180
subgroup_min_n <- 5
subgroup_min_events <- 5  # SAP v3: a test also needs this many events across its levels
mrdpre_cutoff <- 1e-3
km_endpoints <- c("PFS", "OS", "GRFS")
landmarks_of <- function(code) {
  switch(code, AGVHD24 = , AGVHD34 = 100, ANC = , PLT = c(28, 100), CGVHD = , CGVHDMS = c(365, 730),
         c(100, 365, 730))
}
subgroups <- c("MRDGRP", "DISGRP", "PHGRP")

as_date <- function(x) as.Date(x, origin = "1970-01-01")  # ifelse() drops the Date class

read_table <- function(folder, name) {
  path <- file.path(folder, paste0(name, ".csv"))
  if (!file.exists(path)) return(NULL)
  d <- read.csv(path, stringsAsFactors = FALSE, na.strings = "", colClasses = "character")
  for (col in names(d)) if (grepl("DT$", col)) d[[col]] <- as.Date(d[[col]])
  d
}

# per patient (ids) the min / max of a date column over rows passing `keep`
per_patient <- function(d, column, ids, keep = TRUE, fun = min) {
  out <- rep(as.Date(NA), length(ids))
  if (is.null(d)) return(out)
  d <- d[keep & !is.na(d[[column]]), , drop = FALSE]
  for (i in seq_along(ids)) {
    x <- d[[column]][d$USUBJID == ids[i]]
    if (length(x)) out[i] <- fun(x)
  }
  out
}

derive <- function(folder, cut, relapse_competes) {
  cut <- as.Date(cut)
  t <- lapply(setNames(nm = c("subjects", "relapses", "deaths", "gvhd", "mrd", "engraftment",
                              "adverse_events")), function(n) read_table(folder, n))
  s <- t$subjects[t$subjects$RFICDT <= cut, ]
  ids <- s$USUBJID
  death_any <- t$deaths$DTHDT[match(ids, t$deaths$USUBJID)]
  death <- as_date(ifelse(!is.na(death_any) & death_any <= cut, death_any, NA))
  cause <- ifelse(is.na(death), NA, t$deaths$DTHCAUS[match(ids, t$deaths$USUBJID)])
  rel <- per_patient(t$relapses, "RELDT", ids, t$relapses$RELDT <= cut)
  # last known alive: records before death (any death date) and on or before the cut
  alive_rows <- function(d, column) {
    if (is.null(d)) return(NULL)
    dd <- t$deaths$DTHDT[match(d$USUBJID, t$deaths$USUBJID)]
    d[!is.na(d[[column]]) & d[[column]] <= cut & (is.na(dd) | d[[column]] < dd), ]
  }
  lka <- pmin(s$LSTALVDT, cut)
  records <- list(c("relapses", "RELDT"), c("mrd", "MRDDT"), c("gvhd", "ONSETDT"),
                  c("engraftment", "ANCDT"), c("engraftment", "PLTDT"),
                  c("adverse_events", "AESTDT"))
  for (r in records) {
    latest <- per_patient(alive_rows(t[[r[1]]], r[2]), r[2], ids, fun = max)
    lka <- as_date(ifelse(!is.na(latest) & latest > lka, latest, lka))
  }
  fas <- !is.na(s$HSCTDT) & s$HSCTDT <= cut
  saf <- !is.na(s$BLINDAYS) & as.integer(s$BLINDAYS) > 0
  eos <- as_date(ifelse(is.na(death), lka, death))
  dead <- !is.na(death)
  relapse_related <- dead & !is.na(rel) & rel <= death
  lost <- !dead & as.numeric(cut - lka) > ltfu_days
  ae <- t$adverse_events
  ae_outside <- if (is.null(ae)) 0 else
    length(unique(ae$USUBJID[ae$AESTDT <= cut & ae$USUBJID %in% ids[!saf]]))
  counts <- data.frame(
    name = c("ENRLFL=Y", "FASFL=Y", "FASFL=N", "SAFFL=Y", "DTHFL=Y", "DTHFL=N", "LTFUFL=Y",
             "AE SAFFL=N", "AE SAFFL=N denominator", "DEATH FAS", "DTHCAT=Relapse-related",
             "DTHCAT=Non-relapse", "DTHCAT=Death before transplant"),
    value = c(length(ids), sum(fas), sum(!fas), sum(saf), sum(dead), sum(!dead), sum(lost),
              ae_outside, sum(!saf), sum(dead & fas), sum(relapse_related & fas),
              sum(dead & !relapse_related & fas), sum(dead & !fas)))  # v3: never transplanted

  # ADTTE, FAS only
  f <- which(fas)
  hsct <- s$HSCTDT[f]
  eos_f <- eos[f]
  d_f <- death[f]
  r_f <- rel[f]
  fid <- ids[f]
  rows <- list()
  add <- function(code, event, competing = rep(as.Date(NA), length(f)), no_record = NULL) {
    is_event <- !is.na(event) & (is.na(competing) | event <= competing)
    is_comp <- !is_event & !is.na(competing)
    if (!is.null(no_record)) {
      is_event <- is_event & !no_record
      is_comp <- is_comp & !no_record
    }
    date <- as_date(ifelse(is_event, event, ifelse(is_comp, competing, eos_f)))
    rows[[length(rows) + 1]] <<- data.frame(
      USUBJID = fid, PARAMCD = code, AVAL = as.numeric(date - hsct),
      EVNTTYPE = ifelse(is_event, 1L, ifelse(is_comp, 2L, 0L)))
  }
  first_of <- function(...) {
    x <- cbind(...)
    as_date(apply(x, 1, function(v) if (all(is.na(v))) NA else min(v, na.rm = TRUE)))
  }
  add("PFS", first_of(r_f, d_f))
  add("OS", d_f)
  add("CIR", r_f, d_f)                                     # relapse on the death day: relapse
  nrm_death <- as_date(ifelse(!is.na(r_f) & !is.na(d_f) & r_f <= d_f, NA, d_f))
  add("NRM", nrm_death, r_f)                               # death after relapse: competing
  g <- t$gvhd
  if (!is.null(g)) {
    g <- g[g$ONSETDT <= cut, ]
    onset <- function(type, grades, systx = FALSE) {
      keep <- g$GVHDTYPE == type & g$GRADE %in% grades & (!systx | g$SYSTX == "Y")
      per_patient(g, "ONSETDT", fid, keep)
    }
    competing <- if (relapse_competes) first_of(r_f, d_f) else d_f
    add("AGVHD24", onset("ACUTE", c("II", "III", "IV")), competing)
    add("AGVHD34", onset("ACUTE", c("III", "IV")), competing)
    add("CGVHD", onset("CHRONIC", c("MILD", "MODERATE", "SEVERE")), competing)
    add("CGVHDMS", onset("CHRONIC", c("MODERATE", "SEVERE")), competing)
    add("GRFS", first_of(onset("ACUTE", c("III", "IV")),
                         onset("CHRONIC", c("MILD", "MODERATE", "SEVERE"), TRUE), r_f, d_f))
  }
  e <- t$engraftment
  if (!is.null(e)) {
    no_record <- !(fid %in% e$USUBJID)
    for (p in list(c("ANC", "ANCDT"), c("PLT", "PLTDT"))) {
      rec <- e[[p[2]]][match(fid, e$USUBJID)]
      rec <- as_date(ifelse(!is.na(rec) & rec <= cut, rec, NA))
      add(p[1], rec, d_f, no_record)                       # recovery on the death day: recovery
    }
  }
  adtte <- do.call(rbind, rows)
  groups <- data.frame(
    USUBJID = fid,
    MRDGRP = ifelse(as.numeric(s$MRDPRE[f]) >= mrdpre_cutoff, ">=1e-3", "<1e-3"),
    DISGRP = ifelse(s$DISSTAT[f] == "CR1", "CR1", "CR2+"),
    PHGRP = ifelse(grepl("PH-POSITIVE|PH\\+", toupper(s$SUBTYPE[f])), "Ph-positive",
                   "Ph-negative"))
  list(adtte = merge(adtte, groups, by = "USUBJID", sort = FALSE), counts = counts)
}

# the landmark columns checked by tests/test_reference_cuts.py
LANDMARK_COLUMNS <- c("endpoint", "subgroup", "time", "estimate", "ci_lower", "ci_upper", "n",
                      "n_risk", "events", "flag")

adtte_all <- counts_all <- land <- tests <- follow <- list()
for (name in names(CUTS)) {
  spec <- CUTS[[name]]
  derived <- derive(spec$folder, spec$cut, spec$relapse_competes)
  adtte <- derived$adtte
  adtte_all[[name]] <- cbind(cut = name, adtte[order(adtte$PARAMCD, adtte$USUBJID),
                                               c("USUBJID", "PARAMCD", "AVAL", "EVNTTYPE")])
  counts_all[[name]] <- cbind(cut = name, derived$counts)
  for (code in unique(adtte$PARAMCD)) {
    d <- adtte[adtte$PARAMCD == code, ]
    times <- landmarks_of(code)
    parts <- list(All = d)
    with_subgroups <- !(code %in% c("ANC", "PLT"))
    if (with_subgroups) {
      for (variable in subgroups) {
        for (level in sort(unique(d[[variable]]))) {
          parts[[paste0(variable, "=", level)]] <- d[d[[variable]] == level, ]
        }
      }
    }
    for (label in names(parts)) {
      rows <- if (code %in% km_endpoints) km_rows(code, label, parts[[label]], times)$land
              else cif_rows(code, label, parts[[label]], times)
      land[[length(land) + 1]] <- cbind(cut = name, rows[, LANDMARK_COLUMNS])
    }
    if (!with_subgroups) next
    for (variable in subgroups) {
      sizes <- table(d[[variable]])
      few_patients <- length(sizes) < 2 || min(sizes) < subgroup_min_n
      if (few_patients || sum(d$EVNTTYPE == 1) < subgroup_min_events) {
        tests[[length(tests) + 1]] <- data.frame(
          cut = name, endpoint = code, grouping = variable,
          test = if (few_patients) "not_tested" else "not_tested_events",
          statistic = NA, p_value = NA, n = nrow(d), events = sum(d$EVNTTYPE == 1))
      } else if (code %in% km_endpoints) {
        sd <- survdiff(Surv(AVAL, EVNTTYPE == 1) ~ d[[variable]], data = d)
        tests[[length(tests) + 1]] <- data.frame(
          cut = name, endpoint = code, grouping = variable, test = "logrank",
          statistic = sd$chisq, p_value = sd$pvalue, n = nrow(d),
          events = sum(d$EVNTTYPE == 1))
      } else {
        g <- cuminc(d$AVAL, d$EVNTTYPE, d[[variable]], cencode = 0)$Tests
        tests[[length(tests) + 1]] <- data.frame(
          cut = name, endpoint = code, grouping = variable, test = "gray",
          statistic = g["1", "stat"], p_value = g["1", "pv"], n = nrow(d),
          events = sum(d$EVNTTYPE == 1))
      }
    }
  }
  os <- adtte[adtte$PARAMCD == "OS", ]
  rq <- quantile(survfit(Surv(AVAL, EVNTTYPE == 0) ~ 1, data = os, conf.type = "log-log"),
                 probs = 0.5)
  alive <- os$AVAL[os$EVNTTYPE == 0]
  follow[[name]] <- data.frame(cut = name, median = unname(rq$quantile),
                               ci_lower = unname(rq$lower), ci_upper = unname(rq$upper),
                               min = min(alive), max = max(alive), n = nrow(os),
                               deaths = sum(os$EVNTTYPE == 1))
}

write_csv(do.call(rbind, adtte_all), "cuts_adtte.csv")
write_csv(do.call(rbind, counts_all), "cuts_counts.csv")
write_csv(do.call(rbind, land), "cuts_landmarks.csv")
write_csv(do.call(rbind, tests), "cuts_tests.csv")
write_csv(do.call(rbind, follow), "cuts_followup.csv")
cat("cut reference files written to", file.path(here, "expected"), "\n")
