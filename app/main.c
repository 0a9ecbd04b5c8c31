/* main.c — the `tortuga` host: Lua 5.4 with tortuga built in, a script runner, the subcommands and a REPL.
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
#ifndef _XOPEN_SOURCE /* the build may pass -D_XOPEN_SOURCE=600 (from pkg-config); 600 has realpath too */
#define _XOPEN_SOURCE 700
#endif

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core/tg_core.h"

#ifndef TG_SOURCE_LUA_DIR
#define TG_SOURCE_LUA_DIR ""
#endif
#ifndef TG_SOURCE_APP_LUA_DIR
#define TG_SOURCE_APP_LUA_DIR ""
#endif
#ifndef TG_INSTALL_LUA_DIR
#define TG_INSTALL_LUA_DIR "/usr/local/share/lua/5.4"
#endif

#define PROGNAME "tortuga"
#define PROMPT1 "tg> "
#define PROMPT2 "..> "
#define HISTORY_MAX 1000
#define EOFMARK "<eof>"

int luaopen_tortuga_core(lua_State *L);
int luaopen_tortuga_app_core(lua_State *L); /* lkernel.c: the Jupyter kernel's wire */

static const char *progname = PROGNAME; /* NULL inside the REPL: errors are not prefixed */
static lua_State *globalL;              /* for the SIGINT handler and readline's completion */
static int repl_ref = LUA_NOREF;        /* the tortuga.repl module, when it loaded */

/* ---------------------------------------------------------------- paths */

static char exe_dir[PATH_MAX];  /* directory of this executable ("" if unknown) */
static char lua_dir[PATH_MAX];  /* the folder holding tortuga/init.lua (the library) */
static char app_dir[PATH_MAX];  /* the folder holding tortuga/app.lua (the applications; = lua_dir when installed) */
static char cpath_dir[PATH_MAX]; /* the folder X such that X/tortuga/core.so is the built module */

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Does dir/rel exist as a file? On success, and if out is given, store realpath(dir) in out. */
static int has_file(const char *dir, const char *rel, char *out)
{
    char p[PATH_MAX * 2];
    if (!dir[0]) return 0;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    if (!is_file(p)) return 0;
    if (out) {
        char real[PATH_MAX];
        if (realpath(dir, real)) snprintf(out, PATH_MAX, "%s", real);
        else snprintf(out, PATH_MAX, "%s", dir);
    }
    return 1;
}

static void resolve_paths(void)
{
    char self[PATH_MAX], p[PATH_MAX * 2];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    exe_dir[0] = '\0';
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(exe_dir, sizeof exe_dir, "%s", self[0] ? self : "/");
        }
    }
    snprintf(p, sizeof p, "%s/../share/lua/5.4", exe_dir);
    if (!(exe_dir[0] && has_file(p, "tortuga/init.lua", lua_dir)) &&
        !has_file(TG_SOURCE_LUA_DIR, "tortuga/init.lua", lua_dir))
        snprintf(lua_dir, sizeof lua_dir, "%s", TG_INSTALL_LUA_DIR);
    if (!(exe_dir[0] && has_file(p, "tortuga/app.lua", app_dir)) &&
        !has_file(TG_SOURCE_APP_LUA_DIR, "tortuga/app.lua", app_dir))
        snprintf(app_dir, sizeof app_dir, "%s", lua_dir);

    /* the C module: next to the executable in a build tree, else <prefix>/lib/lua/5.4 */
    snprintf(p, sizeof p, "%s/lib", exe_dir);
    if (exe_dir[0] && has_file(p, "tortuga/core.so", cpath_dir)) return;
    snprintf(p, sizeof p, "%s/../lib/lua/5.4", exe_dir);
    if (exe_dir[0] && has_file(p, "tortuga/core.so", cpath_dir)) return;
    /* not found: derive from the install prefix (TG_INSTALL_LUA_DIR is <prefix>/share/lua/5.4) */
    const char *suffix = "/share/lua/5.4";
    size_t li = strlen(TG_INSTALL_LUA_DIR), ls = strlen(suffix);
    if (li > ls && strcmp(TG_INSTALL_LUA_DIR + li - ls, suffix) == 0)
        snprintf(cpath_dir, sizeof cpath_dir, "%.*s/lib/lua/5.4", (int)(li - ls), TG_INSTALL_LUA_DIR);
    else
        snprintf(cpath_dir, sizeof cpath_dir, "/usr/local/lib/lua/5.4");
}

