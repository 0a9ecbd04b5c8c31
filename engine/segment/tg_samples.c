/* tg_samples.c — training samples of the forest from scribbles: see tg_samples.h for the manual. */
#include "segment/tg_samples.h"

#include "segment/tg_forest.h"

/* lookup[v] = the class of label value v (0..255), or -1. Fails on a bad class list. */
static tg_status class_lookup(tg_ctx *ctx, const int32_t *values, int K, int16_t lookup[256])
{
    if (K < 0 || K > TG_FOREST_MAX_CLASSES)
        return tg_fail(ctx, TG_ERR_ARG, "segment: at most %d classes, got %d", TG_FOREST_MAX_CLASSES, K);
    for (int i = 0; i < 256; i++) lookup[i] = -1;
    for (int k = 0; k < K; k++) {
        if (values[k] < 1 || values[k] > 255) return tg_fail(ctx, TG_ERR_ARG, "segment: class label %d outside 1..255", (int)values[k]);
        if (lookup[values[k]] >= 0) return tg_fail(ctx, TG_ERR_ARG, "segment: class label %d listed twice", (int)values[k]);
        lookup[values[k]] = (int16_t)k;
    }
    return TG_OK;
}

tg_status tg_samples_classes(tg_ctx *ctx, const tg_points *p, const int32_t *values, int K, uint8_t *y, int64_t *counts)
{
    int16_t lookup[256];
    tg_status st = class_lookup(ctx, values, K, lookup);
    if (st != TG_OK) return st;
    if (!p->value && p->n > 0) return tg_fail(ctx, TG_ERR_ARG, "segment: the scribble points carry no labels");
    for (int64_t i = 0; i < p->n; i++) {
        int32_t v = p->value[i];
        if (v < 0 || v > 255 || lookup[v] < 0)
            return tg_fail(ctx, TG_ERR_ARG, "segment: scribble label %d at (%lld, %lld, %lld) is not in the class list", (int)v,
                           (long long)p->xyz[3 * i] + 1, (long long)p->xyz[3 * i + 1] + 1, (long long)p->xyz[3 * i + 2] + 1);
        y[i] = (uint8_t)lookup[v];
        counts[lookup[v]]++;
    }
    return TG_OK;
}

tg_status tg_samples_check(tg_ctx *ctx, const int64_t *counts, const int32_t *values, int K)
{
    int64_t n = 0;
    int seen = 0, one = -1, missing = -1;
    for (int k = 0; k < K; k++) {
        n += counts[k];
        if (counts[k] > 0) seen++, one = k;
        else if (missing < 0) missing = k;
    }
    if (n == 0) return tg_fail(ctx, TG_ERR_ARG, "segment: the scribbles have no labelled voxel (0 = unlabelled)");
    if (seen < 2)
        return tg_fail(ctx, TG_ERR_ARG, "segment: the scribbles label only one class (%d); a forest needs at least two",
                       (int)values[one]);
    if (missing >= 0)
        return tg_fail(ctx, TG_ERR_ARG, "segment: class %d has no labelled voxel in the scribbles", (int)values[missing]);
    return TG_OK;
}

tg_status tg_samples_rows(tg_ctx *ctx, const tg_volume *labels, const int32_t *values, int K, uint8_t *y)
{
    int16_t lookup[256];
    tg_status st = class_lookup(ctx, values, K, lookup);
    if (st != TG_OK) return st;
    if (!labels || !labels->buf || labels->dtype != TG_U8 || !tg_volume_is_contiguous(labels))
        return tg_fail(ctx, TG_ERR_ARG, "segment: y must be a contiguous u8 volume with one label per row");
    const uint8_t *lab = (const uint8_t *)labels->buf->data + labels->offset;
    int64_t rows = tg_volume_count(labels);
    for (int64_t i = 0; i < rows; i++) {
        if (lookup[lab[i]] < 0)
            return tg_fail(ctx, TG_ERR_ARG, "segment: label %d of row %lld is not in the class list", lab[i], (long long)i + 1);
        y[i] = (uint8_t)lookup[lab[i]];
    }
    return TG_OK;
}
