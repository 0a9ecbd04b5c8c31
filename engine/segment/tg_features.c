/* tg_features.c — ilastik's feature set per channel, by z slabs. The manual is at the top of tg_features.h.
 *
 * Layout of the work for one channel and one scale: the slab (with its z halo) is filtered by tg_gaussian one
 * axis at a time, sharing the x and xy intermediates between derivative orders; the final derivative volumes are
 * combined voxel by voxel straight into the caller's (voxels x features) matrix.
 */
#include "segment/tg_features.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "filter/tg_gaussian.h"
#include "filter/tg_rows.h"
#include "segment/tg_conv.h"

static const char *const kind_name[TG_FEAT_NKINDS] = {"gaussian", "log", "gradmag", "dog", "st", "hessian"};

/* Columns of one kind at one scale (0 when the kind is skipped at that scale). */
static int kind_cols(int kind, double s, int dims)
{
    if (kind != TG_FEAT_GAUSSIAN && s < TG_FEATURES_MIN_DERIV_SIGMA) return 0;
    return kind >= TG_FEAT_ST ? dims : 1;
}

static int filter_cols(const tg_features_opts *o)
{
    int n = 0;
    for (int k = 0; k < TG_FEAT_NKINDS; k++)
        if (o->kinds & TG_FEAT_BIT(k))
            for (int i = 0; i < o->nsigmas; i++) n += kind_cols(k, o->sigmas[i], o->dims);
    return n;
}

static int channel_cols(const tg_features_opts *o) { return filter_cols(o) + (o->conv ? tg_conv_outputs(o->conv) : 0); }

tg_status tg_features_check(tg_ctx *ctx, const tg_features_opts *o)
{
    if (!o) return tg_fail(ctx, TG_ERR_ARG, "segment.features: no options");
    if (o->dims != 2 && o->dims != 3)
        return tg_fail(ctx, TG_ERR_ARG, "segment.features: dims must be 2 (per slice) or 3, got %d", o->dims);
    if (o->nsigmas < 1 || o->nsigmas > TG_FEATURES_MAX_SIGMAS)
        return tg_fail(ctx, TG_ERR_ARG, "segment.features: between 1 and %d sigmas are needed, got %d",
                       TG_FEATURES_MAX_SIGMAS, o->nsigmas);
    for (int i = 0; i < o->nsigmas; i++) {
        double s = o->sigmas[i];
        if (!(s > 0 && s <= TG_FEATURES_MAX_SIGMA))
            return tg_fail(ctx, TG_ERR_ARG, "segment.features: sigma %d is %g; it must be in (0, %g] voxels", i + 1, s,
                           TG_FEATURES_MAX_SIGMA);
        for (int j = 0; j < i; j++)
            if (o->sigmas[j] == s)
                return tg_fail(ctx, TG_ERR_ARG, "segment.features: sigma %g is listed twice", s);
    }
    if (o->kinds & ~(unsigned)TG_FEATURES_FULL)
        return tg_fail(ctx, TG_ERR_ARG, "segment.features: unknown feature kind bits 0x%x", o->kinds);
    if (!(o->truncate > 0 && o->truncate <= 20))
        return tg_fail(ctx, TG_ERR_ARG, "segment.features: truncate must be in (0, 20], got %g", o->truncate);
    if (o->conv) {
        tg_status st = tg_conv_check(ctx, o->conv);
        if (st) return st;
    }
    if (channel_cols(o) < 1)
        return tg_fail(ctx, TG_ERR_ARG, "segment.features: the chosen kinds and sigmas give no feature "
                                        "(only 'gaussian' is computed at sigma < %g)", TG_FEATURES_MIN_DERIV_SIGMA);
    return TG_OK;
}

int tg_features_count(const tg_features_opts *o, int nch)
{
    tg_ctx tmp;
    tg_ctx_init(&tmp);
    if (nch < 1 || tg_features_check(&tmp, o)) return 0;
    return nch * channel_cols(o);
}

int tg_features_name(const tg_features_opts *o, int nch, int i, char *buf, size_t size)
{
    if (size) buf[0] = 0;
    int per = channel_cols(o);
    if (i < 0 || per < 1 || nch < 1 || i >= nch * per) return -1;
    int c = i / per, j = i % per;
    for (int k = 0; k < TG_FEAT_NKINDS; k++) {
        if (!(o->kinds & TG_FEAT_BIT(k))) continue;
        for (int si = 0; si < o->nsigmas; si++) {
            int n = kind_cols(k, o->sigmas[si], o->dims);
            if (j < n) {
                if (k >= TG_FEAT_ST) snprintf(buf, size, "ch%d:%s_ev%d(%g)", c + 1, kind_name[k], j + 1, o->sigmas[si]);
                else snprintf(buf, size, "ch%d:%s(%g)", c + 1, kind_name[k], o->sigmas[si]);
                return 0;
            }
            j -= n;
        }
    }
    snprintf(buf, size, "ch%d:conv%d", c + 1, j + 1);
    return 0;
}

