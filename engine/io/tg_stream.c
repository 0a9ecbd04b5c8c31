/* tg_stream.c — the slab driver. The manual is at the top of tg_stream.h. */
#include "io/tg_stream.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Progress across slabs: the driver puts itself between the operations and the caller's callback. */
typedef struct stream_progress {
    tg_progress_fn fn; /* the caller's */
    void *ud;
    const char *what;
    int64_t slab, slabs;   /* the slab being processed, 0-based, and the count */
    double lo, hi;         /* the current phase's share of the slab */
    double t0;
    int64_t voxels_done, voxels_total;
    char label[160];
} stream_progress;

static void format_time(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 359999) snprintf(buf, n, "--:--");
    else if (s >= 3600) snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
    else snprintf(buf, n, "%d:%02d", (int)s / 60, (int)s % 60);
}

static int on_progress(void *ud, double f, const char *what)
{
    (void)what;
    stream_progress *p = ud;
    if (!p->fn) return 0;
    double frac = ((double)p->slab + p->lo + (p->hi - p->lo) * (f < 0 ? 0 : f > 1 ? 1 : f)) / (double)p->slabs;
    double el = tg_now() - p->t0, vps = el > 0 ? (double)p->voxels_done / el : 0;
    char left[24];
    format_time(frac > 0.001 ? el / frac * (1 - frac) : -1, left, sizeof left);
    snprintf(p->label, sizeof p->label, "%s|slab %lld/%lld, %.3g Mvox/s, %s left", p->what,
             (long long)(p->slab < p->slabs ? p->slab + 1 : p->slabs), (long long)p->slabs, vps / 1e6, left);
    return p->fn(p->ud, frac, p->label);
}

static void phase(stream_progress *p, double lo, double hi)
{
    p->lo = lo;
    p->hi = hi;
}

tg_status tg_stream_plan(tg_ctx *ctx, const int64_t dims[3], double in_bytes, const tg_cost *cost, double sink_per_voxel,
                         int64_t memory, int64_t max_slab, const char *what, int64_t *slab, int64_t *planned)
{
    double plane = (double)dims[0] * (double)dims[1];
    double c = in_bytes + cost->per_voxel + sink_per_voxel; /* per voxel of a slab, halo included */
    int64_t h = cost->halo, nz = dims[2];
    double room = (double)memory - (double)cost->fixed;
    double fit = room > 0 ? floor(room / (plane * c)) : 0; /* slices, halo included */
    int64_t H = fit > 4e18 ? (int64_t)4e18 : (int64_t)fit - 2 * h;
    if (H >= nz) H = nz; /* one slab: nothing to gain from more */
    if (max_slab > 0 && H > max_slab) H = max_slab;
    if (H < 1) {
        char have[32], need[32];
        double least = (double)cost->fixed + plane * c * (double)(1 + 2 * h < nz ? 1 + 2 * h : nz);
        tg_memory_format(memory, have, sizeof have);
        tg_memory_format((int64_t)ceil(least), need, sizeof need);
        return tg_fail(ctx, TG_ERR_ARG, "%s: a memory budget of %s cannot hold one slab (%lldx%lld slices, %.3g bytes per "
                       "voxel, a halo of %lld slices on each side): allow at least %s", what, have,
                       (long long)dims[0], (long long)dims[1], c, (long long)h, need);
    }
    int64_t held = H + 2 * h < nz ? H + 2 * h : nz;
    *slab = H;
    *planned = (int64_t)ceil((double)cost->fixed + plane * c * (double)held);
    return TG_OK;
}

/* Move the slices [keep0, keep1) that the previous slab [p0, p1) already holds to their place in slab [s0, s1), and
 * read the others. The buffers hold slabs from their slice 0. */
static tg_status load_slab(tg_ctx *ctx, const tg_stream_job *job, tg_volume *buf, int64_t p0, int64_t p1, int64_t s0,
                           int64_t s1)
{
    int64_t keep0 = s0 > p0 ? s0 : p0, keep1 = s1 < p1 ? s1 : p1;
    tg_status st = TG_OK;
    for (int c = 0; c < job->nsrc && st == TG_OK; c++) {
        size_t slice = (size_t)(buf[c].dims[0] * buf[c].dims[1]) * tg_dtype_size(buf[c].dtype);
        char *base = (char *)tg_volume_ptr(&buf[c], 0, 0, 0);
        if (keep1 > keep0) {
            memmove(base + (size_t)(keep0 - s0) * slice, base + (size_t)(keep0 - p0) * slice, (size_t)(keep1 - keep0) * slice);
            if (keep0 > s0) st = tg_stack_read_into(ctx, job->src[c], s0, keep0, &buf[c], 0);
            if (st == TG_OK && s1 > keep1) st = tg_stack_read_into(ctx, job->src[c], keep1, s1, &buf[c], keep1 - s0);
        } else {
            st = tg_stack_read_into(ctx, job->src[c], s0, s1, &buf[c], 0);
        }
    }
    return st;
}

