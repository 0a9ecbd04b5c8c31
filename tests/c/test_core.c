/* test_core.c — the context's memory budget: sizes parsed as written, the default share of physical memory, and the
 * allocator's byte count (live and peak) that streamed runs report. */
#include "tg_test.h"

#include <string.h>
#include <unistd.h>

static tg_ctx ctx;

static int64_t parse(const char *s)
{
    int64_t b = -1;
    if (tg_memory_parse(&ctx, s, &b) != TG_OK) return -1;
    return b;
}

static void test_parse_units(void)
{
    CHECK(parse("4GB") == 4000000000LL);
    CHECK(parse("4 gb") == 4000000000LL);
    CHECK(parse("512MiB") == 512LL << 20);
    CHECK(parse("512M") == 512LL << 20);
    CHECK(parse("1.5GiB") == 3LL << 29);
    CHECK(parse("2e9") == 2000000000LL);
    CHECK(parse("123") == 123);
    CHECK(parse("123 bytes") == 123);
    CHECK(parse("1 kB") == 1000);
    CHECK(parse("1KiB") == 1024);
    CHECK(parse("2T") == 2LL << 40);
    CHECK(parse("10 TB") == 10000000000000LL);
}

static void test_parse_errors(void)
{
    int64_t b = 7;
    CHECK(tg_memory_parse(&ctx, "4 GX", &b) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "'4 GX' is not a size") != NULL);
    CHECK(b == 7);
    CHECK(tg_memory_parse(&ctx, "", &b) == TG_ERR_ARG);
    CHECK(tg_memory_parse(&ctx, "GB", &b) == TG_ERR_ARG);
    CHECK(tg_memory_parse(&ctx, "0", &b) == TG_ERR_ARG);
    CHECK(tg_memory_parse(&ctx, "-5MB", &b) == TG_ERR_ARG);
    CHECK(tg_memory_parse(&ctx, "nan", &b) == TG_ERR_ARG);
    CHECK(tg_memory_parse(&ctx, "1e30", &b) == TG_ERR_ARG);
    CHECK(strstr(ctx.msg, "8 EiB") != NULL);
    CHECK(tg_memory_parse(&ctx, "4 GB x", &b) == TG_ERR_ARG);
    CHECK(tg_memory_parse(&ctx, NULL, &b) == TG_ERR_ARG);
}

static void test_format(void)
{
    char buf[32];
    CHECK(strcmp(tg_memory_format(800, buf, sizeof buf), "800 B") == 0);
    CHECK(strcmp(tg_memory_format(4LL << 30, buf, sizeof buf), "4 GiB") == 0);
    CHECK(strcmp(tg_memory_format(3LL << 29, buf, sizeof buf), "1.5 GiB") == 0);
    CHECK(strcmp(tg_memory_format(512LL << 20, buf, sizeof buf), "512 MiB") == 0);
}

/* The default is half of the physical memory, or less under a cgroup limit; the context's own value wins. */
static void test_default_budget(void)
{
    int64_t phys = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    int64_t d = tg_memory_default();
    CHECK(d >= (int64_t)64 << 20);
    CHECK(d <= phys / 2 || d == (int64_t)64 << 20);
    tg_ctx c;
    tg_ctx_init(&c);
    CHECK(c.memory == 0);
    CHECK(tg_memory_budget(&c) == d);
    c.memory = 12345;
    CHECK(tg_memory_budget(&c) == 12345);
}

/* Live bytes rise and fall with blocks (by at least their requested size), the peak keeps the most. */
static void test_byte_count(void)
{
    int64_t base = tg_alloc_bytes();
    tg_alloc_peak_reset();
    CHECK(tg_alloc_peak() == base);
    char *a = tg_malloc(1 << 20), *b = tg_calloc(1, 3 << 20);
    CHECK(a && b);
    CHECK(tg_alloc_bytes() >= base + (4 << 20));
    tg_free(b);
    CHECK(tg_alloc_bytes() >= base + (1 << 20) && tg_alloc_bytes() < base + (2 << 20));
    CHECK(tg_alloc_peak() >= base + (4 << 20));
    a = tg_realloc(a, 2 << 20);
    CHECK(tg_alloc_bytes() >= base + (2 << 20));
    void *big = tg_malloc_large(64 << 20);
    CHECK(tg_alloc_peak() >= base + (66 << 20));
    tg_free(big);
    tg_free(a);
    CHECK(tg_alloc_bytes() == base);
    tg_alloc_peak_reset();
    CHECK(tg_alloc_peak() == base);
}

static void setup(void) { tg_ctx_init(&ctx); }

TG_TEST_MAIN(setup, test_parse_units, test_parse_errors, test_format, test_default_budget, test_byte_count)
