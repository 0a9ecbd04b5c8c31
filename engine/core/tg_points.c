/* tg_points.c — the non-zero voxels of a volume as a point list: see tg_points.h for the manual. */
#include "core/tg_points.h"

void tg_points_init(tg_points *p, int with_values)
{
    p->n = 0;
    p->xyz = NULL;
    p->value = NULL;
    p->with_values = with_values;
}

void tg_points_free(tg_points *p)
{
    tg_free(p->xyz);
    tg_free(p->value);
    tg_points_init(p, p->with_values);
}

/* Non-zero voxels of v (one pass, any dtype). */
static int64_t count_nonzero(const tg_volume *v)
{
    int64_t n = 0;
    for (int64_t z = 0; z < v->dims[2]; z++)
        for (int64_t y = 0; y < v->dims[1]; y++)
            for (int64_t x = 0; x < v->dims[0]; x++) n += tg_volume_get(v, x, y, z) != 0;
    return n;
}

tg_status tg_points_add(tg_ctx *ctx, tg_points *p, const tg_volume *v, int64_t z0)
{
    if (!v || !v->buf) return tg_fail(ctx, TG_ERR_ARG, "points: the volume is empty (released)");
    if (p->with_values && !tg_dtype_is_int(v->dtype))
        return tg_fail(ctx, TG_ERR_ARG, "points: values are kept for integer volumes only, got %s", tg_dtype_name(v->dtype));
    int64_t add = count_nonzero(v), n = p->n + add;
    if (add == 0) return TG_OK;
    int64_t *xyz = tg_realloc(p->xyz, sizeof *xyz * 3 * (size_t)n);
    if (!xyz) return tg_fail(ctx, TG_ERR_NOMEM, "points: out of memory for %lld points", (long long)n);
    p->xyz = xyz;
    if (p->with_values) {
        int32_t *val = tg_realloc(p->value, sizeof *val * (size_t)n);
        if (!val) return tg_fail(ctx, TG_ERR_NOMEM, "points: out of memory for %lld points", (long long)n);
        p->value = val;
    }
    int64_t k = p->n;
    for (int64_t z = 0; z < v->dims[2]; z++)
        for (int64_t y = 0; y < v->dims[1]; y++)
            for (int64_t x = 0; x < v->dims[0]; x++) {
                double a = tg_volume_get(v, x, y, z);
                if (a == 0) continue;
                xyz[3 * k] = x;
                xyz[3 * k + 1] = y;
                xyz[3 * k + 2] = z + z0;
                if (p->with_values) p->value[k] = (int32_t)a;
                k++;
            }
    p->n = n;
    return TG_OK;
}
