#ifndef SIGVAULT_CSYSTEM_H
#define SIGVAULT_CSYSTEM_H
#include <stdint.h>

/* Linux calls that glibc declares only under _GNU_SOURCE, which the Swift Glibc module does not
   set: compiled in system.c, where it is. */

/* syncfs(2): flushes the whole file system holding fd. */
int sv_syncfs(int fd);

/* sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts writeback of a range, without waiting. */
int sv_sync_file_range_write(int fd, int64_t offset, int64_t count);

#endif
