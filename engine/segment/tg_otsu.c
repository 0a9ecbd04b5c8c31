/* tg_otsu.c — multi-level Otsu. Manual in tg_otsu.h. */
#include "segment/tg_otsu.h"

#include <math.h>
#include <string.h>

tg_status tg_otsu_hist(tg_ctx *ctx, const int64_t *hist, int nbins, int classes, int *thr, double *score)
{
    if (classes < 2 || classes > TG_OTSU_MAX_CLASSES) return tg_fail(ctx, TG_ERR_ARG, "otsu: classes must be 2 or 3, got %d", classes);
    if (nbins < classes) return tg_fail(ctx, TG_ERR_ARG, "otsu: need at least %d bins, got %d", classes, nbins);
    int nonempty = 0;
    for (int i = 0; i < nbins; i++) {
        if (hist[i] < 0) return tg_fail(ctx, TG_ERR_ARG, "otsu: negative count in bin %d", i);
        nonempty += hist[i] > 0;
    }
    if (nonempty < classes)
        return tg_fail(ctx, TG_ERR_ARG, "otsu: %d classes need at least %d distinct grey levels, the histogram has %d", classes, classes, nonempty);
    double *W = tg_malloc(sizeof(double) * (size_t)(nbins + 1)), *S = tg_malloc(sizeof(double) * (size_t)(nbins + 1));
    if (!W || !S) { tg_free(W); tg_free(S); return tg_fail(ctx, TG_ERR_NOMEM, "otsu: out of memory"); }
    W[0] = S[0] = 0; /* prefix sums: W[i] = voxels in bins [0, i) */
    for (int i = 0; i < nbins; i++) { W[i + 1] = W[i] + (double)hist[i]; S[i + 1] = S[i] + (double)hist[i] * i; }
#define TERM(a, b) ((W[b] - W[a]) > 0 ? (S[b] - S[a]) * (S[b] - S[a]) / (W[b] - W[a]) : -1.0)
    double best = -INFINITY;
    if (classes == 2) {
        for (int t = 0; t + 1 < nbins; t++) {
            if (W[t + 1] <= 0 || W[nbins] - W[t + 1] <= 0) continue;
            double s = TERM(0, t + 1) + TERM(t + 1, nbins);
            if (s > best) { best = s; thr[0] = t; }
        }
    } else {
        for (int t1 = 0; t1 + 2 < nbins; t1++) {
            if (W[t1 + 1] <= 0) continue;
            double a = TERM(0, t1 + 1);
            for (int t2 = t1 + 1; t2 + 1 < nbins; t2++) {
                if (W[t2 + 1] - W[t1 + 1] <= 0 || W[nbins] - W[t2 + 1] <= 0) continue;
                double s = a + TERM(t1 + 1, t2 + 1) + TERM(t2 + 1, nbins);
                if (s > best) { best = s; thr[0] = t1; thr[1] = t2; }
            }
        }
    }
#undef TERM
    tg_free(W);
    tg_free(S);
    if (score) *score = best;
    return TG_OK;
}

tg_status tg_otsu(tg_ctx *ctx, const tg_volume *in, const tg_otsu_opts *opt, double *thresholds, tg_volume *labels,
                   tg_stats *stats)
{
    tg_otsu_opts o = TG_OTSU_OPTS_INIT;
    if (opt) o = *opt;
    if (labels) tg_volume_init(labels);
    if (stats) memset(stats, 0, sizeof *stats);
    if (!in->buf) return tg_fail(ctx, TG_ERR_ARG, "otsu: the volume is empty");
    if (o.bins < 2 || o.bins > 65536) return tg_fail(ctx, TG_ERR_ARG, "otsu: bins must be between 2 and 65536, got %d", o.bins);
    if (o.classes < 2 || o.classes > TG_OTSU_MAX_CLASSES) return tg_fail(ctx, TG_ERR_ARG, "otsu: classes must be 2 or 3, got %d", o.classes);
    tg_stats stt;
    tg_status st = tg_volume_stats(ctx, in, &stt);
    if (st != TG_OK) return st;
    if (stats) *stats = stt;
    if (stt.count == 0) return tg_fail(ctx, TG_ERR_ARG, "otsu: the volume has no finite value");
    double lo = stt.min, hi = stt.max;
    if (!(hi > lo)) return tg_fail(ctx, TG_ERR_ARG, "otsu: the volume is constant (%g): nothing to threshold", lo);
    int nb = o.bins;
    if (tg_dtype_is_int(in->dtype) && hi - lo + 1 < nb) {
        nb = (int)(hi - lo + 1);
        lo -= 0.5; /* unit bins centred on the integers */
        hi += 0.5;
    }
    if (nb < o.classes) return tg_fail(ctx, TG_ERR_ARG, "otsu: %d classes need at least %d distinct grey levels, the volume has %d", o.classes, o.classes, nb);
    int64_t *h = tg_calloc((size_t)nb, sizeof *h);
    if (!h) return tg_fail(ctx, TG_ERR_NOMEM, "otsu: out of memory");
    int thr[TG_OTSU_MAX_CLASSES - 1];
    st = tg_volume_histogram(ctx, in, nb, lo, hi, h, NULL);
    if (st == TG_OK) st = tg_otsu_hist(ctx, h, nb, o.classes, thr, NULL);
    tg_free(h);
    if (st != TG_OK) return st;
    for (int k = 0; k < o.classes - 1; k++) { /* a blend, not lo + (t + 0.5) (hi - lo) / nb: hi - lo may overflow */
        double f = (thr[k] + 0.5) / nb;
        thresholds[k] = lo * (1.0 - f) + hi * f;
    }
    if (!labels) return TG_OK;
    st = tg_volume_alloc(ctx, in->dims, TG_U8, in->spacing, labels);
    if (st != TG_OK) return st;
    const int64_t nx = in->dims[0], ny = in->dims[1], nz = in->dims[2];
    const int nt = o.classes - 1;
    #pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++) {
            uint8_t *out = tg_volume_ptr(labels, 0, y, z);
            for (int64_t x = 0; x < nx; x++) {
                double v = tg_volume_get(in, x, y, z);
                int k = 0;
                for (int j = 0; j < nt; j++) k += v > thresholds[j];
                out[x] = (uint8_t)k;
            }
        }
    return TG_OK;
}
