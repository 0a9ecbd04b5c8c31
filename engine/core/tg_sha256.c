/* tg_sha256.c — SHA-256 (FIPS 180-4) of a buffer or a streamed file, for provenance records. Manual in tg_sha256.h.
 *
 * Written here rather than taken from OpenSSL so that the library (tortuga.core) links no libcrypto: only the
 * Jupyter kernel, an application, needs OpenSSL (for its HMAC signatures).
 *
 * Two compressions of 64-byte blocks give the same digest: the portable one (the FIPS 180-4 rounds, about
 * 15 cycles per byte) and, when the processor has the SHA extensions (x86-64 SHA-NI, checked once with cpuid),
 * the one with the sha256rnds2 / sha256msg1 / sha256msg2 instructions (about 2 cycles per byte; the layout of
 * the state in ABEF / CDGH registers follows Intel's "New Instructions Supporting the Secure Hash Algorithm
 * on Intel Architecture Processors", 2013). tests/c/test_sha256.c checks both against the FIPS vectors and
 * against each other.
 */
#define _POSIX_C_SOURCE 200809L

#include "core/tg_sha256.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define TG_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#define BLOCK (1u << 20)

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

#define S0(x) (rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22))
#define S1(x) (rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25))
#define G0(x) (rotr(x, 7) ^ rotr(x, 18) ^ ((x) >> 3))
#define G1(x) (rotr(x, 17) ^ rotr(x, 19) ^ ((x) >> 10))
/* One round with the working variables named by position, so eight calls with the names rotated make eight
 * rounds without moving any variable. */
#define ROUND(a, b, c, d, e, f, g, h, i)                                                  \
    do {                                                                                  \
        uint32_t t1 = h + S1(e) + ((e & f) ^ (~e & g)) + K[i] + w[i];                     \
        d += t1;                                                                          \
        h = t1 + S0(a) + ((a & b) ^ (a & c) ^ (b & c));                                   \
    } while (0)

/* The FIPS 180-4 compression of n 64-byte blocks into h. */
static void blocks_portable(uint32_t h[8], const unsigned char *p, size_t n)
{
    for (; n > 0; n--, p += 64) {
        uint32_t w[64];
        for (int i = 0; i < 16; i++) w[i] = load_be32(p + 4 * i);
        for (int i = 16; i < 64; i++) w[i] = w[i - 16] + G0(w[i - 15]) + w[i - 7] + G1(w[i - 2]);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 64; i += 8) {
            ROUND(a, b, c, d, e, f, g, hh, i);
            ROUND(hh, a, b, c, d, e, f, g, i + 1);
            ROUND(g, hh, a, b, c, d, e, f, i + 2);
            ROUND(f, g, hh, a, b, c, d, e, i + 3);
            ROUND(e, f, g, hh, a, b, c, d, i + 4);
            ROUND(d, e, f, g, hh, a, b, c, i + 5);
            ROUND(c, d, e, f, g, hh, a, b, i + 6);
            ROUND(b, c, d, e, f, g, hh, a, i + 7);
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
    }
}

#ifdef TG_SHA_NI
/* The same compression with the SHA extensions. The state lives as ABEF and CDGH in two registers; each
 * group of four rounds takes four schedule words W[4g..4g+3] (loaded for g < 4, then made by msg1/msg2 from
 * the four groups before: NEXT(a, b, c, d) turns W[4g-16..] in a into W[4g..] from b, c, d). */
#define NEXT(a, b, c, d) \
    a = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(a, b), _mm_alignr_epi8(d, c, 4)), d)
#define ROUNDS4(m, g)                                                                    \
    do {                                                                                 \
        __m128i wk = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[4 * (g)]));    \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                                    \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));           \
    } while (0)
__attribute__((target("sha,sse4.1,ssse3"))) static void blocks_shani(uint32_t h[8], const unsigned char *p, size_t n)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1); /* CDAB */
    __m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B); /* EFGH */
    __m128i abef = _mm_alignr_epi8(t, cdgh, 8);
    cdgh = _mm_blend_epi16(cdgh, t, 0xF0);
    for (; n > 0; n--, p += 64) {
        __m128i m0, m1, m2, m3, abef0 = abef, cdgh0 = cdgh;
        m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
        m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
        m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
        m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
        for (int g = 0; g < 16; g += 4) {
            if (g > 0) {
                NEXT(m0, m1, m2, m3);
                NEXT(m1, m2, m3, m0);
                NEXT(m2, m3, m0, m1);
                NEXT(m3, m0, m1, m2);
            }
            ROUNDS4(m0, g);
            ROUNDS4(m1, g + 1);
            ROUNDS4(m2, g + 2);
            ROUNDS4(m3, g + 3);
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    t = _mm_shuffle_epi32(abef, 0x1B);   /* FEBA */
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1); /* DCHG */
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t, cdgh, 0xF0)); /* DCBA */
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(cdgh, t, 8));   /* HGFE */
}

