/* tg_multigrid.c — see tg_multigrid.h for the manual (operator, aggregation hierarchy, cycle, cost,
 * memory, threading).
 *
 * Fine level (level 0): cells indexed i = x + nx*(y + ny*z); faces come from the class table (lut) on the
 * fly. gb[0] / gb[1] hold the boundary conductances of planes 0 / nz-1 (nx*ny each). runs lists the x-runs
 * of unknowns of every row: row r = y + ny*z owns runs[2*roff[r] .. 2*roff[r+1]) as [x0, x1) pairs. Every
 * fine vector keeps 0 in the entries that are not unknowns (kernels only write unknowns), so neighbour reads
 * need no activity test: a face to a non-unknown has conductance 0 and its value is 0.
 *
 * Piece levels (1, 2, ...): a grid of blocks (block B = I + nbx*(J + nby*K) covers 1 << sh[a] cells of the
 * level above along each axis a, sh in {0, 1} chosen per level by choose_shifts); the unknowns are the
 * face-connected pieces of each block, numbered block by block, so the pieces of block B are poff[B] .. poff[B+1] and the pieces of a plane K are contiguous. Row p of the
 * Galerkin operator: diag[p] and the off-diagonal conductances aval[aoff[p] .. aoff[p+1]) to the pieces
 * acol[...] (sorted). Level l -> l+1 map: sub[i] (u8, fine voxel -> its piece inside its block, the piece
 * being poff_1[block] + sub[i]) for level 0, parent[p] (global piece id) for the others. gbp[p] is a piece's
 * boundary conductance, so diag[p] = gbp[p] + sum of its row (the exact forms use it).
 */
#include "transport/tg_multigrid.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define AI static inline __attribute__((always_inline))
#define TG_MG_MAX_LEVELS 48
#define TG_MG_SEMI 4.0   /* coarsen along the axes whose coupling is at least 1/TG_MG_SEMI of the strongest */
#define TG_MG_EXACT 16.0 /* exact forms of the kernels past this ratio of axis strengths */

typedef struct level {
    int64_t n[3], cells, nunk;
    int wrapx, wrapy;
    /* fine level */
    const uint8_t *cls;
    int ncls;
    const float *lut[3];
    uint8_t *code;      /* fast path (one conducting class): diagonal code per cell, see build_codes */
    float w[3], dtab[64], itab[64];
    uint8_t *sub;       /* fine level: index of a voxel's piece inside its 2x2x2 block (level 1) */
    /* coarse levels: unknowns are the pieces of the 2x2x2 blocks of the level above (blocks indexed like cells) */
    float *x, *b;
    int64_t *poff;      /* pieces of block B: poff[B] .. poff[B+1] */
    int64_t *aoff;      /* row of piece p: aoff[p] .. aoff[p+1] in acol/aval (off-diagonal conductances) */
    int32_t *acol;
    float *aval, *diag;
    int32_t *parent;    /* piece of the next level that holds this piece */
    float *gbp;         /* coarse levels: boundary conductance of each piece (its row sum) */
    /* every level */
    float *gb[2];
    int64_t *roff;
    int32_t *runs;
    double *part; /* per-plane partial sums */
    int sh[3];    /* blocks of the next level: 1 << sh[a] cells of this level along axis a (sh = 0 or 1) */
    double st[3]; /* coupling strength along each axis (the face conductance a full block face would have) */
    int gamma;    /* cycles this level gets from the level above (see set_gammas) */
    int exact;    /* residuals in difference form, Gauss-Seidel in correction form (anisotropic voxels) */
} level;

struct tg_mg {
    int nlev;
    level lev[TG_MG_MAX_LEVELS];
    tg_mg_opts opt;
    const tg_mg_fine *fine;
    float *zf;    /* a row of zeros (values, faces) */
    uint8_t *zc;  /* a row of class 0 */
    /* exact solve on the coarsest level */
    int64_t nd;
    int64_t *dmap;
    double *chol, *dv;
    double bnorm2;
    size_t bytes;
};

/* ---------------------------------------------------------------- rows and the stencil */

typedef struct rowp {
    int64_t y, z;
    const float *v, *vym, *vyp, *vzm, *vzp;   /* values of this row and its 4 neighbour rows */
    const uint8_t *c, *cym, *cyp, *czm, *czp; /* fine: classes of the same rows */
    const uint8_t *code;                      /* fast path: diagonal codes of this row */
    const float *gb0, *gb1;                   /* boundary conductances (or zeros) */
} rowp;

static inline int64_t rowoff(const level *L, int64_t y, int64_t z) { return L->n[0] * (y + L->n[1] * z); }

/* Point R at row (y, z) of level L for the value vector v (NULL: values not needed). */
static void row_setup(const tg_mg *mg, const level *L, const float *v, int64_t y, int64_t z, rowp *R)
{
    const int64_t ny = L->n[1], nz = L->n[2];
    const int64_t o = rowoff(L, y, z);
    int64_t oym = -1, oyp = -1, ozm = -1, ozp = -1;
    if (y > 0) oym = rowoff(L, y - 1, z);
    else if (L->wrapy) oym = rowoff(L, ny - 1, z);
    if (y + 1 < ny) oyp = rowoff(L, y + 1, z);
    else if (L->wrapy) oyp = rowoff(L, 0, z);
    if (z > 0) ozm = rowoff(L, y, z - 1);
    if (z + 1 < nz) ozp = rowoff(L, y, z + 1);
    R->y = y;
    R->z = z;
    const float *zf = mg->zf;
    if (v) {
        R->v = v + o;
        R->vym = oym >= 0 ? v + oym : zf;
        R->vyp = oyp >= 0 ? v + oyp : zf;
        R->vzm = ozm >= 0 ? v + ozm : zf;
        R->vzp = ozp >= 0 ? v + ozp : zf;
    } else {
        R->v = R->vym = R->vyp = R->vzm = R->vzp = zf;
    }
    const uint8_t *c = L->cls, *zc = mg->zc;
    R->c = c + o;
    R->cym = oym >= 0 ? c + oym : zc;
    R->cyp = oyp >= 0 ? c + oyp : zc;
    R->czm = ozm >= 0 ? c + ozm : zc;
    R->czp = ozp >= 0 ? c + ozp : zc;
    R->code = L->code ? L->code + o : NULL;
    R->gb0 = z == 0 ? L->gb[0] + L->n[0] * y : zf;
    R->gb1 = z == nz - 1 ? L->gb[1] + L->n[0] * y : zf;
}

/* Sum of g_ij * v_j over the 6 neighbours of cell x of the row, and the diagonal sum g_ij + gb. */
AI float gather(const level *L, const rowp *R, int64_t x, int fine, float *dout)
{
    const int64_t nx = L->n[0];
    float s = 0.0f, d, g;
    if (fine == 2) {
        /* one conducting class: every face between unknowns has the axis weight, and non-unknowns hold 0 */
        float vl = x > 0 ? R->v[x - 1] : (L->wrapx ? R->v[nx - 1] : 0.0f);
        float vr = x + 1 < nx ? R->v[x + 1] : (L->wrapx ? R->v[0] : 0.0f);
        s = L->w[0] * (vl + vr) + L->w[1] * (R->vym[x] + R->vyp[x]) + L->w[2] * (R->vzm[x] + R->vzp[x]);
        *dout = L->dtab[R->code[x]];
        return s;
    }
    d = R->gb0[x] + R->gb1[x];
    const int K = L->ncls, c = R->c[x];
    const float *lx = L->lut[0] + c * K, *ly = L->lut[1] + c * K, *lz = L->lut[2] + c * K;
    if (x > 0) { g = lx[R->c[x - 1]]; s += g * R->v[x - 1]; d += g; }
    else if (L->wrapx) { g = lx[R->c[nx - 1]]; s += g * R->v[nx - 1]; d += g; }
    if (x + 1 < nx) { g = lx[R->c[x + 1]]; s += g * R->v[x + 1]; d += g; }
    else if (L->wrapx) { g = lx[R->c[0]]; s += g * R->v[0]; d += g; }
    g = ly[R->cym[x]]; s += g * R->vym[x]; d += g;
    g = ly[R->cyp[x]]; s += g * R->vyp[x]; d += g;
    g = lz[R->czm[x]]; s += g * R->vzm[x]; d += g;
    g = lz[R->czp[x]]; s += g * R->vzp[x]; d += g;
    *dout = d;
    return s;
}

