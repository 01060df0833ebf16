/* Internal: masking key helpers (RFC 6455 section 5.3). */
#ifndef WSG_CORE_MASK_H
#define WSG_CORE_MASK_H

#include <stdint.h>
#include <string.h>

/* The key repeated over 8 bytes, starting at key offset `koff`, in memory
 * order (so it works for either endianness with memcpy'd words). */
static inline uint64_t wsg__key64(const uint8_t key[4], size_t koff)
{
    uint8_t b[8];
    uint64_t k;
    for (size_t i = 0; i < 8; i++)
        b[i] = key[(koff + i) & 3u];
    memcpy(&k, b, sizeof k);
    return k;
}

#endif