int tg_features_halo(const tg_features_opts *o)
{
    if (o->dims != 3) return 0;
    int h = 0;
    for (int i = 0; i < o->nsigmas; i++) {
        double s = o->sigmas[i];
        int r = tg_gaussian_radius(s, o->truncate);
        if (r > h) h = r;
        if ((o->kinds & TG_FEAT_BIT(TG_FEAT_ST)) && s >= TG_FEATURES_MIN_DERIV_SIGMA) {
            int rr = r + tg_gaussian_radius(0.5 * s, o->truncate);
            if (rr > h) h = rr;
        }
    }
    return h;
}

tg_status tg_features_check_channels(tg_ctx *ctx, const tg_volume *const *ch, int nch)
{
    if (!ch || nch < 1) return tg_fail(ctx, TG_ERR_ARG, "segment.features: at least one channel is needed");
    for (int c = 0; c < nch; c++) {
        if (!ch[c] || !ch[c]->buf) return tg_fail(ctx, TG_ERR_ARG, "segment.features: channel %d is empty (released)", c + 1);
        if (ch[c]->dtype < 0 || ch[c]->dtype >= TG_NDTYPES)
            return tg_fail(ctx, TG_ERR_ARG, "segment.features: channel %d has an unknown dtype", c + 1);
        for (int a = 0; a < 3; a++)
            if (ch[c]->dims[a] != ch[0]->dims[a])
                return tg_fail(ctx, TG_ERR_ARG,
                               "segment.features: channels differ in shape: channel 1 is %lldx%lldx%lld, channel %d is "
                               "%lldx%lldx%lld",
                               (long long)ch[0]->dims[0], (long long)ch[0]->dims[1], (long long)ch[0]->dims[2], c + 1,
                               (long long)ch[c]->dims[0], (long long)ch[c]->dims[1], (long long)ch[c]->dims[2]);
        if (ch[c]->dims[0] < 1 || ch[c]->dims[1] < 1 || ch[c]->dims[2] < 1)
            return tg_fail(ctx, TG_ERR_ARG, "segment.features: channel %d has no voxels", c + 1);
    }
    return TG_OK;
}

/* ---- eigenvalues ---- */

void tg_sym2_eigenvalues(double a, double b, double c, double ev[2])
{
    double m = 0.5 * (a + c), h = 0.5 * (a - c);
    double d = sqrt(h * h + b * b);
    ev[0] = m + d;
    ev[1] = m - d;
}

/* The hot loops are compiled twice on x86-64 with GCC (plain SSE2, and AVX2 picked at load time); AVX2 without
 * FMA rounds every operation as SSE2 does, in the same order, so both give identical results. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define TG_HOT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TG_HOT_CLONES
#endif

/* Eigenvalues of the symmetric 3x3 matrix (a00, a01, a02, a11, a12, a22), descending. The roots are q + 2 p cos(phi + 2 pi k / 3), phi = acos(r) / 3 in [0, pi / 3]; with
 * c = cos(phi), s = sin(phi): cos(phi + 2 pi / 3) = -c / 2 - sqrt(3) s / 2. c = cos(acos(r) / 3) is evaluated as a
 * polynomial in w = sqrt((1 + r) / 2), in which it is analytic on [0, 1] (degree-12 Chebyshev least-squares fit,
 * maximum error 1.7e-12), instead of acos and cos. */
static const double cos3_k[13] = {0.50000000000160727,   0.57735026863024996,   -0.11111107868142367,
                                  0.053457614157151466,  -0.03291285207588962,  0.022803223051382965,
                                  -0.016761112633972439, 0.012354493455663635,  -0.0084495423331548518,
                                  0.00485650091054748,   -0.0020898328998194076, 0.00057765655357042763,
                                  -7.5338137094248879e-05};

/* p2 = 0 (a multiple of the identity): every c.. is then 0 * finite, r = 0 and all roots are q. From f32
 * components a non-zero p2 exceeds 1e-90, so adding 1e-300 to p changes nothing else. r is in [-1, 1] up to
 * rounding: fabs keeps the square roots real. The roots come out descending by construction (phi in [0, pi / 3])
 * up to rounding between near-equal roots, which the last swaps fix. */