/* Print a path inside single quotes for the shell. */
static void put_shell_quoted(const char *s)
{
    putchar('\'');
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", stdout);
        else putchar(*s);
    }
    putchar('\'');
}

/* "<dir>/?.lua;<dir>/?/init.lua" for the library's folder, and for the applications' when it is another one */
static void lua_templates(char *buf, size_t n)
{
    int len = snprintf(buf, n, "%s/?.lua;%s/?/init.lua", lua_dir, lua_dir);
    if (strcmp(app_dir, lua_dir) != 0 && len > 0 && (size_t)len < n)
        snprintf(buf + len, n - (size_t)len, ";%s/?.lua;%s/?/init.lua", app_dir, app_dir);
}

static void print_paths(void)
{
    char buf[PATH_MAX * 5];
    lua_templates(buf, sizeof buf - 2);
    strcat(buf, ";;");
    fputs("export LUA_PATH=", stdout);
    put_shell_quoted(buf);
    putchar('\n');
    snprintf(buf, sizeof buf, "%s/?.so;;", cpath_dir);
    fputs("export LUA_CPATH=", stdout);
    put_shell_quoted(buf);
    putchar('\n');
}

/* package.preload["tortuga"]: tortuga.app's load (the library with the applications attached) */
static int load_tortuga(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "tortuga.app");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "load");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

/* package.path = <library and application templates>;<old>; package.preload["tortuga.core"] (the library's C
 * half), ["tortuga.app.core"] (the applications' C half, which only the host has) and ["tortuga"] */
static void setup_package(lua_State *L)
{
    char buf[PATH_MAX * 5];
    lua_templates(buf, sizeof buf);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s;%s", buf, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 1);
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_tortuga_core);
    lua_setfield(L, -2, "tortuga.core");
    lua_pushcfunction(L, luaopen_tortuga_app_core);
    lua_setfield(L, -2, "tortuga.app.core");
    lua_pushcfunction(L, load_tortuga);
    lua_setfield(L, -2, "tortuga");
    lua_pop(L, 2);
}

/* ---------------------------------------------------------------- running chunks */

static void l_message(const char *pname, const char *msg)
{
    if (pname) fprintf(stderr, "%s: ", pname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        l_message(progname, msg ? msg : "(error object is not a string)");
        lua_pop(L, 1);
    }
    return status;
}

/* Turn the error object into a string and append a traceback. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* The hook set by the signal handler: raise at the next instruction. */
static void lstop(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

static void set_handler(int sig, void (*handler)(int), struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, old);
}

static void laction(int sig)
{
    int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
    set_handler(sig, SIG_DFL, NULL); /* a second Ctrl-C before the hook runs ends the process */
    lua_sethook(globalL, lstop, flag, 1);
}

/* lua_pcall with the traceback handler and the Ctrl-C hook; restores the previous SIGINT action. */
static int docall(lua_State *L, int narg, int nres)
{
    struct sigaction old;
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    globalL = L;
    set_handler(SIGINT, laction, &old);
    int status = lua_pcall(L, narg, nres, base);
    sigaction(SIGINT, &old, NULL);
    if (lua_gethook(L) == lstop) lua_sethook(L, NULL, 0, 0); /* a late Ctrl-C must not hit the next call */
    lua_remove(L, base);
    return status;
}

static int dochunk(lua_State *L, int status)
{
    if (status == LUA_OK) status = docall(L, 0, 0);
    return report(L, status);
}

static int dofile(lua_State *L, const char *name)
{
    return dochunk(L, luaL_loadfile(L, name));
}

