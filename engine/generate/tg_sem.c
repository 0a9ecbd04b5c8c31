/* tg_sem.c — synthetic BSE/SE FIB-SEM stacks. The manual (model, conventions, cost, threading) is at the top of
 * tg_sem.h; here only notes on what is not obvious. */
#include "generate/tg_sem.h"

#include <math.h>
#include <string.h>

#include "core/tg_rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

enum { TAG_DRIFT = 0x445249, TAG_ILLUM = 0x494c4c, TAG_CURTAIN = 0x435552, TAG_NOISE = 0x4e4f49,
       TAG_CURTAIN_SHAPE = 0x435553, TAG_CAP = 0x434150 };

static inline double sq(double a) { return a * a; }

tg_status tg_sem_check(tg_ctx *ctx, const tg_sem_opts *o)
{
    if (o->dtype != TG_U8 && o->dtype != TG_U16)
        return tg_fail(ctx, TG_ERR_ARG, "generate.sem: dtype must be u8 or u16, got %s", tg_dtype_name(o->dtype));
    struct { const char *name; double v, lo, hi; } r[] = {
        {"noise", o->noise, 0, 1e4},          {"drift", o->drift, 0, 1e4},
        {"curtaining", o->curtaining, 0, 1e4}, {"curtain_width", o->curtain_width, 1e-3, 1e6},
        {"curtain_depth", o->curtain_depth, 1e-3, 1e6}, {"illumination", o->illumination, 0, 0.999999},
        {"blur", o->blur, 0, 100},            {"edge", o->edge, -1e4, 1e4},
        {"cap", (double)o->cap, 0, 100000},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (!(r[i].v >= r[i].lo && r[i].v <= r[i].hi))
            return tg_fail(ctx, TG_ERR_ARG, "generate.sem: %s must be in [%g, %g], got %g", r[i].name, r[i].lo,
                           r[i].hi, r[i].v);
    static const char *ph[3] = {"pore", "cam", "ise"};
    for (int a = 0; a < 3; a++) {
        if (!isfinite(o->bse[a]) || !isfinite(o->se[a]))
            return tg_fail(ctx, TG_ERR_ARG, "generate.sem: the grey levels of %s must be finite numbers", ph[a]);
        for (int b = 0; b < a; b++)
            if (o->label[a] == o->label[b])
                return tg_fail(ctx, TG_ERR_ARG, "generate.sem: phases %s and %s have the same label %d", ph[b], ph[a],
                               o->label[a]);
    }
    return TG_OK;
}

void tg_sem_info_free(tg_sem_info *info)
{
    if (!info) return;
    tg_free(info->drift);
    info->drift = NULL;
    info->nz = 0;
}

/* Phase index (0 pore, 1 CAM, 2 ISE) of a label value, -1 if none. */
static inline int phase_of(const tg_sem_opts *o, int64_t v)
{
    return v == o->label[0] ? 0 : v == o->label[1] ? 1 : v == o->label[2] ? 2 : -1;
}

static inline int64_t label_at(const tg_volume *v, int64_t x, int64_t y, int64_t z)
{
    const void *p = tg_volume_ptr(v, x, y, z);
    switch (v->dtype) {
    case TG_U8: return *(const uint8_t *)p;
    case TG_U16: return *(const uint16_t *)p;
    default: return *(const int32_t *)p;
    }
}

/* The first voxel whose label is none of the three phases, in index order; returns 0 if all are valid. */
static int find_bad_label(const tg_volume *v, const tg_sem_opts *o, int64_t at[3], int64_t *val)
{
    for (int64_t z = 0; z < v->dims[2]; z++)
        for (int64_t y = 0; y < v->dims[1]; y++)
            for (int64_t x = 0; x < v->dims[0]; x++) {
                int64_t l = label_at(v, x, y, z);
                if (phase_of(o, l) < 0) { at[0] = x; at[1] = y; at[2] = z; *val = l; return 1; }
            }
    return 0;
}

/* The protective cap above the specimen (rows 0 .. cap-1 of the frame): the same in every slice. A grainy
 * deposit (value noise on a 3-px lattice keyed by the seed only) with a fiducial cross milled into it (two dark
 * bars 2 px wide, crossing at the cap's centre), as FIB-SEM operators mill for tracking. Returns a BSE level; the
 * SE level is derived from it. */
static double cap_level(const tg_sem_opts *o, int64_t x, int64_t y, int64_t nx)
{
    double u = (double)x / 3.0, v = (double)y / 3.0, fu = floor(u), fv = floor(v), a = u - fu, b = v - fv;
    double c[2][2];
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 2; i++) {
            tg_rng r = tg_rng_make(o->seed, tg_rng_stream(TAG_CAP, (uint64_t)((int64_t)fu + i) * 1000003u + (uint64_t)((int64_t)fv + j)));
            c[j][i] = tg_rng_uniform(&r);
        }
    a = a * a * (3 - 2 * a);
    b = b * b * (3 - 2 * b);
    double g = (1 - b) * ((1 - a) * c[0][0] + a * c[0][1]) + b * ((1 - a) * c[1][0] + a * c[1][1]);
    double level = 160 + 60 * (g - 0.5);
    double cx = 0.5 * (double)nx, cy = 0.5 * (double)o->cap, half = 0.45 * (double)o->cap;
    double dx = (double)x + 0.5 - cx, dy = (double)y + 0.5 - cy;
    if (fabs(dx) <= half && fabs(dy) <= half && (fabs(dx - dy) < 1.5 || fabs(dx + dy) < 1.5)) level = 40;
    return level;
}

