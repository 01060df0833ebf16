/* The chunked feed shared by the handshake harnesses (hs_request.c,
 * hs_response.c): both parsers take bytes the same way and answer 0 (need
 * more), 1 (head complete) or a negative error. */
#ifndef WSG_FUZZ_HS_FEED_H
#define WSG_FUZZ_HS_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Where the feed stands: bytes of the input fed so far (off), and with a
 * complete head, the offset of the first byte after it (rest). */
struct fuzz_hs_feed {
    struct fuzz_in in;
    struct fuzz_rng rng;
    size_t max_chunk;
    size_t off, rest;
};

/* Feeds the next chunk (length from the rng, at most max_chunk) from an
 * exact-size heap copy and returns the parser's answer, having checked
 * the contracts: on 0 the whole chunk was taken (off moves past it), on 1
 * the head ends inside the chunk (rest is set). `feed` is
 * fuzz_hs_server_feed or fuzz_hs_client_feed. */
int fuzz_hs_feed_next(struct fuzz_hs_feed *f,
                      int (*feed)(void *hs, const uint8_t *p, size_t n,
                                  size_t *consumed),
                      void *hs);

int fuzz_hs_server_feed(void *hs, const uint8_t *p, size_t n,
                        size_t *consumed);
int fuzz_hs_client_feed(void *hs, const uint8_t *p, size_t n,
                        size_t *consumed);

#endif