/* The central slices [z0, z1) of an output that holds either the slab [s0, s1) or only the central part. */
static tg_status central(tg_ctx *ctx, const char *what, const tg_volume *o, int64_t s0, int64_t s1, int64_t z0, int64_t z1,
                         tg_volume *out)
{
    tg_volume_init(out);
    if (!o->buf) return TG_OK;
    if (o->dims[2] == z1 - z0) {
        tg_volume_ref(o, out);
        return TG_OK;
    }
    if (o->dims[2] != s1 - s0)
        return tg_fail(ctx, TG_ERR_ARG, "%s: the operation returned %lld slices for a slab of %lld (central %lld)", what,
                       (long long)o->dims[2], (long long)(s1 - s0), (long long)(z1 - z0));
    int64_t lo[3] = {0, 0, z0 - s0}, hi[3] = {o->dims[0], o->dims[1], z1 - s0};
    return tg_volume_view(ctx, o, lo, hi, out);
}

static tg_status check_job(tg_ctx *ctx, const tg_stream_job *job, const char *what)
{
    if (!job || !job->src || job->nsrc < 1 || job->nsrc > TG_STREAM_MAX_IN || !job->fn || job->nout < 0 ||
        job->nout > TG_STREAM_MAX_OUT || job->cost.halo < 0 || !(job->cost.per_voxel >= 0) || job->cost.fixed < 0)
        return tg_fail(ctx, TG_ERR_ARG, "%s: an incomplete streaming job", what);
    const tg_stack_info_t *a = tg_stack_info(job->src[0]);
    for (int c = 1; c < job->nsrc; c++) {
        const tg_stack_info_t *b = tg_stack_info(job->src[c]);
        if (b->dims[0] != a->dims[0] || b->dims[1] != a->dims[1] || b->dims[2] != a->dims[2])
            return tg_fail(ctx, TG_ERR_ARG, "%s: %s is %lldx%lldx%lld but %s is %lldx%lldx%lld", what, b->path,
                           (long long)b->dims[0], (long long)b->dims[1], (long long)b->dims[2], a->path,
                           (long long)a->dims[0], (long long)a->dims[1], (long long)a->dims[2]);
    }
    return TG_OK;
}