static int dostring(lua_State *L, const char *s, const char *name)
{
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l g=mod: g = require(mod) */
static int dolibrary(lua_State *L, const char *spec)
{
    const char *eq = strchr(spec, '=');
    const char *mod = eq ? eq + 1 : spec;
    lua_getglobal(L, "require");
    lua_pushstring(L, mod);
    int status = docall(L, 1, 1);
    if (status == LUA_OK) {
        if (eq) lua_pushlstring(L, spec, (size_t)(eq - spec));
        else lua_pushstring(L, spec);
        lua_insert(L, -2);
        lua_setglobal(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    return report(L, status);
}

/* arg[0] = argv[script]; arguments after it positive, before it negative. */
static void createargtable(lua_State *L, char **argv, int argc, int script)
{
    int narg = argc - (script + 1);
    if (narg < 0) narg = 0;
    lua_createtable(L, narg, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int pushargs(lua_State *L)
{
    if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
    int n = (int)luaL_len(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    int i;
    for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
    lua_remove(L, -i);
    return n;
}

static int handle_script(lua_State *L, char **argv)
{
    const char *fname = argv[0];
    if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL; /* stdin */
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = pushargs(L);
        status = docall(L, n, LUA_MULTRET);
    }
    return report(L, status);
}

static int handle_luainit(lua_State *L)
{
    const char *name = "=LUA_INIT_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR;
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=LUA_INIT";
        init = getenv(name + 1);
    }
    if (init == NULL) return LUA_OK;
    if (init[0] == '@') return dofile(L, init + 1);
    return dostring(L, init, name);
}

/* ---------------------------------------------------------------- subcommands and help */

static int is_command_word(const char *s)
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
    int status = docall(L, 1, 1);
    if (status != LUA_OK) report(L, status);
    return status;
}

/* Push the list of {name=, summary=} from cli.commands (a function or a table) or nil. cli at idx. */
static int push_commands(lua_State *L, int idx)
{
    int t = lua_getfield(L, idx, "commands");
    if (t == LUA_TFUNCTION) {
        if (docall(L, 0, 1) != LUA_OK) {
            report(L, LUA_ERRRUN);
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

static void print_usage(lua_State *L)
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

static void print_version(void)
{
    printf("%s %s (%s)\n", PROGNAME, TG_VERSION, LUA_RELEASE);
}

/* tortuga NAME args...: cli.main(NAME, {args}). Returns the exit status. */
static int run_command(lua_State *L, int argc, char **argv)
{
    const char *name = argv[1];
    int status = load_cli(L);
    if (status != LUA_OK) {
        if (status == -1 && strcmp(name, "help") == 0) {
            print_usage(L);
            return 0;
        }
        if (status == -1) l_message(PROGNAME, lua_pushfstring(L, "unknown command '%s' (try %s --help)", name, PROGNAME));
        return status == -1 ? 2 : 1;
    }
    int cli = lua_gettop(L);
    push_commands(L, cli);
    int known = has_command(L, name);
    lua_pop(L, 1);
    if (known == 0 && strcmp(name, "help") == 0) {
        print_usage(L);
        return 0;
    }
    if (lua_getfield(L, cli, "main") != LUA_TFUNCTION || known == 0) {
        l_message(PROGNAME, lua_pushfstring(L, "unknown command '%s' (try %s --help)", name, PROGNAME));
        return 2;
    }
    lua_pushstring(L, name);
    lua_createtable(L, argc - 2, 0);
    for (int i = 2; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);
    }
    const char *saved = progname;
    progname = NULL;
    status = docall(L, 2, 1);
    progname = saved;
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "%s %s: %s\n", PROGNAME, name, msg ? msg : "(error object is not a string)");
        return 1;
    }
    if (lua_isinteger(L, -1)) return (int)lua_tointeger(L, -1);
    if (lua_isboolean(L, -1)) return lua_toboolean(L, -1) ? 0 : 1;
    return 0;
}

/* ---------------------------------------------------------------- the REPL: reading lines */

static char history_path[PATH_MAX];
static int use_readline; /* stdin is a terminal */

static void history_init(void)
{
    const char *env = getenv("TORTUGA_HISTORY");
    const char *home = getenv("HOME");
    if (env && env[0]) snprintf(history_path, sizeof history_path, "%s", env);
    else if (home && home[0]) snprintf(history_path, sizeof history_path, "%s/.tortuga_history", home);
    else return;
    int fd = open(history_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) {
        fprintf(stderr, "%s: history file %s: %s (history not saved)\n", PROGNAME, history_path, strerror(errno));
        history_path[0] = '\0';
        return;
    }
    close(fd);
    stifle_history(HISTORY_MAX);
    history_truncate_file(history_path, HISTORY_MAX);
    read_history(history_path);
}

/* Keep a line in the history and append it to the file at once (a crash loses nothing). A multi-line
 * chunk becomes one entry when joining its lines with spaces cannot change its meaning. */
static void history_save(const char *line)
{
    if (!use_readline || !line[0]) return;
    int multi = strchr(line, '\n') != NULL;
    int joinable = multi && !strstr(line, "--") && !strstr(line, "[[") && !strstr(line, "[=") && !strstr(line, "\\\n");
    if (!multi || joinable) {
        char *copy = strdup(line);
        if (!copy) return;
        for (char *p = copy; *p; p++)
            if (*p == '\n') *p = ' ';
        HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
        if (!last || strcmp(last->line, copy) != 0) {
            add_history(copy);
            if (history_path[0]) append_history(1, history_path);
        }
        free(copy);
        return;
    }
    const char *p = line;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *one = malloc(len + 1);
        if (one) {
            memcpy(one, p, len);
            one[len] = '\0';
        }
        if (one && one[0]) {
            add_history(one);
            if (history_path[0]) append_history(1, history_path);
        }
        free(one);
        p += len + (nl ? 1 : 0);
    }
}

static void history_finish(void)
{
    if (use_readline && history_path[0]) history_truncate_file(history_path, HISTORY_MAX);
}

/* readline's callback interface: we own the wait for input, so signals are handled between keys. */
static char *rl_line;
static int rl_done_line;
static volatile sig_atomic_t got_sigint, got_sigwinch, got_sigtstp;

static void on_rl_line(char *line)
{
    rl_line = line;
    rl_done_line = 1;
    rl_callback_handler_remove();
}

static void on_prompt_signal(int sig)
{
    if (sig == SIGINT) got_sigint = 1;
    else if (sig == SIGTSTP) got_sigtstp = 1;
    else got_sigwinch = 1;
}

/* Read one line with readline. Returns it (malloc'd), or NULL at end of input; *interrupted is set when
 * Ctrl-C abandoned the line. */
static char *tty_readline(const char *prompt, int *interrupted)
{
    struct sigaction old_int, old_winch, old_tstp;
    sigset_t block, orig;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGWINCH);
    sigaddset(&block, SIGTSTP);
    sigprocmask(SIG_BLOCK, &block, &orig);
    set_handler(SIGINT, on_prompt_signal, &old_int);
    set_handler(SIGWINCH, on_prompt_signal, &old_winch);
    set_handler(SIGTSTP, on_prompt_signal, &old_tstp);
    got_sigint = got_sigwinch = got_sigtstp = 0;
    rl_line = NULL;
    rl_done_line = 0;
    *interrupted = 0;
    fflush(stdout);
    rl_callback_handler_install(prompt, on_rl_line);
    while (!rl_done_line) {
        int fd = fileno(rl_instream ? rl_instream : stdin);
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        int r = pselect(fd + 1, &fds, NULL, NULL, NULL, &orig); /* signals arrive only while waiting */
        if (got_sigwinch) {
            got_sigwinch = 0;
            rl_resize_terminal();
        }
        if (got_sigtstp) { /* Ctrl-Z: give the terminal back, stop, and take it again on fg */
            got_sigtstp = 0;
            rl_deprep_terminal();
            set_handler(SIGTSTP, SIG_DFL, NULL);
            sigprocmask(SIG_SETMASK, &orig, NULL);
            raise(SIGTSTP);
            sigprocmask(SIG_BLOCK, &block, NULL);
            set_handler(SIGTSTP, on_prompt_signal, NULL);
            rl_prep_terminal(1);
            rl_forced_update_display();
            continue;
        }
        if (got_sigint) {
            got_sigint = 0;
            rl_point = rl_end;
            rl_redisplay();
            fputs("^C\n", rl_outstream ? rl_outstream : stdout);
            rl_replace_line("", 0);
            rl_free_line_state();
            rl_callback_sigcleanup();
            rl_callback_handler_remove();
            *interrupted = 1;
            break;
        }
        if (r < 0) {
            if (errno == EINTR) continue;
            rl_callback_handler_remove();
            break; /* end of input */
        }
        if (r > 0) rl_callback_read_char();
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGWINCH, &old_winch, NULL);
    sigaction(SIGTSTP, &old_tstp, NULL);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    return rl_line;
}

/* Without a terminal: print the prompt, read a line of any length. */
static char *plain_readline(const char *prompt)
{
    fputs(prompt, stdout);
    fflush(stdout);
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    int c;
    while ((c = getchar()) != EOF && c != '\n') {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) break;
            buf = nb;
        }
        buf[len++] = (char)c;
    }
    if (c == EOF && len == 0) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

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
    char *b = use_readline ? tty_readline(prompt, &interrupted) : plain_readline(prompt);
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

