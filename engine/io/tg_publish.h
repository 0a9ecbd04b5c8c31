/* tg_publish.h — files published atomically, for every writer of engine/io (TIFF, the slab writer, PNG, VTK, meshes).
 *
 * A file is written under a short hidden temporary name in the folder of its final name,
 * "<folder>/.tg-<pid>-<k>.tmp" (short, so a legal 250-character final name still fits in NAME_MAX; hidden, so
 * folder listings and globs of slices skip it), then flushed to the disk (fsync) and renamed into place (atomic
 * within a folder), and the folder is synced so the new name is durable too. Until the rename nothing is under the
 * final name; on any failure the caller removes the temporary and an older file under the name is kept.
 * COST: one fsync of the file and one of its folder per published file. THREADING: safe (an atomic counter).
 */
#ifndef TG_PUBLISH_H
#define TG_PUBLISH_H

#include <stddef.h>

#include "core/tg_core.h"

/* Bytes enough for the temporary name of path. */
#define TG_PUBLISH_TMP_SIZE(path) (strlen(path) + 48)

/* Create a new temporary next to path, O_RDWR | O_CREAT | O_EXCL, mode 0666 less the umask; its name goes into tmp
 * (n bytes, TG_PUBLISH_TMP_SIZE). Returns the descriptor, or -1 with errno set. */
int tg_publish_temp(const char *path, char *tmp, size_t n);

/* fsync(fd) when fd >= 0 (the data reach the disk before the name does; a late ENOSPC or EIO is reported here),
 * then rename tmp to path and sync the folder. Does not close fd and does not remove tmp on failure (the caller
 * does). TG_ERR_IO naming path and the reason on failure. */
tg_status tg_publish(tg_ctx *ctx, int fd, const char *tmp, const char *path);

#endif
