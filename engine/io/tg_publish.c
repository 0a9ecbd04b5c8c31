/* tg_publish.c — see tg_publish.h for the manual (temporary name, fsync, rename, folder sync). */
#define _GNU_SOURCE
#include "io/tg_publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int tg_publish_temp(const char *path, char *tmp, size_t n)
{
    static atomic_int counter;
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    for (int tries = 0; tries < 100; tries++) {
        int k = snprintf(tmp, n, "%.*s.tg-%ld-%d.tmp", dirlen, path, (long)getpid(), atomic_fetch_add(&counter, 1));
        if (k < 0 || (size_t)k >= n) { errno = ENAMETOOLONG; return -1; }
        int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666); /* libtiff reads back IFDs */
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

tg_status tg_publish(tg_ctx *ctx, int fd, const char *tmp, const char *path)
{
    if (fd >= 0 && fsync(fd) != 0 && errno != EINVAL && errno != EROFS) /* EINVAL: a special file (/dev/...) */
        return tg_fail(ctx, TG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    if (rename(tmp, path) != 0)
        return tg_fail(ctx, TG_ERR_IO, "%s: cannot rename the finished file: %s", path, strerror(errno));
    /* make the new name itself durable: sync the folder that holds it (best effort: some file systems refuse) */
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) > 0 ? (int)(slash - path) : 1, path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return TG_OK;
}