/* b_i - (A v)_i of cell x of the row in difference form, sum_j g_ij (v_i - v_j) + gb_i v_i: each face
 * contributes its own small difference, so strong faces across which v is nearly constant do not bury the weak
 * ones in rounding (d v_i - sum g_ij v_j loses every face below eps * d: with voxels 1000 times longer along one
 * axis the faces along it are 1e-6 of the others, below float's eps). */
AI float resid(const level *L, const rowp *R, int64_t x, int fine, float b, float *dout)
{
    if (!L->exact && !dout) {
        float d, s = gather(L, R, x, fine, &d);
        return b + s - d * R->v[x];
    }
    const int64_t nx = L->n[0];
    const float vi = R->v[x], gb = R->gb0[x] + R->gb1[x];
    float s = gb * vi;
    if (fine == 2) {
        const float *w = L->w;
#define M_(c) ((float)((c) != 0)) /* a neighbour that is not an unknown holds 0 but is no face */
        float sx = 0.0f;
        if (x > 0) sx += M_(R->c[x - 1]) * (vi - R->v[x - 1]);
        else if (L->wrapx) sx += M_(R->c[nx - 1]) * (vi - R->v[nx - 1]);
        if (x + 1 < nx) sx += M_(R->c[x + 1]) * (vi - R->v[x + 1]);
        else if (L->wrapx) sx += M_(R->c[0]) * (vi - R->v[0]);
        const float sy = M_(R->cym[x]) * (vi - R->vym[x]) + M_(R->cyp[x]) * (vi - R->vyp[x]);
        const float sz = M_(R->czm[x]) * (vi - R->vzm[x]) + M_(R->czp[x]) * (vi - R->vzp[x]);
#undef M_
        if (dout) *dout = L->dtab[R->code[x]];
        return b - (s + w[0] * sx + w[1] * sy + w[2] * sz);
    }
    const int K = L->ncls, c = R->c[x];
    const float *lx = L->lut[0] + c * K, *ly = L->lut[1] + c * K, *lz = L->lut[2] + c * K;
    float g[6] = {0.0f, 0.0f, ly[R->cym[x]], ly[R->cyp[x]], lz[R->czm[x]], lz[R->czp[x]]};
    if (x > 0) { g[0] = lx[R->c[x - 1]]; s += g[0] * (vi - R->v[x - 1]); }
    else if (L->wrapx) { g[0] = lx[R->c[nx - 1]]; s += g[0] * (vi - R->v[nx - 1]); }
    if (x + 1 < nx) { g[1] = lx[R->c[x + 1]]; s += g[1] * (vi - R->v[x + 1]); }
    else if (L->wrapx) { g[1] = lx[R->c[0]]; s += g[1] * (vi - R->v[0]); }
    s += g[2] * (vi - R->vym[x]) + g[3] * (vi - R->vyp[x]);
    s += g[4] * (vi - R->vzm[x]) + g[5] * (vi - R->vzp[x]);
    if (dout) *dout = gb + g[0] + g[1] + g[2] + g[3] + g[4] + g[5];
    return b - s;
}

/* The Gauss-Seidel update of cell x in correction form, v_i + r_i / d_i: the same value as (b_i + sum_j g_ij
 * v_j) / d_i in exact arithmetic, but rounding then perturbs v_i by a fraction of the (small) correction, not of
 * v_i itself: a potential that is flat across strong faces stays flat (the plain form scatters it by eps * v_i,
 * which strong faces turn into large spurious currents). */
AI float gs_value(const level *L, const rowp *R, int64_t x, int fine, float b)
{
    if (!L->exact) { /* the plain form: cheaper, and as good when the faces are of one size */
        float d, s = gather(L, R, x, fine, &d);
        return fine == 2 ? (b + s) * L->itab[R->code[x]] : (b + s) / d;
    }
    float d;
    const float r = resid(L, R, x, fine, b, fine == 2 ? NULL : &d);
    return R->v[x] + (fine == 2 ? r * L->itab[R->code[x]] : r / d);
}

/* ---------------------------------------------------------------- smoothing */

/* Gauss-Seidel on the cells of one colour ((x+y+z) % 2 == col) of plane z. rev: rows, runs and cells in
 * reverse order (the adjoint sweep). init: the vector is taken as zero (cells of the colour get b/d, the
 * others 0), so the caller need not clear it. */
AI void gs_plane(const tg_mg *mg, const level *L, float *v, const float *b, int64_t z, int col, int rev,
                 int init, int fine)
{
    const int64_t ny = L->n[1];
    rowp R;
    for (int64_t yy = 0; yy < ny; yy++) {
        const int64_t y = rev ? ny - 1 - yy : yy;
        row_setup(mg, L, init ? NULL : v, y, z, &R);
        const int64_t r = y + ny * z, o = rowoff(L, y, z);
        float *vr = v + o;
        const float *br = b + o;
        const int32_t *ru = L->runs;
        for (int64_t k0 = L->roff[r]; k0 < L->roff[r + 1]; k0++) {
            const int64_t k = rev ? L->roff[r] + L->roff[r + 1] - 1 - k0 : k0;
            const int64_t x0 = ru[2 * k], x1 = ru[2 * k + 1];
            float d;
            if (init) {
                for (int64_t x = x0; x < x1; x++) {
                    if (((x + y + z) & 1) == col) {
                        gather(L, &R, x, fine, &d);
                        vr[x] = fine == 2 ? br[x] * L->itab[R.code[x]] : br[x] / d;
                    } else {
                        vr[x] = 0.0f;
                    }
                }
                continue;
            }
            const int64_t first = x0 + ((x0 + y + z + col) & 1);
            if (!rev) {
                for (int64_t x = first; x < x1; x += 2) vr[x] = gs_value(L, &R, x, fine, br[x]);
            } else {
                int64_t last = x1 - 1;
                if (((last + y + z) & 1) != col) last--;
                for (int64_t x = last; x >= x0; x -= 2) vr[x] = gs_value(L, &R, x, fine, br[x]);
            }
        }
    }
}

static void gs_half(tg_ctx *ctx, const tg_mg *mg, const level *L, float *v, const float *b, int col, int rev,
                    int init)
{
    const int64_t nz = L->n[2];
    const int par = L->cells > 32768;
    if (L->code) {
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (par)
        for (int64_t zz = 0; zz < nz; zz++) gs_plane(mg, L, v, b, rev ? nz - 1 - zz : zz, col, rev, init, 2);
    } else {
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (par)
        for (int64_t zz = 0; zz < nz; zz++) gs_plane(mg, L, v, b, rev ? nz - 1 - zz : zz, col, rev, init, 1);
    }
}

/* ---------------------------------------------------------------- transfer between levels */

/* b_c = P^T (b - A v): the residual of level l summed over each 2x2x2 block into level l+1. */
AI void restrict_plane(const tg_mg *mg, const level *L, const float *v, const float *b, level *C, int64_t K,
                       int only, int fine)
{
    const int64_t ncx = C->n[0], ncy = C->n[1];
    const int s0 = L->sh[0], s1 = L->sh[1], s2 = L->sh[2];
    float *bc = C->b;
    const int64_t q0 = C->poff[ncx * ncy * K], q1 = C->poff[ncx * ncy * (K + 1)];
    memset(bc + q0, 0, sizeof(float) * (size_t)(q1 - q0));
    rowp R;
    for (int64_t z = K << s2; z < (K + 1) << s2 && z < L->n[2]; z++) {
        for (int64_t y = 0; y < L->n[1]; y++) {
            row_setup(mg, L, v, y, z, &R);
            const int64_t r = y + L->n[1] * z, o = rowoff(L, y, z);
            const int64_t *pc = C->poff + ncx * ((y >> s1) + ncy * K);
            const uint8_t *sub = L->sub + o;
            for (int64_t k = L->roff[r]; k < L->roff[r + 1]; k++) {
                const int64_t x0 = L->runs[2 * k], x1 = L->runs[2 * k + 1];
                const int64_t first = only < 0 ? x0 : x0 + ((x0 + y + z + only) & 1), step = only < 0 ? 1 : 2;
                for (int64_t x = first; x < x1; x += step) bc[pc[x >> s0] + sub[x]] += resid(L, &R, x, fine, b[o + x], NULL);
            }
        }
    }
}

