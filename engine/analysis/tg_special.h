/* tg_special.h — the special functions behind the p-values of tg.analysis: the regularised incomplete beta
 * function and the survival function of Student's t distribution.
 *
 * tg_betainc(a, b, x) = I_x(a, b) = B(x; a, b) / B(a, b) for a, b > 0 and 0 <= x <= 1 (scipy.special.betainc).
 *   Algorithm: the continued fraction of I_x(a, b) evaluated by the modified Lentz method (W. H. Press et al.,
 *   Numerical Recipes, 3rd ed., Cambridge University Press 2007, section 6.4), used directly where it converges
 *   fast, x < (a + 1) / (a + b + 2), and through the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) elsewhere. The
 *   prefactor x^a (1-x)^b / (a B(a, b)) is computed from lgamma, log and log1p.
 *   Accuracy, relative to scipy (tests/c/test_analysis.c): ~1e-14 for a, b up to ~100, ~1e-12 up to 1e4; the
 *   lgamma differences of the prefactor lose about eps x lgamma(a + b), so 1e-10 near a + b = 1e5 (t_sf at
 *   df = 1e5: 8e-11).
 * tg_t_sf(t, df) = P(T > t) for Student's t with df > 0 degrees of freedom (scipy.stats.t.sf):
 *   I_{df/(df+t^2)}(df/2, 1/2) / 2 for t >= 0, and 1 minus that for t < 0; t = +inf gives 0, -inf gives 1.
 * Arguments outside these domains (a or b <= 0 or not finite, x outside [0, 1] or NaN, t NaN, df <= 0 or not
 * finite) give NaN: check them first (the binding raises).
 * Cost: at most a few hundred iterations of the fraction (10000 at most), no allocation. Not for use inside
 * parallel regions (glibc's lgamma sets the global signgam).
 */
#ifndef TG_SPECIAL_H
#define TG_SPECIAL_H

double tg_betainc(double a, double b, double x);
double tg_t_sf(double t, double df);

#endif
