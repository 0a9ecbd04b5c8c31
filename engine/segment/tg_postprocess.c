/* tg_postprocess.c — island removal and majority filter for label volumes. Manual in tg_postprocess.h. */
#include "segment/tg_postprocess.h"

#include "core/tg_components.h"

#include <string.h>

static tg_status check_u8(tg_ctx *ctx, const tg_volume *v, const char *who)
{
    if (!v->buf) return tg_fail(ctx, TG_ERR_ARG, "%s: the label volume is empty", who);
    if (v->dtype != TG_U8) return tg_fail(ctx, TG_ERR_ARG, "%s: labels must be u8, got %s", who, tg_dtype_name(v->dtype));
    return TG_OK;
}

/* Which label values occur: present[256], list of them in increasing order; returns how many. */
static int present_values(const tg_volume *v, uint8_t *list)
{
    uint8_t seen[256] = {0};
    for (int64_t z = 0; z < v->dims[2]; z++)
        for (int64_t y = 0; y < v->dims[1]; y++)
            for (int64_t x = 0; x < v->dims[0]; x++) seen[*(const uint8_t *)tg_volume_ptr(v, x, y, z)] = 1;
    int n = 0;
    for (int c = 0; c < 256; c++)
        if (seen[c]) list[n++] = (uint8_t)c;
    return n;
}

tg_status tg_remove_islands(tg_ctx *ctx, const tg_volume *labels, const tg_islands_opts *opt, tg_volume *out,
                            int64_t *removed, int64_t *voxels)
{
    tg_islands_opts o = TG_ISLANDS_OPTS_INIT;
    if (opt) o = *opt;
    tg_volume_init(out);
    if (removed) *removed = 0;
    if (voxels) *voxels = 0;
    tg_status st = check_u8(ctx, labels, "remove_islands");
    if (st != TG_OK) return st;
    if (o.min_size < 1) return tg_fail(ctx, TG_ERR_ARG, "remove_islands: min_size must be >= 1, got %lld", (long long)o.min_size);
    if (o.connectivity != 6 && o.connectivity != 18 && o.connectivity != 26)
        return tg_fail(ctx, TG_ERR_ARG, "remove_islands: connectivity must be 6, 18 or 26, got %d", o.connectivity);
    int32_t *isl = NULL, *map = NULL;
    uint8_t *newlab_valid = NULL;
    int64_t *hist = NULL;
    uint8_t *newlab = NULL;
    tg_volume comp;
    tg_volume_init(&comp);
    tg_components_info info = {0, NULL, NULL};
    st = tg_volume_copy(ctx, labels, out);
    if (st != TG_OK) goto done;
    const int64_t nx = out->dims[0], ny = out->dims[1], nz = out->dims[2], N = nx * ny * nz;
    uint8_t *L = (uint8_t *)out->buf->data + out->offset;
    uint8_t vals[256];
    int nv = present_values(out, vals);
    isl = tg_calloc((size_t)N, sizeof *isl);
    if (!isl) { st = tg_fail(ctx, TG_ERR_NOMEM, "remove_islands: out of memory"); goto done; }
    int64_t nisl = 0;
    for (int c = 0; c < nv && nv > 1; c++) {
        tg_components_opts co = {o.connectivity, 1, vals[c]};
        int64_t n = 0;
        st = tg_components_ex(ctx, out, &co, &comp, &n, &info);
        if (st != TG_OK) goto done;
        map = tg_malloc(sizeof(int32_t) * (size_t)(n + 1));
        if (!map) { st = tg_fail(ctx, TG_ERR_NOMEM, "remove_islands: out of memory"); goto done; }
        map[0] = 0;
        for (int64_t i = 1; i <= n; i++) map[i] = info.sizes[i] < o.min_size ? (int32_t)++nisl : 0;
        for (int64_t z = 0; z < nz; z++)
            for (int64_t y = 0; y < ny; y++) {
                const int32_t *cr = tg_volume_ptr(&comp, 0, y, z);
                int32_t *ir = isl + (y + z * ny) * nx;
                for (int64_t x = 0; x < nx; x++)
                    if (cr[x] && map[cr[x]]) ir[x] = map[cr[x]];
            }
        tg_free(map);
        map = NULL;
        tg_volume_release(&comp);
        tg_components_info_free(&info);
        if (nisl > INT32_MAX / 2) { st = tg_fail(ctx, TG_ERR_RANGE, "remove_islands: too many islands"); goto done; }
    }
    if (nisl == 0) goto done;
    int cidx[256];
    for (int c = 0; c < nv; c++) cidx[vals[c]] = c;
    hist = tg_calloc((size_t)(nisl + 1) * (size_t)nv, sizeof *hist);
    newlab = tg_malloc((size_t)nisl + 1);
    newlab_valid = tg_calloc((size_t)nisl + 1, 1);
    if (!hist || !newlab || !newlab_valid) { st = tg_fail(ctx, TG_ERR_NOMEM, "remove_islands: out of memory for %lld islands", (long long)nisl); goto done; }
    const int64_t off[6] = {-1, 1, -nx, nx, -nx * ny, nx * ny};
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++) {
                int64_t i = x + nx * (y + ny * z);
                if (!isl[i]) continue;
                const int inb[6] = {x > 0, x + 1 < nx, y > 0, y + 1 < ny, z > 0, z + 1 < nz};
                for (int d = 0; d < 6; d++)
                    if (inb[d] && !isl[i + off[d]]) hist[(size_t)isl[i] * nv + cidx[L[i + off[d]]]]++;
            }
    int64_t nrem = 0, nvox = 0;
    for (int64_t k = 1; k <= nisl; k++) {
        const int64_t *h = hist + (size_t)k * nv;
        int best = -1;
        for (int c = 0; c < nv; c++)
            if (h[c] > 0 && (best < 0 || h[c] > h[best])) best = c;
        if (best >= 0) { newlab[k] = vals[best]; newlab_valid[k] = 1; nrem++; }
    }
    for (int64_t i = 0; i < N; i++)
        if (isl[i] && newlab_valid[isl[i]]) {
            nvox += L[i] != newlab[isl[i]];
            L[i] = newlab[isl[i]];
        }
    if (removed) *removed = nrem;
    if (voxels) *voxels = nvox;