/* After a black half-sweep the black cells have zero residual (unless a periodic wrap of odd length makes
 * two black cells neighbours), so only the red ones are summed. */
static void restrict_res(tg_ctx *ctx, const tg_mg *mg, const level *L, const float *v, const float *b, level *C)
{
    const int par = L->cells > 32768;
    const int only = ((L->wrapx && (L->n[0] & 1)) || (L->wrapy && (L->n[1] & 1))) ? -1 : 0;
    if (L->code) {
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (par)
        for (int64_t K = 0; K < C->n[2]; K++) restrict_plane(mg, L, v, b, C, K, only, 2);
    } else {
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (par)
        for (int64_t K = 0; K < C->n[2]; K++) restrict_plane(mg, L, v, b, C, K, only, 1);
    }
}

/* v += omega * P v_c on the unknowns of level L. */
static void prolong(tg_ctx *ctx, const level *L, float *v, const level *C, float omega)
{
    const int64_t ny = L->n[1], ncx = C->n[0], ncy = C->n[1];
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (L->cells > 32768)
    for (int64_t z = 0; z < L->n[2]; z++) {
        for (int64_t y = 0; y < ny; y++) {
            const int64_t r = y + ny * z;
            float *vr = v + rowoff(L, y, z);
            const int64_t *pc = C->poff + ncx * ((y >> L->sh[1]) + ncy * (z >> L->sh[2]));
            const uint8_t *sub = L->sub + rowoff(L, y, z);
            const int s0 = L->sh[0];
            for (int64_t k = L->roff[r]; k < L->roff[r + 1]; k++)
                for (int64_t x = L->runs[2 * k]; x < L->runs[2 * k + 1]; x++) vr[x] += omega * C->x[pc[x >> s0] + sub[x]];
        }
    }
}

/* ---------------------------------------------------------------- coarse levels: pieces of 2x2x2 blocks */

/* Gauss-Seidel on the pieces of the blocks of one colour ((I+J+K) % 2 == col). Pieces of one block are not
 * connected to each other, and blocks of one colour only touch across an odd periodic wrap (inside a plane),
 * so the planes of one colour can be updated in parallel. */
static void pgs_half(tg_ctx *ctx, const level *L, float *v, const float *b, int col, int rev, int init)
{
    const int64_t nx = L->n[0], ny = L->n[1], nz = L->n[2];
    const int64_t *poff = L->poff, *aoff = L->aoff;
    const int32_t *acol = L->acol;
    const float *aval = L->aval, *diag = L->diag;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (L->nunk > 4096)
    for (int64_t zz = 0; zz < nz; zz++) {
        const int64_t z = rev ? nz - 1 - zz : zz;
        for (int64_t yy = 0; yy < ny; yy++) {
            const int64_t y = rev ? ny - 1 - yy : yy;
            const int64_t ro = nx * (y + ny * z);
            if (init) {
                for (int64_t x = 0; x < nx; x++) {
                    const int on = ((x + y + z) & 1) == col;
                    for (int64_t p = poff[ro + x]; p < poff[ro + x + 1]; p++) v[p] = on ? b[p] / diag[p] : 0.0f;
                }
                continue;
            }
            const int64_t first = (y + z + col) & 1;
            int64_t last = nx - 1;
            if (((last + y + z) & 1) != col) last--;
            for (int64_t xx = first; xx < nx; xx += 2) {
                const int64_t x = rev ? last - (xx - first) : xx;
                const int64_t p0 = poff[ro + x], p1 = poff[ro + x + 1];
                for (int64_t pp = p0; pp < p1; pp++) {
                    const int64_t p = rev ? p0 + p1 - 1 - pp : pp;
                    const float vp = v[p];
                    if (!L->exact) {
                        float s = b[p];
                        for (int64_t k = aoff[p]; k < aoff[p + 1]; k++) s += aval[k] * v[acol[k]];
                        v[p] = s / diag[p];
                        continue;
                    }
                    float s = L->gbp[p] * vp; /* correction form, as gs_value() */
                    for (int64_t k = aoff[p]; k < aoff[p + 1]; k++) s += aval[k] * (vp - v[acol[k]]);
                    v[p] = vp + (b[p] - s) / diag[p];
                }
            }
        }
    }
}

/* b_c = P^T (b - A v) from a piece level L into the next piece level C. */
static void prestrict(tg_ctx *ctx, const level *L, const float *v, const float *b, level *C)
{
    const int64_t plane = L->n[0] * L->n[1], cplane = C->n[0] * C->n[1];
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (L->nunk > 4096)
    for (int64_t K = 0; K < C->n[2]; K++) {
        for (int64_t q = C->poff[cplane * K]; q < C->poff[cplane * (K + 1)]; q++) C->b[q] = 0.0f;
        const int64_t z0 = K << L->sh[2], z1 = (K + 1) << L->sh[2] < L->n[2] ? (K + 1) << L->sh[2] : L->n[2];
        for (int64_t p = L->poff[plane * z0]; p < L->poff[plane * z1]; p++) {
            const float vp = v[p];
            float s;
            if (L->exact) { /* difference form, as resid() on the fine level */
                s = L->gbp[p] * vp;
                for (int64_t k = L->aoff[p]; k < L->aoff[p + 1]; k++) s += L->aval[k] * (vp - v[L->acol[k]]);
            } else {
                s = L->diag[p] * vp;
                for (int64_t k = L->aoff[p]; k < L->aoff[p + 1]; k++) s -= L->aval[k] * v[L->acol[k]];
            }
            C->b[L->parent[p]] += b[p] - s;
        }
    }
}

static void pprolong(tg_ctx *ctx, const level *L, float *v, const level *C, float omega)
{
    const int64_t plane = L->n[0] * L->n[1];
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (L->nunk > 4096)
    for (int64_t z = 0; z < L->n[2]; z++)
        for (int64_t p = L->poff[plane * z]; p < L->poff[plane * (z + 1)]; p++) v[p] += omega * C->x[L->parent[p]];
}

/* ---------------------------------------------------------------- exact coarsest solve */

static void dense_solve(tg_mg *mg, level *L)
{
    const int64_t n = mg->nd;
    double *y = mg->dv;
    const double *A = mg->chol;
    for (int64_t i = 0; i < n; i++) {
        double s = L->b[mg->dmap[i]];
        for (int64_t k = 0; k < i; k++) s -= A[i * n + k] * y[k];
        y[i] = s / A[i * n + i];
    }
    for (int64_t i = n - 1; i >= 0; i--) {
        double s = y[i];
        for (int64_t k = i + 1; k < n; k++) s -= A[k * n + i] * y[k];
        y[i] = s / A[i * n + i];
    }
    for (int64_t i = 0; i < n; i++) L->x[mg->dmap[i]] = (float)y[i];
}

/* ---------------------------------------------------------------- the cycle */

/* One cycle on level l for A v = b. zero: v starts at zero (and is not read). Coarse levels other than the
 * coarsest get gamma cycles (gamma = 2: a W-cycle; each extra cycle starts from the current iterate, so the
 * composite error propagation E^gamma stays self-adjoint in the A inner product). */