#define SYM3_EIGEN(a00, a01, a02, a11, a12, a22, e0, e1, e2)                                                         \
    do {                                                                                                          \
        const double *k_ = cos3_k;                                                                                \
        double p1 = (a01) * (a01) + (a02) * (a02) + (a12) * (a12);                                                \
        double q = ((a00) + (a11) + (a22)) / 3.0;                                                                 \
        double b00 = (a00) - q, b11 = (a11) - q, b22 = (a22) - q;                                                 \
        double p2 = b00 * b00 + b11 * b11 + b22 * b22 + 2.0 * p1;                                                 \
        double p = sqrt(p2 / 6.0), ip = 1.0 / (p + 1e-300);                                                       \
        double c00 = b00 * ip, c11 = b11 * ip, c22 = b22 * ip, c01 = (a01) * ip, c02 = (a02) * ip,                \
               c12 = (a12) * ip;                                                                                  \
        double det = c00 * (c11 * c22 - c12 * c12) - c01 * (c01 * c22 - c12 * c02) + c02 * (c01 * c12 - c11 * c02); \
        double r = 0.5 * det;                                                                                     \
        double w = sqrt(fabs(0.5 * (1.0 + r)));                                                                   \
        double c = k_[0] + w * (k_[1] + w * (k_[2] + w * (k_[3] + w * (k_[4] + w * (k_[5] + w * (k_[6] +          \
                   w * (k_[7] + w * (k_[8] + w * (k_[9] + w * (k_[10] + w * (k_[11] + w * k_[12])))))))))));     \
        /* s = sin(phi): sqrt(1 - c^2) loses digits as c -> 1; there sin(3 phi) = s (3 - 4 s^2) gives            \
         * s = sqrt((1 - r) (1 + r)) / (4 c^2 - 1), accurate for c > 0.75 */                                      \
        double sn = c > 0.75 ? sqrt(fabs((1.0 - r) * (1.0 + r))) / (4.0 * c * c - 1.0) : sqrt(fabs(1.0 - c * c)); \
        (e0) = q + 2.0 * p * c;                                                                                   \
        (e2) = q - p * (c + 1.7320508075688772 * sn);                                                             \
        (e1) = 3.0 * q - (e0) - (e2);                                                                             \
        if ((e1) > (e0)) { double t_ = (e0); (e0) = (e1); (e1) = t_; } /* rounding between near-equal roots */     \
        if ((e2) > (e1)) { double t_ = (e1); (e1) = (e2); (e2) = t_; }                                            \
        if ((e1) > (e0)) { double t_ = (e0); (e0) = (e1); (e1) = t_; }                                            \
    } while (0)

void tg_sym3_eigenvalues(const double m[6], double ev[3])
{
    SYM3_EIGEN(m[0], m[1], m[2], m[3], m[4], m[5], ev[0], ev[1], ev[2]);
}

/* The same for n voxels of six f32 component arrays, into three f32 outputs. */
TG_HOT_CLONES static void sym3_run(int64_t n, const float *restrict t0, const float *restrict t1,
                                   const float *restrict t2, const float *restrict t3, const float *restrict t4,
                                   const float *restrict t5, float *restrict o0, float *restrict o1,
                                   float *restrict o2)
{
    for (int64_t i = 0; i < n; i++) {
        double e0, e1, e2;
        SYM3_EIGEN((double)t0[i], (double)t1[i], (double)t2[i], (double)t3[i], (double)t4[i], (double)t5[i], e0, e1, e2);
        o0[i] = (float)e0;
        o1[i] = (float)e1;
        o2[i] = (float)e2;
    }
}

/* ---- one channel, one scale ---- */

/* The columns of one channel are first written feature-major (column j at out + j * nv, contiguous streams),
 * then transposed by blocks into the caller's voxel-major matrix: writing one float per matrix row for each
 * feature would touch a cache line per voxel and feature. */
typedef struct slab {
    int64_t nxy, nv;   /* voxels per slice; voxels of [z0, z1) */
    int64_t off;       /* index of (0, 0, z0) in a slab-with-halo volume */
    float *out;        /* the channel's columns, feature-major */
    int nt;
} slab;

/* out[i * nfeat + base + j] = cols[j * nv + i] for the per columns of one channel. */
static void transpose_into(const float *cols, int64_t nv, int per, float *out, int nfeat, int base, int nt)
{
    const int64_t B = 64;
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t b0 = 0; b0 < nv; b0 += B) {
        int64_t b1 = b0 + B < nv ? b0 + B : nv;
        for (int j = 0; j < per; j++) {
            const float *src = cols + (size_t)j * (size_t)nv;
            for (int64_t i = b0; i < b1; i++) out[(size_t)i * (size_t)nfeat + (size_t)(base + j)] = src[i];
        }
    }
}

/* ---- the buffers of one channel's slab (with its halo), allocated once per tg_features_slab call ----
 * src: the channel as f32; X, XY: the x and xy pass temporaries; slot[]: result volumes handed out and taken back
 * as the features of a scale are computed (derivatives, the DoG's second Gaussian, the structure tensor). */
