/* paths.c — where the host finds its Lua files and the built core.so, with no environment: the manual is main.c's
 * ("Finding the Lua files"). Also package.path and the preloads of tortuga.core, tortuga.app.core and tortuga.
 */
#ifndef _XOPEN_SOURCE /* the build may pass -D_XOPEN_SOURCE=600 (from pkg-config); 600 has realpath too */
#define _XOPEN_SOURCE 700
#endif

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "host.h"

#ifndef TG_SOURCE_LUA_DIR
#define TG_SOURCE_LUA_DIR ""
#endif
#ifndef TG_SOURCE_APP_LUA_DIR
#define TG_SOURCE_APP_LUA_DIR ""
#endif
#ifndef TG_INSTALL_LUA_DIR
#define TG_INSTALL_LUA_DIR "/usr/local/share/lua/5.4"
#endif

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

void host_resolve_paths(void)
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

void host_print_paths(void)
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
void host_setup_package(lua_State *L)
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
