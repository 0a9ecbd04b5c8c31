/* lkernel.c — tortuga.app.core: the wire side of the Jupyter messaging protocol (5.3) over ZeroMQ, for
 * app/lua/tortuga/kernel.lua, which holds the kernel's logic and does all JSON (lua-cjson).
 *
 * An application, not part of the library: this module is linked into the tortuga host and preloaded there
 * (package.preload["tortuga.app.core"]), never into tortuga.core, so `require "tortuga"` needs neither
 * ZeroMQ nor OpenSSL. It shares the host's copy of the bindings (lt_sigint_filter, lt_begin's handler).
 *
 *   local wire = require "tortuga.app.core"
 *   local k = wire.open{transport = "tcp", ip = "127.0.0.1", shell_port = , iopub_port = ,
 *                              stdin_port = , control_port = , hb_port = , key = "...",
 *                              signature_scheme = "hmac-sha256"}
 *       binds the five sockets (a failure raises, naming the channel and endpoint: "cannot bind the shell
 *       socket to tcp://127.0.0.1:5555: Address already in use"), starts the heartbeat and control threads
 *       and installs the kernel's SIGINT handler (restored by k:close()).
 *   k:recv([timeout_ms])  --> channel, msg | nil    channel is "control" or "shell" (control first);
 *       msg = {idents = {..}, header = s, parent_header = s, metadata = s, content = s, buffers = {..}}
 *       with the JSON frames as raw strings. nil on timeout, on a signal, or when a message was refused:
 *       a bad signature or a malformed frame list is reported on stderr and the message dropped.
 *   k:recv_stdin([timeout_ms]) --> msg | nil        the reply to an input_request
 *   k:send(channel, idents, header, parent_header, metadata, content)   channel "shell" | "control" |
 *       "iopub" | "stdin"; the four JSON strings are signed here.
 *   k:close()             stop the threads, close the sockets (idempotent; also on collection)
 *   wire.cell(busy)  marks an execute_request as being handled (true) or answered (false)
 *   wire.pcall(msgh, f, ...) --> true, results... | false, msgh(err)
 *       xpcall with interrupts: while f runs, SIGINT makes the next Lua instruction raise "interrupted!"
 *       (lua.c's hook), and an engine operation (lt_begin/lt_end) swaps in its own handler that sets the
 *       cancel flag, so Ctrl-C, the manager's SIGINT and an interrupt_request on the control channel all
 *       cancel the same way. An interrupt_request is carried out by the control thread itself, with no
 *       signal: it arms the Lua hook and sets the running engine operation's cancel flag directly, marks
 *       the cell interrupted (every engine operation the cell starts afterwards starts cancelled:
 *       lt_cancel_pending), and re-arms the hook every 20 ms until the cell ends (a pcall inside the cell
 *       may swallow the first error). A SIGINT (Ctrl-C, the manager's signal) does the same through the
 *       wake pipe. The interrupt belongs to one cell: wire.cell clears it, under the lock l_pcall takes
 *       before it disarms, so it can never stop the next cell. One that comes after the request's
 *       execute_input but before its code runs stops the code at its first instruction. An idle kernel
 *       ignores SIGINT.
 *   wire.sign(key, scheme, header, parent, metadata, content) --> hex signature
 *   wire.uuid() --> random (version 4) UUID;  wire.base64(s);  wire.isodate()
 *       (UTC with microseconds);  wire.exe() --> the path of the running executable | nil
 *
 * Wire format: [identities..., "<IDS|MSG>", HMAC hex, header, parent_header, metadata, content,
 * buffers...]; the HMAC (OpenSSL EVP_MAC, digest named by the scheme "hmac-<digest>") covers the four
 * JSON frames; an empty key means unsigned messages (signature ""), as the protocol says, and wire.open
 * warns on stderr that the kernel then runs unauthenticated (as jupyter_client does). Signatures are compared
 * in constant time; the signatures of the last 4096 signed messages are kept and a message that repeats one
 * (a replay) is refused, as jupyter_client's Session does with its digest_history.
 *
 * Threads: the heartbeat thread echoes every frame it receives on its ROUTER socket (so a REQ peer gets
 * its ping back) while the main thread runs a long cell. The control thread owns the control ROUTER
 * socket: it checks each message's signature, and when it is an interrupt_request it interrupts the running
 * cell at once (interrupt_now, and again until the cell ends), then passes every message to the main thread
 * through an inproc PAIR; replies come back through the same PAIR and leave by the ROUTER. Both threads
 * block all signals, so SIGINT always lands on the main thread (or an OpenMP worker, where the engine's
 * handler only sets an atomic flag). ZeroMQ sockets are used by one thread each; they are handed to their
 * thread by pthread_create (a full barrier).
 *
 * Memory: a message is received frame by frame into zmq_msg_t (at most LK_MAX_FRAMES frames; longer
 * messages are refused) and copied once into Lua strings.
 */
