# Golden reference numbers from R for tests/test_golden_r.py.
#
# Run from the repository root:
#     Rscript tests/reference/generate_r_reference.R
# Reads  tests/reference/ologit_ucla.csv and tests/reference/petersen_test_data.csv,
# writes tests/reference/r_reference.json. Needs R with MASS, ordinal, sandwich, jsonlite
# (Debian: r-base-core r-cran-mass r-cran-ordinal r-cran-sandwich r-cran-jsonlite).
#
# Conventions (the same as lbm_model.estimators):
#   ordinal: P(Y <= k) = plogis(c_k - x'beta); case weights multiply each observation's
#            log-likelihood and score; clustered covariance = bread %*% meat %*% bread with
#            bread = inverse negative Hessian, meat = G/(G-1) * sum_g s_g s_g^T (no (N-1)/(N-K)).
#   least squares: clustered covariance with Stata's G/(G-1) * (N-1)/(N-K).

suppressPackageStartupMessages({
  library(MASS)
  library(ordinal)
  library(sandwich)
  library(jsonlite)
})

here <- "tests/reference"
if (!file.exists(file.path(here, "ologit_ucla.csv"))) {
  stop("run from the repository root: Rscript tests/reference/generate_r_reference.R")
}

versions <- list(
  R = R.version.string,
  MASS = as.character(packageVersion("MASS")),
  ordinal = as.character(packageVersion("ordinal")),
  sandwich = as.character(packageVersion("sandwich")),
  jsonlite = as.character(packageVersion("jsonlite"))
)

named <- function(x) as.list(x)            # named vector -> JSON object
max_abs <- function(a, b) max(abs(a - b))

# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------
ucla <- read.csv(file.path(here, "ologit_ucla.csv"), stringsAsFactors = FALSE)
ucla$apply <- factor(ucla$apply, levels = c("unlikely", "somewhat likely", "very likely"),
                     ordered = TRUE)
stopifnot(nrow(ucla) == 400, !anyNA(ucla$apply))
# The weight and cluster columns are deterministic functions of the 0-based row number.
stopifnot(all(ucla$row == seq_len(nrow(ucla)) - 1L),
          all(ucla$weight == 0.5 + (ucla$row %% 7) / 4),
          all(ucla$cluster == ucla$row %% 40))

petersen <- read.csv(file.path(here, "petersen_test_data.csv"))
stopifnot(nrow(petersen) == 5000, length(unique(petersen$firm)) == 500)

# ---------------------------------------------------------------------------------------
# Helpers for the ordinal models
# ---------------------------------------------------------------------------------------
clm_ctrl <- clm.control(gradTol = 1e-12, relTol = 1e-14, maxIter = 1000, maxLineIter = 200)

# Analytic per-observation scores of the weighted proportional-odds logit, written out
# independently of sandwich::estfun. Column order: beta (pared, public, gpa), then cut-points.
ordinal_scores <- function(beta, cuts, X, y, w) {
  eta <- as.vector(X %*% beta)
  J <- length(cuts) + 1L
  cc <- c(-Inf, cuts, Inf)
  yi <- as.integer(y)
  up <- cc[yi + 1L] - eta
  lo <- cc[yi] - eta
  p <- plogis(up) - plogis(lo)
  f_up <- dlogis(up)
  f_lo <- dlogis(lo)
  S <- matrix(0, nrow(X), ncol(X) + J - 1L)
  S[, seq_len(ncol(X))] <- -X * ((f_up - f_lo) / p)
  for (j in seq_len(J - 1L)) {
    S[, ncol(X) + j] <- ifelse(yi == j, f_up / p, 0) - ifelse(yi == j + 1L, f_lo / p, 0)
  }
  w * S
}

cluster_vcov <- function(bread, scores, cluster) {
  G <- length(unique(cluster))
  sums <- rowsum(scores, cluster, reorder = FALSE)
  bread %*% (crossprod(sums) * G / (G - 1)) %*% bread
}

# clm orders parameters (cut-points, beta); reorder its vcov to (beta, cut-points).
clm_vcov_beta_first <- function(fit) {
  V <- vcov(fit)
  idx <- c(names(fit$beta), names(fit$alpha))
  V[idx, idx]
}

clm_summary <- function(fit, call) {
  V <- vcov(fit)
  se <- sqrt(diag(V))
  list(
    call = call,
    coefficients = named(fit$beta),
    cutpoints = named(fit$alpha),
    se = named(se[names(fit$beta)]),
    cutpoint_se = named(se[names(fit$alpha)]),
    loglik = as.numeric(logLik(fit)),
    max_abs_gradient = max(abs(fit$gradient)),
    iterations = as.integer(fit$niter[1]),
    convergence_code = as.integer(fit$convergence$code)
  )
}