#define POOL_MAX 12

typedef struct pool {
    int64_t dims[3];
    int dims_mode; /* 2 or 3 */
    double trunc;
    float *mem, *src, *X, *XY;
    float *slot[POOL_MAX];
    char busy[POOL_MAX];
    int nslots;
    tg_gaussian_work *work;
} pool;

static float *take(pool *P)
{
    for (int i = 0; i < P->nslots; i++)
        if (!P->busy[i]) { P->busy[i] = 1; return P->slot[i]; }
    return NULL; /* not reached: pool_slots() counts the worst case */
}

static void give(pool *P, const float *p)
{
    for (int i = 0; i < P->nslots; i++)
        if (p && P->slot[i] == p) P->busy[i] = 0;
}

/* Derivative volumes needed at scale s: need[ox][oy][oz]. Returns their number. */
static int needed(const tg_features_opts *o, double s, char need[3][3][3])
{
    unsigned k = o->kinds;
    int deriv = s >= TG_FEATURES_MIN_DERIV_SIGMA;
    memset(need, 0, 27);
    int want_g = (k & TG_FEAT_BIT(TG_FEAT_GAUSSIAN)) || (deriv && (k & TG_FEAT_BIT(TG_FEAT_DOG)));
    int want_1 = deriv && (k & (TG_FEAT_BIT(TG_FEAT_GRADMAG) | TG_FEAT_BIT(TG_FEAT_ST)));
    int want_2 = deriv && (k & (TG_FEAT_BIT(TG_FEAT_LOG) | TG_FEAT_BIT(TG_FEAT_HESSIAN)));
    int want_mixed = deriv && (k & TG_FEAT_BIT(TG_FEAT_HESSIAN));
    need[0][0][0] = (char)want_g;
    need[1][0][0] = need[0][1][0] = (char)want_1;
    need[2][0][0] = need[0][2][0] = (char)want_2;
    need[1][1][0] = (char)want_mixed;
    if (o->dims == 3) {
        need[0][0][1] = (char)want_1;
        need[0][0][2] = (char)want_2;
        need[1][0][1] = need[0][1][1] = (char)want_mixed;
    }
    int n = 0;
    for (int i = 0; i < 27; i++) n += (&need[0][0][0])[i];
    return n;
}

/* Slots for the worst scale: every derivative plus the DoG's Gaussian, or the gradients plus the tensor. */
static int pool_slots(const tg_features_opts *o)
{
    int m = 1;
    for (int i = 0; i < o->nsigmas; i++) {
        char need[3][3][3];
        int n = needed(o, o->sigmas[i], need) + 1;
        if ((o->kinds & TG_FEAT_BIT(TG_FEAT_ST)) && o->sigmas[i] >= TG_FEATURES_MIN_DERIV_SIGMA) {
            int t = o->dims + o->dims * (o->dims + 1) / 2;
            if (t > n) n = t;
        }
        if (n > m) m = n;
    }
    return m;
}

static void pool_free(pool *P)
{
    tg_free(P->mem);
    tg_gaussian_work_free(P->work);
    memset(P, 0, sizeof *P);
}

static tg_status pool_alloc(tg_ctx *ctx, const tg_features_opts *o, const int64_t dims[3], pool *P)
{
    memset(P, 0, sizeof *P);
    for (int a = 0; a < 3; a++) P->dims[a] = dims[a];
    P->dims_mode = o->dims;
    P->trunc = o->truncate;
    P->nslots = pool_slots(o);
    int rmax = 0;
    for (int i = 0; i < o->nsigmas; i++) {
        int r = tg_gaussian_radius(o->sigmas[i], o->truncate);
        if (r > rmax) rmax = r;
    }
    size_t nh = (size_t)(dims[0] * dims[1] * dims[2]);
    int nbuf = (o->dims == 3 ? 3 : 2) + P->nslots;
    P->mem = tg_malloc(nh * (size_t)nbuf * sizeof(float));
    if (!P->mem) {
        pool_free(P);
        return tg_fail(ctx, TG_ERR_NOMEM, "segment.features: out of memory for %d temporaries of %lld voxels", nbuf,
                       (long long)nh);
    }
    float *q = P->mem;
    P->src = q; q += nh;
    P->X = q; q += nh;
    if (o->dims == 3) { P->XY = q; q += nh; }
    for (int i = 0; i < P->nslots; i++) { P->slot[i] = q; q += nh; }
    tg_status st = tg_gaussian_work_new(ctx, dims, rmax, &P->work);
    if (st) pool_free(P);
    return st;
}

