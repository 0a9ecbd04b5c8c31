/* tg_volume.h — the volume: a refcounted buffer, an offset, dims, strides, dtype and spacing.
 *
 * Axes: x = image columns (fastest in memory), y = rows, z = slices (TIFF pages). Indices are 0-based,
 * ranges half-open [lo, hi). strides[] are in elements, so element (x,y,z) lives at
 *     (char *)buf->data + offset + (x*strides[0] + y*strides[1] + z*strides[2]) * tg_dtype_size(dtype).
 * A freshly allocated volume is contiguous (strides 1, nx, nx*ny). A view shares the buffer and bumps its
 * reference count; releasing the last reference frees the data.
 * spacing[] is in metres (1 means "unknown, one voxel").
 *
 * Memory: the buffer is nx*ny*nz*sizeof(dtype) bytes; a view costs nothing per voxel.
 */
#ifndef TG_VOLUME_H
#define TG_VOLUME_H

#include "tg_core.h"

typedef enum tg_dtype { TG_U8 = 0, TG_U16, TG_I32, TG_F32, TG_F64, TG_NDTYPES } tg_dtype;

typedef struct tg_buffer {
    atomic_long refs;
    size_t bytes;
    void *data;
} tg_buffer;

typedef struct tg_volume {
    tg_buffer *buf;     /* NULL for an empty (released) volume */
    size_t offset;      /* bytes from buf->data to element (0,0,0) */
    int64_t dims[3];
    int64_t strides[3]; /* elements */
    tg_dtype dtype;
    double spacing[3];  /* metres */
} tg_volume;

static inline size_t tg_dtype_size(tg_dtype t) /* inline: every element address goes through it */
{
    static const size_t sizes[TG_NDTYPES] = {1, 2, 4, 4, 8};
    return (unsigned)t < TG_NDTYPES ? sizes[t] : 0;
}
const char *tg_dtype_name(tg_dtype t);
/* Parse "u8", "u16", "i32", "f32", "f64"; returns 0 on success, -1 if unknown. */
int tg_dtype_parse(const char *name, tg_dtype *out);
int tg_dtype_is_int(tg_dtype t);
double tg_dtype_min(tg_dtype t); /* representable range, for saturation */
double tg_dtype_max(tg_dtype t);

/* An empty volume (buf NULL, dims 0). Safe to release. */
void tg_volume_init(tg_volume *v);
/* Allocate a contiguous zeroed volume. dims >= 1 each; spacing may be NULL (then 1,1,1). */
tg_status tg_volume_alloc(tg_ctx *ctx, const int64_t dims[3], tg_dtype dtype, const double spacing[3], tg_volume *out);
/* The same without zeroing, for outputs the caller writes completely (readers, conversions): saves a pass. */
tg_status tg_volume_alloc_uninit(tg_ctx *ctx, const int64_t dims[3], tg_dtype dtype, const double spacing[3], tg_volume *out);
/* Drop this reference; the volume becomes empty. Idempotent. */
void tg_volume_release(tg_volume *v);
/* A new reference to the same data (no copy). */
void tg_volume_ref(const tg_volume *in, tg_volume *out);
/* A zero-copy view of the box [lo, hi) (0-based, half-open, each within dims). */
tg_status tg_volume_view(tg_ctx *ctx, const tg_volume *in, const int64_t lo[3], const int64_t hi[3], tg_volume *out);

int64_t tg_volume_count(const tg_volume *v);   /* nx*ny*nz */
int tg_volume_is_contiguous(const tg_volume *v);
static inline void *tg_volume_ptr(const tg_volume *v, int64_t x, int64_t y, int64_t z)
{
    return (char *)v->buf->data + v->offset +
           (size_t)(x * v->strides[0] + y * v->strides[1] + z * v->strides[2]) * tg_dtype_size(v->dtype);
}
double tg_volume_get(const tg_volume *v, int64_t x, int64_t y, int64_t z);
/* Stores val converted to the dtype: rounded to nearest and saturated for integer types. */
void tg_volume_set(tg_volume *v, int64_t x, int64_t y, int64_t z, double val);

/* A contiguous copy (views become plain volumes). */
tg_status tg_volume_copy(tg_ctx *ctx, const tg_volume *in, tg_volume *out);
/* Convert to another dtype: floats to integers round to nearest and saturate; NaN becomes 0. */
tg_status tg_volume_astype(tg_ctx *ctx, const tg_volume *in, tg_dtype dtype, tg_volume *out);

typedef struct tg_stats {
    double min, max, mean, std; /* over the finite values; std is the population standard deviation */
    int64_t count;              /* finite voxels */
    int64_t nan_count;          /* non-finite voxels, counted apart: NaN, +Inf, -Inf */
    int64_t posinf_count, neginf_count;
} tg_stats;
/* Thread-count independent: per-slice partial sums added in slice order. */
tg_status tg_volume_stats(tg_ctx *ctx, const tg_volume *in, tg_stats *out);

/* The voxels a histogram did not bin. */
typedef struct tg_hist_outside {
    int64_t below, above;        /* finite values outside [lo, hi] */
    int64_t nan, posinf, neginf; /* non-finite values, never binned */
} tg_hist_outside;

/* Histogram of bins equal-width bins over [lo, hi] (finite, lo < hi; any such range, even [-DBL_MAX, DBL_MAX]);
 * values outside and non-finite values are not binned but counted in outside (may be NULL).
 * The last bin includes hi. counts must hold bins entries. */
tg_status tg_volume_histogram(tg_ctx *ctx, const tg_volume *in, int bins, double lo, double hi, int64_t *counts,
                              tg_hist_outside *outside);

/* Counts of each value of an integer volume. For u8/u16 counts must hold 256/65536 entries, indexed by value.
 * For i32 the values must lie in [vmin, vmin + n) (find them with tg_volume_stats); counts holds n entries. */
tg_status tg_volume_counts(tg_ctx *ctx, const tg_volume *in, int64_t vmin, int64_t n, int64_t *counts);

/* Replace value from[i] by to[i] (exact match of the stored value); other values are kept.
 * Output has dtype out_dtype (values saturate). */
tg_status tg_volume_map(tg_ctx *ctx, const tg_volume *in, const double *from, const double *to, int n,
                        tg_dtype out_dtype, tg_volume *out);
/* u8 mask: 1 where value == target. */
tg_status tg_volume_eq(tg_ctx *ctx, const tg_volume *in, double target, tg_volume *out);
/* u8 mask: 1 where value >= t. */
tg_status tg_volume_threshold(tg_ctx *ctx, const tg_volume *in, double t, tg_volume *out);
/* Fill every voxel with val (converted as in tg_volume_set). */
tg_status tg_volume_fill(tg_ctx *ctx, tg_volume *v, double val);

#endif
