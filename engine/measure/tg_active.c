/* tg_active.c — electronically and ionically connected CAM. The manual is at the top of tg_active.h.
 *
 * The f32 work array `d` holds a code per voxel until the sweeps turn the CAM part into distances:
 *   >= 0 (or INFINITY)  electronically connected CAM: the geodesic distance to a contact (INFINITY: none yet)
 *   CODE_CAM_CUT        CAM not connected to the collector
 *   CODE_ISE_ION        ISE connected to the separator
 *   CODE_ISE_CUT        ISE not connected to the separator
 *   CODE_OTHER          every other label
 * It first holds the ISE cluster labels (i32) and is rewritten element by element, so no third array is needed.
 */
#include "measure/tg_active.h"

#include <math.h>
#include <string.h>

#include "core/tg_components.h"

#define CODE_OTHER (-1.0f)
#define CODE_ISE_ION (-2.0f)
#define CODE_ISE_CUT (-3.0f)
#define CODE_CAM_CUT (-4.0f)

typedef struct step {
    int dx, dy, dz;
    float w;
} step;

/* One raster pass over the volume, forward (dir = +1) or backward (-1), with the 13 neighbours already visited
 * in that order. Returns the number of voxels whose distance dropped. */
static int64_t sweep(float *d, const int32_t *cl, const int64_t n[3], const step *st, int dir)
{
    int64_t changed = 0;
    const int64_t nx = n[0], ny = n[1], nz = n[2], sy = nx, sz = nx * ny;
    for (int64_t zz = 0; zz < nz; zz++) {
        int64_t z = dir > 0 ? zz : nz - 1 - zz;
        for (int64_t yy = 0; yy < ny; yy++) {
            int64_t y = dir > 0 ? yy : ny - 1 - yy;
            int64_t row = z * sz + y * sy;
            for (int64_t xx = 0; xx < nx; xx++) {
                int64_t x = dir > 0 ? xx : nx - 1 - xx;
                int64_t i = row + x;
                float di = d[i];
                if (!(di > 0)) continue; /* contacts (0) and every non-connected-CAM code stay */
                float best = di;
                int32_t c = cl[i];
                for (int k = 0; k < 13; k++) {
                    int64_t jx = x + dir * st[k].dx, jy = y + dir * st[k].dy, jz = z + dir * st[k].dz;
                    if (jx < 0 || jx >= nx || jy < 0 || jy >= ny || jz < 0 || jz >= nz) continue;
                    int64_t j = jz * sz + jy * sy + jx;
                    float dj = d[j];
                    if (dj >= 0 && cl[j] == c) {
                        float cand = dj + st[k].w;
                        if (cand < best) best = cand;
                    }
                }
                if (best < di) {
                    d[i] = best;
                    changed++;
                }
            }
        }
    }
    return changed;
}

