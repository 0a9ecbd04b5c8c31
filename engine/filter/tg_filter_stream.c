/* tg_filter_stream.c — filters over stacks, slab by slab. The manual is at the top of tg_filter_stream.h. */
#include "filter/tg_filter_stream.h"

#include <math.h>
#include <string.h>

typedef struct fjob {
    const tg_filter_stream_opts *o;
    double *lohi;                 /* normalize per slice: 2 nz */
    tg_normalize_range *range;    /* normalize, finding the global range */
} fjob;

/* One slab through the filter (out: a volume of the whole slab, halo included). */
static tg_status filter_slab(tg_ctx *ctx, void *ud, const tg_volume *in, int64_t s0, int64_t z0, int64_t z1, tg_volume *out)
{
    fjob *J = ud;
    const tg_filter_stream_opts *o = J->o;
    (void)z1;
    switch (o->kind) {
    case TG_FILTER_GAUSSIAN: return tg_gaussian(ctx, in, &o->gaussian, out);
    case TG_FILTER_MEDIAN: return tg_median(ctx, in, &o->rank, out);
    case TG_FILTER_MEAN: return tg_mean(ctx, in, &o->rank, out);
    case TG_FILTER_FLATTEN: return tg_flatten(ctx, in, &o->flatten, out);
    case TG_FILTER_DESTRIPE: return tg_destripe(ctx, in, &o->destripe, out);
    case TG_FILTER_NORMALIZE:
        if (J->range) return tg_normalize_range_add(ctx, J->range, in); /* a pass of the global range: no output */
        return tg_normalize(ctx, in, &o->normalize, out, J->lohi && o->normalize.per_slice ? J->lohi + 2 * z0 : NULL);
    case TG_FILTER_SHIFT: return tg_shift(ctx, in, o->shifts + 2 * s0, &o->shift, out);
    }
    return tg_fail(ctx, TG_ERR_ARG, "filter stream: unknown filter %d", o->kind);
}

static const char *kind_name(int k)
{
    static const char *const names[] = {"gaussian", "median", "mean", "flatten", "destripe", "normalize", "shift"};
    return k >= 0 && k <= TG_FILTER_SHIFT ? names[k] : "filter";
}

/* The filter's cost and the dtype of what it writes. */
static void filter_cost(const tg_filter_stream_opts *o, tg_dtype in, int64_t nx, int64_t ny, int nt, tg_cost *c, tg_dtype *out)
{
    *out = TG_F32;
    switch (o->kind) {
    case TG_FILTER_GAUSSIAN: tg_gaussian_cost(&o->gaussian, nx, ny, nt, c); break;
    case TG_FILTER_MEDIAN: tg_rank_cost(&o->rank, 1, in, nx, ny, nt, c); *out = in; break;
    case TG_FILTER_MEAN: tg_rank_cost(&o->rank, 0, in, nx, ny, nt, c); break;
    case TG_FILTER_FLATTEN: tg_flatten_cost(&o->flatten, nx, ny, nt, c); break;
    case TG_FILTER_DESTRIPE: tg_destripe_cost(&o->destripe, nx, ny, nt, c); break;
    case TG_FILTER_NORMALIZE:
        tg_normalize_cost(&o->normalize, in, nx, ny, nt, c);
        if (in == TG_U8 || in == TG_U16) *out = in;
        break;
    case TG_FILTER_SHIFT: tg_shift_cost(&o->shift, in, nx, ny, nt, c); *out = in; break;
    default: break;
    }
}

/* normalize with one range for the stack: the passes that find it (reducers, no output) */
static tg_status global_range(tg_ctx *ctx, tg_stack *src, fjob *J, tg_stream_opts so, double lohi[2], tg_stream_result *res)
{
    tg_status st = tg_normalize_range_new(ctx, tg_stack_info(src)->dtype, J->o->normalize.saturated, &J->range);
    if (st) return st;
    tg_stream_job job = {&src, 1, {0.0, (int64_t)(2 * 65536 * sizeof(int64_t)), 0}, 0, filter_slab, J, 0, NULL, NULL};
    so.what = "normalize range";
    int more = 1;
    for (int pass = 0; more && st == TG_OK; pass++) {
        tg_stream_result r;
        st = tg_stream_run(ctx, &job, &so, &r);
        if (st == TG_OK) {
            if (pass == 0) *res = r;
            else tg_stream_result_add(res, &r);
            more = tg_normalize_range_next(J->range);
        }
    }
    if (st == TG_OK) tg_normalize_range_result(J->range, &lohi[0], &lohi[1]);
    tg_normalize_range_free(J->range);
    J->range = NULL;
    return st;
}