static void cycle(tg_ctx *ctx, tg_mg *mg, int l, float *v, const float *b, int zero)
{
    level *L = &mg->lev[l];
    if (l == mg->nlev - 1) {
        dense_solve(mg, L);
        return;
    }
    level *C = &mg->lev[l + 1];
    const int nu = mg->opt.nu;
    const int fine = l == 0;
    for (int s = 0; s < nu; s++) {
        if (fine) {
            gs_half(ctx, mg, L, v, b, 0, 0, zero && s == 0);
            gs_half(ctx, mg, L, v, b, 1, 0, 0);
        } else {
            pgs_half(ctx, L, v, b, 0, 0, zero && s == 0);
            pgs_half(ctx, L, v, b, 1, 0, 0);
        }
    }
    if (fine) restrict_res(ctx, mg, L, v, b, C);
    else prestrict(ctx, L, v, b, C);
    const int g = l + 1 < mg->nlev - 1 ? C->gamma : 1;
    for (int k = 0; k < g; k++) cycle(ctx, mg, l + 1, C->x, C->b, k == 0);
    /* over-correction (Braess) on the fine level and on W-cycled levels only. With B_c <= A_c^-1 below, a W-cycled
     * level's error propagator lies in (1 - omega, 1), inside (-1, 1) for omega < 2, so squaring it keeps the
     * preconditioner positive; a V-cycled level keeps B <= A^-1 for the level above only with omega = 1 (its error
     * propagator is then >= 0). So any mix of V and W levels gives a symmetric positive definite preconditioner. */
    const float omega = l == 0 || L->gamma == 2 ? (float)mg->opt.omega : 1.0f;
    if (fine) prolong(ctx, L, v, C, omega);
    else pprolong(ctx, L, v, C, omega);
    for (int s = 0; s < nu; s++) {
        if (fine) {
            gs_half(ctx, mg, L, v, b, 1, 1, 0);
            gs_half(ctx, mg, L, v, b, 0, 1, 0);
        } else {
            pgs_half(ctx, L, v, b, 1, 1, 0);
            pgs_half(ctx, L, v, b, 0, 1, 0);
        }
    }
}

void tg_mg_precondition(tg_ctx *ctx, tg_mg *mg, const float *r, float *z)
{
    if (mg->nlev == 1) {
        /* the fine level is the coarsest: exact solve through the level's own b/x buffers */
        level *L = &mg->lev[0];
        for (int64_t i = 0; i < mg->nd; i++) L->b[mg->dmap[i]] = r[mg->dmap[i]];
        dense_solve(mg, L);
        for (int64_t i = 0; i < mg->nd; i++) z[mg->dmap[i]] = L->x[mg->dmap[i]];
        return;
    }
    cycle(ctx, mg, 0, z, r, 1);
}

/* ---------------------------------------------------------------- fine-level operator and vector ops */

AI double apply_plane(const tg_mg *mg, const level *L, const float *p, float *q, int64_t z, int fine)
{
    double acc = 0.0;
    rowp R;
    for (int64_t y = 0; y < L->n[1]; y++) {
        row_setup(mg, L, p, y, z, &R);
        const int64_t r = y + L->n[1] * z, o = rowoff(L, y, z);
        for (int64_t k = L->roff[r]; k < L->roff[r + 1]; k++) {
            for (int64_t x = L->runs[2 * k]; x < L->runs[2 * k + 1]; x++) {
                float qq = -resid(L, &R, x, fine, 0.0f, NULL);
                q[o + x] = qq;
                acc += (double)p[o + x] * (double)qq;
            }
        }
    }
    return acc;
}

static double sum_parts(const double *part, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += part[i];
    return s;
}

double tg_mg_apply(tg_ctx *ctx, tg_mg *mg, const float *p, float *q)
{
    level *L = &mg->lev[0];
    if (L->code) {
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (L->cells > 32768)
        for (int64_t z = 0; z < L->n[2]; z++) L->part[z] = apply_plane(mg, L, p, q, z, 2);
    } else {
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (L->cells > 32768)
        for (int64_t z = 0; z < L->n[2]; z++) L->part[z] = apply_plane(mg, L, p, q, z, 1);
    }
    return sum_parts(L->part, L->n[2]);
}

/* r = b - A x in double for plane z; returns the plane's ||r||^2 and adds its sum of r to *sr. */
static double residual_plane(const tg_mg *mg, const level *L, const double *xv, float *rout, int64_t z,
                             double *sr)
{
    const tg_mg_fine *F = mg->fine;
    const int64_t nx = L->n[0], ny = L->n[1], nz = L->n[2], plane = nx * ny;
    const int K = L->ncls;
    double acc = 0.0, sum = 0.0;
    for (int64_t y = 0; y < ny; y++) {
        const int64_t r = y + ny * z, o = rowoff(L, y, z);
        int64_t oym = -1, oyp = -1;
        if (y > 0) oym = o - nx;
        else if (L->wrapy) oym = rowoff(L, ny - 1, z);
        if (y + 1 < ny) oyp = o + nx;
        else if (L->wrapy) oyp = rowoff(L, 0, z);
        const int64_t ozm = z > 0 ? o - plane : -1, ozp = z + 1 < nz ? o + plane : -1;
        for (int64_t k = L->roff[r]; k < L->roff[r + 1]; k++) {
            for (int64_t x = L->runs[2 * k]; x < L->runs[2 * k + 1]; x++) {
                const int64_t i = o + x;
                const int c = L->cls[i];
                const double *lx = F->lutd[0] + c * K, *ly = F->lutd[1] + c * K, *lz = F->lutd[2] + c * K;
                const double xi = xv[i];
                double bi = 0.0, ax = 0.0, g;
                if (z == 0) { bi = F->gbin[y * nx + x]; ax += bi * xi; }
                if (z == nz - 1) ax += F->gbout[y * nx + x] * xi;
                int64_t j = x > 0 ? i - 1 : (L->wrapx ? o + nx - 1 : -1);
                if (j >= 0) { g = lx[L->cls[j]]; ax += g * (xi - xv[j]); }
                j = x + 1 < nx ? i + 1 : (L->wrapx ? o : -1);
                if (j >= 0) { g = lx[L->cls[j]]; ax += g * (xi - xv[j]); }
                if (oym >= 0) { j = oym + x; g = ly[L->cls[j]]; ax += g * (xi - xv[j]); }
                if (oyp >= 0) { j = oyp + x; g = ly[L->cls[j]]; ax += g * (xi - xv[j]); }
                if (ozm >= 0) { j = ozm + x; g = lz[L->cls[j]]; ax += g * (xi - xv[j]); }
                if (ozp >= 0) { j = ozp + x; g = lz[L->cls[j]]; ax += g * (xi - xv[j]); }
                const double ri = bi - ax;
                if (rout) rout[i] = (float)ri;
                acc += ri * ri;
                sum += ri;
            }
        }
    }
    *sr = sum;
    return acc;
}

double tg_mg_residual(tg_ctx *ctx, tg_mg *mg, const double *x, float *r, double *sum_r)
{
    level *L = &mg->lev[0];
    double *sums = L->part + L->n[2];
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (L->cells > 32768)
    for (int64_t z = 0; z < L->n[2]; z++) L->part[z] = residual_plane(mg, L, x, r, z, &sums[z]);
    if (sum_r) *sum_r = sum_parts(sums, L->n[2]);
    return sum_parts(L->part, L->n[2]);
}

double tg_mg_rhs_norm2(const tg_mg *mg) { return mg->bnorm2; }

double tg_mg_update(tg_ctx *ctx, tg_mg *mg, double a, const float *p, const float *q, double *x, float *r)
{
    level *L = &mg->lev[0];
    const int64_t plane = L->n[0] * L->n[1];
    const float af = (float)a;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (L->cells > 32768)
    for (int64_t z = 0; z < L->n[2]; z++) {
        double s0 = 0, s1 = 0;
        const int64_t o = plane * z;
        int64_t i = 0;
        for (; i + 1 < plane; i += 2) {
            x[o + i] += a * p[o + i];
            x[o + i + 1] += a * p[o + i + 1];
            float r0 = r[o + i] - af * q[o + i], r1 = r[o + i + 1] - af * q[o + i + 1];
            r[o + i] = r0;
            r[o + i + 1] = r1;
            s0 += (double)r0 * r0;
            s1 += (double)r1 * r1;
        }
        for (; i < plane; i++) {
            x[o + i] += a * p[o + i];
            float r0 = r[o + i] - af * q[o + i];
            r[o + i] = r0;
            s0 += (double)r0 * r0;
        }
        L->part[z] = s0 + s1;
    }
    return sum_parts(L->part, L->n[2]);
}

