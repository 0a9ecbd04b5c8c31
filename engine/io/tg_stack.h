/* tg_stack.h — a stack on disk: opened without decoding pixels, read a range of slices at a time.
 *
 * What: the handle streamed operations (io/tg_stream.h) read their slabs from. tg_stack_open opens one multi-page
 * TIFF or a list of single-page slice files (a folder or a glob, listed by the caller in natural order) and reads
 * only the first page's header: dims, dtype, spacing and how the spacing was found. tg_stack_read decodes only the
 * pages asked for, into a new volume (tg_stack_read_into: into slices of a volume the caller holds, so a slab
 * buffer is reused). Every page read is checked against the first page's size, type and samples: a stack whose
 * page size or type changes midway, or a page that fails to decode, ends with TG_ERR_FORMAT naming the file and the
 * page (1-based, as people count pages).
 * Backends: the format-specific part is a small vtable (tg_stack_backend: read pages into slices, close), so readers
 * of other formats (HDF5 datasets, MetaImage raw data) plug in with tg_stack_new. TIFF is built in (io/tg_tiff.h's
 * tg_tiff_reader).
 * Conventions: pages are z (0-based, half-open ranges [z0, z1) here; the Lua layer converts its 1-based inclusive
 * ones); the spacing is the file's (metres) until tg_stack_set_spacing overrides it; reads return volumes with the
 * stack's spacing.
 * Cost: open reads one header (for a multi-page TIFF libtiff also walks the IFD chain to count pages: a few bytes
 * per page); a read is bound by decoding, as tg_tiff_read. Memory: the paths and one strip buffer while reading,
 * plus the output. Threading: a stack is used by one thread at a time (a multi-page file keeps its libtiff handle).
 */
#ifndef TG_STACK_H
#define TG_STACK_H

#include "core/tg_core.h"
#include "core/tg_volume.h"

typedef struct tg_stack tg_stack;

/* Where the spacing came from. */
typedef enum tg_stack_spacing_source {
    TG_STACK_SPACING_FILE = 0,   /* x, y and z from the file's calibration */
    TG_STACK_SPACING_FILE_XY,    /* x, y from the file; z taken equal to x (the file has no slice spacing) */
    TG_STACK_SPACING_NONE,       /* no calibration: 1, 1, 1 (voxels) */
    TG_STACK_SPACING_SET         /* set with tg_stack_set_spacing */
} tg_stack_spacing_source;

typedef struct tg_stack_info_t {
    int64_t dims[3];              /* width, height, pages */
    tg_dtype dtype;               /* of the volumes a read returns */
    double spacing[3];            /* metres (1, 1, 1 when unknown) */
    int spacing_source;           /* tg_stack_spacing_source */
    const char *format;           /* the backend's name: "tiff", ... */
    const char *path;             /* the file, or the first slice file */
    int files;                    /* 1 for a multi-page file, else the number of slice files */
    char compression[16];         /* of the first page, as the backend names it ("none", "deflate", ...) */
    char note[256];               /* conversions a read applies, as tg_tiff_info_t's note; "" if none */
} tg_stack_info_t;

/* A format's reader. read: pages [z0, z1) into slices zout.. of out, a contiguous volume of the stack's width, height
 * and dtype (the caller checked the range and the volume); it reports progress as the fraction of these pages and
 * names the file and page in every error. close frees state (called once, also after a failed open of the stack). */
typedef struct tg_stack_backend {
    const char *name;
    tg_status (*read)(tg_ctx *ctx, void *state, int64_t z0, int64_t z1, tg_volume *out, int64_t zout);
    void (*close)(void *state);
} tg_stack_backend;

typedef struct tg_stack_open_opts {
    int dtype;         /* < 0: the file's type; else the tg_dtype reads convert to (round to nearest, saturate) */
} tg_stack_open_opts;
#define TG_STACK_OPEN_OPTS_INIT {-1}

/* Open n paths: n == 1 a multi-page TIFF (one page is a stack of one slice), n > 1 one slice per file, in this order. */
tg_status tg_stack_open(tg_ctx *ctx, const char *const *paths, int n, const tg_stack_open_opts *opt, tg_stack **out);
/* For backends: wrap state (owned from now on: closed by tg_stack_close, or at once if this fails) and its info
 * (copied; info->path is copied too). dims >= 1 each. */
tg_status tg_stack_new(tg_ctx *ctx, const tg_stack_backend *backend, void *state, const tg_stack_info_t *info,
                       tg_stack **out);

const tg_stack_info_t *tg_stack_info(const tg_stack *st);
/* Override the spacing (metres, each > 0 and finite): reads return it, info says TG_STACK_SPACING_SET. */
tg_status tg_stack_set_spacing(tg_ctx *ctx, tg_stack *st, const double spacing[3]);

/* Pages [z0, z1) into a new contiguous volume of z1 - z0 slices. Only those pages are decoded. */
tg_status tg_stack_read(tg_ctx *ctx, tg_stack *st, int64_t z0, int64_t z1, tg_volume *out);
/* Pages [z0, z1) into slices zout.. of out (contiguous, the stack's width, height and dtype; its spacing is set). */
tg_status tg_stack_read_into(tg_ctx *ctx, tg_stack *st, int64_t z0, int64_t z1, tg_volume *out, int64_t zout);

void tg_stack_close(tg_stack *st); /* NULL is fine */

#endif
