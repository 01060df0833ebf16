/* Shared helpers for the handshake unit tests: feeding modes (whole, one
 * byte at a time, right before an unreadable page) and deterministic
 * random sources; the failing allocator is tests/common's. */
#ifndef WSG_TEST_HS_UTIL_H
#define WSG_TEST_HS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/handshake.h>

#include "test_alloc.h" /* tests/common: the failing allocator */

enum feed_mode {
    FEED_WHOLE = 0,
    FEED_BYTES,       /* one byte per call */
    FEED_GUARD_WHOLE, /* whole input ending right before a PROT_NONE page */
    FEED_GUARD_BYTES, /* each byte alone, right before a PROT_NONE page */
    FEED_MODES
};

/* The outcome of a feed run: the last return code, and for a 1, how many
 * input bytes (from the start) the head took. */
struct feed_out {
    int rc;
    size_t head;
};

/* Feeds `in` to a fresh server (limits `lim`, may be NULL) in `mode`. The
 * server is returned in *out (caller frees) when `out` is non-NULL. */
struct feed_out server_feed_mode(const char *in, size_t len,
                                 enum feed_mode mode,
                                 const struct wsg_hs_limits *lim,
                                 struct wsg_hs_server **out);

/* Runs every mode, asserts they agree (rc, head, status, reason) and
 * returns the server of the whole-input run (caller frees). */
struct wsg_hs_server *server_check(const char *in, size_t len,
                                   const struct wsg_hs_limits *lim,
                                   struct feed_out *res);

/* server_check() on a NUL-terminated request; asserts rc and status (0
 * for a valid request, whose head must then be all of `req`). Returns the
 * server (caller frees). */
struct wsg_hs_server *expect_server(const char *req, int rc, int status);

/* The same for the client: `make` builds a fresh client each run. */
typedef struct wsg_hs_client *(*client_maker)(void *ud);
struct feed_out client_feed_mode(client_maker make, void *ud, const char *in,
                                 size_t len, enum feed_mode mode,
                                 struct wsg_hs_client **out);
struct wsg_hs_client *client_check(client_maker make, void *ud,
                                   const char *in, size_t len,
                                   struct feed_out *res);


/* Fills with "the sample nonce" (RFC 6455 section 1.3) for 16 bytes. */
int rand_rfc_nonce(void *ud, uint8_t *buf, size_t len);
/* A counter-based source: different bytes on every call. */
int rand_counter(void *ud, uint8_t *buf, size_t len);
int rand_fail(void *ud, uint8_t *buf, size_t len);

/* Builds a string with printf-style formatting into a static-free
 * malloc'd buffer (caller frees). */
char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

#endif
