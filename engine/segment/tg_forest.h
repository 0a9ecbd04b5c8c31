/* tg_forest.h — a random forest classifier (CART on Gini impurity) for voxel classification.
 *
 * What: Breiman's random forest (L. Breiman, "Random forests", Machine Learning 45 (2001) 5-32,
 * doi:10.1023/A:1010933404324) with CART trees (Breiman, Friedman, Olshen & Stone 1984) grown on the Gini impurity,
 * as scikit-learn's RandomForestClassifier does: each tree sees a bootstrap sample (n draws with replacement; a
 * sample drawn c times weighs c times its class weight), each split tries `mtry` features drawn at random
 * (default floor(sqrt(features))); features found constant in the node do not count towards mtry (scikit-learn's
 * rule). Any valid split is taken even without a Gini decrease (so XOR is learnt at depth 2). A node becomes a
 * leaf when it is pure, holds fewer than 2*min_leaf distinct samples, reaches max_depth, or has no valid split.
 * A leaf stores its weighted class distribution; the forest's probability is the mean over trees; the label is
 * the class of highest probability (ties go to the lower class index).
 *
 * Split search. bins = 0: exact CART — the node's values of each candidate feature are sorted (with the sample
 * ids) and every boundary between distinct values is tried, threshold = the midpoint (scikit-learn's rule).
 * bins = B: histogram splits (as LightGBM and scikit-learn's HistGradientBoosting): every feature
 * is quantised once into at most B bins whose edges are midpoints between distinct training values at the
 * quantiles; a node builds a class-weight histogram per candidate feature in O(node samples) and tries every
 * bin edge (all candidate features in one pass over the node's samples). Bin edges sit near the quantiles, each at
 * the widest gap between consecutive training values within half a bin of its quantile (so edges fall in natural
 * breaks, e.g. between separated classes). A feature with at most B distinct training values is binned exactly
 * (edges between all distinct values). Nodes with fewer than 64 samples are split exactly even in binned mode
 * (sorting a few dozen values is cheaper than a histogram sweep, and deep nodes find exact thresholds).
 * bench/segment.lua prints the binned and the exact accuracy side by side. The default (bins = -1) is exact CART
 * below 65 536 training samples (a few thousand scribbled voxels train in well under a second either way, and
 * exact splits matched scikit-learn's IoU more closely there) and 256 bins from 65 536 samples up.
 * Thresholds are stored as floats and prediction compares x <= threshold (left), which
 * is exactly the bin test of training.
 *
 * Class weights: TG_FOREST_WEIGHT_NONE (all 1), TG_FOREST_WEIGHT_BALANCED (n / (K * n_k), scikit-learn's
 * "balanced", from the whole training set), or TG_FOREST_WEIGHT_CUSTOM (weights[] per class).
 * Importance: mean decrease in Gini impurity (scikit-learn's feature_importances_): per tree, the sum over splits
 * of W*g - W_L*g_L - W_R*g_R normalised to sum 1, averaged over trees, normalised to sum 1.
 *
 * Randomness: tree t draws from tg_rng (Philox) keyed by (seed, stream(TG_FOREST_RNG_TAG, t)), so a tree
 * depends only on (data, options, seed, t): results are identical for any thread count.
 * Threading: training in parallel over trees (batches of nthreads trees, each built in per-thread scratch and
 * copied out serially — no allocation in the parallel region); prediction in parallel over tasks of 1024 rows,
 * each task going through the trees one at a time (a tree stays in cache for the task). Both use
 * num_threads(ctx->nthreads).
 * Prediction, packet path (x86-64 with AVX-512 F/BW/DQ, chosen at run time): a task's rows are transposed into 16
 * packets of 64 rows (feature-major, so one feature of a packet is four 16-float vectors). A packet descends a
 * tree as a whole: at a node one compare per 16 rows splits its rows into those going left and right; when both
 * sides hold rows the right ones wait on the packet's stack, and at a leaf the packet's rows there add its values
 * with masked vector adds. Neighbouring voxels mostly take the same path, so a packet visits few nodes: on
 * bench/segment.lua 1.2 node visits per row and tree for 64 consecutive rows, 0.7 when the caller gives the row
 * width (tg_forest_predict_grid) and a packet is an 8 x 8 tile, against 12 to 15 levels for one row alone (the
 * "packet traversal" of coherent ray tracing: I. Wald et al., "Interactive rendering with coherent ray tracing",
 * Computer Graphics Forum 20 (2001) 153-165, doi:10.1111/1467-8659.00508). Four packets are interleaved one node
 * at a time so that their dependent loads overlap. Random rows (no coherence) still give exact results, at about
 * the lockstep path's speed.
 * Prediction, lockstep path (every other processor, or TG_FOREST_GENERIC=1 in the environment): 16 rows descend a
 * tree together level by level on a copy of the trees where every leaf leads to itself, so each level is the same
 * branch-free step for all 16 rows, until all stand in leaves (checked every 2 levels).
 * Both paths compare the f32 features with the f32 thresholds as stored (no quantisation) and add each row's leaf
 * values in tree order from 0 in f32, then multiply by 1/trees: labels and probabilities are bit-identical
 * between the paths, for any row width and any thread count (test_forest checks them against a plain descent).
 * Cost: training O(trees * mtry * n * depth) (binned) or O(trees * mtry * n log n * depth) (exact); prediction
 * O(trees * depth) per row, divided by the packet's coherence on the packet path.
 * Memory: training borrows the caller's rows and holds, binned, their codes (1 B per sample and feature); per thread
 * a copy of the tree's rows in node order (4 B, binned 5 B, per sample and feature) and about 60 B per sample of
 * scratch. A tree is a compact array
 * of 12-byte nodes {feature (-1 = leaf), threshold, child} (children adjacent: left = child, right = child+1;
 * a leaf's child is the offset of its K probabilities). Prediction needs no state per row beyond its output:
 * K*4 bytes of probabilities (optional) and 1 byte of label; the caller's feature rows are 4*features bytes.
 * Per call it holds a prediction copy of the trees (packet path 12 bytes per node, lockstep path 16) and per
 * thread 1024 * (features + K) floats plus 8 KiB (the task's rows, sums and row map; about 4 KB of packet stacks).
 *
 * File format (tg_forest_save/load), all little-endian:
 *   "TGFOREST" (8 bytes), u32 version (TG_FOREST_VERSION), u32 header bytes, then the header: u32 features,
 *   classes, trees, channels; i32 max_depth, min_leaf, mtry, bins, class_weight mode; u64 seed; then f64 class
 *   weights[K], i32 class values[K], f64 importance[F], u32 meta length + meta bytes (opaque text of the caller:
 *   feature names and options), then per tree u32 nodes, u32 leaf values, nodes (i32, f32, i32 each), f32 values;
 *   last the SHA-256 of everything before it (32 raw bytes). load verifies magic, version, checksum and every
 *   index, so a foreign, corrupt or truncated file is TG_ERR_FORMAT with a message, never a crash. A reloaded
 *   forest is bit-identical (tg_forest_equal) and predicts identically.
 */
