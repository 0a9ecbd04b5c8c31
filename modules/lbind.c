/* lbind.c — helpers shared by the bindings: the per-state context, running engine operations with
 * Ctrl-C and a progress bar, volume userdata checks, the one place where Lua ranges become engine ranges.
 *
 * Progress is drawn here, in C, rather than by calling back into Lua: engine callbacks run inside OpenMP
 * parallel regions (on thread 0), where the house style forbids Lua calls. The Lua layer only decides
 * whether the bar is on (core.set_progress; on by default when stderr is a terminal).
 */
#define _POSIX_C_SOURCE 200809L
#include "lbind.h"

#include "io/tg_stream.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CTX_KEY "tortuga.ctx"

typedef struct lt_state {
    tg_ctx ctx;
    int show_progress; /* draw a bar on stderr */
    int drawn;         /* a bar is on the screen */
    int depth;         /* nested lt_begin calls */
    struct sigaction old_int;
} lt_state;

static lt_state *state(lua_State *L)
{
    lt_state *s;
    if (lua_getfield(L, LUA_REGISTRYINDEX, CTX_KEY) == LUA_TUSERDATA) {
        s = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return s;
    }
    lua_pop(L, 1);
    s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    tg_ctx_init(&s->ctx);
    lua_setfield(L, LUA_REGISTRYINDEX, CTX_KEY);
    return s;
}

tg_ctx *lt_ctx(lua_State *L) { return &state(L)->ctx; }

int lt_error(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

/* ---- Ctrl-C and progress ---- */

static tg_ctx *volatile running_ctx; /* the operation Ctrl-C cancels; one Lua thread runs engine code at a time */

int (*volatile lt_sigint_filter)(void);
int (*volatile lt_cancel_pending)(void);

void lt_cancel_running(void)
{
    tg_ctx *c = running_ctx;
    if (c) atomic_store(&c->cancel, 1);
}

static void on_sigint(int sig)
{
    (void)sig;
    if (lt_sigint_filter && lt_sigint_filter()) return;
    tg_ctx *c = running_ctx;
    if (c) atomic_store(&c->cancel, 1);
}

/* "name [#####.....]  45%", and after the bar the details of a label "name|details" (streamed runs: slabs done,
 * voxels per second, time left). */
static int draw_progress(void *ud, double fraction, const char *what)
{
    lt_state *s = ud;
    int width = 30, filled = (int)(fraction * width + 0.5);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    const char *label = what ? what : "", *bar_sep = strchr(label, '|');
    int nl = bar_sep ? (int)(bar_sep - label) : (int)strlen(label);
    fprintf(stderr, "\r%-12.*s [%s] %3d%%%s%.60s\033[K", nl < 16 ? nl : 16, label, bar, (int)(fraction * 100.0 + 0.5),
            bar_sep ? "  " : "", bar_sep ? bar_sep + 1 : "");
    fflush(stderr);
    s->drawn = 1;
    return 0;
}

void lt_begin(lua_State *L)
{
    lt_state *s = state(L);
    if (s->depth++ > 0) return;
    atomic_store(&s->ctx.cancel, lt_cancel_pending && lt_cancel_pending() ? 1 : 0);
    s->ctx.msg[0] = '\0';
    s->ctx.last_report = tg_now(); /* the first bar appears after 0.1 s: quick operations stay silent */
    s->ctx.progress = s->show_progress ? draw_progress : NULL;
    s->ctx.progress_ud = s;
    s->drawn = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    running_ctx = &s->ctx;
    sigaction(SIGINT, &sa, &s->old_int);
}

static int finish(lua_State *L, tg_status st)
{
    lt_state *s = state(L);
    if (--s->depth > 0) return 0;
    sigaction(SIGINT, &s->old_int, NULL);
    running_ctx = NULL;
    /* A Ctrl-C that arrived after the operation's last check of the flag must not be lost: hand it to the
     * handler we displaced (the REPL's interrupts the Lua code that follows; the default one ends the program). */
    if (st == TG_OK && atomic_load(&s->ctx.cancel)) raise(SIGINT);
    if (s->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        s->drawn = 0;
    }
    return 1;
}

void lt_end(lua_State *L, tg_status st)
{
    finish(L, st);
    if (st == TG_OK) return;
    tg_ctx *c = lt_ctx(L);
    if (st == TG_ERR_CANCELLED) lt_error(L, "interrupted%s%s", c->msg[0] ? ": " : "", c->msg);
    lt_error(L, "%s", c->msg[0] ? c->msg : tg_status_name(st));
}

int lt_end_io(lua_State *L, tg_status st)
{
    if (st == TG_OK || st == TG_ERR_CANCELLED || st == TG_ERR_ARG || st == TG_ERR_NOMEM) {
        lt_end(L, st);
        return 0;
    }
    finish(L, st);
    tg_ctx *c = lt_ctx(L);
    luaL_pushfail(L);
    lua_pushstring(L, c->msg[0] ? c->msg : tg_status_name(st));
    return 2;
}

static int l_set_progress(lua_State *L)
{
    state(L)->show_progress = lua_toboolean(L, 1);
    return 0;
}

static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

static int l_threads(lua_State *L)
{
    tg_ctx *c = lt_ctx(L);
    if (!lua_isnoneornil(L, 1)) {
        lua_Integer n = luaL_checkinteger(L, 1);
        luaL_argcheck(L, n >= 1 && n <= 1024, 1, "thread count must be between 1 and 1024");
        c->nthreads = (int)n;
    }
    lua_pushinteger(L, c->nthreads);
    return 1;
}

static int l_default_threads(lua_State *L)
{
    lua_pushinteger(L, tg_default_threads());
    return 1;
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, tg_now());
    return 1;
}

