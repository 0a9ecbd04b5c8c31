/* repl.c — the REPL: `tg> ` / `..> ` prompts (_PROMPT / _PROMPT2 override them, as in lua), `return <line>` tried
 * first so expressions print, Lua's "<eof>" rule for unfinished statements, values printed by tortuga.repl.show.
 * Ctrl-C at a prompt abandons the line or the unfinished statement; Ctrl-D on an empty line exits. `tg` is a
 * global in the REPL only. Lines come from repl_input.c, completion from repl_complete.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "host.h"

#include "core/tg_core.h"

#define PROMPT1 "tg> "
#define PROMPT2 "..> "
#define EOFMARK "<eof>"

/* The prompt: _PROMPT / _PROMPT2 when set (as lua does), else tg> / ..> */
static void get_prompt(lua_State *L, int first, char *out, size_t n)
{
    if (lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
        snprintf(out, n, "%s", first ? PROMPT1 : PROMPT2);
    } else {
        snprintf(out, n, "%s", luaL_tolstring(L, -1, NULL));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Push the next line. Returns 1, 0 at end of input, -2 when Ctrl-C abandoned it. */
static int pushline(lua_State *L, int first)
{
    char prompt[256];
    int interrupted = 0;
    get_prompt(L, first, prompt, sizeof prompt);
    char *b = repl_use_readline ? repl_tty_readline(prompt, &interrupted) : repl_plain_readline(prompt);
    if (interrupted) {
        free(b);
        return -2;
    }
    if (b == NULL) return 0;
    size_t l = strlen(b);
    if (l > 0 && b[l - 1] == '\n') b[--l] = '\0';
    if (first && b[0] == '=') lua_pushfstring(L, "return %s", b + 1);
    else lua_pushlstring(L, b, l);
    free(b);
    return 1;
}

/* ---------------------------------------------------------------- the REPL: evaluating */

static int incomplete(lua_State *L, int status)
{
    if (status == LUA_ERRSYNTAX) {
        size_t lmsg, lmark = sizeof(EOFMARK) - 1;
        const char *msg = lua_tolstring(L, -1, &lmsg);
        if (lmsg >= lmark && strcmp(msg + lmsg - lmark, EOFMARK) == 0) {
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

/* Try "return <line>;" so expressions print. Leaves the chunk (OK) or the line (failure). */
static int addreturn(lua_State *L)
{
    const char *line = lua_tostring(L, -1);
    const char *retline = lua_pushfstring(L, "return %s;", line);
    int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
    if (status == LUA_OK) {
        lua_remove(L, -2);
        repl_history_save(line);
        lua_remove(L, -2);
    } else {
        lua_pop(L, 2);
    }
    return status;
}

/* Read continuation lines until the statement is complete. Returns the load status, or -2 when Ctrl-C
 * abandoned the statement, -1 at end of input. */
static int multiline(lua_State *L)
{
    for (;;) {
        size_t len;
        const char *line = lua_tolstring(L, 1, &len);
        int status = luaL_loadbuffer(L, line, len, "=stdin");
        if (!incomplete(L, status)) {
            repl_history_save(line);
            lua_remove(L, 1);
            return status;
        }
        int r = pushline(L, 0);
        if (r != 1) {
            repl_history_save(line);
            return r == 0 ? -1 : -2;
        }
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
}

/* Read and compile one statement. Returns its status with the chunk (or message) on top, -1 at end of
 * input, -2 when Ctrl-C abandoned it (nothing to run). */
static int loadline(lua_State *L)
{
    lua_settop(L, 0);
    int r = pushline(L, 1);
    if (r == 0) return -1;
    if (r == -2) return -2;
    const char *line = lua_tostring(L, 1);
    if (line[strspn(line, " \t")] == '\0') return -2; /* empty line: nothing to do */
    int status = addreturn(L);
    if (status != LUA_OK) status = multiline(L);
    return status;
}

/* Print the values on the stack with tortuga.repl.show, or print when that is unavailable. */
static void l_print(lua_State *L)
{
    int n = lua_gettop(L);
    if (n == 0) return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    if (repl_module_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, repl_module_ref);
        lua_getfield(L, -1, "show");
        lua_remove(L, -2);
        lua_insert(L, 1);
        if (host_docall(L, n, 1) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            fwrite(s, 1, len, stdout);
            fputc('\n', stdout);
            fflush(stdout);
            lua_pop(L, 1);
            return;
        }
        host_message(PROGNAME, lua_pushfstring(L, "error in tortuga.repl.show (%s)", lua_tostring(L, -2)));
        lua_settop(L, 0);
        return;
    }
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
        host_message(PROGNAME, lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
    fflush(stdout);
}

/* tg = require "tortuga" (unless tg is already set), tortuga.repl for printing and completion, banner. */
static void repl_prepare(lua_State *L)
{
    int have_tg = lua_getglobal(L, "tg") != LUA_TNIL;
    lua_pop(L, 1);
    if (!have_tg) {
        lua_getglobal(L, "require");
        lua_pushliteral(L, "tortuga");
        if (host_docall(L, 1, 1) == LUA_OK) {
            lua_setglobal(L, "tg");
        } else {
            fprintf(stderr, "%s: could not load the tortuga library; this is a plain Lua REPL.\n%s\n", PROGNAME,
                    lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_getglobal(L, "require");
    lua_pushliteral(L, "tortuga.repl");
    if (host_docall(L, 1, 1) == LUA_OK && lua_istable(L, -1)) repl_module_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else lua_pop(L, 1);

    printf("%s %s (%s)", PROGNAME, TG_VERSION, LUA_RELEASE);
    if (lua_getglobal(L, "tg") == LUA_TTABLE && lua_getfield(L, -1, "threads") == LUA_TFUNCTION) {
        if (lua_pcall(L, 0, 1, 0) == LUA_OK && lua_isinteger(L, -1))
            printf(", %d thread%s", (int)lua_tointeger(L, -1), lua_tointeger(L, -1) == 1 ? "" : "s");
    }
    lua_settop(L, 0);
    printf(". tg = require \"tortuga\"; Tab completes, Ctrl-D exits.\n");
    fflush(stdout);
}

void host_repl(lua_State *L)
{
    const char *oldprogname = host_progname;
    host_progname = NULL;
    host_L = L;
    repl_use_readline = isatty(STDIN_FILENO);
    repl_prepare(L);
    if (repl_use_readline) repl_readline_init();
    int status;
    while ((status = loadline(L)) != -1) {
        if (status == -2) continue;
        if (status == LUA_OK) status = host_docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK) l_print(L);
        else host_report(L, status);
    }
    lua_settop(L, 0);
    repl_history_finish();
    if (repl_use_readline) repl_complete_clear();
    else putchar('\n'); /* readline ends its line itself at end of input */
    fflush(stdout);
    host_progname = oldprogname;
}
