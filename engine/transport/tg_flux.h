/* tg_flux.h — flux-based tortuosity and effective conductivity of a labelled voxel volume.
 *
 * What it computes: the steady conduction div(sigma grad phi) = 0 on the voxels, by finite volumes with
 * harmonic-mean face conductances (g = 2 s_i s_j / (s_i + s_j) * face area / pitch), with a potential
 * difference of 1 between the two faces normal to `axis` and no flux through the side faces (or periodic
 * sides). From the current I it reports the effective conductivity sigma_eff = I L / A and the
 * tortuosity factor tau = D_mean / sigma_eff, where D_mean = sum over labels of (volume fraction x sigma) —
 * TauFactor's D_mean definition; for one conducting phase it is eps * sigma, so tau = eps sigma / sigma_eff.
 *
 * Conventions (each one named in the result):
 * - boundary TG_FLUX_TAUFACTOR: potentials fixed on the outer faces, half a voxel beyond the centres of the
 *   first and last layers; L = n voxels; a uniform block gives tau = 1 exactly (TauFactor, OpenImpala >= 4.5).
 *   TG_FLUX_POREPY: potentials fixed at the centres of the first and last layers; L = n - 1 voxels (PoreSpy 2,
 *   PuMA). Needs n >= 2 along the axis.
 * - fraction TG_FLUX_TOTAL: D_mean from the total volume fractions (TauFactor); TG_FLUX_PERCOLATING: from the
 *   fractions of the voxels that percolate (PoreSpy, OpenImpala). Both taus are always reported.
 * - Conducting voxels (sigma > 0) that are not 6-connected (through conducting voxels, and across the
 *   periodic sides when they are periodic) to both the inlet and the outlet face are removed before the
 *   solve (they carry no current). Percolation uses tg_components (engine/core).
 * - Anisotropic spacing: face conductances use the true face areas and pitches.
 *
 * Solver: preconditioned conjugate gradients on the unknowns (conducting, percolating voxels), with the
 * aggregation multigrid V-cycle of tg_multigrid.h as preconditioner. Vectors p, r, q/z and the whole
 * preconditioner are single precision; the solution x is double; the residual is recomputed in double
 * (b - A x with double conductances) whenever the recurrence says it has fallen 1e-3 below the last check
 * or below tol, and replaces the recurrence residual ("reliable updates", Sleijpen & van der Vorst,
 * Computing 56 (1996) 141-163), so the final accuracy is that of double precision.
 * Convergence is declared only when the TRUE relative residual ||b - A x|| / ||b|| < tol AND the inlet and
 * outlet currents agree: |I_in - I_out| / max(|I_in|, |I_out|) < tol, after at least one CG iteration (never on
 * the initial guess alone, unless it solves the system exactly: zero residual), and with positive currents.
 * Otherwise converged = 0 and the numbers say how far it got. With strongly anisotropic voxels (aspect ratios
 * past ~1e4) double precision cannot show a relative residual below ~eps * (face conductance ratio): a residual
 * that stalls at that floor counts when the currents agree, and the message says so.
 * Conductivities are divided by the largest one that carries current; labels that both carry current with
 * conductivities more than 1e30 apart are refused (beyond the single-precision preconditioner), and tau and
 * sigma_eff are formed from normalised values, so tiny (even subnormal) conductivities give finite answers.
 * A volume in which nothing percolates gives tau = +inf, sigma_eff = 0,
 * percolates = 0 and a message, with no solve.
 *
 * Cost: build O(N) (classes, permutation, connected components); each CG iteration is about 7 passes over
 * the unknowns (operator, update, one V-cycle: 2+2 half-sweeps, restriction, prolongation) plus the coarse
 * levels. Memory per voxel: 1 (classes) + 8 (x, double) + 3 x 4 (p, r, q/z) + 1 (piece index) + the coarse
 * levels and runs (~23 bytes per unknown: ~7 per voxel at 30 % phase, TF-500: 0.86 GB) = ~29 bytes, plus 4 bytes transiently for the connected components; with the field, 8 more for the
 * potential and current outputs (allocated after the solver vectors are freed, except x).
 * Threading: OpenMP over planes, num_threads(ctx->nthreads); bit-identical results for any thread count.
 * Progress: tg_progress(ctx, fraction, "flux") from the iteration loop; cancel flag honoured (TG_ERR_CANCELLED).
 */
