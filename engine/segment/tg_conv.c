/* tg_conv.c — 3x3 convolution + ReLU layers by im2col + sgemm, and their weight file. Manual in tg_conv.h. */
#include "segment/tg_conv.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IM2COL_FLOATS (4 << 20) /* largest im2col block */
#define HEADER_MAX 65536

tg_status tg_conv_check(tg_ctx *ctx, const tg_conv_net *net)
{
    if (!net || net->nlayers < 1 || net->nlayers > TG_CONV_MAX_LAYERS)
        return tg_fail(ctx, TG_ERR_ARG, "conv: a network needs 1 to %d layers", TG_CONV_MAX_LAYERS);
    for (int l = 0; l < net->nlayers; l++) {
        const tg_conv_layer *L = &net->layer[l];
        if (L->cin < 1 || L->cin > TG_CONV_MAX_PLANES || L->cout < 1 || L->cout > TG_CONV_MAX_PLANES)
            return tg_fail(ctx, TG_ERR_ARG, "conv: layer %d has %d inputs and %d outputs; each must be in 1..%d", l + 1,
                           L->cin, L->cout, TG_CONV_MAX_PLANES);
        if (l > 0 && L->cin != net->layer[l - 1].cout)
            return tg_fail(ctx, TG_ERR_ARG, "conv: layer %d takes %d inputs but layer %d gives %d outputs", l + 1, L->cin,
                           l, net->layer[l - 1].cout);
        if (!L->w || !L->b) return tg_fail(ctx, TG_ERR_ARG, "conv: layer %d has no weights", l + 1);
    }
    return TG_OK;
}

int tg_conv_outputs(const tg_conv_net *net)
{
    return net && net->nlayers > 0 ? net->layer[net->nlayers - 1].cout : 0;
}

void tg_conv_free(tg_conv_net *net)
{
    if (!net) return;
    for (int l = 0; l < TG_CONV_MAX_LAYERS; l++) {
        tg_free(net->layer[l].w);
        tg_free(net->layer[l].b);
    }
    tg_free(net);
}

tg_status tg_conv_new(tg_ctx *ctx, int nlayers, const int *cin, const int *cout, tg_conv_net **out)
{
    *out = NULL;
    if (nlayers < 1 || nlayers > TG_CONV_MAX_LAYERS)
        return tg_fail(ctx, TG_ERR_ARG, "conv: a network needs 1 to %d layers, got %d", TG_CONV_MAX_LAYERS, nlayers);
    for (int l = 0; l < nlayers; l++) {
        if (cin[l] < 1 || cin[l] > TG_CONV_MAX_PLANES || cout[l] < 1 || cout[l] > TG_CONV_MAX_PLANES)
            return tg_fail(ctx, TG_ERR_ARG, "conv: layer %d has %d inputs and %d outputs; each must be in 1..%d", l + 1,
                           cin[l], cout[l], TG_CONV_MAX_PLANES);
        if (l > 0 && cin[l] != cout[l - 1])
            return tg_fail(ctx, TG_ERR_ARG, "conv: layer %d takes %d inputs but layer %d gives %d outputs", l + 1,
                           cin[l], l, cout[l - 1]);
    }
    tg_conv_net *net = tg_calloc(1, sizeof *net);
    if (!net) return tg_fail(ctx, TG_ERR_NOMEM, "conv: out of memory");
    net->nlayers = nlayers;
    for (int l = 0; l < nlayers; l++) {
        net->layer[l].cin = cin[l];
        net->layer[l].cout = cout[l];
        net->layer[l].w = tg_calloc((size_t)cout[l] * (size_t)cin[l] * 9, sizeof(float));
        net->layer[l].b = tg_calloc((size_t)cout[l], sizeof(float));
        if (!net->layer[l].w || !net->layer[l].b) {
            tg_conv_free(net);
            return tg_fail(ctx, TG_ERR_NOMEM, "conv: out of memory for the weights of layer %d", l + 1);
        }
    }
    *out = net;
    return TG_OK;
}

/* ---- the weight file ---- */

