/* test_chords.c — chords: a slab (every chord has the slab's length), PoreSpy's counts by length on the shared
 * volumes (tests/fixtures/measure/porespy_chords.txt, copied from anchor-values.json), trimming modes, thread-count
 * independence, bad input. */
#include "tg_test.h"
#include "measure_data.h"
#include "measure/tg_chords.h"

#include <string.h>

static void fixture_path(const char *name, char *out, size_t n)
{
    const char *f = __FILE__, *cut = strstr(f, "tests/c/");
    snprintf(out, n, "%.*stests/fixtures/measure/%s", cut ? (int)(cut - f) : 0, f, name);
}

/* Phase 1 fills z in [5, 15) of a 21x17x30 volume, phase 0 elsewhere. */
static void test_slab(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {21, 17, 30};
    tg_volume v;
    tg_volume_alloc(&ctx, d, TG_U8, NULL, &v);
    for (int z = 5; z < 15; z++) for (int y = 0; y < 17; y++) for (int x = 0; x < 21; x++) tg_volume_set(&v, x, y, z, 1);
    tg_chords_opts o = TG_CHORDS_OPTS_INIT;
    tg_chords_result r;
    o.phase = 1; o.axis = 2; o.spacing = 2; o.trim = TG_TRIM_FACES;
    CHECK_OK(&ctx, tg_chords(&ctx, &v, &o, &r));
    /* lines x = 0,3,..,18 (7) and y = 0,3,..,15 (6); the outer lines go: 5 x 4 chords, all of length 10 */
    CHECK(r.n == 20 && r.nlines == 42 && r.max_length == 10);
    int64_t hist[11];
    tg_chords_histogram(&r, hist);
    CHECK(hist[10] == 20 && hist[0] == 0 && hist[1] == 0 && hist[9] == 0);
    int all10 = 1;
    for (int64_t i = 0; i < r.n; i++) all10 &= r.lengths[i] == 10;
    CHECK(all10);
    tg_chords_result_free(&r);
    o.trim = TG_TRIM_ENDS;
    CHECK_OK(&ctx, tg_chords(&ctx, &v, &o, &r));
    CHECK(r.n == 42 && r.max_length == 10);
    tg_chords_result_free(&r);
    /* phase 0 along z: two chords per line, both touching an end */
    o.phase = 0;
    CHECK_OK(&ctx, tg_chords(&ctx, &v, &o, &r));
    CHECK(r.n == 0 && r.lengths == NULL);
    tg_chords_result_free(&r);
    o.trim = TG_TRIM_NONE;
    CHECK_OK(&ctx, tg_chords(&ctx, &v, &o, &r));
    CHECK(r.n == 84 && r.lengths[0] == 5 && r.lengths[1] == 15);
    tg_chords_result_free(&r);
    /* along x phase 1 spans the whole line: nothing survives trimming; spacing 0 keeps every line */
    o.phase = 1; o.axis = 0; o.spacing = 0;
    CHECK_OK(&ctx, tg_chords(&ctx, &v, &o, &r));
    CHECK(r.n == 17 * 10 && r.max_length == 21);
    tg_chords_result_free(&r);
    o.trim = TG_TRIM_ENDS;
    CHECK_OK(&ctx, tg_chords(&ctx, &v, &o, &r));
    CHECK(r.n == 0);
    tg_chords_result_free(&r);
    /* an absent phase has no chords */
    o.phase = 7; o.axis = 1; o.trim = TG_TRIM_NONE;
    CHECK_OK(&ctx, tg_chords(&ctx, &v, &o, &r));
    CHECK(r.n == 0 && r.max_length == 0);
    tg_chords_result_free(&r);
    tg_volume_release(&v);
}

/* The chord list is the same with 1 and 3 threads, and on a strided view as on its copy. */
static void test_threads_and_views(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {40, 33, 37};
    tg_volume v, w, view, cp;
    tg_volume_alloc(&ctx, d, TG_U8, NULL, &v);
    uint64_t s = 99;
    uint8_t *p = v.buf->data;
    for (int64_t i = 0; i < tg_volume_count(&v); i++) p[i] = (uint8_t)(measure_rng(&s) % 3);
    CHECK_OK(&ctx, tg_volume_astype(&ctx, &v, TG_I32, &w));
    int64_t lo[3] = {1, 2, 3}, hi[3] = {39, 33, 30};
    CHECK_OK(&ctx, tg_volume_view(&ctx, &w, lo, hi, &view));
    CHECK_OK(&ctx, tg_volume_copy(&ctx, &view, &cp));
    for (int axis = 0; axis < 3; axis++) {
        tg_chords_opts o = TG_CHORDS_OPTS_INIT;
        tg_chords_result a, b, c;
        o.axis = axis; o.phase = 2; o.spacing = 1;
        ctx.nthreads = 1;
        CHECK_OK(&ctx, tg_chords(&ctx, &view, &o, &a));
        ctx.nthreads = 3;
        CHECK_OK(&ctx, tg_chords(&ctx, &view, &o, &b));
        CHECK_OK(&ctx, tg_chords(&ctx, &cp, &o, &c));
        CHECK(a.n > 0 && a.n == b.n && a.n == c.n);
        CHECK(a.n == b.n && memcmp(a.lengths, b.lengths, (size_t)a.n * 4) == 0);
        CHECK(a.n == c.n && memcmp(a.lengths, c.lengths, (size_t)a.n * 4) == 0);
        tg_chords_result_free(&a); tg_chords_result_free(&b); tg_chords_result_free(&c);
    }
    tg_volume_release(&v); tg_volume_release(&w); tg_volume_release(&view); tg_volume_release(&cp);
}

