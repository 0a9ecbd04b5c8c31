/* lanalysis.c — core.analysis: linear least squares with standard errors (LAPACKE) and the special
 * functions behind the p-values of tg.analysis.correlate.
 *
 *   core.analysis.lstsq(X, y [, intercept]) -> { coef = {...}, se = {...}, cov = {{...}, ...}, rss = ..., tss = ...,
 *                                                r2 = ..., sigma2 = ..., n = ..., p = ..., df = ..., rcond = ... }
 *     X: n rows of k numbers ({{x11, x12}, {x21, x22}, ...}) or a plain list of n numbers (one regressor);
 *     y: n numbers. intercept = true prepends a column of ones, so coef[1] is the intercept.
 *     Algorithm: Householder QR of the column-scaled design (LAPACKE_dgels, m >= n: R is left in the upper
 *     triangle of A and rows p+1..n of the right-hand side hold the residual in the Q basis, so
 *     rss = their sum of squares). cov = sigma2 (X'X)^-1 = sigma2 R^-1 R^-T (LAPACKE_dtrtri), sigma2 = rss/(n-p):
 *     numpy's lstsq + the textbook SE formula (numpy.polyfit(..., cov='unscaled') x sigma2).
 *     Columns are scaled to unit norm before the factorisation and the scaling undone afterwards, so the
 *     reciprocal condition number (LAPACKE_dtrcon) does not depend on the units of the regressors.
 *     r2 = 1 - rss/tss with tss about the mean when intercept is true, about zero otherwise (statsmodels'
 *     uncentred R2); r2 is absent when tss = 0 (constant y).
 *     Misuse raises: n != #y, rows of unequal length, non-finite values, n <= p (no degrees of freedom for
 *     the standard errors), a rank-deficient design (rcond < 1e3 eps: collinear columns, constant x).
 *     Cost: O(n p^2) time, O(n p) memory, single thread. Scratch lives in Lua userdata, so a raise frees it.
 *
 *   core.analysis.betainc(a, b, x) -> I_x(a, b), the regularised incomplete beta function
 *     Continued fraction by the modified Lentz method (Numerical Recipes 3rd ed. 6.4), with the symmetry
 *     I_x(a,b) = 1 - I_{1-x}(b,a) for x > (a+1)/(a+b+2); relative accuracy ~1e-15 for a, b up to ~1e5.
 *
 *   core.analysis.t_sf(t, df) -> P(T > t) for Student's t with df > 0 degrees of freedom
 *     = I_{df/(df+t^2)}(df/2, 1/2) / 2 for t >= 0 (and 1 - that for t < 0); scipy.stats.t.sf.
 *
 *   core.analysis.clock() -> seconds of a monotonic wall clock (CLOCK_MONOTONIC), for the stage timings of
 *     reports (os.clock counts CPU time of all threads, os.time whole seconds).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lapacke.h>

#include "lbind.h"

/* ---- special functions ---- */

static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-16) break;
    }
    return h;
}

static double betainc(double a, double b, double x)
{
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0)) return exp(lbt) * betacf(a, b, x) / a;
    return 1.0 - exp(lbt) * betacf(b, a, 1.0 - x) / b;
}

static double t_sf(double t, double df)
{
    if (isinf(t)) return t > 0 ? 0.0 : 1.0;
    double tail = 0.5 * betainc(0.5 * df, 0.5, df / (df + t * t));
    return t >= 0 ? tail : 1.0 - tail;
}

static int l_betainc(lua_State *L)
{
    double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2), x = luaL_checknumber(L, 3);
    luaL_argcheck(L, a > 0 && isfinite(a), 1, "a must be a positive finite number");
    luaL_argcheck(L, b > 0 && isfinite(b), 2, "b must be a positive finite number");
    luaL_argcheck(L, x >= 0 && x <= 1, 3, "x must be in [0, 1]");
    lua_pushnumber(L, betainc(a, b, x));
    return 1;
}

static int l_t_sf(lua_State *L)
{
    double t = luaL_checknumber(L, 1), df = luaL_checknumber(L, 2);
    luaL_argcheck(L, !isnan(t), 1, "t is NaN");
    luaL_argcheck(L, df > 0 && isfinite(df), 2, "degrees of freedom must be a positive finite number");
    lua_pushnumber(L, t_sf(t, df));
    return 1;
}