/* Phase images of one frame (cap rows, then the slice): A = BSE levels, B = SE levels + edge terms. ph holds
 * 0..2 for the phases and 3 for the cap. */
static void phase_images(const tg_volume *lab, const tg_sem_opts *o, int64_t z, uint8_t *ph, float *A, float *B)
{
    int64_t nx = lab->dims[0], cap = o->cap, ny = lab->dims[1] + cap;
    for (int64_t y = 0; y < ny; y++)
        for (int64_t x = 0; x < nx; x++)
            ph[y * nx + x] = (uint8_t)(y < cap ? 3 : phase_of(o, label_at(lab, x, y - cap, z)));
    for (int64_t q = 0; q < nx * ny; q++) {
        if (ph[q] == 3) {
            double c = cap_level(o, q % nx, q / nx, nx);
            A[q] = (float)c;
            B[q] = (float)(0.6 * c + 20);
            continue;
        }
        A[q] = (float)o->bse[ph[q]];
        B[q] = (float)o->se[ph[q]];
    }
    if (o->edge == 0) return;
    for (int64_t y = 0; y < ny; y++)
        for (int64_t x = 0; x < nx; x++) {
            int p = ph[y * nx + x];
            if (p == 3) continue; /* the cap stays the same in every slice */
            double e_any = 0, e_pore = 0;
            for (int dy = -2; dy <= 2; dy++)
                for (int dx = -2; dx <= 2; dx++) {
                    int64_t qx = x + dx, qy = y + dy;
                    if ((dx == 0 && dy == 0) || qx < 0 || qy < 0 || qx >= nx || qy >= ny) continue;
                    double d2 = dx * dx + dy * dy;
                    if (d2 > 4.0) continue;
                    int q = ph[qy * nx + qx];
                    if (q == p) continue;
                    double w = 1.0 - sqrt(d2) / 3.0;
                    if (w > e_any) e_any = w;
                    if ((q == 0 || p == 0) && w > e_pore) e_pore = w;
                }
            B[y * nx + x] += (float)(p == 0 ? 0.25 * o->edge * e_any : o->edge * (e_any + e_pore));
        }
}

/* out(x, y) = in(x - dx, y - dy), bilinear, edges replicated. */
static void shift_image(const float *in, float *out, int64_t nx, int64_t ny, double dx, double dy)
{
    for (int64_t y = 0; y < ny; y++) {
        double sy = (double)y - dy, fy = floor(sy), wy = sy - fy;
        int64_t y0 = (int64_t)fy, y1 = y0 + 1;
        y0 = y0 < 0 ? 0 : y0 >= ny ? ny - 1 : y0;
        y1 = y1 < 0 ? 0 : y1 >= ny ? ny - 1 : y1;
        for (int64_t x = 0; x < nx; x++) {
            double sx = (double)x - dx, fx = floor(sx), wx = sx - fx;
            int64_t x0 = (int64_t)fx, x1 = x0 + 1;
            x0 = x0 < 0 ? 0 : x0 >= nx ? nx - 1 : x0;
            x1 = x1 < 0 ? 0 : x1 >= nx ? nx - 1 : x1;
            double top = (1 - wx) * in[y0 * nx + x0] + wx * in[y0 * nx + x1];
            double bot = (1 - wx) * in[y1 * nx + x0] + wx * in[y1 * nx + x1];
            out[y * nx + x] = (float)((1 - wy) * top + wy * bot);
        }
    }
}

