#!/usr/bin/python3
"""Peer side of bench/walk.lua: pytrax's RandomWalk on the same phase, timed in the same run.

pytrax is not a Debian package: point PYTRAX_PATH at a checkout of github.com/PMEAL/pytrax (outside this
repository). Usage: walk_ref.py LABELS.tif PHASE WALKERS STEPS  -> prints JSON {seconds, tau: {x,y,z}}.
"""
import json
import os
import sys
import time
import types

import numpy as np
import tifffile

sys.path.insert(0, os.environ.get("PYTRAX_PATH", "/work/peers/pytrax"))
# pytrax imports pyevtk for its VTK export only; it is not used here
sys.modules.setdefault("pyevtk", types.ModuleType("pyevtk"))
hl = types.ModuleType("pyevtk.hl")
hl.imageToVTK = hl.pointsToVTK = None
sys.modules.setdefault("pyevtk.hl", hl)
import matplotlib
matplotlib.use("Agg")
import pytrax as pt  # noqa: E402

path, phase, nw, nt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
im = tifffile.imread(path) == phase  # numpy axes (z, y, x)
t0 = time.perf_counter()
rw = pt.RandomWalk(im, seed=False)
rw.run(nt=nt, nw=nw, same_start=False, stride=1, num_proc=1)
rw.calc_msd()
seconds = time.perf_counter() - t0
x = np.arange(0, nt, 1)[:, np.newaxis]
tau = {}
for ax, name in zip(range(3), ("z", "y", "x")):
    a, _, _, _ = np.linalg.lstsq(x, rw.axial_msd[:, ax] * 3, rcond=-1)
    tau[name] = 1.0 / a[0]
print(json.dumps({"seconds": seconds, "tau": tau}))
