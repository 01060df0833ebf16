/* The handshake harnesses' chunked feed (hs_feed.h). */
#include "hs_feed.h"

#include <stdlib.h>

#include <wsguard/handshake.h>

int fuzz_hs_feed_next(struct fuzz_hs_feed *f,
                      int (*feed)(void *hs, const uint8_t *p, size_t n,
                                  size_t *consumed),
                      void *hs)
{
    size_t n = fuzz_chunk_next(&f->rng, f->max_chunk, f->in.n - f->off);
    uint8_t *buf = fuzz_dup(f->in.p + f->off, n);
    size_t consumed = (size_t)-1;
    int rc = feed(hs, buf, n, &consumed);

    free(buf);
    if (rc == 0) {
        FUZZ_CHECK(consumed == n || consumed == (size_t)-1,
                   "need-more consumed %zu of %zu", consumed, n);
        f->off += n;
    } else if (rc == 1) {
        FUZZ_CHECK(consumed <= n, "head ends at %zu of %zu", consumed, n);
        f->rest = f->off + consumed;
    }
    return rc;
}

int fuzz_hs_server_feed(void *hs, const uint8_t *p, size_t n,
                        size_t *consumed)
{
    return wsg_hs_server_feed(hs, p, n, consumed);
}

int fuzz_hs_client_feed(void *hs, const uint8_t *p, size_t n,
                        size_t *consumed)
{
    return wsg_hs_client_feed(hs, p, n, consumed);
}
