/* lbind.h — helpers shared by the Lua bindings (modules/l*.c).
 *
 * The bindings only translate: Lua values to engine structs, 1-based inclusive Lua ranges to 0-based
 * half-open engine ranges (lt_range, nowhere else), engine statuses to Lua errors.
 *
 * Two error channels, as in Lua's io library: misuse (wrong type, bad option) raises; failures of the
 * outside world (missing file, corrupt TIFF) return nil, "path: reason" (lt_pushfail).
 *
 * Each part of tortuga.core is opened by a function `void lt_open_<part>(lua_State *L)` that is called with
 * the core table on top of the stack and adds its own subtable or fields to it (core.volume, core.io, ...).
 */
#ifndef LBIND_H
#define LBIND_H

#include <lua.h>
#include <lauxlib.h>

#include "core/tg_core.h"
#include "core/tg_volume.h"

#define LT_VOLUME_MT "tortuga.Volume"

/* The context of this Lua state (thread count, progress, cancel flag). */
tg_ctx *lt_ctx(lua_State *L);

/* Run an engine operation: lt_begin resets the cancel flag, installs the SIGINT handler that sets it and
 * starts progress display; lt_end restores the previous handler, ends progress display, and, if st is not
 * TG_OK, raises a Lua error with the context's message (so call it after freeing your temporaries). */
void lt_begin(lua_State *L);
void lt_end(lua_State *L, tg_status st);
/* Asked first by lt_begin's SIGINT handler when set: non-zero means "not for this operation, ignore it" (the
 * Jupyter kernel drops a repeated interrupt meant for a cell that has ended). Async-signal-safe. */
extern int (*volatile lt_sigint_filter)(void);
/* Like lt_end but for outside-world failures: returns 0 on success (push your results), or pushes
 * nil, message and returns 2 (return that from the C function). Cancellation still raises. */
int lt_end_io(lua_State *L, tg_status st);

/* Volume userdata. lt_newvolume pushes an empty volume (metatable set first, so an error midway leaves a
 * harmless empty object) and returns it for the engine to fill. lt_checkvolume raises on anything else,
 * or on a released volume. */
tg_volume *lt_newvolume(lua_State *L);
tg_volume *lt_checkvolume(lua_State *L, int idx);
tg_volume *lt_testvolume(lua_State *L, int idx); /* NULL if not a volume */
/* Tell the collector about a large allocation. */
void lt_gcstep(lua_State *L, const tg_volume *v);

/* Convert the Lua range at idx ({first, last}, 1-based inclusive, or a single number, or nil = all) into
 * 0-based half-open [*lo, *hi) within [0, n). Raises naming `what` when outside. */
void lt_range(lua_State *L, int idx, int64_t n, int64_t *lo, int64_t *hi, const char *what);

/* Option readers for a table at idx (unknown-key checking is done in the Lua layer). */
lua_Number lt_optnumber(lua_State *L, int idx, const char *key, lua_Number def);
lua_Integer lt_optinteger(lua_State *L, int idx, const char *key, lua_Integer def);
const char *lt_optstring(lua_State *L, int idx, const char *key, const char *def);
int lt_optboolean(lua_State *L, int idx, const char *key, int def);
tg_dtype lt_checkdtype(lua_State *L, int idx);
/* Read spacing from a number (isotropic) or {sx, sy, sz} at idx into s[3]; nil keeps s. */
void lt_spacing(lua_State *L, int idx, double s[3]);

/* Add a subtable `name` with functions fns to the table on top of the stack. */
void lt_register(lua_State *L, const char *name, const luaL_Reg *fns);

/* The parts of tortuga.core. */
void lt_open_state(lua_State *L); /* threads, progress switch, isatty (fields of core itself) */
void lt_open_volume(lua_State *L);
void lt_open_io(lua_State *L);
void lt_open_generate(lua_State *L);
void lt_open_measure(lua_State *L);
void lt_open_png(lua_State *L);
void lt_open_mesh(lua_State *L);
void lt_open_filter(lua_State *L);
void lt_open_transport(lua_State *L);
void lt_open_walk(lua_State *L);
void lt_open_features(lua_State *L);
void lt_open_segment(lua_State *L);
void lt_open_analysis(lua_State *L);

#endif
