/* fuzz_tiff.c — libFuzzer entry: feed arbitrary bytes to the TIFF reader (engine/io/tg_tiff_read.c) from memory.
 *
 * Build: CC=clang cmake -DTG_FUZZ=ON -S . -B build-fuzz && cmake --build build-fuzz --target fuzz_tiff
 * Run:   build-fuzz/fuzz/fuzz_tiff -max_total_time=600 -rss_limit_mb=2048 fuzz/corpus/tiff
 * Every input must end in TG_OK or a clean error status, with no live allocation left (checked here, so a leak
 * on an error path is a crash). Outputs are capped at 64 MiB so a header that claims a huge image is refused
 * instead of exhausting memory (max_bytes; libtiff's own allocations are capped too).
 */
#include <stdint.h>
#include <stdlib.h>

#include "io/tg_tiff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tg_ctx ctx;
    tg_ctx_init(&ctx);
    ctx.nthreads = 1;
    long live = tg_alloc_live();
    tg_tiff_info_t info;
    int info_ok = tg_tiff_info_memory(&ctx, data, size, &info) == TG_OK;
    if (info_ok) {
        /* touch what a caller would use */
        if (info.dims[0] < 1 || info.dims[1] < 1 || info.dims[2] < 1) abort();
        /* a truncated file says what is missing, and never has more complete pages than pages */
        if (info.pages_complete > info.dims[2] || (info.pages_complete < info.dims[2] && !info.truncated[0])) abort();
    }
    tg_tiff_read_opts opt = TG_TIFF_READ_OPTS_INIT;
    opt.max_bytes = 64 << 20;
    tg_volume v;
    tg_status st = tg_tiff_read_memory(&ctx, data, size, &opt, &v);
    if (st == TG_OK) {
        if (!v.buf || v.dims[0] < 1) abort();
        if (!info_ok || info.truncated[0] || v.dims[2] != info.dims[2]) abort(); /* never a shorter stack */
        tg_volume_release(&v);
    } else if (v.buf) {
        abort(); /* failures must leave the output released */
    }
    /* a page range and a conversion exercise the other paths */
    opt.z_first = 0;
    opt.z_last = 1;
    opt.dtype = TG_F32;
    if (tg_tiff_read_memory(&ctx, data, size, &opt, &v) == TG_OK) tg_volume_release(&v);
    if (tg_alloc_live() != live) abort(); /* a leak on some path */
    return 0;
}
