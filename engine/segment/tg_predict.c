/* tg_predict.c — a forest over a stack of channels, slab by slab: see tg_predict.h for the manual. */
#include "segment/tg_predict.h"

tg_status tg_predict_stack(tg_ctx *ctx, const tg_forest *f, const tg_volume *const *ch, int nch,
                           const tg_features_opts *opt, int64_t slab, uint8_t *labels, float *const *prob)
{
    tg_status st;
    if ((st = tg_features_check(ctx, opt)) || (st = tg_features_check_channels(ctx, ch, nch))) return st;
    int nf = tg_features_count(opt, nch);
    if (f->nchannels && nch != f->nchannels)
        return tg_fail(ctx, TG_ERR_ARG, "segment: the forest was trained on %d channels, given %d", f->nchannels, nch);
    if (nf != f->nfeatures)
        return tg_fail(ctx, TG_ERR_ARG, "segment: the forest was trained on %d features, these options give %d",
                       f->nfeatures, nf);
    const int64_t nx = ch[0]->dims[0], ny = ch[0]->dims[1], nz = ch[0]->dims[2];
    if (slab <= 0) { /* about 512 MiB of features per slab */
        slab = (int64_t)((512.0 * 1024 * 1024) / ((double)nx * ny * nf * 4.0));
        if (slab < 1) slab = 1;
    }
    if (slab > nz) slab = nz;
    float *X = tg_malloc(sizeof(float) * (size_t)(slab * nx * ny) * (size_t)nf);
    if (!X) return tg_fail(ctx, TG_ERR_NOMEM, "segment: out of memory for a slab of %lld slices x %d features", (long long)slab, nf);
    float *pk[TG_FOREST_MAX_CLASSES];
    for (int64_t z0 = 0; st == TG_OK && z0 < nz; z0 += slab) {
        int64_t z1 = z0 + slab < nz ? z0 + slab : nz, off = z0 * nx * ny, m = (z1 - z0) * nx * ny;
        st = tg_features_slab(ctx, ch, nch, opt, z0, z1, X);
        for (int k = 0; prob && k < f->nclasses; k++) pk[k] = prob[k] + off;
        if (st == TG_OK) st = tg_forest_predict_grid(ctx, f, X, m, nf, nx, prob ? pk : NULL, labels + off);
    }
    tg_free(X);
    return st;
}