/* Why long: the slab loop owns the buffers, the progress hook and the outputs of each slab, all released at one exit. */
tg_status tg_stream_run(tg_ctx *ctx, const tg_stream_job *job, const tg_stream_opts *opt, tg_stream_result *res)
{
    tg_stream_opts def = TG_STREAM_OPTS_INIT;
    if (!opt) opt = &def;
    const char *what = opt->what ? opt->what : "stream";
    tg_status st = check_job(ctx, job, what);
    if (st) return st;
    const tg_stack_info_t *info = tg_stack_info(job->src[0]);
    int64_t nx = info->dims[0], ny = info->dims[1], nz = info->dims[2], h = job->cost.halo;
    double in_bytes = 0;
    for (int c = 0; c < job->nsrc; c++) in_bytes += (double)tg_dtype_size(tg_stack_info(job->src[c])->dtype);
    int64_t memory = opt->memory > 0 ? opt->memory : tg_memory_budget(ctx), H, planned;
    /* what the driver itself may hold besides the slab buffers: a decoder's strip buffer and rows of doubles per
     * source (at most a page each), and the small blocks (volume headers, writer state) */
    tg_cost cost = job->cost;
    for (int c = 0; c < job->nsrc; c++)
        cost.fixed += nx * ny * (int64_t)tg_dtype_size(tg_stack_info(job->src[c])->dtype) + 3 * nx * (int64_t)sizeof(double);
    cost.fixed += TG_STREAM_SLACK;
    if ((st = tg_stream_plan(ctx, info->dims, in_bytes, &cost, job->sink_per_voxel, memory, opt->max_slab, what, &H, &planned)))
        return st;
    int64_t slabs = (nz + H - 1) / H;
    int64_t base = tg_alloc_bytes();
    tg_alloc_peak_reset();
    stream_progress pr = {ctx->progress, ctx->progress_ud, what, 0, slabs, 0, 0, tg_now(), 0, nx * ny * nz, ""};
    ctx->progress = on_progress;
    ctx->progress_ud = &pr;
    tg_volume buf[TG_STREAM_MAX_IN], out[TG_STREAM_MAX_OUT], cen[TG_STREAM_MAX_OUT];
    for (int c = 0; c < TG_STREAM_MAX_IN; c++) tg_volume_init(&buf[c]);
    for (int k = 0; k < TG_STREAM_MAX_OUT; k++) { tg_volume_init(&out[k]); tg_volume_init(&cen[k]); }
    for (int c = 0; c < job->nsrc && st == TG_OK; c++) {
        const tg_stack_info_t *in = tg_stack_info(job->src[c]);
        int64_t d[3] = {nx, ny, H + 2 * h < nz ? H + 2 * h : nz};
        st = tg_volume_alloc_uninit(ctx, d, in->dtype, in->spacing, &buf[c]);
    }
    int64_t p0 = 0, p1 = 0; /* the slices the buffers hold */
    for (int64_t k = 0; k < slabs && st == TG_OK; k++) {
        int64_t z0 = k * H, z1 = z0 + H < nz ? z0 + H : nz, s0 = z0 - h > 0 ? z0 - h : 0, s1 = z1 + h < nz ? z1 + h : nz;
        tg_volume in[TG_STREAM_MAX_IN];
        pr.slab = k;
        phase(&pr, 0, 0.15);
        if ((st = load_slab(ctx, job, buf, p0, p1, s0, s1))) break;
        p0 = s0;
        p1 = s1;
        for (int c = 0; c < job->nsrc; c++) {
            in[c] = buf[c]; /* the first s1 - s0 slices of the buffer, as a plain header (no new reference) */
            in[c].dims[2] = s1 - s0;
        }
        phase(&pr, 0.15, 0.9);
        if ((st = job->fn(ctx, job->fn_ud, in, s0, z0, z1, out))) break;
        for (int j = 0; j < job->nout && st == TG_OK; j++) st = central(ctx, what, &out[j], s0, s1, z0, z1, &cen[j]);
        phase(&pr, 0.9, 1.0);
        if (st == TG_OK && job->sink) st = job->sink(ctx, job->sink_ud, cen, job->nout, z0);
        for (int j = 0; j < job->nout; j++) { tg_volume_release(&cen[j]); tg_volume_release(&out[j]); }
        pr.voxels_done += nx * ny * (z1 - z0);
        if (st == TG_OK && (tg_cancelled(ctx) || tg_progress(ctx, 1.0, what)))
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: cancelled after %lld of %lld slabs", what, (long long)k + 1,
                         (long long)slabs);
    }
    ctx->progress = pr.fn;
    ctx->progress_ud = pr.ud;
    for (int c = 0; c < TG_STREAM_MAX_IN; c++) tg_volume_release(&buf[c]);
    for (int j = 0; j < TG_STREAM_MAX_OUT; j++) { tg_volume_release(&cen[j]); tg_volume_release(&out[j]); }
    if (st == TG_OK && res) {
        memset(res, 0, sizeof *res);
        res->slab = H;
        res->slabs = slabs;
        res->halo = h;
        res->memory = memory;
        res->planned = planned;
        res->peak = tg_alloc_peak() - base;
        res->passes = 1;
        res->voxels = nx * ny * nz;
        res->seconds = tg_now() - pr.t0;
        res->voxels_per_second = res->seconds > 0 ? (double)res->voxels / res->seconds : 0;
    }
    return st;
}

void tg_stream_result_add(tg_stream_result *res, const tg_stream_result *pass)
{
    if (pass->slab > res->slab) res->slab = pass->slab;
    if (pass->halo > res->halo) res->halo = pass->halo;
    if (pass->planned > res->planned) res->planned = pass->planned;
    if (pass->peak > res->peak) res->peak = pass->peak;
    if (pass->memory > res->memory) res->memory = pass->memory;
    res->slabs += pass->slabs;
    res->passes += pass->passes;
    res->voxels += pass->voxels;
    res->seconds += pass->seconds;
    res->voxels_per_second = res->seconds > 0 ? (double)res->voxels / res->seconds : 0;
}

tg_status tg_stream_sink_writers(tg_ctx *ctx, void *ud, const tg_volume *out, int nout, int64_t z0)
{
    (void)z0;
    tg_writer **w = ud;
    for (int k = 0; k < nout; k++) {
        if (!out[k].buf || !w[k]) continue;
        tg_status st = tg_writer_write(ctx, w[k], &out[k]);
        if (st) return st;
    }
    return TG_OK;
}