static tg_status one_pass(tg_ctx *ctx, pool *P, const float *in, const float *in2, int axis, double s, int n,
                          const int *orders, float *const *out)
{
    return tg_gaussian_pass(ctx, P->work, in, in2, P->dims, axis, s, P->trunc, n, orders, out);
}

/* dst = G_s * (a, or a * b voxelwise when b is given) over the axes of the mode (x, y, then z in 3D). */
static tg_status smooth(tg_ctx *ctx, pool *P, const float *a, const float *b, double s, float *dst)
{
    static const int zero = 0;
    tg_status st;
    float *o[1] = {P->X};
    if ((st = one_pass(ctx, P, a, b, 0, s, 1, &zero, o))) return st;
    o[0] = P->dims_mode == 3 ? P->XY : dst;
    if ((st = one_pass(ctx, P, P->X, NULL, 1, s, 1, &zero, o))) return st;
    if (P->dims_mode == 3) {
        o[0] = dst;
        st = one_pass(ctx, P, P->XY, NULL, 2, s, 1, &zero, o);
    }
    return st;
}

/* The derivative volumes D[ox][oy][oz] flagged in need, each in a slot, sharing the x and xy passes; every
 * z pass makes all the orders needed from its xy volume in one sweep. */
static tg_status derivatives(tg_ctx *ctx, pool *P, double s, const char need[3][3][3], float *D[3][3][3])
{
    tg_status st = TG_OK;
    for (int ox = 0; ox < 3; ox++) {
        int anyx = 0;
        for (int oy = 0; oy < 3; oy++)
            for (int oz = 0; oz < 3; oz++) anyx |= need[ox][oy][oz];
        if (!anyx) continue;
        float *o[3] = {P->X};
        if ((st = one_pass(ctx, P, P->src, NULL, 0, s, 1, &ox, o))) return st;
        for (int oy = 0; oy < 3; oy++) {
            int ord[3], n = 0;
            for (int oz = 0; oz < 3; oz++)
                if (need[ox][oy][oz]) ord[n++] = oz;
            if (!n) continue;
            if (P->dims_mode == 2) {
                o[0] = D[ox][oy][0] = take(P);
                if ((st = one_pass(ctx, P, P->X, NULL, 1, s, 1, &oy, o))) return st;
                continue;
            }
            o[0] = P->XY;
            if ((st = one_pass(ctx, P, P->X, NULL, 1, s, 1, &oy, o))) return st;
            for (int k = 0; k < n; k++) o[k] = D[ox][oy][ord[k]] = take(P);
            if ((st = one_pass(ctx, P, P->XY, NULL, 2, s, n, ord, o))) return st;
        }
    }
    return st;
}

static void put_column(const slab *S, int col, const float *v)
{
    #pragma omp parallel for schedule(static) num_threads(S->nt)
    for (int64_t i = 0; i < S->nv; i++) S->out[(size_t)col * S->nv + i] = v[S->off + i];
}

static void put_log(const slab *S, int col, const float *a, const float *b, const float *c)
{
    #pragma omp parallel for schedule(static) num_threads(S->nt)
    for (int64_t i = 0; i < S->nv; i++) {
        int64_t k = S->off + i;
        S->out[(size_t)col * S->nv + i] = c ? (a[k] + b[k]) + c[k] : a[k] + b[k];
    }
}

static void put_gradmag(const slab *S, int col, const float *a, const float *b, const float *c)
{
    #pragma omp parallel for schedule(static) num_threads(S->nt)
    for (int64_t i = 0; i < S->nv; i++) {
        int64_t k = S->off + i;
        double g = (double)a[k] * a[k] + (double)b[k] * b[k] + (c ? (double)c[k] * c[k] : 0.0);
        S->out[(size_t)col * S->nv + i] = (float)sqrt(g);
    }
}

static void put_dog(const slab *S, int col, const float *a, const float *b)
{
    #pragma omp parallel for schedule(static) num_threads(S->nt)
    for (int64_t i = 0; i < S->nv; i++) S->out[(size_t)col * S->nv + i] = a[S->off + i] - b[S->off + i];
}

