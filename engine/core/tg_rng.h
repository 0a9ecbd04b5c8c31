/* tg_rng.h — a counter-based random number generator: Philox4x32-10 (header-only).
 *
 * What: a pure function (key, counter) -> 128 random bits. No state is shared, so any thread can draw the
 * numbers of any item (particle, walker, pixel) in any order and get the same values: results never depend
 * on the thread count or on scheduling.
 *
 * Algorithm: Philox4x32 with 10 rounds, J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random
 * numbers: as easy as 1, 2, 3", SC'11, doi:10.1145/2063384.2063405. Checked against Random123's known-answer
 * vectors (tests/c/test_generate.c).
 *
 * Keying convention used in tortuga: key = the user's 64-bit seed; counter = (stream, index), two 64-bit words.
 * `stream` names the purpose of the numbers (tg_rng_stream(TAG, item) mixes a purpose tag with an item number,
 * e.g. particle i or slice z) and `index` counts draws within that stream. A tg_rng is a tiny cursor over one
 * stream that hands out 32-bit words in order; it is a local variable, never shared between threads.
 *
 * Cost: about 20 ns per 128 bits. Memory: none beyond the caller's cursor.
 */
#ifndef TG_RNG_H
#define TG_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct tg_u32x4 { uint32_t v[4]; } tg_u32x4;

static inline uint32_t tg_mulhilo32_(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* Philox4x32-10 of counter c with key k. */
static inline tg_u32x4 tg_philox4x32(tg_u32x4 c, uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; r++) {
        if (r > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        uint32_t hi0, hi1;
        uint32_t lo0 = tg_mulhilo32_(0xD2511F53u, c.v[0], &hi0);
        uint32_t lo1 = tg_mulhilo32_(0xCD9E8D57u, c.v[2], &hi1);
        tg_u32x4 n = {{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
        c = n;
    }
    return c;
}

/* 128 random bits for (seed, stream, index). */
static inline tg_u32x4 tg_rng_block(uint64_t seed, uint64_t stream, uint64_t index)
{
    tg_u32x4 c = {{(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)}};
    return tg_philox4x32(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* A stream id from a purpose tag and an item number (both 32-bit in practice; item may use 48 bits). */
static inline uint64_t tg_rng_stream(uint32_t tag, uint64_t item)
{
    return ((uint64_t)tag << 48) ^ (item & 0xFFFFFFFFFFFFull);
}

/* Convert random bits to numbers. */
static inline double tg_rng_u01_(uint32_t a, uint32_t b) /* [0, 1) with 53 bits */
{
    return (double)(((uint64_t)a << 21) ^ (uint64_t)(b >> 11)) * (1.0 / 9007199254740992.0);
}

/* A cursor over one stream: draws are taken in order from consecutive blocks. */
typedef struct tg_rng {
    uint64_t seed, stream, index;
    tg_u32x4 buf;
    int avail; /* words left in buf */
} tg_rng;

static inline tg_rng tg_rng_make(uint64_t seed, uint64_t stream)
{
    tg_rng r;
    r.seed = seed;
    r.stream = stream;
    r.index = 0;
    r.buf.v[0] = r.buf.v[1] = r.buf.v[2] = r.buf.v[3] = 0;
    r.avail = 0;
    return r;
}

static inline uint32_t tg_rng_u32(tg_rng *r)
{
    if (r->avail == 0) { r->buf = tg_rng_block(r->seed, r->stream, r->index++); r->avail = 4; }
    return r->buf.v[4 - r->avail--];
}

/* Uniform in [0, 1). */
static inline double tg_rng_uniform(tg_rng *r)
{
    uint32_t a = tg_rng_u32(r);
    uint32_t b = tg_rng_u32(r);
    return tg_rng_u01_(a, b);
}

/* Standard normal (Box-Muller; one of the pair is used so the sequence stays simple to reason about). */
static inline double tg_rng_normal(tg_rng *r)
{
    double u = 1.0 - tg_rng_uniform(r); /* (0, 1] */
    double v = tg_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Two standard normals from one block: the fast path for per-pixel noise keyed by (seed, stream, index). */
static inline void tg_rng_normal2(uint64_t seed, uint64_t stream, uint64_t index, double *a, double *b)
{
    tg_u32x4 w = tg_rng_block(seed, stream, index);
    double u = 1.0 - tg_rng_u01_(w.v[0], w.v[1]);
    double v = tg_rng_u01_(w.v[2], w.v[3]);
    double m = sqrt(-2.0 * log(u));
    *a = m * cos(6.283185307179586 * v);
    *b = m * sin(6.283185307179586 * v);
}

/* Uniform in [-1, 1) from a hash of (seed, stream, index): lattice values for value noise. */
static inline double tg_rng_signed(uint64_t seed, uint64_t stream, uint64_t index)
{
    tg_u32x4 w = tg_rng_block(seed, stream, index);
    return 2.0 * tg_rng_u01_(w.v[0], w.v[1]) - 1.0;
}

#endif