static int l_alloc_live(lua_State *L)
{
    lua_pushinteger(L, tg_alloc_live());
    return 1;
}

/* alloc_bytes() -> live bytes, peak bytes since the last alloc_peak_reset() */
static int l_alloc_bytes(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)tg_alloc_bytes());
    lua_pushinteger(L, (lua_Integer)tg_alloc_peak());
    return 2;
}

static int l_alloc_peak_reset(lua_State *L)
{
    tg_alloc_peak_reset();
    return 0;
}

int64_t lt_checkmemory(lua_State *L, int idx, int64_t def, const char *what)
{
    int64_t b = def;
    if (lua_isnoneornil(L, idx)) return def;
    if (lua_type(L, idx) == LUA_TSTRING) {
        tg_ctx tmp;
        tg_ctx_init(&tmp);
        if (tg_memory_parse(&tmp, lua_tostring(L, idx), &b) != TG_OK) lt_error(L, "%s: %s", what, tmp.msg);
        return b;
    }
    int ok;
    lua_Integer n = lua_tointegerx(L, idx, &ok);
    if (!ok || n < 1) lt_error(L, "%s: expected a size such as \"4GB\" or a number of bytes >= 1, got %s", what,
                               luaL_tolstring(L, idx, NULL));
    return (int64_t)n;
}

void lt_streamopts(lua_State *L, int idx, tg_stream_opts *o)
{
    if (lua_isnoneornil(L, idx)) return;
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, "memory");
    o->memory = lt_checkmemory(L, -1, 0, "option 'memory'");
    lua_pop(L, 1);
    lua_Integer m = lt_optinteger(L, idx, "max_slab", 0);
    if (m < 0) lt_error(L, "option 'max_slab' must be an integer >= 1");
    o->max_slab = (int64_t)m;
}

