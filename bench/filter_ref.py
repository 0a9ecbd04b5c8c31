#!/usr/bin/python3
"""filter_ref.py — scipy.ndimage references for tortuga's filters.

  /usr/bin/python3 bench/filter_ref.py fixtures [DIR]     write the test fixtures (default tests/fixtures/filter), once
  /usr/bin/python3 bench/filter_ref.py bench RAW N REPEAT         scipy's Gaussian (sigma 2) and median (3^3) on the
                                                                  N^3 f32 volume in RAW (called by bench/filter.lua)
  /usr/bin/python3 bench/filter_ref.py register RAW NX NY NZ [UP [REPEAT]]  skimage phase_cross_correlation on
                                                                  consecutive slices of a u8 stack, upsample_factor UP
                                                                  (default 20), best of REPEAT runs (default 1)

Fixtures: raw little-endian float32 arrays in x-fastest order (numpy shape (nz, ny, nx)), 12x10x8, plus
cases.lua, the list of cases with their parameters (sigma and order per axis x, y, z; radius), read by
tests/c/test_gaussian.c, tests/c/test_filters.c and tests/spec/filter_spec.lua.
Needs python3-numpy, python3-scipy, python3-pywt and (register) python3-skimage (Debian). Tests never run this script.
"""
import os
import sys
import time

import numpy as np
import pywt
from scipy import ndimage as ndi

NX, NY, NZ = 12, 10, 8


def write(d, name, a):
    a = np.ascontiguousarray(a, dtype="<f4")
    assert a.shape == (NZ, NY, NX)
    a.tofile(os.path.join(d, name))


def munch(ima, levels, wname, sigma, horizontal):
    """Münch et al. 2009, as in the paper's MATLAB listing, with pywt.dwt2/idwt2 ('symmetric' = MATLAB 'sym')."""
    a = ima.astype(np.float64)
    coeffs = []
    for _ in range(levels):
        a, (ch, cv, cd) = pywt.dwt2(a, wname, mode="symmetric")
        coeffs.append([ch, cv, cd])
    for c in coeffs:
        band, axis = (0, 1) if horizontal else (1, 0)
        b = c[band]
        n = b.shape[axis]
        k = np.minimum(np.arange(n), n - np.arange(n))
        damp = 1 - np.exp(-k ** 2 / (2 * sigma ** 2))
        shape = [1, 1]
        shape[axis] = n
        c[band] = np.real(np.fft.ifft(np.fft.fft(b, axis=axis) * damp.reshape(shape), axis=axis))
    for c in reversed(coeffs):
        a = a[:c[0].shape[0], :c[0].shape[1]]
        a = pywt.idwt2((a, tuple(c)), wname, mode="symmetric")
    return a[:ima.shape[0], :ima.shape[1]]


