/* tg_stack.c — a stack on disk behind a small backend vtable. The manual is at the top of tg_stack.h.
 * The TIFF backend adapts io/tg_tiff.h's tg_tiff_reader; other formats bring their own read and close.
 */
#include "io/tg_stack.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/tg_tiff.h"

struct tg_stack {
    const tg_stack_backend *be;
    void *state;
    tg_stack_info_t info;
    char *path; /* info.path points here */
};

/* ---- TIFF backend ---- */

static tg_status tiff_read(tg_ctx *ctx, void *state, int64_t z0, int64_t z1, tg_volume *out, int64_t zout)
{
    return tg_tiff_reader_read(ctx, state, z0, z1, out, zout);
}

static void tiff_close(void *state) { tg_tiff_reader_close(state); }

static const tg_stack_backend tiff_backend = {"tiff", tiff_read, tiff_close};

tg_status tg_stack_open(tg_ctx *ctx, const char *const *paths, int n, const tg_stack_open_opts *opt, tg_stack **out)
{
    tg_stack_open_opts def = TG_STACK_OPEN_OPTS_INIT;
    tg_tiff_info_t ti;
    tg_tiff_reader *r = NULL;
    if (!out) return tg_fail(ctx, TG_ERR_ARG, "tg_stack_open: NULL argument");
    *out = NULL;
    if (!opt) opt = &def;
    if (opt->dtype >= TG_NDTYPES) return tg_fail(ctx, TG_ERR_ARG, "tg_stack_open: unknown dtype %d", opt->dtype);
    tg_status st = tg_tiff_reader_open(ctx, paths, n, opt->dtype, &r, &ti);
    if (st) return st;
    tg_stack_info_t info;
    memset(&info, 0, sizeof info);
    memcpy(info.dims, ti.dims, sizeof info.dims);
    info.dtype = opt->dtype >= 0 ? (tg_dtype)opt->dtype : ti.dtype;
    memcpy(info.spacing, ti.spacing, sizeof info.spacing);
    info.spacing_source = !ti.calibrated ? TG_STACK_SPACING_NONE
                          : ti.z_calibrated ? TG_STACK_SPACING_FILE : TG_STACK_SPACING_FILE_XY;
    info.format = tiff_backend.name;
    info.path = paths[0];
    info.files = n;
    snprintf(info.compression, sizeof info.compression, "%s", ti.compression_name);
    snprintf(info.note, sizeof info.note, "%s", ti.note);
    return tg_stack_new(ctx, &tiff_backend, r, &info, out);
}

/* ---- the generic part ---- */

tg_status tg_stack_new(tg_ctx *ctx, const tg_stack_backend *backend, void *state, const tg_stack_info_t *info,
                       tg_stack **out)
{
    *out = NULL;
    const char *path = info && info->path ? info->path : "";
    if (!backend || !backend->read || !backend->close || !info || info->dims[0] < 1 || info->dims[1] < 1 ||
        info->dims[2] < 1 || (unsigned)info->dtype >= TG_NDTYPES) {
        if (backend && backend->close) backend->close(state);
        return tg_fail(ctx, TG_ERR_ARG, "%s: tg_stack_new: incomplete backend or info", path);
    }
    tg_stack *st = tg_calloc(1, sizeof *st);
    size_t len = strlen(path) + 1;
    char *copy = tg_malloc(len);
    if (!st || !copy) {
        tg_free(st);
        tg_free(copy);
        backend->close(state);
        return tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(copy, path, len);
    st->be = backend;
    st->state = state;
    st->info = *info;
    st->path = copy;
    st->info.path = copy;
    *out = st;
    return TG_OK;
}

const tg_stack_info_t *tg_stack_info(const tg_stack *st) { return &st->info; }

tg_status tg_stack_set_spacing(tg_ctx *ctx, tg_stack *st, const double spacing[3])
{
    for (int a = 0; a < 3; a++)
        if (!(spacing[a] > 0) || !isfinite(spacing[a]))
            return tg_fail(ctx, TG_ERR_ARG, "%s: spacing must be three positive numbers (metres)", st->path);
    memcpy(st->info.spacing, spacing, sizeof st->info.spacing);
    st->info.spacing_source = TG_STACK_SPACING_SET;
    return TG_OK;
}

static tg_status check_range(tg_ctx *ctx, const tg_stack *st, int64_t z0, int64_t z1)
{
    int64_t n = st->info.dims[2];
    if (z0 < 0 || z1 > n || z1 <= z0)
        return tg_fail(ctx, TG_ERR_RANGE, "%s: slices %lld..%lld are outside the stack of %lld slices", st->path,
                       (long long)z0 + 1, (long long)z1, (long long)n);
    return TG_OK;
}

tg_status tg_stack_read_into(tg_ctx *ctx, tg_stack *st, int64_t z0, int64_t z1, tg_volume *out, int64_t zout)
{
    tg_status s = check_range(ctx, st, z0, z1);
    if (s) return s;
    const tg_stack_info_t *in = &st->info;
    if (!out || !out->buf || out->dtype != in->dtype || out->dims[0] != in->dims[0] || out->dims[1] != in->dims[1] ||
        zout < 0 || zout + (z1 - z0) > out->dims[2] || !tg_volume_is_contiguous(out))
        return tg_fail(ctx, TG_ERR_ARG, "%s: the volume to read into does not hold %lldx%lld %s slices at %lld..%lld",
                       st->path, (long long)in->dims[0], (long long)in->dims[1], tg_dtype_name(in->dtype),
                       (long long)zout, (long long)(zout + z1 - z0));
    memcpy(out->spacing, in->spacing, sizeof out->spacing);
    return st->be->read(ctx, st->state, z0, z1, out, zout);
}

tg_status tg_stack_read(tg_ctx *ctx, tg_stack *st, int64_t z0, int64_t z1, tg_volume *out)
{
    tg_volume_init(out);
    tg_status s = check_range(ctx, st, z0, z1);
    if (s) return s;
    int64_t dims[3] = {st->info.dims[0], st->info.dims[1], z1 - z0};
    if ((s = tg_volume_alloc_uninit(ctx, dims, st->info.dtype, st->info.spacing, out))) return s;
    s = tg_stack_read_into(ctx, st, z0, z1, out, 0);
    if (s) tg_volume_release(out);
    return s;
}

void tg_stack_close(tg_stack *st)
{
    if (!st) return;
    st->be->close(st->state);
    tg_free(st->path);
    tg_free(st);
}