/* ---- least squares ---- */

static double *scratch(lua_State *L, size_t n)
{
    return (double *)lua_newuserdatauv(L, (n ? n : 1) * sizeof(double), 0);
}

static double checkfinite(lua_State *L, int idx, const char *what, lua_Integer i, lua_Integer j)
{
    int isnum = 0;
    double v = lua_tonumberx(L, idx, &isnum);
    if (!isnum || !isfinite(v)) {
        if (j > 0) luaL_error(L, "core.analysis.lstsq: %s[%d][%d] must be a finite number", what, (int)i, (int)j);
        luaL_error(L, "core.analysis.lstsq: %s[%d] must be a finite number", what, (int)i);
    }
    return v;
}

/* Column count of X (1 for a plain list of numbers); raises on ragged rows. */
static int design_cols(lua_State *L, lua_Integer n)
{
    if (lua_rawgeti(L, 1, 1) != LUA_TTABLE) {
        lua_pop(L, 1);
        return 1;
    }
    lua_Integer k = (lua_Integer)lua_rawlen(L, -1);
    lua_pop(L, 1);
    for (lua_Integer i = 2; i <= n; i++) {
        if (lua_rawgeti(L, 1, i) != LUA_TTABLE || (lua_Integer)lua_rawlen(L, -1) != k)
            luaL_error(L, "core.analysis.lstsq: X[%d] must be a row of %d numbers like X[1]", (int)i, (int)k);
        lua_pop(L, 1);
    }
    if (k < 1 || k > 1000) luaL_error(L, "core.analysis.lstsq: rows of X must hold 1 to 1000 numbers, got %d", (int)k);
    return (int)k;
}