/* Eigenvalues of the symmetric tensor with components t (2D: xx, xy, yy; 3D: xx, xy, xz, yy, yz, zz). */
static void put_eigen(const slab *S, int col, int dims, const float *const *t)
{
    if (dims == 3) {
        const int64_t B = 4096, nb = (S->nv + B - 1) / B;
        const size_t nv = (size_t)S->nv;
        float *o = S->out + (size_t)col * nv;
        #pragma omp parallel for schedule(static) num_threads(S->nt)
        for (int64_t b = 0; b < nb; b++) {
            int64_t i0 = b * B, m = S->nv - i0 < B ? S->nv - i0 : B, k = S->off + i0;
            sym3_run(m, t[0] + k, t[1] + k, t[2] + k, t[3] + k, t[4] + k, t[5] + k, o + i0, o + nv + i0,
                     o + 2 * nv + i0);
        }
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(S->nt)
    for (int64_t i = 0; i < S->nv; i++) {
        int64_t k = S->off + i;
        float *o = S->out + (size_t)col * S->nv + i;
        const size_t st = (size_t)S->nv;
        if (dims == 2) {
            double ev[2];
            tg_sym2_eigenvalues(t[0][k], t[1][k], t[2][k], ev);
            o[0] = (float)ev[0];
            o[st] = (float)ev[1];
        }
    }
}

/* Structure tensor: products of the first derivatives g, each smoothed at 0.5 s over the whole slab. */
static tg_status structure_tensor(tg_ctx *ctx, pool *P, const float *const *g, double s, const slab *S, int col)
{
    tg_status st = TG_OK;
    int dims = P->dims_mode, nt = 0;
    float *T[6] = {NULL};
    for (int a = 0; a < dims; a++)
        for (int b = a; b < dims; b++) {
            T[nt] = take(P);
            if ((st = smooth(ctx, P, g[a], g[b], 0.5 * s, T[nt++]))) goto done;
        }
    const float *t[6];
    for (int i = 0; i < nt; i++) t[i] = T[i];
    put_eigen(S, col, dims, t);
done:
    for (int i = 0; i < nt; i++) give(P, T[i]);
    return st;
}

/* First column of (kind, scale si) within a channel's filter columns (kind-major, then scale). */
static int column_of(const tg_features_opts *o, int kind, int si)
{
    int n = 0;
    for (int k = 0; k < TG_FEAT_NKINDS; k++) {
        if (!(o->kinds & TG_FEAT_BIT(k))) continue;
        for (int i = 0; i < o->nsigmas; i++) {
            if (k == kind && i == si) return n;
            n += kind_cols(k, o->sigmas[i], o->dims);
        }
    }
    return n;
}

static tg_status scale_features(tg_ctx *ctx, pool *P, int si, const tg_features_opts *o, const slab *S, int base)
{
    double s = o->sigmas[si];
    tg_status st = TG_OK;
    int dims = o->dims;
    unsigned k = o->kinds;
    char need[3][3][3];
    float *D[3][3][3];
    memset(D, 0, sizeof D);
    needed(o, s, need);
    if ((st = derivatives(ctx, P, s, need, D))) goto done;
    const float *xx = D[2][0][0], *yy = D[0][2][0], *zz = dims == 3 ? D[0][0][2] : NULL;
    const float *g[3] = {D[1][0][0], D[0][1][0], dims == 3 ? D[0][0][1] : NULL};
    /* first the kinds that only read derivatives, then free the second derivatives, then DoG and the tensor */
    static const int order[TG_FEAT_NKINDS] = {TG_FEAT_GAUSSIAN, TG_FEAT_LOG, TG_FEAT_GRADMAG, TG_FEAT_HESSIAN,
                                              TG_FEAT_DOG, TG_FEAT_ST};
    for (int ki = 0; ki < TG_FEAT_NKINDS; ki++) {
        int kind = order[ki];
        if (kind == TG_FEAT_DOG) {
            give(P, D[2][0][0]); give(P, D[0][2][0]); give(P, D[0][0][2]);
            give(P, D[1][1][0]); give(P, D[1][0][1]); give(P, D[0][1][1]);
            D[2][0][0] = D[0][2][0] = D[0][0][2] = D[1][1][0] = D[1][0][1] = D[0][1][1] = NULL;
        }
        int n = kind_cols(kind, s, dims);
        if (!(k & TG_FEAT_BIT(kind)) || !n) continue;
        int c = base + column_of(o, kind, si);
        switch (kind) {
        case TG_FEAT_GAUSSIAN: put_column(S, c, D[0][0][0]); break;
        case TG_FEAT_LOG: put_log(S, c, xx, yy, zz); break;
        case TG_FEAT_GRADMAG: put_gradmag(S, c, g[0], g[1], g[2]); break;
        case TG_FEAT_DOG: {
            float *g66 = take(P);
            st = smooth(ctx, P, P->src, NULL, 0.66 * s, g66);
            if (!st) put_dog(S, c, D[0][0][0], g66);
            give(P, g66);
            if (st) goto done;
            break;
        }
        case TG_FEAT_ST:
            give(P, D[0][0][0]);
            D[0][0][0] = NULL;
            if ((st = structure_tensor(ctx, P, g, s, S, c))) goto done;
            break;
        case TG_FEAT_HESSIAN: {
            const float *t2[3] = {xx, D[1][1][0], yy};
            const float *t3[6] = {xx, D[1][1][0], D[1][0][1], yy, D[0][1][1], zz};
            put_eigen(S, c, dims, dims == 2 ? t2 : t3);
            break;
        }
        default: break;
        }
    }
done:
    for (int i = 0; i < 27; i++) give(P, (&D[0][0][0])[i]);
    return st;
}

static tg_status conv_features(tg_ctx *ctx, const tg_volume *ch, const tg_features_opts *o, int64_t z0, int64_t z1,
                               const slab *S, int col)
{
    tg_status st = TG_OK;
    int64_t nx = ch->dims[0], ny = ch->dims[1], nxy = nx * ny;
    int m = tg_conv_outputs(o->conv);
    float *in = tg_malloc((size_t)nxy * sizeof *in), *planes = tg_malloc((size_t)nxy * (size_t)m * sizeof *planes);
    if (!in || !planes) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "segment.features: out of memory for the convolution of a %lldx%lld slice",
                     (long long)nx, (long long)ny);
        goto done;
    }
    for (int64_t z = z0; z < z1; z++) {
        for (int64_t y = 0; y < ny; y++) tg_filter__load_row(ch, y, z, in + y * nx);
        if ((st = tg_conv_slice(ctx, o->conv, in, 1, nx, ny, planes))) goto done;
        for (int j = 0; j < m; j++)
            memcpy(S->out + (size_t)(col + j) * (size_t)S->nv + (size_t)((z - z0) * nxy),
                   planes + (size_t)j * (size_t)nxy, (size_t)nxy * sizeof(float));
    }