static int have_shani(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3)) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 29) & 1;
}
#endif

int tg_sha256__portable; /* tests set it to compare the two compressions */

static void blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
#ifdef TG_SHA_NI
    static int shani = -1; /* a race here only repeats the same answer */
    if (shani < 0) shani = have_shani();
    if (shani && !tg_sha256__portable) {
        blocks_shani(h, p, n);
        return;
    }
#endif
    blocks_portable(h, p, n);
}

typedef tg_sha256_state sha256;

static void sha_init(sha256 *s)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->bytes = 0;
    s->ntail = 0;
}

static void sha_update(sha256 *s, const unsigned char *p, size_t n)
{
    s->bytes += n;
    if (s->ntail) {
        size_t take = 64 - s->ntail < n ? 64 - s->ntail : n;
        memcpy(s->tail + s->ntail, p, take);
        s->ntail += take;
        p += take;
        n -= take;
        if (s->ntail < 64) return;
        blocks(s->h, s->tail, 1);
        s->ntail = 0;
    }
    blocks(s->h, p, n / 64);
    memcpy(s->tail, p + (n / 64) * 64, n % 64);
    s->ntail = n % 64;
}

/* Padding (0x80, zeros, the length in bits, big-endian), then the digest as hex. */
static void sha_final(sha256 *s, char hex[TG_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char pad[72] = {0x80};
    uint64_t bits = s->bytes * 8;
    size_t npad = (s->ntail < 56 ? 56 : 120) - s->ntail;
    for (int i = 0; i < 8; i++) pad[npad + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha_update(s, pad, npad + 8);
    for (int i = 0; i < 32; i++) {
        unsigned byte = (s->h[i / 4] >> (24 - 8 * (i % 4))) & 0xff;
        hex[2 * i] = digits[byte >> 4];
        hex[2 * i + 1] = digits[byte & 15];
    }
    hex[64] = '\0';
}

void tg_sha256_init(tg_sha256_state *s) { sha_init(s); }
void tg_sha256_update(tg_sha256_state *s, const void *data, size_t n) { if (n) sha_update(s, data, n); }
void tg_sha256_final(tg_sha256_state *s, char hex[TG_SHA256_HEX]) { sha_final(s, hex); }

tg_status tg_sha256_buffer(tg_ctx *ctx, const void *data, size_t n, char hex[TG_SHA256_HEX])
{
    if (!data && n) return tg_fail(ctx, TG_ERR_ARG, "tg_sha256_buffer: NULL data");
    sha256 s;
    sha_init(&s);
    sha_update(&s, data, n);
    sha_final(&s, hex);
    return TG_OK;
}

tg_status tg_sha256_file(tg_ctx *ctx, const char *path, char hex[TG_SHA256_HEX], uint64_t *size_bytes)
{
    tg_status st = TG_OK;
    uint64_t total = 0;
    struct stat sb;
    FILE *f = NULL;
    unsigned char *buf = NULL;
    sha256 s;

    if (!path || !*path) return tg_fail(ctx, TG_ERR_ARG, "tg_sha256_file: empty path");
    f = fopen(path, "rb");
    if (!f) { st = tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno)); goto done; }
    if (fstat(fileno(f), &sb) != 0) { st = tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno)); goto done; }
    if (S_ISDIR(sb.st_mode)) { st = tg_fail(ctx, TG_ERR_IO, "%s: is a directory", path); goto done; }
    buf = tg_malloc(BLOCK);
    if (!buf) { st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory for hashing", path); goto done; }
    sha_init(&s);
    for (;;) {
        size_t got = fread(buf, 1, BLOCK, f);
        sha_update(&s, buf, got);
        total += got;
        if (got < BLOCK) break;
        double frac = sb.st_size > 0 ? (double)total / (double)sb.st_size : 0.0;
        if (tg_progress(ctx, frac > 1 ? 1 : frac, "sha256")) {
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: hashing cancelled", path);
            goto done;
        }
    }
    if (ferror(f)) { st = tg_fail(ctx, TG_ERR_IO, "%s: read error: %s", path, strerror(errno)); goto done; }
    sha_final(&s, hex);
    if (size_bytes) *size_bytes = total;
    tg_progress_done(ctx, "sha256");

done:
    if (f) fclose(f);
    tg_free(buf);
    return st;
}
