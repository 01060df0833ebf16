/* Test helpers for the core: frame builders, a feed driver that runs the
 * same input whole, one byte at a time and right before an unreadable page,
 * and compares what comes out. */
#ifndef WSG_TEST_CORE_HELPERS_H
#define WSG_TEST_CORE_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/core.h>

#include "test_alloc.h" /* tests/common: the failing allocator */

/* ---- a growable byte buffer ---------------------------------------------- */

struct bb {
    uint8_t *p;
    size_t len, cap;
};

void bb_add(struct bb *b, const void *data, size_t len);
void bb_byte(struct bb *b, uint8_t v);
void bb_free(struct bb *b);

/* The masking key every test client uses (the RFC 5.7 one). */
extern const uint8_t test_key[4];

/* Appends a frame: `b0` is the whole first byte (FIN|RSV|opcode); masked
 * with test_key if `masked`; minimal length encoding. */
void bb_frame(struct bb *b, uint8_t b0, bool masked, const void *payload,
              size_t len);
/* Same, but with an explicit 7-bit length field form: `form` 0 (auto),
 * 126 or 127 forces that encoding even when not minimal. */
void bb_frame_form(struct bb *b, uint8_t b0, bool masked, const void *payload,
                   size_t len, int form);
/* A masked Close from a client with a code and a reason. */
void bb_close(struct bb *b, uint16_t code, const char *reason);

#define FIN 0x80u

/* ---- recording a run ------------------------------------------------------- */

struct rec {
    enum wsg_event_type type;
    enum wsg_opcode opcode;
    uint8_t *data;
    size_t len;
    bool first, fin;
    uint8_t rsv;
    uint16_t close_code;
    char reason[128];
    size_t reason_len;
    int err;
    int rc;
};

struct run {
    struct rec *ev;
    size_t n, cap;
    int rc;               /* the first non-OK status from feed, else OK */
    struct bb out;        /* all output, drained after the input */
    enum wsg_conn_state state;
    bool should_close;
    uint16_t close_sent, close_rcvd;
    struct wsg_conn_stats st;
};

enum feed_mode { FEED_WHOLE, FEED_BYTES, FEED_GUARD };

/* A deterministic "random" source (tests only): xorshift from `ud`. */
int test_random(void *ud, uint8_t *buf, size_t len);

/* Runs `in` through a fresh connection in one mode. A client config
 * without a random source gets test_random with a fixed seed. */
void run_feed(const struct wsg_conn_config *cfg, const uint8_t *in, size_t len,
              enum feed_mode mode, struct run *r);

/* Runs all three modes, asserts they agree (events with FRAGMENT pieces
 * joined per message, output, state, close codes, counters) and returns
 * the whole-input run in `r`. */
void run_all(const struct wsg_conn_config *cfg, const uint8_t *in, size_t len,
             struct run *r);

void run_free(struct run *r);

/* Convenience: the default server config. */
struct wsg_conn_config cfg_server(void);
struct wsg_conn_config cfg_client(void);

/* The last event of a run (asserts there is one). */
const struct rec *run_last(const struct run *r);

/* Asserts the run failed with FAIL(code, err) as its last event, with that
 * code in a Close frame at the end of the output, and returns the
 * event. `reason` if non-NULL must be a substring of the reason. */
const struct rec *expect_fail(const struct run *r, uint16_t code, int err,
                              const char *reason);

/* Parses the last frame of `out` as an unmasked (or masked, unmasked here)
 * Close and returns its code (1005 for none), or 0 if the last frame is not
 * a Close. */
uint16_t out_close_code(const struct bb *out, bool masked);

/* The length field of the frame at out->p[pos] (RFC 6455 5.2): the payload
 * length in *len; returns the header size before any mask key (2, 4 or
 * 10). Asserts the field is whole. */
size_t frame_len_at(const struct bb *out, size_t pos, uint64_t *len);

#endif
