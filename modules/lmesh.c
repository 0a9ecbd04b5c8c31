/* lmesh.c — core.mesh: marching-cubes meshes (the tortuga.Mesh userdata), surface and interface areas,
 * (the PLY/STL writer is core.io.write_mesh, modules/lio.c). Option checking and result shaping live in lua/tortuga/mesh.lua.
 *
 *   core.mesh.mcubes(labels, phase, method, closed, smooth)   -> Mesh       (method "lewiner" | "lorensen")
 *   core.mesh.surfaces(labels, {labels...}, closed, smooth, method)
 *       -> {area = {..}, union = {[i] = {[j] = ..}}, interface = {[i] = {[j] = ..}}, voxels = {..}, total_voxels, volume}
 *          (indices follow the order of the label list, 1-based)
 *   mesh:counts() -> nverts, ntris   mesh:area()   mesh:volume()   mesh:vertex(i) -> x, y, z
 *   mesh:triangle(i) -> a, b, c (1-based vertex numbers)   mesh:spacing()   mesh:release()   mesh:released()
 */
#include "lbind.h"

#include "measure/tg_mcubes.h"
#include "measure/tg_surfaces.h"

#include <string.h>

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
    if (!m->verts) luaL_error(L, "the mesh has been released");
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
        if (!ok) return luaL_error(L, "surfaces: phase label %d is not an integer", i + 1);
        lua_pop(L, 1);
    }
    o.closed = lua_toboolean(L, 3);
    o.smooth = lua_toboolean(L, 4);
    o.method = method_of(L, 5);
    tg_surfaces_result *r = lua_newuserdatauv(L, sizeof *r, 0); /* boxed: freed by Lua if we raise */
    lt_begin(L);
    lt_end(L, tg_surfaces(lt_ctx(L), v, &o, r));
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
    return 1;
}

static int l_counts(lua_State *L)
{
    tg_mesh *m = lt_checkmesh(L, 1);
    lua_pushinteger(L, m->nverts);
    lua_pushinteger(L, m->ntris);
    return 2;
}

static int l_area(lua_State *L)
{
    lua_pushnumber(L, tg_mesh_area(lt_checkmesh(L, 1)));
    return 1;
}

static int l_volume(lua_State *L)
{
    lua_pushnumber(L, tg_mesh_volume(lt_checkmesh(L, 1)));
    return 1;
}

static int l_vertex(lua_State *L)
{
    tg_mesh *m = lt_checkmesh(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > m->nverts) return luaL_error(L, "vertex %d is outside 1..%d", (int)i, (int)m->nverts);
    for (int k = 0; k < 3; k++) lua_pushnumber(L, m->verts[3 * (i - 1) + k]);
    return 3;
}

static int l_triangle(lua_State *L)
{
    tg_mesh *m = lt_checkmesh(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > m->ntris) return luaL_error(L, "triangle %d is outside 1..%d", (int)i, (int)m->ntris);
    for (int k = 0; k < 3; k++) lua_pushinteger(L, (lua_Integer)m->tris[3 * (i - 1) + k] + 1);
    return 3;
}

static int l_spacing(lua_State *L)
{
    tg_mesh *m = lt_checkmesh(L, 1);
    lua_createtable(L, 3, 0);
    for (int k = 0; k < 3; k++) {
        lua_pushnumber(L, m->spacing[k]);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

static int l_release(lua_State *L)
{
    tg_mesh_release(luaL_checkudata(L, 1, LT_MESH_MT));
    return 0;
}

static int l_released(lua_State *L)
{
    lua_pushboolean(L, ((tg_mesh *)luaL_checkudata(L, 1, LT_MESH_MT))->verts == NULL);
    return 1;
}

static int l_tostring(lua_State *L)
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

void lt_open_mesh(lua_State *L)
{
    static const luaL_Reg methods[] = {{"counts", l_counts}, {"area", l_area},       {"volume", l_volume},
                                       {"vertex", l_vertex}, {"triangle", l_triangle}, {"spacing", l_spacing},
                                       {"release", l_release}, {"released", l_released}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", l_release}, {"__close", l_release}, {"__tostring", l_tostring}, {NULL, NULL}};
    static const luaL_Reg fns[] = {{"mcubes", l_mcubes}, {"surfaces", l_surfaces}, {NULL, NULL}};
    lt_register(L, "mesh", fns);
    lua_getfield(L, -1, "mesh");
    luaL_newmetatable(L, LT_MESH_MT);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "methods");
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, "tortuga.Mesh");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 2);
}
