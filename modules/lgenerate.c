/* lgenerate.c — binding of engine/generate: core.generate.cathode and core.generate.sem.
 *
 * Only translation: Lua option tables to tg_cathode_opts / tg_sem_opts, engine results to volumes and plain
 * tables. Option names, defaults and documentation live in lua/tortuga/generate.lua; the engine re-checks
 * ranges and its messages name the option.
 */
#include <string.h>

#include "lbind.h"
#include "generate/tg_cathode.h"
#include "generate/tg_sem.h"

static const char *const PHASES[3] = {"pore", "cam", "ise"};

/* size = {nx, ny, nz} (integers). */
static void read_size(lua_State *L, int idx, int64_t size[3])
{
    lua_getfield(L, idx, "size");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3) lt_error(L, "generate.cathode: size must be {nx, ny, nz}");
        for (int a = 0; a < 3; a++) {
            lua_geti(L, -1, a + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok) lt_error(L, "generate.cathode: size[%d] must be an integer", a + 1);
            size[a] = (int64_t)v;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

/* Read t[key] = {pore=, cam=, ise=} (numbers) into v[3]; missing entries keep their value. */
static void read_triplet(lua_State *L, int idx, const char *key, double v[3], const char *where)
{
    lua_getfield(L, idx, key);
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1)) lt_error(L, "%s: option '%s' must be a table {pore=, cam=, ise=}", where, key);
        for (int a = 0; a < 3; a++) {
            lua_getfield(L, -1, PHASES[a]);
            if (!lua_isnil(L, -1)) {
                int ok;
                v[a] = lua_tonumberx(L, -1, &ok);
                if (!ok) lt_error(L, "%s: %s.%s must be a number", where, key, PHASES[a]);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static void set_number(lua_State *L, const char *k, double v) { lua_pushnumber(L, v); lua_setfield(L, -2, k); }
static void set_integer(lua_State *L, const char *k, lua_Integer v) { lua_pushinteger(L, v); lua_setfield(L, -2, k); }

static void push_cathode_info(lua_State *L, const tg_cathode_info *info)
{
    lua_createtable(L, 0, 8);
    lua_createtable(L, 0, 3);
    for (int a = 0; a < 3; a++) set_number(L, PHASES[a], info->fraction[a]);
    lua_setfield(L, -2, "fractions");
    lua_createtable(L, 0, 3);
    for (int a = 0; a < 3; a++) set_integer(L, PHASES[a], (lua_Integer)info->count[a]);
    lua_setfield(L, -2, "voxels");
    lua_createtable(L, 0, 2);
    set_integer(L, "cam", (lua_Integer)info->n_cam);
    set_integer(L, "ise", (lua_Integer)info->n_ise);
    lua_setfield(L, -2, "particles");
    lua_createtable(L, (int)info->n_cam, 0);
    for (int64_t i = 0; i < info->n_cam; i++) {
        lua_createtable(L, 0, 4);
        set_number(L, "x", info->cam[i].c[0]);
        set_number(L, "y", info->cam[i].c[1]);
        set_number(L, "z", info->cam[i].c[2]);
        set_number(L, "d", 2 * info->cam[i].r);
        lua_seti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "cam_particles");
    set_integer(L, "seed", (lua_Integer)info->seed);
    lua_pushliteral(L, "1 (fractions), m (cam_particles: centres and diameters, volume frame, origin at the corner of voxel 1,1,1)");
    lua_setfield(L, -2, "units");
}

/* core.generate.cathode(opts) -> labels, info */
static void cathode_info_release(void *info) { tg_cathode_info_free(info); }

static int l_cathode(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    tg_cathode_opts o = TG_CATHODE_OPTS_INIT;
    read_size(L, 1, o.size);
    lua_getfield(L, 1, "spacing");
    lt_spacing(L, -1, o.spacing);
    lua_pop(L, 1);
    o.cam_fraction = lt_optnumber(L, 1, "cam_fraction", o.cam_fraction);
    o.cam_d50 = lt_optnumber(L, 1, "cam_d50", o.cam_d50);
    o.cam_sigma = lt_optnumber(L, 1, "cam_sigma", o.cam_sigma);
    o.cam_overlap = lt_optnumber(L, 1, "cam_overlap", o.cam_overlap);
    o.cam_clustering = lt_optnumber(L, 1, "cam_clustering", o.cam_clustering);
    o.ise_d50 = lt_optnumber(L, 1, "ise_d50", o.ise_d50);
    o.ise_sigma = lt_optnumber(L, 1, "ise_sigma", o.ise_sigma);
    o.porosity = lt_optnumber(L, 1, "porosity", o.porosity);
    o.pore_cam_share = lt_optnumber(L, 1, "pore_cam_share", o.pore_cam_share);
    o.pore_roughness = lt_optnumber(L, 1, "pore_roughness", o.pore_roughness);
    o.ise_cores = lt_optnumber(L, 1, "ise_cores", o.ise_cores);
    o.seed = (uint64_t)lt_optinteger(L, 1, "seed", (lua_Integer)o.seed);
    int want_grains = lt_optboolean(L, 1, "grains", 0);

    tg_volume *labels = lt_newvolume(L);
    tg_volume *grains = want_grains ? lt_newvolume(L) : NULL;
    tg_cathode_info *info = lt_boxobj(L, sizeof *info, cathode_info_release);
    lt_begin(L);
    lt_end(L, tg_cathode(lt_ctx(L), &o, labels, grains, info));
    lua_insert(L, want_grains ? -3 : -2); /* the box below the volumes */
    lt_gcstep(L, labels);
    push_cathode_info(L, info);
    if (want_grains) {
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "grains");
        lua_remove(L, -2);
    }
    return 2;
}

/* core.generate.sem(labels, opts) -> bse, se, info */
static void sem_info_release(void *info) { tg_sem_info_free(info); }

static int l_sem(lua_State *L)
{
    const tg_volume *labels = lt_checkvolume(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    tg_sem_opts o = TG_SEM_OPTS_INIT;
    double lab[3] = {o.label[0], o.label[1], o.label[2]};
    read_triplet(L, 2, "phases", lab, "generate.sem");
    for (int a = 0; a < 3; a++) {
        /* range first: casting NaN or 1e18 to int is undefined */
        if (!(lab[a] >= -2147483648.0 && lab[a] <= 2147483647.0) || lab[a] != (double)(int)lab[a])
            lt_error(L, "generate.sem: phases.%s must be an integer label, got %f", PHASES[a], lab[a]);
        o.label[a] = (int)lab[a];
    }
    read_triplet(L, 2, "bse_levels", o.bse, "generate.sem");
    read_triplet(L, 2, "se_levels", o.se, "generate.sem");
    o.edge = lt_optnumber(L, 2, "edge", o.edge);
    o.noise = lt_optnumber(L, 2, "noise", o.noise);
    o.drift = lt_optnumber(L, 2, "drift", o.drift);
    o.curtaining = lt_optnumber(L, 2, "curtaining", o.curtaining);
    o.curtain_width = lt_optnumber(L, 2, "curtain_width", o.curtain_width);
    o.curtain_depth = lt_optnumber(L, 2, "curtain_depth", o.curtain_depth);
    o.illumination = lt_optnumber(L, 2, "illumination", o.illumination);
    o.blur = lt_optnumber(L, 2, "blur", o.blur);
    o.seed = (uint64_t)lt_optinteger(L, 2, "seed", (lua_Integer)o.seed);
    o.cap = (int64_t)lt_optinteger(L, 2, "cap", (lua_Integer)o.cap);
    static const char *const dtypes[] = {"u8", "u16", NULL};
    static const tg_dtype dtype_of[] = {TG_U8, TG_U16};
    o.dtype = dtype_of[lt_optname(L, 2, "dtype", "u8", dtypes)];

    tg_volume *bse = lt_newvolume(L);
    tg_volume *se = lt_newvolume(L);
    tg_sem_info *ib = lt_boxobj(L, sizeof *ib, sem_info_release);
    lt_begin(L);
    lt_end(L, tg_sem(lt_ctx(L), labels, &o, bse, se, ib));
    lua_insert(L, -3); /* the box below the two volumes */
    const tg_sem_info info = *ib;
    lt_gcstep(L, bse);
    lt_gcstep(L, se);
    lua_createtable(L, 0, 2);
    lua_createtable(L, (int)info.nz, 0);
    for (int64_t z = 0; z < info.nz; z++) {
        lua_createtable(L, 0, 2);
        set_number(L, "x", info.drift[2 * z]);
        set_number(L, "y", info.drift[2 * z + 1]);
        lua_seti(L, -2, (lua_Integer)z + 1);
    }
    lua_setfield(L, -2, "drift");
    return 3;
}

void lt_open_generate(lua_State *L)
{
    static const luaL_Reg fns[] = {{"cathode", l_cathode}, {"sem", l_sem}, {NULL, NULL}};
    lt_register(L, "generate", fns);
}
