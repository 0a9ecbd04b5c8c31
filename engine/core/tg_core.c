/* tg_core.c — status names, the operation context, throttled progress, the counting allocator.
 *
 * Allocation: every engine allocation goes through tg_malloc & co. so that tests can count live blocks
 * (tg_alloc_live) and make the Nth allocation fail on purpose (tg_alloc_fail_after) to check that every
 * error path releases what it took. The counters are the only global state of the engine; they are atomic.
 * The allocator also counts bytes: the usable size of each block (malloc_usable_size, glibc and musl; elsewhere
 * bytes are not counted and read 0), live and the peak, so streamed runs can report what they held.
 * Progress: reports are throttled to about 10 Hz and only made from OpenMP thread 0, so a callback never
 * runs concurrently with itself.
 * Memory budget: tg_memory_default() reads sysconf and the cgroup limit files once per call (a few microseconds).
 * Memory: nothing per voxel.
 */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE, clock_gettime */
#include "tg_core.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <malloc.h>
#define TG_USABLE(p) ((int64_t)malloc_usable_size(p))
#else
#define TG_USABLE(p) ((int64_t)0)
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

static atomic_long live_blocks;
static atomic_long fail_countdown; /* > 0: the allocation that brings it to 0 fails */
static atomic_llong live_bytes, peak_bytes;

/* Count a block of b bytes in (b > 0) or out (b < 0), raising the peak. */
static void count_bytes(int64_t b)
{
    long long now = atomic_fetch_add(&live_bytes, b) + b;
    long long peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now)) {
    }
}

static int should_fail(void)
{
    long n = atomic_load(&fail_countdown);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1))
            return n == 1;
    }
    return 0;
}

void *tg_malloc(size_t bytes)
{
    if (should_fail()) return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (p) { atomic_fetch_add(&live_blocks, 1); count_bytes(TG_USABLE(p)); }
    return p;
}

void *tg_calloc(size_t n, size_t size)
{
    if (should_fail()) return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p) { atomic_fetch_add(&live_blocks, 1); count_bytes(TG_USABLE(p)); }
    return p;
}

void *tg_realloc(void *p, size_t bytes)
{
    if (!p) return tg_malloc(bytes);
    if (should_fail()) return NULL;
    int64_t old = TG_USABLE(p);
    void *q = realloc(p, bytes ? bytes : 1); /* the block stays one block */
    if (q) count_bytes(TG_USABLE(q) - old);
    return q;
}

/* Large blocks (volumes): 2 MiB aligned and marked for transparent huge pages, so first touch costs one fault
 * per 2 MiB instead of one per 4 KiB (a 134 MB volume: ~0.1 s of page faults saved). Freed with tg_free. */
void *tg_malloc_large(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    if (bytes < 4 * huge) return tg_malloc(bytes);
    if (should_fail()) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, huge, bytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    atomic_fetch_add(&live_blocks, 1);
    count_bytes(TG_USABLE(p));
    return p;
}

