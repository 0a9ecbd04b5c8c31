/* tg_forest.c — random forest of CART trees. Manual in tg_forest.h. */
#include "segment/tg_forest.h"

#include "core/tg_rng.h"
#include "core/tg_sha256.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define MAXB 256
#ifndef EXACT_BELOW
#define EXACT_BELOW 64 /* binned mode: nodes with fewer samples are split exactly */
#endif

void tg_forest_init(tg_forest *f) { memset(f, 0, sizeof *f); }

void tg_forest_free(tg_forest *f)
{
    if (f->trees)
        for (int t = 0; t < f->ntrees; t++) {
            tg_free(f->trees[t].nodes);
            tg_free(f->trees[t].values);
        }
    tg_free(f->trees);
    tg_free(f->weights);
    tg_free(f->class_values);
    tg_free(f->importance);
    tg_free(f->meta);
    tg_forest_init(f);
}

/* ---- training data shared by all trees ---- */
typedef struct train_data {
    int64_t n;
    int nf, K, mtry, min_leaf, max_depth, bins, bootstrap;
    const uint8_t *y;
    const double *cw;    /* class weights */
    const float *X;      /* the caller's rows (row-major n x nf): exact splits */
    const uint8_t *code; /* binned: row-major codes [i*nf + f] (a sample's codes share cache lines) */
    const float *edges;  /* binned: [f*MAXB + b] */
    const int *nbins;    /* binned: per feature */
    uint64_t seed;
} train_data;

typedef struct pair { float v; int32_t i; } pair;

/* Per-thread scratch, sized once for the largest tree. The node's samples are idx[lo,hi); their classes and
 * weights are kept beside them (yk, wv) and permuted with them, so split searches read those sequentially. */
typedef struct scratch {
    int32_t *idx;
    uint8_t *yk;
    float *wv;
    uint8_t *pc;       /* binned: the codes row of each position (m x nf), permuted with idx */
    float *px;         /* the feature row of each position (m x nf), permuted with idx */
    float *rowtmp;     /* nf */
    float *w;          /* n: bootstrap count of each sample id */
    double *hist;      /* nf*MAXB*K weights of a batch of features, binned */
    int32_t *hcount;   /* nf*MAXB distinct samples per bin */
    int32_t *batch;    /* nf: features of the batch */
    pair *pairs;       /* n, exact */
    int32_t *perm;     /* nf */
    int64_t *stack;    /* 4 per entry: lo, hi, depth, node */
    tg_forest_node *nodes;
    float *values;
    double *imp;       /* nf */
    double *wk, *wl;   /* K each */
    int32_t nnodes, nvalues;
} scratch;

static uint32_t rnd_below(tg_rng *r, uint32_t n) { return (uint32_t)(((uint64_t)tg_rng_u32(r) * n) >> 32); }

static double gini_score(const double *wk, int K, double W) /* sum_k wk^2 / W */
{
    double s = 0;
    for (int k = 0; k < K; k++) s += wk[k] * wk[k];
    return W > 0 ? s / W : 0;
}

typedef struct split { int feature; float thr; int bin; double score; } split;

/* Histograms of the q features batch[] over the node's samples, in one pass over the samples. */
static void hist_batch(const train_data *d, scratch *s, int64_t lo, int64_t hi, int q)
{
    const int K = d->K, nf = d->nf;
    memset(s->hist, 0, sizeof(double) * (size_t)q * MAXB * K);
    memset(s->hcount, 0, sizeof(int32_t) * (size_t)q * MAXB);
    for (int64_t j = lo; j < hi; j++) {
        const uint8_t *row = s->pc + (size_t)j * nf;
        const int yk = s->yk[j];
        const double w = s->wv[j];
        for (int t = 0; t < q; t++) {
            int b = row[s->batch[t]];
            s->hist[((size_t)t * MAXB + b) * K + yk] += w;
            s->hcount[t * MAXB + b]++;
        }
    }
}

/* Best bin edge of batch feature t. Returns 0 if the feature is constant in the node. */
static int sweep_binned(const train_data *d, scratch *s, int t, int64_t m, const double *wk, double W, split *best)
{
    const int K = d->K, f = s->batch[t], nb = d->nbins[f];
    const int32_t *hc = s->hcount + (size_t)t * MAXB;
    const double *hist = s->hist + (size_t)t * MAXB * K;
    int bmin = 0, bmax = nb - 1;
    while (bmin < nb && hc[bmin] == 0) bmin++;
    while (bmax > bmin && hc[bmax] == 0) bmax--;
    if (bmax <= bmin) return 0;
    double *wl = s->wl, WL = 0;
    for (int k = 0; k < K; k++) wl[k] = 0;
    int64_t nl = 0;
    for (int b = bmin; b < bmax; b++) {
        const double *h = hist + (size_t)b * K;
        for (int k = 0; k < K; k++) { wl[k] += h[k]; WL += h[k]; }
        nl += hc[b];
        if (hc[b] == 0 || nl < d->min_leaf) continue;
        if (m - nl < d->min_leaf) break;
        double sl = 0, sr = 0, WR = W - WL;
        for (int k = 0; k < K; k++) { sl += wl[k] * wl[k]; double r = wk[k] - wl[k]; sr += r * r; }
        double score = (WL > 0 ? sl / WL : 0) + (WR > 0 ? sr / WR : 0);
        if (score > best->score) {
            best->score = score;
            best->feature = f;
            best->bin = b;
            best->thr = d->edges[(size_t)f * MAXB + b];
        }
    }
    return 1;
}

/* Sort pairs by value: quicksort with median of three, insertion sort for short runs. */
static void sort_pairs(pair *a, int64_t n)
{
    while (n > 16) {
        pair *m = a + n / 2, *l = a + n - 1, t;
        if (m->v < a->v) { t = *m; *m = *a; *a = t; }
        if (l->v < a->v) { t = *l; *l = *a; *a = t; }
        if (l->v < m->v) { t = *l; *l = *m; *m = t; }
        float p = m->v;
        int64_t i = 0, j = n - 1;
        for (;;) {
            while (a[i].v < p) i++;
            while (a[j].v > p) j--;
            if (i >= j) break;
            t = a[i]; a[i] = a[j]; a[j] = t;
            i++; j--;
        }
        int64_t nl = j + 1; /* recurse into the smaller part, loop on the larger (bounded stack) */
        if (nl < n - nl) { sort_pairs(a, nl); a += nl; n -= nl; }
        else { sort_pairs(a + nl, n - nl); n = nl; }
    }
    for (int64_t i = 1; i < n; i++) {
        pair x = a[i];
        int64_t j = i;
        while (j > 0 && a[j - 1].v > x.v) { a[j] = a[j - 1]; j--; }
        a[j] = x;
    }
}

/* Exact split of feature f: sort the node's values, try every boundary between distinct values. */
static int eval_exact(const train_data *d, scratch *s, int64_t lo, int64_t hi, int f, const double *wk, double W,
                      split *best)
{
    const int K = d->K, nf = d->nf;
    int64_t m = hi - lo;
    pair *p = s->pairs;
    float vmin = INFINITY, vmax = -INFINITY;
    for (int64_t j = 0; j < m; j++) {
        float v = s->px[(size_t)(lo + j) * nf + f];
        p[j].v = v;
        p[j].i = (int32_t)(lo + j);
        if (v < vmin) vmin = v;
        if (v > vmax) vmax = v;
    }
    if (!(vmax > vmin)) return 0;
    sort_pairs(p, m);
    double *wl = s->wl, WL = 0;
    for (int k = 0; k < K; k++) wl[k] = 0;
    for (int64_t j = 0; j + 1 < m; j++) {
        int32_t i = p[j].i;
        wl[s->yk[i]] += s->wv[i];
        WL += s->wv[i];
        if (p[j + 1].v <= p[j].v) continue;
        int64_t nl = j + 1;
        if (nl < d->min_leaf) continue;
        if (m - nl < d->min_leaf) break;
        double sl = 0, sr = 0, WR = W - WL;
        for (int k = 0; k < K; k++) { sl += wl[k] * wl[k]; double r = wk[k] - wl[k]; sr += r * r; }
        double score = (WL > 0 ? sl / WL : 0) + (WR > 0 ? sr / WR : 0);
        if (score > best->score) {
            float a = p[j].v, b = p[j + 1].v;
            float thr = (float)((double)a / 2 + (double)b / 2);
            if (!(thr < b)) thr = a;
            best->score = score;
            best->feature = f;
            best->thr = thr;
            best->bin = -1;
        }
    }
    return 1;
}

