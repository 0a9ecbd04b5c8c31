/* test_analysis.c — engine/analysis: the incomplete beta function and Student's t tail against scipy and closed
 * forms, least squares against numpy and exact fits, and its errors.
 * Reference numbers: bench/analysis_engine_ref.py (scipy 1.10.1, numpy 1.24.2, Debian 12), typed in below.
 */
#include "tg_test.h"

#include "analysis/tg_lstsq.h"
#include "analysis/tg_special.h"

#include <string.h>

#define RELNEAR(a, b, rel) NEAR((a) / (b), 1.0, rel)

static void test_betainc_scipy(void)
{
    /* scipy.special.betainc(a, b, x) */
    static const double ref[][4] = {
        {2, 3, 0.4, 0.5247999999999999},        {0.5, 7.5, 0.05, 0.6117140988441079},
        {30, 40, 0.45, 0.6447480085585666},     {1e4, 2e4, 0.34, 0.9927137480096331},
        {0.1, 0.2, 0.999, 0.9139598779614838},  {100, 0.5, 0.99, 0.15677586542443941},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) RELNEAR(tg_betainc(ref[i][0], ref[i][1], ref[i][2]), ref[i][3], 1e-12);
}

static void test_betainc_closed_forms(void)
{
    /* I_x(a, 1) = x^a, I_x(1, b) = 1 - (1 - x)^b, I_x(a, b) = 1 - I_{1-x}(b, a), and the ends */
    for (double x = 0.05; x < 1; x += 0.1) {
        RELNEAR(tg_betainc(5, 1, x), pow(x, 5), 1e-13);
        RELNEAR(tg_betainc(1, 3.5, x), 1 - pow(1 - x, 3.5), 1e-13);
        NEAR(tg_betainc(2.5, 7, x), 1 - tg_betainc(7, 2.5, 1 - x), 1e-14);
    }
    CHECK(tg_betainc(2, 3, 0) == 0);
    CHECK(tg_betainc(2, 3, 1) == 1);
    CHECK(isnan(tg_betainc(0, 3, 0.5)) && isnan(tg_betainc(2, -1, 0.5)) && isnan(tg_betainc(2, 3, 1.5)));
    CHECK(isnan(tg_betainc(INFINITY, 3, 0.5)) && isnan(tg_betainc(2, 3, NAN)));
}

static void test_t_sf(void)
{
    /* scipy.stats.t.sf(t, df), and the relative tolerance: at df = 1e5 the lgamma differences of the prefactor
     * lose about eps x lgamma(df / 2) (measured 8e-11) */
    static const double ref[][4] = {
        {2.0, 5, 0.05096973941492914, 1e-13},  {-1.3, 3, 0.8577662456360515, 1e-13}, {0.7, 40, 0.2439893893803008, 1e-13},
        {12.0, 1, 0.02646467605958987, 1e-13}, {-4.5, 2.5, 0.985052970495633, 1e-13}, {3.0, 1e5, 0.0013502304420323597, 2e-10},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) RELNEAR(tg_t_sf(ref[i][0], ref[i][1]), ref[i][2], ref[i][3]);
    /* df = 1 is the Cauchy distribution: P(T > t) = 1/2 - atan(t) / pi */
    for (double t = -5; t <= 5; t += 0.75) RELNEAR(tg_t_sf(t, 1), 0.5 - atan(t) / M_PI, 1e-13);
    CHECK(tg_t_sf(0, 7) == 0.5);
    CHECK(tg_t_sf(INFINITY, 3) == 0 && tg_t_sf(-INFINITY, 3) == 1);
    CHECK(isnan(tg_t_sf(NAN, 3)) && isnan(tg_t_sf(1, 0)) && isnan(tg_t_sf(1, INFINITY)));
}

/* y = 1.5 + 2 x1 - 0.5 x2 + fixed noise (bench/analysis_ref.py's multiple regression) */
static const double M_x1[12] = {0.5, 1.0, 1.7, 2.2, 3.1, 3.3, 4.0, 4.8, 5.5, 6.1, 6.9, 7.4};
static const double M_x2[12] = {3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.6, 5.3, 5.8, 9.7, 9.3, 2.3};
static const double M_e[12] = {0.11, -0.23, 0.05, 0.31, -0.12, 0.02, -0.27, 0.19, -0.04, 0.08, -0.15, 0.21};

static void m_data(double X[24], double y[12])
{
    for (int i = 0; i < 12; i++) {
        X[2 * i] = M_x1[i];
        X[2 * i + 1] = M_x2[i];
        y[i] = 1.5 + 2 * M_x1[i] - 0.5 * M_x2[i] + M_e[i];
    }
}

