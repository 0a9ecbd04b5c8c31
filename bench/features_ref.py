#!/usr/bin/python3
"""features_ref.py — scipy.ndimage references for tortuga's pixel features (engine/segment/tg_features.h).

  /usr/bin/python3 bench/features_ref.py fixtures [DIR]          write the test fixtures (default tests/fixtures/features), once
  /usr/bin/python3 bench/features_ref.py bench RAW NX NY NZ NCH SET DIMS SIGMAS REPEAT
                                                                 time the same features on NCH f32 channels stored one after
                                                                 the other in RAW (called by bench/features.lua); SIGMAS is a
                                                                 comma list; prints "seconds <best> features <n>"

Definitions (ilastik's, with scipy's Gaussian derivative filters, truncate 4.0, mode reflect), per channel, for
each kind then each sigma: gaussian G_s; log = sum of second derivatives; gradmag = sqrt(sum of squared first
derivatives); dog = G_s - G_{0.66 s}; st = eigenvalues (descending) of the products of first derivatives at s
smoothed at 0.5 s; hessian = eigenvalues (descending) of the Hessian of Gaussian at s. At sigma < 0.5 only
gaussian. dims 2: derivatives along x and y of each slice (numpy sigma (0, s, s)).

Fixtures: input.f32 (20x18x14 little-endian float32, x fastest), ref.txt (dims, sigmas, the listed points,
the feature names of the 2D and 3D full sets), ref2d.f32 and ref3d.f32 (points x features, row-major, float32).
Read by tests/c/test_features.c and tests/spec/features_spec.lua. Needs python3-numpy and python3-scipy.
Tests never run this script.
"""
import os
import sys
import time

import numpy as np
from scipy import ndimage as ndi

NX, NY, NZ = 20, 18, 14
ILASTIK = [0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0]
KINDS_DEFAULT = ["gaussian", "log", "gradmag", "dog"]
KINDS_FULL = KINDS_DEFAULT + ["st", "hessian"]


def axes_of(dims):
    # numpy axes (z, y, x) -> the derivative axes, listed in tortuga's order x, y, z
    return [2, 1] if dims == 2 else [2, 1, 0]


def gfilter(a, s, dims, order=(0, 0, 0), out=np.float64):
    sig = (0.0, s, s) if dims == 2 else (s, s, s)
    return ndi.gaussian_filter(a, sig, order=order, mode="reflect", truncate=4.0, output=out)


def deriv_order(counts):
    o = [0, 0, 0]
    for ax in counts:
        o[ax] += 1
    return tuple(o)


def eig_desc(t, dims):
    """t: dict (i, j) -> array for i <= j over derivative axes 0..dims-1; returns list of eigenvalue arrays."""
    shape = t[(0, 0)].shape
    m = np.empty(shape + (dims, dims), dtype=np.float64)
    for i in range(dims):
        for j in range(i, dims):
            m[..., i, j] = t[(i, j)]
            m[..., j, i] = t[(i, j)]
    ev = np.linalg.eigvalsh(m)[..., ::-1]
    return [ev[..., k] for k in range(dims)]