tg_status tg_active_cam(tg_ctx *ctx, const tg_volume *labels, const tg_active_opts *opts, tg_active_result *res,
                        tg_volume *distance)
{
    tg_volume camv, isev;
    uint8_t *elec = NULL, *ionic = NULL;
    int64_t ncam = 0, nise = 0;
    tg_status st = TG_OK;
    tg_volume_init(&camv);
    tg_volume_init(&isev);
    if (distance) tg_volume_init(distance);
    memset(res, 0, sizeof *res);
    if (!labels || !labels->buf) return tg_fail(ctx, TG_ERR_ARG, "active_cam: labels is an empty volume");
    if (!tg_dtype_is_int(labels->dtype))
        return tg_fail(ctx, TG_ERR_ARG, "active_cam: labels must be an integer volume, got %s", tg_dtype_name(labels->dtype));
    if (opts->cam == opts->ise)
        return tg_fail(ctx, TG_ERR_ARG, "active_cam: the CAM and ISE labels must differ (both %lld)", (long long)opts->cam);
    if (opts->axis < 0 || opts->axis > 2) return tg_fail(ctx, TG_ERR_ARG, "active_cam: axis must be 0, 1 or 2, got %d", opts->axis);
    if (opts->n_reach < 0 || opts->n_reach > TG_ACTIVE_MAX_REACH)
        return tg_fail(ctx, TG_ERR_ARG, "active_cam: at most %d reach values, got %d", TG_ACTIVE_MAX_REACH, opts->n_reach);
    for (int k = 0; k < opts->n_reach; k++)
        if (!(opts->reach[k] >= 0)) return tg_fail(ctx, TG_ERR_ARG, "active_cam: reach %d must be >= 0, got %g", k + 1, opts->reach[k]);

    tg_components_opts co = TG_COMPONENTS_OPTS_INIT;
    co.connectivity = opts->connectivity;
    co.use_phase = 1;
    co.phase = opts->cam;
    if ((st = tg_components_ex(ctx, labels, &co, &camv, &ncam, NULL)) != TG_OK) goto done;
    co.phase = opts->ise;
    if ((st = tg_components_ex(ctx, labels, &co, &isev, &nise, NULL)) != TG_OK) goto done;
    elec = tg_malloc((size_t)ncam + 1);
    ionic = tg_malloc((size_t)nise + 1);
    if (!elec || !ionic) { st = tg_fail(ctx, TG_ERR_NOMEM, "active_cam: out of memory for %lld clusters", (long long)(ncam + nise)); goto done; }
    if ((st = tg_components_touch(ctx, &camv, ncam, opts->axis, elec)) != TG_OK) goto done;
    if ((st = tg_components_touch(ctx, &isev, nise, opts->axis, ionic)) != TG_OK) goto done;
    {
        /* touch bit 0: the first slice, bit 1: the last */
        uint8_t cbit = opts->collector_last ? 2 : 1, sbit = opts->collector_last ? 1 : 2;
        for (int64_t c = 0; c <= ncam; c++) elec[c] = c > 0 && (elec[c] & cbit);
        for (int64_t c = 0; c <= nise; c++) ionic[c] = c > 0 && (ionic[c] & sbit);
    }

    const int64_t *n = labels->dims;
    const int64_t N = n[0] * n[1] * n[2], sy = n[0], sz = n[0] * n[1];
    int32_t *cl = (int32_t *)camv.buf->data;
    int32_t *il = (int32_t *)isev.buf->data;
    float *d = (float *)isev.buf->data; /* the ISE labels become the codes in place */
    int64_t cam_n = 0, ise_n = 0, ise_ion = 0, cam_el = 0;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) reduction(+ : cam_n, ise_n, ise_ion, cam_el)
    for (int64_t i = 0; i < N; i++) {
        int32_t l = il[i];
        float code;
        if (l > 0) {
            code = ionic[l] ? CODE_ISE_ION : CODE_ISE_CUT;
            ise_n++;
            ise_ion += ionic[l];
        } else if (cl[i] > 0) {
            code = elec[cl[i]] ? INFINITY : CODE_CAM_CUT;
            cam_n++;
            cam_el += elec[cl[i]];
        } else {
            code = CODE_OTHER;
        }
        memcpy(&d[i], &code, sizeof code);
    }
    res->cam_voxels = cam_n;
    res->ise_voxels = ise_n;
    res->cam_electronic = cam_el;
    res->ise_ionic = ise_ion;

    /* contacts: marked by negating the CAM cluster label (d is only read here), then set to distance 0 */
    int64_t faces = 0, faces_conn = 0, contacts = 0;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads) reduction(+ : faces, faces_conn, contacts)
    for (int64_t z = 0; z < n[2]; z++)
        for (int64_t y = 0; y < n[1]; y++)
            for (int64_t x = 0; x < n[0]; x++) {
                int64_t i = z * sz + y * sy + x;
                float di = d[i];
                int connected = di >= 0;
                if (!connected && di != CODE_CAM_CUT) continue;
                int64_t nb[6];
                int m = 0;
                if (x > 0) nb[m++] = i - 1;
                if (x + 1 < n[0]) nb[m++] = i + 1;
                if (y > 0) nb[m++] = i - sy;
                if (y + 1 < n[1]) nb[m++] = i + sy;
                if (z > 0) nb[m++] = i - sz;
                if (z + 1 < n[2]) nb[m++] = i + sz;
                int touch = 0;
                for (int k = 0; k < m; k++) {
                    float dj = d[nb[k]];
                    if (dj == CODE_ISE_ION || dj == CODE_ISE_CUT) {
                        faces++;
                        if (connected && dj == CODE_ISE_ION) { faces_conn++; touch = 1; }
                    }
                }
                if (touch) { cl[i] = -cl[i]; contacts++; }
            }
    res->faces_cam_ise = faces;
    res->faces_connected = faces_conn;
    res->cam_contact = contacts;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t i = 0; i < N; i++)
        if (cl[i] < 0) { cl[i] = -cl[i]; d[i] = 0.0f; }

    /* geodesic distance inside each CAM cluster: chamfer sweeps until nothing changes */
    step steps[13];
    int ns = 0;
    for (int dz = -1; dz <= 0; dz++)
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                if (dz == 0 && (dy > 0 || (dy == 0 && dx >= 0))) continue; /* only neighbours already visited */
                double ax = dx * labels->spacing[0], ay = dy * labels->spacing[1], az = dz * labels->spacing[2];
                steps[ns++] = (step){dx, dy, dz, (float)sqrt(ax * ax + ay * ay + az * az)};
            }
    int passes = 0;
    if (contacts > 0 && contacts < cam_el) {
        for (;;) {
            if (tg_cancelled(ctx) || tg_progress(ctx, 1.0 - 1.0 / (passes + 2), "active CAM: geodesic distance")) {
                st = tg_fail(ctx, TG_ERR_CANCELLED, "active_cam: cancelled");
                goto done;
            }
            int64_t changed = sweep(d, cl, n, steps, +1);
            changed += sweep(d, cl, n, steps, -1);
            passes += 2;
            if (changed == 0) break;
        }
    }
    res->sweeps = passes;

    int64_t reached[TG_ACTIVE_MAX_REACH] = {0};
    int nr = opts->n_reach;
    int64_t cluster = 0;
    double dmax = 0;