static double gini(const double *wk, int K, double W)
{
    if (W <= 0) return 0;
    return 1.0 - gini_score(wk, K, W) / W;
}

/* Draw candidate features (Fisher-Yates over perm) until mtry non-constant ones were evaluated or all were tried. */
static void find_split(const train_data *d, scratch *s, tg_rng *r, int64_t lo, int64_t hi, const double *wk, double W,
                       split *best)
{
    const int nf = d->nf;
    int exact = !d->bins || hi - lo < EXACT_BELOW;
    for (int f = 0; f < nf; f++) s->perm[f] = f;
    int visited = 0, drawn = 0;
    while (visited < d->mtry && drawn < nf) {
        int q = 0;
        while (q < d->mtry - visited && drawn < nf) {
            int k = drawn + (int)rnd_below(r, (uint32_t)(nf - drawn));
            int f = s->perm[k];
            s->perm[k] = s->perm[drawn];
            s->perm[drawn++] = f;
            s->batch[q++] = f;
        }
        if (exact)
            for (int t = 0; t < q; t++) visited += eval_exact(d, s, lo, hi, s->batch[t], wk, W, best);
        else {
            hist_batch(d, s, lo, hi, q);
            for (int t = 0; t < q; t++) visited += sweep_binned(d, s, t, hi - lo, wk, W, best);
        }
    }
}

static void swap_pos(const train_data *d, scratch *s, int64_t a, int64_t b)
{
    const size_t nf = (size_t)d->nf;
    int32_t i = s->idx[a]; s->idx[a] = s->idx[b]; s->idx[b] = i;
    uint8_t y = s->yk[a]; s->yk[a] = s->yk[b]; s->yk[b] = y;
    float w = s->wv[a]; s->wv[a] = s->wv[b]; s->wv[b] = w;
    memcpy(s->rowtmp, s->px + a * nf, 4 * nf);
    memcpy(s->px + a * nf, s->px + b * nf, 4 * nf);
    memcpy(s->px + b * nf, s->rowtmp, 4 * nf);
    if (d->bins) {
        uint8_t *t = (uint8_t *)s->rowtmp;
        memcpy(t, s->pc + a * nf, nf);
        memcpy(s->pc + a * nf, s->pc + b * nf, nf);
        memcpy(s->pc + b * nf, t, nf);
    }
}

/* Grow tree t into s->nodes / s->values and s->imp. Returns 0, or -1 when cancelled. */
static int grow_tree(const train_data *d, scratch *s, int t, tg_ctx *ctx)
{
    const int K = d->K, nf = d->nf;
    const int64_t n = d->n;
    tg_rng r = tg_rng_make(d->seed, tg_rng_stream(TG_FOREST_RNG_TAG, (uint64_t)t));
    for (int64_t i = 0; i < n; i++) s->w[i] = 0;
    if (d->bootstrap)
        for (int64_t j = 0; j < n; j++) s->w[rnd_below(&r, (uint32_t)n)] += 1.0f;
    else
        for (int64_t i = 0; i < n; i++) s->w[i] = 1.0f;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (s->w[i] > 0) {
            s->idx[m] = (int32_t)i;
            memcpy(s->px + (size_t)m * nf, d->X + (size_t)i * nf, sizeof(float) * (size_t)nf);
            if (d->bins) memcpy(s->pc + (size_t)m * nf, d->code + (size_t)i * nf, (size_t)nf);
            s->yk[m] = d->y[i];
            s->wv[m++] = (float)(s->w[i] * d->cw[d->y[i]]);
        }
    for (int f = 0; f < nf; f++) s->imp[f] = 0;
    s->nnodes = 1;
    s->nvalues = 0;
    int64_t *st = s->stack, sp = 1;
    st[0] = 0; st[1] = m; st[2] = 0; st[3] = 0;
    double *wk = s->wk;
    while (sp > 0) {
        sp--;
        int64_t lo = st[4 * sp], hi = st[4 * sp + 1], depth = st[4 * sp + 2], node = st[4 * sp + 3];
        if (ctx && tg_cancelled(ctx)) return -1;
        for (int k = 0; k < K; k++) wk[k] = 0;
        for (int64_t j = lo; j < hi; j++) wk[s->yk[j]] += s->wv[j];
        double W = 0;
        int nonzero = 0;
        for (int k = 0; k < K; k++) { W += wk[k]; nonzero += wk[k] > 0; }
        split best = {-1, 0, -1, -INFINITY};
        if (nonzero > 1 && hi - lo >= 2 * (int64_t)d->min_leaf && (d->max_depth <= 0 || depth < d->max_depth))
            find_split(d, s, &r, lo, hi, wk, W, &best);
        tg_forest_node *nd = &s->nodes[node];
        if (best.feature < 0) {
            nd->feature = -1;
            nd->threshold = 0;
            nd->child = s->nvalues;
            float *v = s->values + s->nvalues;
            for (int k = 0; k < K; k++) v[k] = (float)(wk[k] / W);
            s->nvalues += K;
            continue;
        }
        /* partition [lo,hi): left = x <= thr (the bin test in binned nodes is the same test) */
        int64_t a = lo, b = hi - 1;
        const int f = best.feature;
        if (best.bin >= 0) {
            while (a <= b) {
                if (s->pc[(size_t)a * nf + f] <= best.bin) a++;
                else swap_pos(d, s, a, b--);
            }
        } else {
            while (a <= b) {
                if (s->px[(size_t)a * nf + f] <= best.thr) a++;
                else swap_pos(d, s, a, b--);
            }
        }
        double wl[TG_FOREST_MAX_CLASSES], wr[TG_FOREST_MAX_CLASSES], WL = 0, WR = 0;
        for (int k = 0; k < K; k++) wl[k] = 0;
        for (int64_t j = lo; j < a; j++) wl[s->yk[j]] += s->wv[j];
        for (int k = 0; k < K; k++) { wr[k] = wk[k] - wl[k]; WL += wl[k]; WR += wr[k]; }
        s->imp[f] += W * gini(wk, K, W) - WL * gini(wl, K, WL) - WR * gini(wr, K, WR);
        int32_t child = s->nnodes;
        s->nnodes += 2;
        nd->feature = f;
        nd->threshold = best.thr;
        nd->child = child;
        /* push right then left: left is grown first */
        st[4 * sp] = a; st[4 * sp + 1] = hi; st[4 * sp + 2] = depth + 1; st[4 * sp + 3] = child + 1; sp++;
        st[4 * sp] = lo; st[4 * sp + 1] = a; st[4 * sp + 2] = depth + 1; st[4 * sp + 3] = child; sp++;
    }
    double tot = 0;
    for (int f = 0; f < nf; f++) tot += s->imp[f];
    for (int f = 0; f < nf; f++) s->imp[f] = tot > 0 ? s->imp[f] / tot : 0;
    return 0;
}

/* Sort floats (finite): quicksort with median of three, insertion sort for short runs. */
static void sort_floats(float *a, int64_t n)
{
    while (n > 16) {
        float *m = a + n / 2, *l = a + n - 1, t;
        if (*m < *a) { t = *m; *m = *a; *a = t; }
        if (*l < *a) { t = *l; *l = *a; *a = t; }
        if (*l < *m) { t = *l; *l = *m; *m = t; }
        float p = *m;
        int64_t i = 0, j = n - 1;
        for (;;) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i >= j) break;
            t = a[i]; a[i] = a[j]; a[j] = t;
            i++; j--;
        }
        int64_t nl = j + 1;
        if (nl < n - nl) { sort_floats(a, nl); a += nl; n -= nl; }
        else { sort_floats(a + nl, n - nl); n = nl; }
    }
    for (int64_t i = 1; i < n; i++) {
        float x = a[i];
        int64_t j = i;
        while (j > 0 && a[j - 1] > x) { a[j] = a[j - 1]; j--; }
        a[j] = x;
    }
}