#define _POSIX_C_SOURCE 200809L
#include "lbind.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <zmq.h>

#define LK_KERNEL_MT "tortuga.Kernel"
#define LK_DELIM "<IDS|MSG>"
#define LK_MAX_FRAMES 64
#define LK_MAX_KEY 1024
#define LK_STOP "\x01stop"

typedef struct lk_key {
    unsigned char key[LK_MAX_KEY];
    size_t len;
    char digest[32];
    EVP_MAC *mac; /* NULL when the key is empty: messages are unsigned */
} lk_key;

typedef struct lk_kernel {
    void *zctx;
    void *shell, *iopub, *stdin_, *pair;    /* main thread */
    void *control, *ctrl_pair, *hb;         /* handed to the threads */
    pthread_t hb_thread, ctrl_thread, main_thread;
    int hb_started, ctrl_started, open, owns_pipe;
    struct sigaction old_int;
    int handler_set;
    lk_key key;
    char inproc[64];
} lk_kernel;

typedef struct lk_frames {
    zmq_msg_t f[LK_MAX_FRAMES];
    int n, overflow;
} lk_frames;

static void log_msg(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "tortuga kernel: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    fflush(stderr);
}

/* ---------------------------------------------------------------- signatures */

/* hex = HMAC(key, p[0] || p[1] || p[2] || p[3]); "" for an empty key. Returns 0 on success. */
static int sign(const lk_key *k, const void *const p[4], const size_t n[4], char hex[2 * EVP_MAX_MD_SIZE + 1])
{
    hex[0] = '\0';
    if (!k->mac) return 0;
    int rc = -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t mdlen = 0;
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(k->mac);
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)k->digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!c || !EVP_MAC_init(c, k->key, k->len, params)) goto done;
    for (int i = 0; i < 4; i++)
        if (!EVP_MAC_update(c, p[i], n[i])) goto done;
    if (!EVP_MAC_final(c, md, &mdlen, sizeof md)) goto done;
    for (size_t i = 0; i < mdlen; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    rc = 0;
done:
    EVP_MAC_CTX_free(c);
    return rc;
}

/* Set up k from the key and the scheme ("hmac-sha256"); NULL on success, else the reason. */
static const char *key_init(lk_key *k, const char *key, size_t len, const char *scheme)
{
    memset(k, 0, sizeof *k);
    if (len > LK_MAX_KEY) return "the key is longer than 1024 bytes";
    if (strncmp(scheme, "hmac-", 5) != 0 || strlen(scheme + 5) == 0 || strlen(scheme + 5) >= sizeof k->digest)
        return "signature_scheme must be hmac-<digest>, e.g. hmac-sha256";
    snprintf(k->digest, sizeof k->digest, "%s", scheme + 5);
    if (len == 0) return NULL;
    memcpy(k->key, key, len);
    k->len = len;
    k->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!k->mac) return "OpenSSL has no HMAC";
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    const void *p[4] = {"", "", "", ""};
    size_t n[4] = {0, 0, 0, 0};
    if (sign(k, p, n, hex) != 0) {
        EVP_MAC_free(k->mac);
        k->mac = NULL;
        return "unsupported signature_scheme (OpenSSL does not know its digest)";
    }
    return NULL;
}

static void key_free(lk_key *k)
{
    EVP_MAC_free(k->mac);
    k->mac = NULL;
    OPENSSL_cleanse(k->key, sizeof k->key);
}

/* ---------------------------------------------------------------- frames */

static void frames_close(lk_frames *fr)
{
    for (int i = 0; i < fr->n; i++) zmq_msg_close(&fr->f[i]);
    fr->n = 0;
}