def channel_features(a, sigmas, kinds, dims, out=np.float64):
    """Features of one channel in tortuga's column order; returns (names, arrays)."""
    ax = axes_of(dims)
    cols = {k: [] for k in KINDS_FULL}
    for s in sigmas:
        deriv = s >= 0.5
        g = gfilter(a, s, dims, out=out) if ("gaussian" in kinds or ("dog" in kinds and deriv)) else None
        d1 = d2 = None
        if deriv and ("gradmag" in kinds or "st" in kinds):
            d1 = [gfilter(a, s, dims, deriv_order([ax[i]]), out) for i in range(dims)]
        if deriv and ("log" in kinds or "hessian" in kinds):
            d2 = {}
            for i in range(dims):
                for j in range(i, dims):
                    if i == j or "hessian" in kinds:
                        d2[(i, j)] = gfilter(a, s, dims, deriv_order([ax[i], ax[j]]), out)
        if "gaussian" in kinds:
            cols["gaussian"].append([("gaussian(%g)" % s, g)])
        if not deriv:
            continue
        if "log" in kinds:
            cols["log"].append([("log(%g)" % s, sum(d2[(i, i)] for i in range(dims)))])
        if "gradmag" in kinds:
            cols["gradmag"].append([("gradmag(%g)" % s, np.sqrt(sum(d.astype(np.float64) ** 2 for d in d1)))])
        if "dog" in kinds:
            cols["dog"].append([("dog(%g)" % s, g - gfilter(a, 0.66 * s, dims, out=out))])
        if "st" in kinds:
            t = {(i, j): gfilter(d1[i] * d1[j], 0.5 * s, dims, out=out) for i in range(dims) for j in range(i, dims)}
            cols["st"].append([("st_ev%d(%g)" % (k + 1, s), e) for k, e in enumerate(eig_desc(t, dims))])
        if "hessian" in kinds:
            cols["hessian"].append([("hessian_ev%d(%g)" % (k + 1, s), e) for k, e in enumerate(eig_desc(d2, dims))])
    names, arrays = [], []
    for k in KINDS_FULL:
        if k in kinds:
            for group in cols[k]:
                for n, v in group:
                    names.append(n)
                    arrays.append(v)
    return names, arrays


def fixtures(d):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(4)
    raw = rng.random((NZ, NY, NX))
    img = ndi.gaussian_filter(raw, 1.2) * 4.0 + 0.15 * raw  # structure at several scales, values ~ [0, 2.5]
    z, y, x = np.mgrid[0:NZ, 0:NY, 0:NX]
    img += 0.5 * ((x - 9.5) ** 2 + (y - 8) ** 2 + (z - 6) ** 2 < 25)  # a ball: edges and blobs
    img = img.astype("<f4")
    img.tofile(os.path.join(d, "input.f32"))
    a = img.astype(np.float64)
    # points: the 8 corners, some face voxels, the rest random
    pts = [(x_, y_, z_) for x_ in (0, NX - 1) for y_ in (0, NY - 1) for z_ in (0, NZ - 1)]
    pts += [(0, 5, 7), (NX - 1, 9, 3), (4, 0, 10), (11, NY - 1, 2), (7, 8, 0), (13, 4, NZ - 1)]
    while len(pts) < 120:
        pts.append((int(rng.integers(NX)), int(rng.integers(NY)), int(rng.integers(NZ))))
    lines = ["dims %d %d %d" % (NX, NY, NZ), "sigmas " + " ".join("%g" % s for s in ILASTIK), "points %d" % len(pts)]
    lines += ["%d %d %d" % p for p in pts]
    for dims in (2, 3):
        names, arrays = channel_features(a, ILASTIK, KINDS_FULL, dims)
        m = np.stack([v[[p[2] for p in pts], [p[1] for p in pts], [p[0] for p in pts]] for v in arrays], axis=1)
        m.astype("<f4").tofile(os.path.join(d, "ref%dd.f32" % dims))
        lines.append("names%dd %d" % (dims, len(names)))
        lines += ["ch1:" + n for n in names]
    with open(os.path.join(d, "ref.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))
    print("wrote %s (%d bytes)" % (d, total))


def bench(raw, nx, ny, nz, nch, kset, dims, sigmas, repeat):
    data = np.fromfile(raw, dtype="<f4").reshape(nch, nz, ny, nx)
    kinds = KINDS_FULL if kset == "full" else KINDS_DEFAULT
    best, nfeat = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        nfeat = 0
        for c in range(nch):
            # float32 outputs, as a user keeping memory in check would write (scipy still filters in double)
            names, arrays = channel_features(data[c], sigmas, kinds, dims, out=np.float32)
            nfeat += len(arrays)
            del arrays
        best = min(best, time.perf_counter() - t0)
    print("seconds %.4f features %d" % (best, nfeat))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "fixtures":
        here = os.path.dirname(os.path.abspath(__file__))
        fixtures(sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "tests", "fixtures", "features"))
    elif len(sys.argv) == 11 and sys.argv[1] == "bench":
        a = sys.argv
        bench(a[2], int(a[3]), int(a[4]), int(a[5]), int(a[6]), a[7], int(a[8]),
              [float(s) for s in a[9].split(",")], int(a[10]))
    else:
        sys.exit(__doc__)