tg_status tg_filter_stream(tg_ctx *ctx, tg_stack *src, const tg_filter_stream_opts *opt, tg_writer *out, double *lohi,
                           tg_stream_result *res)
{
    if (!src || !opt || !out) return tg_fail(ctx, TG_ERR_ARG, "filter stream: NULL argument");
    const tg_stack_info_t *in = tg_stack_info(src);
    tg_filter_stream_opts o = *opt;
    if (!o.stream.what || strcmp(o.stream.what, "stream") == 0) o.stream.what = kind_name(o.kind);
    if (o.kind == TG_FILTER_SHIFT && !o.shifts) return tg_fail(ctx, TG_ERR_ARG, "filter.shift: no shifts");
    fjob J = {&o, lohi, NULL};
    tg_stream_result r0, r1;
    memset(&r0, 0, sizeof r0);
    tg_status st = TG_OK;
    int first_pass = 0;
    if (o.kind == TG_FILTER_NORMALIZE && !o.normalize.per_slice && isnan(o.normalize.range[0]) &&
        isnan(o.normalize.range[1])) {
        if (!(o.normalize.saturated >= 0 && o.normalize.saturated < 100))
            return tg_fail(ctx, TG_ERR_ARG, "filter.normalize: saturated must be a percentage in [0, 100), got %g",
                           o.normalize.saturated);
        double lh[2];
        if ((st = global_range(ctx, src, &J, o.stream, lh, &r0))) return st;
        o.normalize.range[0] = lh[0];
        o.normalize.range[1] = lh[1];
        if (lohi) { lohi[0] = lh[0]; lohi[1] = lh[1]; }
        first_pass = 1; /* every value NaN: lh is NaN, NaN and each slab finds that same range again, as in memory */
    }
    tg_stream_job job;
    memset(&job, 0, sizeof job);
    tg_dtype odt;
    filter_cost(&o, in->dtype, in->dims[0], in->dims[1], ctx->nthreads, &job.cost, &odt);
    int wdt = tg_writer_dtype(out);
    if (wdt >= 0 && (tg_dtype)wdt != odt) job.sink_per_voxel = (double)tg_dtype_size((tg_dtype)wdt); /* converts */
    job.cost.fixed += tg_writer_buffer(out, in->dims[0], 1); /* the slabs' central parts are contiguous */
    job.src = &src;
    job.nsrc = 1;
    job.fn = filter_slab;
    job.fn_ud = &J;
    job.nout = 1;
    job.sink = tg_stream_sink_writers;
    job.sink_ud = &out;
    st = tg_stream_run(ctx, &job, &o.stream, &r1);
    if (st) return st;
    if (res) {
        if (first_pass) { *res = r0; tg_stream_result_add(res, &r1); }
        else *res = r1;
    }
    return TG_OK;
}

/* ---- registration ---- */

typedef struct rjob {
    const tg_register_opts *o;
    int64_t nz;
    double *pairs, *pairq;        /* sequential: 2 (nz - 1), nz - 1 */
    const tg_volume *ref;         /* fixed: the reference slice */
    double *shifts, *quality;     /* fixed: 2 nz, nz */
} rjob;