/* Receive one multipart message (the first part may wait, per flags). -1 with errno on failure. */
static int frames_recv(void *sock, lk_frames *fr, int flags)
{
    fr->n = 0;
    fr->overflow = 0;
    for (;;) {
        zmq_msg_t extra, *m = fr->n < LK_MAX_FRAMES ? &fr->f[fr->n] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, fr->n == 0 ? flags : 0) < 0) {
            int e = errno;
            zmq_msg_close(m);
            if (e == EINTR && fr->n > 0) continue; /* the rest of a multipart message is already here */
            frames_close(fr);
            errno = e;
            return -1;
        }
        int more = zmq_msg_more(m);
        if (m == &extra) {
            zmq_msg_close(m);
            fr->overflow = 1;
        } else {
            fr->n++;
        }
        if (!more) return 0;
    }
}

static int frame_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* Index of the delimiter, when the message has the frames a Jupyter message needs; else -1. */
static int frames_delim(lk_frames *fr)
{
    if (fr->overflow) return -1;
    for (int i = 0; i < fr->n; i++)
        if (frame_is(&fr->f[i], LK_DELIM)) return i + 5 < fr->n ? i : -1;
    return -1;
}

/* The signatures of the recent signed messages (jupyter_client's Session keeps its digest_history likewise): a
 * message whose signature was seen is a replay and is dropped. A ring of LK_HISTORY signatures, shared by the shell
 * (main thread) and control (control thread) channels. */
#define LK_HISTORY 4096
static struct {
    pthread_mutex_t lock;
    char sig[LK_HISTORY][2 * EVP_MAX_MD_SIZE + 1];
    int next, used;
} history = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, 0};

/* 1 when hex was seen (a replay), else remembers it and returns 0. */
static int seen_before(const char *hex)
{
    pthread_mutex_lock(&history.lock);
    int seen = 0;
    for (int i = 0; i < history.used && !seen; i++) seen = strcmp(history.sig[i], hex) == 0;
    if (!seen) {
        memcpy(history.sig[history.next], hex, strlen(hex) + 1);
        history.next = (history.next + 1) % LK_HISTORY;
        if (history.used < LK_HISTORY) history.used++;
    }
    pthread_mutex_unlock(&history.lock);
    return seen;
}

/* Check the signature, and that it is not a replay; NULL when good, else the reason. */
static const char *frames_verify(const lk_key *k, lk_frames *fr, int d)
{
    if (d < 0) return "malformed message (no <IDS|MSG> delimiter followed by the signature and four JSON frames)";
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    const void *p[4];
    size_t n[4];
    for (int i = 0; i < 4; i++) {
        p[i] = zmq_msg_data(&fr->f[d + 2 + i]);
        n[i] = zmq_msg_size(&fr->f[d + 2 + i]);
    }
    if (sign(k, p, n, hex) != 0) return "cannot compute the HMAC";
    zmq_msg_t *s = &fr->f[d + 1];
    size_t len = strlen(hex);
    if (zmq_msg_size(s) != len || CRYPTO_memcmp(zmq_msg_data(s), hex, len) != 0) return "bad signature";
    if (k->mac && seen_before(hex)) return "a replayed message (its signature was seen before)";
    return NULL;
}

/* The value of "msg_type" in a header (enough for the control thread to spot an interrupt). */
static int header_type_is(zmq_msg_t *h, const char *type)
{
    const char *s = zmq_msg_data(h), *end = s + zmq_msg_size(h);
    static const char key[] = "\"msg_type\"";
    size_t kl = sizeof key - 1, tl = strlen(type);
    for (const char *p = s; p + kl <= end; p++) {
        if (memcmp(p, key, kl) != 0) continue;
        p += kl;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p >= end || *p++ != ':') return 0;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        return p + tl + 2 <= end && p[0] == '"' && memcmp(p + 1, type, tl) == 0 && p[tl + 1] == '"';
    }
    return 0;
}

/* Send the frames on sock (moving them). */
static int frames_send(void *sock, lk_frames *fr)
{
    int rc = 0;
    for (int i = 0; i < fr->n; i++) {
        int flags = i + 1 < fr->n ? ZMQ_SNDMORE : 0;
        while (rc == 0 && zmq_msg_send(&fr->f[i], sock, flags) < 0) {
            if (errno != EINTR) rc = -1;
        }
    }
    frames_close(fr);
    return rc;
}