static void push_vec(lua_State *L, const double *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int l_lstsq(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    int intercept = lua_toboolean(L, 3);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    if ((lua_Integer)lua_rawlen(L, 2) != n)
        return luaL_error(L, "core.analysis.lstsq: X has %d rows but y has %d values", (int)n, (int)lua_rawlen(L, 2));
    if (n < 1) return luaL_error(L, "core.analysis.lstsq: no observations");
    int k = design_cols(L, n);
    int p = k + (intercept ? 1 : 0);
    if (n <= p)
        return luaL_error(L, "core.analysis.lstsq: %d observations for %d coefficients: standard errors need more "
                             "observations than coefficients", (int)n, p);

    /* column-major A (n x p), b (n), saved y, column scales, R^-1 (p x p) */
    double *A = scratch(L, (size_t)n * p), *b = scratch(L, (size_t)n), *y = scratch(L, (size_t)n);
    double *scale = scratch(L, (size_t)p), *Ri = scratch(L, (size_t)p * p), *out = scratch(L, (size_t)p * (p + 2));
    for (lua_Integer i = 1; i <= n; i++) {
        int c = 0;
        if (intercept) A[(size_t)c++ * n + (i - 1)] = 1.0;
        lua_rawgeti(L, 1, i);
        if (lua_istable(L, -1)) {
            for (int j = 1; j <= k; j++) {
                lua_rawgeti(L, -1, j);
                A[(size_t)c++ * n + (i - 1)] = checkfinite(L, -1, "X", i, j);
                lua_pop(L, 1);
            }
        } else {
            A[(size_t)c++ * n + (i - 1)] = checkfinite(L, -1, "X", i, 0);
        }
        lua_pop(L, 1);
        lua_rawgeti(L, 2, i);
        y[i - 1] = b[i - 1] = checkfinite(L, -1, "y", i, 0);
        lua_pop(L, 1);
    }
    for (int j = 0; j < p; j++) {
        double s = 0;
        for (lua_Integer i = 0; i < n; i++) s += A[(size_t)j * n + i] * A[(size_t)j * n + i];
        s = sqrt(s);
        if (s == 0) return luaL_error(L, "core.analysis.lstsq: column %d of the design is all zeros (rank deficient)", j + 1);
        scale[j] = s;
        for (lua_Integer i = 0; i < n; i++) A[(size_t)j * n + i] /= s;
    }

    lapack_int info = LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (lapack_int)n, p, 1, A, (lapack_int)n, b, (lapack_int)n);
    if (info > 0)
        return luaL_error(L, "core.analysis.lstsq: the design is rank deficient (collinear columns or a constant regressor)");
    if (info < 0) return luaL_error(L, "core.analysis.lstsq: LAPACKE_dgels failed (argument %d)", (int)-info);
    double rcond = 0;
    info = LAPACKE_dtrcon(LAPACK_COL_MAJOR, '1', 'U', 'N', p, A, (lapack_int)n, &rcond);
    if (info != 0 || !(rcond > 1e3 * DBL_EPSILON)) {
        char num[32];
        snprintf(num, sizeof num, "%.3g", rcond);
        return luaL_error(L, "core.analysis.lstsq: the design is rank deficient or nearly so (reciprocal condition "
                             "number %s): collinear columns or a constant regressor", num);
    }

    double rss = 0;
    for (lua_Integer i = p; i < n; i++) rss += b[i] * b[i];
    double sigma2 = rss / (double)(n - p);
    /* R^-1 (upper triangular) */
    for (int j = 0; j < p; j++)
        for (int i = 0; i < p; i++) Ri[(size_t)j * p + i] = i <= j ? A[(size_t)j * n + i] : 0.0;
    info = LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'U', 'N', p, Ri, p);
    if (info != 0) return luaL_error(L, "core.analysis.lstsq: R is singular (rank deficient design)");

    double *coef = out, *se = out + p, *cov = out + 2 * p; /* cov: p x p */
    for (int j = 0; j < p; j++) coef[j] = b[j] / scale[j];
    for (int i = 0; i < p; i++)
        for (int j = 0; j < p; j++) {
            double s = 0; /* (R^-1 R^-T)_ij = sum_l Ri[i,l] Ri[j,l] */
            for (int l = (i > j ? i : j); l < p; l++) s += Ri[(size_t)l * p + i] * Ri[(size_t)l * p + j];
            cov[(size_t)i * p + j] = sigma2 * s / (scale[i] * scale[j]);
        }
    for (int j = 0; j < p; j++) se[j] = sqrt(cov[(size_t)j * p + j]);

    double mean = 0, tss = 0;
    if (intercept) {
        for (lua_Integer i = 0; i < n; i++) mean += y[i];
        mean /= (double)n;
    }
    for (lua_Integer i = 0; i < n; i++) tss += (y[i] - mean) * (y[i] - mean);

    lua_createtable(L, 0, 12);
    push_vec(L, coef, p);
    lua_setfield(L, -2, "coef");
    push_vec(L, se, p);
    lua_setfield(L, -2, "se");
    lua_createtable(L, p, 0);
    for (int i = 0; i < p; i++) {
        push_vec(L, cov + (size_t)i * p, p);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "cov");
    lua_pushnumber(L, rss);
    lua_setfield(L, -2, "rss");
    lua_pushnumber(L, tss);
    lua_setfield(L, -2, "tss");
    if (tss > 0) {
        lua_pushnumber(L, 1.0 - rss / tss);
        lua_setfield(L, -2, "r2");
    }
    lua_pushnumber(L, sigma2);
    lua_setfield(L, -2, "sigma2");
    lua_pushinteger(L, n);
    lua_setfield(L, -2, "n");
    lua_pushinteger(L, p);
    lua_setfield(L, -2, "p");
    lua_pushinteger(L, n - p);
    lua_setfield(L, -2, "df");
    lua_pushnumber(L, rcond);
    lua_setfield(L, -2, "rcond");
    lua_pushboolean(L, intercept);
    lua_setfield(L, -2, "intercept");
    return 1;
}

static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
    return 1;
}

void lt_open_analysis(lua_State *L)
{
    static const luaL_Reg fns[] = {{"lstsq", l_lstsq}, {"betainc", l_betainc}, {"t_sf", l_t_sf}, {"clock", l_clock},
                                   {NULL, NULL}};
    lt_register(L, "analysis", fns);
}
