/* tg_rows.c — rows of any volume as floats, for the filters: see tg_rows.h for the manual. */
#include "filter/tg_rows.h"

#include <math.h>

void tg_filter__load_row(const tg_volume *v, int64_t y, int64_t z, float *dst)
{
    int64_t nx = v->dims[0], sx = v->strides[0];
    const char *p = (const char *)tg_volume_ptr(v, 0, y, z);
#define LOAD(T)                                                       \
    do {                                                              \
        const T *s = (const T *)p;                                    \
        for (int64_t x = 0; x < nx; x++) dst[x] = (float)s[x * sx];   \
    } while (0)
    switch (v->dtype) {
    case TG_U8: LOAD(uint8_t); break;
    case TG_U16: LOAD(uint16_t); break;
    case TG_I32: LOAD(int32_t); break;
    case TG_F32: LOAD(float); break;
    case TG_F64: LOAD(double); break;
    default: break;
    }
#undef LOAD
}

static inline double sat_round(float f, double lo, double hi)
{
    if (f != f) return 0;
    double d = nearbyint((double)f);
    return d < lo ? lo : d > hi ? hi : d;
}

void tg_filter__store_row(tg_volume *v, int64_t y, int64_t z, const float *src)
{
    int64_t nx = v->dims[0], sx = v->strides[0];
    char *p = (char *)tg_volume_ptr(v, 0, y, z);
    switch (v->dtype) {
    case TG_U8: {
        uint8_t *d = (uint8_t *)p;
        for (int64_t x = 0; x < nx; x++) d[x * sx] = (uint8_t)sat_round(src[x], 0, 255);
        break;
    }
    case TG_U16: {
        uint16_t *d = (uint16_t *)p;
        for (int64_t x = 0; x < nx; x++) d[x * sx] = (uint16_t)sat_round(src[x], 0, 65535);
        break;
    }
    case TG_I32: {
        int32_t *d = (int32_t *)p;
        for (int64_t x = 0; x < nx; x++) d[x * sx] = (int32_t)sat_round(src[x], -2147483648.0, 2147483647.0);
        break;
    }
    case TG_F32: {
        float *d = (float *)p;
        for (int64_t x = 0; x < nx; x++) d[x * sx] = src[x];
        break;
    }
    case TG_F64: {
        double *d = (double *)p;
        for (int64_t x = 0; x < nx; x++) d[x * sx] = (double)src[x];
        break;
    }
    default: break;
    }
}

tg_status tg_filter__check_volume(tg_ctx *ctx, const tg_volume *v, const char *name)
{
    if (!v || !v->buf) return tg_fail(ctx, TG_ERR_ARG, "%s: the volume is empty (released)", name);
    if (v->dtype < 0 || v->dtype >= TG_NDTYPES) return tg_fail(ctx, TG_ERR_ARG, "%s: unknown dtype", name);
    if (v->dims[0] < 1 || v->dims[1] < 1 || v->dims[2] < 1)
        return tg_fail(ctx, TG_ERR_ARG, "%s: the volume has no voxels", name);
    return TG_OK;
}
