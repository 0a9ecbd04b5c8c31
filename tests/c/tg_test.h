/* tg_test.h — a tiny test harness for the engine's C tests (one executable per engine file, run by ctest).
 *
 * CHECK(cond) records a failure and continues; NEAR(a, b, tol) compares doubles (absolute tolerance);
 * TG_TEST_MAIN runs the test functions, then checks that no allocation is still live, and prints
 * "N passed, N failed". The exit code is non-zero on any failure.
 */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/tg_core.h"
#include "core/tg_volume.h"

static int tg_test_passed, tg_test_failed;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (cond) tg_test_passed++;                                                      \
        else { tg_test_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
    } while (0)

#define NEAR(a, b, tol)                                                                  \
    do {                                                                                 \
        double a_ = (a), b_ = (b);                                                       \
        if (fabs(a_ - b_) <= (tol)) tg_test_passed++;                                    \
        else { tg_test_failed++; fprintf(stderr, "%s:%d: NEAR failed: %s = %.17g, %s = %.17g (tol %g)\n", \
                                         __FILE__, __LINE__, #a, a_, #b, b_, (double)(tol)); } \
    } while (0)

/* CHECK_OK(ctx, status expression): prints the context message on failure. */
#define CHECK_OK(ctx, expr)                                                              \
    do {                                                                                 \
        tg_status st_ = (expr);                                                          \
        if (st_ == TG_OK) tg_test_passed++;                                              \
        else { tg_test_failed++; fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr, \
                                         tg_status_name(st_), (ctx)->msg); }             \
    } while (0)

typedef void (*tg_test_fn)(void);

static inline int tg_test_run(const char *name, const tg_test_fn *tests, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        int before = tg_test_failed;
        tests[i]();
        fprintf(stderr, "%s %s\n", tg_test_failed == before ? "ok  " : "FAIL", names[i]);
    }
    long live = tg_alloc_live();
    if (live != 0) { tg_test_failed++; fprintf(stderr, "%s: %ld allocations still live at the end\n", name, live); }
    else tg_test_passed++;
    printf("%d passed, %d failed\n", tg_test_passed, tg_test_failed);
    return tg_test_failed ? 1 : 0;
}

#define TG_TEST_MAIN(...)                                                                \
    int main(void)                                                                       \
    {                                                                                    \
        static const tg_test_fn tests_[] = {__VA_ARGS__};                                \
        static const char *const names_[] = {TG_TEST_NAMES_(__VA_ARGS__)};               \
        return tg_test_run(__FILE__, tests_, names_, (int)(sizeof tests_ / sizeof tests_[0])); \
    }
#define TG_TEST_STR_(x) #x
#define TG_TEST_NAMES_(...) TG_TEST_NAMES_N_(__VA_ARGS__, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)(__VA_ARGS__)
#define TG_TEST_NAMES_N_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, N, ...) TG_TEST_NAMES_##N
#define TG_TEST_NAMES_1(a) #a
#define TG_TEST_NAMES_2(a, ...) #a, TG_TEST_NAMES_1(__VA_ARGS__)
#define TG_TEST_NAMES_3(a, ...) #a, TG_TEST_NAMES_2(__VA_ARGS__)
#define TG_TEST_NAMES_4(a, ...) #a, TG_TEST_NAMES_3(__VA_ARGS__)
#define TG_TEST_NAMES_5(a, ...) #a, TG_TEST_NAMES_4(__VA_ARGS__)
#define TG_TEST_NAMES_6(a, ...) #a, TG_TEST_NAMES_5(__VA_ARGS__)
#define TG_TEST_NAMES_7(a, ...) #a, TG_TEST_NAMES_6(__VA_ARGS__)
#define TG_TEST_NAMES_8(a, ...) #a, TG_TEST_NAMES_7(__VA_ARGS__)
#define TG_TEST_NAMES_9(a, ...) #a, TG_TEST_NAMES_8(__VA_ARGS__)
#define TG_TEST_NAMES_10(a, ...) #a, TG_TEST_NAMES_9(__VA_ARGS__)
#define TG_TEST_NAMES_11(a, ...) #a, TG_TEST_NAMES_10(__VA_ARGS__)
#define TG_TEST_NAMES_12(a, ...) #a, TG_TEST_NAMES_11(__VA_ARGS__)
#define TG_TEST_NAMES_13(a, ...) #a, TG_TEST_NAMES_12(__VA_ARGS__)
#define TG_TEST_NAMES_14(a, ...) #a, TG_TEST_NAMES_13(__VA_ARGS__)
#define TG_TEST_NAMES_15(a, ...) #a, TG_TEST_NAMES_14(__VA_ARGS__)
#define TG_TEST_NAMES_16(a, ...) #a, TG_TEST_NAMES_15(__VA_ARGS__)
#define TG_TEST_NAMES_17(a, ...) #a, TG_TEST_NAMES_16(__VA_ARGS__)
#define TG_TEST_NAMES_18(a, ...) #a, TG_TEST_NAMES_17(__VA_ARGS__)
#define TG_TEST_NAMES_19(a, ...) #a, TG_TEST_NAMES_18(__VA_ARGS__)
#define TG_TEST_NAMES_20(a, ...) #a, TG_TEST_NAMES_19(__VA_ARGS__)
#define TG_TEST_NAMES_21(a, ...) #a, TG_TEST_NAMES_20(__VA_ARGS__)
#define TG_TEST_NAMES_22(a, ...) #a, TG_TEST_NAMES_21(__VA_ARGS__)
#define TG_TEST_NAMES_23(a, ...) #a, TG_TEST_NAMES_22(__VA_ARGS__)
#define TG_TEST_NAMES_24(a, ...) #a, TG_TEST_NAMES_23(__VA_ARGS__)

#endif