static void test_bad_input(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {5, 5, 5};
    tg_volume f;
    tg_volume_alloc(&ctx, d, TG_F32, NULL, &f);
    tg_chords_opts o = TG_CHORDS_OPTS_INIT;
    tg_chords_result r;
    CHECK(tg_chords(&ctx, &f, &o, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "integer") != NULL && r.n == 0 && r.lengths == NULL);
    tg_volume_release(&f);
    tg_volume_alloc(&ctx, d, TG_U8, NULL, &f);
    o.axis = 3;
    CHECK(tg_chords(&ctx, &f, &o, &r) == TG_ERR_ARG);
    o.axis = 0; o.spacing = -1;
    CHECK(tg_chords(&ctx, &f, &o, &r) == TG_ERR_ARG);
    tg_volume_release(&f);
}

/* PoreSpy 3.0.4: apply_chords(im == phase, spacing=2, axis, trim_edges=True) counts by length, exactly. */
static void test_porespy_counts(void)
{
    char path[1024], name[64], axis[4];
    fixture_path("porespy_chords.txt", path, sizeof path);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    ctx.nthreads = 2;
    tg_volume v;
    tg_volume_init(&v);
    char loaded[64] = "";
    int lines = 0, line_ok = 0;
    char buf[16384];
    while (fgets(buf, sizeof buf, f)) {
        if (buf[0] == '#') continue;
        int phase, nread = 0;
        long long n, total, maxl;
        if (sscanf(buf, "%63s %d %3s %lld %lld %lld%n", name, &phase, axis, &n, &total, &maxl, &nread) != 6) continue;
        if (strcmp(name, loaded) != 0) {
            tg_volume_release(&v);
            const char *rel = strcmp(name, "synth_3phase_100") == 0 ? "synth-3phase-100/synth_3phase_100.tif"
                            : strcmp(name, "synth_3phase_200") == 0 ? "synth-3phase-200/synth_3phase_200.tif"
                                                                     : "taufactor-nmc-electrode-3phase/electrode.tiff";
            if (!measure_load(&ctx, rel, strcmp(name, "real_electrode") == 0 ? 85 : 1, &v)) { loaded[0] = 0; continue; }
            snprintf(loaded, sizeof loaded, "%s", name);
        }
        tg_chords_opts o = TG_CHORDS_OPTS_INIT;
        o.phase = phase;
        o.axis = axis[0] - 'x';
        o.spacing = 2;
        tg_chords_result r;
        CHECK_OK(&ctx, tg_chords(&ctx, &v, &o, &r));
        int64_t *hist = calloc((size_t)r.max_length + 1, sizeof *hist), sum = 0;
        tg_chords_histogram(&r, hist); /* PoreSpy's counts by length are the truth for it */
        for (int64_t i = 0; i < r.n; i++) sum += r.lengths[i];
        int same = r.n == n && sum == total && r.max_length == maxl;
        const char *q = buf + nread;
        for (long long L = 1; L <= maxl && same; L++) {
            long long c = 0;
            int used = 0;
            if (sscanf(q, "%lld%n", &c, &used) != 1) { same = 0; break; }
            q += used;
            same = L <= r.max_length && hist[L] == c;
        }
        if (!same) fprintf(stderr, "chords differ: %s phase %d axis %s: n %lld vs %lld\n", name, phase, axis, (long long)r.n, n);
        CHECK(same);
        line_ok += same;
        lines++;
        free(hist);
        tg_chords_result_free(&r);
    }
    fclose(f);
    tg_volume_release(&v);
    fprintf(stderr, "porespy chord counts: %d of %d volume/phase/axis cases equal\n", line_ok, lines);
}

TG_TEST_MAIN(test_slab, test_threads_and_views, test_bad_input, test_porespy_counts)
