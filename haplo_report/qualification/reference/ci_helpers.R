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

# Landmark rows of one endpoint (AVAL, EVNTTYPE: 1 the event, 2 competing, 0 censored) in one
# subgroup: Kaplan-Meier (with its quartiles) and cumulative incidence, as the suite reports
# them (NE past the last time unless determined).
km_rows <- function(code, label, d, times) {
  fit <- survfit(Surv(AVAL, EVNTTYPE == 1) ~ 1, data = d, conf.type = "log-log")
  lm <- summary(fit, times = times, extend = TRUE)
  se_log <- ifelse(lm$surv > 0, lm$std.err / lm$surv, NaN)
  ci <- loglog_ci(lm$surv, se_log)
  past <- times > max(d$AVAL) & !determined(d$AVAL, d$EVNTTYPE)
  land <- data.frame(endpoint = code, subgroup = label, time = times,
                     estimate = ifelse(past, NA, lm$surv), se = ifelse(past, NA, lm$std.err),
                     ci_lower = ifelse(past, NA, ci$lower), ci_upper = ifelse(past, NA, ci$upper),
                     n = nrow(d), n_risk = lm$n.risk,
                     events = sapply(times, function(t) sum(d$AVAL <= t & d$EVNTTYPE == 1)),
                     flag = ifelse(past, "NE", ""))
  q <- quantile(fit, probs = c(0.25, 0.5, 0.75))
  quant <- data.frame(endpoint = code, subgroup = label, quantile = c(0.25, 0.5, 0.75),
                      estimate = unname(q$quantile), ci_lower = unname(q$lower),
                      ci_upper = unname(q$upper), n = nrow(d), events = sum(d$EVNTTYPE == 1))
  list(land = land, quant = quant)
}

# Number at risk at each landmark (SAP v3): R survival's n.risk of the curve of the first
# outcome (event or competing event ends the time at risk), extended past the last time (0).
n_risk_at <- function(d, times) {
  fit <- survfit(Surv(AVAL, EVNTTYPE != 0) ~ 1, data = d)
  summary(fit, times = times, extend = TRUE)$n.risk
}

cif_rows <- function(code, label, d, times) {
  done <- determined(d$AVAL, d$EVNTTYPE)
  past <- times > max(d$AVAL) & !done
  if (any(d$EVNTTYPE == 1)) {
    tp <- cif_timepoints(cuminc(d$AVAL, d$EVNTTYPE, cencode = 0), times, done, max(d$AVAL))
    est <- tp$est
    var <- tp$var
  } else {  # no event of the cause: cuminc has no curve; the estimate is 0
    est <- rep(0, length(times))
    var <- est
  }
  est <- ifelse(past, NA, est)
  var <- ifelse(past, NA, var)
  ci <- cif_ci(est, sqrt(var))
  data.frame(endpoint = code, subgroup = label, time = times, estimate = est, var = var,
             se = sqrt(var), ci_lower = ci$lower, ci_upper = ci$upper, n = nrow(d),
             n_risk = n_risk_at(d, times),
             events = sapply(times, function(t) sum(d$AVAL <= t & d$EVNTTYPE == 1)),
             flag = ifelse(past, "NE", ""))
}
