/* test_sha256.c — tg_sha256_buffer / tg_sha256_file against the FIPS 180-4 examples and coreutils' sha256sum, with
 * both compressions (SHA-NI when the processor has it, and the portable one), on every length around the
 * 64-byte block and padding boundaries. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <string.h>

#include "tg_test.h"
#include "core/tg_sha256.h"

extern int tg_sha256__portable;

static char tmpdir[512];

static const char *tmp_path(const char *name)
{
    static char buf[1024];
    if (!tmpdir[0]) {
        const char *t = getenv("TG_TEST_TMP");
        snprintf(tmpdir, sizeof tmpdir, "%s/sha256_c", t && *t ? t : "/tmp");
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", tmpdir, tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "cannot create %s\n", tmpdir);
    }
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* Deterministic bytes: a 64-bit LCG's high byte. */
static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (unsigned char)(seed >> 56);
    }
}

static void test_fips_examples(void)
{
    static const char *msg[] = {"", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
    static const char *want[] = {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"};
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    char hex[TG_SHA256_HEX];
    for (int portable = 0; portable <= 1; portable++) {
        tg_sha256__portable = portable;
        for (int i = 0; i < 3; i++) {
            CHECK_OK(&ctx, tg_sha256_buffer(&ctx, msg[i], strlen(msg[i]), hex));
            CHECK(strcmp(hex, want[i]) == 0);
        }
    }
    tg_sha256__portable = 0;
}

/* Lengths 0..200 and a few large ones: the two compressions agree, and agree with sha256sum on the same files. */
static void test_lengths_against_sha256sum(void)
{
    static const size_t big[] = {1000, 4095, 65537, (1u << 20) + 3};
    enum { NSMALL = 201, NBIG = 4 };
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    unsigned char *data = malloc((1u << 20) + 3);
    char (*hex)[TG_SHA256_HEX] = malloc(sizeof *hex * (NSMALL + NBIG));
    char other[TG_SHA256_HEX];
    for (int i = 0; i < NSMALL + NBIG; i++) {
        size_t n = i < NSMALL ? (size_t)i : big[i - NSMALL];
        fill(data, n, (uint64_t)i + 1);
        tg_sha256__portable = 0;
        CHECK_OK(&ctx, tg_sha256_buffer(&ctx, data, n, hex[i]));
        tg_sha256__portable = 1;
        CHECK_OK(&ctx, tg_sha256_buffer(&ctx, data, n, other));
        CHECK(strcmp(hex[i], other) == 0);
        char name[32];
        snprintf(name, sizeof name, "len%07zu.bin", n);
        FILE *f = fopen(tmp_path(name), "wb");
        CHECK(f && fwrite(data, 1, n, f) == n);
        if (f) fclose(f);
        uint64_t size = 0;
        CHECK_OK(&ctx, tg_sha256_file(&ctx, tmp_path(name), other, &size));
        CHECK(strcmp(hex[i], other) == 0 && size == n);
    }
    tg_sha256__portable = 0;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cd '%s' && sha256sum len*.bin 2>/dev/null", tmpdir);
    FILE *p = popen(cmd, "r");
    int seen = 0;
    char line[256];
    while (p && fgets(line, sizeof line, p)) {
        char digest[65], name[64];
        size_t n;
        if (sscanf(line, "%64s %63s", digest, name) != 2 || sscanf(name, "len%zu.bin", &n) != 1) continue;
        int i = -1;
        if (n < NSMALL) i = (int)n;
        for (int k = 0; k < NBIG; k++)
            if (big[k] == n) i = NSMALL + k;
        CHECK(i >= 0 && strcmp(digest, hex[i]) == 0);
        seen++;
    }
    if (p && pclose(p) == 0) CHECK(seen == NSMALL + NBIG);
    else fprintf(stderr, "sha256sum is not available: checked the FIPS examples and the two compressions only\n");
    free(hex);
    free(data);
}

TG_TEST_MAIN(test_fips_examples, test_lengths_against_sha256sum)
