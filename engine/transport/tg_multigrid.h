/* tg_multigrid.h — the voxel conduction operator and its aggregation-multigrid preconditioner.
 *
 * What it is: the operator of steady conduction on a voxel grid by finite volumes,
 *     (A x)_i = sum_j g_ij (x_i - x_j) + gb_i x_i,
 * with g_ij the face conductance between neighbouring voxels (6-neighbourhood) and gb_i the conductance
 * from a voxel of the first or last plane to its Dirichlet boundary; and a symmetric V-cycle that
 * approximates A^{-1} for preconditioned conjugate gradients (tg_flux.c drives it).
 *
 * Frame: the grid is given already permuted so that the transport axis is z (the slowest); planes z = 0
 * and z = n[2]-1 carry the boundary conductances gbin / gbout (the right-hand side is b_i = gbin_i * 1 on
 * plane 0: potential 1 at the inlet, 0 at the outlet). x and y are insulated or periodic.
 *
 * Fine level, matrix-free: one u8 class per voxel (0 = not an unknown) and a per-axis table
 * lut[a][ci*ncls + cj] of face conductances (the harmonic mean of the two conductivities times the face
 * area over the voxel pitch, 0 when either side is class 0). Nothing else per voxel.
 *
 * Coarse levels (coefficient-aware aggregation by connected pieces): the unknowns of each block of the level
 * above (2x2x2 cells, or 2 along some axes and 1 along the others: see semi-coarsening) are split into their
 * face-connected pieces (connected through non-zero conductances
 * inside the block), and every piece becomes one coarse unknown. Without the split, a block that holds
 * unconnected bits of a thin tortuous phase would tie them into one unknown (a short circuit in the coarse
 * space); on TF-500 that made CG stall. The coarse levels are therefore unstructured but block-local: per
 * coarse block a range of pieces (at most 4 on level 1), an index map from the level above (a u8 piece
 * index per fine voxel, a parent id per coarse piece), and a sparse row per piece. The coarse operator is
 * the Galerkin product P^T A P with P the piecewise-constant prolongation over the pieces: the conductance
 * between two coarse pieces is the SUM of the conductances of the faces joining them, faces inside a piece
 * drop out, boundary conductances add up into the diagonal. The diagonal is formed as the row sum (outer faces
 * plus boundary), never as the members' diagonals minus the inner faces, which cancels catastrophically when
 * strong inner faces dwarf the outer ones. Zero conductances stay zero, so an insulating
 * wall stays a wall on every level and 0/1 contrasts are handled exactly (no averaging across insulators).
 * Reference: D. Braess, "Towards algebraic multigrid for elliptic problems of second order", Computing 55
 * (1995) 379-393 (piecewise-constant aggregation, Galerkin coarse operator, and the over-correction of the
 * coarse-grid step that it needs); Y. Notay, "An aggregation-based algebraic multigrid method", ETNA 37
 * (2010) 123-146.
 * The coarsest level (<= ~1000 unknowns, at most 4096) is solved exactly by a dense Cholesky factorisation
 * (double).
 * The cycle: nu red-black Gauss-Seidel sweeps (red then black; on the piece levels the colour is that of the
 * block, (I+J+K) % 2: pieces of one block are never connected to each other), residual restricted by
 * summation, gamma recursive cycles on the coarse level (gamma = 2, a W-cycle: cheap in 3D, where each level
 * has about 1/6 of the unknowns of the one above, and much less sensitive to the number of levels than the
 * V-cycle of unsmoothed aggregation), correction prolongated by injection and scaled by omega, nu sweeps in
 * the exact reverse order (black then red, cells and pieces in reverse order), so the preconditioner is
 * symmetric as CG needs.
 * Measured (TF-500, 37.5 M unknowns, cubic voxels, tol 1e-6): 11 PCG iterations per axis (30 before the
 * split), about 4 s to build the hierarchy.
 * Anisotropic voxels (semi-coarsening): face conductances along axis a scale as 1 / spacing_a^2, so voxels 300
 * times longer along z make the x and y faces 9e4 times stronger than the z faces. Point Gauss-Seidel then only
 * smooths error that oscillates along the strong axes; error smooth along them but rough along the weak axis must
 * be left to the coarse levels, which therefore keep the weak axis at full resolution: a level's blocks join 2
 * cells along each axis whose coupling strength is at least 1/4 of the strongest (of the axes still longer than
 * one cell) and 1 cell along the others (Trottenberg, Oosterlee & Schueller, "Multigrid", Academic Press 2001,
 * sections 5.1-5.2; Dendy, Ida & Rutledge, SIAM J. Sci. Stat. Comput. 13 (1992) 1460-1469). A strength is
 * tracked per axis (the fine face conductance times the block extents across the axis, as aggregation sums the
 * faces of a block face), so the anisotropy halves on every semi-coarsened level and full coarsening resumes
 * where it has faded, or once the strong axes are one cell long. Isotropic voxels give 2x2x2 blocks throughout,
 * as before. Past a 16:1 ratio of axis strengths (voxels 4 times longer along one axis) the kernels also work in
 * exact forms, all in single precision: residuals (restriction, the CG operator) in difference form sum_j g_ij
 * (v_i - v_j), Gauss-Seidel in correction form v_i + r_i / d_i, so a potential that is flat across strong faces
 * stays flat (the plain forms d v_i - sum_j g_ij v_j lose every face weaker than eps * d: with a 1e12 ratio, all
 * of the weak ones). Cycles: a W-cycle only on levels at least 3 times smaller than the level above (semi-
 * coarsening along one axis halves the unknowns) and only where all coarser levels are W-cycled (an
 * over-corrected V-cycle below can overshoot, and a W-cycle would square that into an indefinite preconditioner);
 * above the first V-cycled level all are V-cycles. Measured (generated 48^3 cathode, CAM, tol 1e-6): 12-14 PCG
 * iterations for aspect ratios from 1 to 1e4 along either axis; the isotropic figures are unchanged.
 *
 * Cost: one fine sweep touches each unknown once with 6 table look-ups; the coarse levels together cost
 * about 1/3 of the fine level (level 1 has ~N/7 pieces with ~5 neighbours each). Inactive voxels are skipped
 * by run lists (x-runs of unknowns per row). Building: three passes over the blocks of each level.
 * Memory per fine voxel: 1 byte of classes (owned by the caller) + 1 byte of piece index (sub) + the run
 * list (8 bytes per run of unknowns) + the piece levels: per piece 8 (poff share) + 8 (row offset) + 16 (diag,
 * boundary conductance, x, b) + 4 (parent) bytes and 8 bytes per off-diagonal entry; on TF-500 (30 % phase)
 * about 24 bytes per fine unknown, 0.9 GB in all for the hierarchy. Semi-coarsened levels shrink 2 to 4 times
 * instead of ~7, so strongly anisotropic voxels cost up to about twice the hierarchy memory.
 * Threading: OpenMP over z-planes with num_threads(ctx->nthreads); every plane is processed whole by one
 * thread and red-black sweeps only read the other colour (the only same-colour neighbours are across a
 * periodic wrap of an odd dimension, which lies inside one plane; blocks of either shape only touch
 * face-neighbouring blocks), so results are bit-identical for any thread count. Reductions are per-plane partial sums added in plane order. Building the piece levels runs
 * over planes of blocks too; pieces are numbered block by block and rows are sorted, independent of threads.
 */