static int send_part(void *sock, const void *data, size_t n, int flags)
{
    while (zmq_send(sock, data, n, flags) < 0) {
        if (errno != EINTR) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- interrupts (shared with the threads) */

static atomic_int running_cell;          /* the number of the cell being handled (cell_begin), 0 when idle */
static atomic_int interrupted_cell;      /* the cell an interrupt is pending for (0: none) */
static volatile sig_atomic_t early;      /* an interrupt arrived after cell_begin, before the code runs */
static int wake_pipe[2] = {-1, -1};      /* SIGINT -> the control thread, which keeps the interrupt going */
#define LK_RESEND_MS 20

static lua_State *volatile armed_L;      /* the state running a cell's code, NULL otherwise (under arm_lock) */
static pthread_mutex_t arm_lock = PTHREAD_MUTEX_INITIALIZER;
static void stop_hook(lua_State *L, lua_Debug *ar);

/* From the control thread: stop the code of cell `cell` if it still runs: the Lua hook raises "interrupted!" at
 * the next instruction and the running engine operation's cancel flag is set (lt_cancel_pending keeps the next
 * ones cancelled too). No signal is involved, so nothing can land in the next cell. Under arm_lock, which l_pcall
 * takes before it disarms: the hook is never set on the kernel's own code. */
static void interrupt_now(int cell)
{
    pthread_mutex_lock(&arm_lock);
    if (cell && atomic_load(&running_cell) == cell) {
        lua_State *L = armed_L;
        if (L) {
            lua_sethook(L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
            lt_cancel_running();
        } else {
            early = 1;
        }
    }
    pthread_mutex_unlock(&arm_lock);
}

/* lt_cancel_pending: an engine operation that starts in an interrupted cell starts cancelled. */
static int cell_interrupted(void)
{
    int c = atomic_load(&interrupted_cell);
    return c && c == atomic_load(&running_cell);
}

/* ---------------------------------------------------------------- threads */

static void *hb_main(void *arg)
{
    lk_kernel *k = arg;
    for (;;) { /* echo, frame by frame: a ROUTER routes the identity frame back to the sender */
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, k->hb, 0) < 0) {
            zmq_msg_close(&m);
            if (errno == EINTR) continue;
            break; /* ETERM: the context is shutting down */
        }
        int more = zmq_msg_more(&m);
        if (zmq_msg_send(&m, k->hb, more ? ZMQ_SNDMORE : 0) < 0) zmq_msg_close(&m);
    }
    zmq_close(k->hb);
    return NULL;
}

/* The control thread carries out interrupts itself (interrupt_now: the Lua hook and the engine's cancel flag,
 * directly), and keeps one going while the interrupted cell runs: a pcall in the cell may swallow the first
 * "interrupted!", so it re-arms the hook every LK_RESEND_MS until the cell ends. */
static void *ctrl_main(void *arg)
{
    lk_kernel *k = arg;
    lk_frames fr;
    int pending = 0; /* the cell being interrupted */
    for (;;) {
        zmq_pollitem_t items[3] = {{k->control, 0, ZMQ_POLLIN, 0}, {k->ctrl_pair, 0, ZMQ_POLLIN, 0},
                                   {NULL, wake_pipe[0], ZMQ_POLLIN, 0}};
        if (pending && atomic_load(&running_cell) == pending) interrupt_now(pending);
        else pending = 0;
        if (zmq_poll(items, 3, pending ? LK_RESEND_MS : -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (items[2].revents & ZMQ_POLLIN) { /* a SIGINT reached a running cell */
            char buf[64];
            while (read(wake_pipe[0], buf, sizeof buf) > 0) {}
            pending = atomic_load(&running_cell);
            interrupt_now(pending);
        }
        if (items[1].revents & ZMQ_POLLIN) { /* a reply from the main thread, or the stop signal */
            if (frames_recv(k->ctrl_pair, &fr, 0) < 0) break;
            if (fr.n == 1 && frame_is(&fr.f[0], LK_STOP)) {
                frames_close(&fr);
                break;
            }
            frames_send(k->control, &fr);
        }
        if (items[0].revents & ZMQ_POLLIN) {
            if (frames_recv(k->control, &fr, 0) < 0) break;
            int d = frames_delim(&fr);
            const char *why = frames_verify(&k->key, &fr, d);
            if (why) {
                log_msg("refused a message on the control channel: %s%s", why, "");
                frames_close(&fr);
                continue;
            }
            if (header_type_is(&fr.f[d + 2], "interrupt_request")) {
                pending = atomic_load(&running_cell);
                if (pending) atomic_store(&interrupted_cell, pending);
                interrupt_now(pending);
            }
            frames_send(k->ctrl_pair, &fr);
        }
    }
    zmq_close(k->control);
    zmq_close(k->ctrl_pair);
    return NULL;
}

/* ---------------------------------------------------------------- SIGINT */

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* Every SIGINT (Ctrl-C, the manager's signal) goes through this (lt_sigint_filter, so an engine operation's own
 * handler calls it too): a SIGINT during a cell marks the cell interrupted and wakes the control thread, which
 * keeps the interrupt going. Returns 0: the engine's handler still sets its cancel flag. Async-signal-safe. */
static int note_sigint(void)
{
    int cell = atomic_load(&running_cell);
    if (cell) {
        atomic_store(&interrupted_cell, cell);
        if (wake_pipe[1] >= 0 && write(wake_pipe[1], "i", 1) < 0) { /* full: it is awake anyway */ }
    }
    return 0;
}

static void on_sigint(int sig)
{
    (void)sig;
    int saved = errno;
    lua_State *L = armed_L;
    if (L) lua_sethook(L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
    else if (atomic_load(&running_cell)) early = 1;
    note_sigint();
    errno = saved;
}

static int l_pcall(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    int nargs = lua_gettop(L) - 2;
    pthread_mutex_lock(&arm_lock);
    lua_State *prev = armed_L;
    armed_L = L;
    if (early) lua_sethook(L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
    pthread_mutex_unlock(&arm_lock);
    int st = lua_pcall(L, nargs, LUA_MULTRET, 1);
    pthread_mutex_lock(&arm_lock); /* the control thread cannot arm the hook past this point */
    armed_L = prev;
    if (lua_gethook(L) == stop_hook) lua_sethook(L, NULL, 0, 0); /* a late interrupt must not hit the kernel */
    pthread_mutex_unlock(&arm_lock);
    lua_pushboolean(L, st == LUA_OK);
    lua_replace(L, 1);
    return lua_gettop(L);
}

/* wire.cell(true) when an execute_request starts (before its execute_input goes out), cell(false)
 * when it has been answered: an interrupt in between stops the cell's code, even before it starts. */
static int l_cell(lua_State *L)
{
    static int cells;
    pthread_mutex_lock(&arm_lock); /* with interrupt_now: an interrupt is for one cell only */
    early = 0;
    atomic_store(&interrupted_cell, 0);
    if (lua_toboolean(L, 1)) {
        if (++cells <= 0) cells = 1;
        atomic_store(&running_cell, cells);
    } else {
        atomic_store(&running_cell, 0);
    }
    pthread_mutex_unlock(&arm_lock);
    return 0;
}

/* ---------------------------------------------------------------- the kernel object */

static lk_kernel *check_kernel(lua_State *L)
{
    lk_kernel *k = luaL_checkudata(L, 1, LK_KERNEL_MT);
    if (!k->open) luaL_error(L, "the kernel connection is closed");
    return k;
}

static void zclose(void **s)
{
    if (*s) zmq_close(*s);
    *s = NULL;
}

static void kernel_close(lk_kernel *k)
{
    if (k->ctrl_started) {
        send_part(k->pair, LK_STOP, strlen(LK_STOP), 0);
        pthread_join(k->ctrl_thread, NULL);
        k->ctrl_started = 0;
        k->control = k->ctrl_pair = NULL; /* closed by the thread */
    }
    zclose(&k->shell);
    zclose(&k->iopub);
    zclose(&k->stdin_);
    zclose(&k->pair);
    zclose(&k->control);
    zclose(&k->ctrl_pair);
    if (k->zctx) zmq_ctx_shutdown(k->zctx); /* wakes the heartbeat thread with ETERM */
    if (k->hb_started) {
        pthread_join(k->hb_thread, NULL);
        k->hb_started = 0;
        k->hb = NULL;
    }
    zclose(&k->hb);
    if (k->zctx) zmq_ctx_term(k->zctx); /* waits for queued replies (linger) */
    k->zctx = NULL;
    if (k->handler_set) {
        sigaction(SIGINT, &k->old_int, NULL);
        lt_sigint_filter = NULL;
        lt_cancel_pending = NULL;
    }
    k->handler_set = 0;
    for (int i = 0; i < 2 && k->owns_pipe; i++) {
        if (wake_pipe[i] >= 0) close(wake_pipe[i]);
        wake_pipe[i] = -1;
    }
    k->owns_pipe = 0;
    key_free(&k->key);
    k->open = 0;
}

static int l_close(lua_State *L)
{
    lk_kernel *k = luaL_checkudata(L, 1, LK_KERNEL_MT);
    if (k->open || k->zctx) kernel_close(k);
    return 0;
}

static void *new_socket(lua_State *L, lk_kernel *k, int type, int linger)
{
    void *s = zmq_socket(k->zctx, type);
    if (!s) {
        kernel_close(k);
        luaL_error(L, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
    }
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    return s;
}

/* Bind s to the channel's endpoint from the connection table at index 1. */
static void bind_channel(lua_State *L, lk_kernel *k, void *s, const char *channel)
{
    const char *transport = lt_optstring(L, 1, "transport", "tcp");
    const char *ip = lt_optstring(L, 1, "ip", "127.0.0.1");
    char field[32], ep[PATH_MAX + 64];
    snprintf(field, sizeof field, "%s_port", channel);
    lua_getfield(L, 1, field);
    int isnum;
    lua_Integer port = lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    if (!isnum || port < 0 || port > 65535) {
        kernel_close(k);
        luaL_error(L, "the connection file has no valid %s (an integer 0..65535)", field);
    }
    if (strcmp(transport, "tcp") == 0) snprintf(ep, sizeof ep, "tcp://%s:%d", ip, (int)port);
    else if (strcmp(transport, "ipc") == 0) snprintf(ep, sizeof ep, "ipc://%s-%d", ip, (int)port);
    else {
        kernel_close(k);
        luaL_error(L, "unknown transport '%s' in the connection file (expected tcp or ipc)", transport);
    }
    if (zmq_bind(s, ep) != 0) {
        int e = errno;
        kernel_close(k);
        luaL_error(L, "cannot bind the %s socket to %s: %s", channel, ep, zmq_strerror(e));
    }
}

static void start_thread(lua_State *L, lk_kernel *k, pthread_t *t, void *(*fn)(void *), int *started)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread inherits a mask that blocks every signal */
    int rc = pthread_create(t, NULL, fn, k);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        kernel_close(k);
        luaL_error(L, "cannot start a kernel thread: %s", strerror(rc));
    }
    *started = 1;
}

/* wire.open{...}: the kernel object with its five channels bound, the control PAIR, the wake pipe, the two
 * threads and the SIGINT handler. Long because it is one sequence in which each step's failure must close what
 * the steps before it opened (kernel_close is idempotent and knows what is open), read top to bottom. */
static int l_open(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    size_t keylen = 0;
    lua_getfield(L, 1, "key");
    const char *key = lua_isnil(L, -1) ? "" : lua_tolstring(L, -1, &keylen);
    if (!key) return luaL_error(L, "the connection file's key must be a string");
    const char *scheme = lt_optstring(L, 1, "signature_scheme", "hmac-sha256");

    lk_kernel *k = lua_newuserdatauv(L, sizeof *k, 0);
    memset(k, 0, sizeof *k);
    luaL_setmetatable(L, LK_KERNEL_MT);
    const char *why = key_init(&k->key, key, keylen, scheme);
    if (why) return luaL_error(L, "connection file: %s", why);
    if (keylen == 0) /* as jupyter_client does: allowed by the protocol, but say what it means */
        log_msg("the connection file has an empty key: messages are NOT authenticated, and anyone who can reach "
                "its ports can run code as this user%s%s", "", "");
    k->open = 1;
    k->main_thread = pthread_self();
    k->zctx = zmq_ctx_new();
    if (!k->zctx) {
        kernel_close(k);
        return luaL_error(L, "cannot create a ZeroMQ context: %s", zmq_strerror(errno));
    }
    k->shell = new_socket(L, k, ZMQ_ROUTER, 1000);
    k->control = new_socket(L, k, ZMQ_ROUTER, 1000);
    k->stdin_ = new_socket(L, k, ZMQ_ROUTER, 0);
    k->iopub = new_socket(L, k, ZMQ_PUB, 1000);
    k->hb = new_socket(L, k, ZMQ_ROUTER, 0);
    bind_channel(L, k, k->shell, "shell");
    bind_channel(L, k, k->control, "control");
    bind_channel(L, k, k->stdin_, "stdin");
    bind_channel(L, k, k->iopub, "iopub");
    bind_channel(L, k, k->hb, "hb");
    k->pair = new_socket(L, k, ZMQ_PAIR, 1000);
    k->ctrl_pair = new_socket(L, k, ZMQ_PAIR, 1000);
    snprintf(k->inproc, sizeof k->inproc, "inproc://tortuga-control-%p", (void *)k);
    if (zmq_bind(k->pair, k->inproc) != 0 || zmq_connect(k->ctrl_pair, k->inproc) != 0) {
        int e = errno;
        kernel_close(k);
        return luaL_error(L, "cannot connect the control thread: %s", zmq_strerror(e));
    }
    if (wake_pipe[0] >= 0) {
        kernel_close(k);
        return luaL_error(L, "a kernel is already running in this process");
    }
    if (pipe(wake_pipe) != 0) {
        int e = errno;
        wake_pipe[0] = wake_pipe[1] = -1;
        kernel_close(k);
        return luaL_error(L, "cannot create a pipe: %s", strerror(e));
    }
    k->owns_pipe = 1;
    for (int i = 0; i < 2; i++) fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
    start_thread(L, k, &k->hb_thread, hb_main, &k->hb_started);
    start_thread(L, k, &k->ctrl_thread, ctrl_main, &k->ctrl_started);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &k->old_int);
    k->handler_set = 1;
    lt_sigint_filter = note_sigint;
    lt_cancel_pending = cell_interrupted;
    return 1;
}

/* Push {idents=, header=, parent_header=, metadata=, content=, buffers=} from verified frames. */
static void push_msg(lua_State *L, lk_frames *fr, int d)
{
    static const char *names[4] = {"header", "parent_header", "metadata", "content"};
    lua_createtable(L, 0, 6);
    lua_createtable(L, d, 0);
    for (int i = 0; i < d; i++) {
        lua_pushlstring(L, zmq_msg_data(&fr->f[i]), zmq_msg_size(&fr->f[i]));
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "idents");
    for (int i = 0; i < 4; i++) {
        lua_pushlstring(L, zmq_msg_data(&fr->f[d + 2 + i]), zmq_msg_size(&fr->f[d + 2 + i]));
        lua_setfield(L, -2, names[i]);
    }
    lua_createtable(L, fr->n - d - 6, 0);
    for (int i = d + 6; i < fr->n; i++) {
        lua_pushlstring(L, zmq_msg_data(&fr->f[i]), zmq_msg_size(&fr->f[i]));
        lua_rawseti(L, -2, i - d - 5);
    }
    lua_setfield(L, -2, "buffers");
}

/* Receive from sock: 1 with the message pushed, 0 when there is none (timeout, signal, refused). */
static int recv_into(lua_State *L, lk_kernel *k, void *sock, const char *channel, int verify)
{
    lk_frames fr;
    if (frames_recv(sock, &fr, ZMQ_DONTWAIT) < 0) {
        if (errno == EAGAIN || errno == EINTR) return 0;
        return luaL_error(L, "receiving on the %s channel: %s", channel, zmq_strerror(errno));
    }
    int d = frames_delim(&fr);
    const char *why = verify ? frames_verify(&k->key, &fr, d) : (d < 0 ? "malformed message" : NULL);
    if (why) {
        log_msg("refused a message on the %s channel: %s", channel, why);
        frames_close(&fr);
        return 0;
    }
    push_msg(L, &fr, d);
    frames_close(&fr);
    return 1;
}

static int poll_in(lua_State *L, zmq_pollitem_t *items, int n, long timeout)
{
    int rc = zmq_poll(items, n, timeout);
    if (rc < 0) {
        if (errno == EINTR) return 0;
        return luaL_error(L, "waiting for messages: %s", zmq_strerror(errno));
    }
    return rc;
}

static int l_recv(lua_State *L)
{
    lk_kernel *k = check_kernel(L);
    long timeout = (long)luaL_optinteger(L, 2, -1);
    zmq_pollitem_t items[2] = {{k->pair, 0, ZMQ_POLLIN, 0}, {k->shell, 0, ZMQ_POLLIN, 0}};
    if (poll_in(L, items, 2, timeout) == 0) return 0;
    if (items[0].revents & ZMQ_POLLIN) {
        lua_pushliteral(L, "control");
        return recv_into(L, k, k->pair, "control", 0) ? 2 : 0; /* checked by the control thread */
    }
    lua_pushliteral(L, "shell");
    return recv_into(L, k, k->shell, "shell", 1) ? 2 : 0;
}

static int l_recv_stdin(lua_State *L)
{
    lk_kernel *k = check_kernel(L);
    long timeout = (long)luaL_optinteger(L, 2, -1);
    zmq_pollitem_t items[1] = {{k->stdin_, 0, ZMQ_POLLIN, 0}};
    if (poll_in(L, items, 1, timeout) == 0) return 0;
    return recv_into(L, k, k->stdin_, "stdin", 1);
}

static int l_send(lua_State *L)
{
    lk_kernel *k = check_kernel(L);
    static const char *const channels[] = {"shell", "control", "iopub", "stdin", NULL};
    int ch = luaL_checkoption(L, 2, NULL, channels);
    void *sock = ch == 0 ? k->shell : ch == 1 ? k->pair : ch == 2 ? k->iopub : k->stdin_;
    if (!lua_isnil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    const void *p[4];
    size_t n[4];
    for (int i = 0; i < 4; i++) p[i] = luaL_checklstring(L, 4 + i, &n[i]);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    if (sign(&k->key, p, n, hex) != 0) return luaL_error(L, "cannot sign a message (OpenSSL HMAC failed)");
    lua_Integer nid = lua_isnil(L, 3) ? 0 : luaL_len(L, 3);
    int rc = 0;
    for (lua_Integer i = 1; i <= nid && rc == 0; i++) {
        size_t len;
        lua_geti(L, 3, i);
        const char *id = lua_tolstring(L, -1, &len);
        if (!id) return luaL_error(L, "identity %d is not a string", (int)i);
        rc = send_part(sock, id, len, ZMQ_SNDMORE);
        lua_pop(L, 1);
    }
    if (rc == 0) rc = send_part(sock, LK_DELIM, strlen(LK_DELIM), ZMQ_SNDMORE);
    if (rc == 0) rc = send_part(sock, hex, strlen(hex), ZMQ_SNDMORE);
    for (int i = 0; i < 4 && rc == 0; i++) rc = send_part(sock, p[i], n[i], i < 3 ? ZMQ_SNDMORE : 0);
    if (rc != 0) return luaL_error(L, "sending on the %s channel: %s", channels[ch], zmq_strerror(errno));
    return 0;
}

/* ---------------------------------------------------------------- helpers */

static int l_sign(lua_State *L)
{
    size_t klen;
    const char *key = luaL_checklstring(L, 1, &klen);
    const char *scheme = luaL_checkstring(L, 2);
    lk_key k;
    const char *why = key_init(&k, key, klen, scheme);
    if (why) return luaL_error(L, "%s", why);
    const void *p[4];
    size_t n[4];
    for (int i = 0; i < 4; i++) p[i] = luaL_checklstring(L, 3 + i, &n[i]);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    int rc = sign(&k, p, n, hex);
    key_free(&k);
    if (rc != 0) return luaL_error(L, "HMAC failed");
    lua_pushstring(L, hex);
    return 1;
}

static int l_uuid(lua_State *L)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) return luaL_error(L, "no random bytes from OpenSSL");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char s[37];
    snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    lua_pushstring(L, s);
    return 1;
}

static int l_base64(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (n > (size_t)INT_MAX / 4 * 3 - 3) return luaL_error(L, "base64: input too large");
    luaL_Buffer b;
    size_t out = 4 * ((n + 2) / 3);
    unsigned char *dst = (unsigned char *)luaL_buffinitsize(L, &b, out + 1);
    int len = EVP_EncodeBlock(dst, (const unsigned char *)s, (int)n);
    luaL_pushresultsize(&b, (size_t)len);
    return 1;
}

static int l_isodate(lua_State *L)
{
    struct timespec ts;
    struct tm tm;
    char s[64], day[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(s, sizeof s, "%s.%06ldZ", day, ts.tv_nsec / 1000);
    lua_pushstring(L, s);
    return 1;
}

static int l_exe(lua_State *L)
{
    char p[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", p, sizeof p - 1);
    if (n <= 0) return 0;
    lua_pushlstring(L, p, (size_t)n);
    return 1;
}

int luaopen_tortuga_app_core(lua_State *L)
{
    static const luaL_Reg methods[] = {{"recv", l_recv},   {"recv_stdin", l_recv_stdin}, {"send", l_send},
                                       {"close", l_close}, {NULL, NULL}};
    if (luaL_newmetatable(L, LK_KERNEL_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {{"open", l_open}, {"pcall", l_pcall}, {"cell", l_cell},     {"sign", l_sign},   {"uuid", l_uuid},
                                   {"base64", l_base64}, {"isodate", l_isodate}, {"exe", l_exe}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
