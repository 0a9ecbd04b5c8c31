/* test_features.c — pixel features against scipy.ndimage (fixtures written once by bench/features_ref.py),
 * slabs against the whole volume, thread-count independence, eigenvalues against LAPACKE dsyev, tg_gaussian_pass
 * chains against tg_gaussian bit for bit, the 3x3
 * convolution layers against a direct convolution, the weight file and bad input. */
#include <lapacke.h>
#include <stdio.h>
#include <string.h>

#include "filter/tg_gaussian.h"
#include "segment/tg_conv.h"
#include "segment/tg_features.h"
#include "tg_test.h"

#define NX 20
#define NY 18
#define NZ 14
#define NPTS 120

static void fixture_path(const char *name, char *out, size_t n)
{
    const char *f = __FILE__, *slash = strrchr(f, '/');
    int dir = slash ? (int)(slash - f) : 0;
    snprintf(out, n, "%.*s/../fixtures/features/%s", dir, f, name);
}

static int read_floats(const char *name, float *dst, size_t n)
{
    char path[1024];
    fixture_path(name, path, sizeof path);
    FILE *fp = fopen(path, "rb");
    if (!fp) { fprintf(stderr, "cannot open fixture %s\n", path); return -1; }
    size_t got = fread(dst, sizeof(float), n, fp);
    fclose(fp);
    return got == n ? 0 : -1;
}

static int load_input(tg_volume *v)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int64_t d[3] = {NX, NY, NZ};
    if (tg_volume_alloc(&ctx, d, TG_F32, NULL, v)) return -1;
    return read_floats("input.f32", tg_volume_ptr(v, 0, 0, 0), NX * NY * NZ);
}

/* ref.txt: points and the feature names of the 2D and 3D full sets */
typedef struct ref {
    int64_t pts[NPTS * 3];
    int nnames[2];
    char names[2][80][64];
} ref;

static int load_ref(ref *r)
{
    char path[1024], line[256];
    fixture_path("ref.txt", path, sizeof path);
    FILE *fp = fopen(path, "r");
    if (!fp) return -1;
    int np = 0, ok = 1;
    ok &= fgets(line, sizeof line, fp) != NULL && fgets(line, sizeof line, fp) != NULL;
    ok &= fgets(line, sizeof line, fp) != NULL && sscanf(line, "points %d", &np) == 1 && np == NPTS;
    for (int i = 0; ok && i < NPTS; i++) {
        long long x, y, z;
        ok &= fgets(line, sizeof line, fp) != NULL && sscanf(line, "%lld %lld %lld", &x, &y, &z) == 3;
        r->pts[3 * i] = x; r->pts[3 * i + 1] = y; r->pts[3 * i + 2] = z;
    }
    for (int d = 0; ok && d < 2; d++) {
        int dd = 0;
        ok &= fgets(line, sizeof line, fp) != NULL && sscanf(line, "names%dd %d", &dd, &r->nnames[d]) == 2 &&
              dd == d + 2 && r->nnames[d] <= 80;
        for (int i = 0; ok && i < r->nnames[d]; i++) {
            ok &= fgets(line, sizeof line, fp) != NULL;
            line[strcspn(line, "\n")] = 0;
            snprintf(r->names[d][i], 64, "%.63s", line);
        }
    }
    fclose(fp);
    return ok ? 0 : -1;
}

static tg_features_opts full_opts(int dims)
{
    tg_features_opts o = TG_FEATURES_OPTS_INIT;
    o.kinds = TG_FEATURES_FULL;
    o.dims = dims;
    return o;
}