#ifndef TG_MULTIGRID_H
#define TG_MULTIGRID_H

#include "core/tg_core.h"

typedef struct tg_mg_fine {
    int64_t n[3];           /* x, y, z of the (permuted) grid; z is the transport axis */
    int periodic[2];        /* x, y sides periodic (1) or insulated (0) */
    const uint8_t *cls;     /* n[0]*n[1]*n[2] classes, x fastest; 0 = not an unknown */
    int ncls;               /* classes are 0..ncls-1 (ncls <= 256) */
    const float *lut[3];    /* lut[a][ci*ncls + cj]: conductance of a face normal to axis a; 0 if ci or cj is 0 */
    const double *lutd[3];  /* the same in double, for the double-precision residual */
    const double *gbin;     /* n[0]*n[1]: boundary conductance of plane 0 voxels (0 where not an unknown) */
    const double *gbout;    /* n[0]*n[1]: boundary conductance of plane n[2]-1 voxels */
} tg_mg_fine;

typedef struct tg_mg_opts {
    int nu;             /* smoothing sweeps before and after the coarse correction */
    double omega;       /* over-correction of the coarse-grid step (1 = plain Galerkin) */
    int64_t coarsest;   /* stop coarsening at or below this many cells; solve there exactly */
    int max_levels;     /* at most 48 (semi-coarsening along one axis needs more levels than 2x2x2 blocks) */
    int gamma;          /* cycles on each coarse level: 1 = V-cycle, 2 = W-cycle */
} tg_mg_opts;

#define TG_MG_OPTS_INIT { 1, 1.6, 1000, 40, 2 }

typedef struct tg_mg tg_mg;

/* Build the hierarchy. The fine description (and the arrays it points to) must outlive the hierarchy. */
tg_status tg_mg_build(tg_ctx *ctx, const tg_mg_fine *fine, const tg_mg_opts *opt, tg_mg **out);
void tg_mg_free(tg_mg *mg);
int tg_mg_levels(const tg_mg *mg);
int64_t tg_mg_unknowns(const tg_mg *mg, int level);
size_t tg_mg_bytes(const tg_mg *mg); /* memory held by the hierarchy */

/* z = B r: one symmetric V-cycle with zero initial guess. r, z: fine grid, full size; inactive entries of
 * z are left untouched (keep them 0). */
void tg_mg_precondition(tg_ctx *ctx, tg_mg *mg, const float *r, float *z);

/* q = A p on the fine level in single precision; returns the dot product p.q (double, plane-ordered). */
double tg_mg_apply(tg_ctx *ctx, tg_mg *mg, const float *p, float *q);

/* r = b - A x in double precision (b = gbin on plane 0), stored as float in r (may be NULL).
 * Returns ||b - A x||^2; *sum_r gets the sum of the residual (= inlet current - outlet current). */
double tg_mg_residual(tg_ctx *ctx, tg_mg *mg, const double *x, float *r, double *sum_r);

/* ||b||^2 of the right-hand side. */
double tg_mg_rhs_norm2(const tg_mg *mg);

/* y += a * p (double) and r -= a * q (float) on the unknowns; returns ||r||^2 (double, plane-ordered). */
double tg_mg_update(tg_ctx *ctx, tg_mg *mg, double a, const float *p, const float *q, double *x, float *r);
/* p = z + beta * p on the unknowns; returns r.z computed before (pass the new z). */
double tg_mg_dot(tg_ctx *ctx, tg_mg *mg, const float *a, const float *b);
void tg_mg_xpby(tg_ctx *ctx, tg_mg *mg, const float *z, double beta, float *p);

#endif