#ifndef TG_FLUX_H
#define TG_FLUX_H

#include "core/tg_core.h"
#include "core/tg_volume.h"
#include "transport/tg_multigrid.h"

enum { TG_FLUX_TAUFACTOR = 0, TG_FLUX_POREPY = 1 };
enum { TG_FLUX_TOTAL = 0, TG_FLUX_PERCOLATING = 1 };
enum { TG_FLUX_INSULATED = 0, TG_FLUX_PERIODIC = 1 };

typedef struct tg_flux_opts {
    int axis;              /* 0 = x, 1 = y, 2 = z */
    int boundary;          /* TG_FLUX_TAUFACTOR or TG_FLUX_POREPY */
    int sides;             /* the four side faces: TG_FLUX_INSULATED (no flux) or TG_FLUX_PERIODIC */
    int fraction;          /* which fraction `tau` uses: TG_FLUX_TOTAL or TG_FLUX_PERCOLATING */
    const double *labels;  /* the label values that have a conductivity (every label present must be listed) */
    const double *sigma;   /* their conductivities, finite, >= 0 */
    int nlabels;
    double tol;            /* > 0: relative residual and relative current mismatch */
    int max_iter;          /* CG iterations */
    tg_mg_opts solver;     /* the multigrid preconditioner (omega, nu, ...: tg_multigrid.h) */
} tg_flux_opts;

#define TG_FLUX_OPTS_INIT { 2, TG_FLUX_TAUFACTOR, TG_FLUX_INSULATED, TG_FLUX_TOTAL, NULL, NULL, 0, 1e-6, 2000, TG_MG_OPTS_INIT }

typedef struct tg_flux_result {
    int percolates;            /* 0: no conducting path; tau = inf, nothing solved */
    int converged;
    double tau;                /* with the fraction chosen in the options */
    double tau_total, tau_percolating;
    double sigma_eff;          /* effective conductivity, in the units of the given sigmas */
    double sigma_ref;          /* the largest given conductivity */
    double d_mean_total, d_mean_percolating; /* sum of fraction x sigma (total / percolating fractions) */
    double frac_total;         /* fraction of the volume with sigma > 0 */
    double frac_percolating;   /* fraction of the volume with sigma > 0 that percolates */
    double current_in, current_out; /* currents through the inlet and outlet faces for a potential difference of
                                       1 (V), in (units of sigma) x metres; I = sigma_eff * A / L */
    double mismatch;           /* |I_in - I_out| / max(|I_in|, |I_out|) */
    double residual;           /* true relative residual ||b - A x|| / ||b|| at the end */
    int iterations;
    double seconds;
    int levels;                /* multigrid levels */
    int64_t unknowns;          /* voxels solved for */
    double length, area;       /* L (m) and A (m^2) used for sigma_eff */
    double hot1, hot5;         /* with a current field: share of the total |j| carried by the top 1 % / 5 % of
                                  conducting voxels; NaN otherwise */
    size_t solver_bytes;       /* memory held by the solver (vectors + hierarchy) */
    char message[256];         /* why tau is inf, or why it did not converge; "" otherwise */
} tg_flux_result;

/* Solve along opt->axis. label_frac_total / label_frac_perc: optional (NULL) arrays of opt->nlabels entries
 * that receive the total / percolating volume fraction of each listed label.
 * potential, current: optional (NULL) outputs, f32 volumes with the labels' dims and spacing: the potential
 * (1 at the inlet, 0 at the outlet; NaN where no current can flow) and the current-density magnitude
 * relative to the mean (superficial) current density I/A (0 where no current flows).
 * Errors: TG_ERR_ARG for a float label volume, an axis outside 0..2, tol <= 0, a negative or non-finite
 * sigma, a label present in the volume without a conductivity, a repeated label, n < 2 along the axis with
 * the PoreSpy boundary. TG_ERR_CANCELLED when cancelled. */
tg_status tg_flux(tg_ctx *ctx, const tg_volume *labels, const tg_flux_opts *opt, tg_flux_result *res,
                  double *label_frac_total, double *label_frac_perc, tg_volume *potential, tg_volume *current);

#endif