static float get_f32le(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void put_f32le(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

/* Next header line of the buffer (at most 255 chars) into line; returns 0 or -1 if none. */
static int next_line(const unsigned char *buf, size_t len, size_t *pos, char *line)
{
    size_t i = *pos, n = 0;
    while (i < len && i < HEADER_MAX && buf[i] != '\n') {
        if (n < 255) line[n++] = (char)buf[i];
        i++;
    }
    if (i >= len || buf[i] != '\n') return -1;
    line[n] = 0;
    *pos = i + 1;
    return 0;
}

static tg_status parse(tg_ctx *ctx, const char *path, const unsigned char *buf, size_t len, tg_conv_net **out)
{
    char line[256], extra[8];
    size_t pos = 0;
    int version = 0, nl = 0, cin[TG_CONV_MAX_LAYERS], cout[TG_CONV_MAX_LAYERS];
    if (next_line(buf, len, &pos, line) || sscanf(line, "tortuga-conv %d %1s", &version, extra) != 1)
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: not a tortuga convolution weight file (the first line must be "
                                           "'tortuga-conv 1')", path);
    if (version != 1)
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: weight file version %d is not supported (this tortuga reads version 1)",
                       path, version);
    if (next_line(buf, len, &pos, line) || sscanf(line, "layers %d %1s", &nl, extra) != 1 || nl < 1 ||
        nl > TG_CONV_MAX_LAYERS)
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: line 2 must be 'layers <n>' with n in 1..%d", path, TG_CONV_MAX_LAYERS);
    for (int l = 0; l < nl; l++)
        if (next_line(buf, len, &pos, line) || sscanf(line, "layer %d %d %1s", &cin[l], &cout[l], extra) != 2)
            return tg_fail(ctx, TG_ERR_FORMAT, "%s: line %d must be 'layer <inputs> <outputs>' (layer %d of %d)", path,
                           l + 3, l + 1, nl);
    if (next_line(buf, len, &pos, line) || strcmp(line, "data") != 0)
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: line %d must be 'data' (after %d layer lines)", path, nl + 3, nl);
    tg_status st = tg_conv_new(ctx, nl, cin, cout, out);
    if (st) {
        char msg[sizeof ctx->msg];
        snprintf(msg, sizeof msg, "%s", ctx->msg);
        return tg_fail(ctx, TG_ERR_FORMAT, "%s: wrong shapes: %s", path, msg);
    }
    size_t need = 0;
    for (int l = 0; l < nl; l++) need += ((size_t)cout[l] * (size_t)cin[l] * 9 + (size_t)cout[l]) * 4;
    size_t have = len - pos;
    if (have < need)
        st = tg_fail(ctx, TG_ERR_FORMAT, "%s: truncated: the header announces %zu bytes of weights, the file has %zu",
                     path, need, have);
    else if (have > need)
        st = tg_fail(ctx, TG_ERR_FORMAT, "%s: %zu bytes after the weights (do the layer shapes match the data?)", path,
                     have - need);
    const unsigned char *p = buf + pos;
    for (int l = 0; l < nl && !st; l++) {
        tg_conv_layer *L = &(*out)->layer[l];
        size_t nw = (size_t)L->cout * (size_t)L->cin * 9;
        for (size_t i = 0; i < nw; i++, p += 4) L->w[i] = get_f32le(p);
        for (int i = 0; i < L->cout; i++, p += 4) L->b[i] = get_f32le(p);
        for (size_t i = 0; i < nw && !st; i++)
            if (!isfinite(L->w[i])) st = tg_fail(ctx, TG_ERR_FORMAT, "%s: weight %zu of layer %d is not finite", path, i, l + 1);
        for (int i = 0; i < L->cout && !st; i++)
            if (!isfinite(L->b[i])) st = tg_fail(ctx, TG_ERR_FORMAT, "%s: bias %d of layer %d is not finite", path, i, l + 1);
    }
    if (st) {
        tg_conv_free(*out);
        *out = NULL;
    }
    return st;
}

tg_status tg_conv_load(tg_ctx *ctx, const char *path, tg_conv_net **out)
{
    tg_status st = TG_OK;
    unsigned char *buf = NULL;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno));
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: cannot find the file size", path);
        goto done;
    }
    if (len > ((long)TG_CONV_MAX_LAYERS * TG_CONV_MAX_PLANES * TG_CONV_MAX_PLANES * 40 + HEADER_MAX)) {
        st = tg_fail(ctx, TG_ERR_FORMAT, "%s: %ld bytes is too large for a weight file", path, len);
        goto done;
    }
    buf = tg_malloc((size_t)len + 1);
    if (!buf) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory reading %ld bytes", path, len);
        goto done;
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        st = tg_fail(ctx, TG_ERR_IO, "%s: read error", path);
        goto done;
    }
    st = parse(ctx, path, buf, (size_t)len, out);
done:
    fclose(f);
    tg_free(buf);
    return st;
}

