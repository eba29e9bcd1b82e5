# Shared by the make_expected*.R scripts (each sources it once it knows its folder `here`).

# A frame as CSV in `here`/`folder`: numbers with 17 significant digits, NA and NaN as empty
# cells.
write_csv <- function(frame, name, folder = "expected") {
  out <- frame
  for (col in names(out)) {
    if (is.numeric(out[[col]])) out[[col]] <- format(out[[col]], digits = 17, trim = TRUE)
  }
  out[out == "NA" | out == "NaN"] <- ""
  write.csv(out, file.path(here, folder, name), row.names = FALSE, quote = FALSE)
}

# 95% confidence limits.
z <- qnorm(0.975)

# Kaplan-Meier: log(-log) CI from the SE of log S (NA where S is 0 or 1).
loglog_ci <- function(s, se_log) {
  xx <- ifelse(s == 0 | s == 1, NA, s)
  se2 <- z * se_log / log(xx)
  list(lower = exp(-exp(log(-log(xx)) - se2)), upper = exp(-exp(log(-log(xx)) + se2)))
}

# Cumulative incidence: est^exp(+/- z se / (est log est)) as the SAP states (NA at 0 or 1).
cif_ci <- function(est, se) {
  xx <- ifelse(est == 0 | est == 1, NA, est)
  k <- z * se / (xx * log(xx))
  list(lower = xx^exp(-k), upper = xx^exp(k))
}

# SAP v2: a landmark past the last observed time is NA ("NE") unless nobody is censored at the
# last observed time (every outcome known: the curve is determined, its last value reported).
determined <- function(time, status) !any(time == max(time) & status == 0)

# cmprsk timepoints() of cause "1 1" at `times`; a determined curve (`done`) keeps its value
# past its last time `tmax` (timepoints() itself is NA there and wants distinct sorted times).
cif_timepoints <- function(fit, times, done, tmax) {
  wanted <- if (done) pmin(times, tmax) else times
  distinct <- sort(unique(wanted))
  tp <- timepoints(fit, distinct)
  at <- match(wanted, distinct)
  list(est = unname(tp$est["1 1", at]), var = unname(tp$var["1 1", at]))
}
