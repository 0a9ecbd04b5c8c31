/* tg_percolation.c — percolating, inlet, outlet and isolated clusters of a phase: see tg_percolation.h. */
#include "measure/tg_percolation.h"

#include "core/tg_components.h"

#include <string.h>

tg_status tg_percolation(tg_ctx *ctx, const tg_volume *labels, const tg_percolation_opts *opt, tg_percolation_result *res)
{
    tg_percolation_opts def = TG_PERCOLATION_OPTS_INIT;
    if (!opt) opt = &def;
    memset(res, 0, sizeof *res);
    if (!labels || !labels->buf) return tg_fail(ctx, TG_ERR_ARG, "percolation: the labels are empty (released)");
    if (!tg_dtype_is_int(labels->dtype))
        return tg_fail(ctx, TG_ERR_ARG, "percolation: labels must be an integer volume (u8, u16, i32), got %s",
                       tg_dtype_name(labels->dtype));
    if (opt->axis < 0 || opt->axis > 2) return tg_fail(ctx, TG_ERR_ARG, "percolation: axis must be 0, 1 or 2, got %d", opt->axis);
    tg_components_opts co = TG_COMPONENTS_OPTS_INIT;
    co.connectivity = opt->connectivity;
    co.use_phase = 1;
    co.phase = opt->phase;
    tg_volume lab;
    tg_volume_init(&lab);
    tg_components_info info = {0, NULL, NULL};
    uint8_t *touch = NULL;
    int64_t n = 0;
    tg_status st = tg_components_ex(ctx, labels, &co, &lab, &n, &info);
    if (st != TG_OK) goto done;
    if (!(touch = tg_malloc((size_t)n + 1))) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "percolation: out of memory for %lld clusters", (long long)n);
        goto done;
    }
    if ((st = tg_components_touch(ctx, &lab, n, opt->axis, touch)) != TG_OK) goto done;
    for (int64_t i = 1; i <= n; i++) {
        res->voxels[touch[i]] += info.sizes[i];
        res->clusters[touch[i]]++;
        res->phase_voxels += info.sizes[i];
    }
    res->n_clusters = n;
    res->total_voxels = tg_volume_count(labels);
done:
    tg_free(touch);
    tg_components_info_free(&info);
    tg_volume_release(&lab);
    return st;
}

void tg_percolation_from_totals(const tg_components_totals *t, int axis, const int64_t dims[3], tg_percolation_result *res)
{
    memset(res, 0, sizeof *res);
    int lo = TG_TOUCH_X0 << (2 * axis), hi = TG_TOUCH_X1 << (2 * axis);
    for (int64_t i = 1; i <= t->n; i++) {
        int kind = ((t->touch[i] & lo) ? TG_PERC_INLET : 0) | ((t->touch[i] & hi) ? TG_PERC_OUTLET : 0);
        res->voxels[kind] += t->sizes[i];
        res->clusters[kind]++;
        res->phase_voxels += t->sizes[i];
    }
    res->n_clusters = t->n;
    res->total_voxels = dims[0] * dims[1] * dims[2];
}
