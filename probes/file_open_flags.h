/* file_open_flags: open(2) flags by name, for the file_open probe (and its tests). */
#ifndef PIDTREE_FILE_OPEN_FLAGS_H
#define PIDTREE_FILE_OPEN_FLAGS_H

#include <jansson.h>
#include <stdint.h>

/* The kernel's O_LARGEFILE: the C library defines it as 0 on 64-bit hosts,
 * where the kernel adds it to every open. */
#if defined(__aarch64__)
#define FILE_OPEN_O_LARGEFILE 0400000u
#else
#define FILE_OPEN_O_LARGEFILE 0100000u
#endif

/* open(2) flags as a list of names: the access mode first ("O_RDONLY",
 * "O_WRONLY", "O_RDWR"), then each flag set ("O_CREAT", ...), then any
 * bits no name covers as one "0x..." entry. NULL when out of memory. */
json_t *file_open_flag_names(uint32_t flags);

#endif