void *tg_calloc_large(size_t bytes)
{
    if (bytes < ((size_t)8 << 20)) return tg_calloc(bytes, 1);
    void *p = tg_malloc_large(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void tg_free(void *p)
{
    if (!p) return;
    atomic_fetch_sub(&live_blocks, 1);
    count_bytes(-TG_USABLE(p));
    free(p);
}

long tg_alloc_live(void) { return atomic_load(&live_blocks); }
void tg_alloc_fail_after(long n) { atomic_store(&fail_countdown, n > 0 ? n : 0); }
int64_t tg_alloc_bytes(void) { return (int64_t)atomic_load(&live_bytes); }
int64_t tg_alloc_peak(void) { return (int64_t)atomic_load(&peak_bytes); }
void tg_alloc_peak_reset(void) { atomic_store(&peak_bytes, atomic_load(&live_bytes)); }

/* ---- the memory budget ---- */

/* The first number in a file (a cgroup limit), or -1 when the file is missing or says "max". */
static int64_t read_limit(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char buf[64] = "";
    int ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    if (!ok || !isdigit((unsigned char)buf[0])) return -1;
    return (int64_t)strtoll(buf, NULL, 10);
}

int64_t tg_memory_default(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    int64_t phys = pages > 0 && psize > 0 ? (int64_t)pages * psize : (int64_t)4 << 30;
    int64_t lim = read_limit("/sys/fs/cgroup/memory.max");
    if (lim < 0) lim = read_limit("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    if (lim > 0 && lim < phys) phys = lim;
    int64_t half = phys / 2;
    return half < ((int64_t)64 << 20) ? (int64_t)64 << 20 : half;
}

int64_t tg_memory_budget(const tg_ctx *ctx) { return ctx && ctx->memory > 0 ? ctx->memory : tg_memory_default(); }

tg_status tg_memory_parse(tg_ctx *ctx, const char *text, int64_t *bytes)
{
    static const struct { const char *name; double f; } units[] = {
        {"", 1}, {"b", 1}, {"byte", 1}, {"bytes", 1}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
        {"k", 1024.0}, {"m", 1048576.0}, {"g", 1073741824.0}, {"t", 1099511627776.0},
        {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0}, {"tib", 1099511627776.0},
    };
    char unit[8];
    size_t k = 0;
    char *end = NULL;
    double v = text ? strtod(text, &end) : NAN;
    if (!text || end == text) goto bad;
    while (*end == ' ') end++;
    while (*end && *end != ' ' && k + 1 < sizeof unit) unit[k++] = (char)tolower((unsigned char)*end++);
    unit[k] = 0;
    while (*end == ' ') end++;
    if (*end) goto bad;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].name) != 0) continue;
        double b = floor(v * units[i].f);
        if (!(b >= 1) || b > 9.2e18) {
            return tg_fail(ctx, TG_ERR_ARG, "'%s' is not a size between 1 byte and 8 EiB", text);
        }
        *bytes = (int64_t)b;
        return TG_OK;
    }
bad:
    return tg_fail(ctx, TG_ERR_ARG, "'%s' is not a size (examples: 4GB, 512MiB, 2e9 bytes)",
                   text ? text : "(null)");
}

const char *tg_memory_format(int64_t bytes, char *buf, size_t n)
{
    static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 6) { v /= 1024; u++; }
    if (u == 0) snprintf(buf, n, "%lld B", (long long)bytes);
    else snprintf(buf, n, "%.3g %s", v, names[u]);
    return buf;
}

double tg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int tg_default_threads(void)
{
#ifdef _OPENMP
    int n = omp_get_max_threads();
    return n > 0 ? n : 1;
#else
    return 1;
#endif
}

void tg_ctx_init(tg_ctx *ctx)
{
    ctx->nthreads = tg_default_threads();
    ctx->progress = NULL;
    ctx->progress_ud = NULL;
    atomic_init(&ctx->cancel, 0);
    ctx->last_report = 0.0;
    ctx->memory = 0;
    ctx->msg[0] = '\0';
}

tg_status tg_fail(tg_ctx *ctx, tg_status st, const char *fmt, ...)
{
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

const char *tg_status_name(tg_status st)
{
    switch (st) {
    case TG_OK: return "ok";
    case TG_ERR_NOMEM: return "out of memory";
    case TG_ERR_ARG: return "bad argument";
    case TG_ERR_IO: return "input/output error";
    case TG_ERR_FORMAT: return "bad file format";
    case TG_ERR_UNSUPPORTED: return "unsupported";
    case TG_ERR_RANGE: return "out of range";
    case TG_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

int tg_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int is_master(void) { return tg_thread_num() == 0; }

int tg_progress(tg_ctx *ctx, double fraction, const char *what)
{
    if (tg_cancelled(ctx)) return 1;
    if (!ctx->progress || !is_master()) return 0;
    double now = tg_now();
    if (now - ctx->last_report < 0.1) return 0;
    ctx->last_report = now;
    if (ctx->progress(ctx->progress_ud, fraction, what)) {
        atomic_store(&ctx->cancel, 1);
        return 1;
    }
    return 0;
}

void tg_progress_done(tg_ctx *ctx, const char *what)
{
    if (ctx->progress && is_master()) ctx->progress(ctx->progress_ud, 1.0, what);
}
