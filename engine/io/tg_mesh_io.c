/* tg_mesh_io.c — binary PLY and STL writers; see tg_mesh_io.h for the manual. */
#include "io/tg_mesh_io.h"
#include "io/tg_publish.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int tg_mesh_format_of(const char *path)
{
    size_t n = strlen(path);
    if (n >= 4 && strcasecmp(path + n - 4, ".ply") == 0) return TG_MESH_PLY;
    if (n >= 4 && strcasecmp(path + n - 4, ".stl") == 0) return TG_MESH_STL;
    return -1;
}

/* little-endian stores, whatever the host */
static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_f32(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(p, u);
}

typedef struct out_file {
    FILE *f;
    unsigned char buf[65536];
    size_t n;
    int err;
} out_file;

static void emit(out_file *o, const void *p, size_t n)
{
    if (o->n + n > sizeof o->buf) {
        if (fwrite(o->buf, 1, o->n, o->f) != o->n) o->err = errno ? errno : EIO;
        o->n = 0;
    }
    memcpy(o->buf + o->n, p, n);
    o->n += n;
}

static void write_ply(out_file *o, const tg_mesh *m)
{
    char head[512];
    int len = snprintf(head, sizeof head,
                       "ply\nformat binary_little_endian 1.0\ncomment tortuga %s marching-cubes mesh, metres\n"
                       "element vertex %lld\nproperty float x\nproperty float y\nproperty float z\n"
                       "element face %lld\nproperty list uchar int vertex_indices\nend_header\n",
                       TG_VERSION, (long long)m->nverts, (long long)m->ntris);
    emit(o, head, (size_t)len);
    for (int64_t i = 0; i < m->nverts; i++) {
        unsigned char b[12];
        for (int k = 0; k < 3; k++) put_f32(b + 4 * k, m->verts[3 * i + k]);
        emit(o, b, 12);
    }
    for (int64_t t = 0; t < m->ntris; t++) {
        unsigned char b[13];
        b[0] = 3;
        for (int k = 0; k < 3; k++) put_u32(b + 1 + 4 * k, m->tris[3 * t + k]);
        emit(o, b, 13);
    }
}

static void write_stl(out_file *o, const tg_mesh *m)
{
    unsigned char head[84] = {0};
    snprintf((char *)head, 80, "tortuga %s marching-cubes mesh, metres", TG_VERSION);
    put_u32(head + 80, (uint32_t)m->ntris);
    emit(o, head, 84);
    for (int64_t t = 0; t < m->ntris; t++) {
        const float *p[3];
        for (int k = 0; k < 3; k++) p[k] = m->verts + 3 * (size_t)m->tris[3 * t + k];
        double u[3], w[3], n[3];
        for (int a = 0; a < 3; a++) u[a] = (double)p[1][a] - p[0][a], w[a] = (double)p[2][a] - p[0][a];
        n[0] = u[1] * w[2] - u[2] * w[1], n[1] = u[2] * w[0] - u[0] * w[2], n[2] = u[0] * w[1] - u[1] * w[0];
        double len = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        unsigned char b[50] = {0};
        for (int a = 0; a < 3; a++) put_f32(b + 4 * a, len > 0 ? (float)(n[a] / len) : 0.0f);
        for (int k = 0; k < 3; k++)
            for (int a = 0; a < 3; a++) put_f32(b + 12 + 12 * k + 4 * a, p[k][a]);
        emit(o, b, 50);
    }
}

tg_status tg_mesh_write(tg_ctx *ctx, const char *path, const tg_mesh *m, tg_mesh_format fmt)
{
    if (!m || (m->ntris > 0 && (!m->verts || !m->tris)))
        return tg_fail(ctx, TG_ERR_ARG, "%s: the mesh is empty or released", path);
    if (fmt != TG_MESH_PLY && fmt != TG_MESH_STL) return tg_fail(ctx, TG_ERR_ARG, "%s: unknown mesh format %d", path, (int)fmt);
    if (fmt == TG_MESH_STL && m->ntris > (int64_t)UINT32_MAX)
        return tg_fail(ctx, TG_ERR_ARG, "%s: STL holds at most 4294967295 triangles; write PLY", path);
    char tmp[4200];
    static out_file zero;
    out_file *o = tg_malloc(sizeof *o);
    if (!o) return tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", path);
    *o = zero;
    tg_status st = TG_OK;
    errno = 0;
    int fd = tg_publish_temp(path, tmp, sizeof tmp);
    o->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && !o->f) { close(fd); remove(tmp); }
    if (!o->f) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        goto done;
    }
    if (fmt == TG_MESH_PLY) write_ply(o, m);
    else write_stl(o, m);
    if (o->n && fwrite(o->buf, 1, o->n, o->f) != o->n) o->err = errno ? errno : EIO;
    if (fflush(o->f) != 0 && !o->err) o->err = errno ? errno : EIO;
    if (!o->err) st = tg_publish(ctx, fileno(o->f), tmp, path); /* fsync, rename */
    if (fclose(o->f) != 0 && !o->err && st == TG_OK) o->err = errno ? errno : EIO;
    o->f = NULL;
    if (o->err) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(o->err));
        remove(tmp);
        goto done;
    }
    if (st) remove(tmp);
done:
    tg_free(o);
    return st;
}
