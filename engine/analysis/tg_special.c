/* tg_special.c — the incomplete beta function and Student's t tail: see tg_special.h for the manual. */
#include "analysis/tg_special.h"

#include <math.h>

/* The continued fraction of I_x(a, b) (Numerical Recipes 3rd ed. betacf), modified Lentz; converges fast for
 * x < (a + 1) / (a + b + 2). Each pass of the loop is one even and one odd step of the fraction. */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-16) break;
    }
    return h;
}

double tg_betainc(double a, double b, double x)
{
    if (!(a > 0) || !(b > 0) || !isfinite(a) || !isfinite(b) || !(x >= 0 && x <= 1)) return NAN;
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0)) return exp(lbt) * betacf(a, b, x) / a;
    return 1.0 - exp(lbt) * betacf(b, a, 1.0 - x) / b;
}

double tg_t_sf(double t, double df)
{
    if (isnan(t) || !(df > 0) || !isfinite(df)) return NAN;
    if (isinf(t)) return t > 0 ? 0.0 : 1.0;
    double tail = 0.5 * tg_betainc(0.5 * df, 0.5, df / (df + t * t));
    return t >= 0 ? tail : 1.0 - tail;
}
