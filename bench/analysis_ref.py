#!/usr/bin/env python3
"""Reference numbers for tests/spec/analysis_spec.lua, computed once with scipy.stats and numpy.

    python3 bench/analysis_ref.py      (Debian: python3-scipy python3-numpy)

Prints a Lua table; the spec stores these numbers (copied by hand), so the tests need no Python.
Versions used for the stored numbers: scipy 1.10.1, numpy 1.24.2 (Debian 12).
"""
import math
import numpy as np
import scipy
from scipy import stats, special

# fixed tables (typed in, no randomness)
A_x = [1.2, 2.3, 2.9, 4.1, 5.0, 6.2, 6.8, 8.1, 9.0, 10.4]
A_y = [2.0, 2.9, 3.1, 5.2, 4.8, 7.1, 6.4, 8.9, 9.6, 10.1]
B_x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0]          # ties, N = 6 (exact permutation test)
B_y = [2.7, 1.8, 2.8, 1.8, 2.8, 4.5]
P_x = [7.41, 4.93, 5.93]                       # paper: ISE d50 (um) of BM10, BM03, BM01
P_y = [92.0, 156.0, 152.0]                     # discharge capacity at 0.1 C (mAh/g)
# multiple regression: y = 1.5 + 2 x1 - 0.5 x2 + fixed "noise"
M_x1 = [0.5, 1.0, 1.7, 2.2, 3.1, 3.3, 4.0, 4.8, 5.5, 6.1, 6.9, 7.4]
M_x2 = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.6, 5.3, 5.8, 9.7, 9.3, 2.3]
M_e = [0.11, -0.23, 0.05, 0.31, -0.12, 0.02, -0.27, 0.19, -0.04, 0.08, -0.15, 0.21]
M_y = [1.5 + 2 * a - 0.5 * b + e for a, b, e in zip(M_x1, M_x2, M_e)]


def perm_p(x, y, stat):
    res = stats.permutation_test((np.array(x), np.array(y)), stat, permutation_type="pairings",
                                 n_resamples=np.inf, alternative="two-sided")
    return float(res.pvalue)


def pearson_stat(x, y):
    return stats.pearsonr(x, y)[0]


def spearman_stat(x, y):
    return stats.spearmanr(x, y)[0]


def corr(name, x, y, exact):
    r, p = stats.pearsonr(x, y)
    rho, ps = stats.spearmanr(x, y)
    out = {"r": r, "p_t": p, "rho": rho, "ps_t": ps}
    if exact:
        out["p_exact"] = perm_p(x, y, pearson_stat)
        out["ps_exact"] = perm_p(x, y, spearman_stat)
    coef, cov = np.polyfit(x, y, 1, cov=True)  # cov scaled by rss/(n - 2) when n > 3... see below
    # numpy.polyfit(cov=True) scales by rss / (n - deg - 1) (numpy >= 1.23: the textbook factor)
    out["slope"], out["intercept"] = coef[0], coef[1]
    out["se"], out["se_intercept"] = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
    res = np.array(y) - np.polyval(coef, x)
    out["rss"] = float(res @ res)
    return out


def lstsq_multi():
    X = np.column_stack([np.ones(len(M_x1)), M_x1, M_x2])
    y = np.array(M_y)
    coef, rss, rank, sv = np.linalg.lstsq(X, y, rcond=None)
    n, p = X.shape
    sigma2 = float(rss[0]) / (n - p)
    cov = sigma2 * np.linalg.inv(X.T @ X)
    tss = float(((y - y.mean()) ** 2).sum())
    return {"coef": list(coef), "se": list(np.sqrt(np.diag(cov))), "rss": float(rss[0]), "r2": 1 - float(rss[0]) / tss,
            "cov12": cov[1, 2]}


def lua(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {lua(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "{ " + ", ".join(lua(x) for x in v) + " }"
    return repr(float(v))


print(f"-- scipy {scipy.__version__}, numpy {np.__version__}")
print("local REF = {")
print("  A = " + lua(corr("A", A_x, A_y, False)) + ",")
print("  B = " + lua(corr("B", B_x, B_y, True)) + ",")
print("  P = " + lua(corr("P", P_x, P_y, True)) + ",")
print("  M = " + lua(lstsq_multi()) + ",")
print("  t_sf = " + lua([stats.t.sf(2.0, 5), stats.t.sf(-1.3, 3), stats.t.sf(0.7, 40), stats.t.sf(12.0, 1)]) + ",")
print("  betainc = " + lua([special.betainc(2, 3, 0.4), special.betainc(0.5, 7.5, 0.05), special.betainc(30, 40, 0.45)]) + ",")
print("}")
