/* tg_walk.c — lattice random walks: the tortuosity factor from the mean square displacement (MSD).
 *
 * Method (pytrax, Tranter et al., Transport in Porous Media 2018, doi:10.1007/s11242-018-1101-4): every step a
 * walker picks an axis and a direction; a move into a voxel outside the phase is refused but the step counts;
 * at a face of the volume the walker crosses into a mirror image of the volume (the face voxel is repeated:
 * `c b a | a b c`), so walkers never leave the domain and long walks sample far more than the volume's
 * extent. The MSD per axis grows as MSD_a(t) = p_a t / tau_a, where p_a is the probability of choosing
 * axis a (free space: tau = 1).
 * Anisotropic voxels: axes are chosen with probability p_a proportional to 1/s_a^2, so that in free space
 * the physical diffusivity p_a s_a^2 / 2 is the same along every axis; tau_a is then the ratio of free to
 * effective diffusivity along a. With isotropic voxels p_a = 1/d, pytrax's choice.
 * Randomness: Philox keyed by (seed, walker): walker i's path is the same whatever the thread count.
 * Square displacements are integers (voxels^2) summed exactly in 64-bit integers, so the MSD curve does not
 * depend on the thread count either.
 * Cost: O(walkers * steps), one mask lookup and a quarter of a Philox block per step (about 1e8 steps per second
 * per core); walkers run one after the other on each thread, so a walker's neighbourhood stays in cache.
 * Limits: walkers * steps above TG_WALK_MAX_TOTAL_STEPS (1e14, some twelve days of one core) and more than
 * TG_WALK_MAX_RECORDS records (steps / stride + 1) are refused with a message naming the option to change.
 * Cancellation and progress: checked between walkers and every WALK_CHUNK steps inside a walk (a few
 * milliseconds), so even a single walker of 1e12 steps stops promptly when the cancel flag is set.
 * Memory: the mask (1 byte per voxel, the caller's) + one int64 per row for start sampling (8/nx bytes per
 * voxel) + 3 int64 per record per thread.
 */
#include "tg_walk.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/tg_rng.h"
#include "core/tg_components.h"

#define WALK_STREAM 0x5741u /* "WA": the purpose tag of walker streams */
#define WALK_CHUNK ((int64_t)1 << 20) /* steps between two looks at the cancel flag inside a walk */

/* Shared by the walkers of one run: the steps done so far, for progress and cancellation. */
typedef struct {
    tg_ctx *ctx;
    int64_t done;
    double total;
} walk_progress;

/* Count n more steps done; non-zero when the run must stop (cancel flag, or the progress callback asked). */
static int walk_advance(walk_progress *w, int64_t n)
{
    int64_t d;
#pragma omp atomic capture
    d = w->done += n;
    return tg_progress(w->ctx, (double)d / w->total, "random walk");
}

void tg_walk_result_free(tg_walk_result *r)
{
    tg_free(r->steps);
    for (int a = 0; a < 3; a++) tg_free(r->msd[a]);
    memset(r, 0, sizeof *r);
}

/* A voxel walkers may start on: in the phase (== label) and, when there is a start mask, in it. */
static inline int can_start(const tg_volume *m, const tg_volume *s, uint8_t label, int64_t x, int64_t y, int64_t z)
{
    return *(const uint8_t *)tg_volume_ptr(m, x, y, z) == label && (!s || *(const uint8_t *)tg_volume_ptr(s, x, y, z));
}

/* Row prefix counts of start voxels, to pick the k-th start voxel without a list of all of them. */
static tg_status row_counts(tg_ctx *ctx, const tg_volume *m, const tg_volume *s, uint8_t label, int64_t **rows_out,
                            int64_t *total)
{
    int64_t ny = m->dims[1], nz = m->dims[2], nx = m->dims[0], nrows = ny * nz;
    int64_t *rows = tg_malloc((size_t)(nrows + 1) * sizeof *rows);
    if (!rows) return tg_fail(ctx, TG_ERR_NOMEM, "random walk: out of memory for start positions");
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *a = tg_volume_ptr(m, 0, r % ny, r / ny);
        int64_t c = 0, sa = m->strides[0];
        if (s) {
            const uint8_t *b = tg_volume_ptr(s, 0, r % ny, r / ny);
            int64_t sb = s->strides[0];
            for (int64_t x = 0; x < nx; x++) c += (a[x * sa] == label) & (b[x * sb] != 0);
        } else {
            for (int64_t x = 0; x < nx; x++) c += a[x * sa] == label;
        }
        rows[r + 1] = c;
    }
    rows[0] = 0;
    for (int64_t r = 0; r < nrows; r++) rows[r + 1] += rows[r];
    *rows_out = rows;
    *total = rows[nrows];
    return TG_OK;
}