/* Quantile bin edges of one feature (n values v[i*stride], sorted copy in tmp), codes into code[i*stride]. */
static void bin_feature(const float *v, int64_t stride, int64_t n, int bins, float *tmp, float *edges, int *nbins,
                        uint8_t *code)
{
    for (int64_t i = 0; i < n; i++) tmp[i] = v[i * stride];
    sort_floats(tmp, n);
    int64_t nu = n > 0; /* distinct values */
    for (int64_t i = 1; i < n; i++) nu += tmp[i] != tmp[i - 1];
    int ne = 0;
    if (nu <= bins) {
        for (int64_t i = 1; i < n; i++) {
            if (tmp[i] == tmp[i - 1]) continue;
            float e = (float)((double)tmp[i - 1] / 2 + (double)tmp[i] / 2);
            if (!(e < tmp[i])) e = tmp[i - 1];
            edges[ne++] = e;
        }
    } else {
        /* one edge near each quantile q_b = b n / bins: at the widest gap between consecutive sorted values within
         * half a bin of it (bins stay within +-50 % of equal counts, and edges fall in the natural breaks of the
         * data, e.g. between separated classes, instead of inside a bin that straddles them) */
        int64_t h = n / (2 * (int64_t)bins);
        if (h < 1) h = 1;
        for (int b = 1; b < bins; b++) {
            int64_t q = (int64_t)((double)b * (double)n / bins);
            int64_t lo = q - h < 1 ? 1 : q - h, hi = q + h > n - 1 ? n - 1 : q + h, at = -1;
            float gap = 0;
            for (int64_t p = lo; p <= hi; p++)
                if (tmp[p] - tmp[p - 1] > gap) { gap = tmp[p] - tmp[p - 1]; at = p; }
            if (at < 0) continue;
            float e = (float)((double)tmp[at - 1] / 2 + (double)tmp[at] / 2);
            if (!(e < tmp[at])) e = tmp[at - 1];
            if (ne > 0 && !(e > edges[ne - 1])) continue;
            edges[ne++] = e;
        }
    }
    edges[ne] = INFINITY; /* the last bin takes everything above the last edge */
    *nbins = ne + 1;
    for (int64_t i = 0; i < n; i++) {
        float x = v[i * stride];
        int lo = 0, hi = ne; /* first b with x <= edges[b] */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (x <= edges[mid]) hi = mid;
            else lo = mid + 1;
        }
        code[i * stride] = (uint8_t)lo;
    }
}

static void scratch_free(scratch *s)
{
    tg_free(s->idx); tg_free(s->yk); tg_free(s->wv); tg_free(s->pc); tg_free(s->px); tg_free(s->rowtmp); tg_free(s->w); tg_free(s->hist); tg_free(s->hcount);
    tg_free(s->batch); tg_free(s->pairs); tg_free(s->perm); tg_free(s->stack); tg_free(s->nodes); tg_free(s->values);
    tg_free(s->imp); tg_free(s->wk); tg_free(s->wl);
    memset(s, 0, sizeof *s);
}

static int scratch_alloc(scratch *s, int64_t n, int nf, int K, int mtry, int binned)
{
    memset(s, 0, sizeof *s);
    s->px = tg_malloc(sizeof(float) * (size_t)n * (size_t)nf);
    s->pc = binned ? tg_malloc((size_t)n * (size_t)nf) : NULL;
    s->rowtmp = tg_malloc(sizeof(float) * (size_t)nf);
    if (!s->px || (binned && !s->pc) || !s->rowtmp) return 0;
    s->idx = tg_malloc(sizeof(int32_t) * (size_t)n);
    s->yk = tg_malloc((size_t)n);
    s->wv = tg_malloc(sizeof(float) * (size_t)n);
    s->w = tg_malloc(sizeof(float) * (size_t)n);
    s->hist = tg_malloc(sizeof(double) * MAXB * (size_t)K * (size_t)mtry);
    s->hcount = tg_malloc(sizeof(int32_t) * MAXB * (size_t)mtry);
    s->batch = tg_malloc(sizeof(int32_t) * (size_t)nf);
    s->pairs = tg_malloc(sizeof(pair) * (size_t)n);
    s->perm = tg_malloc(sizeof(int32_t) * (size_t)nf);
    s->stack = tg_malloc(sizeof(int64_t) * 4 * (size_t)(2 * n + 2));
    s->nodes = tg_malloc(sizeof(tg_forest_node) * (size_t)(2 * n + 1));
    s->values = tg_malloc(sizeof(float) * (size_t)K * (size_t)(n + 1));
    s->imp = tg_malloc(sizeof(double) * (size_t)nf);
    s->wk = tg_malloc(sizeof(double) * (size_t)K);
    s->wl = tg_malloc(sizeof(double) * (size_t)K);
    return s->idx && s->yk && s->wv && s->w && s->hist && s->hcount && s->batch && s->pairs && s->perm && s->stack &&
           s->nodes && s->values && s->imp && s->wk && s->wl;
}

