/* tg_mesh_io.h — write triangle meshes for ParaView and MeshLab: binary PLY and binary STL.
 *
 * Formats:
 *   .ply  binary_little_endian 1.0: "element vertex N" with float x, y, z (metres), "element face M" with
 *         "property list uchar int vertex_indices"; shared vertices, counter-clockwise seen from outside.
 *   .stl  binary: 80-byte header, uint32 triangle count, per triangle a float normal (unit, outward), three float
 *         vertices and a zero uint16 (vertices repeated per triangle, as STL has no sharing).
 * Files are written to a short hidden temporary in the same folder and, synced, renamed when complete
 * (tg_publish.h), so an interrupted
 * write never leaves a truncated file that looks valid.
 * Errors: TG_ERR_IO naming the file and the reason (errno text). Memory: a 64 kB buffer; streaming.
 */
#ifndef TG_MESH_IO_H
#define TG_MESH_IO_H

#include "core/tg_core.h"
#include "core/tg_mesh.h"

typedef enum tg_mesh_format { TG_MESH_PLY = 0, TG_MESH_STL = 1 } tg_mesh_format;

/* Format from the file name's extension (.ply / .stl, any case); -1 if neither. */
int tg_mesh_format_of(const char *path);
tg_status tg_mesh_write(tg_ctx *ctx, const char *path, const tg_mesh *m, tg_mesh_format fmt);

#endif