void lt_pushstreamed(lua_State *L, const tg_stream_result *r)
{
    lua_createtable(L, 0, 11);
    lua_pushinteger(L, (lua_Integer)r->slab); lua_setfield(L, -2, "slab");
    lua_pushinteger(L, (lua_Integer)r->slabs); lua_setfield(L, -2, "slabs");
    lua_pushinteger(L, (lua_Integer)r->halo); lua_setfield(L, -2, "halo");
    lua_pushinteger(L, (lua_Integer)r->memory); lua_setfield(L, -2, "memory");
    lua_pushinteger(L, (lua_Integer)r->planned); lua_setfield(L, -2, "planned");
    lua_pushinteger(L, (lua_Integer)r->peak); lua_setfield(L, -2, "peak");
    lua_pushinteger(L, r->passes); lua_setfield(L, -2, "passes");
    lua_pushinteger(L, (lua_Integer)r->voxels); lua_setfield(L, -2, "voxels");
    lua_pushnumber(L, r->seconds); lua_setfield(L, -2, "seconds");
    lua_pushnumber(L, r->voxels_per_second); lua_setfield(L, -2, "voxels_per_second");
    lua_pushliteral(L, "bytes"); lua_setfield(L, -2, "units");
}

/* memory([size | "default"]) -> the budget in bytes, true when it is the default (half the physical memory) */
static int l_memory(lua_State *L)
{
    tg_ctx *c = lt_ctx(L);
    if (lua_type(L, 1) == LUA_TSTRING && strcmp(lua_tostring(L, 1), "default") == 0) c->memory = 0;
    else if (!lua_isnoneornil(L, 1)) c->memory = lt_checkmemory(L, 1, 0, "tg.memory");
    lua_pushinteger(L, (lua_Integer)tg_memory_budget(c));
    lua_pushboolean(L, c->memory == 0);
    return 2;
}

/* format_memory(bytes) -> "4 GiB" */
static int l_format_memory(lua_State *L)
{
    char buf[32];
    lua_pushstring(L, tg_memory_format((int64_t)luaL_checkinteger(L, 1), buf, sizeof buf));
    return 1;
}

void lt_open_state(lua_State *L)
{
    state(L);
    static const luaL_Reg fns[] = {{"set_progress", l_set_progress}, {"isatty", l_isatty},       {"threads", l_threads},
                                   {"default_threads", l_default_threads}, {"alloc_live", l_alloc_live}, {"now", l_now},
                                   {"alloc_bytes", l_alloc_bytes}, {"alloc_peak_reset", l_alloc_peak_reset},
                                   {"memory", l_memory}, {"format_memory", l_format_memory}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}

/* ---- volumes ---- */

tg_volume *lt_newvolume(lua_State *L)
{
    tg_volume *v = lua_newuserdatauv(L, sizeof *v, 0);
    tg_volume_init(v);
    luaL_setmetatable(L, LT_VOLUME_MT);
    return v;
}

tg_volume *lt_testvolume(lua_State *L, int idx) { return luaL_testudata(L, idx, LT_VOLUME_MT); }

tg_volume *lt_checkvolume(lua_State *L, int idx)
{
    tg_volume *v = luaL_checkudata(L, idx, LT_VOLUME_MT);
    if (!v->buf) luaL_argerror(L, idx, "the volume has been released");
    return v;
}

void lt_gcstep(lua_State *L, const tg_volume *v)
{
    if (v->buf && v->buf->bytes > (1u << 20)) lua_gc(L, LUA_GCSTEP, (int)(v->buf->bytes >> 10 > 1 << 30 ? 1 << 30 : v->buf->bytes >> 10));
}

/* ---- boxes ---- */

#define BOX_MT "tortuga.box"

typedef struct box {
    void (*release)(void *); /* NULL once freed */
    void *p;                 /* what release frees: a tg_malloc block, or obj below */
    union {
        max_align_t align;
        unsigned char bytes[1];
    } obj;                   /* lt_boxobj's object lives here */
} box;

static int box_free(lua_State *L)
{
    box *b = luaL_checkudata(L, 1, BOX_MT);
    void (*release)(void *) = b->release;
    b->release = NULL;
    if (release) release(b->p);
    return 0;
}

/* Push a box of extra object bytes with its metatable; nothing to free yet. */
static box *newbox(lua_State *L, size_t extra)
{
    box *b = lua_newuserdatauv(L, sizeof(box) + extra, 0);
    memset(b, 0, sizeof(box) + extra);
    if (luaL_newmetatable(L, BOX_MT)) {
        lua_pushcfunction(L, box_free);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, box_free);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    return b;
}

void *lt_box(lua_State *L, size_t bytes)
{
    box *b = newbox(L, 0);
    b->p = tg_malloc(bytes ? bytes : 1);
    if (!b->p) lt_error(L, "out of memory (a temporary of %f MB)", (double)bytes / 1e6);
    b->release = tg_free;
    return b->p;
}

static void no_release(void *p) { (void)p; }

void *lt_boxobj(lua_State *L, size_t size, void (*release)(void *))
{
    box *b = newbox(L, size);
    b->p = b->obj.bytes;
    b->release = release ? release : no_release;
    return b->p;
}

void lt_unbox(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, box_free);
    lua_pushvalue(L, idx);
    lua_call(L, 1, 0);
}

