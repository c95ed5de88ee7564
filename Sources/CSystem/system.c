#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include "CSystem.h"

int sv_syncfs(int fd) { return syncfs(fd); }

int sv_sync_file_range_write(int fd, int64_t offset, int64_t count) {
    return sync_file_range(fd, (off64_t)offset, (off64_t)count, SYNC_FILE_RANGE_WRITE);
}