static void test_names(void)
{
    static ref r;
    CHECK(load_ref(&r) == 0);
    for (int d = 0; d < 2; d++) {
        tg_features_opts o = full_opts(d + 2);
        CHECK(tg_features_count(&o, 1) == r.nnames[d]);
        char buf[64];
        int same = 1;
        for (int i = 0; i < r.nnames[d]; i++) {
            CHECK(tg_features_name(&o, 1, i, buf, sizeof buf) == 0);
            if (strcmp(buf, r.names[d][i])) { same = 0; fprintf(stderr, "name %d: %s vs %s\n", i, buf, r.names[d][i]); }
        }
        CHECK(same);
        CHECK(tg_features_name(&o, 1, r.nnames[d], buf, sizeof buf) == -1 && buf[0] == 0);
        CHECK(tg_features_count(&o, 2) == 2 * r.nnames[d]);
        CHECK(tg_features_name(&o, 2, r.nnames[d], buf, sizeof buf) == 0 && strcmp(buf, "ch2:gaussian(0.3)") == 0);
    }
    tg_features_opts o = TG_FEATURES_OPTS_INIT; /* default: 7 gaussian + 3 x 6 derivative-based */
    CHECK(tg_features_count(&o, 2) == 2 * (7 + 18));
}

/* Every feature of the 2D and 3D full sets at the 120 fixture points, within 1e-4 of scipy. */
static void test_against_scipy(void)
{
    static ref r;
    static float want[NPTS * 80], got[NPTS * 80];
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    ctx.nthreads = 1; /* thread-count independence is tested below; one thread is quickest on a loaded machine */
    tg_volume v;
    tg_volume_init(&v);
    CHECK(load_ref(&r) == 0);
    CHECK(load_input(&v) == 0);
    const tg_volume *ch[1] = {&v};
    for (int d = 0; d < 2; d++) {
        tg_features_opts o = full_opts(d + 2);
        int nf = tg_features_count(&o, 1);
        CHECK(read_floats(d ? "ref3d.f32" : "ref2d.f32", want, (size_t)NPTS * nf) == 0);
        CHECK_OK(&ctx, tg_features_points(&ctx, ch, 1, &o, r.pts, NPTS, 0, got));
        double worst = 0;
        int wi = 0;
        for (int i = 0; i < NPTS * nf; i++) {
            double e = fabs((double)got[i] - want[i]);
            if (!(e <= worst)) { worst = e; wi = i; }
        }
        if (worst > 1e-4)
            fprintf(stderr, "%dD: worst at point %d feature %s: %g vs %g\n", d + 2, wi / nf, r.names[d][wi % nf],
                    got[wi], want[wi]);
        NEAR(worst, 0, 1e-4);
    }
    tg_volume_release(&v);
}