tg_status tg_forest_train(tg_ctx *ctx, const float *X, const uint8_t *y, int64_t n, int nfeatures, int nclasses,
                          const int32_t *class_values, const char *meta, const tg_forest_opts *opt, tg_forest *out)
{
    tg_forest_opts o = TG_FOREST_OPTS_INIT;
    if (opt) o = *opt;
    tg_status st = TG_OK;
    tg_forest_init(out);
    uint8_t *code = NULL;
    float *edges = NULL, *tmp = NULL;
    int *nbins = NULL;
    int64_t *counts = NULL;
    double *timp = NULL;
    scratch *sc = NULL;
    int nth = ctx->nthreads > 0 ? ctx->nthreads : 1, nsc = 0;
    if (n < 2 || n > INT32_MAX / 2) { st = tg_fail(ctx, TG_ERR_ARG, "forest: need between 2 and %d training samples, got %lld", INT32_MAX / 2, (long long)n); goto done; }
    if (nfeatures < 1) { st = tg_fail(ctx, TG_ERR_ARG, "forest: need at least one feature"); goto done; }
    if (nclasses < 2 || nclasses > TG_FOREST_MAX_CLASSES) { st = tg_fail(ctx, TG_ERR_ARG, "forest: need between 2 and %d classes, got %d", TG_FOREST_MAX_CLASSES, nclasses); goto done; }
    if (o.trees < 1) { st = tg_fail(ctx, TG_ERR_ARG, "forest: trees must be >= 1, got %d", o.trees); goto done; }
    if (o.min_leaf < 1) { st = tg_fail(ctx, TG_ERR_ARG, "forest: min_leaf must be >= 1, got %d", o.min_leaf); goto done; }
    if (o.max_depth < 0) { st = tg_fail(ctx, TG_ERR_ARG, "forest: max_depth must be >= 1 (0 = unlimited), got %d", o.max_depth); goto done; }
    if (o.mtry < 0 || o.mtry > nfeatures) { st = tg_fail(ctx, TG_ERR_ARG, "forest: mtry must be between 1 and the %d features, got %d", nfeatures, o.mtry); goto done; }
    if (o.bins < 0) o.bins = n >= TG_FOREST_AUTO_BINNED ? MAXB : 0;
    if (o.bins != 0 && (o.bins < 2 || o.bins > MAXB)) { st = tg_fail(ctx, TG_ERR_ARG, "forest: bins must be 0 (exact) or 2..256, got %d", o.bins); goto done; }
    if (o.mtry == 0) { o.mtry = (int)floor(sqrt((double)nfeatures)); if (o.mtry < 1) o.mtry = 1; }
    counts = tg_calloc((size_t)nclasses, sizeof *counts);
    out->weights = tg_malloc(sizeof(double) * (size_t)nclasses);
    out->class_values = tg_malloc(sizeof(int32_t) * (size_t)nclasses);
    out->importance = tg_calloc((size_t)nfeatures, sizeof(double));
    out->trees = tg_calloc((size_t)o.trees, sizeof(tg_forest_tree));
    timp = tg_calloc((size_t)o.trees * (size_t)nfeatures, sizeof(double));
    if (!counts || !out->weights || !out->class_values || !out->importance || !out->trees || !timp) { st = tg_fail(ctx, TG_ERR_NOMEM, "forest: out of memory"); goto done; }
    out->ntrees = o.trees;
    for (int64_t i = 0; i < n; i++) {
        if (y[i] >= nclasses) { st = tg_fail(ctx, TG_ERR_ARG, "forest: sample %lld has class %d, outside 0..%d", (long long)i, y[i], nclasses - 1); goto done; }
        counts[y[i]]++;
    }
    for (int k = 0; k < nclasses; k++) {
        int32_t cv = class_values ? class_values[k] : k + 1;
        if (counts[k] == 0) { st = tg_fail(ctx, TG_ERR_ARG, "forest: class %d (label %d) has no training sample", k + 1, (int)cv); goto done; }
        if (cv < 1 || cv > 255) { st = tg_fail(ctx, TG_ERR_ARG, "forest: class label %d outside 1..255", (int)cv); goto done; }
        for (int j = 0; j < k; j++)
            if (out->class_values[j] == cv) { st = tg_fail(ctx, TG_ERR_ARG, "forest: class label %d given twice", (int)cv); goto done; }
        out->class_values[k] = cv;
        if (o.class_weight == TG_FOREST_WEIGHT_BALANCED) out->weights[k] = (double)n / ((double)nclasses * (double)counts[k]);
        else if (o.class_weight == TG_FOREST_WEIGHT_CUSTOM) {
            if (!o.weights || !(o.weights[k] > 0) || !isfinite(o.weights[k])) { st = tg_fail(ctx, TG_ERR_ARG, "forest: class weight %d must be a positive number", k + 1); goto done; }
            out->weights[k] = o.weights[k];
        } else out->weights[k] = 1.0;
    }
    for (int64_t i = 0; i < n * nfeatures; i++)
        if (!isfinite(X[i])) { st = tg_fail(ctx, TG_ERR_ARG, "forest: feature %d of sample %lld is not finite", (int)(i % nfeatures) + 1, (long long)(i / nfeatures)); goto done; }

    if (o.bins) { /* row-major codes */
        code = tg_malloc((size_t)n * (size_t)nfeatures);
        edges = tg_malloc(sizeof(float) * MAXB * (size_t)nfeatures);
        nbins = tg_malloc(sizeof(int) * (size_t)nfeatures);
        tmp = tg_malloc(sizeof(float) * (size_t)n * (size_t)nth);
        if (!code || !edges || !nbins || !tmp) { st = tg_fail(ctx, TG_ERR_NOMEM, "forest: out of memory for the bins"); goto done; }
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
        for (int f = 0; f < nfeatures; f++) {
            int th = tg_thread_num();
            bin_feature(X + f, nfeatures, n, o.bins, tmp + (size_t)th * n, edges + (size_t)f * MAXB, &nbins[f], code + f);
        }
        tg_free(tmp);
        tmp = NULL;
    }
    train_data d = {n, nfeatures, nclasses, o.mtry, o.min_leaf, o.max_depth, o.bins, o.bootstrap, y, out->weights,
                    X, code, edges, nbins, o.seed};
    nsc = nth < o.trees ? nth : o.trees;
    sc = tg_calloc((size_t)nsc, sizeof *sc);
    if (!sc) { st = tg_fail(ctx, TG_ERR_NOMEM, "forest: out of memory"); goto done; }
    for (int i = 0; i < nsc; i++)
        if (!scratch_alloc(&sc[i], n, nfeatures, nclasses, o.mtry, o.bins != 0)) { st = tg_fail(ctx, TG_ERR_NOMEM, "forest: out of memory for the tree scratch"); goto done; }
    for (int t0 = 0; t0 < o.trees; t0 += nsc) {
        int nb = o.trees - t0 < nsc ? o.trees - t0 : nsc;
        int cancelled = 0;
        #pragma omp parallel for schedule(static, 1) num_threads(nsc) reduction(| : cancelled)
        for (int j = 0; j < nb; j++) cancelled |= grow_tree(&d, &sc[j], t0 + j, ctx) != 0;
        if (cancelled || tg_progress(ctx, (double)(t0 + nb) / o.trees, "forest training")) { st = tg_fail(ctx, TG_ERR_CANCELLED, "forest: training cancelled"); goto done; }
        for (int j = 0; j < nb; j++) {
            tg_forest_tree *tr = &out->trees[t0 + j];
            tr->nodes = tg_malloc(sizeof(tg_forest_node) * (size_t)sc[j].nnodes);
            tr->values = tg_malloc(sizeof(float) * (size_t)sc[j].nvalues);
            if (!tr->nodes || !tr->values) { st = tg_fail(ctx, TG_ERR_NOMEM, "forest: out of memory for tree %d", t0 + j + 1); goto done; }
            tr->nnodes = sc[j].nnodes;
            tr->nvalues = sc[j].nvalues;
            memcpy(tr->nodes, sc[j].nodes, sizeof(tg_forest_node) * (size_t)tr->nnodes);
            memcpy(tr->values, sc[j].values, sizeof(float) * (size_t)tr->nvalues);
            memcpy(timp + (size_t)(t0 + j) * nfeatures, sc[j].imp, sizeof(double) * (size_t)nfeatures);
        }
    }
    double tot = 0;
    for (int f = 0; f < nfeatures; f++) {
        double s = 0;
        for (int t = 0; t < o.trees; t++) s += timp[(size_t)t * nfeatures + f];
        out->importance[f] = s / o.trees;
        tot += out->importance[f];
    }
    for (int f = 0; f < nfeatures; f++) out->importance[f] = tot > 0 ? out->importance[f] / tot : 0;
    if (meta) {
        size_t len = strlen(meta);
        if (len > 0x7fffffff) { st = tg_fail(ctx, TG_ERR_ARG, "forest: metadata too long"); goto done; }
        out->meta = tg_malloc(len + 1);
        if (!out->meta) { st = tg_fail(ctx, TG_ERR_NOMEM, "forest: out of memory"); goto done; }
        memcpy(out->meta, meta, len + 1);
        out->meta_len = (uint32_t)len;
    }
    out->nfeatures = nfeatures;
    out->nclasses = nclasses;
    out->nchannels = o.channels;
    out->max_depth = o.max_depth;
    out->min_leaf = o.min_leaf;
    out->mtry = o.mtry;
    out->bins = o.bins;
    out->class_weight = o.class_weight;
    out->seed = o.seed;
    tg_progress_done(ctx, "forest training");
done:
    if (sc)
        for (int i = 0; i < nsc; i++) scratch_free(&sc[i]);
    tg_free(sc);
    tg_free(code); tg_free(edges); tg_free(nbins); tg_free(tmp); tg_free(counts); tg_free(timp);
    if (st != TG_OK) tg_forest_free(out);
    return st;
}

/* ---- prediction ----
 * Two paths give the same bits (every test is the exact float compare x <= threshold, and each row adds its
 * trees' leaf values in tree order from 0): the packet path on x86-64 processors with AVX-512 (F, BW, DQ),
 * the lockstep path everywhere else (or with TG_FOREST_GENERIC=1 in the environment, which the tests use to
 * run both on one machine). */
#define PBLOCK 16    /* lockstep path: rows descending a tree together */
#define RBLOCK 1024  /* rows per task: each tree is read once per task, so it stays in cache meanwhile */
#define PCHECK 2     /* lockstep path: levels descended between two "all rows in leaves?" checks */
#define PK 64        /* packet path: rows per packet (one bit each in a 64-bit mask) */
#define PT (RBLOCK / PK) /* packets per task */
#define PG 4         /* packets descending one tree interleaved (their dependent loads overlap) */
#define TILE_W 8     /* with a row width: a packet is a tile of 8 x 8 neighbouring voxels */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TG_FOREST_PACKETS 1
#define PK_TARGET __attribute__((target("avx512f,avx512bw,avx512dq")))
#include <immintrin.h>
#else
#define TG_FOREST_PACKETS 0
#endif

/* Prediction copy of the trees: the same 12-byte nodes, but a leaf becomes a node that leads to itself whatever
 * the row (threshold NaN, so x <= threshold is false and the step goes to child + 1 = itself), with its value
 * offset kept aside. Every row then takes the same branch-free step at every level, with no list of active rows:
 * the steps of the rows of a block are independent, so they overlap in the processor. The packet path uses
 * `packet` instead: per node the byte offset of its feature's column in a transposed packet (-1: leaf, whose
 * child is then the offset of its K values), the threshold and the byte offset of the left child from the tree's
 * first node. */
