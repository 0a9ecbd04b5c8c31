#!/usr/bin/python3
"""segment_ref.py — scikit-learn's RandomForestClassifier as the reference for tortuga's forest.

  /usr/bin/python3 bench/segment_ref.py bench X.f32 Y.u8 ROWS NF STRIDE TREES
      called by bench/segment.lua: X is ROWS x NF float32 (row-major), Y the ROWS labels; trains on every
      STRIDE-th row, predicts all rows with n_jobs=2, prints "sk_fit s", "sk_predict s", "sk_accuracy a".
  /usr/bin/python3 bench/segment_ref.py dataset DIR TREES [OUT]
      called by tests/fixtures/segment/make_fixtures.lua (once): DIR holds, per image k of the
      sem-3phase-seg-groundtruth set, features_k.f32 (N x NF float32, tortuga's features), scribbles_k.u8 and
      truth_k.u8 (N bytes, classes 1..K, 0 = unlabelled) and shape_k.txt ("N NF"). Trains scikit-learn's forest
      (TREES trees, sqrt features, seeds 1..5) on the scribbled pixels, predicts every pixel, and writes the
      class-mean IoU of each seed and their mean to OUT (default tests/fixtures/segment/sklearn_iou.lua).
Needs python3-numpy and python3-sklearn (Debian). Tests never run this script.
"""
import os
import sys
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier


def bench(xpath, ypath, rows, nf, stride, trees):
    X = np.fromfile(xpath, dtype="<f4").reshape(rows, nf)
    y = np.fromfile(ypath, dtype=np.uint8)
    Xtr, ytr = np.ascontiguousarray(X[::stride]), y[::stride]
    rf = RandomForestClassifier(n_estimators=trees, max_features="sqrt", n_jobs=2, random_state=1)
    t = time.perf_counter()
    rf.fit(Xtr, ytr)
    fit = time.perf_counter() - t
    t = time.perf_counter()
    pred = rf.predict(X)
    pr = time.perf_counter() - t
    print("sk_fit %.4f" % fit)
    print("sk_predict %.4f" % pr)
    print("sk_accuracy %.6f" % float(np.mean(pred == y)))


def mean_iou(pred, truth):
    ious = []
    for c in np.unique(truth):
        if c == 0:
            continue
        tp = np.sum((pred == c) & (truth == c))
        union = np.sum((pred == c) | (truth == c))
        ious.append(tp / union)
    return float(np.mean(ious))


def dataset(d, trees, out):
    lines = ["-- scikit-learn RandomForestClassifier (n_estimators=%d, max_features='sqrt', bootstrap) on tortuga's" % trees,
             "-- features of /work/shared/data/sem-3phase-seg-groundtruth, trained on the scribbles; class-mean IoU",
             "-- against the ground truth. Written by bench/segment_ref.py dataset (scikit-learn %s)." % __import__("sklearn").__version__,
             "return {"]
    k = 0
    while os.path.exists(os.path.join(d, "shape_%d.txt" % k)):
        n, nf = map(int, open(os.path.join(d, "shape_%d.txt" % k)).read().split())
        X = np.fromfile(os.path.join(d, "features_%d.f32" % k), dtype="<f4").reshape(n, nf)
        s = np.fromfile(os.path.join(d, "scribbles_%d.u8" % k), dtype=np.uint8)
        t = np.fromfile(os.path.join(d, "truth_%d.u8" % k), dtype=np.uint8)
        m = s > 0
        vals = []
        for seed in range(1, 6):
            rf = RandomForestClassifier(n_estimators=trees, max_features="sqrt", n_jobs=2, random_state=seed)
            rf.fit(X[m], s[m])
            vals.append(mean_iou(rf.predict(X), t))
        lines.append("  [%d] = { mean_iou = %.6f, seeds = { %s } }," % (k, float(np.mean(vals)), ", ".join("%.6f" % v for v in vals)))
        print("image %d: sklearn mean IoU %.4f (seeds %s)" % (k, np.mean(vals), vals))
        k += 1
    lines.append("}")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "bench":
        bench(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]))
    elif sys.argv[1] == "dataset":
        here = os.path.dirname(os.path.abspath(__file__))
        out = sys.argv[4] if len(sys.argv) > 4 else os.path.join(here, "..", "tests", "fixtures", "segment", "sklearn_iou.lua")
        dataset(sys.argv[2], int(sys.argv[3]), out)
    else:
        sys.exit(__doc__)
