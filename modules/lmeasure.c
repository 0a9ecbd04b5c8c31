/* lmeasure.c — core.measure: the C half of tg.measure (chords, components, percolation, distance, thickness,
 * active CAM, marching-cubes meshes and surface areas). Only translates: option checking, units and result
 * shapes live in lua/tortuga/measure.lua.
 *
 *   core.measure.chords(labels, phase, axis0, spacing, trim) -> {lengths = {m...}, histogram = {[L] = count},
 *                                                                n = , nlines = , max_voxels = , voxel_length = m}
 *   core.measure.components(mask, conn) -> labels, n, sizes{1..n}, bboxes{{x1,y1,z1,x2,y2,z2} 1-based inclusive}
 *   core.measure.percolation(labels, phase, axis0, conn) -> {phase_voxels, total_voxels, voxels = {spanning, inlet,
 *                                                            outlet, isolated}, clusters = {...}}
 *   core.measure.distance(mask, dtype, squared) -> f32/f64 volume (metres)
 *   core.measure.thickness(mask) -> f32 volume (diameter, metres)
 *   core.measure.quantiles(volume, {q...}) -> {values} (volume-weighted, positive voxels)
 *   core.measure.active_cam(labels, cam, ise, axis0, collector_last, conn, {reach...}, want_distance)
 *       -> {cam_voxels, ise_voxels, cam_electronic, ise_ionic, cam_contact, cam_cluster, reached = {...},
 *           faces_cam_ise, faces_connected, sweeps, max_distance} [, f32 distance volume]
 *   core.measure.mcubes(labels, phase, method, closed, smooth)   -> Mesh       (method "lewiner" | "lorensen")
 *   core.measure.surfaces(labels, {labels...}, convention ("open" | "closed"), smooth, method)
 *       -> {area = {..}, union = {[i] = {[j] = ..}}, interface = {[i] = {[j] = ..}}, voxels = {..}, total_voxels, volume,
 *           tpb = {..}, tpb_any} (indices follow the order of the label list, 1-based)
 *   core.measure.stream(stack, {memory=, max_slab=, counts=, profile=axis0, sha256=, what=, spacing = {sx, sy, sz},
 *                               surfaces = {{labels = {...}, convention=, smooth=, method=}...},
 *                               chords = {{phase=, axis=axis0, spacing=, trim="faces"|"ends"|"none"}...},
 *                               components = {{connectivity=, phase=}...}})
 *       -> {total, counts = {[label] = n}, profile = {[label] = {n...}}, sha256, surfaces = {<as surfaces>...},
 *           chords = {{histogram, n, nlines, max_voxels, voxel_length}...}, components = {{n, sizes, background,
 *           provisional, percolation = {x = <as percolation>, y, z}}...}, streamed = {slab, slabs, halo, overlap,
 *           memory, planned, peak, passes, voxels, seconds, voxels_per_second, units}}      (one pass over the stack: tg_measure_stream)
 *   core.measure.surfaces_fields({field volumes...} | labels, nil | {labels...}, convention, method, {sx, sy, sz} (voxels),
 *                                truncate, level, unions, argmax)
 *       -> {area = {..}, union = {[i] = {[j] = ..}}, interface = {..}, interface_formula = "unions" | "eq1" | "none",
 *           soft_voxels = {..}, voxels = {..}, sum_error, nan_voxels, total_voxels, volume, radius = {rx, ry, rz}}
 *       (fields: tg_surfaces_fields; a label volume with its list of labels: tg_surfaces_smoothed)
 *   The tortuga.Mesh userdata: mesh:counts() -> nverts, ntris   mesh:area()   mesh:volume()   mesh:vertex(i) -> x, y, z
 *   mesh:triangle(i) -> a, b, c (1-based vertex numbers)   mesh:spacing()   mesh:release()   mesh:released()
 *   (core.io.write_mesh writes it, modules/lio.c)
 */
#include "lbind.h"
#include "measure/tg_active.h"
#include "measure/tg_chords.h"
#include "core/tg_components.h"
#include "measure/tg_edt.h"
#include "measure/tg_mcubes.h"
#include "measure/tg_measure_stream.h"
#include "io/tg_stream.h"
#include "measure/tg_percolation.h"
#include "measure/tg_surfaces.h"
#include "measure/tg_surfaces_fields.h"
#include "measure/tg_thickness.h"

#include <string.h>

static int checkaxis(lua_State *L, int idx)
{
    lua_Integer a = luaL_checkinteger(L, idx);
    luaL_argcheck(L, a >= 0 && a <= 2, idx, "axis must be 0 (x), 1 (y) or 2 (z)");
    return (int)a;
}