typedef struct pk_node { int32_t off; float thr; int32_t child; } pk_node;
typedef struct pforest {
    tg_forest_node *nodes; /* lockstep: all trees, tree t from first[t] (child indices are global) */
    int32_t *leaf;         /* lockstep: per node the offset of its K values in the tree's values (leaves only) */
    int32_t *depth;        /* lockstep: per tree the largest depth of a leaf (levels to descend) */
    pk_node *packet;       /* packet path: all trees, tree t from first[t] (child indices are tree-local) */
    int64_t *first;        /* ntrees + 1 */
} pforest;

static void pforest_free(pforest *p)
{
    tg_free(p->nodes);
    tg_free(p->leaf);
    tg_free(p->depth);
    tg_free(p->packet);
    tg_free(p->first);
}

/* The packet copy: node i of tree t at packet[first[t] + i]. */
static void pforest_fill_packet(const tg_forest *f, pforest *p)
{
    for (int t = 0; t < f->ntrees; t++) {
        const tg_forest_tree *tr = &f->trees[t];
        pk_node *o = p->packet + p->first[t];
        for (int32_t i = 0; i < tr->nnodes; i++) {
            const tg_forest_node *nd = &tr->nodes[i];
            o[i].off = nd->feature < 0 ? -1 : nd->feature * PK * (int32_t)sizeof(float);
            o[i].thr = nd->threshold;
            o[i].child = nd->feature < 0 ? nd->child : nd->child * (int32_t)sizeof(pk_node);
        }
    }
}

/* The lockstep copy (see above). lev: scratch of the largest tree's node count. */
static void pforest_fill_lockstep(const tg_forest *f, pforest *p, int32_t *lev)
{
    for (int t = 0; t < f->ntrees; t++) {
        const tg_forest_tree *tr = &f->trees[t];
        const int64_t o = p->first[t];
        int32_t dmax = 0;
        lev[0] = 0;
        for (int32_t i = 0; i < tr->nnodes; i++) { /* children always follow their parent */
            tg_forest_node nd = tr->nodes[i];
            if (nd.feature < 0) {
                p->leaf[o + i] = nd.child;
                nd.feature = 0;
                nd.threshold = NAN;
                nd.child = (int32_t)(o + i - 1);
                if (lev[i] > dmax) dmax = lev[i];
            } else {
                p->leaf[o + i] = 0;
                lev[nd.child] = lev[nd.child + 1] = lev[i] + 1;
                nd.child += (int32_t)o;
            }
            p->nodes[o + i] = nd;
        }
        p->depth[t] = dmax;
    }
}

static int pforest_make(const tg_forest *f, int packets, pforest *p)
{
    memset(p, 0, sizeof *p);
    int64_t total = tg_forest_nodes(f);
    if (total >= INT32_MAX) return -1; /* node indices of the copy are int32 */
    int32_t maxn = 1;
    for (int t = 0; t < f->ntrees; t++)
        if (f->trees[t].nnodes > maxn) maxn = f->trees[t].nnodes;
    p->first = tg_malloc(sizeof *p->first * (size_t)(f->ntrees + 1));
    if (!p->first) return -1;
    p->first[0] = 0;
    for (int t = 0; t < f->ntrees; t++) p->first[t + 1] = p->first[t] + f->trees[t].nnodes;
    if (packets) {
        p->packet = tg_malloc(sizeof *p->packet * (size_t)total);
        if (!p->packet) goto fail;
        pforest_fill_packet(f, p);
        return 0;
    }
    p->nodes = tg_malloc(sizeof *p->nodes * (size_t)total);
    p->leaf = tg_malloc(sizeof *p->leaf * (size_t)total);
    p->depth = tg_malloc(sizeof *p->depth * (size_t)f->ntrees);
    int32_t *lev = tg_malloc(sizeof *lev * (size_t)maxn);
    if (!p->nodes || !p->leaf || !p->depth || !lev) {
        tg_free(lev);
        goto fail;
    }
    pforest_fill_lockstep(f, p, lev);
    tg_free(lev);
    return 0;
fail:
    pforest_free(p);
    return -1;
}

/* Lockstep path: add the leaf values of tree t for the m <= PBLOCK rows xb into acc (m x K). */
static void tree_block(const pforest *p, int t, const float *vals, const float *xb, int nf, int m, int K, float *acc)
{
    const tg_forest_node *nodes = p->nodes;
    const int32_t root = (int32_t)p->first[t], depth = p->depth[t];
    int32_t nd[PBLOCK];
    for (int j = 0; j < m; j++) nd[j] = root;
    for (int lvl = 0; lvl < depth;) {
        for (int s = 0; s < PCHECK && lvl < depth; s++, lvl++)
            for (int j = 0; j < m; j++) {
                const tg_forest_node *q = &nodes[nd[j]];
                nd[j] = q->child + !(xb[(size_t)j * nf + q->feature] <= q->threshold);
            }
        if (lvl >= depth) break;
        int inner = 0; /* any row still at an internal node (threshold not NaN)? */
        for (int j = 0; j < m; j++) inner |= nodes[nd[j]].threshold == nodes[nd[j]].threshold;
        if (!inner) break;
    }
    for (int j = 0; j < m; j++) {
        const float *v = vals + p->leaf[nd[j]];
        float *a = acc + (size_t)j * K;
        for (int k = 0; k < K; k++) a[k] += v[k];
    }
}

/* Which rows a task holds: rows[PK * b + j] is the row of lane j of packet b, or -1 (no row). Without a width
 * (or one narrower than a tile) a task is RBLOCK consecutive rows, a packet PK consecutive rows; with a width W
 * the rows are lines of W voxels and a packet is a TILE_W x TILE_W tile, a task PT tiles side by side in a band
 * of TILE_W lines. */
typedef struct pk_grid { int64_t n, width, lines, tiles_x; int tw, th; } pk_grid;

static pk_grid grid_make(int64_t n, int64_t width)
{
    pk_grid g;
    g.n = n;
    if (width < TILE_W || width >= n) {
        g.width = n > 0 ? n : 1;
        g.tw = PK;
        g.th = 1;
    } else {
        g.width = width;
        g.tw = TILE_W;
        g.th = PK / TILE_W;
    }
    g.lines = (n + g.width - 1) / g.width;
    g.tiles_x = (g.width + (int64_t)g.tw * PT - 1) / ((int64_t)g.tw * PT); /* tasks per band */
    return g;
}

static int64_t grid_tasks(const pk_grid *g) { return g->tiles_x * ((g->lines + g->th - 1) / g->th); }

static void grid_rows(const pk_grid *g, int64_t task, int64_t *rows)
{
    const int64_t band = task / g->tiles_x, x0 = task % g->tiles_x * (int64_t)g->tw * PT;
    for (int b = 0; b < PT; b++)
        for (int j = 0; j < PK; j++) {
            int64_t x = x0 + (int64_t)b * g->tw + j % g->tw, line = band * g->th + j / g->tw;
            int64_t r = line * g->width + x;
            rows[b * PK + j] = x < g->width && r < g->n ? r : -1;
        }
}

#if TG_FOREST_PACKETS
/* Lanes (of one 64-row packet column at col) whose value is <= thr; NaN is never <= (so it goes right). */
PK_TARGET static inline uint64_t pk_le(const char *col, float thr)
{
    const __m512 t = _mm512_set1_ps(thr);
    __mmask16 a = _mm512_cmp_ps_mask(_mm512_loadu_ps((const float *)col), t, _CMP_LE_OQ);
    __mmask16 b = _mm512_cmp_ps_mask(_mm512_loadu_ps((const float *)(col + 64)), t, _CMP_LE_OQ);
    __mmask16 c = _mm512_cmp_ps_mask(_mm512_loadu_ps((const float *)(col + 128)), t, _CMP_LE_OQ);
    __mmask16 d = _mm512_cmp_ps_mask(_mm512_loadu_ps((const float *)(col + 192)), t, _CMP_LE_OQ);
    return _cvtmask64_u64(_mm512_kunpackd(_mm512_kunpackw(d, c), _mm512_kunpackw(b, a)));
}

