/* tg_measure_stream.h — the measures of a label stack larger than memory, in one pass over its slabs within the
 * memory budget: what tg.measure and tg.describe compute on a tortuga.Stack.
 *
 * What, in one pass over the stack (io/tg_stack.h; each slice decoded once per pass), any of:
 *   counts    the voxels of every label present (volume fractions), 64-bit;
 *   profile   the voxels of every label at each position along x, y or z (PoreSpy's porosity_profile);
 *   sha256    the SHA-256 of the voxels in x-fastest order (the in-memory volume's v:sha256());
 *   surfaces  phase and interface areas, triple-phase boundary (measure/tg_surfaces.h, up to 4 option sets, e.g.
 *             the open and closed conventions);
 *   chords    chord counts by length of a phase along an axis (measure/tg_chords.h, up to 48 (phase, axis) pairs);
 *   components  components of a phase (or of the nonzero voxels) with 6/18/26 connectivity: their number, sizes in
 *             scipy's order and the faces each touches, hence the percolation along every axis (core/tg_components.h,
 *             measure/tg_percolation.h; up to 8 option sets).
 * Every number equals the in-memory call on the whole volume: counts and chord counts are the same integers,
 * surfaces are built from the same integer histograms and per-layer sums (bit-identical areas), components are the
 * same partition with the same numbering (the file headers of the parts say why).
 *
 * Slabs: the central slices [z0, z1) of slab k are [k H, min((k + 1) H, nz)); a slab is read with the context the
 * surfaces need, lo slices below and hi above (binary surfaces: 0 and 1 — marching cubes over slabs that overlap by
 * one slice; smoothed: 1 and 2; none: 0 and 0). Slices two neighbouring slabs share are moved in the buffer, not
 * decoded again. Counts, chords and components see the central slices only.
 * The slab height H: with c_in the bytes per voxel of the stack's type, c_op the largest per-voxel cost of the parts
 * (each part frees its scratch before the next runs; components: tg_components_stream_cost, the others nothing) and
 * F the parts' fixed costs (tg_<part>_stream_cost) plus the count tables (per thread, 8 bytes per position of the
 * profile and label, planned for 16 labels),
 *     H = floor(((budget - F) / (nx ny) - (lo + hi) c_in) / (c_in + c_op)),  at most nz and at most max_slab;
 * an error names the budget and the least that works when H < 1. The budget is ctx's (tg_memory_budget) unless
 * opt->memory is set. Grows beyond the plan, and is reported in `peak`: the count tables past 16 labels and the
 * components' provisional labels (17 bytes per piece of a component in one slab).
 * Passes: one; a second only when closed smoothed surfaces find a set whose largest 7-cross count is below 7
 * (tg_surfaces_acc_next_pass): then only those surfaces are computed again.
 * Progress: slabs done over slabs (each slab's reading and parts mapped into its share), labelled
 * "<what>|slab k/n, X Mvox/s, m:ss left" (the bar drawer shows the part after '|' beside the bar). Cancel: checked
 * between slabs and inside reads and parts, through the same ctx.
 * Memory: what the plan says (at most the budget) plus the growth above; the slab buffer is (H + lo + hi) nx ny c_in.
 * Threading: the parts parallelise inside a slab (OpenMP, ctx->nthreads); counts use per-thread integer tables;
 * results do not depend on the thread count.
 */
#ifndef TG_MEASURE_STREAM_H
#define TG_MEASURE_STREAM_H

#include "core/tg_components.h"
#include "core/tg_core.h"
#include "core/tg_sha256.h"
#include "io/tg_stack.h"
#include "measure/tg_chords.h"
#include "measure/tg_surfaces.h"

#define TG_MS_MAX_SURFACES 4
#define TG_MS_MAX_CHORDS 48
#define TG_MS_MAX_COMPONENTS 8

typedef struct tg_measure_stream_opts {
    int64_t memory;   /* the budget in bytes; 0 = tg_memory_budget(ctx) */
    int64_t max_slab; /* > 0: at most this many central slices per slab (tests, finer progress) */
    int counts;       /* voxels of every label */
    int profile;      /* -1: none; 0, 1, 2: counts at each position along x, y or z (implies counts) */
    int sha256;
    int nsurfaces;
    tg_surfaces_opts surfaces[TG_MS_MAX_SURFACES];
    int nchords;
    tg_chords_opts chords[TG_MS_MAX_CHORDS];
    int ncomponents;
    tg_components_opts components[TG_MS_MAX_COMPONENTS];
    const char *what; /* the name in progress labels and messages */
    double spacing[3]; /* > 0: the voxel size (m) to measure with instead of the stack's (all three, or none) */
} tg_measure_stream_opts;
#define TG_MEASURE_STREAM_OPTS_INIT {0, 0, 0, -1, 0, 0, {{0}}, 0, {{0}}, 0, {{0}}, "measure", {0, 0, 0}}

typedef struct tg_measure_stream_result {
    int64_t dims[3];
    int64_t total;          /* voxels */
    int64_t nlabels;        /* counts: the labels present, ascending, and their voxels */
    int64_t *labels;
    int64_t *counts;
    int profile;            /* the axis of the profile, or -1 */
    int64_t npos;           /* positions along it */
    int64_t *profile_counts;/* npos x nlabels: voxels of label j at position i at [i * nlabels + j] */
    char sha256[TG_SHA256_HEX];
    tg_surfaces_result surfaces[TG_MS_MAX_SURFACES];
    tg_chords_counts chords[TG_MS_MAX_CHORDS];
    tg_components_totals components[TG_MS_MAX_COMPONENTS];
    /* what was used */
    int64_t slab;           /* central slices per slab (the last may have fewer) */
    int64_t slabs;          /* slabs read, all passes */
    int64_t halo_lo, halo_hi;
    int64_t memory;         /* the budget */
    int64_t planned;        /* bytes the plan holds for the largest slab */
    int64_t peak;           /* the most bytes the allocator counted above what was held before the run */
    int passes;
    double seconds;
    double voxels_per_second; /* central voxels per second, all passes */
} tg_measure_stream_result;

/* The plan for a stack of dims and dtype: the slab height and the bytes it holds (*planned), halo in *lo, *hi.
 * TG_ERR_ARG naming the budget when not even one slice fits. */
tg_status tg_measure_stream_plan(tg_ctx *ctx, const int64_t dims[3], tg_dtype dtype, const tg_measure_stream_opts *opt,
                                 int64_t *slab, int64_t *planned, int64_t *lo, int64_t *hi);

/* Measure the label stack st (u8, u16 or i32). On failure res is released. */
tg_status tg_measure_stream(tg_ctx *ctx, tg_stack *st, const tg_measure_stream_opts *opt, tg_measure_stream_result *res);
void tg_measure_stream_result_free(tg_measure_stream_result *res);

#endif
