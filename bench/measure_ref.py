#!/usr/bin/python3
"""Reference numbers for tortuga's measure part (chords, components, distance transform).

  /usr/bin/python3 bench/measure_ref.py fixtures   # writes tests/fixtures/measure/*.txt once (commit them)
  /usr/bin/python3 bench/measure_ref.py bench N    # times scipy.ndimage.label and distance_transform_edt on
                                                   # the synthetic 3-phase volume of size N (prints JSON)

Peers: Debian's python3-scipy (ndimage.label, distance_transform_edt) and python3-tifffile. PoreSpy is not a
Debian package: its chord counts are copied from ../shared/reference/anchor-values.json (measured there with
PoreSpy 3.0.4: apply_chords(im == phase, spacing=2, axis, trim_edges=True), chord_length_distribution(bins=None)).
Axes: numpy axis 0 = z (TIFF page), 1 = y (row), 2 = x (column), as tortuga names them.
"""
import json
import os
import sys
import time

import numpy as np
import scipy.ndimage as ndi
import tifffile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("TG_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
ANCHORS = os.path.join(ROOT, "..", "shared", "reference", "anchor-values.json")
OUT = os.path.join(ROOT, "tests", "fixtures", "measure")

VOLUMES = {  # anchor name -> (file under shared/data, label divisor)
    "synth_3phase_100": ("synth-3phase-100/synth_3phase_100.tif", 1),
    "synth_3phase_200": ("synth-3phase-200/synth_3phase_200.tif", 1),
    "real_electrode": ("taufactor-nmc-electrode-3phase/electrode.tiff", 85),
}


def load(name):
    rel, div = VOLUMES[name]
    im = tifffile.imread(os.path.join(SHARED, rel))
    return (im // div).astype(np.uint8)


def write_chords(anchors):
    """porespy_chords.txt: one line per volume/phase/axis: name phase axis n total max counts[1..max]."""
    with open(os.path.join(OUT, "porespy_chords.txt"), "w") as f:
        f.write("# PoreSpy 3.0.4 chord counts by length (voxels), copied from shared/reference/anchor-values.json\n")
        f.write("# volume phase axis n_chords total_voxels max_length count(1) ... count(max)\n")
        for name in VOLUMES:
            for phase, axes in sorted(anchors["volumes"][name]["chords"].items()):
                for axis in ("x", "y", "z"):
                    c = axes[axis]
                    counts = c["counts_by_length"][1:]
                    assert sum(counts) == c["n_chords"]
                    f.write("%s %s %s %d %d %d %s\n" % (name, phase, axis, c["n_chords"], c["total_chord_voxels"],
                                                        c["max_length_voxels"], " ".join(map(str, counts))))


def write_components():
    """scipy_components.txt: name phase connectivity n_components largest."""
    with open(os.path.join(OUT, "scipy_components.txt"), "w") as f:
        f.write("# scipy %s ndimage.label(im == phase, generate_binary_structure(3, k)): k=1,2,3 -> 6,18,26\n" % __import__("scipy").__version__)
        f.write("# volume phase connectivity n_components largest_voxels\n")
        for name in VOLUMES:
            im = load(name)
            for phase in range(3):
                for k, conn in ((1, 6), (2, 18), (3, 26)):
                    lab, n = ndi.label(im == phase, structure=ndi.generate_binary_structure(3, k))
                    sizes = np.bincount(lab.ravel())
                    big = int(sizes[1:].max()) if n else 0
                    f.write("%s %d %d %d %d\n" % (name, phase, conn, n, big))


def write_edt(anchors):
    """scipy_edt.txt: name phase sx sy sz max mean_in_phase sum (isotropic copied from the anchors, anisotropic
    computed here with sampling=(sz, sy, sx))."""
    with open(os.path.join(OUT, "scipy_edt.txt"), "w") as f:
        f.write("# scipy ndimage.distance_transform_edt(im == phase, sampling=(sz, sy, sx)); volume faces are not boundaries\n")
        f.write("# volume phase sx sy sz max mean_in_phase sum\n")
        for name in VOLUMES:
            for phase, e in sorted(anchors["volumes"][name]["edt"].items()):
                f.write("%s %s 1 1 1 %.17g %.17g %.17g\n" % (name, phase, e["max"], e["mean_in_phase"], e["sum"]))
        im = load("synth_3phase_100")
        for phase in range(3):
            for sx, sy, sz in ((2.0, 1.0, 3.0), (0.5, 0.75, 1.25)):
                m = im == phase
                d = ndi.distance_transform_edt(m, sampling=(sz, sy, sx))
                f.write("synth_3phase_100 %d %g %g %g %.17g %.17g %.17g\n" % (phase, sx, sy, sz, d.max(), d[m].mean(), d.sum()))


def bench(n):
    """Time scipy's label and EDT on each phase of the 3-phase synthetic volume of size n (best of 3)."""
    path = os.environ.get("TG_BENCH_VOLUME")
    im = tifffile.imread(path) if path else load("synth_3phase_%d" % n)
    out = {"shape_zyx": list(im.shape), "scipy": __import__("scipy").__version__, "label_s": {}, "edt_s": {}, "n": {}}
    for phase in range(3):
        m = im == phase
        for key, fn in (("label_s", lambda: ndi.label(m)), ("edt_s", lambda: ndi.distance_transform_edt(m))):
            best = None
            for _ in range(3 if key == "label_s" else 1):
                t = time.perf_counter()
                r = fn()
                dt = time.perf_counter() - t
                best = dt if best is None else min(best, dt)
            out[key][str(phase)] = best
            if key == "label_s":
                out["n"][str(phase)] = int(r[1])
    print(json.dumps(out))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "bench":
        bench(int(sys.argv[2]) if len(sys.argv) > 2 else 200)
        return
    os.makedirs(OUT, exist_ok=True)
    with open(ANCHORS) as f:
        anchors = json.load(f)
    write_chords(anchors)
    write_components()
    write_edt(anchors)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
