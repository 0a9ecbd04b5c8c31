#!/usr/bin/python3
"""Peers for bench/stream_measure.lua on the in-memory tile: scikit-image's marching cubes + mesh_surface_area of the
three phases (the "open" convention: no padding, level 0.5 of the raw indicator) and scipy.ndimage.label of CAM and
ISE (6-connected, the labelling behind percolation). Debian's python3-skimage and python3-scipy; tifffile reads the
TIFF tortuga wrote. Prints one line per step: name, seconds, M voxels/s, peak RSS (VmHWM) so far.

  /usr/bin/python3 bench/stream_measure_ref.py TILE.tif
"""
import sys
import time

import numpy as np
import scipy.ndimage as ndi
import tifffile
from skimage import measure


def peak_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    im = tifffile.imread(sys.argv[1])
    n = im.size
    sp = (1e-7, 1e-7, 1e-7)

    t0 = time.perf_counter()
    areas = {}
    for ph in (0, 1, 2):
        verts, faces, _, _ = measure.marching_cubes((im == ph).astype(np.float32), 0.5, spacing=sp, method="lewiner")
        areas[ph] = measure.mesh_surface_area(verts, faces)
    t = time.perf_counter() - t0
    eq1 = (areas[1] + areas[2] - areas[0]) / 2
    print(f"  scikit-image marching cubes + area, 3 phases {t:9.2f} s {3 * n / t / 1e6:8.1f} Mvox/s (per phase-voxel)"
          f"  peak RSS {peak_mib():8.1f} MiB   interface 1-2 (Eq. 1) = {eq1:.6g} m2")

    t0 = time.perf_counter()
    counts = []
    for ph in (1, 2):
        _, k = ndi.label(im == ph)
        counts.append(k)
    t = time.perf_counter() - t0
    print(f"  scipy.ndimage.label, CAM and ISE            {t:9.2f} s {2 * n / t / 1e6:8.1f} Mvox/s (per phase-voxel)"
          f"  peak RSS {peak_mib():8.1f} MiB   components {counts[0]}, {counts[1]}")


if __name__ == "__main__":
    main()
