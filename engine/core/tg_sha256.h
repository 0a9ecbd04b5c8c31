/* tg_sha256.h — SHA-256 (FIPS 180-4) of a buffer or of a file, streamed, for provenance records.
 *
 * tg_sha256_file() reads the file in 1 MiB blocks and writes the digest as 64 lower-case hex digits plus
 * a terminating NUL (no external library: tg_sha256.c has the compression, with SHA-NI when present). Its size in bytes is returned
 * in *size_bytes when that is not NULL. Failures of the outside world (missing or unreadable file)
 * return TG_ERR_IO with "path: reason" in ctx->msg.
 *
 * Cost: one read of the file, about 2 cycles per byte with SHA-NI, 15 without; memory: one 1 MiB buffer.
 * Single-threaded (SHA-256 is sequential). Progress is reported by bytes read, and the cancel flag is honoured between blocks.
 */
#ifndef TG_SHA256_H
#define TG_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/tg_core.h"

#define TG_SHA256_HEX 65 /* 64 hex digits + NUL */

tg_status tg_sha256_file(tg_ctx *ctx, const char *path, char hex[TG_SHA256_HEX], uint64_t *size_bytes);

/* The digest of a memory buffer (for small records and tests). */
tg_status tg_sha256_buffer(tg_ctx *ctx, const void *data, size_t n, char hex[TG_SHA256_HEX]);

/* Incremental: init, update with the pieces in order, final. The digest of the pieces equals tg_sha256_buffer of
 * their concatenation (streamed measures hash a stack slab by slab and give the in-memory volume's v:sha256()). */
typedef struct tg_sha256_state {
    uint32_t h[8];
    uint64_t bytes;         /* message length so far */
    unsigned char tail[64]; /* bytes not yet compressed */
    size_t ntail;
} tg_sha256_state;
void tg_sha256_init(tg_sha256_state *s);
void tg_sha256_update(tg_sha256_state *s, const void *data, size_t n);
void tg_sha256_final(tg_sha256_state *s, char hex[TG_SHA256_HEX]);

#endif
