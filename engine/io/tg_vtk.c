/* tg_vtk.c — see tg_vtk.h for the manual (format, temporary file and rename, cost). */
#define _POSIX_C_SOURCE 200809L
#include "io/tg_vtk.h"
#include "io/tg_publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *vtk_type(tg_dtype t)
{
    switch (t) {
    case TG_U8: return "unsigned_char";
    case TG_F32: return "float";
    case TG_F64: return "double";
    default: return NULL;
    }
}

/* Copy n elements of size sz from src (stride in elements) to dst, big-endian. */
static void row_be(unsigned char *dst, const unsigned char *src, int64_t n, int64_t stride, size_t sz)
{
    static const union { uint16_t u; unsigned char c[2]; } probe = {1};
    const int little = probe.c[0] == 1;
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *s = src + (size_t)(i * stride) * sz;
        unsigned char *d = dst + (size_t)i * sz;
        if (little)
            for (size_t k = 0; k < sz; k++) d[k] = s[sz - 1 - k];
        else
            memcpy(d, s, sz);
    }
}

static int name_ok(const char *s)
{
    if (!s || !s[0] || strlen(s) > 255) return 0;
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') return 0;
    return 1;
}

tg_status tg_vtk_write(tg_ctx *ctx, const char *path, const tg_vtk_field *fields, int nfields)
{
    tg_status st = TG_OK;
    char tmp[4200];
    FILE *f = NULL;
    unsigned char *row = NULL;
    int have_tmp = 0;
    if (!path || !path[0]) return tg_fail(ctx, TG_ERR_ARG, "write_vtk: empty path");
    if (!fields || nfields < 1) return tg_fail(ctx, TG_ERR_ARG, "write_vtk %s: no fields to write", path);
    const tg_volume *v0 = fields[0].vol;
    for (int i = 0; i < nfields; i++) {
        const tg_volume *v = fields[i].vol;
        if (!name_ok(fields[i].name))
            return tg_fail(ctx, TG_ERR_ARG, "write_vtk %s: field %d: the name must be 1-255 characters without whitespace",
                           path, i + 1);
        for (int j = 0; j < i; j++)
            if (strcmp(fields[i].name, fields[j].name) == 0)
                return tg_fail(ctx, TG_ERR_ARG, "write_vtk %s: field name '%s' given twice", path, fields[i].name);
        if (!v || !v->buf) return tg_fail(ctx, TG_ERR_ARG, "write_vtk %s: field '%s' has no volume", path, fields[i].name);
        if (!vtk_type(v->dtype))
            return tg_fail(ctx, TG_ERR_UNSUPPORTED, "write_vtk %s: field '%s' is %s; only u8, f32 and f64 are written", path,
                           fields[i].name, tg_dtype_name(v->dtype));
        if (v->dims[0] != v0->dims[0] || v->dims[1] != v0->dims[1] || v->dims[2] != v0->dims[2])
            return tg_fail(ctx, TG_ERR_ARG, "write_vtk %s: field '%s' is %lldx%lldx%lld but '%s' is %lldx%lldx%lld", path,
                           fields[i].name, (long long)v->dims[0], (long long)v->dims[1], (long long)v->dims[2],
                           fields[0].name, (long long)v0->dims[0], (long long)v0->dims[1], (long long)v0->dims[2]);
        if (v->spacing[0] != v0->spacing[0] || v->spacing[1] != v0->spacing[1] || v->spacing[2] != v0->spacing[2])
            return tg_fail(ctx, TG_ERR_ARG, "write_vtk %s: field '%s' has spacing %g x %g x %g m but '%s' has %g x %g x %g m",
                           path, fields[i].name, v->spacing[0], v->spacing[1], v->spacing[2], fields[0].name,
                           v0->spacing[0], v0->spacing[1], v0->spacing[2]);
    }
    const int64_t nx = v0->dims[0], ny = v0->dims[1], nz = v0->dims[2];
    row = tg_malloc(8 * (size_t)nx);
    if (!row) return tg_fail(ctx, TG_ERR_NOMEM, "write_vtk %s: out of memory", path);
    int fd = tg_publish_temp(path, tmp, sizeof tmp);
    if (fd < 0) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        goto done;
    }
    have_tmp = 1;
    f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        st = tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    fprintf(f, "# vtk DataFile Version 3.0\ntortuga\nBINARY\nDATASET STRUCTURED_POINTS\n");
    fprintf(f, "DIMENSIONS %lld %lld %lld\n", (long long)nx, (long long)ny, (long long)nz);
    fprintf(f, "SPACING %.17g %.17g %.17g\nORIGIN 0 0 0\n", v0->spacing[0], v0->spacing[1], v0->spacing[2]);
    fprintf(f, "POINT_DATA %lld\n", (long long)(nx * ny * nz));
    for (int i = 0; i < nfields && st == TG_OK; i++) {
        const tg_volume *v = fields[i].vol;
        const size_t sz = tg_dtype_size(v->dtype);
        fprintf(f, "SCALARS %s %s 1\nLOOKUP_TABLE default\n", fields[i].name, vtk_type(v->dtype));
        for (int64_t z = 0; z < nz && st == TG_OK; z++) {
            if (tg_progress(ctx, ((double)i + (double)z / (double)nz) / nfields, "write_vtk")) {
                st = tg_fail(ctx, TG_ERR_CANCELLED, "write_vtk %s: cancelled", path);
                break;
            }
            for (int64_t y = 0; y < ny; y++) {
                row_be(row, tg_volume_ptr(v, 0, y, z), nx, v->strides[0], sz);
                if (fwrite(row, sz, (size_t)nx, f) != (size_t)nx) {
                    st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
                    break;
                }
            }
        }
        if (st == TG_OK) fputc('\n', f);
    }
    if (st != TG_OK) goto done;
    if (fflush(f) != 0 || ferror(f)) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        goto done;
    }
    if ((st = tg_publish(ctx, fileno(f), tmp, path))) goto done; /* fsync, rename */
    have_tmp = 0;
    int rc = fclose(f);
    f = NULL;
    if (rc != 0) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        goto done;
    }
    tg_progress_done(ctx, "write_vtk");
done:
    if (f) fclose(f);
    if (have_tmp) unlink(tmp);
    tg_free(row);
    return st;
}