/* Separable Gaussian blur of img in place (T is scratch of the same size); kernel k[0..rad]. */
static void blur_image(float *img, float *T, int64_t nx, int64_t ny, const double *k, int rad)
{
    for (int64_t y = 0; y < ny; y++)
        for (int64_t x = 0; x < nx; x++) {
            double acc = 0;
            for (int d = -rad; d <= rad; d++) {
                int64_t xx = x + d;
                xx = xx < 0 ? 0 : xx >= nx ? nx - 1 : xx;
                acc += k[d < 0 ? -d : d] * img[y * nx + xx];
            }
            T[y * nx + x] = (float)acc;
        }
    for (int64_t y = 0; y < ny; y++)
        for (int64_t x = 0; x < nx; x++) {
            double acc = 0;
            for (int d = -rad; d <= rad; d++) {
                int64_t yy = y + d;
                yy = yy < 0 ? 0 : yy >= ny ? ny - 1 : yy;
                acc += k[d < 0 ? -d : d] * T[yy * nx + x];
            }
            img[y * nx + x] = (float)acc;
        }
}

static inline double smooth(double f) { return f * f * (3 - 2 * f); }

/* Curtaining: streaks on cells of CURTAIN_PITCH widths along x, one per cell (see tg_sem.h). */
#define CURTAIN_PITCH 4.0

/* Amplitude lattice value of the streak of cell ic at z-lattice node iz: N(0, 1). */
static inline double curtain_amp(const tg_sem_opts *o, int64_t ic, int64_t iz)
{
    double a, b;
    tg_rng_normal2(o->seed, tg_rng_stream(TAG_CURTAIN, (uint64_t)iz), (uint64_t)ic, &a, &b);
    return a;
}

/* The stripe profile c(x) of slice z: the sum of the streaks of every cell that reaches [0, nx). */
static void curtain_profile(const tg_sem_opts *o, int64_t nx, int64_t z, double *c)
{
    double uz = (double)z / o->curtain_depth, fz = floor(uz), wz = smooth(uz - fz);
    int64_t iz = (int64_t)fz;
    double pitch = CURTAIN_PITCH * o->curtain_width, reach = 4 * 1.6 * o->curtain_width / 2.3548;
    int64_t c0 = (int64_t)floor(-reach / pitch) - 1, c1 = (int64_t)ceil(((double)nx + reach) / pitch) + 1;
    for (int64_t x = 0; x < nx; x++) c[x] = 0;
    for (int64_t ic = c0; ic <= c1; ic++) {
        /* position and width are fixed for the stack (the topography that casts the streak persists), the
         * strength wanders with z */
        tg_u32x4 r = tg_rng_block(o->seed, tg_rng_stream(TAG_CURTAIN_SHAPE, 0), (uint64_t)ic);
        double xc = ((double)ic + tg_rng_u01_(r.v[0], r.v[1])) * pitch;
        double fwhm = o->curtain_width * (0.4 + 1.2 * tg_rng_u01_(r.v[2], r.v[3]));
        double s = fwhm / 2.3548, amp = o->curtaining * ((1 - wz) * curtain_amp(o, ic, iz) + wz * curtain_amp(o, ic, iz + 1));
        int64_t xa = (int64_t)floor(xc - 4 * s), xb = (int64_t)ceil(xc + 4 * s);
        if (xa < 0) xa = 0;
        if (xb > nx - 1) xb = nx - 1;
        /* tilt contrast: the signal follows the slope of a groove of Gaussian depth profile, so a streak is a
         * derivative of a Gaussian (bright flank, dark flank), peak |value| = amp at x = xc -+ s */
        for (int64_t x = xa; x <= xb; x++) {
            double u = ((double)x - xc) / s;
            c[x] += amp * -u * exp(0.5 - 0.5 * u * u);
        }
    }
}