double tg_mg_dot(tg_ctx *ctx, tg_mg *mg, const float *a, const float *b)
{
    level *L = &mg->lev[0];
    const int64_t plane = L->n[0] * L->n[1];
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (L->cells > 32768)
    for (int64_t z = 0; z < L->n[2]; z++) {
        double s0 = 0, s1 = 0;
        const float *pa = a + plane * z, *pb = b + plane * z;
        int64_t i = 0;
        for (; i + 1 < plane; i += 2) {
            s0 += (double)pa[i] * pb[i];
            s1 += (double)pa[i + 1] * pb[i + 1];
        }
        for (; i < plane; i++) s0 += (double)pa[i] * pb[i];
        L->part[z] = s0 + s1;
    }
    return sum_parts(L->part, L->n[2]);
}

void tg_mg_xpby(tg_ctx *ctx, tg_mg *mg, const float *z, double beta, float *p)
{
    level *L = &mg->lev[0];
    const float bf = (float)beta;
    const int64_t n = L->cells;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (n > 32768)
    for (int64_t i = 0; i < n; i++) p[i] = z[i] + bf * p[i];
}

/* ---------------------------------------------------------------- building the hierarchy */

static void *mg_alloc(tg_mg *mg, size_t bytes, int zero)
{
    void *p = zero ? tg_calloc(1, bytes ? bytes : 1) : tg_malloc(bytes ? bytes : 1);
    if (p) mg->bytes += bytes;
    return p;
}

/* Run lists of the unknowns of the fine level, from an activity test per cell (the classes). */
static tg_status build_runs(tg_ctx *ctx, tg_mg *mg, level *L, const uint8_t *act)
{
    const int64_t nx = L->n[0], rows = L->n[1] * L->n[2];
    L->roff = mg_alloc(mg, sizeof(int64_t) * (size_t)(rows + 1), 1);
    if (!L->roff) return tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for the run lists (%lld rows)", (long long)rows);
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) if (L->cells > 32768)
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *a = act + nx * r;
        int64_t cnt = 0;
        for (int64_t x = 0; x < nx; x++)
            if (a[x] && (x == 0 || !a[x - 1])) cnt++;
        L->roff[r + 1] = cnt;
    }
    for (int64_t r = 0; r < rows; r++) L->roff[r + 1] += L->roff[r];
    L->runs = mg_alloc(mg, sizeof(int32_t) * 2 * (size_t)(L->roff[rows] + 1), 0);
    if (!L->runs) return tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for %lld runs", (long long)L->roff[rows]);
    int64_t nunk = 0;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) reduction(+ : nunk) if (L->cells > 32768)
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *a = act + nx * r;
        int64_t k = L->roff[r];
        for (int64_t x = 0; x < nx; x++) {
            if (!a[x]) continue;
            if (x == 0 || !a[x - 1]) L->runs[2 * k] = (int32_t)x;
            nunk++;
            if (x + 1 == nx || !a[x + 1]) { L->runs[2 * k + 1] = (int32_t)(x + 1); k++; }
        }
    }
    L->nunk = nunk;
    return TG_OK;
}

/* Fast path for one conducting class (ncls == 2): all faces between unknowns along axis a have the same
 * conductance w[a], so the diagonal is w0*cx + w1*cy + w2*(cz + boundary), with cx, cy, cz in 0..2 the
 * unknown neighbours along each axis and the boundary conductances in units of w2 (0, 1 or 2 on each end
 * plane; 1 for PoreSpy's first/last-layer faces, 2 for TauFactor's half-voxel faces). code = cx + 3 cy + 9 ez. */
static tg_status build_codes(tg_ctx *ctx, tg_mg *mg, level *L)
{
    const tg_mg_fine *F = mg->fine;
    const int64_t nx = L->n[0], ny = L->n[1], nz = L->n[2], plane = nx * ny;
    for (int a = 0; a < 3; a++) L->w[a] = F->lut[a][1 * 2 + 1];
    if (!(L->w[2] > 0.0f)) return TG_OK;
    for (int i = 0; i < plane; i++) {
        double e0 = F->gbin[i] / L->w[2], e1 = F->gbout[i] / L->w[2];
        if ((e0 != 0.0 && e0 != 1.0 && e0 != 2.0) || (e1 != 0.0 && e1 != 1.0 && e1 != 2.0)) return TG_OK; /* general path */
    }
    L->code = mg_alloc(mg, (size_t)L->cells, 0);
    if (!L->code) return tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for the diagonal codes");
    for (int cx = 0; cx < 3; cx++)
        for (int cy = 0; cy < 3; cy++)
            for (int ez = 0; ez < 7; ez++) {
                const int c = cx + 3 * cy + 9 * ez;
                L->dtab[c] = L->w[0] * cx + L->w[1] * cy + L->w[2] * ez;
                L->itab[c] = L->dtab[c] > 0.0f ? 1.0f / L->dtab[c] : 0.0f;
            }
    const uint8_t *cl = L->cls;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++) {
                const int64_t i = x + nx * (y + ny * z);
                if (!cl[i]) { L->code[i] = 0; continue; }
                int cx = 0, cy = 0, ez = 0;
                if (x > 0) cx += cl[i - 1] != 0; else if (L->wrapx) cx += cl[i + nx - 1] != 0;
                if (x + 1 < nx) cx += cl[i + 1] != 0; else if (L->wrapx) cx += cl[i - nx + 1] != 0;
                if (y > 0) cy += cl[i - nx] != 0; else if (L->wrapy) cy += cl[i + plane - nx] != 0;
                if (y + 1 < ny) cy += cl[i + nx] != 0; else if (L->wrapy) cy += cl[i - plane + nx] != 0;
                if (z > 0) ez += cl[i - plane] != 0;
                if (z + 1 < nz) ez += cl[i + plane] != 0;
                if (z == 0) ez += (int)(F->gbin[x + nx * y] / L->w[2]);
                if (z == nz - 1) ez += (int)(F->gbout[x + nx * y] / L->w[2]);
                L->code[i] = (uint8_t)(cx + 3 * cy + 9 * ez);
            }
    return TG_OK;
}

/* The conductance of the forward face along axis a of cell (x,y,z) of the level (0 past a non-periodic end). */
static float face(const level *L, int a, int64_t x, int64_t y, int64_t z)
{
    const int64_t i = x + L->n[0] * (y + L->n[1] * z);
    int64_t j;
    if (a == 0) {
        if (x + 1 < L->n[0]) j = i + 1;
        else if (L->wrapx) j = i - x;
        else return 0.0f;
    } else if (a == 1) {
        if (y + 1 < L->n[1]) j = i + L->n[0];
        else if (L->wrapy) j = x + L->n[0] * L->n[1] * z;
        else return 0.0f;
    } else {
        if (z + 1 < L->n[2]) j = i + L->n[0] * L->n[1];
        else return 0.0f;
    }
    return L->lut[a][L->cls[i] * L->ncls + L->cls[j]];
}


/* ---------------------------------------------------------------- building a piece level */

typedef struct sbscr {
    int64_t *id, *nid, *ep; /* members, their neighbours, a piece's external neighbours (as next-level ids) */
    double *gbm;            /* members' boundary conductances */
    float *ng, *eg;
    int *nn, *uf, *lab;
} sbscr;

static int uf_find(int *uf, int a)
{
    while (uf[a] != a) a = uf[a] = uf[uf[a]];
    return a;
}

/* The members of superblock (I,J,K) of C (L's unknowns inside its child blocks: 2 or 1 along each axis, L->sh),
 * each with its boundary conductance and its neighbour list; returns their number. */