/* acc[k][j] += v[k] for the lanes j in m (acc: K x PK), one IEEE single add per lane as in the lockstep path. */
PK_TARGET static inline void pk_leaf(float *acc, uint64_t m, const float *v, int K)
{
    for (int k = 0; k < K; k++) {
        const __m512 vk = _mm512_set1_ps(v[k]);
        float *a = acc + (size_t)k * PK;
        for (int c = 0; c < PK / 16; c++) {
            __m512 x = _mm512_loadu_ps(a + 16 * c);
            _mm512_storeu_ps(a + 16 * c, _mm512_mask_add_ps(x, (__mmask16)(m >> (16 * c)), x, vk));
        }
    }
}

typedef struct pk_state {
    const pk_node *at;     /* current node (NULL: idle) */
    uint64_t m;            /* rows of the packet at it */
    const char *x;         /* the packet's transposed rows: column f at x + f * PK * 4 */
    float *acc;            /* its K x PK sums */
    const pk_node **top;   /* next free slot of its stack of waiting nodes ... */
    uint64_t *mtop;        /* ... and of their rows */
} pk_state;

/* Start the next packet that holds rows (if any is left) in s at root; returns 1 if it started. */
static inline int pk_start(pk_state *s, const pk_node *root, int *next, int np, const uint64_t *full,
                           const float *xT, float *acc, int nf, int K)
{
    while (*next < np && !full[*next]) (*next)++;
    if (*next >= np) { s->at = NULL; return 0; }
    s->at = root;
    s->m = full[*next];
    s->x = (const char *)(xT + (size_t)*next * nf * PK);
    s->acc = acc + (size_t)*next * K * PK;
    (*next)++;
    return 1;
}

/* Packet path: the np packets of a task (rows transposed in xT: packet b, feature f, lane j at
 * xT[(b * nf + f) * PK + j]) descend one tree together. A packet starts at the root with all its rows; at a node
 * one vector compare per 16 rows splits them into those going left and right; when both sides hold rows the right
 * ones wait on the packet's stack (at most PK - 1 entries: the waiting masks are disjoint and non-empty), and at
 * a leaf the rows of the packet there add its values. Neighbouring voxels mostly go the same way, so a packet of
 * 64 visits a few dozen nodes per tree, not 64 paths. PG packets are interleaved one node at a time so that
 * their dependent loads overlap. Long because the interleaved state machine is one loop. */
PK_TARGET static void pk_tree(const pk_node *nodes, const float *vals, const float *xT, float *acc,
                              const uint64_t *full, int np, int nf, int K)
{
    pk_state st[PG];
    const pk_node *sn[PG][PK];
    uint64_t sm[PG][PK];
    int next = 0, live = 0;
    for (int g = 0; g < PG; g++) {
        st[g].top = sn[g];
        st[g].mtop = sm[g];
        live += pk_start(&st[g], nodes, &next, np, full, xT, acc, nf, K);
    }
    while (live) {
        for (int g = 0; g < PG; g++) {
            pk_state *s = &st[g];
            if (!s->at) continue;
            const pk_node q = *s->at;
            if (q.off < 0) {
                pk_leaf(s->acc, s->m, vals + q.child, K);
                if (s->top != sn[g]) {
                    s->at = *--s->top;
                    s->m = *--s->mtop;
                } else if (!pk_start(s, nodes, &next, np, full, xT, acc, nf, K)) {
                    live--;
                }
                continue;
            }
            const uint64_t m = s->m, l = m & pk_le(s->x + q.off, q.thr), r = m ^ l;
            const pk_node *left = (const pk_node *)((const char *)nodes + q.child);
            const size_t split = (l != 0) & (r != 0);
            *s->top = left + 1; /* kept only when both sides hold rows */
            *s->mtop = r;
            s->top += split;
            s->mtop += split;
            s->at = l ? left : left + 1;
            s->m = l ? l : r;
        }
    }
}

/* One task of the packet path: rows -> transposed packets -> every tree -> sums (acc: PT x K x PK). */
PK_TARGET static void pk_task(const tg_forest *f, const pforest *p, const float *X, int nf, const int64_t *rows,
                              float *xT, float *acc)
{
    const int K = f->nclasses;
    uint64_t full[PT];
    int np = 0;
    for (int b = 0; b < PT; b++) {
        full[b] = 0;
        float *xt = xT + (size_t)b * nf * PK;
        for (int j = 0; j < PK; j++) {
            int64_t r = rows[b * PK + j];
            if (r >= 0) full[b] |= (uint64_t)1 << j;
            const float *x = X + (size_t)(r >= 0 ? r : 0) * nf;
            for (int q = 0; q < nf; q++) xt[(size_t)q * PK + j] = r >= 0 ? x[q] : 0.0f;
        }
        if (full[b]) np = b + 1;
    }
    memset(acc, 0, sizeof(float) * (size_t)np * K * PK);
    for (int t = 0; t < f->ntrees; t++)
        pk_tree(p->packet + p->first[t], f->trees[t].values, xT, acc, full, np, nf, K);
}

/* 1 when the packet path can run: the processor has AVX-512 F/BW/DQ, TG_FOREST_GENERIC is unset (or 0), and
 * column and child byte offsets fit the copy's int32 fields. */
static int packets_available(const tg_forest *f)
{
    const char *e = getenv("TG_FOREST_GENERIC");
    if (e && *e && strcmp(e, "0") != 0) return 0;
    if ((int64_t)f->nfeatures * PK * (int64_t)sizeof(float) >= INT32_MAX) return 0;
    for (int t = 0; t < f->ntrees; t++)
        if ((int64_t)f->trees[t].nnodes * (int64_t)sizeof(pk_node) >= INT32_MAX) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq");
}
#else
static int packets_available(const tg_forest *f) { (void)f; return 0; }
#endif

/* One task of the lockstep path (rows: consecutive, as grid_rows gives without a width). */
static void lockstep_task(const tg_forest *f, const pforest *p, const float *X, int nf, const int64_t *rows,
                          float *xb, float *acc)
{
    const int K = f->nclasses;
    int m = 0;
    while (m < RBLOCK && rows[m] >= 0) m++;
    if (!m) return;
    memcpy(xb, X + (size_t)rows[0] * nf, sizeof(float) * (size_t)m * (size_t)nf);
    memset(acc, 0, sizeof(float) * (size_t)m * K);
    for (int t = 0; t < f->ntrees; t++)
        for (int j0 = 0; j0 < m; j0 += PBLOCK)
            tree_block(p, t, f->trees[t].values, xb + (size_t)j0 * nf, nf, m - j0 < PBLOCK ? m - j0 : PBLOCK, K,
                       acc + (size_t)j0 * K);
}

/* Labels and probabilities of the task's rows from their sums (lane layout: packets, or plain rows). */
static void task_output(const tg_forest *f, const int64_t *rows, const float *acc, int packets, float *const *prob,
                        uint8_t *label)
{
    const int K = f->nclasses;
    const float inv = 1.0f / (float)f->ntrees;
    for (int i = 0; i < RBLOCK; i++) {
        const int64_t r = rows[i];
        if (r < 0) continue;
        const float *a = packets ? acc + (size_t)(i / PK) * K * PK + i % PK : acc + (size_t)i * K;
        const size_t step = packets ? PK : 1;
        int bestk = 0;
        for (int k = 1; k < K; k++)
            if (a[k * step] > a[bestk * step]) bestk = k;
        if (label) label[r] = (uint8_t)f->class_values[bestk];
        if (prob)
            for (int k = 0; k < K; k++) prob[k][r] = a[k * step] * inv;
    }
}

tg_status tg_forest_predict(tg_ctx *ctx, const tg_forest *f, const float *X, int64_t n, int nfeatures,
                            float *const *prob, uint8_t *label)
{
    return tg_forest_predict_grid(ctx, f, X, n, nfeatures, 0, prob, label);
}

