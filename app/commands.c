/* commands.c — `tortuga NAME args`: the subcommands written in Lua (tortuga.cli's main and its list of commands),
 * and --help, which lists them. NAME is a command when it is a bare word (^[a-z][a-z_-]*$) that is not an
 * existing file. Exit status: the command's (an integer, or false for 1), 1 when it raised, 2 for an unknown one.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "host.h"

#include "core/tg_core.h"

int host_is_command_word(const char *s)
{
    if (!(s[0] >= 'a' && s[0] <= 'z')) return 0;
    for (const char *p = s + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_' || *p == '-')) return 0;
    return access(s, F_OK) != 0; /* an existing file (or directory) of that name is a script */
}

/* Is tortuga.cli on package.path? (So a syntax error in it is reported, not taken for "no commands".) */
static int cli_exists(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    int found = lua_getfield(L, -1, "tortuga.cli") != LUA_TNIL;
    lua_pop(L, 2);
    if (!found) {
        lua_getfield(L, -1, "searchpath");
        lua_pushliteral(L, "tortuga.cli");
        lua_getfield(L, -3, "path");
        lua_call(L, 2, 1);
        found = !lua_isnil(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return found;
}

/* Push require("tortuga.cli") and return LUA_OK; on failure push nothing and return the status
 * (LUA_ERRRUN with the message reported when the file exists but fails, -1 when it is absent). */
static int load_cli(lua_State *L)
{
    if (!cli_exists(L)) return -1;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "tortuga.cli");
    int status = host_docall(L, 1, 1);
    if (status != LUA_OK) host_report(L, status);
    return status;
}

/* Push the list of {name=, summary=} from cli.commands (a function or a table) or nil. cli at idx. */
static int push_commands(lua_State *L, int idx)
{
    int t = lua_getfield(L, idx, "commands");
    if (t == LUA_TFUNCTION) {
        if (host_docall(L, 0, 1) != LUA_OK) {
            host_report(L, LUA_ERRRUN);
            lua_pushnil(L);
        }
    }
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return 0;
    }
    return 1;
}

/* Is `name` among the commands at the top of the stack? -1 when the list is unknown. */
static int has_command(lua_State *L, const char *name)
{
    if (!lua_istable(L, -1)) return -1;
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        int match = 0, top = lua_gettop(L);
        if (lua_rawgeti(L, -1, i) == LUA_TTABLE && lua_getfield(L, -1, "name") == LUA_TSTRING)
            match = strcmp(lua_tostring(L, -1), name) == 0;
        lua_settop(L, top);
        if (match) return 1;
    }
    return 0;
}

void host_print_usage(lua_State *L)
{
    printf("usage: %s [options] [script [args]]\n"
           "       %s COMMAND [args]\n"
           "\n"
           "With no arguments: the interactive REPL (tg = require \"tortuga\"; Tab completes, Ctrl-D exits),\n"
           "or, when stdin is not a terminal, stdin is run as a script.\n"
           "\n"
           "Options:\n"
           "  -e stat     execute string 'stat' (may repeat)\n"
           "  -i          enter the REPL after running 'script' and -e\n"
           "  -l mod      require library 'mod' into global 'mod'\n"
           "  -l g=mod    require library 'mod' into global 'g'\n"
           "  -v, --version  show version information\n"
           "  -E          ignore environment variables (LUA_INIT, LUA_PATH, LUA_CPATH)\n"
           "  -W          turn warnings on\n"
           "  --paths     print LUA_PATH/LUA_CPATH exports for using tortuga from stock lua5.4:\n"
           "              eval \"$(%s --paths)\"\n"
           "  --help      show this help\n"
           "  --          stop handling options\n"
           "  -           stop handling options and execute stdin\n",
           PROGNAME, PROGNAME, PROGNAME);
    if (load_cli(L) != LUA_OK) return;
    int cli = lua_gettop(L);
    if (push_commands(L, cli)) {
        lua_Integer n = luaL_len(L, -1);
        if (n > 0) printf("\nCommands (%s COMMAND --help for details):\n", PROGNAME);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TTABLE) {
                lua_getfield(L, -1, "name");
                lua_getfield(L, -2, "summary");
                const char *name = lua_tostring(L, -2), *summary = lua_tostring(L, -1);
                if (name) printf("  %-12s%s%s\n", name, strlen(name) >= 12 ? "  " : "", summary ? summary : "");
                lua_pop(L, 2);
            }
            lua_pop(L, 1);
        }
    }
    lua_settop(L, cli - 1);
}

void host_print_version(void)
{
    printf("%s %s (%s)\n", PROGNAME, TG_VERSION, LUA_RELEASE);
}

/* tortuga NAME args...: cli.main(NAME, {args}). Returns the exit status. */
int host_run_command(lua_State *L, int argc, char **argv)
{
    const char *name = argv[1];
    int status = load_cli(L);
    if (status != LUA_OK) {
        if (status == -1 && strcmp(name, "help") == 0) {
            host_print_usage(L);
            return 0;
        }
        if (status == -1) host_message(PROGNAME, lua_pushfstring(L, "unknown command '%s' (try %s --help)", name, PROGNAME));
        return status == -1 ? 2 : 1;
    }
    int cli = lua_gettop(L);
    push_commands(L, cli);
    int known = has_command(L, name);
    lua_pop(L, 1);
    if (known == 0 && strcmp(name, "help") == 0) {
        host_print_usage(L);
        return 0;
    }
    if (lua_getfield(L, cli, "main") != LUA_TFUNCTION || known == 0) {
        host_message(PROGNAME, lua_pushfstring(L, "unknown command '%s' (try %s --help)", name, PROGNAME));
        return 2;
    }
    lua_pushstring(L, name);
    lua_createtable(L, argc - 2, 0);
    for (int i = 2; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);
    }
    const char *saved = host_progname;
    host_progname = NULL;
    status = host_docall(L, 2, 1);
    host_progname = saved;
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "%s %s: %s\n", PROGNAME, name, msg ? msg : "(error object is not a string)");
        return 1;
    }
    if (lua_isinteger(L, -1)) return (int)lua_tointeger(L, -1);
    if (lua_isboolean(L, -1)) return lua_toboolean(L, -1) ? 0 : 1;
    return 0;
}
