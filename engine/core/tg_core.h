/* tg_core.h — status codes, the operation context, allocation.
 *
 * Every engine operation has the shape
 *     tg_status tg_op(tg_ctx *ctx, const tg_volume *in, const tg_op_opts *opt, tg_volume *out);
 * The context carries the thread count, a throttled progress callback, an atomic cancel flag and the
 * message buffer of the last error. The code that detects an error writes the message with tg_fail();
 * callers only pass the status up. There is no global state except the allocation counters, which exist
 * so tests can count live blocks and fail the Nth allocation on purpose.
 *
 * Threading: tg_progress() may be called from any thread but only acts on OpenMP thread 0, throttled to
 * about 10 Hz; it returns non-zero when the operation must stop (cancel flag set or callback asked).
 * Memory: a context is a few hundred bytes; nothing per voxel.
 *
 * MEMORY BUDGET: ctx->memory is the most a streamed operation (io/tg_stream.h) may hold at once, in bytes; 0 means
 * the default, tg_memory_default(): HALF of the physical memory (sysconf), or half of the cgroup's memory limit
 * (cgroup v2 memory.max, v1 memory.limit_in_bytes) when that is lower — the other half is left to the page cache
 * that streaming reads through, to the program and to whatever else runs. Operations that hold whole volumes
 * ignore it. Each streamable operation states its cost (tg_cost: bytes per voxel of a slab, fixed bytes, halo
 * slices) in a tg_<op>_cost function next to it; the slab driver turns budget and cost into a slab height.
 * The allocator also counts bytes (live and the peak since tg_alloc_peak_reset), so a run can report and a test
 * can check what was really held; blocks that libraries allocate themselves (FFTW plans, libtiff) are not counted.
 */
#ifndef TG_CORE_H
#define TG_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#define TG_VERSION "0.1.0"

typedef enum tg_status {
    TG_OK = 0,
    TG_ERR_NOMEM,       /* an allocation failed */
    TG_ERR_ARG,         /* a bad argument: wrong dtype, dims, option value */
    TG_ERR_IO,          /* the outside world: missing file, unreadable, disk full */
    TG_ERR_FORMAT,      /* a file that is not what it claims: corrupt or truncated TIFF */
    TG_ERR_UNSUPPORTED, /* a valid input we do not handle: bit depth, sample format */
    TG_ERR_RANGE,       /* an index or range outside the data */
    TG_ERR_CANCELLED    /* the cancel flag was set or the progress callback asked to stop */
} tg_status;

/* Progress callback: fraction in [0,1], a short name of the work. Return non-zero to cancel. */
typedef int (*tg_progress_fn)(void *ud, double fraction, const char *what);

typedef struct tg_ctx {
    int nthreads;            /* >= 1 */
    tg_progress_fn progress; /* may be NULL */
    void *progress_ud;
    atomic_int cancel;       /* set from a signal handler or another thread */
    double last_report;      /* monotonic seconds of the last progress call */
    int64_t memory;          /* budget of streamed operations in bytes; 0 = tg_memory_default() */
    char msg[1024];          /* message of the last error */
} tg_ctx;

/* What a streamable operation holds while it processes a slab of nx x ny x n voxels (n = the slab's slices, halo
 * included): per_voxel * nx * ny * n + fixed bytes, and the slices of context it needs on each side along z so that
 * the slab's central part equals the in-memory result (its kernel radius along z; 0 for slice-wise operations).
 * per_voxel counts what the operation allocates (output, scratch), not the input slab, which the driver holds. */
typedef struct tg_cost {
    double per_voxel; /* bytes */
    int64_t fixed;    /* bytes, whatever the slab height: per-thread rows, kernels, tables */
    int64_t halo;     /* slices */
} tg_cost;
#define TG_COST_INIT {0.0, 0, 0}

void tg_ctx_init(tg_ctx *ctx);
/* Record the message of an error in ctx and return its status. printf-style. */
tg_status tg_fail(tg_ctx *ctx, tg_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
const char *tg_status_name(tg_status st);
/* Report progress (throttled, thread 0 only). Returns non-zero if the operation must stop. */
int tg_progress(tg_ctx *ctx, double fraction, const char *what);
/* Force a final progress report (fraction 1) regardless of throttling. */
void tg_progress_done(tg_ctx *ctx, const char *what);
static inline int tg_cancelled(tg_ctx *ctx) { return atomic_load_explicit(&ctx->cancel, memory_order_relaxed) != 0; }
/* The calling thread's number inside an OpenMP parallel region (0 outside one, or without OpenMP): the index of
 * its per-thread scratch. */
int tg_thread_num(void);
double tg_now(void); /* monotonic seconds */
int tg_default_threads(void);

/* Allocation: every engine allocation goes through these. */
void *tg_malloc(size_t bytes);
void *tg_calloc(size_t n, size_t size);
void *tg_realloc(void *p, size_t bytes);
void tg_free(void *p);
/* Blocks for large data (volumes): huge-page aligned past 8 MiB. Free with tg_free. */
void *tg_calloc_large(size_t bytes); /* zeroed */
void *tg_malloc_large(size_t bytes); /* contents undefined */
/* Test hooks: live block count, and fail the nth allocation from now (n >= 1; 0 disables). */
long tg_alloc_live(void);
void tg_alloc_fail_after(long n);
/* Bytes held by live engine blocks (their usable size), and the most held at once since the last
 * tg_alloc_peak_reset() (which sets the peak to what is live now). Process-wide, like the block count. */
int64_t tg_alloc_bytes(void);
int64_t tg_alloc_peak(void);
void tg_alloc_peak_reset(void);

/* The default budget of streamed operations: half of the physical memory, or of the cgroup limit when lower
 * (see MEMORY BUDGET above). At least 64 MiB. */
int64_t tg_memory_default(void);
/* The budget in force: ctx->memory when > 0, else tg_memory_default(). */
int64_t tg_memory_budget(const tg_ctx *ctx);
/* Parse a size: a number of bytes ("2000000000", "2e9") or a number and a unit, case-insensitive, spaces allowed:
 * B; kB, MB, GB, TB (powers of 1000); KiB, MiB, GiB, TiB and K, M, G, T (powers of 1024, as sort -S and java -Xmx).
 * The result must be at least 1 byte and fit 63 bits. On failure TG_ERR_ARG with a message naming the text. */
tg_status tg_memory_parse(tg_ctx *ctx, const char *text, int64_t *bytes);
/* "4 GiB", "512 MiB", "1.5 GiB", "800 B": bytes for people (binary units), into buf. Returns buf. */
const char *tg_memory_format(int64_t bytes, char *buf, size_t n);

#endif