def fixtures(d):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20240605)
    random = rng.random((NZ, NY, NX), dtype=np.float64).astype(np.float32) * 100.0
    impulse = np.zeros((NZ, NY, NX), np.float32)
    impulse[3, 4, 5] = 1000.0           # x=5, y=4, z=3 (0-based)
    impulse[0, 0, 0] = 500.0            # a corner, to exercise the reflection
    write(d, "random.f32", random)
    write(d, "impulse.f32", impulse)
    inputs = {"random": random, "impulse": impulse}
    cases = []

    def gauss(name, src, sigma, order=(0, 0, 0)):
        # sigma and order given as (x, y, z); scipy wants (z, y, x)
        out = ndi.gaussian_filter(inputs[src], sigma=sigma[::-1], order=order[::-1], mode="reflect", truncate=4.0)
        write(d, name + ".f32", out)
        cases.append(("gaussian", name, src, sigma, order, 0))

    gauss("g_random_aniso", "random", (1.0, 1.5, 0.7))
    gauss("g_random_wide", "random", (2.0, 2.0, 2.5))          # radius 8 and 10: wider than the axes
    gauss("g_impulse", "impulse", (1.2, 0.8, 2.0))
    gauss("g_random_2d", "random", (1.3, 1.3, 0.0))             # per slice: no filtering along z
    gauss("g_dx", "random", (1.5, 1.5, 1.5), (1, 0, 0))
    gauss("g_dyy", "random", (1.5, 1.5, 1.5), (0, 2, 0))
    gauss("g_dz", "random", (1.5, 1.5, 1.5), (0, 0, 1))
    gauss("g_dxy", "random", (1.5, 1.5, 1.5), (1, 1, 0))
    gauss("g_impulse_dxx", "impulse", (1.0, 1.0, 1.0), (2, 0, 0))

    def median(name, src, radius, per_slice):
        size = (1 if per_slice else 2 * radius + 1, 2 * radius + 1, 2 * radius + 1)
        write(d, name + ".f32", ndi.median_filter(inputs[src], size=size, mode="reflect"))
        cases.append(("median", name, src, None, None, radius, per_slice))

    def mean(name, src, radius, per_slice):
        size = (1 if per_slice else 2 * radius + 1, 2 * radius + 1, 2 * radius + 1)
        write(d, name + ".f32", ndi.uniform_filter(inputs[src], size=size, mode="reflect"))
        cases.append(("mean", name, src, None, None, radius, per_slice))

    median("m_random_3d_r1", "random", 1, False)
    median("m_random_2d_r2", "random", 2, True)
    mean("u_random_3d_r1", "random", 1, False)
    mean("u_random_2d_r2", "random", 2, True)

    # Münch et al. 2009 with PyWavelets (symmetric mode) and numpy FFTs: an independent implementation
    ds = (rng.random((48, 64)) * 100).astype(np.float32)
    ds += (rng.random(64) * 30).astype(np.float32)[None, :]       # vertical stripes
    ds.astype("<f4").tofile(os.path.join(d, "destripe_in.f32"))
    for levels, order, sigma, horizontal in ((3, 2, 2.0, False), (2, 4, 1.0, True)):
        out = munch(ds, levels, "db%d" % order, sigma, horizontal).astype("<f4")
        name = "destripe_L%d_db%d_s%g_%s" % (levels, order, sigma, "h" if horizontal else "v")
        out.tofile(os.path.join(d, name + ".f32"))
        cases.append(("destripe", name, "destripe_in", (levels, order, sigma, horizontal)))

    with open(os.path.join(d, "cases.lua"), "w") as f:
        f.write("-- written by bench/filter_ref.py (scipy %s): raw little-endian f32, %dx%dx%d, x fastest\n"
                % (__import__("scipy").__version__, NX, NY, NZ))
        f.write("return {\n  dims = {%d, %d, %d},\n" % (NX, NY, NZ))
        for c in cases:
            if c[0] == "destripe":
                _, name, src, (lv, od, sg, hz) = c
                f.write('  {op = "destripe", name = "%s", input = "%s", dims = {64, 48, 1}, levels = %d, wavelet = %d, '
                        'sigma = %r, direction = "%s"},\n' % (name, src, lv, od, sg, "horizontal" if hz else "vertical"))
            elif c[0] == "gaussian":
                _, name, src, s, o, _ = c
                f.write('  {op = "gaussian", name = "%s", input = "%s", sigma = {%r, %r, %r}, order = {%d, %d, %d}},\n'
                        % (name, src, s[0], s[1], s[2], o[0], o[1], o[2]))
            else:
                op, name, src, _, _, r, ps = c
                f.write('  {op = "%s", name = "%s", input = "%s", radius = %d, per_slice = %s},\n'
                        % (op, name, src, r, "true" if ps else "false"))
        f.write("}\n")
    print("wrote", len(cases), "cases to", d)


def bench(path, n, repeat):
    v = np.fromfile(path, dtype="<f4").reshape(n, n, n)
    best_g = best_m = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        ndi.gaussian_filter(v, 2.0, mode="reflect", truncate=4.0)
        best_g = min(best_g, time.perf_counter() - t)
    for _ in range(max(1, repeat // 2)):
        t = time.perf_counter()
        ndi.median_filter(v, size=3, mode="reflect")
        best_m = min(best_m, time.perf_counter() - t)
    print("scipy_gaussian %.6f" % best_g)
    print("scipy_median %.6f" % best_m)


def bench_register(path, nx, ny, nz, upsample, repeat=1):
    from skimage.registration import phase_cross_correlation
    v = np.fromfile(path, dtype=np.uint8).reshape(nz, ny, nx).astype(np.float32)
    best = best_cpu = float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        acc = np.zeros(2)
        shifts = [(0.0, 0.0)]
        for z in range(1, nz):
            s, _, _ = phase_cross_correlation(v[z - 1], v[z], upsample_factor=upsample)
            acc = acc - s                    # skimage returns the shift that registers v[z] onto v[z-1]
            shifts.append((acc[1], acc[0]))
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    print("skimage_register %.6f" % best)
    print("skimage_register_cpu %.6f" % best_cpu)
    for x, y in shifts:
        print("shift %.4f %.4f" % (x, y))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "fixtures":
        fixtures(sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "filter"))
    elif len(sys.argv) >= 4 and sys.argv[1] == "bench":
        bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 3)
    elif len(sys.argv) >= 6 and sys.argv[1] == "register":
        bench_register(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
                       int(sys.argv[6]) if len(sys.argv) > 6 else 20, int(sys.argv[7]) if len(sys.argv) > 7 else 1)
    else:
        sys.exit(__doc__)
