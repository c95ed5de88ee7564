#ifndef SIGVAULT_CARCHIVE_SHIM_H
#define SIGVAULT_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

/* Cast macros Swift cannot import. */
static inline unsigned int sv_ae_ifreg(void) { return AE_IFREG; }
static inline unsigned int sv_ae_iflnk(void) { return AE_IFLNK; }
static inline unsigned int sv_ae_ifdir(void) { return AE_IFDIR; }
static inline unsigned int sv_ae_ififo(void) { return AE_IFIFO; }
#endif
