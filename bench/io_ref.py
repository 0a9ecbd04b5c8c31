#!/usr/bin/python3
"""bench/io_ref.py — the tifffile side of bench/io.lua.
usage: io_ref.py TORTUGA_FILE OUT_DIR COMPRESS(none|deflate|lzw|packbits)
Loads the stack tortuga wrote (checking tifffile reads it), then times tifffile.imwrite of the same array as an
ImageJ stack with the same calibration, and tifffile.imread of that file; median of 3 each. Prints key=value."""
import os
import statistics
import sys
import time

import numpy as np
import tifffile

src, out_dir, compress = sys.argv[1], sys.argv[2], sys.argv[3]
data = tifffile.imread(src)
with tifffile.TiffFile(src) as t:
    ij = t.imagej_metadata or {}
    same = int(t.is_imagej and abs(float(ij.get("spacing", 0)) - 0.1) < 1e-9)
dst = os.path.join(out_dir, os.path.basename(src).replace("_tortuga", "_tifffile"))
kw = {}
if compress == "deflate":
    kw["compression"] = "zlib"
elif compress != "none":
    kw["compression"] = compress


def write():
    tifffile.imwrite(dst, data, imagej=True, resolution=(10.0, 10.0),
                     metadata={"spacing": 0.1, "unit": "um", "axes": "ZYX"}, **kw)


def read():
    return tifffile.imread(dst)


def median3(f):
    ts = []
    for _ in range(3):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


tw = median3(write)
tr = median3(read)
same = int(same and np.array_equal(read(), data))
print(f"write={tw:.6f} read={tr:.6f} same={same} tifffile={tifffile.__version__}")
