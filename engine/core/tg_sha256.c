/* tg_sha256.c — streamed SHA-256 of a file via OpenSSL EVP. Manual in tg_sha256.h. */
#define _POSIX_C_SOURCE 200809L

#include "core/tg_sha256.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#define BLOCK (1u << 20)

static void to_hex(const unsigned char *md, unsigned n, char hex[TG_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n && i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

tg_status tg_sha256_buffer(tg_ctx *ctx, const void *data, size_t n, char hex[TG_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!data && n) return tg_fail(ctx, TG_ERR_ARG, "tg_sha256_buffer: NULL data");
    if (!EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return tg_fail(ctx, TG_ERR_NOMEM, "tg_sha256_buffer: the SHA-256 digest failed");
    to_hex(md, mdlen, hex);
    return TG_OK;
}

tg_status tg_sha256_file(tg_ctx *ctx, const char *path, char hex[TG_SHA256_HEX], uint64_t *size_bytes)
{
    tg_status st = TG_OK;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    uint64_t total = 0;
    struct stat sb;
    FILE *f = NULL;
    EVP_MD_CTX *md_ctx = NULL;
    unsigned char *buf = NULL;

    if (!path || !*path) return tg_fail(ctx, TG_ERR_ARG, "tg_sha256_file: empty path");
    f = fopen(path, "rb");
    if (!f) { st = tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno)); goto done; }
    if (fstat(fileno(f), &sb) != 0) { st = tg_fail(ctx, TG_ERR_IO, "%s: %s", path, strerror(errno)); goto done; }
    if (S_ISDIR(sb.st_mode)) { st = tg_fail(ctx, TG_ERR_IO, "%s: is a directory", path); goto done; }
    buf = tg_malloc(BLOCK);
    md_ctx = EVP_MD_CTX_new();
    if (!buf || !md_ctx) { st = tg_fail(ctx, TG_ERR_NOMEM, "%s: out of memory for hashing", path); goto done; }
    if (!EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL)) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "%s: cannot start SHA-256", path);
        goto done;
    }
    for (;;) {
        size_t got = fread(buf, 1, BLOCK, f);
        if (got > 0 && !EVP_DigestUpdate(md_ctx, buf, got)) {
            st = tg_fail(ctx, TG_ERR_NOMEM, "%s: SHA-256 update failed", path);
            goto done;
        }
        total += got;
        if (got < BLOCK) break;
        double frac = sb.st_size > 0 ? (double)total / (double)sb.st_size : 0.0;
        if (tg_progress(ctx, frac > 1 ? 1 : frac, "sha256")) {
            st = tg_fail(ctx, TG_ERR_CANCELLED, "%s: hashing cancelled", path);
            goto done;
        }
    }
    if (ferror(f)) { st = tg_fail(ctx, TG_ERR_IO, "%s: read error: %s", path, strerror(errno)); goto done; }
    if (!EVP_DigestFinal_ex(md_ctx, md, &mdlen) || mdlen != 32) {
        st = tg_fail(ctx, TG_ERR_NOMEM, "%s: SHA-256 final failed", path);
        goto done;
    }
    to_hex(md, mdlen, hex);
    if (size_bytes) *size_bytes = total;
    tg_progress_done(ctx, "sha256");

done:
    if (f) fclose(f);
    EVP_MD_CTX_free(md_ctx);
    tg_free(buf);
    return st;
}
