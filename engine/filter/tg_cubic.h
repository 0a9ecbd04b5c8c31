/* tg_cubic.h — Keys' cubic convolution kernel: the four weights that interpolate a sample between grid points,
 * shared by the filters that resample (flatten's coarse background, register's sub-pixel shifts).
 *
 * What: for a sample at integer i0 + fraction t (0 <= t < 1), the value is w[0] f(i0-1) + w[1] f(i0) +
 * w[2] f(i0+1) + w[3] f(i0+2) with the piecewise cubic kernel of R. G. Keys, "Cubic convolution interpolation
 * for digital image processing", IEEE Trans. Acoustics, Speech, and Signal Processing 29(6) (1981) 1153-1160,
 * DOI 10.1109/TASSP.1981.1163711, with a = -0.5 (the value that makes it third-order accurate: exact for
 * quadratics). The weights sum to 1.
 * Cost: a dozen multiply-adds; no state, safe in parallel regions. Engine-internal (double underscore).
 */
#ifndef TG_CUBIC_H
#define TG_CUBIC_H

static inline void tg_filter__keys(double t, double w[4])
{
    const double a = -0.5;
    double s1 = 1 + t, s2 = 1 - t, s3 = 2 - t;
    w[0] = a * s1 * s1 * s1 - 5 * a * s1 * s1 + 8 * a * s1 - 4 * a;
    w[1] = (a + 2) * t * t * t - (a + 3) * t * t + 1;
    w[2] = (a + 2) * s2 * s2 * s2 - (a + 3) * s2 * s2 + 1;
    w[3] = a * s3 * s3 * s3 - 5 * a * s3 * s3 + 8 * a * s3 - 4 * a;
}

#endif
