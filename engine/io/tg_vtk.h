/* tg_vtk.h — VTK legacy writer for volumes, for ParaView / VisIt / VTK.
 *
 * What it writes: a legacy VTK file ("# vtk DataFile Version 3.0", BINARY, DATASET STRUCTURED_POINTS) with
 * DIMENSIONS nx ny nz, SPACING sx sy sz (the volumes' spacing in metres, as stored), ORIGIN 0 0 0 and one
 * POINT_DATA "SCALARS <name> <type> 1" block per field, types unsigned_char (u8), float (f32), double (f64).
 * Values are written x fastest, then y, then z, big-endian as the legacy binary format requires (VTK's
 * reader swaps them back). Point data: sample (x,y,z) sits at (x*sx, y*sy, z*sz), the voxel centres.
 * Format reference: "VTK File Formats", The VTK User's Guide, 11th ed., Kitware (2010), pp. 469-474.
 *
 * All fields must have the same dims and the same spacing. Field names must be non-empty, at
 * most 255 bytes, without whitespace, and distinct (VTK's reader splits the header on whitespace). Views
 * (non-contiguous volumes) are written through their strides.
 *
 * The file is written to a short hidden temporary next to path and, synced, renamed onto path only when
 * complete (tg_publish.h); on any failure or cancellation the temporary file is removed and path is untouched.
 *
 * Cost: one pass over each field, one row of scratch (nx elements). Memory: 8 * nx bytes.
 * Threading: none (the writer is bound by the file system).
 */
#ifndef TG_VTK_H
#define TG_VTK_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_vtk_field {
    const char *name;
    const tg_volume *vol; /* u8, f32 or f64 */
} tg_vtk_field;

/* Write nfields (>= 1) fields to path. */
tg_status tg_vtk_write(tg_ctx *ctx, const char *path, const tg_vtk_field *fields, int nfields);

#endif
