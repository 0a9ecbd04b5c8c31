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
 * copied out serially — no allocation in the parallel region); prediction in parallel over blocks of 1024 rows
 * (copied into a per-thread buffer), each block going through the trees one at a time (a tree stays in cache for
 * the block), 16 rows descending a tree together level by level. For prediction the trees are copied once per call
 * with every leaf turned into a node that leads to itself, so each level is the same branch-free step for all 16
 * rows (no list of active rows; the steps are independent, so the processor overlaps them), and the descent stops
 * when all 16 rows stand in leaves (checked every 2 levels) or at the tree's largest leaf depth.
 * Both use num_threads(ctx->nthreads).
 * Cost: training O(trees * mtry * n * depth) (binned) or O(trees * mtry * n log n * depth) (exact); prediction
 * O(trees * depth) per row.
 * Memory: training borrows the caller's rows and holds, binned, their codes (1 B per sample and feature); per thread
 * a copy of the tree's rows in node order (4 B, binned 5 B, per sample and feature) and about 60 B per sample of
 * scratch. A tree is a compact array
 * of 12-byte nodes {feature (-1 = leaf), threshold, child} (children adjacent: left = child, right = child+1;
 * a leaf's child is the offset of its K probabilities). Prediction needs no state per row beyond its output:
 * K*4 bytes of probabilities (optional) and 1 byte of label; the caller's feature rows are 4*features bytes.
 * Per call it holds the prediction copy of the trees (16 bytes per node) and per thread 1024 * (features + K)
 * floats.
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