done:
    tg_free(in);
    tg_free(planes);
    return st;
}

tg_status tg_features_slab(tg_ctx *ctx, const tg_volume *const *ch, int nch, const tg_features_opts *o, int64_t z0,
                           int64_t z1, float *out)
{
    tg_status st;
    if ((st = tg_features_check(ctx, o))) return st;
    if ((st = tg_features_check_channels(ctx, ch, nch))) return st;
    int64_t nx = ch[0]->dims[0], ny = ch[0]->dims[1], nz = ch[0]->dims[2];
    if (z0 < 0 || z1 > nz || z0 >= z1)
        return tg_fail(ctx, TG_ERR_RANGE, "segment.features: z range [%lld, %lld) is not within [0, %lld)",
                       (long long)z0, (long long)z1, (long long)nz);
    if (!out) return tg_fail(ctx, TG_ERR_ARG, "segment.features: no output buffer");
    int h = tg_features_halo(o);
    int64_t za = z0 - h < 0 ? 0 : z0 - h, zb = z1 + h > nz ? nz : z1 + h;
    int per = channel_cols(o), fcols = filter_cols(o), nfeat = nch * per;
    slab S = {nx * ny, nx * ny * (z1 - z0), nx * ny * (z0 - za), NULL, ctx->nthreads > 0 ? ctx->nthreads : 1};
    S.out = tg_malloc((size_t)S.nv * (size_t)per * sizeof(float));
    if (!S.out)
        return tg_fail(ctx, TG_ERR_NOMEM, "segment.features: out of memory for %lld voxels x %d features",
                       (long long)S.nv, per);
    pool P;
    memset(&P, 0, sizeof P);
    int64_t hdims[3] = {nx, ny, zb - za};
    if (fcols && (st = pool_alloc(ctx, o, hdims, &P))) {
        tg_free(S.out);
        return st;
    }
    for (int c = 0; c < nch && !st; c++) {
        if (fcols) {
            const tg_volume *v = ch[c];
            int64_t rows = ny * (zb - za);
            #pragma omp parallel for schedule(static) num_threads(S.nt)
            for (int64_t row = 0; row < rows; row++)
                tg_filter__load_row(v, row % ny, za + row / ny, P.src + (size_t)row * (size_t)nx);
            for (int i = 0; i < o->nsigmas && !st; i++) {
                st = scale_features(ctx, &P, i, o, &S, 0);
                if (!st && tg_progress(ctx, (c + (i + 1.0) / o->nsigmas) / nch, "features"))
                    st = tg_fail(ctx, TG_ERR_CANCELLED, "segment.features: cancelled");
            }
        }
        if (!st && o->conv) st = conv_features(ctx, ch[c], o, z0, z1, &S, fcols);
        if (!st) transpose_into(S.out, S.nv, per, out, nfeat, c * per, S.nt);
    }
    pool_free(&P);
    tg_free(S.out);
    if (!st) tg_progress_done(ctx, "features");
    return st;
}