static void kth_voxel(const tg_volume *m, const tg_volume *s, uint8_t label, const int64_t *rows, int64_t k, int64_t p[3])
{
    int64_t lo = 0, hi = m->dims[1] * m->dims[2]; /* find the row r with rows[r] <= k < rows[r+1] */
    while (hi - lo > 1) {
        int64_t mid = (lo + hi) / 2;
        if (rows[mid] <= k) lo = mid;
        else hi = mid;
    }
    int64_t r = lo, left = k - rows[r], y = r % m->dims[1], z = r / m->dims[1];
    for (int64_t x = 0;; x++)
        if (can_start(m, s, label, x, y, z) && left-- == 0) {
            p[0] = x;
            p[1] = y;
            p[2] = z;
            return;
        }
}

/* One walker: image position p (inside the volume), mirror signs m (+1: the image runs the same way as
 * real space), real displacement d. Adds its square displacements to acc at every record. The hot loop keeps
 * the walker's byte offset in the mask and updates it incrementally; one Philox word drives one step.
 * Runs in chunks of WALK_CHUNK steps and returns early (the run is then cancelled) when told to stop. */
static void walk_one(const tg_volume *mask, const uint32_t thresh[3], const tg_walk_opts *o, int64_t p[3], int64_t *acc,
                     tg_rng *rng, walk_progress *wp)
{
    const uint8_t *base = (const uint8_t *)mask->buf->data + mask->offset;
    const int64_t stride[3] = {mask->strides[0], mask->strides[1], mask->strides[2]};
    const int64_t n[3] = {mask->dims[0], mask->dims[1], mask->dims[2]};
    int64_t off = p[0] * stride[0] + p[1] * stride[1] + p[2] * stride[2];
    int64_t d[3] = {0, 0, 0};
    int m[3] = {1, 1, 1};
    int64_t *r = acc + 3;
    int64_t until_record = o->stride;
    for (int64_t t0 = 0; t0 < o->steps; t0 += WALK_CHUNK) {
        int64_t len = o->steps - t0 < WALK_CHUNK ? o->steps - t0 : WALK_CHUNK;
        for (int64_t t = 0; t < len; t++) {
            uint32_t w = tg_rng_u32(rng);
            int dir = (w & 1u) ? 1 : -1;
            uint32_t u = w >> 1;
            int a = u < thresh[0] ? 0 : (u < thresh[1] ? 1 : 2);
            int64_t step = m[a] * dir, q = p[a] + step;
            if (q < 0 || q >= n[a]) {
                m[a] = -m[a]; /* crossing into the mirror image: the walker stays on its voxel */
                d[a] += dir;
            } else if (base[off + step * stride[a]] == o->label) {
                p[a] = q;
                off += step * stride[a];
                d[a] += dir;
            }
            if (--until_record == 0) {
                until_record = o->stride;
                r[0] += d[0] * d[0];
                r[1] += d[1] * d[1];
                r[2] += d[2] * d[2];
                r += 3;
            }
        }
        if (walk_advance(wp, len)) return;
    }
}

/* Refuse runs whose time or memory is absurd, naming the option to change. */
static tg_status check_size(tg_ctx *ctx, const tg_walk_opts *o)
{
    if ((double)o->walkers * (double)o->steps > TG_WALK_MAX_TOTAL_STEPS)
        return tg_fail(ctx, TG_ERR_ARG,
                       "random walk: walkers x steps = %lld x %lld = %.3g lattice steps would take about %.0f days of "
                       "one core (limit %.0e); lower steps or walkers",
                       (long long)o->walkers, (long long)o->steps, (double)o->walkers * (double)o->steps,
                       (double)o->walkers * (double)o->steps / 1e8 / 86400.0, TG_WALK_MAX_TOTAL_STEPS);
    int64_t nrec = o->steps / o->stride + 1;
    if (nrec > TG_WALK_MAX_RECORDS)
        return tg_fail(ctx, TG_ERR_ARG,
                       "random walk: steps / stride = %lld records of the mean square displacement (limit %lld); "
                       "raise stride to at least %lld",
                       (long long)nrec, (long long)TG_WALK_MAX_RECORDS, (long long)(o->steps / (TG_WALK_MAX_RECORDS - 1) + 1));
    return TG_OK;
}