polr_summary <- function(fit, call) {
  V <- vcov(fit)
  se <- sqrt(diag(V))
  list(
    call = call,
    coefficients = named(coef(fit)),
    cutpoints = named(fit$zeta),
    se = named(se[names(coef(fit))]),
    cutpoint_se = named(se[names(fit$zeta)]),
    loglik = as.numeric(logLik(fit)),
    iterations = as.integer(fit$niter[1]),
    convergence_code = as.integer(fit$convergence)
  )
}

X_ucla <- as.matrix(ucla[, c("pared", "public", "gpa")])

# ---------------------------------------------------------------------------------------
# Case a: UCLA, unweighted, model-based standard errors
# ---------------------------------------------------------------------------------------
call_a_clm <- paste0('ordinal::clm(apply ~ pared + public + gpa, data = ucla, link = "logit", ',
                     'control = clm.control(gradTol = 1e-12, relTol = 1e-14, maxIter = 1000, maxLineIter = 200))')
fit_a_clm <- clm(apply ~ pared + public + gpa, data = ucla, link = "logit", control = clm_ctrl)
call_a_polr <- 'MASS::polr(apply ~ pared + public + gpa, data = ucla, method = "logistic", Hess = TRUE)'
fit_a_polr <- polr(apply ~ pared + public + gpa, data = ucla, method = "logistic", Hess = TRUE)

# polr with optim's default reltol (about 1.5e-8 on the objective) stops early; the same
# model with a tight reltol agrees with clm to about 1e-8, which pins down clm as the reference.
call_a_polr_tight <- paste0('MASS::polr(apply ~ pared + public + gpa, data = ucla, method = "logistic", ',
                            'Hess = TRUE, control = list(reltol = 1e-15, maxit = 1000))')
fit_a_polr_tight <- polr(apply ~ pared + public + gpa, data = ucla, method = "logistic", Hess = TRUE,
                         control = list(reltol = 1e-15, maxit = 1000))

agreement <- function(clm_fit, polr_fit) {
  s_clm <- sqrt(diag(vcov(clm_fit)))
  s_polr <- sqrt(diag(vcov(polr_fit)))
  list(
    coefficients = max_abs(clm_fit$beta, coef(polr_fit)),
    cutpoints = max_abs(clm_fit$alpha, polr_fit$zeta),
    se = max_abs(s_clm[names(clm_fit$beta)], s_polr[names(clm_fit$beta)]),
    cutpoint_se = max_abs(s_clm[names(clm_fit$alpha)], s_polr[names(clm_fit$alpha)]),
    loglik = abs(as.numeric(logLik(clm_fit)) - as.numeric(logLik(polr_fit)))
  )
}

a_clm <- clm_summary(fit_a_clm, call_a_clm)
a_polr <- polr_summary(fit_a_polr, call_a_polr)
a_polr_tight <- polr_summary(fit_a_polr_tight, call_a_polr_tight)
a_agree <- agreement(fit_a_clm, fit_a_polr)
a_agree_tight <- agreement(fit_a_clm, fit_a_polr_tight)
stopifnot(a_clm$max_abs_gradient < 1e-10,
          a_agree$coefficients < 1e-3, a_agree$cutpoints < 1e-3,
          a_agree_tight$coefficients < 1e-6, a_agree_tight$cutpoints < 1e-6)

# ---------------------------------------------------------------------------------------
# Case b: UCLA, case weights, standard errors clustered by a deterministic group
# ---------------------------------------------------------------------------------------
call_b_clm <- paste0('ordinal::clm(apply ~ pared + public + gpa, data = ucla, weights = weight, link = "logit", ',
                     'control = clm.control(gradTol = 1e-12, relTol = 1e-14, maxIter = 1000, maxLineIter = 200))')
fit_b_clm <- clm(apply ~ pared + public + gpa, data = ucla, weights = weight, link = "logit",
                 control = clm_ctrl)
call_b_vcovcl <- 'sandwich::vcovCL(fit, cluster = ~cluster, type = "HC0", cadjust = TRUE)'
V_b_cl <- vcovCL(fit_b_clm, cluster = ~cluster, type = "HC0", cadjust = TRUE)
call_b_polr <- paste0('MASS::polr(apply ~ pared + public + gpa, data = ucla, weights = weight, ',
                      'method = "logistic", Hess = TRUE, control = list(reltol = 1e-15, maxit = 1000))')
# suppressWarnings: polr's start values come from a binomial glm, which warns about
# "non-integer #successes" with non-integer case weights; the fit itself is unaffected.
fit_b_polr <- suppressWarnings(polr(apply ~ pared + public + gpa, data = ucla, weights = weight,
                                    method = "logistic", Hess = TRUE,
                                    control = list(reltol = 1e-15, maxit = 1000)))