static int sb_members(const tg_mg *mg, const level *L, int R, int64_t I, int64_t J, int64_t K, sbscr *S)
{
    const tg_mg_fine *F = mg->fine;
    const int64_t nx = L->n[0], ny = L->n[1], nz = L->n[2], plane = nx * ny;
    const int s0 = L->sh[0], s1 = L->sh[1], s2 = L->sh[2];
    int M = 0;
    for (int64_t z = K << s2; z < (K + 1) << s2 && z < nz; z++)
        for (int64_t y = J << s1; y < (J + 1) << s1 && y < ny; y++)
            for (int64_t x = I << s0; x < (I + 1) << s0 && x < nx; x++) {
                const int64_t i = x + nx * (y + ny * z);
                if (L->cls) {
                    const int c = L->cls[i];
                    if (!c) continue;
                    int64_t js[6];
                    int ax[6], k = 0;
                    if (x > 0) { js[k] = i - 1; ax[k++] = 0; } else if (L->wrapx) { js[k] = i + nx - 1; ax[k++] = 0; }
                    if (x + 1 < nx) { js[k] = i + 1; ax[k++] = 0; } else if (L->wrapx) { js[k] = i - nx + 1; ax[k++] = 0; }
                    if (y > 0) { js[k] = i - nx; ax[k++] = 1; } else if (L->wrapy) { js[k] = i + plane - nx; ax[k++] = 1; }
                    if (y + 1 < ny) { js[k] = i + nx; ax[k++] = 1; } else if (L->wrapy) { js[k] = i - plane + nx; ax[k++] = 1; }
                    if (z > 0) { js[k] = i - plane; ax[k++] = 2; }
                    if (z + 1 < nz) { js[k] = i + plane; ax[k++] = 2; }
                    double gb = 0.0;
                    if (z == 0) gb += F->gbin[x + nx * y];
                    if (z == nz - 1) gb += F->gbout[x + nx * y];
                    int nn = 0;
                    for (int t = 0; t < k; t++) {
                        const float g = L->lut[ax[t]][c * L->ncls + L->cls[js[t]]];
                        if (g == 0.0f) continue;
                        S->nid[M * R + nn] = js[t];
                        S->ng[M * R + nn] = g;
                        nn++;
                    }
                    S->id[M] = i;
                    S->gbm[M] = gb;
                    S->nn[M] = nn;
                    M++;
                } else {
                    for (int64_t p = L->poff[i]; p < L->poff[i + 1]; p++) {
                        int nn = 0;
                        for (int64_t k = L->aoff[p]; k < L->aoff[p + 1]; k++) {
                            S->nid[M * R + nn] = L->acol[k];
                            S->ng[M * R + nn] = L->aval[k];
                            nn++;
                        }
                        S->id[M] = p;
                        S->gbm[M] = L->gbp[p];
                        S->nn[M] = nn;
                        M++;
                    }
                }
            }
    return M;
}

static int sb_find(const sbscr *S, int M, int64_t j)
{
    for (int m = 0; m < M; m++)
        if (S->id[m] == j) return m;
    return -1;
}

/* The next-level id of L's unknown j (parents must be final). */
static int64_t up_id(const level *L, const level *C, int64_t j)
{
    if (!L->cls) return L->parent[j];
    const int64_t nx = L->n[0], ny = L->n[1], x = j % nx, y = (j / nx) % ny, z = j / (nx * ny);
    return C->poff[(x >> L->sh[0]) + C->n[0] * ((y >> L->sh[1]) + C->n[1] * (z >> L->sh[2]))] + L->sub[j];
}

/* mode 0: label the connected pieces of the superblock (sub / parent get the local piece index), return their
 * number. mode 1: count the row of every piece into C->aoff[p+1]. mode 2: write rows and diagonals. */
static int64_t sb_process(const tg_mg *mg, level *L, level *C, int R, int64_t I, int64_t J, int64_t K, int mode,
                          sbscr *S)
{
    const int M = sb_members(mg, L, R, I, J, K, S);
    if (M == 0) return 0;
    for (int m = 0; m < M; m++) S->uf[m] = m;
    for (int m = 0; m < M; m++)
        for (int t = 0; t < S->nn[m]; t++) {
            const int o = sb_find(S, M, S->nid[m * R + t]);
            if (o >= 0) {
                int a = uf_find(S->uf, m), b = uf_find(S->uf, o);
                if (a != b) S->uf[a > b ? a : b] = a < b ? a : b;
            }
        }
    int np = 0;
    for (int m = 0; m < M; m++) {
        const int r = uf_find(S->uf, m);
        S->lab[m] = r == m ? np++ : S->lab[r];
    }
    if (mode == 0) {
        for (int m = 0; m < M; m++) {
            if (L->cls) L->sub[S->id[m]] = (uint8_t)S->lab[m];
            else L->parent[S->id[m]] = S->lab[m];
        }
        return np;
    }
    const int64_t base = C->poff[I + C->n[0] * (J + C->n[1] * K)];
    for (int q = 0; q < np; q++) {
        int ne = 0;
        double gb = 0.0;
        for (int m = 0; m < M; m++) {
            if (S->lab[m] != q) continue;
            gb += S->gbm[m];
            for (int t = 0; t < S->nn[m]; t++) {
                const int64_t j = S->nid[m * R + t];
                const float g = S->ng[m * R + t];
                if (sb_find(S, M, j) >= 0) continue; /* inside the piece: drops out of P^T A P */
                const int64_t pj = up_id(L, C, j);
                int e = 0;
                while (e < ne && S->ep[e] != pj) e++;
                if (e == ne) { S->ep[ne] = pj; S->eg[ne] = 0.0f; ne++; }
                S->eg[e] += g;
            }
        }
        const int64_t p = base + q;
        if (mode == 1) { C->aoff[p + 1] = ne; continue; }
        /* sorted by column: a fixed order, independent of the member order */
        for (int e = 1; e < ne; e++) {
            int64_t c = S->ep[e];
            float g = S->eg[e];
            int f = e - 1;
            while (f >= 0 && S->ep[f] > c) { S->ep[f + 1] = S->ep[f]; S->eg[f + 1] = S->eg[f]; f--; }
            S->ep[f + 1] = c;
            S->eg[f + 1] = g;
        }
        /* the diagonal as the row sum (external faces + boundary), never as member diagonals minus inner faces:
         * that difference cancels catastrophically when strong inner faces dwarf the weak outer ones */
        double d = gb;
        for (int e = 0; e < ne; e++) {
            C->acol[C->aoff[p] + e] = (int32_t)S->ep[e];
            C->aval[C->aoff[p] + e] = S->eg[e];
            d += S->eg[e];
        }
        C->diag[p] = (float)d;
        C->gbp[p] = (float)gb;
    }
    return np;
}

