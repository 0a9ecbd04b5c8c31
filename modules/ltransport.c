/* ltransport.c — core.transport: the C half of tg.transport.flux and tg.transport.random_walk. Only translates: option checking, the
 * "all axes" loop, units and the result shape live in lua/tortuga/transport.lua.
 *
 *   core.transport.flux(labels, {labels = {v1, v2, ...}, sigma = {s1, s2, ...}, axis = 0|1|2,
 *                                boundary = "taufactor"|"porespy", sides = "insulated"|"periodic",
 *                                fraction = "total"|"percolating", tol = 1e-6, max_iter = 2000, field = bool,
 *                                solver = {omega = 1.6, nu = 1}})
 *     (tg.transport.flux's names, one label volume axis per call: the Lua layer loops over "all")
 *     -> {tau, tau_total, tau_percolating, sigma_eff, sigma_ref, d_mean_total, d_mean_percolating, frac_total,
 *         frac_percolating, current_in, current_out, mismatch, residual, iterations, seconds, levels, unknowns,
 *         length, area, hot1, hot5, solver_bytes, percolates, converged, message,
 *         label_frac_total = {...}, label_frac_percolating = {...}, potential = vol, current = vol}
 *   core.transport.random_walk(labels, start|nil, walkers, steps, stride, seed, label)
 *     -> {steps = {...}, x = {msd...}, y = {...}, z = {...}, prob = {x, y, z}, dims_active, start_voxels}
 *   core.transport.percolating_start(labels, label, connectivity) -> u8 volume (engine/transport/tg_walk.h)
 */
#include "lbind.h"
#include "transport/tg_flux.h"
#include "transport/tg_walk.h"

#include <math.h>
#include <string.h>