done:
    tg_volume_release(&comp);
    tg_components_info_free(&info);
    tg_free(isl); tg_free(map); tg_free(hist); tg_free(newlab); tg_free(newlab_valid);
    if (st != TG_OK) tg_volume_release(out);
    return st;
}

tg_status tg_majority(tg_ctx *ctx, const tg_volume *labels, const tg_majority_opts *opt, tg_volume *out)
{
    tg_majority_opts o = TG_MAJORITY_OPTS_INIT;
    if (opt) o = *opt;
    tg_volume_init(out);
    tg_status st = check_u8(ctx, labels, "majority");
    if (st != TG_OK) return st;
    if (o.radius < 1 || o.radius > 64) return tg_fail(ctx, TG_ERR_ARG, "majority: radius must be between 1 and 64, got %d", o.radius);
    if (o.dims != 2 && o.dims != 3) return tg_fail(ctx, TG_ERR_ARG, "majority: dims must be 2 or 3, got %d", o.dims);
    st = tg_volume_alloc(ctx, labels->dims, TG_U8, labels->spacing, out);
    if (st != TG_OK) return st;
    uint8_t vals[256];
    int nv = present_values(labels, vals);
    const int64_t nx = labels->dims[0], ny = labels->dims[1], nz = labels->dims[2];
    const int r = o.radius, rz = o.dims == 3 ? o.radius : 0;
    int cancelled = 0;
    #pragma omp parallel for schedule(dynamic, 8) num_threads(ctx->nthreads) reduction(| : cancelled)
    for (int64_t row = 0; row < ny * nz; row++) {
        if (cancelled || tg_cancelled(ctx)) { cancelled = 1; continue; }
        int64_t y = row % ny, z = row / ny;
        int64_t y0 = y - r < 0 ? 0 : y - r, y1 = y + r + 1 > ny ? ny : y + r + 1;
        int64_t z0 = z - rz < 0 ? 0 : z - rz, z1 = z + rz + 1 > nz ? nz : z + rz + 1;
        int32_t cnt[256];
        memset(cnt, 0, sizeof cnt);
#define COLUMN(xc, delta)                                                                    \
    for (int64_t zz = z0; zz < z1; zz++)                                                     \
        for (int64_t yy = y0; yy < y1; yy++) cnt[*(const uint8_t *)tg_volume_ptr(labels, xc, yy, zz)] += (delta);
        for (int64_t xc = 0; xc < nx && xc <= r; xc++) { COLUMN(xc, 1) }
        uint8_t *dst = tg_volume_ptr(out, 0, y, z);
        for (int64_t x = 0; x < nx; x++) {
            uint8_t own = *(const uint8_t *)tg_volume_ptr(labels, x, y, z);
            int best = own;
            for (int c = 0; c < nv; c++) {
                int v = vals[c];
                if (cnt[v] > cnt[best]) best = v;
            }
            dst[x] = (uint8_t)best;
            if (x - r >= 0) { COLUMN(x - r, -1) }
            if (x + r + 1 < nx) { COLUMN(x + r + 1, 1) }
        }
#undef COLUMN
    }
    if (cancelled) { tg_volume_release(out); return tg_fail(ctx, TG_ERR_CANCELLED, "majority: cancelled"); }
    return TG_OK;
}