/* Store a float slice into a u8/u16 volume: round and saturate; u16 is the u8 scale times 257. */
static void store_slice(tg_volume *v, int64_t z, const float *img)
{
    int64_t nx = v->dims[0], ny = v->dims[1];
    for (int64_t y = 0; y < ny; y++) {
        if (v->dtype == TG_U8) {
            uint8_t *row = tg_volume_ptr(v, 0, y, z);
            for (int64_t x = 0; x < nx; x++) {
                double g = floor((double)img[y * nx + x] + 0.5);
                row[x] = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g);
            }
        } else {
            uint16_t *row = tg_volume_ptr(v, 0, y, z);
            for (int64_t x = 0; x < nx; x++) {
                double g = floor((double)img[y * nx + x] * 257.0 + 0.5);
                row[x] = (uint16_t)(g < 0 ? 0 : g > 65535 ? 65535 : g);
            }
        }
    }
}

typedef struct sem_plan {
    const tg_sem_opts *o;
    const double *drift;  /* nz pairs */
    double spot[3];       /* illumination: phases and sigma */
    double period[2];
    const double *kernel;
    int rad;
} sem_plan;

/* The whole chain for one slice, in the scratch buffers of one thread. */
static void sem_slice(const tg_volume *lab, const sem_plan *P, int64_t z, uint8_t *ph, float *A, float *B, float *T,
                      double *prof, tg_volume *bse, tg_volume *se)
{
    const tg_sem_opts *o = P->o;
    int64_t nx = lab->dims[0], ny = lab->dims[1] + o->cap, npx = nx * ny;
    phase_images(lab, o, z, ph, A, B);
    double dx = P->drift[2 * z], dy = P->drift[2 * z + 1];
    if (dx != 0 || dy != 0) {
        shift_image(A, T, nx, ny, dx, dy);
        memcpy(A, T, (size_t)npx * sizeof *A);
        shift_image(B, T, nx, ny, dx, dy);
        memcpy(B, T, (size_t)npx * sizeof *B);
    }
    if (P->rad > 0) {
        blur_image(A, T, nx, ny, P->kernel, P->rad);
        blur_image(B, T, nx, ny, P->kernel, P->rad);
    }
    if (o->curtaining > 0) {
        curtain_profile(o, nx, z, prof);
        for (int64_t q = 0; q < npx; q++) {
            A[q] += (float)prof[q % nx];
            B[q] += (float)prof[q % nx];
        }
    }
    if (o->illumination > 0) {
        double cx = (double)nx * (0.5 + 0.35 * sin(P->spot[0] + 6.283185307179586 * (double)z / P->period[0]));
        double cy = (double)ny * (0.5 + 0.35 * sin(P->spot[1] + 6.283185307179586 * (double)z / P->period[1]));
        double w2 = 2 * sq(P->spot[2]);
        for (int64_t y = 0; y < ny; y++)
            for (int64_t x = 0; x < nx; x++) {
                double g = exp(-(sq((double)x - cx) + sq((double)y - cy)) / w2);
                float f = (float)(1.0 + o->illumination * (2 * g - 1));
                A[y * nx + x] *= f;
                B[y * nx + x] *= f;
            }
    }
    if (o->noise > 0) {
        uint64_t stream = tg_rng_stream(TAG_NOISE, (uint64_t)z);
        for (int64_t q = 0; q < npx; q++) {
            double a, b;
            tg_rng_normal2(o->seed, stream, (uint64_t)q, &a, &b);
            A[q] += (float)(o->noise * a);
            B[q] += (float)(o->noise * b);
        }
    }
    store_slice(bse, z, A);
    store_slice(se, z, B);
}