static int checkconn(lua_State *L, int idx)
{
    lua_Integer c = luaL_checkinteger(L, idx);
    if (c != 6 && c != 18 && c != 26) return lt_error(L, "connectivity must be 6, 18 or 26, got %d", (int)c);
    return (int)c;
}

/* Boxed scratch arrays (freed by the collector), so an error between engine calls leaks nothing. */
static void *scratch(lua_State *L, size_t bytes) { return lua_newuserdatauv(L, bytes ? bytes : 1, 0); }

static void chords_release(void *r) { tg_chords_result_free(r); }

static int l_chords(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_chords_opts o = TG_CHORDS_OPTS_INIT;
    o.phase = luaL_checkinteger(L, 2);
    o.axis = checkaxis(L, 3);
    lua_Integer sp = luaL_checkinteger(L, 4);
    luaL_argcheck(L, sp >= 0 && sp < (1 << 30), 4, "spacing must be >= 0 voxels");
    o.spacing = (int)sp;
    static const char *const trims[] = {"none", "faces", "ends", NULL};
    o.trim = (tg_chord_trim)luaL_checkoption(L, 5, "faces", trims);
    tg_chords_result *r = lt_boxobj(L, sizeof *r, chords_release);
    lt_begin(L);
    lt_end(L, tg_chords(lt_ctx(L), v, &o, r));
    int64_t *hist = lt_box(L, sizeof *hist * (size_t)(r->max_length + 1)); /* counts by length in voxels */
    tg_chords_histogram(r, hist);
    double vl = v->spacing[o.axis];
    int64_t n = r->n, maxl = r->max_length;
    lua_createtable(L, 0, 6);
    lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushnumber(L, (double)r->lengths[i] * vl);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "lengths");
    lua_createtable(L, (int)maxl, 0);
    for (int64_t l = 1; l <= maxl; l++) {
        lua_pushinteger(L, hist[l]);
        lua_rawseti(L, -2, l);
    }
    lua_setfield(L, -2, "histogram");
    lua_pushinteger(L, n);
    lua_setfield(L, -2, "n");
    lua_pushinteger(L, r->nlines);
    lua_setfield(L, -2, "nlines");
    lua_pushinteger(L, maxl);
    lua_setfield(L, -2, "max_voxels");
    lua_pushnumber(L, vl);
    lua_setfield(L, -2, "voxel_length");
    return 1;
}

static void components_info_release(void *info) { tg_components_info_free(info); }

/* components(volume, conn [, phase]): with a phase the voxels equal to it are labelled, otherwise the nonzero ones */
static int l_components(lua_State *L)
{
    tg_volume *m = lt_checkvolume(L, 1);
    tg_components_opts o = TG_COMPONENTS_OPTS_INIT;
    o.connectivity = checkconn(L, 2);
    if (!lua_isnoneornil(L, 3)) { o.use_phase = 1; o.phase = luaL_checkinteger(L, 3); }
    lua_settop(L, 3);
    tg_volume *lab = lt_newvolume(L);                                              /* 4 */
    tg_components_info *info = lt_boxobj(L, sizeof *info, components_info_release); /* 5 */
    int64_t n = 0;
    lt_begin(L);
    lt_end(L, tg_components_ex(lt_ctx(L), m, &o, lab, &n, info));
    const int64_t *sizes = info->sizes, *bbox = info->bbox;
    lt_gcstep(L, lab);
    lua_pushvalue(L, 4);
    lua_pushinteger(L, n);
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 1; i <= n; i++) {
        lua_pushinteger(L, sizes[i]);
        lua_rawseti(L, -2, i);
    }
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 1; i <= n; i++) {
        lua_createtable(L, 6, 0);
        for (int k = 0; k < 3; k++) {
            lua_pushinteger(L, bbox[i * 6 + k] + 1); /* 0-based lo -> 1-based first */
            lua_rawseti(L, -2, k + 1);
            lua_pushinteger(L, bbox[i * 6 + 3 + k]); /* half-open hi -> 1-based last */
            lua_rawseti(L, -2, k + 4);
        }
        lua_rawseti(L, -2, i);
    }
    return 4; /* labels, n, sizes, bboxes */
}

