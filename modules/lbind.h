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
#include "core/tg_mesh.h"
#include "core/tg_volume.h"

#define LT_VOLUME_MT "tortuga.Volume"
#define LT_MESH_MT "tortuga.Mesh"
#define LT_STACK_MT "tortuga.Stack"
#define LT_WRITER_MT "tortuga.Writer"

struct tg_stack;
struct tg_writer;
struct tg_stream_opts;
struct tg_stream_result;

/* Raise a Lua error with the message as it is. Unlike luaL_error no "file:line:" is added: a binding is called
 * by the Lua layer, whose line would mean nothing to the user, and the Lua layer passes these messages on
 * unchanged (it never rewrites them). Every binding raises through this (argument errors aside). */
int lt_error(lua_State *L, const char *fmt, ...);

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
/* Asked by lt_begin when set: non-zero means an interrupt is pending for the code that runs now (the Jupyter
 * kernel's interrupted cell), so the operation starts cancelled instead of clearing the flag. */
extern int (*volatile lt_cancel_pending)(void);
/* Set the cancel flag of the engine operation running now, if any: from another thread (the kernel's control
 * thread) or a signal handler. */
void lt_cancel_running(void);
/* Like lt_end but for outside-world failures: returns 0 on success (push your results), or pushes
 * nil, message and returns 2 (return that from the C function). Cancellation still raises. */
int lt_end_io(lua_State *L, tg_status st);

/* Volume userdata. lt_newvolume pushes an empty volume (metatable set first, so an error midway leaves a
 * harmless empty object) and returns it for the engine to fill. lt_checkvolume raises on anything else,
 * or on a released volume. */
tg_volume *lt_newvolume(lua_State *L);
tg_volume *lt_checkvolume(lua_State *L, int idx);
tg_volume *lt_testvolume(lua_State *L, int idx); /* NULL if not a volume */
/* Mesh userdata (modules/lmeasure.c): raises on anything else, or on a released mesh. */
tg_mesh *lt_checkmesh(lua_State *L, int idx);
/* Stack userdata (modules/lio.c, a stack on disk, engine/io/tg_stack.h): raises on anything else, or on a closed
 * stack. lt_teststack returns NULL for anything that is not an open stack. */
struct tg_stack *lt_checkstack(lua_State *L, int idx);
struct tg_stack *lt_teststack(lua_State *L, int idx);
/* Writer userdata (modules/lio.c, engine/io/tg_writer.h): raises on anything else, or on a closed writer. */
struct tg_writer *lt_checkwriter(lua_State *L, int idx);
/* Streaming options from the table at idx (nil: defaults): memory = size (lt_checkmemory), max_slab = integer >= 1,
 * into o (a tg_stream_opts, io/tg_stream.h); o->what is left as it is. */
void lt_streamopts(lua_State *L, int idx, struct tg_stream_opts *o);
/* Push a streamed run's result: {slab, slabs, halo, memory, planned, peak, passes, voxels, seconds, voxels_per_second,
 * units = "bytes"} (the `streamed` table of every streamed operation's result). */
void lt_pushstreamed(lua_State *L, const struct tg_stream_result *r);
/* Tell the collector about a large allocation. */
void lt_gcstep(lua_State *L, const tg_volume *v);

/* Temporaries that must not leak when something raises before the code frees them (lauxlib's UBox): each
 * pushes a userdata that frees its contents on __gc and __close, or at once with lt_unbox. Raise freely after
 * boxing; nothing is freed by hand on error paths.
 *   lt_box: bytes of counted engine memory (tg_malloc; raises "out of memory" if it cannot), freed with tg_free.
 *   lt_boxobj: a zeroed object of size bytes inside the userdata (an engine result struct), release(obj) is called
 *     once when it is freed (e.g. tg_chords_result_free); release may be NULL.
 *   lt_unbox: free the box at idx now (idempotent; the userdata stays, empty). */
void *lt_box(lua_State *L, size_t bytes);
void *lt_boxobj(lua_State *L, size_t size, void (*release)(void *));
void lt_unbox(lua_State *L, int idx);

/* Convert the Lua range at idx ({first, last}, 1-based inclusive, or a single number, or nil = all) into
 * 0-based half-open [*lo, *hi) within [0, n). Raises naming `what` when outside. */
void lt_range(lua_State *L, int idx, int64_t n, int64_t *lo, int64_t *hi, const char *what);

/* Option readers for a table at idx (unknown-key checking is done in the Lua layer). */
lua_Number lt_optnumber(lua_State *L, int idx, const char *key, lua_Number def);
lua_Integer lt_optinteger(lua_State *L, int idx, const char *key, lua_Integer def);
const char *lt_optstring(lua_State *L, int idx, const char *key, const char *def);
int lt_optboolean(lua_State *L, int idx, const char *key, int def);
/* The dtype named by the string at idx; raises "<where>: unknown dtype 'x' (use u8, ...)" (where may be NULL when
 * the caller adds its own prefix). Never luaL_argerror: an option read at a negative index named argument #-1. */
tg_dtype lt_checkdtype(lua_State *L, int idx, const char *where);
/* luaL_checkoption for a value that is not a function argument (a field of an options table, an element of a
 * list): the index in names (a NULL-terminated static list) of the string at idx; def's index when the value is
 * nil and def is not NULL. Raises "<what> must be 'a', 'b' or 'c', got 'x'" otherwise. */
int lt_checkname(lua_State *L, int idx, const char *def, const char *const names[], const char *what);
/* lt_checkname of the field `key` of the options table at idx (def when the table or the field is absent). */
int lt_optname(lua_State *L, int idx, const char *key, const char *def, const char *const names[]);
/* A memory size at idx: an integer number of bytes or a string with a unit ("4GB", "512MiB": tg_memory_parse);
 * def when nil. Raises naming `what` otherwise. */
int64_t lt_checkmemory(lua_State *L, int idx, int64_t def, const char *what);
/* Read spacing from a number (isotropic) or {sx, sy, sz} at idx into s[3]; nil keeps s. */
void lt_spacing(lua_State *L, int idx, double s[3]);
/* Push "100 nm", "1.2 µm", or "100x100x200 nm" for an anisotropic spacing (metres in s). */
void lt_pushspacing(lua_State *L, const double s[3]);

/* Add a subtable `name` with functions fns to the table on top of the stack. */
void lt_register(lua_State *L, const char *name, const luaL_Reg *fns);

/* The parts of tortuga.core. */
void lt_open_state(lua_State *L); /* threads, progress switch, isatty (fields of core itself) */
void lt_open_volume(lua_State *L);
void lt_open_io(lua_State *L);
void lt_open_generate(lua_State *L);
void lt_open_measure(lua_State *L);
void lt_open_filter(lua_State *L);
void lt_open_transport(lua_State *L);
void lt_open_segment(lua_State *L);
void lt_open_analysis(lua_State *L);

#endif