tg_status tg_sem(tg_ctx *ctx, const tg_volume *labels, const tg_sem_opts *o, tg_volume *bse, tg_volume *se,
                 tg_sem_info *info)
{
    tg_status st;
    double *drift = NULL, *kernel = NULL, *prof = NULL;
    float *fbuf = NULL;
    uint8_t *phbuf = NULL;
    tg_volume_init(bse);
    tg_volume_init(se);
    if (info) memset(info, 0, sizeof *info);
    if ((st = tg_sem_check(ctx, o))) return st;
    if (!labels || !labels->buf)
        return tg_fail(ctx, TG_ERR_ARG, "generate.sem: labels is an empty (released) volume");
    if (labels->dtype != TG_U8 && labels->dtype != TG_U16 && labels->dtype != TG_I32)
        return tg_fail(ctx, TG_ERR_ARG, "generate.sem: labels must be u8, u16 or i32, got %s",
                       tg_dtype_name(labels->dtype));
    int64_t at[3], bad;
    if (find_bad_label(labels, o, at, &bad))
        return tg_fail(ctx, TG_ERR_ARG, "generate.sem: label %lld at (x=%lld, y=%lld, z=%lld) (0-based) is none of "
                       "the phases pore=%d, cam=%d, ise=%d", (long long)bad, (long long)at[0], (long long)at[1],
                       (long long)at[2], o->label[0], o->label[1], o->label[2]);
    int64_t nx = labels->dims[0], ny = labels->dims[1] + o->cap, nz = labels->dims[2], npx = nx * ny;
    const int64_t frame[3] = {nx, ny, nz};
    int nt = ctx->nthreads;

    /* the drift walk, serially (deterministic) */
    drift = tg_malloc((size_t)(2 * nz) * sizeof *drift);
    int rad = o->blur > 0 ? (int)ceil(3 * o->blur) : 0;
    kernel = tg_malloc((size_t)(rad + 1) * sizeof *kernel);
    fbuf = tg_malloc((size_t)nt * 3 * (size_t)npx * sizeof *fbuf);
    phbuf = tg_malloc((size_t)nt * (size_t)npx);
    prof = tg_malloc((size_t)nt * (size_t)nx * sizeof *prof);
    if (!drift || !kernel || !fbuf || !phbuf || !prof) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "generate.sem: out of memory for %lldx%lld slices", (long long)nx, (long long)ny);
        goto done;
    }
    drift[0] = drift[1] = 0;
    for (int64_t z = 1; z < nz; z++) {
        tg_rng r = tg_rng_make(o->seed, tg_rng_stream(TAG_DRIFT, (uint64_t)z));
        double sx = tg_rng_normal(&r), sy = tg_rng_normal(&r);
        drift[2 * z] = o->drift > 0 ? drift[2 * z - 2] + o->drift * sx : 0;
        drift[2 * z + 1] = o->drift > 0 ? drift[2 * z - 1] + o->drift * sy : 0;
    }
    double ksum = 0;
    for (int d = 0; d <= rad; d++) {
        kernel[d] = exp(-0.5 * sq(d / (o->blur > 0 ? o->blur : 1)));
        ksum += d ? 2 * kernel[d] : kernel[d];
    }
    for (int d = 0; d <= rad; d++) kernel[d] /= ksum;
    sem_plan P = {o, drift, {0, 0, 0.6 * (double)(nx > ny ? nx : ny)}, {0, 0}, kernel, rad};
    tg_rng ri = tg_rng_make(o->seed, tg_rng_stream(TAG_ILLUM, 0));
    P.spot[0] = 6.283185307179586 * tg_rng_uniform(&ri);
    P.spot[1] = 6.283185307179586 * tg_rng_uniform(&ri);
    P.period[0] = 150 + 250 * tg_rng_uniform(&ri);
    P.period[1] = 150 + 250 * tg_rng_uniform(&ri);

    if ((st = tg_volume_alloc(ctx, frame, o->dtype, labels->spacing, bse))) goto done;
    if ((st = tg_volume_alloc(ctx, frame, o->dtype, labels->spacing, se))) goto done;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t z = 0; z < nz; z++) {
        if (tg_cancelled(ctx)) continue;
        int tid = tg_thread_num();
        tg_progress(ctx, (double)z / (double)nz, "generate.sem");
        float *A = fbuf + (size_t)tid * 3 * (size_t)npx;
        sem_slice(labels, &P, z, phbuf + (size_t)tid * (size_t)npx, A, A + npx, A + 2 * npx, prof + (size_t)tid * (size_t)nx,
                  bse, se);
    }
    if (tg_cancelled(ctx)) { st = tg_fail(ctx, TG_ERR_CANCELLED, "generate.sem: cancelled"); goto done; }
    tg_progress_done(ctx, "generate.sem");
    if (info) {
        info->nz = nz;
        info->drift = drift;
        drift = NULL;
    }
done:
    tg_free(drift);
    tg_free(kernel);
    tg_free(fbuf);
    tg_free(phbuf);
    tg_free(prof);
    if (st) {
        tg_volume_release(bse);
        tg_volume_release(se);
    }
    return st;
}
