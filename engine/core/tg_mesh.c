/* tg_mesh.c — the triangle mesh type: see tg_mesh.h for the manual. */
#include "core/tg_mesh.h"

#include <string.h>

void tg_mesh_init(tg_mesh *m)
{
    memset(m, 0, sizeof *m);
    m->spacing[0] = m->spacing[1] = m->spacing[2] = 1.0;
}

void tg_mesh_release(tg_mesh *m)
{
    tg_free(m->verts);
    tg_free(m->tris);
    tg_mesh_init(m);
}

double tg_mesh_area(const tg_mesh *m)
{
    double area = 0;
    for (int64_t t = 0; t < m->ntris; t++) {
        double p[3][3];
        for (int k = 0; k < 3; k++)
            for (int a = 0; a < 3; a++) p[k][a] = m->verts[3 * (size_t)m->tris[3 * t + k] + a];
        area += tg_triangle_area(p[0], p[1], p[2]);
    }
    return area;
}

double tg_mesh_volume(const tg_mesh *m)
{
    double vol = 0;
    for (int64_t t = 0; t < m->ntris; t++) {
        const float *a = m->verts + 3 * (size_t)m->tris[3 * t], *b = m->verts + 3 * (size_t)m->tris[3 * t + 1],
                    *c = m->verts + 3 * (size_t)m->tris[3 * t + 2];
        vol += (double)a[0] * ((double)b[1] * c[2] - (double)b[2] * c[1]) -
               (double)a[1] * ((double)b[0] * c[2] - (double)b[2] * c[0]) +
               (double)a[2] * ((double)b[0] * c[1] - (double)b[1] * c[0]);
    }
    return vol / 6.0;
}