static double *number_list(lua_State *L, int opt, const char *key, int *n)
{
    lua_getfield(L, opt, key);
    if (!lua_istable(L, -1)) lt_error(L, "flux: option '%s' must be a list of numbers", key);
    int len = (int)luaL_len(L, -1);
    double *a = lua_newuserdatauv(L, sizeof(double) * (size_t)(len > 0 ? len : 1), 0); /* boxed */
    for (int i = 0; i < len; i++) {
        lua_geti(L, -2, i + 1);
        if (!lua_isnumber(L, -1)) lt_error(L, "flux: %s[%d] must be a number", key, i + 1);
        a[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    lua_replace(L, -2); /* keep the box on the stack, drop the table */
    *n = len;
    return a;
}

static void setnum(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void setint(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void setlist(lua_State *L, const char *k, const double *a, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, a[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, k);
}

static int l_flux(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    tg_flux_opts o = TG_FLUX_OPTS_INIT;
    int nl = 0, ns = 0;
    o.labels = number_list(L, 2, "labels", &nl); /* 3 */
    o.sigma = number_list(L, 2, "sigma", &ns);   /* 4 */
    if (nl != ns) return lt_error(L, "flux: %d labels but %d conductivities", nl, ns);
    o.nlabels = nl;
    lua_Integer axis = lt_optinteger(L, 2, "axis", 2);
    luaL_argcheck(L, axis >= 0 && axis <= 2, 2, "axis must be 0 (x), 1 (y) or 2 (z)");
    o.axis = (int)axis;
    static const char *const boundaries[] = {"taufactor", "porespy", NULL}; /* TG_FLUX_TAUFACTOR, _POREPY */
    static const char *const fractions[] = {"total", "percolating", NULL};  /* TG_FLUX_TOTAL, _PERCOLATING */
    o.boundary = lt_optname(L, 2, "boundary", "taufactor", boundaries);
    o.fraction = lt_optname(L, 2, "fraction", "total", fractions);
    static const char *const sides[] = {"insulated", "periodic", NULL}; /* TG_FLUX_INSULATED, _PERIODIC */
    o.sides = lt_optname(L, 2, "sides", "insulated", sides);
    o.tol = lt_optnumber(L, 2, "tol", o.tol);
    lua_Integer mi = lt_optinteger(L, 2, "max_iter", o.max_iter);
    luaL_argcheck(L, mi >= 1 && mi <= 1000000000, 2, "max_iter must be >= 1");
    o.max_iter = (int)mi;
    lua_getfield(L, 2, "solver"); /* {omega = 1.6, nu = 1} */
    o.solver.omega = lt_optnumber(L, -1, "omega", o.solver.omega);
    if (!(o.solver.omega > 0 && o.solver.omega < 2.5)) lt_error(L, "flux: solver.omega must be in (0, 2.5), got %f", o.solver.omega);
    lua_Integer nu = lt_optinteger(L, -1, "nu", o.solver.nu);
    if (nu < 1 || nu > 10) lt_error(L, "flux: solver.nu must be in 1..10, got %d", (int)nu);
    o.solver.nu = (int)nu;
    lua_pop(L, 1);
    int field = lt_optboolean(L, 2, "field", 0);
    double *ft = lua_newuserdatauv(L, sizeof(double) * (size_t)(nl > 0 ? nl : 1), 0); /* 5 */
    double *fp = lua_newuserdatauv(L, sizeof(double) * (size_t)(nl > 0 ? nl : 1), 0); /* 6 */
    tg_volume *pot = NULL, *cur = NULL;
    if (field) {
        pot = lt_newvolume(L); /* 7 */
        cur = lt_newvolume(L); /* 8 */
    }
    tg_flux_result r;
    lt_begin(L);
    lt_end(L, tg_flux(lt_ctx(L), v, &o, &r, ft, fp, pot, cur));
    if (field) {
        lt_gcstep(L, pot);
        lt_gcstep(L, cur);
    }
    lua_createtable(L, 0, 32);
    setnum(L, "tau", r.tau);
    setnum(L, "tau_total", r.tau_total);
    setnum(L, "tau_percolating", r.tau_percolating);
    setnum(L, "sigma_eff", r.sigma_eff);
    setnum(L, "sigma_ref", r.sigma_ref);
    setnum(L, "d_mean_total", r.d_mean_total);
    setnum(L, "d_mean_percolating", r.d_mean_percolating);
    setnum(L, "frac_total", r.frac_total);
    setnum(L, "frac_percolating", r.frac_percolating);
    setnum(L, "current_in", r.current_in);
    setnum(L, "current_out", r.current_out);
    setnum(L, "mismatch", r.mismatch);
    setnum(L, "residual", r.residual);
    setint(L, "iterations", r.iterations);
    setnum(L, "seconds", r.seconds);
    setint(L, "levels", r.levels);
    setint(L, "unknowns", r.unknowns);
    setnum(L, "length", r.length);
    setnum(L, "area", r.area);
    if (!isnan(r.hot1)) setnum(L, "hot1", r.hot1);
    if (!isnan(r.hot5)) setnum(L, "hot5", r.hot5);
    setint(L, "solver_bytes", (lua_Integer)r.solver_bytes);
    lua_pushboolean(L, r.percolates);
    lua_setfield(L, -2, "percolates");
    lua_pushboolean(L, r.converged);
    lua_setfield(L, -2, "converged");
    lua_pushstring(L, r.message);
    lua_setfield(L, -2, "message");
    setlist(L, "label_frac_total", ft, nl);
    setlist(L, "label_frac_percolating", fp, nl);
    if (field) {
        lua_pushvalue(L, 7);
        lua_setfield(L, -2, "potential");
        lua_pushvalue(L, 8);
        lua_setfield(L, -2, "current");
    }
    return 1;
}


/* ---- random walk ---- */

static void push_array_d(lua_State *L, const double *a, int64_t n)
{
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushnumber(L, a[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static void walk_release(void *r) { tg_walk_result_free(r); }

static int l_random_walk(lua_State *L)
{
    tg_volume *mask = lt_checkvolume(L, 1);
    tg_volume *start = lua_isnoneornil(L, 2) ? NULL : lt_checkvolume(L, 2);
    tg_walk_opts o = TG_WALK_OPTS_INIT;
    o.walkers = luaL_checkinteger(L, 3);
    o.steps = luaL_checkinteger(L, 4);
    o.stride = luaL_checkinteger(L, 5);
    o.seed = (uint64_t)luaL_checkinteger(L, 6);
    lua_Integer label = luaL_optinteger(L, 7, 1);
    luaL_argcheck(L, label >= 0 && label <= 255, 7, "the label must be 0..255 (a u8 volume)");
    o.label = (uint8_t)label;
    tg_walk_result *rb = lt_boxobj(L, sizeof *rb, walk_release);
    lt_begin(L);
    lt_end(L, tg_random_walk(lt_ctx(L), mask, start, &o, rb));
    const tg_walk_result r = *rb;
    lua_createtable(L, 0, 8);
    lua_createtable(L, (int)r.nrec, 0);
    for (int64_t i = 0; i < r.nrec; i++) {
        lua_pushinteger(L, r.steps[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "steps");
    static const char *const axes[3] = {"x", "y", "z"};
    lua_createtable(L, 0, 3);
    for (int a = 0; a < 3; a++) {
        push_array_d(L, r.msd[a], r.nrec);
        lua_setfield(L, -3, axes[a]);
        lua_pushnumber(L, r.prob[a]);
        lua_setfield(L, -2, axes[a]);
    }
    lua_setfield(L, -2, "prob");
    lua_pushinteger(L, r.dims_active);
    lua_setfield(L, -2, "dims_active");
    lua_pushinteger(L, r.start_voxels);
    lua_setfield(L, -2, "start_voxels");
    return 1;
}

/* percolating_start(labels, label, connectivity) -> u8 volume */
static int l_percolating_start(lua_State *L)
{
    tg_volume *mask = lt_checkvolume(L, 1);
    lua_Integer label = luaL_checkinteger(L, 2);
    luaL_argcheck(L, label >= 0 && label <= 255, 2, "the label must be 0..255 (a u8 volume)");
    int conn = (int)luaL_checkinteger(L, 3);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_walk_percolating_start(lt_ctx(L), mask, (uint8_t)label, conn, out));
    lt_gcstep(L, out);
    return 1;
}

static const luaL_Reg fns[] = {{"flux", l_flux}, {"random_walk", l_random_walk}, {"percolating_start", l_percolating_start},
                               {NULL, NULL}};

void lt_open_transport(lua_State *L) { lt_register(L, "transport", fns); }