tg_status tg_conv_parse(tg_ctx *ctx, const char *name, const void *buf, size_t len, tg_conv_net **out)
{
    *out = NULL;
    if (!buf) return tg_fail(ctx, TG_ERR_ARG, "%s: no weight data", name ? name : "convolution weights");
    return parse(ctx, name ? name : "convolution weights", (const unsigned char *)buf, len, out);
}

tg_status tg_conv_serialize(tg_ctx *ctx, const tg_conv_net *net, unsigned char **buf, size_t *len)
{
    tg_status st;
    *buf = NULL;
    *len = 0;
    if ((st = tg_conv_check(ctx, net))) return st;
    char head[64 + 32 * TG_CONV_MAX_LAYERS];
    int h = snprintf(head, sizeof head, "tortuga-conv 1\nlayers %d\n", net->nlayers);
    for (int l = 0; l < net->nlayers; l++)
        h += snprintf(head + h, sizeof head - (size_t)h, "layer %d %d\n", net->layer[l].cin, net->layer[l].cout);
    h += snprintf(head + h, sizeof head - (size_t)h, "data\n");
    size_t n = (size_t)h;
    for (int l = 0; l < net->nlayers; l++)
        n += 4 * ((size_t)net->layer[l].cout * (size_t)net->layer[l].cin * 9 + (size_t)net->layer[l].cout);
    unsigned char *b = tg_malloc(n);
    if (!b) return tg_fail(ctx, TG_ERR_NOMEM, "convolution weights: out of memory for %zu bytes", n);
    memcpy(b, head, (size_t)h);
    unsigned char *q = b + h;
    for (int l = 0; l < net->nlayers; l++) {
        const tg_conv_layer *L = &net->layer[l];
        size_t nw = (size_t)L->cout * (size_t)L->cin * 9;
        for (size_t i = 0; i < nw + (size_t)L->cout; i++, q += 4) put_f32le(q, i < nw ? L->w[i] : L->b[i - nw]);
    }
    *buf = b;
    *len = n;
    return TG_OK;
}

tg_status tg_conv_save(tg_ctx *ctx, const tg_conv_net *net, const char *path)
{
    tg_status st;
    if ((st = tg_conv_check(ctx, net))) return st;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return tg_fail(ctx, TG_ERR_ARG, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return tg_fail(ctx, TG_ERR_IO, "%s: %s", tmp, strerror(errno));
    int bad = fprintf(f, "tortuga-conv 1\nlayers %d\n", net->nlayers) < 0;
    for (int l = 0; l < net->nlayers; l++)
        bad |= fprintf(f, "layer %d %d\n", net->layer[l].cin, net->layer[l].cout) < 0;
    bad |= fprintf(f, "data\n") < 0;
    for (int l = 0; l < net->nlayers && !bad; l++) {
        const tg_conv_layer *L = &net->layer[l];
        size_t nw = (size_t)L->cout * (size_t)L->cin * 9;
        unsigned char b[4];
        for (size_t i = 0; i < nw + (size_t)L->cout && !bad; i++) {
            put_f32le(b, i < nw ? L->w[i] : L->b[i - nw]);
            bad |= fwrite(b, 1, 4, f) != 4;
        }
    }
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return tg_fail(ctx, TG_ERR_IO, "%s: cannot write the weight file", path);
    }
    return TG_OK;
}

/* ---- forward pass ---- */

/* Unroll rows [y0, y1) of cin planes into cols ((cin*9) x ((y1-y0)*nx)), zero outside the slice. */
static void im2col(const float *in, int cin, int64_t nx, int64_t ny, int64_t y0, int64_t y1, float *cols, int nt)
{
    int64_t npix = (y1 - y0) * nx, nxy = nx * ny;
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t rowk = 0; rowk < (int64_t)cin * 9; rowk++) {
        int i = (int)(rowk / 9), ky = (int)(rowk % 9) / 3 - 1, kx = (int)(rowk % 3) - 1;
        float *dst = cols + rowk * npix;
        for (int64_t y = y0; y < y1; y++) {
            float *d = dst + (y - y0) * nx;
            int64_t sy = y + ky;
            if (sy < 0 || sy >= ny) {
                memset(d, 0, (size_t)nx * sizeof *d);
                continue;
            }
            const float *s = in + (size_t)i * (size_t)nxy + (size_t)(sy * nx);
            for (int64_t x = 0; x < nx; x++) {
                int64_t sx = x + kx;
                d[x] = sx >= 0 && sx < nx ? s[sx] : 0.0f;
            }
        }
    }
}

