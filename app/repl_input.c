/* repl_input.c — the REPL's lines. On a terminal: GNU readline's callback interface, so the host owns the wait for
 * input and handles signals between keys (Ctrl-C clears the line without leaving readline in a half state,
 * Ctrl-Z suspends cleanly and takes the terminal back on fg, a resize redraws), and a history file
 * (~/.tortuga_history or $TORTUGA_HISTORY, at most 1000 lines, appended as each statement is read). Without a
 * terminal (e.g. `tortuga -i < file`): plain lines of any length from stdin.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "host.h"

#define HISTORY_MAX 1000

int repl_use_readline;

static char history_path[PATH_MAX];

static void repl_history_init(void)
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
void repl_history_save(const char *line)
{
    if (!repl_use_readline || !line[0]) return;
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

void repl_history_finish(void)
{
    if (repl_use_readline && history_path[0]) history_truncate_file(history_path, HISTORY_MAX);
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
 * Ctrl-C abandoned the line. Long because the signal mask set on entry must be restored on every way out,
 * and the three signals (Ctrl-C, Ctrl-Z, resize) change readline's state in the same loop that waits for keys. */
char *repl_tty_readline(const char *prompt, int *interrupted)
{
    struct sigaction old_int, old_winch, old_tstp;
    sigset_t block, orig;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGWINCH);
    sigaddset(&block, SIGTSTP);
    sigprocmask(SIG_BLOCK, &block, &orig);
    host_set_handler(SIGINT, on_prompt_signal, &old_int);
    host_set_handler(SIGWINCH, on_prompt_signal, &old_winch);
    host_set_handler(SIGTSTP, on_prompt_signal, &old_tstp);
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
            host_set_handler(SIGTSTP, SIG_DFL, NULL);
            sigprocmask(SIG_SETMASK, &orig, NULL);
            raise(SIGTSTP);
            sigprocmask(SIG_BLOCK, &block, NULL);
            host_set_handler(SIGTSTP, on_prompt_signal, NULL);
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
char *repl_plain_readline(const char *prompt)
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


/* Set readline up for the REPL: we handle SIGINT and SIGWINCH around the wait for input; completion; history. */
void repl_readline_init(void)
{
    rl_readline_name = PROGNAME;
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    repl_complete_init();
    repl_history_init();
}
