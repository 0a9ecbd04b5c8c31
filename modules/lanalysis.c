/* lanalysis.c — core.analysis: the C half of tg.analysis's statistics. Only converts: the computing is in
 * engine/analysis/ (tg_lstsq.h, tg_special.h have the manuals).
 *
 *   core.analysis.lstsq(X, y [, intercept]) -> { coef = {...}, se = {...}, cov = {{...}, ...}, rss = ..., tss = ...,
 *                                                r2 = ..., sigma2 = ..., n = ..., p = ..., df = ..., rcond = ...,
 *                                                intercept = bool }
 *     X: n rows of k numbers ({{x11, x12}, {x21, x22}, ...}) or a plain list of n numbers (one regressor);
 *     y: n numbers. intercept = true prepends a column of ones, so coef[1] is the intercept. r2 is absent when
 *     tss = 0 (constant y). Misuse raises ("lstsq: ..."): n != #y, rows of unequal length, non-finite values, and
 *     the engine's errors (n <= p, a rank-deficient design).
 *   core.analysis.betainc(a, b, x) -> I_x(a, b), the regularised incomplete beta function (scipy.special.betainc)
 *   core.analysis.t_sf(t, df) -> P(T > t) for Student's t with df > 0 degrees of freedom (scipy.stats.t.sf)
 *   core.analysis.clock() -> seconds of a monotonic wall clock (tg_now), for the stage timings of reports
 *     (os.clock counts CPU time of all threads, os.time whole seconds).
 */
#include <math.h>

#include "lbind.h"
#include "analysis/tg_lstsq.h"
#include "analysis/tg_special.h"

static int l_betainc(lua_State *L)
{
    double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2), x = luaL_checknumber(L, 3);
    luaL_argcheck(L, a > 0 && isfinite(a), 1, "a must be a positive finite number");
    luaL_argcheck(L, b > 0 && isfinite(b), 2, "b must be a positive finite number");
    luaL_argcheck(L, x >= 0 && x <= 1, 3, "x must be in [0, 1]");
    lua_pushnumber(L, tg_betainc(a, b, x));
    return 1;
}

static int l_t_sf(lua_State *L)
{
    double t = luaL_checknumber(L, 1), df = luaL_checknumber(L, 2);
    luaL_argcheck(L, !isnan(t), 1, "t is NaN");
    luaL_argcheck(L, df > 0 && isfinite(df), 2, "degrees of freedom must be a positive finite number");
    lua_pushnumber(L, tg_t_sf(t, df));
    return 1;
}

/* ---- least squares ---- */

/* The number at idx, which must be finite; what[i] or what[i][j] (j > 0) names it in the message. */
static double checkfinite(lua_State *L, int idx, const char *what, lua_Integer i, lua_Integer j)
{
    int isnum = 0;
    double v = lua_tonumberx(L, idx, &isnum);
    if (!isnum || !isfinite(v)) {
        if (j > 0) lt_error(L, "lstsq: %s[%d][%d] must be a finite number", what, (int)i, (int)j);
        lt_error(L, "lstsq: %s[%d] must be a finite number", what, (int)i);
    }
    return v;
}

/* Column count of X at index 1 (1 for a plain list of numbers); raises on ragged rows. */
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
            lt_error(L, "lstsq: X[%d] must be a row of %d numbers like X[1]", (int)i, (int)k);
        lua_pop(L, 1);
    }
    if (k < 1 || k > 1000) lt_error(L, "lstsq: rows of X must hold 1 to 1000 numbers, got %d", (int)k);
    return (int)k;
}

/* X (row-major n x k) and y from the tables at 1 and 2, into boxed arrays. */
static void read_xy(lua_State *L, lua_Integer n, int k, double *X, double *y)
{
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (lua_istable(L, -1)) {
            for (int j = 1; j <= k; j++) {
                lua_rawgeti(L, -1, j);
                X[(size_t)(i - 1) * k + (j - 1)] = checkfinite(L, -1, "X", i, j);
                lua_pop(L, 1);
            }
        } else {
            X[i - 1] = checkfinite(L, -1, "X", i, 0);
        }
        lua_pop(L, 1);
        lua_rawgeti(L, 2, i);
        y[i - 1] = checkfinite(L, -1, "y", i, 0);
        lua_pop(L, 1);
    }
}

static void push_vec(lua_State *L, const double *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static void setnum(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static int l_lstsq(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    tg_lstsq_opts o = TG_LSTSQ_OPTS_INIT;
    o.intercept = lua_toboolean(L, 3);
    lua_settop(L, 3);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    if ((lua_Integer)lua_rawlen(L, 2) != n)
        return lt_error(L, "lstsq: X has %d rows but y has %d values", (int)n, (int)lua_rawlen(L, 2));
    if (n < 1) return lt_error(L, "lstsq: no observations");
    int k = design_cols(L, n), p = k + (o.intercept ? 1 : 0);
    double *X = lt_box(L, sizeof(double) * ((size_t)n * k + (size_t)n + 2 * (size_t)p + (size_t)p * p));
    double *y = X + (size_t)n * k, *coef = y + n, *se = coef + p, *cov = se + p;
    read_xy(L, n, k, X, y);
    tg_lstsq_result r;
    lt_begin(L);
    lt_end(L, tg_lstsq(lt_ctx(L), X, n, k, y, &o, coef, se, cov, &r));
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
    setnum(L, "rss", r.rss);
    setnum(L, "tss", r.tss);
    if (r.tss > 0) setnum(L, "r2", r.r2);
    setnum(L, "sigma2", r.sigma2);
    lua_pushinteger(L, r.n);
    lua_setfield(L, -2, "n");
    lua_pushinteger(L, r.p);
    lua_setfield(L, -2, "p");
    lua_pushinteger(L, r.df);
    lua_setfield(L, -2, "df");
    setnum(L, "rcond", r.rcond);
    lua_pushboolean(L, o.intercept);
    lua_setfield(L, -2, "intercept");
    return 1;
}

static int l_clock(lua_State *L)
{
    lua_pushnumber(L, tg_now());
    return 1;
}

void lt_open_analysis(lua_State *L)
{
    static const luaL_Reg fns[] = {{"lstsq", l_lstsq}, {"betainc", l_betainc}, {"t_sf", l_t_sf}, {"clock", l_clock},
                                   {NULL, NULL}};
    lt_register(L, "analysis", fns);
}
