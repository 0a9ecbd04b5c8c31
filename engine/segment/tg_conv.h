/* tg_conv.h — a small stack of 3x3 convolution + ReLU layers (e.g. VGG16's block 1) for pixel features.
 *
 * What: layer l maps cin_l planes to cout_l planes,
 *     out[o][y][x] = max(0, b[o] + sum_{i, ky, kx} W[o][i][ky][kx] * in[i][y + ky - 1][x + kx - 1])
 * (cross-correlation, as Keras Conv2D and PyTorch nn.Conv2d compute; "same" zero padding, stride 1);
 * y is the image row (top row first, as numpy arrays of the slice), x the column. A grey slice given to a
 * network whose first layer wants cin > 1 planes is fed as cin identical copies (a grey image given to an
 * RGB network), computed once with the weights summed over the input planes. No input scaling is done:
 * normalise the channels as the weights expect.
 *
 * Weight file (".tgconv"), version 1: a text header of lines ending in "\n", then little-endian f32 blobs.
 *     tortuga-conv 1
 *     layers <L>
 *     layer <cin> <cout>          (L lines, 3x3 kernels; cin of layer l+1 must equal cout of layer l)
 *     data
 * then, for each layer in order, W as cout*cin*9 floats in [cout][cin][ky][kx] order (PyTorch's
 * weight.detach().numpy() as is; Keras' kernel (3, 3, cin, cout) transposed with .transpose(3, 2, 0, 1)),
 * followed by the cout biases. The file must end exactly there. Limits: L <= 16, cin, cout <= 1024.
 * The Lua manual (lua/tortuga/segment.lua) shows the few lines that export VGG16 block 1 from Keras/PyTorch.
 *
 * Algorithm: im2col + sgemm (Chellapilla et al. 2006, "High performance convolutional neural networks for
 * document processing"): blocks of rows of the slice are unrolled into a (cin*9) x (pixels) matrix and
 * multiplied by the (cout) x (cin*9) weights with OpenBLAS cblas_sgemm.
 * Cost: 9 * cin * cout multiply-adds per pixel and layer.
 * Memory per voxel (of one slice): 2 * max(cout) * 4 bytes for the layer inputs/outputs, plus the im2col
 * block (at most 4 M floats = 16 MiB).
 * Threading: im2col and ReLU under OpenMP (num_threads(ctx->nthreads)); sgemm with OpenBLAS set to
 * ctx->nthreads threads, outside parallel regions. OpenBLAS splits sgemm over output blocks, not over the
 * inner sum, so results do not depend on the thread count.
 */
#ifndef TG_CONV_H
#define TG_CONV_H

#include "core/tg_core.h"

#define TG_CONV_MAX_LAYERS 16
#define TG_CONV_MAX_PLANES 1024

typedef struct tg_conv_layer {
    int cin, cout;
    float *w; /* cout * cin * 9, [cout][cin][ky][kx] */
    float *b; /* cout */
} tg_conv_layer;

typedef struct tg_conv_net {
    int nlayers;
    tg_conv_layer layer[TG_CONV_MAX_LAYERS];
} tg_conv_net;

/* A network with zeroed weights of the given shapes (cin[l], cout[l]); fill layer[l].w and .b. */
tg_status tg_conv_new(tg_ctx *ctx, int nlayers, const int *cin, const int *cout, tg_conv_net **out);
void tg_conv_free(tg_conv_net *net); /* NULL is fine */
/* Read / write the weight file described above. Errors name the path and the reason (TG_ERR_IO for the
 * outside world, TG_ERR_FORMAT for a file that is not a valid weight file: bad magic, version, shapes,
 * truncated data, trailing bytes, non-finite weights). */
tg_status tg_conv_load(tg_ctx *ctx, const char *path, tg_conv_net **out);
tg_status tg_conv_save(tg_ctx *ctx, const tg_conv_net *net, const char *path);
/* The same format in memory: parse len bytes (name is used in the messages), or write the file's bytes into
 * *buf (allocated with tg_malloc, *len bytes). A serialised net parses back to bit-identical weights. */
tg_status tg_conv_parse(tg_ctx *ctx, const char *name, const void *buf, size_t len, tg_conv_net **out);
tg_status tg_conv_serialize(tg_ctx *ctx, const tg_conv_net *net, unsigned char **buf, size_t *len);

/* Output planes of the network (cout of the last layer). */
int tg_conv_outputs(const tg_conv_net *net);
/* Check the shapes chain (cin of layer l+1 == cout of layer l, limits). */
tg_status tg_conv_check(tg_ctx *ctx, const tg_conv_net *net);

/* Apply the network to one slice. in: nin planes of nx*ny floats (plane-major, row y at y*nx), nin either
 * the first layer's cin or 1 (replicated). out: tg_conv_outputs(net) planes of nx*ny floats. */
tg_status tg_conv_slice(tg_ctx *ctx, const tg_conv_net *net, const float *in, int nin, int64_t nx, int64_t ny,
                        float *out);

#endif