static tg_status register_slab(tg_ctx *ctx, void *ud, const tg_volume *in, int64_t s0, int64_t z0, int64_t z1, tg_volume *out)
{
    rjob *J = ud;
    (void)out;
    if (J->o->mode == TG_REGISTER_SEQUENTIAL) { /* pairs z0 .. z1 - 1, those that have a next slice */
        int64_t e = z1 < J->nz ? z1 + 1 : J->nz;
        if (e - z0 < 2) return TG_OK;
        int64_t lo[3] = {0, 0, z0 - s0}, hi[3] = {in->dims[0], in->dims[1], e - s0};
        tg_volume v;
        tg_status st = tg_volume_view(ctx, in, lo, hi, &v);
        if (st == TG_OK) st = tg_register_pairs(ctx, &v, J->o, J->pairs + 2 * z0, J->pairq + z0);
        tg_volume_release(&v);
        return st;
    }
    /* fixed: the reference slice, then the slab's, registered to slice 0 */
    int64_t n = z1 - z0, d[3] = {in->dims[0], in->dims[1], n + 1};
    tg_volume both;
    tg_status st = tg_volume_alloc_uninit(ctx, d, in->dtype, in->spacing, &both);
    double *sh = NULL, *q = NULL;
    if (st == TG_OK && (!(sh = tg_malloc((size_t)(2 * (n + 1)) * sizeof *sh)) || !(q = tg_malloc((size_t)(n + 1) * sizeof *q))))
        st = tg_fail(ctx, TG_ERR_NOMEM, "filter.register: out of memory");
    if (st == TG_OK) {
        size_t slice = (size_t)(d[0] * d[1]) * tg_dtype_size(in->dtype);
        memcpy(tg_volume_ptr(&both, 0, 0, 0), tg_volume_ptr(J->ref, 0, 0, 0), slice);
        memcpy(tg_volume_ptr(&both, 0, 0, 1), tg_volume_ptr(in, 0, 0, z0 - s0), slice * (size_t)n);
        tg_register_opts f = *J->o;
        f.reference = 0;
        st = tg_register(ctx, &both, &f, sh, q);
    }
    for (int64_t i = 0; st == TG_OK && i < n; i++) {
        int64_t z = z0 + i;
        int isref = z == J->o->reference; /* its own shift: exactly 0, quality 1, as tg_register gives it */
        J->shifts[2 * z] = isref ? 0 : sh[2 * (i + 1)];
        J->shifts[2 * z + 1] = isref ? 0 : sh[2 * (i + 1) + 1];
        J->quality[z] = isref ? 1 : q[i + 1];
    }
    tg_free(sh);
    tg_free(q);
    tg_volume_release(&both);
    return st;
}

tg_status tg_register_stream(tg_ctx *ctx, tg_stack *src, const tg_register_opts *o, const tg_stream_opts *sopt,
                             double *shifts, double *quality, tg_stream_result *res)
{
    if (!src || !o || !shifts) return tg_fail(ctx, TG_ERR_ARG, "filter.register: NULL argument");
    const tg_stack_info_t *in = tg_stack_info(src);
    int64_t nz = in->dims[2];
    if (o->mode == TG_REGISTER_SEQUENTIAL && o->neighbours != 1)
        return tg_fail(ctx, TG_ERR_UNSUPPORTED, "filter.register: a stack on disk is registered with neighbours = 1 "
                       "(sequential) or in fixed mode");
    if (o->reference < 0 || o->reference >= nz)
        return tg_fail(ctx, TG_ERR_RANGE, "filter.register: reference slice %lld is outside 0..%lld",
                       (long long)o->reference, (long long)nz - 1);
    tg_stream_opts so = sopt ? *sopt : (tg_stream_opts)TG_STREAM_OPTS_INIT;
    if (!so.what || strcmp(so.what, "stream") == 0) so.what = "register";
    rjob J = {o, nz, NULL, NULL, NULL, shifts, NULL};
    tg_volume ref;
    tg_volume_init(&ref);
    double *qbuf = NULL;
    tg_status st = TG_OK;
    tg_stream_job job;
    memset(&job, 0, sizeof job);
    tg_register_cost(o, in->dims[0], in->dims[1], ctx->nthreads, &job.cost);
    if (!(qbuf = tg_malloc((size_t)(3 * nz) * sizeof *qbuf))) return tg_fail(ctx, TG_ERR_NOMEM, "filter.register: out of memory");
    if (o->mode == TG_REGISTER_SEQUENTIAL) {
        J.pairs = qbuf;
        J.pairq = qbuf + 2 * nz;
    } else {
        J.quality = qbuf;
        /* the slab's copy with the reference in front; the reference slice itself */
        job.cost.per_voxel += (double)tg_dtype_size(in->dtype);
        job.cost.fixed += (int64_t)(2 * in->dims[0] * in->dims[1] * (int64_t)tg_dtype_size(in->dtype));
        st = tg_stack_read(ctx, src, o->reference, o->reference + 1, &ref);
        J.ref = &ref;
    }
    job.src = &src;
    job.nsrc = 1;
    job.fn = register_slab;
    job.fn_ud = &J;
    if (st == TG_OK) st = tg_stream_run(ctx, &job, &so, res);
    if (st == TG_OK) {
        if (o->mode == TG_REGISTER_SEQUENTIAL) {
            tg_register_chain(nz, o->reference, J.pairs, J.pairq, shifts, J.pairq);
            if (quality) memcpy(quality, J.pairq, (size_t)nz * sizeof *quality);
        } else if (quality) {
            memcpy(quality, J.quality, (size_t)nz * sizeof *quality);
        }
    }
    tg_volume_release(&ref);
    tg_free(qbuf);
    return st;
}
