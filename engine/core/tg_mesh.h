/* tg_mesh.h — the triangle mesh type shared by the stages that make meshes (measure/tg_mcubes) and those that
 * write them (io/tg_mesh_io), with its area and enclosed volume.
 *
 * A mesh: nverts vertices (float x, y, z in metres) and ntris triangles (three 0-based vertex indices each,
 * counter-clockwise seen from outside, so normals point outwards), with the spacing of the volume it came from.
 * Vertices are shared between triangles. The arrays are owned by the mesh and allocated with tg_malloc.
 *
 * Cost: area and volume are one pass over the triangles, in double precision, in triangle order (so the sums
 * do not depend on anything but the mesh). Single-threaded.
 */
#ifndef TG_MESH_H
#define TG_MESH_H

#include <math.h>

#include "core/tg_core.h"

typedef struct tg_mesh {
    int64_t nverts, ntris;
    float *verts;     /* 3 * nverts: x, y, z in metres */
    uint32_t *tris;   /* 3 * ntris vertex indices, counter-clockwise seen from outside the phase */
    double spacing[3];
} tg_mesh;

/* An empty mesh (no arrays, spacing 1). */
void tg_mesh_init(tg_mesh *m);
/* Free the arrays and make the mesh empty; safe to call twice. */
void tg_mesh_release(tg_mesh *m);
/* Sum of triangle areas (m^2), in double precision, in triangle order. */
double tg_mesh_area(const tg_mesh *m);
/* Signed enclosed volume (m^3) by the divergence theorem: positive for a closed outward-oriented mesh. */
double tg_mesh_volume(const tg_mesh *m);

/* Area of the triangle a, b, c: half the norm of the cross product of its edges (marching cubes sums these
 * per cube, tg_mesh_area over a mesh: the same arithmetic for both). */
static inline double tg_triangle_area(const double a[3], const double b[3], const double c[3])
{
    double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, w[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    double x = u[1] * w[2] - u[2] * w[1], y = u[2] * w[0] - u[0] * w[2], z = u[0] * w[1] - u[1] * w[0];
    return 0.5 * sqrt(x * x + y * y + z * z);
}

#endif