#pragma omp parallel num_threads(ctx->nthreads)
    {
        int64_t loc[TG_ACTIVE_MAX_REACH] = {0};
        int64_t lc = 0;
        double lmax = 0;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < N; i++) {
            float di = d[i];
            if (di >= 0 && di < INFINITY) {
                lc++;
                if (di > lmax) lmax = di;
                for (int k = 0; k < nr; k++) loc[k] += di <= opts->reach[k];
            }
        }
#pragma omp critical
        {
            cluster += lc;
            if (lmax > dmax) dmax = lmax;
            for (int k = 0; k < nr; k++) reached[k] += loc[k];
        }
    }
    res->cam_cluster = cluster;
    res->max_distance = dmax;
    memcpy(res->cam_reached, reached, sizeof reached);

    if (distance) {
        if ((st = tg_volume_alloc_uninit(ctx, n, TG_F32, labels->spacing, distance)) != TG_OK) goto done;
        float *o = (float *)distance->buf->data;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
        for (int64_t i = 0; i < N; i++) {
            float di = d[i];
            o[i] = di >= 0 ? di : di == CODE_CAM_CUT ? -1.0f : NAN;
        }
    }
    tg_progress_done(ctx, "active CAM");
done:
    tg_free(elec);
    tg_free(ionic);
    tg_volume_release(&camv);
    tg_volume_release(&isev);
    if (st != TG_OK && distance) tg_volume_release(distance);
    return st;
}
