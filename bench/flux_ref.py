#!/usr/bin/python3
"""Reference flux solve for bench/flux.lua: scipy.sparse.linalg.cg with a Jacobi preconditioner on exactly the
problem tortuga solves (TauFactor's convention: harmonic-mean face conductances, potentials fixed half a voxel
beyond the first and last layers, insulated sides, non-percolating voxels removed with 6-connectivity).

  /usr/bin/python3 bench/flux_ref.py VOLUME.tif LABEL AXIS [TOL]     # prints one JSON line

AXIS is x, y or z (tortuga's names: z = TIFF page = numpy axis 0, y = row, x = column). The conducting phase is
the voxels equal to LABEL (sigma = 1). TOL is the relative residual (default 1e-6; scipy's CG stops on
||r|| <= tol ||b||). The time covers assembly + solve; assembly is reported separately.
Peers: Debian's python3-scipy, python3-numpy, python3-tifffile. TauFactor, PoreSpy and pytrax are not installable
here (no PyPI), so this Jacobi-preconditioned CG is the reference solver of the same run.
"""
import json
import sys
import time

import numpy as np
import scipy.ndimage as ndi
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import tifffile


def solve(im, label, axis, tol):
    ax = {"z": 0, "y": 1, "x": 2}[axis]
    m = np.moveaxis(im == label, ax, 0)  # transport along numpy axis 0
    t0 = time.perf_counter()
    lab, n = ndi.label(m)
    touch = np.intersect1d(np.unique(lab[0]), np.unique(lab[-1]))
    touch = touch[touch > 0]
    perc = np.isin(lab, touch)
    eps_total, eps_perc = m.mean(), perc.mean()
    if not perc.any():
        return {"tau": float("inf"), "seconds": 0.0, "iterations": 0}
    idx = -np.ones(m.shape, dtype=np.int64)
    nun = int(perc.sum())
    idx[perc] = np.arange(nun)
    rows, cols = [], []
    for a in range(3):
        sl0 = [slice(None)] * 3
        sl1 = [slice(None)] * 3
        sl0[a] = slice(0, -1)
        sl1[a] = slice(1, None)
        both = perc[tuple(sl0)] & perc[tuple(sl1)]
        rows.append(idx[tuple(sl0)][both])
        cols.append(idx[tuple(sl1)][both])
    i = np.concatenate(rows)
    j = np.concatenate(cols)
    g = np.ones(len(i))
    diag = np.zeros(nun)
    np.add.at(diag, i, g)
    np.add.at(diag, j, g)
    b = np.zeros(nun)
    inl = idx[0][perc[0]]
    outl = idx[-1][perc[-1]]
    diag[inl] += 2.0  # half-voxel Dirichlet faces: conductance 2 sigma
    diag[outl] += 2.0
    b[inl] = 2.0
    A = sp.coo_matrix((np.concatenate([-g, -g, diag]),
                       (np.concatenate([i, j, np.arange(nun)]), np.concatenate([j, i, np.arange(nun)]))),
                      shape=(nun, nun)).tocsr()
    M = sp.diags(1.0 / diag)
    t1 = time.perf_counter()
    its = [0]

    def count(_):
        its[0] += 1

    try:
        x, info = spla.cg(A, b, rtol=tol, M=M, maxiter=100000, callback=count)
    except TypeError:  # scipy < 1.12 names it tol
        x, info = spla.cg(A, b, tol=tol, M=M, maxiter=100000, callback=count)
    t2 = time.perf_counter()
    iin = float(np.sum(2.0 * (1.0 - x[inl])))
    iout = float(np.sum(2.0 * x[outl]))
    area = m.shape[1] * m.shape[2]
    sig = 0.5 * (iin + iout) * m.shape[0] / area
    res = float(np.linalg.norm(b - A @ x) / np.linalg.norm(b))
    return {"tau": float(eps_total / sig), "tau_percolating": float(eps_perc / sig), "seconds": t2 - t0,
            "assembly_seconds": t1 - t0, "iterations": its[0], "residual": res,
            "mismatch": abs(iin - iout) / max(abs(iin), abs(iout)), "unknowns": nun, "converged": info == 0}


def main():
    path, label, axis = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    tol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-6
    im = tifffile.imread(path)
    print(json.dumps(solve(im, label, axis, tol)))


if __name__ == "__main__":
    main()