#ifndef TG_FOREST_H
#define TG_FOREST_H

#include <stddef.h>
#include <stdint.h>

#include "core/tg_core.h"

#define TG_FOREST_VERSION 1u
#define TG_FOREST_MAX_CLASSES 255
#define TG_FOREST_RNG_TAG 0x4652u /* "FR" */

typedef enum tg_forest_weight { TG_FOREST_WEIGHT_NONE = 0, TG_FOREST_WEIGHT_BALANCED, TG_FOREST_WEIGHT_CUSTOM } tg_forest_weight;

typedef struct tg_forest_opts {
    int trees;            /* >= 1 */
    int max_depth;        /* 0 = unlimited */
    int min_leaf;         /* >= 1: distinct samples a leaf must hold */
    int mtry;             /* features tried per split; 0 = floor(sqrt(features)) (at least 1) */
    int bins;             /* 0 = exact sort-based splits; 2..256 = histogram splits; -1 (default) = automatic:
                           * 256 when there are at least TG_FOREST_AUTO_BINNED samples, else exact */
    int bootstrap;        /* 1 = bootstrap samples (default); 0 = every tree sees all samples once */
    tg_forest_weight class_weight;
    const double *weights; /* CUSTOM: one weight > 0 per class */
    uint64_t seed;
    int channels;         /* recorded for the caller's checks (input channels the features came from) */
} tg_forest_opts;
#define TG_FOREST_OPTS_INIT {100, 0, 1, 0, -1, 1, TG_FOREST_WEIGHT_NONE, NULL, 1, 0}
#define TG_FOREST_AUTO_BINNED 65536

