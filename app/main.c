/* main.c — the `tortuga` host: Lua 5.4 with tortuga built in, a script runner, the subcommands and a REPL.
 * Its files are listed in host.h; this one has the options and the order things run in.
 *
 * Usage (the structure of Lua's own lua.c, with tortuga's additions):
 *     tortuga                       REPL when stdin is a terminal, else run stdin as a script
 *     tortuga script.lua [args]     run a script; `arg` is set exactly as lua sets it (arg[0] = script,
 *                                   arg[1..] = args, the interpreter and its options at negative indices)
 *     tortuga -e 'code' ...         run code (may repeat); -l mod, -i (REPL afterwards), -E, -W, -v, --, -
 *     tortuga NAME [args]           a subcommand written in Lua: require("tortuga.cli").main(NAME, {args...}),
 *                                   when NAME is a bare word (^[a-z][a-z_-]*$) and not an existing file
 *     tortuga --help | --version | --paths
 *
 * Finding the Lua files without any environment: the executable resolves its own path (/proc/self/exe)
 * and prepends to package.path the first of: <exe dir>/../share/lua/5.4 (installed: the library and the
 * applications side by side in tortuga/), TG_SOURCE_LUA_DIR and TG_SOURCE_APP_LUA_DIR (a build tree: lua/
 * and app/lua/), TG_INSTALL_LUA_DIR. tortuga.core is linked in and preloaded. `--paths` prints the
 * LUA_PATH / LUA_CPATH lines that give stock lua5.4 the same files (with the built core.so).
 *
 * In the host, `require "tortuga"` is the library with the applications' names attached (tg.report, tg.cli,
 * tg.kernel, tg.repl, tg.display): package.preload["tortuga"] calls tortuga.app's load, which runs the
 * library's own init.lua and then attaches them (app/lua/tortuga/app.lua). The library never requires an
 * application; stock lua5.4 gets the library alone.
 *
 * The REPL: GNU readline (callback interface, so Ctrl-C at the prompt clears the line without leaving
 * readline in a half state), a history file (~/.tortuga_history or $TORTUGA_HISTORY, at most 1000 lines),
 * tab completion from tortuga.repl.complete (file names inside a string literal), `tg> ` / `..> ` prompts
 * (Lua's "<eof>" rule for incomplete statements; _PROMPT/_PROMPT2 override them), `return <line>` tried
 * first so expressions print, values printed by tortuga.repl.show. Ctrl-C at a prompt abandons the line
 * or the unfinished statement; Ctrl-Z suspends cleanly; Ctrl-D on an empty line exits. `tg` is a global
 * in the REPL only. When stdin is not a terminal (e.g. `tortuga -i < file`) lines are read plainly.
 *
 * Ctrl-C while Lua code runs sets a hook that raises "interrupted!" at the next Lua instruction, as lua.c
 * does; the handler is installed with sigaction around each call, so engine operations (lt_begin/lt_end)
 * can swap in their own cancel handler and restore this one. A second Ctrl-C before the hook fires kills
 * the process (the default action), as with lua.
 *
 * Exit status: 0 on success, 1 when a script or chunk fails, 2 for usage errors and unknown subcommands;
 * a subcommand's main may return its own status (an integer, or false for 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "host.h"

/* ---------------------------------------------------------------- options and main */

enum { HAS_ERROR = 1, HAS_I = 2, HAS_V = 4, HAS_E = 8, HAS_BIGE = 16, HAS_HELP = 32, HAS_PATHS = 64 };

/* As lua.c's collectargs, plus --help, --version, --paths. *first: index of the script, 0 if none, or of
 * the bad argument on error. */