static int l_percolation(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_percolation_opts o = TG_PERCOLATION_OPTS_INIT;
    o.phase = luaL_checkinteger(L, 2);
    o.axis = checkaxis(L, 3);
    o.connectivity = checkconn(L, 4);
    tg_percolation_result r;
    lt_begin(L);
    lt_end(L, tg_percolation(lt_ctx(L), v, &o, &r));
    static const char *const names[4] = {"isolated", "inlet", "outlet", "spanning"}; /* TG_PERC_* order */
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, r.phase_voxels);
    lua_setfield(L, -2, "phase_voxels");
    lua_pushinteger(L, r.total_voxels);
    lua_setfield(L, -2, "total_voxels");
    lua_pushinteger(L, r.n_clusters);
    lua_setfield(L, -2, "n_clusters");
    lua_createtable(L, 0, 4);
    for (int k = 0; k < 4; k++) {
        lua_pushinteger(L, r.voxels[k]);
        lua_setfield(L, -2, names[k]);
    }
    lua_setfield(L, -2, "voxels");
    lua_createtable(L, 0, 4);
    for (int k = 0; k < 4; k++) {
        lua_pushinteger(L, r.clusters[k]);
        lua_setfield(L, -2, names[k]);
    }
    lua_setfield(L, -2, "clusters");
    return 1;
}

static int l_distance(lua_State *L)
{
    tg_volume *m = lt_checkvolume(L, 1);
    tg_edt_opts o = TG_EDT_OPTS_INIT;
    o.dtype = lua_isnoneornil(L, 2) ? TG_F64 : lt_checkdtype(L, 2, "tg.measure.distance");
    o.squared = lua_toboolean(L, 3);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_edt(lt_ctx(L), m, &o, out));
    lt_gcstep(L, out);
    return 1;
}

static int l_thickness(lua_State *L)
{
    tg_volume *m = lt_checkvolume(L, 1);
    tg_volume *out = lt_newvolume(L);
    lt_begin(L);
    lt_end(L, tg_thickness(lt_ctx(L), m, out));
    lt_gcstep(L, out);
    return 1;
}