tg_status tg_forest_predict_grid(tg_ctx *ctx, const tg_forest *f, const float *X, int64_t n, int nfeatures,
                                 int64_t width, float *const *prob, uint8_t *label)
{
    if (!f->trees || f->ntrees < 1) return tg_fail(ctx, TG_ERR_ARG, "forest: the forest is empty (not trained or released)");
    if (nfeatures != f->nfeatures)
        return tg_fail(ctx, TG_ERR_ARG, "forest: trained on %d features, given %d", f->nfeatures, nfeatures);
    if (n < 0) return tg_fail(ctx, TG_ERR_ARG, "forest: negative row count");
    if (width < 0) return tg_fail(ctx, TG_ERR_ARG, "forest: negative row width %lld", (long long)width);
    const int K = f->nclasses;
    const int nth = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int packets = packets_available(f);
    const pk_grid g = grid_make(n, packets ? width : 0);
    const int64_t ntasks = n > 0 ? grid_tasks(&g) : 0;
    pforest pf;
    if (pforest_make(f, packets, &pf))
        return tg_fail(ctx, TG_ERR_NOMEM, "forest: out of memory for the prediction copy of %lld nodes",
                       (long long)tg_forest_nodes(f));
    /* per thread: the task's rows (transposed or copied), its sums, its row map; 64 bytes of slack to align */
    const size_t xn = (size_t)RBLOCK * (size_t)nfeatures + 16, an = (size_t)RBLOCK * (size_t)K + 16;
    float *xs = tg_malloc(sizeof(float) * xn * (size_t)nth), *accs = tg_malloc(sizeof(float) * an * (size_t)nth);
    int64_t *rowss = tg_malloc(sizeof(int64_t) * RBLOCK * (size_t)nth);
    if (!xs || !accs || !rowss) {
        tg_free(xs);
        tg_free(accs);
        tg_free(rowss);
        pforest_free(&pf);
        return tg_fail(ctx, TG_ERR_NOMEM, "forest: out of memory");
    }
    int cancelled = 0;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nth) reduction(| : cancelled)
    for (int64_t task = 0; task < ntasks; task++) {
        if (cancelled || tg_cancelled(ctx)) { cancelled = 1; continue; }
        int th = tg_thread_num();
        float *xb = (float *)(((uintptr_t)(xs + (size_t)th * xn) + 63) & ~(uintptr_t)63);
        float *acc = (float *)(((uintptr_t)(accs + (size_t)th * an) + 63) & ~(uintptr_t)63);
        int64_t *rows = rowss + (size_t)th * RBLOCK;
        grid_rows(&g, task, rows);
        /* each row's sum runs over the trees in order, whatever the thread or packet: results do not depend on either */
#if TG_FOREST_PACKETS
        if (packets) pk_task(f, &pf, X, nfeatures, rows, xb, acc);
        else
#endif
            lockstep_task(f, &pf, X, nfeatures, rows, xb, acc);
        task_output(f, rows, acc, packets, prob, label);
        if (tg_progress(ctx, (double)task / (double)ntasks, "forest prediction")) cancelled = 1;
    }
    tg_free(xs);
    tg_free(accs);
    tg_free(rowss);
    pforest_free(&pf);
    if (cancelled) return tg_fail(ctx, TG_ERR_CANCELLED, "forest: prediction cancelled");
    return TG_OK;
}

/* ---- serialisation ---- */
typedef struct wbuf { uint8_t *p; size_t len, cap; int fail; } wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
    if (b->fail) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *q = tg_realloc(b->p, cap);
        if (!q) { b->fail = 1; return; }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
/* Little-endian writers (byte by byte, independent of the host order). */
static void put_u32(wbuf *b, uint32_t v) { uint8_t q[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)}; put(b, q, 4); }
static void put_u64(wbuf *b, uint64_t v) { put_u32(b, (uint32_t)v); put_u32(b, (uint32_t)(v >> 32)); }
static void put_f32(wbuf *b, float v) { uint32_t u; memcpy(&u, &v, 4); put_u32(b, u); }
static void put_f64(wbuf *b, double v) { uint64_t u; memcpy(&u, &v, 8); put_u64(b, u); }

static const char MAGIC[8] = {'T', 'G', 'F', 'O', 'R', 'E', 'S', 'T'};
#define HEADER_BYTES 44u /* 4 u32 + 5 i32 + u64 after the version and header-size words */

