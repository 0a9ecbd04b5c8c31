/* tg_stream.h — the slab driver: an operation run over stacks larger than memory, slab by slab, within a budget.
 *
 * What: given source stacks of equal dims (io/tg_stack.h), the cost of an operation (tg_cost: bytes it allocates per
 * voxel of a slab, fixed bytes, and the halo h: slices of context it needs on each side along z) and a memory budget,
 * tg_stream_run picks the slab height H (central slices per slab) and, for each slab, reads slices
 * [z0 - h, z1 + h) ∩ [0, nz), calls the operation on them, and hands the central part [z0, z1) of each of its outputs
 * to a sink (writers: tg_stream_sink_writers; or the caller's reducer). The slab is read into one buffer per source,
 * allocated once: the 2h slices two neighbouring slabs share are moved, not decoded again.
 * Why the result equals the in-memory call: an operation whose kernel reaches r slices along z computes each central
 * voxel from slices within r of it; with h >= r those are all inside the slab, the true volume boundaries (z = 0, nz)
 * are slab boundaries too (so boundary rules such as reflect see the same neighbours), and the artificial slab
 * boundaries are at least h away from the central part. Operations whose arithmetic per voxel does not depend on
 * the position of the slab (no running sums started at the slab's first slice) are then bit-identical; each
 * streamable operation states so next to its tg_<op>_cost function.
 * The slab height: H = floor((budget - fixed) / (nx ny c)) - 2h with c = the sources' bytes per voxel + the
 * operation's per_voxel (+ the sink's, see tg_stream_job), at most nz and at most opt->max_slab; an error names the
 * budget and the least that works when H < 1. tg_stream_run adds to the operation's fixed bytes what reading may
 * hold (per source one page and three rows of doubles: a decoder's strip and conversion buffers) and TG_STREAM_SLACK.
 * Progress: slabs done over slabs, each slab split between reading (15 %), the operation (its own progress mapped in,
 * 75 %) and the sink (10 %); the label is "<what>|slab k/n, X Mvox/s, m:ss left" (the bar drawer splits at '|').
 * Cancel: checked between slabs and, through the same ctx, inside reads, operations and writers.
 * Result: the slab height, the number of slabs, halo, budget, the bytes planned by the cost model, the peak bytes
 * the allocator counted above what was held before the run, seconds, and central voxels per second.
 * Memory: what the cost model plans (at most the budget) — buffers of H + 2h slices per source plus the operation's.
 * Threading: the driver is sequential; the operation parallelises inside a slab.
 */
#ifndef TG_STREAM_H
#define TG_STREAM_H

#include "core/tg_core.h"
#include "core/tg_volume.h"
#include "io/tg_stack.h"
#include "io/tg_writer.h"

#define TG_STREAM_MAX_IN 16  /* sources (channels) */
#define TG_STREAM_MAX_OUT 64 /* outputs of one operation (labels + class probabilities, ...) */
#define TG_STREAM_SLACK 65536 /* bytes planned for small blocks: volume headers, the reader's and writer's state */

/* The operation on one slab. in[c] (c < nsrc): slices [s0, s1) of source c, contiguous, with the stack's spacing;
 * the central part [z0, z1) starts at slice z0 - s0 of each. It fills out[k] (k < nout) with volumes of either all
 * s1 - s0 slices (the driver keeps the central ones) or only the z1 - z0 central ones, or leaves out[k] empty (a
 * reducer that only accumulates into ud). It reports progress through ctx as a fraction of its own work. */
typedef tg_status (*tg_stream_fn)(tg_ctx *ctx, void *ud, const tg_volume *in, int64_t s0, int64_t z0, int64_t z1,
                                  tg_volume *out);
/* Where the central parts go: out[k] holds slices [z0, z0 + out[k].dims[2]) of output k (empty volumes are skipped). */
typedef tg_status (*tg_stream_sink_fn)(tg_ctx *ctx, void *ud, const tg_volume *out, int nout, int64_t z0);

typedef struct tg_stream_job {
    tg_stack *const *src;   /* nsrc stacks of equal dims */
    int nsrc;
    tg_cost cost;           /* the operation's (tg_<op>_cost) */
    double sink_per_voxel;  /* bytes the sink allocates per central voxel (a writer converting dtypes), else 0 */
    tg_stream_fn fn;
    void *fn_ud;
    int nout;               /* 0 .. TG_STREAM_MAX_OUT */
    tg_stream_sink_fn sink; /* NULL: the outputs are dropped (a reducer) */
    void *sink_ud;
} tg_stream_job;

typedef struct tg_stream_opts {
    int64_t memory;   /* the budget in bytes; 0 = tg_memory_budget(ctx) */
    int64_t max_slab; /* > 0: at most this many central slices per slab (finer progress; tests) */
    const char *what; /* the operation's name in progress and messages */
} tg_stream_opts;
#define TG_STREAM_OPTS_INIT {0, 0, "stream"}

typedef struct tg_stream_result {
    int64_t slab;       /* central slices per slab (the last may have fewer) */
    int64_t slabs;      /* slabs processed (summed over passes) */
    int64_t halo;       /* slices of context on each side */
    int64_t memory;     /* the budget */
    int64_t planned;    /* bytes the cost model plans for the largest slab */
    int64_t peak;       /* the most bytes the allocator counted above what was held before the run */
    int passes;         /* runs over the stack (two or more for normalize's global range) */
    int64_t voxels;     /* central voxels processed, all passes */
    double seconds;
    double voxels_per_second; /* central voxels processed per second, all passes */
} tg_stream_result;

/* The slab height for these dims (nx, ny, nz), bytes per voxel of the sources (in_bytes) and the operation's cost
 * (plus sink_per_voxel), within memory; *planned: the bytes it plans. TG_ERR_ARG naming the budget when even one
 * slice does not fit. */
tg_status tg_stream_plan(tg_ctx *ctx, const int64_t dims[3], double in_bytes, const tg_cost *cost, double sink_per_voxel,
                         int64_t memory, int64_t max_slab, const char *what, int64_t *slab, int64_t *planned);

/* Run job over the sources; res (may be NULL) receives what was used. */
tg_status tg_stream_run(tg_ctx *ctx, const tg_stream_job *job, const tg_stream_opts *opt, tg_stream_result *res);

/* Add a later pass's result to res: slabs, voxels, seconds and passes add up; slab, peak and planned take the larger. */
void tg_stream_result_add(tg_stream_result *res, const tg_stream_result *pass);

/* A sink that appends output k to writers[k] (ud: tg_writer *writers[nout]). */
tg_status tg_stream_sink_writers(tg_ctx *ctx, void *ud, const tg_volume *out, int nout, int64_t z0);

#endif