# Independent computation: analytic scores, bread = clm's vcov (inverse of its analytic Hessian).
scores_b <- ordinal_scores(fit_b_clm$beta, fit_b_clm$alpha, X_ucla, ucla$apply, ucla$weight)
V_b_manual <- cluster_vcov(clm_vcov_beta_first(fit_b_clm), scores_b, ucla$cluster)
idx_b <- c(names(fit_b_clm$beta), names(fit_b_clm$alpha))
V_b_sandwich <- V_b_cl[idx_b, idx_b]
se_b_cluster <- sqrt(diag(V_b_manual))
names(se_b_cluster) <- idx_b
stopifnot(max(abs(colSums(scores_b))) < 1e-9,
          max_abs(V_b_manual, V_b_sandwich) < 1e-12)

b_clm <- clm_summary(fit_b_clm, call_b_clm)
b_clm$cluster_se <- named(se_b_cluster[names(fit_b_clm$beta)])
b_clm$cluster_cutpoint_se <- named(se_b_cluster[names(fit_b_clm$alpha)])
b_clm$cluster_call <- call_b_vcovcl
b_clm$cluster_manual_vs_sandwich_max_abs_vcov_diff <- max_abs(V_b_manual, V_b_sandwich)
b_polr <- polr_summary(fit_b_polr, call_b_polr)
b_agree <- agreement(fit_b_clm, fit_b_polr)
stopifnot(b_clm$max_abs_gradient < 1e-10, b_agree$coefficients < 1e-3, b_agree$cutpoints < 1e-3)

# ---------------------------------------------------------------------------------------
# Case c: Petersen's test data, OLS with standard errors clustered by firm (Stata's correction)
# ---------------------------------------------------------------------------------------
fit_c <- lm(y ~ x, data = petersen)
call_c <- 'lm(y ~ x, data = petersen); sandwich::vcovCL(fit, cluster = ~firm, type = "HC1", cadjust = TRUE)'
V_c <- vcovCL(fit_c, cluster = ~firm, type = "HC1", cadjust = TRUE)
Xc <- model.matrix(fit_c)
N <- nrow(Xc); K <- ncol(Xc); G <- length(unique(petersen$firm))
V_c_manual <- cluster_vcov(solve(crossprod(Xc)), Xc * residuals(fit_c), petersen$firm) * (N - 1) / (N - K)
stopifnot(max_abs(V_c, V_c_manual) < 1e-14)
se_c <- sqrt(diag(V_c))

# ---------------------------------------------------------------------------------------
out <- list(
  generated_by = "Rscript tests/reference/generate_r_reference.R",
  versions = versions,
  ucla_unweighted = list(
    data = "tests/reference/ologit_ucla.csv (columns apply, pared, public, gpa)",
    response_levels = levels(ucla$apply),
    convention = "P(Y <= k) = plogis(cutpoint_k - (pared, public, gpa) %*% beta)",
    clm = a_clm,
    polr = a_polr,
    polr_minus_clm_max_abs = a_agree,
    polr_tight = a_polr_tight,
    polr_tight_minus_clm_max_abs = a_agree_tight
  ),
  ucla_weighted_cluster = list(
    data = "tests/reference/ologit_ucla.csv (columns apply, pared, public, gpa, row, weight, cluster)",
    weight_formula = "weight = 0.5 + (row %% 7) / 4, row = 0-based row number",
    cluster_formula = "cluster = row %% 40 (40 clusters of 10)",
    cluster_adjustment = "G/(G-1) only (HC0 meat, no (N-1)/(N-K)); bread = inverse negative Hessian of the weighted log-likelihood",
    n_clusters = length(unique(ucla$cluster)),
    clm = b_clm,
    polr_tight = b_polr,
    polr_tight_minus_clm_max_abs = b_agree
  ),
  petersen = list(
    data = "tests/reference/petersen_test_data.csv (columns firm, year, x, y)",
    call = call_c,
    cluster_adjustment = "G/(G-1) * (N-1)/(N-K) (Stata vce(cluster))",
    n_obs = N, n_clusters = G,
    coefficients = named(coef(fit_c)),
    cluster_se = named(se_c),
    manual_vs_sandwich_max_abs_vcov_diff = max_abs(V_c, V_c_manual),
    published = list(
      source = "Petersen, test_data.htm (kellogg.northwestern.edu/faculty/petersen/htm/papers/se/test_data.htm)",
      coefficients = list(x = 1.0348),
      cluster_se = list(`(Intercept)` = 0.0670, x = 0.0506)
    )
  )
)

json <- toJSON(out, auto_unbox = TRUE, digits = I(15), pretty = TRUE)
writeLines(json, file.path(here, "r_reference.json"))
cat("wrote", file.path(here, "r_reference.json"), "\n")
