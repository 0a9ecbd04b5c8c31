/* tg_lstsq.c — least squares with standard errors by QR (LAPACKE): see tg_lstsq.h for the manual. */
#include "analysis/tg_lstsq.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

#include <lapacke.h>

/* The column-major design A (n x p) from X (row-major n x k), ones first with the intercept, each column scaled
 * to unit norm (scale[j] its norm). Fails on a value that is not finite or on a column of zeros. */
static tg_status design(tg_ctx *ctx, const double *X, int64_t n, int k, int intercept, double *A, double *scale)
{
    int p = k + (intercept ? 1 : 0);
    for (int64_t i = 0; i < n; i++) {
        if (intercept) A[i] = 1.0;
        for (int j = 0; j < k; j++) {
            double v = X[(size_t)i * k + j];
            if (!isfinite(v))
                return tg_fail(ctx, TG_ERR_ARG, "lstsq: X[%lld][%d] is not a finite number", (long long)i + 1, j + 1);
            A[(size_t)(j + (intercept ? 1 : 0)) * n + i] = v;
        }
    }
    for (int j = 0; j < p; j++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += A[(size_t)j * n + i] * A[(size_t)j * n + i];
        s = sqrt(s);
        if (s == 0) return tg_fail(ctx, TG_ERR_ARG, "lstsq: column %d of the design is all zeros (rank deficient)", j + 1);
        scale[j] = s;
        for (int64_t i = 0; i < n; i++) A[(size_t)j * n + i] /= s;
    }
    return TG_OK;
}

/* QR of A in place and the solution in b (LAPACKE_dgels); the reciprocal condition number of R into *rcond. */
static tg_status solve(tg_ctx *ctx, int64_t n, int p, double *A, double *b, double *rcond)
{
    lapack_int info = LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (lapack_int)n, p, 1, A, (lapack_int)n, b, (lapack_int)n);
    if (info > 0)
        return tg_fail(ctx, TG_ERR_ARG, "lstsq: the design is rank deficient (collinear columns or a constant regressor)");
    if (info < 0) return tg_fail(ctx, TG_ERR_ARG, "lstsq: LAPACKE_dgels failed (argument %d)", (int)-info);
    *rcond = 0;
    info = LAPACKE_dtrcon(LAPACK_COL_MAJOR, '1', 'U', 'N', p, A, (lapack_int)n, rcond);
    if (info != 0 || !(*rcond > 1e3 * DBL_EPSILON))
        return tg_fail(ctx, TG_ERR_ARG, "lstsq: the design is rank deficient or nearly so (reciprocal condition "
                                        "number %.3g): collinear columns or a constant regressor", *rcond);
    return TG_OK;
}

/* cov = sigma2 R^-1 R^-T with the column scaling undone, from R in the upper triangle of A; Ri: p x p scratch. */
static tg_status covariance(tg_ctx *ctx, int64_t n, int p, const double *A, const double *scale, double sigma2,
                            double *Ri, double *cov)
{
    for (int j = 0; j < p; j++)
        for (int i = 0; i < p; i++) Ri[(size_t)j * p + i] = i <= j ? A[(size_t)j * n + i] : 0.0;
    if (LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'U', 'N', p, Ri, p) != 0)
        return tg_fail(ctx, TG_ERR_ARG, "lstsq: R is singular (rank deficient design)");
    for (int i = 0; i < p; i++)
        for (int j = 0; j < p; j++) {
            double s = 0; /* (R^-1 R^-T)_ij = sum_l Ri[i,l] Ri[j,l] */
            for (int l = (i > j ? i : j); l < p; l++) s += Ri[(size_t)l * p + i] * Ri[(size_t)l * p + j];
            cov[(size_t)i * p + j] = sigma2 * s / (scale[i] * scale[j]);
        }
    return TG_OK;
}

tg_status tg_lstsq(tg_ctx *ctx, const double *X, int64_t n, int k, const double *y, const tg_lstsq_opts *opt,
                   double *coef, double *se, double *cov, tg_lstsq_result *res)
{
    tg_lstsq_opts def = TG_LSTSQ_OPTS_INIT;
    if (!opt) opt = &def;
    int intercept = opt->intercept != 0, p = k + intercept;
    if (!X || !y || !coef || !se || !cov || !res) return tg_fail(ctx, TG_ERR_ARG, "lstsq: NULL argument");
    if (k < 1) return tg_fail(ctx, TG_ERR_ARG, "lstsq: at least one regressor is needed, got %d", k);
    if (n <= p)
        return tg_fail(ctx, TG_ERR_ARG, "lstsq: %lld observations for %d coefficients: standard errors need more "
                                        "observations than coefficients", (long long)n, p);
    tg_status st = TG_OK;
    double *A = tg_malloc(sizeof(double) * ((size_t)n * p + (size_t)n + (size_t)p + (size_t)p * p));
    if (!A) return tg_fail(ctx, TG_ERR_NOMEM, "lstsq: out of memory for %lld x %d", (long long)n, p);
    double *b = A + (size_t)n * p, *scale = b + n, *Ri = scale + p;
    for (int64_t i = 0; i < n; i++) b[i] = y[i];
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(y[i])) {
            st = tg_fail(ctx, TG_ERR_ARG, "lstsq: y[%lld] is not a finite number", (long long)i + 1);
            goto done;
        }
    if ((st = design(ctx, X, n, k, intercept, A, scale)) != TG_OK) goto done;
    if ((st = solve(ctx, n, p, A, b, &res->rcond)) != TG_OK) goto done;
    double rss = 0;
    for (int64_t i = p; i < n; i++) rss += b[i] * b[i];
    double sigma2 = rss / (double)(n - p);
    if ((st = covariance(ctx, n, p, A, scale, sigma2, Ri, cov)) != TG_OK) goto done;
    for (int j = 0; j < p; j++) coef[j] = b[j] / scale[j];
    for (int j = 0; j < p; j++) se[j] = sqrt(cov[(size_t)j * p + j]);
    double mean = 0, tss = 0;
    if (intercept) {
        for (int64_t i = 0; i < n; i++) mean += y[i];
        mean /= (double)n;
    }
    for (int64_t i = 0; i < n; i++) tss += (y[i] - mean) * (y[i] - mean);
    res->p = p;
    res->n = n;
    res->df = n - p;
    res->rss = rss;
    res->tss = tss;
    res->r2 = tss > 0 ? 1.0 - rss / tss : NAN;
    res->sigma2 = sigma2;
done:
    tg_free(A);
    return st;
}