/* Level C (sizes set) from level L: the connected pieces of every 2x2x2 block of L become C's unknowns. */
static tg_status coarsen_pieces(tg_ctx *ctx, tg_mg *mg, level *L, level *C)
{
    tg_status st = TG_OK;
    const int64_t ncx = C->n[0], ncy = C->n[1], ncz = C->n[2], cplane = ncx * ncy;
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    sbscr *S = tg_calloc((size_t)nt, sizeof *S);
    if (!S) return tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for a coarse level");
    /* scratch bounds: members per superblock and neighbours per member */
    int64_t Mmax = 8, R = 6;
    if (!L->cls) {
        R = 1;
        for (int64_t p = 0; p < L->nunk; p++)
            if (L->aoff[p + 1] - L->aoff[p] > R) R = L->aoff[p + 1] - L->aoff[p];
        Mmax = 1;
        for (int64_t K = 0; K < ncz; K++)
            for (int64_t J = 0; J < ncy; J++)
                for (int64_t I = 0; I < ncx; I++) {
                    int64_t m = 0;
                    for (int64_t z = K << L->sh[2]; z < (K + 1) << L->sh[2] && z < L->n[2]; z++)
                        for (int64_t y = J << L->sh[1]; y < (J + 1) << L->sh[1] && y < L->n[1]; y++) {
                            const int64_t o = L->n[0] * (y + L->n[1] * z);
                            const int64_t x1 = (I + 1) << L->sh[0] < L->n[0] ? (I + 1) << L->sh[0] : L->n[0];
                            m += L->poff[o + x1] - L->poff[o + (I << L->sh[0])];
                        }
                    if (m > Mmax) Mmax = m;
                }
    }
    if (Mmax > 255 && L->cls) Mmax = 255;
    for (int t = 0; t < nt; t++) {
        S[t].id = tg_malloc(sizeof(int64_t) * (size_t)Mmax);
        S[t].nid = tg_malloc(sizeof(int64_t) * (size_t)(Mmax * R));
        S[t].ep = tg_malloc(sizeof(int64_t) * (size_t)(Mmax * R));
        S[t].gbm = tg_malloc(sizeof(double) * (size_t)Mmax);
        S[t].ng = tg_malloc(sizeof(float) * (size_t)(Mmax * R));
        S[t].eg = tg_malloc(sizeof(float) * (size_t)(Mmax * R));
        S[t].nn = tg_malloc(sizeof(int) * (size_t)Mmax);
        S[t].uf = tg_malloc(sizeof(int) * (size_t)Mmax);
        S[t].lab = tg_malloc(sizeof(int) * (size_t)Mmax);
        if (!S[t].id || !S[t].nid || !S[t].ep || !S[t].gbm || !S[t].ng || !S[t].eg || !S[t].nn || !S[t].uf || !S[t].lab) {
            st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for a coarse level");
            goto done;
        }
    }
    C->poff = mg_alloc(mg, sizeof(int64_t) * (size_t)(C->cells + 1), 1);
    if (L->cls) L->sub = mg_alloc(mg, (size_t)L->cells, 1);
    else L->parent = mg_alloc(mg, sizeof(int32_t) * (size_t)(L->nunk + 1), 1);
    if (!C->poff || (L->cls ? !L->sub : !L->parent)) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for a coarse level");
        goto done;
    }
    for (int mode = 0; mode < 3; mode++) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t K = 0; K < ncz; K++) {
            int t = tg_thread_num();
            for (int64_t J = 0; J < ncy; J++)
                for (int64_t I = 0; I < ncx; I++) {
                    const int64_t np = sb_process(mg, L, C, (int)R, I, J, K, mode, &S[t]);
                    if (mode == 0) C->poff[I + ncx * (J + ncy * K) + 1] = np;
                }
        }
        if (mode == 0) {
            for (int64_t B = 0; B < C->cells; B++) C->poff[B + 1] += C->poff[B];
            C->nunk = C->poff[C->cells];
            if (C->nunk >= INT32_MAX) { st = tg_fail(ctx, TG_ERR_NOMEM, "flux: too many coarse unknowns"); goto done; }
            if (!L->cls) {
                /* local piece indices to global ones */
#pragma omp parallel for schedule(static) num_threads(nt)
                for (int64_t K = 0; K < ncz; K++)
                    for (int64_t J = 0; J < ncy; J++)
                        for (int64_t I = 0; I < ncx; I++) {
                            const int64_t base = C->poff[I + ncx * (J + ncy * K)];
                            const int s0 = L->sh[0], s1 = L->sh[1], s2 = L->sh[2];
                            for (int64_t z = K << s2; z < (K + 1) << s2 && z < L->n[2]; z++)
                                for (int64_t y = J << s1; y < (J + 1) << s1 && y < L->n[1]; y++)
                                    for (int64_t x = I << s0; x < (I + 1) << s0 && x < L->n[0]; x++) {
                                        const int64_t b = x + L->n[0] * (y + L->n[1] * z);
                                        for (int64_t p = L->poff[b]; p < L->poff[b + 1]; p++) L->parent[p] += (int32_t)base;
                                    }
                        }
            }
            C->aoff = mg_alloc(mg, sizeof(int64_t) * (size_t)(C->nunk + 1), 1);
            C->diag = mg_alloc(mg, sizeof(float) * (size_t)(C->nunk + 1), 1);
            C->gbp = mg_alloc(mg, sizeof(float) * (size_t)(C->nunk + 1), 1);
            C->x = mg_alloc(mg, sizeof(float) * (size_t)(C->nunk + 1), 1);
            C->b = mg_alloc(mg, sizeof(float) * (size_t)(C->nunk + 1), 1);
            if (!C->aoff || !C->diag || !C->gbp || !C->x || !C->b) {
                st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for a coarse level (%lld unknowns)", (long long)C->nunk);
                goto done;
            }
        } else if (mode == 1) {
            for (int64_t p = 0; p < C->nunk; p++) C->aoff[p + 1] += C->aoff[p];
            C->acol = mg_alloc(mg, sizeof(int32_t) * (size_t)(C->aoff[C->nunk] + 1), 0);
            C->aval = mg_alloc(mg, sizeof(float) * (size_t)(C->aoff[C->nunk] + 1), 0);
            if (!C->acol || !C->aval) {
                st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for a coarse level");
                goto done;
            }
        }
    }
    (void)cplane;
done:
    for (int t = 0; t < nt; t++) {
        tg_free(S[t].id); tg_free(S[t].nid); tg_free(S[t].ep); tg_free(S[t].gbm); tg_free(S[t].ng);
        tg_free(S[t].eg); tg_free(S[t].nn); tg_free(S[t].uf); tg_free(S[t].lab);
    }
    tg_free(S);
    return st;
}

static tg_status build_dense(tg_ctx *ctx, tg_mg *mg, level *L)
{
    int64_t n = 0;
    if (L->cls) for (int64_t i = 0; i < L->cells; i++) n += L->cls[i] != 0;
    else n = L->nunk;
    if (n > 4096)
        return tg_fail(ctx, TG_ERR_NOMEM, "flux: the coarsest level keeps %lld unknowns (too many disconnected pieces)",
                       (long long)n);
    mg->nd = n;
    mg->dmap = mg_alloc(mg, sizeof(int64_t) * (size_t)(n + 1), 0);
    mg->chol = mg_alloc(mg, sizeof(double) * (size_t)(n * n + 1), 1);
    mg->dv = mg_alloc(mg, sizeof(double) * (size_t)(n + 1), 0);
    int64_t *inv = tg_malloc(sizeof(int64_t) * (size_t)(L->cls ? L->cells : 1));
    if (!mg->dmap || !mg->chol || !mg->dv || !inv) {
        tg_free(inv);
        return tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory for the coarsest level (%lld unknowns)", (long long)n);
    }
    if (!L->x) { /* the fine level is the coarsest: private b/x buffers */
        L->x = mg_alloc(mg, sizeof(float) * (size_t)L->cells, 1);
        L->b = mg_alloc(mg, sizeof(float) * (size_t)L->cells, 1);
        if (!L->x || !L->b) { tg_free(inv); return tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory"); }
    }
    double *A = mg->chol;
    if (!L->cls) {
        for (int64_t p = 0; p < n; p++) { /* the diagonal as the row sum in double: exactly diagonally dominant */
            mg->dmap[p] = p;
            A[p * n + p] += L->gbp[p];
            for (int64_t k = L->aoff[p]; k < L->aoff[p + 1]; k++) {
                A[p * n + L->acol[k]] -= L->aval[k];
                A[p * n + p] += L->aval[k];
            }
        }
        goto factor;
    }
    int64_t k = 0;
    for (int64_t i = 0; i < L->cells; i++) {
        inv[i] = -1;
        if (L->cls[i]) { mg->dmap[k] = i; inv[i] = k++; }
    }
    const int64_t nx = L->n[0], ny = L->n[1];
    for (int64_t z = 0; z < L->n[2]; z++)
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++) {
                const int64_t i = x + nx * (y + ny * z), a = inv[i];
                if (a < 0) continue;
                if (z == 0) A[a * n + a] += L->gb[0][x + nx * y];
                if (z == L->n[2] - 1) A[a * n + a] += L->gb[1][x + nx * y];
                const int64_t jn[3] = {x + 1 < nx ? i + 1 : i - x, y + 1 < ny ? i + nx : x + nx * ny * z,
                                       i + nx * ny};
                for (int ax = 0; ax < 3; ax++) {
                    const double g = face(L, ax, x, y, z);
                    if (g == 0.0) continue;
                    const int64_t b = inv[jn[ax]];
                    if (b < 0 || b == a) continue;
                    A[a * n + a] += g;
                    A[b * n + b] += g;
                    A[a * n + b] -= g;
                    A[b * n + a] -= g;
                }
            }
factor:
    tg_free(inv);
    /* Cholesky, lower triangle in place (A = L L^T) */
    for (int64_t j = 0; j < n; j++) {
        double s = A[j * n + j];
        for (int64_t q = 0; q < j; q++) s -= A[j * n + q] * A[j * n + q];
        if (!(s > 0.0)) return tg_fail(ctx, TG_ERR_ARG, "flux: the coarsest operator is not positive definite (pivot %lld)", (long long)j);
        const double d = sqrt(s);
        A[j * n + j] = d;
        for (int64_t i = j + 1; i < n; i++) {
            double t = A[i * n + j];
            for (int64_t q = 0; q < j; q++) t -= A[i * n + q] * A[j * n + q];
            A[i * n + j] = t / d;
        }
    }
    return TG_OK;
}