static int collectargs(char **argv, int *first)
{
    int args = 0;
    *first = 0;
    for (int i = 1; argv[i] != NULL; i++) {
        *first = i;
        if (argv[i][0] != '-') return args;
        switch (argv[i][1]) {
        case '-':
            if (argv[i][2] == '\0') {
                *first = i + 1;
                return args;
            }
            if (strcmp(argv[i], "--help") == 0) args |= HAS_HELP;
            else if (strcmp(argv[i], "--version") == 0) args |= HAS_V;
            else if (strcmp(argv[i], "--paths") == 0) args |= HAS_PATHS;
            else return HAS_ERROR;
            break;
        case '\0':
            return args;
        case 'E':
            if (argv[i][2] != '\0') return HAS_ERROR;
            args |= HAS_BIGE;
            break;
        case 'W':
            if (argv[i][2] != '\0') return HAS_ERROR;
            break;
        case 'h':
            if (argv[i][2] != '\0') return HAS_ERROR;
            args |= HAS_HELP;
            break;
        case 'i':
            args |= HAS_I; /* fallthrough */
        case 'v':
            if (argv[i][2] != '\0') return HAS_ERROR;
            if (argv[i][1] == 'v') args |= HAS_V;
            break;
        case 'e':
            args |= HAS_E; /* fallthrough */
        case 'l':
            if (argv[i][2] == '\0') {
                i++;
                if (argv[i] == NULL || argv[i][0] == '-') {
                    *first = i - 1;
                    return HAS_ERROR;
                }
            }
            break;
        default:
            return HAS_ERROR;
        }
    }
    *first = 0;
    return args;
}

static int runargs(lua_State *L, char **argv, int n)
{
    for (int i = 1; i < n; i++) {
        int option = argv[i][1];
        if (option == 'e' || option == 'l') {
            const char *extra = argv[i] + 2;
            if (*extra == '\0') extra = argv[++i];
            int status = option == 'e' ? host_dostring(L, extra, "=(command line)") : host_dolibrary(L, extra);
            if (status != LUA_OK) return 0;
        } else if (option == 'W') {
            lua_warning(L, "@on", 0);
        }
    }
    return 1;
}

static void print_bad_option(const char *bad)
{
    if (bad[1] == 'e' || bad[1] == 'l') fprintf(stderr, "%s: '%s' needs argument\n", PROGNAME, bad);
    else fprintf(stderr, "%s: unrecognized option '%s'\n", PROGNAME, bad);
    fprintf(stderr, "try '%s --help'\n", PROGNAME);
}

/* The body, in protected mode. Returns the exit status as an integer. */
static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    int script, code = 0;
    luaL_checkversion(L);
    host_resolve_paths();

    if (argc > 1 && host_is_command_word(argv[1])) {
        luaL_openlibs(L);
        host_setup_package(L);
        host_createargtable(L, argv, argc, 1);
        lua_gc(L, LUA_GCRESTART); /* incremental, the library's default; lt_gcstep paces big volumes */
        if (host_handle_luainit(L) != LUA_OK) code = 1;
        else code = host_run_command(L, argc, argv);
        lua_pushinteger(L, code);
        return 1;
    }

    int args = collectargs(argv, &script);
    int optlim = script > 0 ? script : argc;
    if (args == HAS_ERROR) {
        print_bad_option(argv[script]);
        lua_pushinteger(L, 2);
        return 1;
    }
    if (args & HAS_BIGE) {
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    host_setup_package(L);
    host_createargtable(L, argv, argc, script);
    lua_gc(L, LUA_GCRESTART);
    if (args & HAS_PATHS) {
        host_print_paths();
        lua_pushinteger(L, 0);
        return 1;
    }
    if (args & HAS_V) host_print_version();
    if (!(args & HAS_BIGE) && host_handle_luainit(L) != LUA_OK) code = 1;
    else if (args & HAS_HELP) host_print_usage(L); /* after LUA_INIT, which may add to package.path */
    else if (!runargs(L, argv, optlim)) code = 1;
    else if (script > 0 && host_handle_script(L, argv + script) != LUA_OK) code = 1;
    else if (args & HAS_I) host_repl(L);
    else if (script < 1 && !(args & (HAS_E | HAS_V))) {
        if (isatty(STDIN_FILENO)) host_repl(L);
        else if (host_dofile(L, NULL) != LUA_OK) code = 1;
    }
    lua_pushinteger(L, code);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        host_message(PROGNAME, "cannot create state: not enough memory");
        return EXIT_FAILURE;
    }
    lua_gc(L, LUA_GCSTOP); /* restarted once the state is built */
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int code = status == LUA_OK ? (int)lua_tointeger(L, -1) : 1;
    host_report(L, status);
    lua_close(L);
    return code;
}