/* ---------------------------------------------------------------- the REPL: completion */

static char **comp_list;
static size_t comp_n, comp_i;

static void comp_clear(void)
{
    for (size_t i = 0; i < comp_n; i++) free(comp_list[i]);
    free(comp_list);
    comp_list = NULL;
    comp_n = comp_i = 0;
}

static int comp_lua(lua_State *L)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, repl_ref);
    lua_getfield(L, -1, "complete");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

static void comp_fill(const char *text)
{
    lua_State *L = globalL;
    comp_clear();
    if (!L || repl_ref == LUA_NOREF) return;
    int top = lua_gettop(L);
    lua_pushcfunction(L, comp_lua);
    lua_pushstring(L, text);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
        lua_Integer n = luaL_len(L, -1);
        comp_list = n > 0 ? calloc((size_t)n, sizeof *comp_list) : NULL;
        for (lua_Integer i = 1; comp_list && i <= n; i++) {
            lua_rawgeti(L, -1, i);
            const char *s = lua_tostring(L, -1);
            if (s && (comp_list[comp_n] = strdup(s))) comp_n++;
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
}

static char *comp_generator(const char *text, int state)
{
    if (state == 0) comp_fill(text);
    return comp_i < comp_n ? strdup(comp_list[comp_i++]) : NULL;
}

static char **attempt_completion(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    if (rl_completion_quote_character) return NULL; /* inside a string: complete file names */
    rl_attempted_completion_over = 1;
    rl_completion_suppress_append = 1; /* a name is usually followed by '.', ':' or '(' */
    return rl_completion_matches(text, comp_generator);
}

/* Inside a string literal, a word is the whole text after the quote (a file name, '/' included);
 * elsewhere, words break at Lua's operators and brackets but not at '.' and ':'. */
static char lua_word_breaks[] = " \t\n\"\\'`@$><=;|&{(+-*/%^~#,[]})";
static char string_word_breaks[] = "\"'";

static char *word_break_hook(void)
{
    char quote = 0;
    for (int i = 0; i < rl_point && rl_line_buffer[i]; i++) {
        char c = rl_line_buffer[i];
        if (quote && c == '\\') i++;
        else if (quote && c == quote) quote = 0;
        else if (!quote && (c == '"' || c == '\'')) quote = c;
    }
    return quote ? string_word_breaks : lua_word_breaks;
}

/* List matches by their last component ("volume" rather than "tg.volume"). */
static void display_matches(char **matches, int num, int max_length)
{
    (void)max_length;
    char **shown = malloc(((size_t)num + 2) * sizeof *shown);
    if (!shown) return;
    int maxl = 0;
    shown[0] = matches[0];
    for (int i = 1; i <= num; i++) {
        const char *s = matches[i], *cut = s;
        for (const char *p = s; *p; p++)
            if ((*p == '.' || *p == ':') && p[1]) cut = p + 1;
        shown[i] = (char *)cut;
        int l = (int)strlen(cut);
        if (l > maxl) maxl = l;
    }
    shown[num + 1] = NULL;
    rl_display_match_list(shown, num, maxl);
    free(shown);
    rl_forced_update_display();
}

static void readline_init(void)
{
    rl_readline_name = PROGNAME;
    rl_catch_signals = 0; /* we handle SIGINT and SIGWINCH around the wait for input */
    rl_catch_sigwinch = 0;
    rl_attempted_completion_function = attempt_completion;
    rl_completion_display_matches_hook = display_matches;
    rl_basic_word_break_characters = lua_word_breaks;
    rl_completer_word_break_characters = lua_word_breaks;
    rl_completion_word_break_hook = word_break_hook;
    rl_completer_quote_characters = "\"'";
    history_init();
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
        history_save(line);
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
            history_save(line);
            lua_remove(L, 1);
            return status;
        }
        int r = pushline(L, 0);
        if (r != 1) {
            history_save(line);
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
    if (repl_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, repl_ref);
        lua_getfield(L, -1, "show");
        lua_remove(L, -2);
        lua_insert(L, 1);
        if (docall(L, n, 1) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            fwrite(s, 1, len, stdout);
            fputc('\n', stdout);
            fflush(stdout);
            lua_pop(L, 1);
            return;
        }
        l_message(PROGNAME, lua_pushfstring(L, "error in tortuga.repl.show (%s)", lua_tostring(L, -2)));
        lua_settop(L, 0);
        return;
    }
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
        l_message(PROGNAME, lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
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
        if (docall(L, 1, 1) == LUA_OK) {
            lua_setglobal(L, "tg");
        } else {
            fprintf(stderr, "%s: could not load the tortuga library; this is a plain Lua REPL.\n%s\n", PROGNAME,
                    lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_getglobal(L, "require");
    lua_pushliteral(L, "tortuga.repl");
    if (docall(L, 1, 1) == LUA_OK && lua_istable(L, -1)) repl_ref = luaL_ref(L, LUA_REGISTRYINDEX);
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

static void doREPL(lua_State *L)
{
    const char *oldprogname = progname;
    progname = NULL;
    globalL = L;
    use_readline = isatty(STDIN_FILENO);
    repl_prepare(L);
    if (use_readline) readline_init();
    int status;
    while ((status = loadline(L)) != -1) {
        if (status == -2) continue;
        if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK) l_print(L);
        else report(L, status);
    }
    lua_settop(L, 0);
    history_finish();
    if (use_readline) comp_clear();
    else putchar('\n'); /* readline ends its line itself at end of input */
    fflush(stdout);
    progname = oldprogname;
}

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
            int status = option == 'e' ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
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
    resolve_paths();

    if (argc > 1 && is_command_word(argv[1])) {
        luaL_openlibs(L);
        setup_package(L);
        createargtable(L, argv, argc, 1);
        lua_gc(L, LUA_GCRESTART); /* incremental, the library's default; lt_gcstep paces big volumes */
        if (handle_luainit(L) != LUA_OK) code = 1;
        else code = run_command(L, argc, argv);
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
    setup_package(L);
    createargtable(L, argv, argc, script);
    lua_gc(L, LUA_GCRESTART);
    if (args & HAS_PATHS) {
        print_paths();
        lua_pushinteger(L, 0);
        return 1;
    }
    if (args & HAS_V) print_version();
    if (!(args & HAS_BIGE) && handle_luainit(L) != LUA_OK) code = 1;
    else if (args & HAS_HELP) print_usage(L); /* after LUA_INIT, which may add to package.path */
    else if (!runargs(L, argv, optlim)) code = 1;
    else if (script > 0 && handle_script(L, argv + script) != LUA_OK) code = 1;
    else if (args & HAS_I) doREPL(L);
    else if (script < 1 && !(args & (HAS_E | HAS_V))) {
        if (isatty(STDIN_FILENO)) doREPL(L);
        else if (dofile(L, NULL) != LUA_OK) code = 1;
    }
    lua_pushinteger(L, code);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        l_message(PROGNAME, "cannot create state: not enough memory");
        return EXIT_FAILURE;
    }
    lua_gc(L, LUA_GCSTOP); /* restarted once the state is built */
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int code = status == LUA_OK ? (int)lua_tointeger(L, -1) : 1;
    report(L, status);
    lua_close(L);
    return code;
}