static void test_lstsq_numpy(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    double X[24], y[12], coef[3], se[3], cov[9];
    m_data(X, y);
    tg_lstsq_opts o = TG_LSTSQ_OPTS_INIT;
    tg_lstsq_result r;
    CHECK_OK(&ctx, tg_lstsq(&ctx, X, 12, 2, y, &o, coef, se, cov, &r));
    /* numpy.linalg.lstsq on [1 x1 x2]; se and cov: sigma2 (X'X)^-1 */
    static const double c_ref[3] = {1.514628047785492, 2.0109438631428573, -0.5089645505909186};
    static const double se_ref[3] = {0.1263720374642597, 0.030068048423592782, 0.022548583147848515};
    for (int j = 0; j < 3; j++) {
        RELNEAR(coef[j], c_ref[j], 1e-12);
        RELNEAR(se[j], se_ref[j], 1e-10);
    }
    RELNEAR(r.rss, 0.3522833194766733, 1e-10);
    RELNEAR(r.r2, 0.9980652117872242, 1e-12);
    RELNEAR(r.sigma2, 0.0391425910529637, 1e-10);
    RELNEAR(cov[0 * 3 + 1], -0.0018322693577873072, 1e-9);
    RELNEAR(cov[1 * 3 + 2], -0.0003427835577900176, 1e-9);
    CHECK(cov[1 * 3 + 2] == cov[2 * 3 + 1]);
    CHECK(r.p == 3 && r.n == 12 && r.df == 9 && r.rcond > 0 && r.rcond <= 1);
    /* without the intercept: r2 about zero (uncentred) */
    o.intercept = 0;
    CHECK_OK(&ctx, tg_lstsq(&ctx, X, 12, 2, y, &o, coef, se, cov, &r));
    RELNEAR(coef[0], 2.184721280420991, 1e-12);
    RELNEAR(coef[1], -0.3998620428294214, 1e-12);
    RELNEAR(se[0], 0.10291729262038278, 1e-10);
    RELNEAR(se[1], 0.08060072441209207, 1e-10);
    RELNEAR(r.rss, 5.975173286214517, 1e-10);
    RELNEAR(r.r2, 0.9919383238457269, 1e-12);
    RELNEAR(cov[1], -0.00724738063634568, 1e-9);
    CHECK(r.p == 2 && r.df == 10);
}

static void test_lstsq_exact_and_units(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_lstsq_opts o = TG_LSTSQ_OPTS_INIT;
    tg_lstsq_result r;
    double x[5] = {1, 2, 3, 4, 5}, y[5], coef[2], se[2], cov[4];
    for (int i = 0; i < 5; i++) y[i] = 3 - 0.25 * x[i];
    CHECK_OK(&ctx, tg_lstsq(&ctx, x, 5, 1, y, &o, coef, se, cov, &r));
    NEAR(coef[0], 3, 1e-14);
    NEAR(coef[1], -0.25, 1e-14);
    NEAR(r.rss, 0, 1e-26);
    NEAR(se[1], 0, 1e-13);
    NEAR(r.r2, 1, 1e-14);
    /* a constant y: tss = 0, so r2 is NaN */
    for (int i = 0; i < 5; i++) y[i] = 2;
    CHECK_OK(&ctx, tg_lstsq(&ctx, x, 5, 1, y, &o, coef, se, cov, &r));
    CHECK(r.tss == 0 && isnan(r.r2));
    NEAR(coef[1], 0, 1e-14);
    /* the regressor in micrometres: slope x 1e6 and se x 1e6 (column scaling keeps the fit well conditioned) */
    double X[24], Y[12], c1[3], s1[3], v1[9], c2[3], s2[3], v2[9];
    m_data(X, Y);
    CHECK_OK(&ctx, tg_lstsq(&ctx, X, 12, 2, Y, &o, c1, s1, v1, &r));
    double rc = r.rcond;
    for (int i = 0; i < 12; i++) X[2 * i] *= 1e-6;
    CHECK_OK(&ctx, tg_lstsq(&ctx, X, 12, 2, Y, &o, c2, s2, v2, &r));
    RELNEAR(c2[1], c1[1] * 1e6, 1e-11);
    RELNEAR(s2[1], s1[1] * 1e6, 1e-10);
    RELNEAR(r.rcond, rc, 1e-12);
}

static void test_lstsq_errors(void)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    tg_lstsq_opts o = TG_LSTSQ_OPTS_INIT;
    tg_lstsq_result r;
    double coef[3], se[3], cov[9];
    double x2[2] = {1, 2}, y2[2] = {1, 2};
    CHECK(tg_lstsq(&ctx, x2, 2, 1, y2, &o, coef, se, cov, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "2 observations for 2 coefficients") != NULL);
    double xc[4] = {2, 2, 2, 2}, y4[4] = {1, 2, 3, 4};
    CHECK(tg_lstsq(&ctx, xc, 4, 1, y4, &o, coef, se, cov, &r) == TG_ERR_ARG); /* constant beside the intercept */
    CHECK(strstr(ctx.msg, "rank deficient") != NULL);
    double col[8] = {1, 2, 2, 4, 3, 6, 4, 8}; /* x2 = 2 x1 */
    CHECK(tg_lstsq(&ctx, col, 4, 2, y4, &o, coef, se, cov, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "rank deficient") != NULL);
    double zero[4] = {0, 0, 0, 0};
    CHECK(tg_lstsq(&ctx, zero, 4, 1, y4, &o, coef, se, cov, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "column 2 of the design is all zeros") != NULL);
    double xn[4] = {1, NAN, 3, 4};
    CHECK(tg_lstsq(&ctx, xn, 4, 1, y4, &o, coef, se, cov, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "X[2][1] is not a finite number") != NULL);
    double yi[4] = {1, 2, INFINITY, 4}, x4[4] = {1, 2, 3, 5};
    CHECK(tg_lstsq(&ctx, x4, 4, 1, yi, &o, coef, se, cov, &r) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "y[3] is not a finite number") != NULL);
    CHECK(tg_lstsq(&ctx, x4, 4, 0, y4, &o, coef, se, cov, &r) == TG_ERR_ARG);
    /* out of memory: a clear error, nothing leaked (the harness counts live blocks at the end) */
    tg_alloc_fail_after(1);
    CHECK(tg_lstsq(&ctx, x4, 4, 1, y4, &o, coef, se, cov, &r) == TG_ERR_NOMEM);
    tg_alloc_fail_after(0);
    CHECK_OK(&ctx, tg_lstsq(&ctx, x4, 4, 1, y4, &o, coef, se, cov, &r));
}

TG_TEST_MAIN(test_betainc_scipy, test_betainc_closed_forms, test_t_sf, test_lstsq_numpy, test_lstsq_exact_and_units,
             test_lstsq_errors)
