/* host.h — what the files of the tortuga host (the C files in app/) share. The host is the `tortuga` executable: Lua 5.4
 * with the library's bindings and the Jupyter kernel's wire linked in, a script runner, the subcommands and a
 * readline REPL (main.c has the whole manual). Its files:
 *     main.c            options (lua.c's, plus --help, --version, --paths) and the order things run in
 *     paths.c           finding the Lua files and core.so without any environment; package.path and preloads
 *     chunks.c          running chunks: tracebacks, Ctrl-C, -e / -l / scripts / LUA_INIT, error reports
 *     commands.c        `tortuga NAME args` (tortuga.cli) and --help
 *     repl.c            the REPL: reading statements, printing values (tortuga.repl.show)
 *     repl_input.c      the REPL's lines: readline's callback interface with signals, history, plain stdin
 *     repl_complete.c   the REPL's tab completion (tortuga.repl.complete)
 *     lkernel.c         tortuga.app.core, the Jupyter kernel's wire (its own manual)
 */
#ifndef HOST_H
#define HOST_H

#include <signal.h>
#include <stddef.h>

#include <lua.h>

#define PROGNAME "tortuga"

extern const char *host_progname; /* prefix of error messages; NULL inside the REPL and subcommands */
extern lua_State *host_L;         /* the state, for the SIGINT handler and readline's completion */

int luaopen_tortuga_core(lua_State *L);     /* modules/lcore.c: the library's C half */
int luaopen_tortuga_app_core(lua_State *L); /* lkernel.c: the Jupyter kernel's wire */

/* paths.c: resolve once, then print the --paths exports or set package.path and the preloads of a state. */
void host_resolve_paths(void);
void host_print_paths(void);
void host_setup_package(lua_State *L);

/* chunks.c. host_docall is lua_pcall with a traceback and the Ctrl-C hook; host_report prints a failure's
 * message (prefixed by host_progname) and pops it; the do* functions run and report. */
void host_message(const char *pname, const char *msg);
int host_report(lua_State *L, int status);
int host_docall(lua_State *L, int narg, int nres);
int host_dofile(lua_State *L, const char *name);
int host_dostring(lua_State *L, const char *s, const char *name);
int host_dolibrary(lua_State *L, const char *spec);
void host_createargtable(lua_State *L, char **argv, int argc, int script);
int host_handle_script(lua_State *L, char **argv);
int host_handle_luainit(lua_State *L);
void host_set_handler(int sig, void (*handler)(int), struct sigaction *old);

/* commands.c */
int host_is_command_word(const char *s);
void host_print_usage(lua_State *L);
void host_print_version(void);
int host_run_command(lua_State *L, int argc, char **argv);

/* repl.c */
void host_repl(lua_State *L);

/* repl_input.c (used by repl.c) */
extern int repl_use_readline; /* stdin is a terminal */
void repl_readline_init(void);
char *repl_tty_readline(const char *prompt, int *interrupted);
char *repl_plain_readline(const char *prompt);
void repl_history_save(const char *line);
void repl_history_finish(void);

/* repl_complete.c (used by repl_input.c and repl.c) */
extern int repl_module_ref; /* the tortuga.repl module in the registry, LUA_NOREF when it did not load */
void repl_complete_init(void);
void repl_complete_clear(void);

#endif
