/* tg_flatten.c — divide each slice by its blur. The manual is at the top of tg_flatten.h. */
#include "filter/tg_flatten.h"

#include <math.h>

#include "filter/tg_gaussian.h"

#ifdef _OPENMP
#include <omp.h>
#endif

tg_status tg_flatten(tg_ctx *ctx, const tg_volume *in, const tg_flatten_opts *o, tg_volume *out)
{
    tg_status st;
    float *row = NULL;
    tg_volume blur;
    tg_volume_init(&blur);
    if (out != in) tg_volume_init(out);
    if ((st = tg_filter_check_volume(ctx, in, "filter.flatten"))) return st;
    for (int a = 0; a < 2; a++)
        if (!(o->sigma[a] > 0) || !isfinite(o->sigma[a]))
            return tg_fail(ctx, TG_ERR_ARG, "filter.flatten: sigma along %c must be a positive number, got %g",
                           "xy"[a], o->sigma[a]);
    int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2];
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    row = tg_malloc((size_t)nt * (size_t)nx * sizeof *row);
    if (!row) { st = tg_fail(ctx, TG_ERR_NOMEM, "filter.flatten: out of memory"); goto done; }
    tg_gaussian_opts g = TG_GAUSSIAN_OPTS_INIT;
    g.sigma[0] = o->sigma[0];
    g.sigma[1] = o->sigma[1];
    g.sigma[2] = 0;
    g.per_slice = 1;
    if ((st = tg_gaussian(ctx, in, &g, &blur))) goto done;
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t z = 0; z < nz; z++) {
        if (tg_cancelled(ctx)) continue;
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        tg_progress(ctx, (double)z / (double)nz, "flatten");
        float *r = row + (size_t)tid * (size_t)nx;
        double sum = 0;
        for (int64_t y = 0; y < ny; y++) {
            tg_filter_load_row(in, y, z, r);
            double s = 0;
            for (int64_t x = 0; x < nx; x++) s += r[x];
            sum += s;
        }
        double mean = sum / (double)(nx * ny), rsum = 0;
        for (int64_t y = 0; y < ny; y++) { /* ratio in / blur, then scaled so the slice keeps its mean */
            tg_filter_load_row(in, y, z, r);
            float *b = (float *)tg_volume_ptr(&blur, 0, y, z);
            double s = 0;
            for (int64_t x = 0; x < nx; x++) {
                b[x] = b[x] != 0 ? (float)((double)r[x] / (double)b[x]) : 0.0f;
                s += b[x];
            }
            rsum += s;
        }
        double scale = rsum != 0 ? mean / (rsum / (double)(nx * ny)) : 0;
        for (int64_t y = 0; y < ny; y++) {
            float *b = (float *)tg_volume_ptr(&blur, 0, y, z);
            for (int64_t x = 0; x < nx; x++) b[x] = (float)(b[x] * scale);
        }
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "filter.flatten: cancelled"); goto done; }
    tg_progress_done(ctx, "flatten");
    *out = blur;
    tg_volume_init(&blur);
done:
    tg_volume_release(&blur);
    tg_free(row);
    return st;
}
