/* tg_evaluate.c — the confusion matrix of two label volumes: see tg_evaluate.h for the manual. */
#include "segment/tg_evaluate.h"

#include <string.h>

void tg_confusion_free(tg_confusion_result *r)
{
    tg_free(r->counts);
    r->counts = NULL;
    r->n = 0;
}

/* The label values present in v into the index idx (-1 = not seen) and out->values; fails past 256 of them. */
static tg_status find_labels(tg_ctx *ctx, const tg_volume *v, int32_t *idx, tg_confusion_result *out)
{
    for (int64_t z = 0; z < v->dims[2]; z++)
        for (int64_t y = 0; y < v->dims[1]; y++)
            for (int64_t x = 0; x < v->dims[0]; x++) {
                int a = (int)tg_volume_get(v, x, y, z);
                if (idx[a] >= 0) continue;
                if (out->n == TG_CONFUSION_MAX_LABELS)
                    return tg_fail(ctx, TG_ERR_ARG, "segment.evaluate: more than %d distinct labels", TG_CONFUSION_MAX_LABELS);
                idx[a] = 0;
                out->values[out->n++] = (uint16_t)a;
            }
    return TG_OK;
}

tg_status tg_confusion(tg_ctx *ctx, const tg_volume *pred, const tg_volume *truth, tg_confusion_result *out)
{
    memset(out, 0, sizeof *out);
    const tg_volume *p = pred, *t = truth;
    if (!p || !t || !p->buf || !t->buf) return tg_fail(ctx, TG_ERR_ARG, "segment.evaluate: a volume is empty (released)");
    for (int i = 0; i < 3; i++)
        if (p->dims[i] != t->dims[i])
            return tg_fail(ctx, TG_ERR_ARG, "segment.evaluate: prediction is %dx%dx%d but truth is %dx%dx%d", (int)p->dims[0],
                           (int)p->dims[1], (int)p->dims[2], (int)t->dims[0], (int)t->dims[1], (int)t->dims[2]);
    if ((p->dtype != TG_U8 && p->dtype != TG_U16) || (t->dtype != TG_U8 && t->dtype != TG_U16))
        return tg_fail(ctx, TG_ERR_ARG, "segment.evaluate: labels must be u8 or u16 volumes (got %s and %s)",
                       tg_dtype_name(p->dtype), tg_dtype_name(t->dtype));
    tg_status st = TG_OK;
    int32_t *idx = tg_malloc(sizeof *idx * 65536);
    if (!idx) return tg_fail(ctx, TG_ERR_NOMEM, "segment.evaluate: out of memory");
    for (int i = 0; i < 65536; i++) idx[i] = -1;
    if ((st = find_labels(ctx, t, idx, out)) != TG_OK || (st = find_labels(ctx, p, idx, out)) != TG_OK) goto done;
    int n = out->n;
    for (int i = 1; i < n; i++) /* insertion sort: at most 256 values */
        for (int j = i; j > 0 && out->values[j - 1] > out->values[j]; j--) {
            uint16_t tmp = out->values[j];
            out->values[j] = out->values[j - 1];
            out->values[j - 1] = tmp;
        }
    for (int i = 0; i < n; i++) idx[out->values[i]] = i;
    if (!(out->counts = tg_calloc((size_t)n * (size_t)n, sizeof *out->counts))) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "segment.evaluate: out of memory");
        goto done;
    }
    for (int64_t z = 0; z < t->dims[2]; z++)
        for (int64_t y = 0; y < t->dims[1]; y++)
            for (int64_t x = 0; x < t->dims[0]; x++)
                out->counts[idx[(int)tg_volume_get(t, x, y, z)] * n + idx[(int)tg_volume_get(p, x, y, z)]]++;
done:
    tg_free(idx);
    if (st != TG_OK) tg_confusion_free(out);
    return st;
}