/* ---- ranges: the one place where 1-based inclusive becomes 0-based half-open ---- */

static lua_Integer range_int(lua_State *L, int idx, lua_Integer i, const char *what)
{
    lua_geti(L, idx, i);
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok) lt_error(L, "%s: range must be {first, last} with integers", what);
    lua_pop(L, 1);
    return v;
}

void lt_range(lua_State *L, int idx, int64_t n, int64_t *lo, int64_t *hi, const char *what)
{
    idx = lua_absindex(L, idx);
    lua_Integer first = 1, last = n;
    if (lua_isnoneornil(L, idx)) {
        /* the whole axis */
    } else if (lua_isinteger(L, idx)) {
        first = last = lua_tointeger(L, idx);
    } else if (lua_istable(L, idx)) {
        first = range_int(L, idx, 1, what);
        last = range_int(L, idx, 2, what);
    } else {
        lt_error(L, "%s: expected {first, last} or an index, got %s", what, luaL_typename(L, idx));
    }
    if (first < 1 || last > n || first > last)
        lt_error(L, "%s: range {%I, %I} is outside 1..%I or empty", what, first, last, (lua_Integer)n);
    *lo = first - 1;
    *hi = last;
}

/* ---- options ---- */

lua_Number lt_optnumber(lua_State *L, int idx, const char *key, lua_Number def)
{
    if (!lua_istable(L, idx)) return def;
    lua_getfield(L, idx, key);
    lua_Number v = def;
    if (!lua_isnil(L, -1)) {
        int ok;
        v = lua_tonumberx(L, -1, &ok);
        if (!ok) lt_error(L, "option '%s' must be a number, got %s", key, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

lua_Integer lt_optinteger(lua_State *L, int idx, const char *key, lua_Integer def)
{
    if (!lua_istable(L, idx)) return def;
    lua_getfield(L, idx, key);
    lua_Integer v = def;
    if (!lua_isnil(L, -1)) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok) lt_error(L, "option '%s' must be an integer, got %s", key, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

const char *lt_optstring(lua_State *L, int idx, const char *key, const char *def)
{
    if (!lua_istable(L, idx)) return def;
    lua_getfield(L, idx, key);
    const char *v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) lt_error(L, "option '%s' must be a string, got %s", key, luaL_typename(L, -1));
        v = lua_tostring(L, -1); /* stays alive: the options table holds it */
    }
    lua_pop(L, 1);
    return v;
}

int lt_optboolean(lua_State *L, int idx, const char *key, int def)
{
    if (!lua_istable(L, idx)) return def;
    lua_getfield(L, idx, key);
    int v = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

tg_dtype lt_checkdtype(lua_State *L, int idx, const char *where)
{
    /* lt_error, not luaL_argerror: an option read at a negative index gave "bad argument #-1 to '?'" */
    const char *name = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
    tg_dtype t;
    if (name && tg_dtype_parse(name, &t) == 0) return t;
    const char *pre = where ? where : "", *sep = where ? ": " : "";
    if (name) lt_error(L, "%s%sunknown dtype '%s' (use u8, u16, i32, f32 or f64)", pre, sep, name);
    lt_error(L, "%s%sdtype must be a string (u8, u16, i32, f32 or f64), got %s", pre, sep, luaL_typename(L, idx));
    return TG_U8;
}

/* "'a', 'b' or 'c'" for the names list, into b */
static void add_names(luaL_Buffer *b, const char *const names[])
{
    for (int i = 0; names[i]; i++) {
        if (i > 0) luaL_addstring(b, names[i + 1] ? ", " : " or ");
        luaL_addchar(b, '\'');
        luaL_addstring(b, names[i]);
        luaL_addchar(b, '\'');
    }
}

int lt_checkname(lua_State *L, int idx, const char *def, const char *const names[], const char *what)
{
    idx = lua_absindex(L, idx);
    const char *name = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : lua_isnoneornil(L, idx) ? def : NULL;
    if (name)
        for (int i = 0; names[i]; i++)
            if (strcmp(names[i], name) == 0) return i;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "%s must be ", what);
    luaL_addvalue(&b);
    add_names(&b, names);
    if (lua_type(L, idx) == LUA_TSTRING) lua_pushfstring(L, ", got '%s'", lua_tostring(L, idx));
    else lua_pushfstring(L, ", got %s", luaL_typename(L, idx));
    luaL_addvalue(&b);
    luaL_pushresult(&b);
    return lua_error(L);
}

int lt_optname(lua_State *L, int idx, const char *key, const char *def, const char *const names[])
{
    idx = lua_absindex(L, idx);
    const char *what = lua_pushfstring(L, "option '%s'", key);
    if (!lua_istable(L, idx)) lua_pushnil(L);
    else lua_getfield(L, idx, key);
    int i = lt_checkname(L, -1, def, names, what);
    lua_pop(L, 2);
    return i;
}

void lt_spacing(lua_State *L, int idx, double s[3])
{
    idx = lua_absindex(L, idx);
    if (lua_isnoneornil(L, idx)) return;
    if (lua_isnumber(L, idx)) {
        double v = lua_tonumber(L, idx);
        if (!(v > 0) || v == HUGE_VAL) lt_error(L, "spacing must be a positive finite number (metres), got %f", v);
        s[0] = s[1] = s[2] = v;
        return;
    }
    if (!lua_istable(L, idx) || luaL_len(L, idx) != 3) lt_error(L, "spacing must be a number or {sx, sy, sz} in metres");
    for (int i = 0; i < 3; i++) {
        lua_geti(L, idx, i + 1);
        int ok;
        double v = lua_tonumberx(L, -1, &ok);
        if (!ok || !(v > 0) || v == HUGE_VAL) lt_error(L, "spacing[%d] must be a positive finite number (metres)", i + 1);
        s[i] = v;
        lua_pop(L, 1);
    }
}

void lt_pushspacing(lua_State *L, const double s[3])
{
    double m = fmax(s[0], fmax(s[1], s[2]));
    const char *unit = "m";
    double f = 1.0;
    if (m < 1e-6) { unit = "nm"; f = 1e9; }
    else if (m < 1e-3) { unit = "µm"; f = 1e6; }
    else if (m < 1.0) { unit = "mm"; f = 1e3; }
    char buf[96];
    if (s[0] == s[1] && s[1] == s[2]) snprintf(buf, sizeof buf, "%.4g %s", s[0] * f, unit);
    else snprintf(buf, sizeof buf, "%.4gx%.4gx%.4g %s", s[0] * f, s[1] * f, s[2] * f, unit);
    lua_pushstring(L, buf);
}

void lt_register(lua_State *L, const char *name, const luaL_Reg *fns)
{
    lua_newtable(L);
    luaL_setfuncs(L, fns, 0);
    lua_setfield(L, -2, name);
}
