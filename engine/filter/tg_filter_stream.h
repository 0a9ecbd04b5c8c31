/* tg_filter_stream.h — the filters over stacks larger than memory: slab by slab through io/tg_stream.h.
 *
 * What: tg_filter_stream runs one of tg_gaussian (and its derivatives), tg_median, tg_mean, tg_flatten, tg_destripe,
 * tg_normalize or tg_shift over a stack on disk and appends the result to a writer; tg_register_stream gives the
 * slice shifts of tg_register over a stack. Each slab is read with the halo the filter's tg_<op>_cost states (the
 * z kernel's radius for 3D Gaussian, median and mean windows; 0 for the slice-wise filters; 1 for sequential
 * registration, whose pairs reach one slice back), so every result equals the in-memory call on the whole volume
 * bit for bit (the reasons are in each filter's header under "Streaming").
 * Two-pass operations: normalize with one range for the whole stack (per_slice = 0) first finds lo and hi over the
 * stack (tg_normalize_range: 1 pass for u8/u16, 2 for i32/f32, 4 for f64), then maps each slab with that range;
 * registration in fixed mode reads the reference slice once and registers each slab's slices to it.
 * The slab height comes from the budget (opt->stream.memory, else the context's), the operation's cost and the
 * halo; the result says what was used (tg_stream_result). The writer is neither closed nor aborted here: the caller
 * closes it on success and aborts it on failure (a failed write has already removed its temporary).
 * Cost and memory: the filter's per slab (its header), plus the input slab; threading as the filter's.
 */
#ifndef TG_FILTER_STREAM_H
#define TG_FILTER_STREAM_H

#include "core/tg_core.h"
#include "filter/tg_destripe.h"
#include "filter/tg_flatten.h"
#include "filter/tg_gaussian.h"
#include "filter/tg_normalize.h"
#include "filter/tg_rank.h"
#include "filter/tg_register.h"
#include "io/tg_stack.h"
#include "io/tg_stream.h"
#include "io/tg_writer.h"

typedef enum tg_filter_kind {
    TG_FILTER_GAUSSIAN = 0, TG_FILTER_MEDIAN, TG_FILTER_MEAN, TG_FILTER_FLATTEN, TG_FILTER_DESTRIPE,
    TG_FILTER_NORMALIZE, TG_FILTER_SHIFT
} tg_filter_kind;

typedef struct tg_filter_stream_opts {
    int kind;                    /* tg_filter_kind */
    tg_gaussian_opts gaussian;
    tg_rank_opts rank;           /* median and mean */
    tg_flatten_opts flatten;
    tg_destripe_opts destripe;
    tg_normalize_opts normalize;
    tg_shift_opts shift;
    const double *shifts;        /* shift: 2 nz doubles, the whole stack's (tg_register_stream's) */
    tg_stream_opts stream;       /* budget, slab cap, the name in progress */
} tg_filter_stream_opts;

#define TG_FILTER_STREAM_OPTS_INIT { TG_FILTER_GAUSSIAN, TG_GAUSSIAN_OPTS_INIT, TG_RANK_OPTS_INIT, TG_FLATTEN_OPTS_INIT, \
    TG_DESTRIPE_OPTS_INIT, TG_NORMALIZE_OPTS_INIT, TG_SHIFT_OPTS_INIT, NULL, TG_STREAM_OPTS_INIT }

/* The filter over src, appended to out. lohi (normalize, may be NULL): 2 nz doubles (per slice) or 2 receiving the
 * ranges used. res (may be NULL): what the run used (all passes). */
tg_status tg_filter_stream(tg_ctx *ctx, tg_stack *src, const tg_filter_stream_opts *opt, tg_writer *out, double *lohi,
                           tg_stream_result *res);

/* tg_register over src (sequential mode with neighbours = 1, or fixed mode): shifts (2 nz) and quality (nz, may be
 * NULL) as tg_register gives them for the whole volume. */
tg_status tg_register_stream(tg_ctx *ctx, tg_stack *src, const tg_register_opts *opt, const tg_stream_opts *sopt,
                             double *shifts, double *quality, tg_stream_result *res);

#endif