static int sha256_raw(const uint8_t *data, size_t n, uint8_t out[32])
{
    tg_ctx c;
    tg_ctx_init(&c);
    char hex[TG_SHA256_HEX];
    if (tg_sha256_buffer(&c, data, n, hex) != TG_OK) return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

tg_status tg_forest_serialize(tg_ctx *ctx, const tg_forest *f, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (!f->trees) return tg_fail(ctx, TG_ERR_ARG, "forest: the forest is empty (not trained or released)");
    wbuf b = {0};
    put(&b, MAGIC, 8);
    put_u32(&b, TG_FOREST_VERSION);
    put_u32(&b, HEADER_BYTES);
    put_u32(&b, (uint32_t)f->nfeatures); put_u32(&b, (uint32_t)f->nclasses); put_u32(&b, (uint32_t)f->ntrees);
    put_u32(&b, (uint32_t)f->nchannels);
    put_u32(&b, (uint32_t)f->max_depth); put_u32(&b, (uint32_t)f->min_leaf); put_u32(&b, (uint32_t)f->mtry);
    put_u32(&b, (uint32_t)f->bins); put_u32(&b, (uint32_t)f->class_weight);
    put_u64(&b, f->seed);
    for (int k = 0; k < f->nclasses; k++) put_f64(&b, f->weights[k]);
    for (int k = 0; k < f->nclasses; k++) put_u32(&b, (uint32_t)f->class_values[k]);
    for (int j = 0; j < f->nfeatures; j++) put_f64(&b, f->importance[j]);
    put_u32(&b, f->meta_len);
    if (f->meta_len) put(&b, f->meta, f->meta_len);
    for (int t = 0; t < f->ntrees; t++) {
        const tg_forest_tree *tr = &f->trees[t];
        put_u32(&b, (uint32_t)tr->nnodes);
        put_u32(&b, (uint32_t)tr->nvalues);
        for (int32_t i = 0; i < tr->nnodes; i++) {
            put_u32(&b, (uint32_t)tr->nodes[i].feature);
            put_f32(&b, tr->nodes[i].threshold);
            put_u32(&b, (uint32_t)tr->nodes[i].child);
        }
        for (int32_t i = 0; i < tr->nvalues; i++) put_f32(&b, tr->values[i]);
    }
    uint8_t dg[32];
    if (!b.fail && sha256_raw(b.p, b.len, dg) != 0) { tg_free(b.p); return tg_fail(ctx, TG_ERR_UNSUPPORTED, "forest: SHA-256 unavailable"); }
    put(&b, dg, 32);
    if (b.fail) { tg_free(b.p); return tg_fail(ctx, TG_ERR_NOMEM, "forest: out of memory serialising the model"); }
    *buf = b.p;
    *len = b.len;
    return TG_OK;
}

typedef struct rbuf { const uint8_t *p; size_t len, pos; int fail; } rbuf;
static uint32_t get_u32(rbuf *r)
{
    if (r->fail || r->len - r->pos < 4) { r->fail = 1; return 0; }
    const uint8_t *q = r->p + r->pos;
    r->pos += 4;
    return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}
static uint64_t get_u64(rbuf *r) { uint64_t lo = get_u32(r); return lo | (uint64_t)get_u32(r) << 32; }
static float get_f32(rbuf *r) { uint32_t u = get_u32(r); float v; memcpy(&v, &u, 4); return v; }
static double get_f64(rbuf *r) { uint64_t u = get_u64(r); double v; memcpy(&v, &u, 8); return v; }

tg_status tg_forest_deserialize(tg_ctx *ctx, const uint8_t *buf, size_t len, const char *name, tg_forest *out)
{
    tg_forest_init(out);
    tg_status st = TG_OK;
    if (!name) name = "model";
    if (len < 8 || memcmp(buf, MAGIC, 8) != 0) return tg_fail(ctx, TG_ERR_FORMAT, "%s: not a tortuga forest model (bad magic number)", name);
    if (len < 16) return tg_fail(ctx, TG_ERR_FORMAT, "%s: truncated forest model (%zu bytes)", name, len);
    rbuf r = {buf, len, 8, 0};
    uint32_t version = get_u32(&r), hbytes = get_u32(&r);
    if (version != TG_FOREST_VERSION)
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: forest model format version %u, this tortuga reads version %u", name, version, TG_FOREST_VERSION);
    if (hbytes != HEADER_BYTES || len < 16 + HEADER_BYTES + 32) return tg_fail(ctx, TG_ERR_FORMAT, "%s: truncated or corrupt forest model", name);
    uint8_t dg[32];
    if (sha256_raw(buf, len - 32, dg) != 0) return tg_fail(ctx, TG_ERR_UNSUPPORTED, "%s: SHA-256 unavailable", name);
    if (memcmp(dg, buf + len - 32, 32) != 0)
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: checksum mismatch: the forest model is corrupt or truncated", name);
    r.len = len - 32;
    out->nfeatures = (int)get_u32(&r); out->nclasses = (int)get_u32(&r); out->ntrees = (int)get_u32(&r);
    out->nchannels = (int)get_u32(&r);
    out->max_depth = (int)get_u32(&r); out->min_leaf = (int)get_u32(&r); out->mtry = (int)get_u32(&r);
    out->bins = (int)get_u32(&r); out->class_weight = (tg_forest_weight)get_u32(&r);
    out->seed = get_u64(&r);
    int nf = out->nfeatures, K = out->nclasses, T = out->ntrees;
    if (nf < 1 || K < 2 || K > TG_FOREST_MAX_CLASSES || T < 1 || (size_t)nf > len || (size_t)T > len) { st = tg_fail(ctx, TG_ERR_FORMAT, "%s: corrupt forest model header", name); goto done; }
    out->weights = tg_malloc(sizeof(double) * K);
    out->class_values = tg_malloc(sizeof(int32_t) * K);
    out->importance = tg_malloc(sizeof(double) * (size_t)nf);
    out->trees = tg_calloc((size_t)T, sizeof(tg_forest_tree));
    if (!out->weights || !out->class_values || !out->importance || !out->trees) { st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", name); goto done; }
    for (int k = 0; k < K; k++) out->weights[k] = get_f64(&r);
    for (int k = 0; k < K; k++) out->class_values[k] = (int32_t)get_u32(&r);
    for (int j = 0; j < nf; j++) out->importance[j] = get_f64(&r);
    out->meta_len = get_u32(&r);
    if (r.fail || out->meta_len > r.len - r.pos) { st = tg_fail(ctx, TG_ERR_FORMAT, "%s: truncated forest model", name); goto done; }
    out->meta = tg_malloc((size_t)out->meta_len + 1);
    if (!out->meta) { st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", name); goto done; }
    memcpy(out->meta, r.p + r.pos, out->meta_len);
    out->meta[out->meta_len] = 0;
    r.pos += out->meta_len;
    if (out->meta_len == 0) { tg_free(out->meta); out->meta = NULL; }
    for (int t = 0; t < T; t++) {
        tg_forest_tree *tr = &out->trees[t];
        uint32_t nn = get_u32(&r), nv = get_u32(&r);
        if (r.fail || nn < 1 || nn > (r.len - r.pos) / 12 || nv > (r.len - r.pos) / 4) { st = tg_fail(ctx, TG_ERR_FORMAT, "%s: truncated or corrupt tree %d", name, t + 1); goto done; }
        tr->nodes = tg_malloc(sizeof(tg_forest_node) * nn);
        tr->values = tg_malloc(sizeof(float) * (nv ? nv : 1));
        if (!tr->nodes || !tr->values) { st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", name); goto done; }
        tr->nnodes = (int32_t)nn;
        tr->nvalues = (int32_t)nv;
        for (uint32_t i = 0; i < nn; i++) {
            tr->nodes[i].feature = (int32_t)get_u32(&r);
            tr->nodes[i].threshold = get_f32(&r);
            tr->nodes[i].child = (int32_t)get_u32(&r);
        }
        for (uint32_t i = 0; i < nv; i++) tr->values[i] = get_f32(&r);
        if (r.fail) { st = tg_fail(ctx, TG_ERR_FORMAT, "%s: truncated tree %d", name, t + 1); goto done; }
        /* children must point forward (so traversal ends) and stay inside; leaves' values inside */
        for (uint32_t i = 0; i < nn; i++) {
            const tg_forest_node *nd = &tr->nodes[i];
            int ok = nd->feature >= 0 ? (nd->feature < nf && nd->child > (int32_t)i && (uint32_t)nd->child + 1 < nn)
                                      : (nd->feature == -1 && nd->child >= 0 && (uint32_t)nd->child + (uint32_t)K <= nv);
            if (!ok) { st = tg_fail(ctx, TG_ERR_FORMAT, "%s: corrupt node %u of tree %d", name, i, t + 1); goto done; }
        }
    }
    if (r.pos != r.len) { st = tg_fail(ctx, TG_ERR_FORMAT, "%s: %zu unexpected bytes after the trees", name, r.len - r.pos); goto done; }
done:
    if (st != TG_OK) tg_forest_free(out);
    return st;
}

tg_status tg_forest_save(tg_ctx *ctx, const tg_forest *f, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char *tmp = NULL;
    FILE *fp = NULL;
    tg_status st = tg_forest_serialize(ctx, f, &buf, &len);
    if (st != TG_OK) goto done;
    size_t tl = strlen(path) + 48;
    tmp = tg_malloc(tl);
    if (!tmp) { st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory", path); goto done; }
    snprintf(tmp, tl, "%s.%ld.tmp", path, (long)getpid());
    fp = fopen(tmp, "wb");
    if (!fp) { st = tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno)); goto done; }
    if (fwrite(buf, 1, len, fp) != len || fflush(fp) != 0) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno));
        fclose(fp); fp = NULL; remove(tmp);
        goto done;
    }
    if (fclose(fp) != 0) { fp = NULL; st = tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno)); remove(tmp); goto done; }
    fp = NULL;
    if (rename(tmp, path) != 0) { st = tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno)); remove(tmp); goto done; }
done:
    tg_free(buf);
    tg_free(tmp);
    return st;
}

tg_status tg_forest_load(tg_ctx *ctx, const char *path, tg_forest *out)
{
    tg_forest_init(out);
    tg_status st = TG_OK;
    uint8_t *buf = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno));
    long sz = -1;
    if (fseek(fp, 0, SEEK_END) == 0) sz = ftell(fp);
    if (sz < 0 || fseek(fp, 0, SEEK_SET) != 0) { st = tg_fail(ctx, TG_ERR_IO, "%s: cannot read the file size", path); goto done; }
    buf = tg_malloc(sz > 0 ? (size_t)sz : 1);
    if (!buf) { st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory (%ld bytes)", path, sz); goto done; }
    if (fread(buf, 1, (size_t)sz, fp) != (size_t)sz) { st = tg_fail(ctx, TG_ERR_IO, "%s: read error", path); goto done; }
    st = tg_forest_deserialize(ctx, buf, (size_t)sz, path, out);
done:
    fclose(fp);
    tg_free(buf);
    return st;
}

int tg_forest_equal(const tg_forest *a, const tg_forest *b)
{
    if (a->nfeatures != b->nfeatures || a->nclasses != b->nclasses || a->ntrees != b->ntrees || a->nchannels != b->nchannels ||
        a->max_depth != b->max_depth || a->min_leaf != b->min_leaf || a->mtry != b->mtry || a->bins != b->bins ||
        a->class_weight != b->class_weight || a->seed != b->seed || a->meta_len != b->meta_len)
        return 0;
    if (!a->trees || !b->trees) return a->trees == b->trees;
    if (memcmp(a->weights, b->weights, sizeof(double) * a->nclasses) || memcmp(a->class_values, b->class_values, sizeof(int32_t) * a->nclasses) ||
        memcmp(a->importance, b->importance, sizeof(double) * a->nfeatures))
        return 0;
    if (a->meta_len && memcmp(a->meta, b->meta, a->meta_len)) return 0;
    for (int t = 0; t < a->ntrees; t++) {
        const tg_forest_tree *x = &a->trees[t], *y = &b->trees[t];
        if (x->nnodes != y->nnodes || x->nvalues != y->nvalues) return 0;
        if (memcmp(x->nodes, y->nodes, sizeof(tg_forest_node) * x->nnodes) || memcmp(x->values, y->values, sizeof(float) * x->nvalues))
            return 0;
    }
    return 1;
}

int64_t tg_forest_nodes(const tg_forest *f)
{
    int64_t s = 0;
    for (int t = 0; t < f->ntrees && f->trees; t++) s += f->trees[t].nnodes;
    return s;
}
