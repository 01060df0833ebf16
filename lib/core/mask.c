/* Masking (RFC 6455 section 5.3): XOR with a 4-byte key, 32 bytes per
 * round as four 64-bit words (memcpy loads: no alignment assumptions, no
 * aliasing UB; compilers turn them into plain or vector moves). */
#include <string.h>

#include <wsguard/core.h>

#include "core/mask.h"

size_t wsg_mask(uint8_t *buf, size_t len, const uint8_t key[4],
                size_t key_offset)
{
    size_t koff = key_offset & 3u;
    uint64_t k = wsg__key64(key, koff);
    size_t i = 0;

    while (len - i >= 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, buf + i, 8);
        memcpy(&w1, buf + i + 8, 8);
        memcpy(&w2, buf + i + 16, 8);
        memcpy(&w3, buf + i + 24, 8);
        w0 ^= k;
        w1 ^= k;
        w2 ^= k;
        w3 ^= k;
        memcpy(buf + i, &w0, 8);
        memcpy(buf + i + 8, &w1, 8);
        memcpy(buf + i + 16, &w2, 8);
        memcpy(buf + i + 24, &w3, 8);
        i += 32;
    }
    while (len - i >= 8) {
        uint64_t w;
        memcpy(&w, buf + i, 8);
        w ^= k;
        memcpy(buf + i, &w, 8);
        i += 8;
    }
    for (; i < len; i++)
        buf[i] ^= key[(koff + i) & 3u];
    return (koff + len) & 3u;
}