/* Slabs give exactly the whole-volume values, whatever the thread count; integer dtypes work. */
static void test_slabs_threads(void)
{
    tg_ctx c1, c2;
    tg_ctx_init(&c1);
    tg_ctx_init(&c2);
    c1.nthreads = 1;
    c2.nthreads = 2;
    tg_volume v, u;
    tg_volume_init(&v);
    tg_volume_init(&u);
    CHECK(load_input(&v) == 0);
    CHECK_OK(&c1, tg_volume_alloc(&c1, v.dims, TG_U16, NULL, &u));
    for (int64_t z = 0; z < NZ; z++)
        for (int64_t y = 0; y < NY; y++)
            for (int64_t x = 0; x < NX; x++) tg_volume_set(&u, x, y, z, 1000 * tg_volume_get(&v, x, y, z));
    const tg_volume *ch[2] = {&v, &u};
    for (int dims = 2; dims <= 3; dims++) {
        tg_features_opts o = full_opts(dims);
        o.nsigmas = 4; /* 0.3, 0.7, 1.0, 1.6: halo 7 + 4 in 3D, smaller than the volume */
        int nf = tg_features_count(&o, 2);
        size_t per = (size_t)NX * NY * nf;
        float *whole = tg_malloc(per * NZ * sizeof(float)), *part = tg_malloc(per * NZ * sizeof(float));
        float *thr = tg_malloc(per * NZ * sizeof(float));
        CHECK_OK(&c1, tg_features_slab(&c1, ch, 2, &o, 0, NZ, whole));
        CHECK_OK(&c2, tg_features_slab(&c2, ch, 2, &o, 0, NZ, thr));
        CHECK(memcmp(whole, thr, per * NZ * sizeof(float)) == 0);
        int64_t cuts[] = {0, 1, 5, 6, 13, NZ};
        for (int i = 0; i + 1 < 6; i++)
            CHECK_OK(&c2, tg_features_slab(&c2, ch, 2, &o, cuts[i], cuts[i + 1], part + per * (size_t)cuts[i]));
        CHECK(memcmp(whole, part, per * NZ * sizeof(float)) == 0);
        /* the stack of planes of slices 5..12 holds the same numbers as the columns of the slab matrix */
        size_t nv = (size_t)NX * NY * 7;
        float **planes = tg_malloc(sizeof(float *) * (size_t)nf);
        float *pl = tg_malloc(nv * (size_t)nf * sizeof(float));
        for (int j = 0; j < nf; j++) planes[j] = pl + (size_t)j * nv;
        CHECK_OK(&c2, tg_features_stack(&c2, ch, 2, &o, 5, 12, planes));
        int same = 1;
        for (int j = 0; j < nf; j++)
            for (size_t i = 0; i < nv; i++) same &= planes[j][i] == whole[((size_t)NX * NY * 5 + i) * nf + j];
        CHECK(same);
        CHECK(tg_features_stack(&c2, ch, 2, &o, 5, 5, planes) == TG_ERR_RANGE);
        tg_free(planes);
        tg_free(pl);
        /* the u16 channel is 1000 x the f32 one up to rounding: Gaussian of it within 1000 * (0.5/1000) */
        int g1 = 0, g2 = nf / 2; /* gaussian(0.3) of channel 1 and channel 2 */
        double worst = 0;
        for (size_t r = 0; r < (size_t)NX * NY * NZ; r++) {
            double e = fabs(whole[r * nf + g2] - 1000.0 * whole[r * nf + g1]);
            if (e > worst) worst = e;
        }
        CHECK(worst <= 0.5 + 1e-3);
        tg_free(whole);
        tg_free(part);
        tg_free(thr);
    }
    tg_volume_release(&v);
    tg_volume_release(&u);
}

static double frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
}