typedef struct tg_forest_node {
    int32_t feature; /* -1: leaf */
    float threshold; /* go left when x[feature] <= threshold */
    int32_t child;   /* internal: left child (right = child + 1); leaf: offset of its K values */
} tg_forest_node;

typedef struct tg_forest_tree {
    int32_t nnodes, nvalues;
    tg_forest_node *nodes;
    float *values; /* class probabilities of the leaves, K per leaf */
} tg_forest_tree;

typedef struct tg_forest {
    int nfeatures, nclasses, ntrees, nchannels;
    int max_depth, min_leaf, mtry, bins;
    tg_forest_weight class_weight;
    uint64_t seed;
    double *weights;       /* nclasses: the class weights used */
    int32_t *class_values; /* nclasses: the label value of each class (1..255) */
    double *importance;    /* nfeatures */
    char *meta;            /* opaque caller text (may be NULL), meta_len bytes plus a NUL */
    uint32_t meta_len;
    tg_forest_tree *trees;
} tg_forest;

void tg_forest_init(tg_forest *f);
void tg_forest_free(tg_forest *f); /* idempotent; leaves an empty forest */

/* Train on n rows of X (row-major n x nfeatures, f32; NaN is not allowed) with classes y[i] in 0..nclasses-1.
 * class_values[k] (1..255) is the label value of class k (NULL: k+1). meta (may be NULL) is copied.
 * Every class must have at least one sample. out: filled on success, empty on failure. */
tg_status tg_forest_train(tg_ctx *ctx, const float *X, const uint8_t *y, int64_t n, int nfeatures, int nclasses,
                          const int32_t *class_values, const char *meta, const tg_forest_opts *opt, tg_forest *out);

/* Predict n rows of X (row-major n x nfeatures). prob: NULL or nclasses pointers, each receiving n f32
 * probabilities (planar, so each can be a slab of a volume); label: NULL or n bytes of class values.
 * nfeatures must equal the forest's. */
tg_status tg_forest_predict(tg_ctx *ctx, const tg_forest *f, const float *X, int64_t n, int nfeatures,
                            float *const *prob, uint8_t *label);
/* The same, told that the rows are voxels of lines of `width` (x fastest, as a volume's or a slab's voxels):
 * 8 x 8 tiles of neighbouring voxels then descend together, which is faster; the results are identical for any
 * width (0 = unknown). */
tg_status tg_forest_predict_grid(tg_ctx *ctx, const tg_forest *f, const float *X, int64_t n, int nfeatures,
                                 int64_t width, float *const *prob, uint8_t *label);

/* Save (to a temporary name, then renamed) / load. */
tg_status tg_forest_save(tg_ctx *ctx, const tg_forest *f, const char *path);
tg_status tg_forest_load(tg_ctx *ctx, const char *path, tg_forest *out);
/* The same serialisation in memory (*buf allocated with tg_malloc). */
tg_status tg_forest_serialize(tg_ctx *ctx, const tg_forest *f, uint8_t **buf, size_t *len);
tg_status tg_forest_deserialize(tg_ctx *ctx, const uint8_t *buf, size_t len, const char *name, tg_forest *out);

/* 1 when both forests have identical parameters, trees (bit for bit), importance and meta. */
int tg_forest_equal(const tg_forest *a, const tg_forest *b);
/* Total nodes of all trees (for reports). */
int64_t tg_forest_nodes(const tg_forest *f);

#endif
