/* tg_active.h — which active material (CAM) can take part in the electrochemistry: an estimate from the
 * microstructure alone.
 *
 * A CAM voxel is counted active when it is
 *   1. electronically connected: its CAM cluster (connected components of the CAM label) touches the
 *      current-collector face (the first or the last slice normal to `axis`), and
 *   2. ionically reachable: within a distance `reach` of a contact with ISE that is ionically connected, i.e.
 *      an ISE cluster touching the separator face (the opposite face). The distance is geodesic: measured
 *      through the voxel's own CAM cluster (lithium diffuses through the solid, not across pores), from the
 *      nearest CAM voxel that shares a face with such ISE.
 * This is the percolation picture behind the paper's utilisation numbers (Minnmann et al. 2024: 62 % of the CAM
 * cycled in BM10 vs 77 % in BM03/BM01): CAM cut off from the collector or from the ionic network stays
 * unused. The reach stands for the solid-state diffusion length sqrt(D t); with reach = infinity the test is
 * per cluster (an electronically connected cluster with any ionic contact counts whole), which is the plain
 * connectivity number. Results for several reaches come from one computation.
 *
 * Algorithm: 1. connected components of CAM and of ISE (tg_components_ex, `connectivity`), which of them touch
 * the collector / separator face (tg_components_touch); 2. contact voxels: electronically connected CAM with a
 * face neighbour in an ionically connected ISE cluster (distance 0); 3. geodesic distance inside each CAM
 * cluster by raster chamfer sweeps (forward and backward over the 26-neighbourhood, steps of length
 * sqrt((dx sx)^2 + (dy sy)^2 + (dz sz)^2), only between voxels of the same CAM cluster), repeated until a pass
 * changes nothing. The 3x3x3 chamfer overestimates straight-line distances by at most 8 % (at directions
 * between the 26 steps) and follows the cluster's turns exactly. Also counted: the CAM-ISE voxel faces, and
 * those between connected CAM and connected ISE (the share of the interface that can carry current).
 * Units: the volume's spacing (metres); reach in the same unit.
 * Cost: O(N) per sweep, typically 2-6 sweeps on electrode structures (each sweep is a sequential raster pass);
 * the components are O(N alpha(N)) in parallel.
 * Memory: 8 B/voxel (the CAM cluster labels, i32, and the distance, f32, which first holds the ISE cluster
 * labels in place), plus the optional f32 distance output (4 B/voxel) and 1 B per cluster.
 * Threading: components and counting in parallel (num_threads(ctx->nthreads)); the sweeps are sequential.
 * The result does not depend on the thread count.
 * Input: an integer label volume (u8, u16, i32), any strides; cam != ise.
 */
#ifndef TG_ACTIVE_H
#define TG_ACTIVE_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

#define TG_ACTIVE_MAX_REACH 64

typedef struct tg_active_opts {
    int64_t cam, ise;      /* label values */
    int axis;              /* 0 = x, 1 = y, 2 = z: the through-thickness direction */
    int collector_last;    /* 0: the collector is the first slice along axis (separator the last); 1: reversed */
    int connectivity;      /* 6, 18 or 26, for the clusters */
    int n_reach;           /* 0..TG_ACTIVE_MAX_REACH */
    double reach[TG_ACTIVE_MAX_REACH]; /* >= 0, may be INFINITY; units of the spacing */
} tg_active_opts;
#define TG_ACTIVE_OPTS_INIT {1, 2, 2, 0, 6, 0, {0}}

typedef struct tg_active_result {
    int64_t cam_voxels, ise_voxels;
    int64_t cam_electronic;  /* CAM voxels in clusters touching the collector face */
    int64_t ise_ionic;       /* ISE voxels in clusters touching the separator face */
    int64_t cam_contact;     /* electronically connected CAM voxels sharing a face with ionically connected ISE */
    int64_t cam_cluster;     /* electronically connected CAM voxels whose cluster has a contact (reach = infinity) */
    int64_t cam_reached[TG_ACTIVE_MAX_REACH]; /* ... within reach[i] of a contact (geodesic) */
    int64_t faces_cam_ise;   /* CAM-ISE voxel faces */
    int64_t faces_connected; /* of those, between electronically connected CAM and ionically connected ISE */
    int sweeps;              /* chamfer passes until no change */
    double max_distance;     /* the largest finite geodesic distance */
} tg_active_result;

/* distance (may be NULL): out, f32 with the labels' dims and spacing: the geodesic distance to the nearest contact
 * for electronically connected CAM (INFINITY when its cluster has no contact), -1 for CAM not connected to the
 * collector, NaN for every other voxel. */
tg_status tg_active_cam(tg_ctx *ctx, const tg_volume *labels, const tg_active_opts *opts, tg_active_result *res,
                        tg_volume *distance);

#endif