/* The fine level's coupling strength along each axis: the largest face conductance along it (every class
 * table is the axis weight times the same conductivity means, so their ratios are those of the axis weights,
 * i.e. of 1 / spacing^2). */
static void fine_strengths(const tg_mg_fine *F, double st[3])
{
    for (int a = 0; a < 3; a++) {
        st[a] = 0.0;
        for (int c = 1; c < F->ncls; c++) st[a] = fmax(st[a], F->lutd[a][c * F->ncls + c]);
    }
}

/* Faces along one axis at least TG_MG_EXACT times stronger than along another (voxels 4 times longer along one
 * axis): the cycle then works in difference and correction form (resid(), gs_value()). */
static int anisotropic(const level *F)
{
    double lo = INFINITY, hi = 0.0;
    for (int a = 0; a < 3; a++)
        if (F->n[a] > 1 && F->st[a] > 0.0) { lo = fmin(lo, F->st[a]); hi = fmax(hi, F->st[a]); }
    return hi >= TG_MG_EXACT * lo;
}

/* Semi-coarsening: C's blocks join 2 cells of L along the axes whose coupling is within TG_MG_SEMI of the
 * strongest (of those still longer than one cell), 1 along the others. Point Gauss-Seidel smooths only the
 * error that oscillates along the strong axes; error that is smooth along them but not along a weak axis must
 * therefore stay visible on the coarse level, which keeps the weak axis at full resolution (Trottenberg,
 * Oosterlee & Schueller, "Multigrid" (Academic Press, 2001), sections 5.1-5.2; Dendy, Ida & Rutledge, "A
 * semicoarsening multigrid algorithm for SIMD machines", SIAM J. Sci. Stat. Comput. 13 (1992) 1460-1469).
 * Isotropic voxels give 2x2x2 blocks on every level, as before. The aggregated (Galerkin) face conductance
 * along axis a sums the fine faces of a block face, so its strength grows by the block's extent across a. */
static void choose_shifts(level *L, level *C)
{
    double smax = 0.0;
    for (int a = 0; a < 3; a++)
        if (L->n[a] > 1) smax = fmax(smax, L->st[a]);
    for (int a = 0; a < 3; a++) {
        L->sh[a] = L->n[a] > 1 && L->st[a] * TG_MG_SEMI >= smax;
        C->n[a] = L->sh[a] ? (L->n[a] + 1) / 2 : L->n[a];
    }
    for (int a = 0; a < 3; a++) C->st[a] = L->st[a] * (double)(1 << (L->sh[(a + 1) % 3] + L->sh[(a + 2) % 3]));
}

/* Cycles per coarse level: a W-cycle (gamma = 2) only on levels at least 3 times smaller than the one above
 * (semi-coarsening along one axis halves the unknowns: two cycles per level would double the work on every level
 * down, and the coarsest solve would run 2^levels times). Mixing is safe because V-cycled levels below the fine
 * one take no over-correction (see cycle()). */
static void set_gammas(tg_mg *mg)
{
    for (int l = 1; l < mg->nlev; l++) {
        const level *L = &mg->lev[l - 1];
        const int64_t above = L->nunk > 0 ? L->nunk : L->cells;
        mg->lev[l].gamma = l < mg->nlev - 1 && mg->opt.gamma == 2 && mg->lev[l].nunk * 3 <= above ? 2 : 1;
    }
}

tg_status tg_mg_build(tg_ctx *ctx, const tg_mg_fine *fine, const tg_mg_opts *opt, tg_mg **out)
{
    static const tg_mg_opts defaults = TG_MG_OPTS_INIT;
    tg_status st = TG_OK;
    *out = NULL;
    tg_mg *mg = tg_calloc(1, sizeof *mg);
    if (!mg) return tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory");
    mg->opt = opt ? *opt : defaults;
    if (mg->opt.max_levels < 1 || mg->opt.max_levels > TG_MG_MAX_LEVELS) mg->opt.max_levels = TG_MG_MAX_LEVELS;
    if (mg->opt.gamma < 1 || mg->opt.gamma > 2) mg->opt.gamma = 1;
    mg->fine = fine;
    level *F = &mg->lev[0];
    memcpy(F->n, fine->n, sizeof F->n);
    F->cells = F->n[0] * F->n[1] * F->n[2];
    F->wrapx = fine->periodic[0] && F->n[0] > 1;
    F->wrapy = fine->periodic[1] && F->n[1] > 1;
    F->cls = fine->cls;
    F->ncls = fine->ncls;
    for (int a = 0; a < 3; a++) F->lut[a] = fine->lut[a];
    const int64_t plane = F->n[0] * F->n[1];
    int64_t maxrow = F->n[0];
    mg->zf = mg_alloc(mg, sizeof(float) * (size_t)maxrow, 1);
    mg->zc = mg_alloc(mg, (size_t)maxrow, 1);
    F->gb[0] = mg_alloc(mg, sizeof(float) * (size_t)plane, 0);
    F->gb[1] = mg_alloc(mg, sizeof(float) * (size_t)plane, 0);
    F->part = mg_alloc(mg, sizeof(double) * 2 * (size_t)F->n[2], 1);
    if (!mg->zf || !mg->zc || !F->gb[0] || !F->gb[1] || !F->part) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "flux: out of memory");
        goto done;
    }
    double bn = 0.0;
    for (int64_t i = 0; i < plane; i++) {
        F->gb[0][i] = (float)fine->gbin[i];
        F->gb[1][i] = (float)fine->gbout[i];
        bn += fine->gbin[i] * fine->gbin[i];
    }
    mg->bnorm2 = bn;
    if ((st = build_runs(ctx, mg, F, F->cls)) != TG_OK) goto done;
    if (fine->ncls == 2 && (st = build_codes(ctx, mg, F)) != TG_OK) goto done;
    fine_strengths(fine, F->st);
    F->exact = anisotropic(F);
    mg->nlev = 1;
    while (mg->nlev < mg->opt.max_levels) {
        level *L = &mg->lev[mg->nlev - 1];
        const int64_t cnt = L->cls ? L->cells : L->nunk;
        if (cnt <= mg->opt.coarsest || (L->n[0] == 1 && L->n[1] == 1 && L->n[2] == 1)) break;
        level *C = &mg->lev[mg->nlev];
        choose_shifts(L, C);
        C->cells = C->n[0] * C->n[1] * C->n[2];
        C->wrapx = fine->periodic[0] && C->n[0] > 1;
        C->wrapy = fine->periodic[1] && C->n[1] > 1;
        C->exact = F->exact;
        mg->nlev++;
        if ((st = coarsen_pieces(ctx, mg, L, C)) != TG_OK) goto done;
    }
    set_gammas(mg);
    st = build_dense(ctx, mg, &mg->lev[mg->nlev - 1]);
done:
    if (st != TG_OK) tg_mg_free(mg);
    else *out = mg;
    return st;
}

void tg_mg_free(tg_mg *mg)
{
    if (!mg) return;
    for (int l = 0; l < TG_MG_MAX_LEVELS; l++) {
        level *L = &mg->lev[l];
        tg_free(L->x);
        tg_free(L->b);
        tg_free(L->gb[0]);
        tg_free(L->gb[1]);
        tg_free(L->roff);
        tg_free(L->runs);
        tg_free(L->part);
        tg_free(L->code);
        tg_free(L->sub);
        tg_free(L->poff);
        tg_free(L->aoff);
        tg_free(L->acol);
        tg_free(L->aval);
        tg_free(L->diag);
        tg_free(L->gbp);
        tg_free(L->parent);
    }
    tg_free(mg->zf);
    tg_free(mg->zc);
    tg_free(mg->dmap);
    tg_free(mg->chol);
    tg_free(mg->dv);
    tg_free(mg);
}

int tg_mg_levels(const tg_mg *mg) { return mg->nlev; }
int64_t tg_mg_unknowns(const tg_mg *mg, int level) { return level >= 0 && level < mg->nlev ? mg->lev[level].nunk : 0; }
size_t tg_mg_bytes(const tg_mg *mg) { return mg->bytes; }