static void test_eigenvalues(void)
{
    uint64_t seed = 7;
    double worst3 = 0, worst2 = 0;
    for (int t = 0; t < 2000; t++) {
        double m[6];
        for (int i = 0; i < 6; i++) m[i] = frand(&seed) * (t % 3 == 0 ? 1e3 : 1);
        if (t % 7 == 1) m[1] = m[2] = m[4] = 0;                   /* diagonal */
        if (t % 7 == 2) { m[0] = m[3] = m[5] = 0.3; m[1] = m[2] = m[4] = 0; } /* multiple of I */
        if (t % 7 == 3) { m[1] = m[2] = m[4] = 1e-9; }           /* nearly diagonal */
        if (t % 7 == 4) { m[0] = 2; m[3] = 2; m[5] = 1; m[1] = 1e-7; m[2] = m[4] = 0; } /* close pair */
        double a[9] = {m[0], m[1], m[2], m[1], m[3], m[4], m[2], m[4], m[5]}, w[3], ev[3];
        CHECK(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', 3, a, 3, w) == 0);
        tg_sym3_eigenvalues(m, ev);
        double scale = 1;
        for (int i = 0; i < 6; i++) scale = fmax(scale, fabs(m[i]));
        for (int i = 0; i < 3; i++) worst3 = fmax(worst3, fabs(ev[i] - w[2 - i]) / scale); /* dsyev: ascending */
        CHECK(ev[0] >= ev[1] && ev[1] >= ev[2]);
        double b[4] = {m[0], m[1], m[1], m[3]}, w2[2], e2[2];
        CHECK(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', 2, b, 2, w2) == 0);
        tg_sym2_eigenvalues(m[0], m[1], m[3], e2);
        worst2 = fmax(worst2, fmax(fabs(e2[0] - w2[1]), fabs(e2[1] - w2[0])) / scale);
    }
    NEAR(worst3, 0, 1e-7);
    NEAR(worst2, 0, 1e-14);
}

/* ---- convolution ---- */

static void fill_weights(tg_conv_net *net, uint64_t seed)
{
    for (int l = 0; l < net->nlayers; l++) {
        tg_conv_layer *L = &net->layer[l];
        for (int i = 0; i < L->cout * L->cin * 9; i++) L->w[i] = (float)(0.5 * frand(&seed));
        for (int i = 0; i < L->cout; i++) L->b[i] = (float)(0.1 * frand(&seed));
    }
}

/* Direct convolution in double: nin planes (nin == 1 feeds cin copies). */
static void direct(const tg_conv_net *net, const float *in, int nin, int nx, int ny, double *out)
{
    int nxy = nx * ny, cmax = 1;
    for (int l = 0; l < net->nlayers; l++) cmax = net->layer[l].cout > cmax ? net->layer[l].cout : cmax;
    if (net->layer[0].cin > cmax) cmax = net->layer[0].cin;
    double *a = malloc(sizeof(double) * (size_t)(cmax * nxy)), *b = malloc(sizeof(double) * (size_t)(cmax * nxy));
    for (int i = 0; i < net->layer[0].cin; i++)
        for (int p = 0; p < nxy; p++) a[i * nxy + p] = in[(nin == 1 ? 0 : i) * nxy + p];
    for (int l = 0; l < net->nlayers; l++) {
        const tg_conv_layer *L = &net->layer[l];
        for (int o = 0; o < L->cout; o++)
            for (int y = 0; y < ny; y++)
                for (int x = 0; x < nx; x++) {
                    double s = L->b[o];
                    for (int i = 0; i < L->cin; i++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int sy = y + ky - 1, sx = x + kx - 1;
                                if (sy < 0 || sy >= ny || sx < 0 || sx >= nx) continue;
                                s += (double)L->w[((o * L->cin + i) * 3 + ky) * 3 + kx] * a[i * nxy + sy * nx + sx];
                            }
                    b[o * nxy + y * nx + x] = s > 0 ? s : 0;
                }
        double *t = a; a = b; b = t;
    }
    memcpy(out, a, sizeof(double) * (size_t)(tg_conv_outputs(net) * nxy));
    free(a);
    free(b);
}

static void test_conv_direct(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    ctx.nthreads = 2;
    const int nx = 13, ny = 11, nxy = nx * ny;
    int cin[3] = {3, 5, 4}, cout[3] = {5, 4, 2};
    tg_conv_net *net = NULL;
    CHECK_OK(&ctx, tg_conv_new(&ctx, 3, cin, cout, &net));
    if (!net) return;
    fill_weights(net, 11);
    float in[3 * 13 * 11], out[2 * 13 * 11];
    double ref[2 * 13 * 11];
    uint64_t s = 5;
    for (int i = 0; i < 3 * nxy; i++) in[i] = (float)frand(&s);
    for (int nin = 1; nin <= 3; nin += 2) {
        CHECK_OK(&ctx, tg_conv_slice(&ctx, net, in, nin, nx, ny, out));
        direct(net, in, nin, nx, ny, ref);
        double worst = 0;
        int positive = 0;
        for (int i = 0; i < 2 * nxy; i++) {
            worst = fmax(worst, fabs(out[i] - ref[i]));
            positive += ref[i] > 0;
        }
        NEAR(worst, 0, 1e-4);
        CHECK(positive > nxy / 4 && positive < 2 * nxy); /* ReLU active and inactive somewhere */
    }
    CHECK(tg_conv_slice(&ctx, net, in, 2, nx, ny, out) == TG_ERR_ARG && strstr(ctx.msg, "takes 3 input planes"));
    /* thread-count independence */
    float out1[2 * 13 * 11];
    tg_ctx c1;
    tg_ctx_init(&c1);
    c1.nthreads = 1;
    CHECK_OK(&c1, tg_conv_slice(&c1, net, in, 1, nx, ny, out1));
    CHECK_OK(&ctx, tg_conv_slice(&ctx, net, in, 1, nx, ny, out));
    CHECK(memcmp(out, out1, sizeof out) == 0);
    tg_conv_free(net);
}

static void tmp_path(const char *name, char *out, size_t n)
{
    const char *t = getenv("TG_TEST_TMP");
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", t ? t : "/tmp");
    if (system(cmd) != 0) fprintf(stderr, "cannot create %s\n", t);
    snprintf(out, n, "%s/features_%s", t ? t : "/tmp", name);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

static void test_conv_file(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    int cin[2] = {3, 4}, cout[2] = {4, 2};
    tg_conv_net *net = NULL, *back = NULL;
    char path[1024], bad[1024];
    tmp_path("net.tgconv", path, sizeof path);
    tmp_path("bad.tgconv", bad, sizeof bad);
    CHECK_OK(&ctx, tg_conv_new(&ctx, 2, cin, cout, &net));
    if (!net) return;
    fill_weights(net, 3);
    CHECK_OK(&ctx, tg_conv_save(&ctx, net, path));
    CHECK_OK(&ctx, tg_conv_load(&ctx, path, &back));
    CHECK(back && back->nlayers == 2 && back->layer[1].cin == 4 && back->layer[1].cout == 2);
    if (back) {
        CHECK(memcmp(back->layer[0].w, net->layer[0].w, 4 * 3 * 9 * sizeof(float)) == 0);
        CHECK(memcmp(back->layer[1].b, net->layer[1].b, 2 * sizeof(float)) == 0);
    }
    /* the documented layout: header text, then layer 1's W[0][0][0][0] as little-endian f32 */
    FILE *f = fopen(path, "rb");
    char text[200] = {0};
    size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    const char *hdr = "tortuga-conv 1\nlayers 2\nlayer 3 4\nlayer 4 2\ndata\n";
    CHECK(len > strlen(hdr) && memcmp(text, hdr, strlen(hdr)) == 0);
    unsigned char *p = (unsigned char *)text + strlen(hdr);
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float w0;
    memcpy(&w0, &u, 4);
    CHECK(w0 == net->layer[0].w[0]);
    size_t total = strlen(hdr) + (size_t)(4 * 3 * 9 + 4 + 2 * 4 * 9 + 2) * 4;
    unsigned char *all = calloc(1, total + 8);
    f = fopen(path, "rb");
    size_t have = f ? fread(all, 1, total + 8, f) : 0;
    if (f) fclose(f);
    CHECK(have == total);
    /* in memory: serialize gives the file's bytes, parse reads them back */
    unsigned char *mem = NULL;
    size_t mlen = 0;
    tg_conv_net *mnet = NULL;
    CHECK_OK(&ctx, tg_conv_serialize(&ctx, net, &mem, &mlen));
    CHECK(mem && mlen == total && memcmp(mem, all, total) == 0);
    if (mem) {
        CHECK_OK(&ctx, tg_conv_parse(&ctx, "in memory", mem, mlen, &mnet));
        CHECK(mnet && memcmp(mnet->layer[1].w, net->layer[1].w, 2 * 4 * 9 * sizeof(float)) == 0);
        tg_conv_net *cut = NULL;
        CHECK(tg_conv_parse(&ctx, "in memory", mem, mlen - 1, &cut) == TG_ERR_FORMAT && cut == NULL);
        CHECK(strstr(ctx.msg, "in memory") != NULL);
    }
    tg_conv_free(mnet);
    tg_free(mem);

    struct { const char *what; size_t n; const char *text; } cases[] = {
        {"truncated", total - 3, NULL},
        {"bytes after the weights", total + 4, NULL},
        {"not a tortuga convolution weight file", 0, "P5\n3 3\n"},
        {"version 2 is not supported", 0, "tortuga-conv 2\nlayers 1\nlayer 1 1\ndata\n"},
        {"wrong shapes", 0, "tortuga-conv 1\nlayers 2\nlayer 3 4\nlayer 5 2\ndata\n"},
        {"line 2 must be", 0, "tortuga-conv 1\nlayers 0\ndata\n"},
        {"must be 'data'", 0, "tortuga-conv 1\nlayers 1\nlayer 1 1\n"},
        {"truncated", 0, "tortuga-conv 1\nlayers 1\nlayer 1 1\ndata\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].text) write_bytes(bad, cases[i].text, strlen(cases[i].text));
        else write_bytes(bad, all, cases[i].n);
        tg_conv_net *x = NULL;
        tg_status st = tg_conv_load(&ctx, bad, &x);
        CHECK(st == TG_ERR_FORMAT && x == NULL && strstr(ctx.msg, cases[i].what) && strstr(ctx.msg, bad));
        if (!strstr(ctx.msg, cases[i].what)) fprintf(stderr, "case %zu: %s\n", i, ctx.msg);
    }
    tg_conv_net *x = NULL;
    CHECK(tg_conv_load(&ctx, "/nonexistent/net.tgconv", &x) == TG_ERR_IO && strstr(ctx.msg, "/nonexistent/net.tgconv"));
    /* a NaN weight */
    float nan = NAN;
    unsigned char nb[4];
    memcpy(nb, &nan, 4);
    memcpy(all + strlen(hdr) + 8, nb, 4);
    write_bytes(bad, all, total);
    CHECK(tg_conv_load(&ctx, bad, &x) == TG_ERR_FORMAT && strstr(ctx.msg, "not finite"));
    free(all);
    remove(bad);
    remove(path);
    tg_conv_free(net);
    tg_conv_free(back);
}

/* Conv columns of tg_features equal tg_conv_slice on each slice. */
static void test_conv_features(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_volume v;
    tg_volume_init(&v);
    CHECK(load_input(&v) == 0);
    int cin[2] = {3, 4}, cout[2] = {4, 3};
    tg_conv_net *net = NULL;
    CHECK_OK(&ctx, tg_conv_new(&ctx, 2, cin, cout, &net));
    if (!net) { tg_volume_release(&v); return; }
    fill_weights(net, 9);
    tg_features_opts o = TG_FEATURES_OPTS_INIT;
    o.nsigmas = 1;
    o.sigmas[0] = 1.0;
    o.kinds = TG_FEAT_BIT(TG_FEAT_GAUSSIAN);
    o.conv = net;
    CHECK(tg_features_count(&o, 1) == 4);
    char name[64];
    tg_features_name(&o, 1, 3, name, sizeof name);
    CHECK(strcmp(name, "ch1:conv3") == 0);
    const tg_volume *ch[1] = {&v};
    static float out[NX * NY * 2 * 4], planes[3 * NX * NY];
    CHECK_OK(&ctx, tg_features_slab(&ctx, ch, 1, &o, 5, 7, out));
    CHECK_OK(&ctx, tg_conv_slice(&ctx, net, (float *)tg_volume_ptr(&v, 0, 0, 6), 1, NX, NY, planes));
    int same = 1;
    for (int p = 0; p < NX * NY; p++)
        for (int j = 0; j < 3; j++) same &= out[(NX * NY + p) * 4 + 1 + j] == planes[j * NX * NY + p];
    CHECK(same);
    o.kinds = 0; /* conv only */
    CHECK(tg_features_count(&o, 1) == 3);
    CHECK_OK(&ctx, tg_features_slab(&ctx, ch, 1, &o, 6, 7, out));
    CHECK(memcmp(out, (float[]){planes[0], planes[NX * NY], planes[2 * NX * NY]}, 3 * sizeof(float)) == 0);
    net->layer[1].cin = 5; /* a broken chain is refused */
    CHECK(tg_features_slab(&ctx, ch, 1, &o, 6, 7, out) == TG_ERR_ARG && strstr(ctx.msg, "layer 2 takes 5 inputs"));
    net->layer[1].cin = 4;
    tg_conv_free(net);
    tg_volume_release(&v);
}

/* tg_gaussian_pass chained x, y, z gives tg_gaussian's values bit for bit, for several orders at once, with the
 * product input, in 2D (per slice) and 3D; bad pass arguments are refused. */
static void test_gaussian_pass(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    ctx.nthreads = 2;
    int64_t d[3] = {37, 11, 9};
    size_t n = (size_t)(d[0] * d[1] * d[2]);
    tg_volume a, b, ab, ref;
    tg_volume_init(&a); tg_volume_init(&b); tg_volume_init(&ab); tg_volume_init(&ref);
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_F32, NULL, &a));
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_F32, NULL, &b));
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, d, TG_F32, NULL, &ab));
    float *pa = (float *)tg_volume_ptr(&a, 0, 0, 0), *pb = (float *)tg_volume_ptr(&b, 0, 0, 0);
    float *pab = (float *)tg_volume_ptr(&ab, 0, 0, 0);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        pa[i] = (float)(x >> 8) / 16777216.0f;
        pb[i] = (float)(i % 7) - 2.5f;
        pab[i] = pa[i] * pb[i];
    }
    float *X = tg_malloc(n * sizeof *X), *XY = tg_malloc(n * sizeof *XY), *D[3];
    for (int k = 0; k < 3; k++) D[k] = tg_malloc(n * sizeof *D[k]);
    tg_gaussian_work *w = NULL;
    double s = 1.7;
    CHECK_OK(&ctx, tg_gaussian_work_new(&ctx, d, tg_gaussian_radius(s, 4.0), &w));
    for (int mode = 0; mode < 3; mode++) { /* 0: 3D of a; 1: 3D of a * b (product input); 2: 2D of a */
        const float *in2 = mode == 1 ? pb : NULL;
        for (int ox = 0; ox < 3; ox++)
            for (int oy = 0; oy < 3; oy += 2) {
                float *o1[1] = {X}, *o2[1] = {mode == 2 ? D[0] : XY};
                CHECK_OK(&ctx, tg_gaussian_pass(&ctx, w, pa, in2, d, 0, s, 4.0, 1, &ox, o1));
                CHECK_OK(&ctx, tg_gaussian_pass(&ctx, w, X, NULL, d, 1, s, 4.0, 1, &oy, o2));
                int orders[3] = {2, 0, 1};
                int nz_orders = mode == 2 ? 1 : 3;
                if (mode != 2) CHECK_OK(&ctx, tg_gaussian_pass(&ctx, w, XY, NULL, d, 2, s, 4.0, 3, orders, D));
                for (int k = 0; k < nz_orders; k++) {
                    tg_gaussian_opts g = TG_GAUSSIAN_OPTS_INIT;
                    g.sigma[0] = g.sigma[1] = g.sigma[2] = s;
                    g.order[0] = ox;
                    g.order[1] = oy;
                    g.order[2] = mode == 2 ? 0 : orders[k];
                    g.per_slice = mode == 2;
                    CHECK_OK(&ctx, tg_gaussian(&ctx, mode == 1 ? &ab : &a, &g, &ref));
                    CHECK(memcmp(tg_volume_ptr(&ref, 0, 0, 0), D[k], n * sizeof(float)) == 0);
                    tg_volume_release(&ref);
                }
            }
    }
    /* bad arguments */
    int o0 = 0, o3 = 3;
    float *self[1] = {pa};
    CHECK(tg_gaussian_pass(&ctx, w, pa, NULL, d, 0, s, 4.0, 1, &o0, self) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "aliases") != NULL);
    CHECK(tg_gaussian_pass(&ctx, w, pa, NULL, d, 3, s, 4.0, 1, &o0, D) == TG_ERR_ARG);
    CHECK(tg_gaussian_pass(&ctx, w, pa, NULL, d, 0, s, 4.0, 1, &o3, D) == TG_ERR_ARG);
    CHECK(tg_gaussian_pass(&ctx, w, pa, NULL, d, 0, 9.0, 4.0, 1, &o0, D) == TG_ERR_ARG); /* radius > the work's */
    CHECK(strstr(ctx.msg, "smaller") != NULL);
    tg_gaussian_work_free(w);
    tg_free(X); tg_free(XY);
    for (int k = 0; k < 3; k++) tg_free(D[k]);
    tg_volume_release(&a); tg_volume_release(&b); tg_volume_release(&ab);
}