tg_status tg_features_stack(tg_ctx *ctx, const tg_volume *const *ch, int nch, const tg_features_opts *o, int64_t z0,
                            int64_t z1, float *const *out)
{
    tg_status st;
    if ((st = tg_features_check(ctx, o)) || (st = tg_features_check_channels(ctx, ch, nch))) return st;
    if (z0 < 0 || z1 > ch[0]->dims[2] || z0 >= z1)
        return tg_fail(ctx, TG_ERR_RANGE, "segment.features: z range [%lld, %lld) is not within [0, %lld)",
                       (long long)z0, (long long)z1, (long long)ch[0]->dims[2]);
    int nf = tg_features_count(o, nch);
    int64_t nv = ch[0]->dims[0] * ch[0]->dims[1] * (z1 - z0);
    float *m = tg_malloc((size_t)nv * (size_t)nf * sizeof *m);
    if (!m) return tg_fail(ctx, TG_ERR_NOMEM, "segment.features: out of memory for %lld voxels x %d features", (long long)nv, nf);
    if ((st = tg_features_slab(ctx, ch, nch, o, z0, z1, m)) == TG_OK)
        for (int j = 0; j < nf; j++)
            for (int64_t i = 0; i < nv; i++) out[j][i] = m[i * nf + j];
    tg_free(m);
    return st;
}

tg_status tg_features_points(tg_ctx *ctx, const tg_volume *const *ch, int nch, const tg_features_opts *o,
                             const int64_t *xyz, int64_t n, int64_t max_slab, float *out)
{
    tg_status st;
    int64_t *start = NULL, *order = NULL;
    float *buf = NULL;
    if ((st = tg_features_check(ctx, o))) return st;
    if ((st = tg_features_check_channels(ctx, ch, nch))) return st;
    if (n < 0 || (n > 0 && (!xyz || !out))) return tg_fail(ctx, TG_ERR_ARG, "segment.features: bad point list");
    if (n == 0) return TG_OK;
    int64_t nx = ch[0]->dims[0], ny = ch[0]->dims[1], nz = ch[0]->dims[2], nxy = nx * ny;
    int nfeat = tg_features_count(o, nch);
    for (int64_t i = 0; i < n; i++) {
        const int64_t *p = xyz + 3 * i;
        if (p[0] < 0 || p[0] >= nx || p[1] < 0 || p[1] >= ny || p[2] < 0 || p[2] >= nz)
            return tg_fail(ctx, TG_ERR_RANGE, "segment.features: point %lld (%lld, %lld, %lld) is outside the %lldx%lldx%lld "
                           "channels", (long long)i, (long long)p[0], (long long)p[1], (long long)p[2], (long long)nx,
                           (long long)ny, (long long)nz);
    }
    if (max_slab <= 0) { /* at most 64 M floats (256 MiB) of slab output, at most 32 slices */
        max_slab = (int64_t)(64 << 20) / (nxy * nfeat);
        if (max_slab > 32) max_slab = 32;
        if (max_slab < 1) max_slab = 1;
    }
    /* counting sort of the points by z */
    start = tg_calloc((size_t)nz + 1, sizeof *start);
    order = tg_malloc((size_t)n * sizeof *order);
    buf = tg_malloc((size_t)(max_slab * nxy) * (size_t)nfeat * sizeof *buf);
    if (!start || !order || !buf) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "segment.features: out of memory for a slab of %lld slices of %d features",
                     (long long)max_slab, nfeat);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) start[xyz[3 * i + 2] + 1]++;
    for (int64_t z = 0; z < nz; z++) start[z + 1] += start[z];
    {
        int64_t *fill = tg_malloc((size_t)nz * sizeof *fill);
        if (!fill) { st = tg_fail(ctx, TG_ERR_NOMEM, "segment.features: out of memory"); goto done; }
        memcpy(fill, start, (size_t)nz * sizeof *fill);
        for (int64_t i = 0; i < n; i++) order[fill[xyz[3 * i + 2]]++] = i;
        tg_free(fill);
    }
    int64_t gap = 2 * (int64_t)tg_features_halo(o) + 1;
    for (int64_t z = 0; z < nz;) {
        if (start[z + 1] == start[z]) { z++; continue; }
        int64_t zs = z, last = z;
        for (int64_t t = z + 1; t < nz && t < zs + max_slab && t - last <= gap; t++)
            if (start[t + 1] > start[t]) last = t;
        if ((st = tg_features_slab(ctx, ch, nch, o, zs, last + 1, buf))) goto done;
        for (int64_t j = start[zs]; j < start[last + 1]; j++) {
            const int64_t *p = xyz + 3 * order[j];
            int64_t row = ((p[2] - zs) * ny + p[1]) * nx + p[0];
            memcpy(out + (size_t)order[j] * (size_t)nfeat, buf + (size_t)row * (size_t)nfeat, (size_t)nfeat * sizeof *out);
        }
        z = last + 1;
    }
done:
    tg_free(start);
    tg_free(order);
    tg_free(buf);
    return st;
}