/* One layer: out (cout planes) = ReLU(W * im2col(in) + b), by row blocks. */
static void layer_forward(const float *w, const float *b, int cin, int cout, const float *in, int64_t nx, int64_t ny,
                          float *out, float *cols, int64_t rows_per_block, int nt)
{
    int64_t nxy = nx * ny;
    int K = cin * 9;
    for (int64_t y0 = 0; y0 < ny; y0 += rows_per_block) {
        int64_t y1 = y0 + rows_per_block < ny ? y0 + rows_per_block : ny, npix = (y1 - y0) * nx;
        im2col(in, cin, nx, ny, y0, y1, cols, nt);
        for (int o = 0; o < cout; o++) {
            float *c = out + (size_t)o * (size_t)nxy + (size_t)(y0 * nx);
            for (int64_t p = 0; p < npix; p++) c[p] = b[o];
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, (int)npix, K, 1.0f, w, K, cols, (int)npix, 1.0f,
                    out + (size_t)(y0 * nx), (int)nxy);
    }
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < (int64_t)cout * nxy; i++)
        if (!(out[i] > 0)) out[i] = 0; /* ReLU (NaN becomes 0 as well) */
}

tg_status tg_conv_slice(tg_ctx *ctx, const tg_conv_net *net, const float *in, int nin, int64_t nx, int64_t ny,
                        float *out)
{
    tg_status st;
    float *cols = NULL, *wsum = NULL, *pp[2] = {NULL, NULL};
    if ((st = tg_conv_check(ctx, net))) return st;
    int cin0 = net->layer[0].cin;
    if (nin != cin0 && nin != 1)
        return tg_fail(ctx, TG_ERR_ARG, "conv: the first layer takes %d input planes; %d given", cin0, nin);
    if (nx < 1 || ny < 1 || nx * ny > INT32_MAX)
        return tg_fail(ctx, TG_ERR_ARG, "conv: a %lldx%lld slice is not supported", (long long)nx, (long long)ny);
    int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    int64_t nxy = nx * ny;
    int kmax = 9, cmax = 0;
    for (int l = 0; l < net->nlayers; l++) {
        int k = (l == 0 ? nin : net->layer[l].cin) * 9;
        if (k > kmax) kmax = k;
        if (l < net->nlayers - 1 && net->layer[l].cout > cmax) cmax = net->layer[l].cout;
    }
    int64_t rows = IM2COL_FLOATS / ((int64_t)kmax * nx);
    if (rows < 1) rows = 1;
    if (rows > ny) rows = ny;
    cols = tg_malloc((size_t)(rows * nx) * (size_t)kmax * sizeof *cols);
    if (cmax) {
        pp[0] = tg_malloc((size_t)nxy * (size_t)cmax * sizeof(float));
        pp[1] = net->nlayers > 2 ? tg_malloc((size_t)nxy * (size_t)cmax * sizeof(float)) : NULL;
    }
    if (nin == 1 && cin0 > 1) wsum = tg_calloc((size_t)net->layer[0].cout * 9, sizeof *wsum);
    if (!cols || (cmax && !pp[0]) || (net->nlayers > 2 && !pp[1]) || (nin == 1 && cin0 > 1 && !wsum)) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "conv: out of memory for a %lldx%lld slice", (long long)nx, (long long)ny);
        goto done;
    }
    if (wsum) /* a grey slice fed to cin0 identical planes: sum the weights over the input planes */
        for (int o = 0; o < net->layer[0].cout; o++)
            for (int i = 0; i < cin0; i++)
                for (int k = 0; k < 9; k++) wsum[o * 9 + k] += net->layer[0].w[((size_t)o * (size_t)cin0 + (size_t)i) * 9 + (size_t)k];
    openblas_set_num_threads(nt);
    const float *src = in;
    for (int l = 0; l < net->nlayers; l++) {
        const tg_conv_layer *L = &net->layer[l];
        float *dst = l == net->nlayers - 1 ? out : pp[l % 2];
        layer_forward(l == 0 && wsum ? wsum : L->w, L->b, l == 0 ? nin : L->cin, L->cout, src, nx, ny, dst, cols, rows, nt);
        src = dst;
        if (tg_cancelled(ctx)) {
            st = tg_fail(ctx, TG_ERR_CANCELLED, "conv: cancelled");
            goto done;
        }
    }
done:
    tg_free(cols);
    tg_free(wsum);
    tg_free(pp[0]);
    tg_free(pp[1]);
    return st;
}
