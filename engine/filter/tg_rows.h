/* tg_rows.h — the helpers the filter files share (and segment's features, which build on the filters): rows
 * of a volume of any dtype read into floats and written back, the reflect boundary, the check of a volume
 * argument. Engine-internal: the names carry a double underscore (tg_filter__...), they are not public API.
 *
 * Conventions: a row is (y, z), nx values along x, read and written through the volume's strides (views work).
 * Storing rounds to nearest (ties to even, nearbyint) and saturates for integer dtypes; NaN becomes 0.
 * Reflect: half-sample symmetric (d c b a | a b c d | d c b a), periodic with period 2n, scipy.ndimage's
 * mode "reflect".
 * Cost: one pass over the row; no allocation; safe to call from parallel regions (no shared state).
 */
#ifndef TG_ROWS_H
#define TG_ROWS_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

/* Half-sample symmetric index: maps any integer i onto [0, n) as d c b a | a b c d | d c b a. */
static inline int64_t tg_filter__reflect_index(int64_t i, int64_t n)
{
    if (i >= 0 && i < n) return i;
    int64_t m = 2 * n;
    i %= m;
    if (i < 0) i += m;
    return i < n ? i : m - 1 - i;
}

/* Copy row (y, z) of any dtype into dst as floats (views with any strides). */
void tg_filter__load_row(const tg_volume *v, int64_t y, int64_t z, float *dst);
/* Store nx floats into row (y, z) of v, rounded and saturated for integer dtypes (NaN becomes 0). */
void tg_filter__store_row(tg_volume *v, int64_t y, int64_t z, const float *src);
/* Check a volume argument: non-empty. name is used in the message ("filter.gaussian: ..."). */
tg_status tg_filter__check_volume(tg_ctx *ctx, const tg_volume *v, const char *name);

#endif
