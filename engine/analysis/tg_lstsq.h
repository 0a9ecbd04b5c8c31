/* tg_lstsq.h — linear least squares with standard errors: the fit behind tg.analysis.lstsq and the line of
 * tg.analysis.correlate.
 *
 * What: for n observations of k regressors (X, row-major n x k) and a response y, the p coefficients b that
 * minimise |y - A b|^2, where A = X, or [1 X] (a column of ones first, so b[0] is the intercept) with
 * opt->intercept; p = k (+ 1). Then
 *     rss = |y - A b|^2,  sigma2 = rss / (n - p),  cov = sigma2 (A'A)^-1,  se = sqrt(diag(cov)),
 *     tss = sum (y - mean y)^2 with the intercept, sum y^2 without (statsmodels' uncentred R^2),
 *     r2 = 1 - rss / tss (NaN when tss = 0: a constant y),
 * i.e. numpy.linalg.lstsq and the textbook standard errors (for one regressor, numpy.polyfit(x, y, 1, cov=True)).
 * Algorithm: Householder QR of the design with its columns scaled to unit norm (LAPACKE_dgels, m >= n: R is
 * left in the upper triangle of A, and rows p..n-1 of the right-hand side hold the residual in the Q basis, so
 * rss is their sum of squares); cov = sigma2 R^-1 R^-T (LAPACKE_dtrtri), the scaling undone afterwards. The
 * reciprocal condition number of R (LAPACKE_dtrcon, 1-norm) therefore does not depend on the units of the
 * regressors; below 1e3 machine epsilons the design counts as rank deficient.
 * Reference: G. H. Golub and C. F. Van Loan, Matrix Computations, 4th ed. (2013), section 5.3.
 * Errors (TG_ERR_ARG, message "lstsq: ..."): k < 1, n <= p (no degrees of freedom for the standard errors), a
 * value that is not finite, a column of zeros, a rank-deficient design (collinear columns, a constant regressor
 * beside the intercept). TG_ERR_NOMEM when the scratch cannot be allocated.
 * Cost: O(n p^2) time; scratch (n + 2) p + p^2 + 2 n doubles; single-threaded here (OpenBLAS may use its own
 * threads inside LAPACK). Outputs coef[p], se[p] and cov[p * p] (row-major) are owned by the caller.
 */
#ifndef TG_LSTSQ_H
#define TG_LSTSQ_H

#include "core/tg_core.h"

typedef struct tg_lstsq_opts {
    int intercept; /* 1: a column of ones first (coef[0] is the intercept) */
} tg_lstsq_opts;
#define TG_LSTSQ_OPTS_INIT {1}

typedef struct tg_lstsq_result {
    int p;              /* coefficients: k (+ 1 with the intercept) */
    int64_t n, df;      /* observations, n - p */
    double rss, tss, r2, sigma2;
    double rcond;       /* reciprocal condition number of the scaled R (1-norm estimate) */
} tg_lstsq_result;

tg_status tg_lstsq(tg_ctx *ctx, const double *X, int64_t n, int k, const double *y, const tg_lstsq_opts *opt,
                   double *coef, double *se, double *cov, tg_lstsq_result *res);

#endif