static void test_bad_input(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    ctx.nthreads = 1;
    tg_volume a, b;
    tg_volume_init(&a);
    tg_volume_init(&b);
    int64_t da[3] = {8, 6, 4}, db[3] = {8, 7, 4};
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, da, TG_U8, NULL, &a));
    CHECK_OK(&ctx, tg_volume_alloc(&ctx, db, TG_U8, NULL, &b));
    const tg_volume *ch[2] = {&a, &b};
    float out[8 * 6 * 4 * 60];
    tg_features_opts o = TG_FEATURES_OPTS_INIT;
    CHECK(tg_features_slab(&ctx, ch, 2, &o, 0, 4, out) == TG_ERR_ARG && strstr(ctx.msg, "channels differ in shape") &&
          strstr(ctx.msg, "8x7x4"));
    ch[1] = &a;
    CHECK_OK(&ctx, tg_features_slab(&ctx, ch, 2, &o, 0, 4, out));
    CHECK(tg_features_slab(&ctx, ch, 2, &o, 2, 5, out) == TG_ERR_RANGE && strstr(ctx.msg, "[2, 5)"));
    CHECK(tg_features_slab(&ctx, ch, 2, &o, 2, 2, out) == TG_ERR_RANGE);
    CHECK(tg_features_slab(&ctx, ch, 0, &o, 0, 1, out) == TG_ERR_ARG && strstr(ctx.msg, "at least one channel"));
    tg_features_opts bad = o;
    bad.sigmas[2] = -1;
    CHECK(tg_features_check(&ctx, &bad) == TG_ERR_ARG && strstr(ctx.msg, "sigma 3 is -1"));
    CHECK(tg_features_count(&bad, 1) == 0);
    bad = o;
    bad.sigmas[1] = 0.3;
    CHECK(tg_features_check(&ctx, &bad) == TG_ERR_ARG && strstr(ctx.msg, "listed twice"));
    bad = o;
    bad.sigmas[0] = 100;
    CHECK(tg_features_check(&ctx, &bad) == TG_ERR_ARG);
    bad = o;
    bad.nsigmas = 0;
    CHECK(tg_features_check(&ctx, &bad) == TG_ERR_ARG);
    bad = o;
    bad.dims = 4;
    CHECK(tg_features_check(&ctx, &bad) == TG_ERR_ARG && strstr(ctx.msg, "dims must be 2"));
    bad = o;
    bad.kinds = 0;
    CHECK(tg_features_check(&ctx, &bad) == TG_ERR_ARG && strstr(ctx.msg, "no feature"));
    bad = o;
    bad.kinds = TG_FEAT_BIT(TG_FEAT_HESSIAN);
    bad.nsigmas = 1; /* hessian at 0.3 only: nothing */
    CHECK(tg_features_check(&ctx, &bad) == TG_ERR_ARG && strstr(ctx.msg, "no feature"));
    int64_t pts[3] = {1, 2, 4};
    CHECK(tg_features_points(&ctx, ch, 2, &o, pts, 1, 0, out) == TG_ERR_RANGE && strstr(ctx.msg, "outside"));
    /* allocation failures leave nothing behind */
    int hit = 0;
    for (long n = 1; n < 400; n++) {
        tg_alloc_fail_after(n);
        tg_status st = tg_features_slab(&ctx, ch, 2, &o, 0, 4, out);
        tg_alloc_fail_after(0);
        if (st == TG_OK) break;
        hit += st == TG_ERR_NOMEM;
    }
    CHECK(hit > 5);
    tg_volume_release(&a);
    tg_volume_release(&b);
}

TG_TEST_MAIN(test_names, test_against_scipy, test_slabs_threads, test_eigenvalues, test_gaussian_pass, test_conv_direct, test_conv_file,
             test_conv_features, test_bad_input)
