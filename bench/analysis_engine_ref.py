#!/usr/bin/env python3
"""Reference numbers for tests/c/test_analysis.c (engine/analysis/), computed once with scipy.special,
scipy.stats and numpy.linalg; the test stores them, so it needs no Python.

    /usr/bin/python3 bench/analysis_engine_ref.py      (Debian: python3-scipy python3-numpy)

Versions used for the stored numbers: scipy 1.10.1, numpy 1.24.2 (Debian 12).
"""
import numpy as np, scipy
from scipy import special, stats
print("scipy", scipy.__version__, "numpy", np.__version__)
for a,b,x in [(2,3,0.4),(0.5,7.5,0.05),(30,40,0.45),(1e4,2e4,0.34),(0.1,0.2,0.999),(5,1,0.5),(100,0.5,0.99)]:
    print("betainc", a,b,x, repr(float(special.betainc(a,b,x))))
for t,df in [(2.0,5),(-1.3,3),(0.7,40),(12.0,1),(0.0,7),(-4.5,2.5),(3.0,1e5)]:
    print("t_sf", t,df, repr(float(stats.t.sf(t,df))))
# least squares: multiple regression from bench/analysis_ref.py and one without intercept
M_x1 = [0.5, 1.0, 1.7, 2.2, 3.1, 3.3, 4.0, 4.8, 5.5, 6.1, 6.9, 7.4]
M_x2 = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.6, 5.3, 5.8, 9.7, 9.3, 2.3]
M_e = [0.11, -0.23, 0.05, 0.31, -0.12, 0.02, -0.27, 0.19, -0.04, 0.08, -0.15, 0.21]
M_y = [1.5 + 2 * a - 0.5 * b + e for a, b, e in zip(M_x1, M_x2, M_e)]
for intercept in (True, False):
    cols = ([np.ones(len(M_x1))] if intercept else []) + [M_x1, M_x2]
    X = np.column_stack(cols); y = np.array(M_y)
    coef, rss, rank, sv = np.linalg.lstsq(X, y, rcond=None)
    n, p = X.shape
    sigma2 = float(rss[0]) / (n - p)
    cov = sigma2 * np.linalg.inv(X.T @ X)
    tss = float(((y - y.mean()) ** 2).sum()) if intercept else float((y ** 2).sum())
    print("lstsq intercept", intercept)
    print(" coef", [repr(float(c)) for c in coef])
    print(" se", [repr(float(c)) for c in np.sqrt(np.diag(cov))])
    print(" rss", repr(float(rss[0])), "r2", repr(1 - float(rss[0]) / tss), "sigma2", repr(sigma2))
    print(" cov01", repr(float(cov[0,1])), "cov12", repr(float(cov[1,2])) if p>2 else "")
