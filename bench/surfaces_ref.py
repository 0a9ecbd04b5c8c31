#!/usr/bin/python3
"""surfaces_ref.py - scikit-image / PoreSpy-convention reference numbers for tortuga's surfaces.

  /usr/bin/python3 bench/surfaces_ref.py --fixtures     writes tests/fixtures/surfaces/ (run once; committed)
  /usr/bin/python3 bench/surfaces_ref.py VOLUME.tif P1 P2 ...
        times skimage.measure.marching_cubes(mask, 0.5) + mesh_surface_area for every phase and every pair
        union on the label stack, prints one JSON object {areas: {...}, seconds: ...} on stdout.

  /usr/bin/python3 bench/surfaces_ref.py --fields SIGMA F1.tif F2.tif ...
        the sub-voxel reference: each f32 field smoothed by scipy.ndimage.gaussian_filter(sigma, reflect, truncate 4)
        (SIGMA 0: none), then marching_cubes(f, 0.5) + mesh_surface_area for every field and every pair sum;
        one JSON object {areas: {"1": .., "1+2": ..}, seconds: ...} (fields numbered from 1, in argument order).

Needs python3-skimage (Debian) and python3-tifffile. The "closed" convention is PoreSpy's region_surface_areas
(mesh_region: zero padding of 3, mean over the 7-voxel cross, marching_cubes with its default level, i.e.
half the smoothed maximum); PoreSpy itself is not needed, the same three steps are written out here.
"""
import json
import os
import sys
import time

import numpy as np
from scipy import ndimage
from skimage.measure import marching_cubes, mesh_surface_area

CROSS = ndimage.generate_binary_structure(3, 1).astype(float)


def open_area(mask):
    v, f, _, _ = marching_cubes(mask.astype(np.float32), 0.5)
    return float(mesh_surface_area(v, f))


def closed_porespy(mask):
    p = np.pad(mask.astype(float), 3, mode='constant')
    s = ndimage.convolve(p, CROSS) / CROSS.sum()
    v, f, _, _ = marching_cubes(s)  # level None: 0.5 * (min + max), as PoreSpy calls it
    return float(mesh_surface_area(v, f))


def smoothed_open(mask):
    s = ndimage.convolve(mask.astype(float), CROSS, mode='nearest') / CROSS.sum()
    v, f, _, _ = marching_cubes(s.astype(np.float32), 0.5)
    return float(mesh_surface_area(v, f))


def fixtures(outdir):
    os.makedirs(outdir, exist_ok=True)
    ref = {}
    n, r = 49, 20.0
    z, y, x = np.mgrid[:n, :n, :n]
    c = (n - 1) / 2
    sph = (x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2 <= r * r
    ref['sphere49_r20_open'] = open_area(sph)
    ref['sphere49_r20_smooth_closed'] = closed_porespy(sph)
    ref['sphere49_r20_voxels'] = int(sph.sum())
    # a small random three-phase volume: blurred noise split at two levels (blobs, many ambiguous cubes)
    rng = np.random.default_rng(5)
    g = ndimage.gaussian_filter(rng.standard_normal((20, 22, 24)), 1.2)  # z, y, x
    lab = np.digitize(g, np.quantile(g, [0.2, 0.6])).astype(np.uint8)
    lab.tofile(os.path.join(outdir, 'blobs_24x22x20.u8'))  # x fastest, then y, then z
    for p in range(3):
        m = lab == p
        ref['blobs_open_%d' % p] = open_area(m)
        ref['blobs_closed_%d' % p] = closed_porespy(m)
        ref['blobs_smooth_open_%d' % p] = smoothed_open(m)
        ref['blobs_lorensen_%d' % p] = float(mesh_surface_area(*marching_cubes(m.astype(np.float32), 0.5, method='lorensen')[:2]))
        ref['blobs_voxels_%d' % p] = int(m.sum())
    for a in range(3):
        for b in range(a + 1, 3):
            ref['blobs_open_%d%d' % (a, b)] = open_area((lab == a) | (lab == b))
    with open(os.path.join(outdir, 'ref.txt'), 'w') as f:
        f.write('# written by bench/surfaces_ref.py --fixtures (scikit-image %s)\n' % __import__('skimage').__version__)
        for k, v in ref.items():
            f.write('%s %.17g\n' % (k, v))
    with open(os.path.join(outdir, 'ref.json'), 'w') as f:
        json.dump(ref, f, indent=1)


def bench(path, phases):
    import tifffile
    lab = tifffile.imread(path)
    out, t0 = {}, time.perf_counter()
    for p in phases:
        out[str(p)] = open_area(lab == p)
    for i, a in enumerate(phases):
        for b in phases[i + 1:]:
            out['%d+%d' % (a, b)] = open_area((lab == a) | (lab == b))
    dt = time.perf_counter() - t0
    print(json.dumps({'areas': out, 'seconds': dt, 'shape_zyx': list(lab.shape)}))


def bench_fields(sigma, paths):
    import tifffile
    fields = [tifffile.imread(p).astype(np.float32) for p in paths]
    out, t0 = {}, time.perf_counter()
    if sigma > 0:
        fields = [ndimage.gaussian_filter(f, sigma, mode='reflect', truncate=4.0) for f in fields]

    def area(f):
        v, fc, _, _ = marching_cubes(f, 0.5)
        return float(mesh_surface_area(v, fc))
    for i, f in enumerate(fields):
        out[str(i + 1)] = area(f)
    for i in range(len(fields)):
        for j in range(i + 1, len(fields)):
            out['%d+%d' % (i + 1, j + 1)] = area(fields[i] + fields[j])
    dt = time.perf_counter() - t0
    print(json.dumps({'areas': out, 'seconds': dt}))


if __name__ == '__main__':
    if sys.argv[1:2] == ['--fields']:
        bench_fields(float(sys.argv[2]), sys.argv[3:])
    elif sys.argv[1:2] == ['--fixtures']:
        fixtures(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'surfaces'))
    else:
        bench(sys.argv[1], [int(p) for p in sys.argv[2:]] or [0, 1, 2])