tg_status tg_random_walk(tg_ctx *ctx, const tg_volume *mask, const tg_volume *start, const tg_walk_opts *o,
                         tg_walk_result *out)
{
    memset(out, 0, sizeof *out);
    if (!mask || !mask->buf) return tg_fail(ctx, TG_ERR_ARG, "random walk: the mask is empty");
    if (mask->dtype != TG_U8) return tg_fail(ctx, TG_ERR_ARG, "random walk: the mask must be u8, got %s", tg_dtype_name(mask->dtype));
    if (start && start->dtype != TG_U8) return tg_fail(ctx, TG_ERR_ARG, "random walk: the start mask must be u8");
    for (int a = 0; start && a < 3; a++)
        if (start->dims[a] != mask->dims[a]) return tg_fail(ctx, TG_ERR_ARG, "random walk: start mask and mask differ in size");
    if (o->walkers < 1) return tg_fail(ctx, TG_ERR_ARG, "random walk: walkers must be at least 1, got %lld", (long long)o->walkers);
    if (o->steps < 1) return tg_fail(ctx, TG_ERR_ARG, "random walk: steps must be at least 1, got %lld", (long long)o->steps);
    if (o->stride < 1 || o->stride > o->steps)
        return tg_fail(ctx, TG_ERR_ARG, "random walk: stride must be between 1 and steps, got %lld", (long long)o->stride);
    tg_status st = check_size(ctx, o);
    if (st) return st;

    /* axis probabilities, as thresholds on a 31-bit uniform */
    double w[3], sum = 0.0;
    int active = 0;
    for (int a = 0; a < 3; a++) {
        w[a] = mask->dims[a] > 1 ? 1.0 / (mask->spacing[a] * mask->spacing[a]) : 0.0;
        active += mask->dims[a] > 1;
        sum += w[a];
    }
    if (active == 0) return tg_fail(ctx, TG_ERR_ARG, "random walk: the volume is a single voxel");
    uint32_t thresh[3];
    double cum = 0.0;
    for (int a = 0; a < 3; a++) {
        out->prob[a] = w[a] / sum;
        cum += out->prob[a];
        thresh[a] = a == 2 ? 0x80000000u : (uint32_t)(cum * 2147483648.0 + 0.5);
    }
    out->dims_active = active;

    int64_t *rows = NULL, total = 0, *acc = NULL;
    st = row_counts(ctx, mask, start, o->label, &rows, &total);
    if (st) return st;
    out->start_voxels = total;
    if (total == 0) {
        st = tg_fail(ctx, TG_ERR_ARG, "random walk: no voxel to start from (the phase is absent%s)", start ? " or does not percolate" : "");
        goto done;
    }
    int64_t nrec = o->steps / o->stride + 1;
    int nt = ctx->nthreads;
    acc = tg_calloc((size_t)nt * (size_t)nrec * 3, sizeof *acc);
    out->steps = tg_malloc((size_t)nrec * sizeof *out->steps);
    for (int a = 0; a < 3; a++) out->msd[a] = tg_malloc((size_t)nrec * sizeof(double));
    if (!acc || !out->steps || !out->msd[0] || !out->msd[1] || !out->msd[2]) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "random walk: out of memory for %lld records", (long long)nrec);
        goto done;
    }
    out->nrec = nrec;
    walk_progress wp = {ctx, 0, (double)o->walkers * (double)o->steps};
#pragma omp parallel num_threads(nt)
    {
        int tid = tg_thread_num();
        int64_t *my = acc + (size_t)tid * (size_t)nrec * 3;
#pragma omp for schedule(dynamic, 16)
        for (int64_t i = 0; i < o->walkers; i++) {
            if (tg_cancelled(ctx)) continue;
            tg_rng rng = tg_rng_make(o->seed, tg_rng_stream(WALK_STREAM, (uint64_t)i));
            uint64_t pick = ((uint64_t)tg_rng_u32(&rng) << 32) | tg_rng_u32(&rng);
            int64_t p[3];
            kth_voxel(mask, start, o->label, rows, (int64_t)(pick % (uint64_t)total), p);
            walk_one(mask, thresh, o, p, my, &rng, &wp);
        }
    }
    if (tg_cancelled(ctx)) {
        st = tg_fail(ctx, TG_ERR_CANCELLED, "random walk: interrupted");
        goto done;
    }
    for (int64_t r = 0; r < nrec; r++) {
        out->steps[r] = r * o->stride;
        for (int a = 0; a < 3; a++) {
            int64_t s = 0;
            for (int t = 0; t < nt; t++) s += acc[((size_t)t * (size_t)nrec + (size_t)r) * 3 + (size_t)a];
            out->msd[a][r] = (double)s / (double)o->walkers;
        }
    }
    tg_progress_done(ctx, "random walk");
done:
    tg_free(rows);
    tg_free(acc);
    if (st) tg_walk_result_free(out);
    return st;
}

tg_status tg_walk_percolating_start(tg_ctx *ctx, const tg_volume *mask, uint8_t label, int connectivity, tg_volume *out)
{
    tg_volume phase, span;
    tg_volume_init(&phase);
    tg_volume_init(&span);
    tg_volume_init(out);
    tg_status st = tg_volume_eq(ctx, mask, label, &phase);
    if (st) goto done;
    int first = 1;
    for (int a = 0; a < 3; a++) {
        if (mask->dims[a] < 2) continue;
        if ((st = tg_percolating(ctx, &phase, a, connectivity, first ? out : &span))) goto done;
        if (!first) { /* both fresh and contiguous: a byte-wise AND */
            uint8_t *o = out->buf->data;
            const uint8_t *p = span.buf->data;
            int64_t n = tg_volume_count(out);
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
            for (int64_t i = 0; i < n; i++) o[i] &= p[i];
            tg_volume_release(&span);
        }
        first = 0;
    }
done:
    tg_volume_release(&phase);
    tg_volume_release(&span);
    if (st) tg_volume_release(out);
    return st;
}