static int l_quantiles(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer nq = luaL_len(L, 2);
    luaL_argcheck(L, nq >= 1 && nq <= 1000, 2, "expected 1 to 1000 quantiles");
    double *q = scratch(L, (size_t)nq * 2 * sizeof *q);
    for (lua_Integer i = 0; i < nq; i++) {
        lua_geti(L, 2, i + 1);
        q[i] = luaL_checknumber(L, -1);
        lua_pop(L, 1);
    }
    lt_begin(L);
    lt_end(L, tg_positive_quantiles(lt_ctx(L), v, (int)nq, q, q + nq));
    lua_createtable(L, (int)nq, 0);
    for (lua_Integer i = 0; i < nq; i++) {
        lua_pushnumber(L, q[nq + i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_active_cam(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    tg_active_opts o = TG_ACTIVE_OPTS_INIT;
    o.cam = luaL_checkinteger(L, 2);
    o.ise = luaL_checkinteger(L, 3);
    o.axis = checkaxis(L, 4);
    o.collector_last = lua_toboolean(L, 5);
    o.connectivity = checkconn(L, 6);
    luaL_checktype(L, 7, LUA_TTABLE);
    lua_Integer nr = luaL_len(L, 7);
    luaL_argcheck(L, nr >= 0 && nr <= TG_ACTIVE_MAX_REACH, 7, "too many reach values");
    o.n_reach = (int)nr;
    for (lua_Integer i = 0; i < nr; i++) {
        lua_geti(L, 7, i + 1);
        o.reach[i] = luaL_checknumber(L, -1);
        lua_pop(L, 1);
    }
    int want = lua_toboolean(L, 8);
    tg_volume *dist = want ? lt_newvolume(L) : NULL;
    tg_active_result r;
    lt_begin(L);
    lt_end(L, tg_active_cam(lt_ctx(L), v, &o, &r, dist));
    lua_createtable(L, 0, 12);
    static const char *const names[] = {"cam_voxels", "ise_voxels", "cam_electronic", "ise_ionic", "cam_contact",
                                        "cam_cluster", "faces_cam_ise", "faces_connected"};
    const int64_t vals[] = {r.cam_voxels, r.ise_voxels, r.cam_electronic, r.ise_ionic, r.cam_contact,
                            r.cam_cluster, r.faces_cam_ise, r.faces_connected};
    for (int k = 0; k < 8; k++) {
        lua_pushinteger(L, vals[k]);
        lua_setfield(L, -2, names[k]);
    }
    lua_pushinteger(L, r.sweeps);
    lua_setfield(L, -2, "sweeps");
    lua_pushnumber(L, r.max_distance);
    lua_setfield(L, -2, "max_distance");
    lua_createtable(L, (int)nr, 0);
    for (int k = 0; k < o.n_reach; k++) {
        lua_pushinteger(L, r.cam_reached[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "reached");
    if (dist) {
        lt_gcstep(L, dist);
        lua_pushvalue(L, -2); /* the distance volume */
        return 2;
    }
    return 1;
}

/* ---- marching cubes, surfaces and the tortuga.Mesh userdata ---- */

static tg_mesh *newmesh(lua_State *L)
{
    tg_mesh *m = lua_newuserdatauv(L, sizeof *m, 0);
    tg_mesh_init(m);
    luaL_setmetatable(L, LT_MESH_MT);
    return m;
}

tg_mesh *lt_checkmesh(lua_State *L, int idx)
{
    tg_mesh *m = luaL_checkudata(L, idx, LT_MESH_MT);
    if (!m->verts) lt_error(L, "the mesh has been released");
    return m;
}

static int method_of(lua_State *L, int idx)
{
    static const char *const names[] = {"lewiner", "lorensen", NULL};
    return luaL_checkoption(L, idx, "lewiner", names);
}

static int l_mcubes(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    lua_Integer phase = luaL_checkinteger(L, 2);
    tg_mcubes_opts o = TG_MCUBES_OPTS_INIT;
    o.method = method_of(L, 3);
    o.closed = lua_toboolean(L, 4);
    o.smooth = lua_toboolean(L, 5);
    tg_mesh *m = newmesh(L);
    lt_begin(L);
    lt_end(L, tg_mcubes(lt_ctx(L), v, phase, &o, m));
    lua_gc(L, LUA_GCSTEP, (int)((m->nverts * 12 + m->ntris * 12) >> 10));
    return 1;
}

static void push_matrix(lua_State *L, const double a[][TG_SURFACES_MAX_PHASES], int n, const char *name)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, n, 0);
        for (int j = 0; j < n; j++)
            if (j != i) {
                lua_pushnumber(L, a[i][j]);
                lua_rawseti(L, -2, j + 1);
            }
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, name);
}

/* The result of tg_surfaces (or of its streamed form) as core.measure.surfaces returns it. */
static void push_surfaces(lua_State *L, const tg_surfaces_result *r, int n)
{
    lua_newtable(L);
    lua_createtable(L, (int)n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, r->area[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "area");
    lua_createtable(L, (int)n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushinteger(L, r->voxels[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "voxels");
    push_matrix(L, (const double(*)[TG_SURFACES_MAX_PHASES])r->union_area, (int)n, "union");
    push_matrix(L, (const double(*)[TG_SURFACES_MAX_PHASES])r->interface, (int)n, "interface");
    lua_pushinteger(L, r->total_voxels);
    lua_setfield(L, -2, "total_voxels");
    lua_pushnumber(L, r->volume_m3);
    lua_setfield(L, -2, "volume");
    lua_createtable(L, r->ntriples, 0); /* triple-phase boundary length (m) per triple, in the engine's triple order */
    for (int t = 0; t < r->ntriples; t++) {
        lua_pushnumber(L, r->tpb_length[t]);
        lua_rawseti(L, -2, t + 1);
    }
    lua_setfield(L, -2, "tpb");
    lua_pushnumber(L, r->tpb_any_length);
    lua_setfield(L, -2, "tpb_any");
}

static int l_surfaces(lua_State *L)
{
    tg_volume *v = lt_checkvolume(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    tg_surfaces_opts o = TG_SURFACES_OPTS_INIT;
    lua_Integer n = luaL_len(L, 2);
    luaL_argcheck(L, n >= 1 && n <= TG_SURFACES_MAX_PHASES, 2, "between 1 and 8 phase labels");
    o.nphases = (int)n;
    for (int i = 0; i < n; i++) {
        lua_geti(L, 2, i + 1);
        int ok;
        o.phases[i] = lua_tointegerx(L, -1, &ok);
        if (!ok) return lt_error(L, "surfaces: phase label %d is not an integer", i + 1);
        lua_pop(L, 1);
    }
    static const char *const conventions[] = {"open", "closed", NULL}; /* TG_SURFACES_OPEN, _CLOSED */
    o.convention = luaL_checkoption(L, 3, "open", conventions);
    o.smooth = lua_toboolean(L, 4);
    o.method = method_of(L, 5);
    tg_surfaces_result *r = lua_newuserdatauv(L, sizeof *r, 0); /* boxed: freed by Lua if we raise */
    lt_begin(L);
    lt_end(L, tg_surfaces(lt_ctx(L), v, &o, r));
    push_surfaces(L, r, (int)n);
    return 1;
}

static void push_list(lua_State *L, const double *a, int n, const char *name)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, a[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, name);
}

/* The fields of argument 1 (a list of f32/f64 volumes) into fv; their count. */
static int field_list(lua_State *L, const tg_volume **fv)
{
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 1 && n <= TG_SURFACES_MAX_PHASES, 1, "between 1 and 8 fields");
    for (int i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        fv[i] = lt_testvolume(L, -1);
        if (!fv[i]) return lt_error(L, "surfaces: field %d is not a volume", i + 1);
        lua_pop(L, 1); /* the list keeps the volume alive */
    }
    return (int)n;
}

static int l_surfaces_fields(lua_State *L)
{
    const tg_volume *fv[TG_SURFACES_MAX_PHASES];
    int64_t phases[TG_SURFACES_MAX_PHASES];
    tg_volume *labels = lt_testvolume(L, 1);
    int n;
    if (labels) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_Integer m = luaL_len(L, 2);
        luaL_argcheck(L, m >= 1 && m <= TG_SURFACES_MAX_PHASES, 2, "between 1 and 8 phase labels");
        n = (int)m;
        for (int i = 0; i < n; i++) {
            lua_geti(L, 2, i + 1);
            int ok;
            phases[i] = lua_tointegerx(L, -1, &ok);
            if (!ok) return lt_error(L, "surfaces: phase label %d is not an integer", i + 1);
            lua_pop(L, 1);
        }
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        n = field_list(L, fv);
    }
    tg_surfaces_fields_opts o = TG_SURFACES_FIELDS_OPTS_INIT;
    static const char *const conventions[] = {"open", "closed", NULL}; /* TG_SURFACES_OPEN, _CLOSED */
    o.convention = luaL_checkoption(L, 3, "open", conventions);
    o.method = method_of(L, 4);
    luaL_checktype(L, 5, LUA_TTABLE);
    for (int k = 0; k < 3; k++) {
        lua_geti(L, 5, k + 1);
        o.sigma[k] = luaL_checknumber(L, -1);
        lua_pop(L, 1);
    }
    o.truncate = luaL_optnumber(L, 6, o.truncate);
    o.level = luaL_optnumber(L, 7, o.level);
    o.unions = lua_isnoneornil(L, 8) ? 1 : lua_toboolean(L, 8);
    o.argmax = lua_isnoneornil(L, 9) ? 1 : lua_toboolean(L, 9);
    tg_surfaces_fields_result *r = lua_newuserdatauv(L, sizeof *r, 0); /* boxed: freed by Lua if we raise */
    lt_begin(L);
    lt_end(L, labels ? tg_surfaces_smoothed(lt_ctx(L), labels, phases, n, &o, r)
                     : tg_surfaces_fields(lt_ctx(L), fv, n, &o, r));
    lua_newtable(L);
    push_list(L, r->area, n, "area");
    push_list(L, r->soft_voxels, n, "soft_voxels");
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushinteger(L, r->voxels[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "voxels");
    if (o.unions) push_matrix(L, (const double(*)[TG_SURFACES_MAX_PHASES])r->union_area, n, "union");
    if (r->interface_formula) push_matrix(L, (const double(*)[TG_SURFACES_MAX_PHASES])r->interface, n, "interface");
    lua_pushstring(L, r->interface_formula == 1 ? "unions" : r->interface_formula == 2 ? "eq1" : "none");
    lua_setfield(L, -2, "interface_formula");
    lua_pushnumber(L, r->sum_error);
    lua_setfield(L, -2, "sum_error");
    lua_pushinteger(L, r->nan_voxels);
    lua_setfield(L, -2, "nan_voxels");
    lua_pushinteger(L, r->total_voxels);
    lua_setfield(L, -2, "total_voxels");
    lua_pushnumber(L, r->volume_m3);
    lua_setfield(L, -2, "volume");
    lua_createtable(L, 3, 0);
    for (int k = 0; k < 3; k++) {
        lua_pushinteger(L, r->radius[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "radius");
    return 1;
}

static int l_mesh_counts(lua_State *L)
{
    tg_mesh *m = lt_checkmesh(L, 1);
    lua_pushinteger(L, m->nverts);
    lua_pushinteger(L, m->ntris);
    return 2;
}

static int l_mesh_area(lua_State *L)
{
    lua_pushnumber(L, tg_mesh_area(lt_checkmesh(L, 1)));
    return 1;
}

static int l_mesh_volume(lua_State *L)
{
    lua_pushnumber(L, tg_mesh_volume(lt_checkmesh(L, 1)));
    return 1;
}

static int l_mesh_vertex(lua_State *L)
{
    tg_mesh *m = lt_checkmesh(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > m->nverts) return lt_error(L, "vertex %d is outside 1..%d", (int)i, (int)m->nverts);
    for (int k = 0; k < 3; k++) lua_pushnumber(L, m->verts[3 * (i - 1) + k]);
    return 3;
}

static int l_mesh_triangle(lua_State *L)
{
    tg_mesh *m = lt_checkmesh(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > m->ntris) return lt_error(L, "triangle %d is outside 1..%d", (int)i, (int)m->ntris);
    for (int k = 0; k < 3; k++) lua_pushinteger(L, (lua_Integer)m->tris[3 * (i - 1) + k] + 1);
    return 3;
}

static int l_mesh_spacing(lua_State *L)
{
    tg_mesh *m = lt_checkmesh(L, 1);
    lua_createtable(L, 3, 0);
    for (int k = 0; k < 3; k++) {
        lua_pushnumber(L, m->spacing[k]);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

static int l_mesh_release(lua_State *L)
{
    tg_mesh_release(luaL_checkudata(L, 1, LT_MESH_MT));
    return 0;
}

static int l_mesh_released(lua_State *L)
{
    lua_pushboolean(L, ((tg_mesh *)luaL_checkudata(L, 1, LT_MESH_MT))->verts == NULL);
    return 1;
}

static int l_mesh_tostring(lua_State *L)
{
    tg_mesh *m = luaL_checkudata(L, 1, LT_MESH_MT);
    if (!m->verts) lua_pushstring(L, "tortuga.Mesh(released)");
    else {
        char a[32];
        snprintf(a, sizeof a, "%.4g", tg_mesh_area(m));
        lua_pushfstring(L, "tortuga.Mesh(%I vertices, %I triangles, %s m2)", (lua_Integer)m->nverts, (lua_Integer)m->ntris, a);
    }
    return 1;
}

/* ---- streamed: core.measure.stream(stack, spec) ---- */

/* spec.labels: the phase labels of a surfaces entry at idx, into o. */
static void stream_surfaces_opts(lua_State *L, int idx, tg_surfaces_opts *o)
{
    static const char *const conventions[] = {"open", "closed", NULL}; /* TG_SURFACES_OPEN, _CLOSED */
    static const char *const methods[] = {"lewiner", "lorensen", NULL};
    *o = (tg_surfaces_opts)TG_SURFACES_OPTS_INIT;
    if (lua_getfield(L, idx, "labels") != LUA_TTABLE) lt_error(L, "stream: surfaces entry without its labels");
    lua_Integer n = luaL_len(L, -1);
    if (n < 1 || n > TG_SURFACES_MAX_PHASES) lt_error(L, "stream: between 1 and 8 phase labels, got %d", (int)n);
    o->nphases = (int)n;
    for (int i = 0; i < n; i++) {
        lua_geti(L, -1, i + 1);
        int ok;
        o->phases[i] = lua_tointegerx(L, -1, &ok);
        if (!ok) lt_error(L, "surfaces: phase label %d is not an integer", i + 1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    o->convention = lt_optname(L, idx, "convention", "open", conventions);
    o->smooth = lt_optboolean(L, idx, "smooth", 0);
    o->method = lt_optname(L, idx, "method", "lewiner", methods);
}

/* The spec table at idx (lists of surfaces, chords and components entries) into o. */
static void stream_opts(lua_State *L, int idx, tg_measure_stream_opts *o)
{
    static const char *const trims[] = {"none", "faces", "ends", NULL}; /* tg_chord_trim */
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, "memory");
    o->memory = lt_checkmemory(L, -1, 0, "memory");
    lua_pop(L, 1);
    o->max_slab = lt_optinteger(L, idx, "max_slab", 0);
    o->counts = lt_optboolean(L, idx, "counts", 0);
    o->sha256 = lt_optboolean(L, idx, "sha256", 0);
    o->profile = (int)lt_optinteger(L, idx, "profile", -1);
    o->what = lt_optstring(L, idx, "what", "measure");
    if (lua_getfield(L, idx, "spacing") == LUA_TTABLE)
        for (int d = 0; d < 3; d++) {
            lua_geti(L, -1, d + 1);
            o->spacing[d] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    lua_pop(L, 1);
    if (o->max_slab < 0 || o->profile < -1 || o->profile > 2) lt_error(L, "stream: bad max_slab or profile");
    static const char *const lists[3] = {"surfaces", "chords", "components"};
    static const int max[3] = {TG_MS_MAX_SURFACES, TG_MS_MAX_CHORDS, TG_MS_MAX_COMPONENTS};
    for (int k = 0; k < 3; k++) {
        if (lua_getfield(L, idx, lists[k]) != LUA_TTABLE) {
            lua_pop(L, 1);
            continue;
        }
        lua_Integer n = luaL_len(L, -1);
        if (n > max[k]) lt_error(L, "stream: at most %d %s at once, got %d", max[k], lists[k], (int)n);
        for (int i = 0; i < n; i++) {
            lua_geti(L, -1, i + 1);
            int e = lua_gettop(L);
            luaL_checktype(L, e, LUA_TTABLE);
            if (k == 0) stream_surfaces_opts(L, e, &o->surfaces[o->nsurfaces++]);
            else if (k == 1) {
                tg_chords_opts *c = &o->chords[o->nchords++];
                c->phase = lt_optinteger(L, e, "phase", 1);
                c->axis = (int)lt_optinteger(L, e, "axis", 2);
                lua_Integer sp = lt_optinteger(L, e, "spacing", 2);
                if (sp < 0 || sp >= (1 << 30)) lt_error(L, "stream: chord spacing must be >= 0 voxels");
                c->spacing = (int)sp;
                c->trim = (tg_chord_trim)lt_optname(L, e, "trim", "faces", trims);
            } else {
                tg_components_opts *c = &o->components[o->ncomponents++];
                *c = (tg_components_opts)TG_COMPONENTS_OPTS_INIT;
                lua_getfield(L, e, "connectivity");
                c->connectivity = lua_isnil(L, -1) ? 6 : checkconn(L, -1);
                lua_pop(L, 1);
                if (lua_getfield(L, e, "phase") != LUA_TNIL) {
                    c->use_phase = 1;
                    c->phase = luaL_checkinteger(L, -1);
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

static void push_percolation(lua_State *L, const tg_percolation_result *r)
{
    static const char *const names[4] = {"isolated", "inlet", "outlet", "spanning"}; /* TG_PERC_* order */
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, r->phase_voxels);
    lua_setfield(L, -2, "phase_voxels");
    lua_pushinteger(L, r->total_voxels);
    lua_setfield(L, -2, "total_voxels");
    lua_pushinteger(L, r->n_clusters);
    lua_setfield(L, -2, "n_clusters");
    for (int f = 0; f < 2; f++) {
        lua_createtable(L, 0, 4);
        for (int k = 0; k < 4; k++) {
            lua_pushinteger(L, f ? r->clusters[k] : r->voxels[k]);
            lua_setfield(L, -2, names[k]);
        }
        lua_setfield(L, -2, f ? "clusters" : "voxels");
    }
}

static void push_counts(lua_State *L, const tg_measure_stream_result *r)
{
    lua_createtable(L, 0, (int)r->nlabels);
    for (int64_t j = 0; j < r->nlabels; j++) {
        lua_pushinteger(L, r->counts[j]);
        lua_rawseti(L, -2, r->labels[j]);
    }
    lua_setfield(L, -2, "counts");
    if (r->profile < 0) return;
    lua_createtable(L, 0, (int)r->nlabels);
    for (int64_t j = 0; j < r->nlabels; j++) {
        lua_createtable(L, (int)r->npos, 0);
        for (int64_t i = 0; i < r->npos; i++) {
            lua_pushinteger(L, r->profile_counts[i * r->nlabels + j]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_rawseti(L, -2, r->labels[j]);
    }
    lua_setfield(L, -2, "profile");
}

static void push_chords(lua_State *L, const tg_chords_counts *c, double voxel_length)
{
    lua_createtable(L, 0, 5);
    lua_createtable(L, (int)c->max_length, 0);
    for (int64_t l = 1; l <= c->max_length; l++) {
        lua_pushinteger(L, c->hist[l]);
        lua_rawseti(L, -2, l);
    }
    lua_setfield(L, -2, "histogram");
    lua_pushinteger(L, c->n);
    lua_setfield(L, -2, "n");
    lua_pushinteger(L, c->nlines);
    lua_setfield(L, -2, "nlines");
    lua_pushinteger(L, c->max_length);
    lua_setfield(L, -2, "max_voxels");
    lua_pushnumber(L, voxel_length);
    lua_setfield(L, -2, "voxel_length");
}

static void push_components(lua_State *L, const tg_components_totals *t, const int64_t dims[3])
{
    static const char *const axes[3] = {"x", "y", "z"};
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, t->n);
    lua_setfield(L, -2, "n");
    lua_createtable(L, t->n > INT32_MAX ? 0 : (int)t->n, 0);
    for (int64_t i = 1; i <= t->n; i++) {
        lua_pushinteger(L, t->sizes[i]);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, -2, "sizes");
    lua_pushinteger(L, t->sizes[0]);
    lua_setfield(L, -2, "background");
    lua_pushinteger(L, t->provisional);
    lua_setfield(L, -2, "provisional");
    lua_createtable(L, 0, 3);
    for (int a = 0; a < 3; a++) {
        tg_percolation_result p;
        tg_percolation_from_totals(t, a, dims, &p);
        push_percolation(L, &p);
        lua_setfield(L, -2, axes[a]);
    }
    lua_setfield(L, -2, "percolation");
}

/* What the pass used, as every streamed operation reports it (lt_pushstreamed), plus the overlap of two slabs. */
static void push_streamed(lua_State *L, const tg_measure_stream_result *r)
{
    tg_stream_result s = {r->slab, r->slabs, r->halo_lo > r->halo_hi ? r->halo_lo : r->halo_hi, r->memory, r->planned,
                          r->peak, r->passes, r->total * r->passes, r->seconds, r->voxels_per_second};
    lt_pushstreamed(L, &s);
    lua_pushinteger(L, r->halo_lo + r->halo_hi);
    lua_setfield(L, -2, "overlap");
    lua_setfield(L, -2, "streamed");
}

static void stream_result_release(void *r) { tg_measure_stream_result_free(r); }

/* stream(stack, spec) -> {counts, profile, total, sha256, surfaces = {...}, chords = {...}, components = {...}, streamed} */
static int l_stream(lua_State *L)
{
    tg_stack *st = lt_checkstack(L, 1);
    tg_measure_stream_opts o = TG_MEASURE_STREAM_OPTS_INIT;
    stream_opts(L, 2, &o);
    tg_measure_stream_result *r = lt_boxobj(L, sizeof *r, stream_result_release);
    lt_begin(L);
    lt_end(L, tg_measure_stream(lt_ctx(L), st, &o, r));
    const tg_stack_info_t *in = tg_stack_info(st);
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, r->total);
    lua_setfield(L, -2, "total");
    if (o.counts || o.profile >= 0) push_counts(L, r);
    if (o.sha256) {
        lua_pushstring(L, r->sha256);
        lua_setfield(L, -2, "sha256");
    }
    const char *const lists[3] = {"surfaces", "chords", "components"};
    const int counts[3] = {o.nsurfaces, o.nchords, o.ncomponents};
    for (int k = 0; k < 3; k++) {
        lua_createtable(L, counts[k], 0);
        for (int i = 0; i < counts[k]; i++) {
            if (k == 0) push_surfaces(L, &r->surfaces[i], o.surfaces[i].nphases);
            else if (k == 1) push_chords(L, &r->chords[i], (o.spacing[0] > 0 ? o.spacing : in->spacing)[o.chords[i].axis]);
            else push_components(L, &r->components[i], r->dims);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, lists[k]);
    }
    push_streamed(L, r);
    return 1;
}

void lt_open_measure(lua_State *L)
{
    static const luaL_Reg fns[] = {{"chords", l_chords},       {"components", l_components}, {"percolation", l_percolation},
                                   {"distance", l_distance},   {"thickness", l_thickness},   {"quantiles", l_quantiles},
                                   {"active_cam", l_active_cam}, {"mcubes", l_mcubes}, {"surfaces", l_surfaces},
                                   {"surfaces_fields", l_surfaces_fields},
                                   {NULL, NULL}};
    static const luaL_Reg methods[] = {{"counts", l_mesh_counts}, {"area", l_mesh_area},       {"volume", l_mesh_volume},
                                       {"vertex", l_mesh_vertex}, {"triangle", l_mesh_triangle}, {"spacing", l_mesh_spacing},
                                       {"release", l_mesh_release}, {"released", l_mesh_released}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", l_mesh_release}, {"__close", l_mesh_release}, {"__tostring", l_mesh_tostring},
                                    {NULL, NULL}};
    lt_register(L, "measure", fns);
    lua_getfield(L, -1, "measure");
    lua_pushcfunction(L, l_stream); /* streamed measures of a stack on disk */
    lua_setfield(L, -2, "stream");
    lua_pop(L, 1);
    luaL_newmetatable(L, LT_MESH_MT); /* sets __name = "tortuga.Mesh" */
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
