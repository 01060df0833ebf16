/* wsguard core: a sans-I/O RFC 6455 engine.
 *
 * The core never touches a file descriptor, a clock, a thread or a global.
 * The embedder feeds the bytes it received into wsg_conn_feed() and gets
 * events out, one at a time; it queues messages with wsg_conn_send*() and
 * borrows the bytes to write with wsg_conn_output(), then reports how many
 * it wrote with wsg_conn_output_consume(). Time is an argument (`now_ms`,
 * any monotonic millisecond clock the caller likes).
 *
 * Every MUST of RFC 6455 sections 5 and 7 is enforced; a violation fails the
 * connection: the core queues a Close frame with the right code (1002, 1007,
 * 1009) and a short reason, reports a WSG_EV_FAIL event, and from then on
 * only drains its output. Fatal errors stick.
 *
 * Includes only <stddef.h>, <stdint.h> and <stdbool.h> (through err.h). */
#ifndef WSGUARD_CORE_H
#define WSGUARD_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/err.h>
#include <wsguard/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- allocator ---------------------------------------------------------- */

/* An optional allocator. Every object takes one; NULL means libc
 * malloc/realloc/free. `ud` is passed back unchanged. realloc may be NULL,
 * in which case the library uses malloc + copy + free. */
struct wsg_allocator {
    void *(*malloc)(size_t size, void *ud);
    void *(*realloc)(void *ptr, size_t size, void *ud);
    void (*free)(void *ptr, void *ud);
    void *ud;
};

/* ---- frames ------------------------------------------------------------- */

/* RFC 6455 section 5.2 opcodes. */
enum wsg_opcode {
    WSG_OP_CONTINUATION = 0x0,
    WSG_OP_TEXT = 0x1,
    WSG_OP_BINARY = 0x2,
    WSG_OP_CLOSE = 0x8,
    WSG_OP_PING = 0x9,
    WSG_OP_PONG = 0xA
};

/* RSV bits as they sit in the first header byte. */
#define WSG_RSV1 0x40u
#define WSG_RSV2 0x20u
#define WSG_RSV3 0x10u

/* Largest frame header: 2 + 8 (64-bit length) + 4 (mask key). */
#define WSG_FRAME_HEADER_MAX 14

/* Writes a frame header for a payload of `len` bytes into `out` (at least
 * WSG_FRAME_HEADER_MAX bytes) in the minimal length encoding. `rsv` is a mix
 * of WSG_RSV*; `mask_key` is NULL for unmasked frames (server to client) or
 * 4 bytes. Returns the header length (2 to 14). Does not check that the
 * opcode/length combination is legal: the conn API does. */
WSG_API size_t wsg_frame_header_write(uint8_t *out, enum wsg_opcode op,
                                      bool fin, uint8_t rsv, uint64_t len,
                                      const uint8_t *mask_key);

/* XORs `len` bytes of `buf` in place with the 4-byte `key`, starting at key
 * offset `key_offset` (0-3), whole machine words at a time. Returns the key
 * offset for the byte after the last one, so a payload can be unmasked in
 * pieces. */
WSG_API size_t wsg_mask(uint8_t *buf, size_t len, const uint8_t key[4],
                        size_t key_offset);

/* ---- UTF-8 (RFC 3629), incremental ------------------------------------- */

/* Validation state carried across calls; zero-initialise, or use
 * WSG_UTF8_INIT. */
struct wsg_utf8 {
    uint32_t state;
};
#define WSG_UTF8_INIT {0}

/* Validates `len` more bytes. Returns false at the first byte that makes
 * the sequence invalid (overlong forms, surrogates, code points over
 * U+10FFFF, bad continuation bytes): a validator fails fast, it does not wait
 * for the end of a code point that cannot be completed. */
WSG_API bool wsg_utf8_feed(struct wsg_utf8 *u, const uint8_t *buf, size_t len);

/* True if the bytes fed so far end on a code point boundary. */
WSG_API bool wsg_utf8_complete(const struct wsg_utf8 *u);

/* One-shot: true if `buf` is complete, valid UTF-8. */
WSG_API bool wsg_utf8_valid(const uint8_t *buf, size_t len);

/* ---- connection --------------------------------------------------------- */

enum wsg_role {
    WSG_ROLE_SERVER = 0, /* expects masked frames, sends unmasked */
    WSG_ROLE_CLIENT = 1  /* masks every frame with a fresh random key */
};

enum wsg_delivery {
    /* Data messages are assembled and delivered whole (WSG_EV_MESSAGE), up
     * to max_message bytes. A message that arrives as one frame inside one
     * feed is delivered without a copy, unmasked in place. */
    WSG_DELIVER_MESSAGE = 0,
    /* Data arrives as WSG_EV_FRAGMENT events, one per piece of payload as it
     * arrives (validated: UTF-8 is checked incrementally), so a proxy never
     * buffers a whole message. Nothing is copied. */
    WSG_DELIVER_STREAM = 1
};

/* Fills `buf` with `len` cryptographically random bytes. Returns 0 on
 * success, non-zero on failure. Required for WSG_ROLE_CLIENT. */
struct wsg_random {
    int (*fill)(void *ud, uint8_t *buf, size_t len);
    void *ud;
};

/* Connection configuration. Always start from
 * wsg_conn_config_init_default(): new fields get safe defaults and old
 * callers keep compiling. Zero limits are refused by wsg_conn_new(). */
struct wsg_conn_config {
    enum wsg_role role;          /* default WSG_ROLE_SERVER */
    enum wsg_delivery delivery;  /* default WSG_DELIVER_MESSAGE */
    uint64_t max_frame;          /* payload bytes per frame; default 1 MiB */
    uint64_t max_message;        /* bytes per data message; default 1 MiB */
    uint32_t max_fragments;      /* frames per data message; default 1024 */
    size_t max_output;           /* pending output budget; default 4 MiB.
                                    wsg_conn_send*() refuses data with
                                    WSG_ERR_AGAIN past it, counting both
                                    the bytes pending and the memory the
                                    queue holds for them (chunks and
                                    per-frame records; one 4 KiB chunk of
                                    slack), so many small frames hit it
                                    before their bytes do; control frames
                                    the core writes itself are allowed
                                    up to max_output + 64 KiB, beyond which
                                    pings are no longer answered. */
    uint32_t close_timeout_ms;   /* close handshake deadline; default 5000 */
    bool auto_pong;              /* answer pings (section 5.5.2); default on */
    uint8_t rsv_allowed;         /* RSV bits an extension negotiated
                                    (WSG_RSV*), allowed on the first frame
                                    of a data message only (RFC 7692
                                    section 6); default 0. Any other set
                                    bit, and any on a control or
                                    continuation frame, fails with 1002 */
    struct wsg_random random;    /* masking keys (client role) */
    const struct wsg_allocator *alloc; /* NULL: libc */
};

WSG_API void wsg_conn_config_init_default(struct wsg_conn_config *cfg);

/* Opaque connection. */
struct wsg_conn;

/* Creates a connection in the OPEN state (the handshake is done by the
 * caller, e.g. with wsguard/handshake.h). `cfg` is copied.
 * Returns WSG_OK, WSG_ERR_INVALID_ARG (zero limit, client without a random
 * source, NULL out) or WSG_ERR_NOMEM. */
WSG_API int wsg_conn_new(const struct wsg_conn_config *cfg,
                         struct wsg_conn **out);

/* Frees the connection and everything it owns. Borrowed send buffers that
 * were not written yet get their release callback. NULL is a no-op. */
WSG_API void wsg_conn_free(struct wsg_conn *c);

enum wsg_event_type {
    WSG_EV_NONE = 0,   /* no event: all input consumed, or need more */
    WSG_EV_MESSAGE,    /* a whole data message (WSG_DELIVER_MESSAGE) */
    WSG_EV_FRAGMENT,   /* a piece of a data message (WSG_DELIVER_STREAM) */
    WSG_EV_PING,       /* a ping; answered already if auto_pong */
    WSG_EV_PONG,       /* a pong */
    WSG_EV_CLOSE,      /* the peer sent Close (code, reason). If we had not
                          sent Close yet, the core has queued the echo
                          (section 5.5.1). */
    WSG_EV_FAIL        /* the connection failed: the core queued a Close
                          with `close_code` and `reason`; `err` says why.
                          Flush the output, then close the transport.
                          No Close is queued if one was already, or if
                          (client role) the random source failed: an
                          unmasked frame is never sent, and
                          wsg_conn_close_sent() stays 0. */
};

/* An event. Pointers borrow either the buffer passed to wsg_conn_feed()
 * (unmasked in place) or the connection's own buffer, and stay valid until
 * the next call on the connection. */
struct wsg_event {
    enum wsg_event_type type;
    enum wsg_opcode opcode;     /* MESSAGE/FRAGMENT: TEXT or BINARY */
    const uint8_t *data;        /* payload (PING/PONG/MESSAGE/FRAGMENT) */
    size_t len;
    bool first;                 /* FRAGMENT: first piece of the message */
    bool fin;                   /* FRAGMENT: last piece of the message */
    uint8_t rsv;                /* RSV bits of the message's first frame */
    uint16_t close_code;        /* CLOSE: peer's code (1005 if none);
                                   FAIL: the code for the violation. If we
                                   had sent a Close already, that one
                                   stands: wsg_conn_close_sent() says what
                                   went on the wire */
    const char *reason;         /* CLOSE/FAIL: UTF-8, not NUL-terminated */
    size_t reason_len;
    int err;                    /* FAIL: the wsg_err that caused it */
};

/* Feeds received bytes. Parses until one event is ready or the input is
 * used up, sets *consumed to the bytes used and fills *ev (type
 * WSG_EV_NONE if no event). Call again with the rest of the input after
 * handling the event. `data` is writable because payloads are unmasked in
 * place. Bytes after a Close or after a failure are discarded.
 *
 * Returns WSG_OK, or the sticky fatal error that failed the connection
 * (WSG_ERR_PROTOCOL, WSG_ERR_MASKING, WSG_ERR_INVALID_UTF8, WSG_ERR_TOO_BIG,
 * WSG_ERR_NOMEM; WSG_ERR_RANDOM in the client role when no masking key
 * could be drawn for the automatic Pong or the Close echo, reported with
 * close_code 1011) in the same call that reports WSG_EV_FAIL, and
 * WSG_ERR_CLOSED after that. */
WSG_API int wsg_conn_feed(struct wsg_conn *c, uint8_t *data, size_t len,
                          uint64_t now_ms, size_t *consumed,
                          struct wsg_event *ev);

/* Queues a whole message (TEXT or BINARY) as one frame; the payload is
 * copied (and masked, for clients). TEXT payloads must be valid UTF-8.
 * Returns WSG_OK, WSG_ERR_INVALID_ARG (opcode, bad UTF-8),
 * WSG_ERR_STATE (a streamed message is in progress, or Close was sent),
 * WSG_ERR_AGAIN (over max_output), WSG_ERR_RANDOM, WSG_ERR_NOMEM. */
WSG_API int wsg_conn_send(struct wsg_conn *c, enum wsg_opcode op,
                          const void *data, size_t len);

/* Queues one frame of a message that is streamed in pieces: `first` starts
 * it with `op` (TEXT or BINARY; later pieces go out as continuations) and
 * `fin` ends it. Same return codes as wsg_conn_send(). The UTF-8 of TEXT is
 * checked across pieces. */
WSG_API int wsg_conn_send_fragment(struct wsg_conn *c, enum wsg_opcode op,
                                   const void *data, size_t len, bool first,
                                   bool fin);

/* Zero-copy send (server role only; clients must mask, so they copy): queues
 * a frame header that the core owns and the caller's payload by reference.
 * The payload must stay unchanged until `release(ud, data)` is called, which
 * happens once its last byte was consumed or the connection is freed.
 * `release` may be NULL. Same return codes as wsg_conn_send_fragment(),
 * plus WSG_ERR_UNSUPPORTED in the client role. */
WSG_API int wsg_conn_send_borrowed(struct wsg_conn *c, enum wsg_opcode op,
                                   const void *data, size_t len, bool first,
                                   bool fin,
                                   void (*release)(void *ud, const void *data),
                                   void *ud);

/* Queues a Ping or Pong with up to 125 bytes of payload. Control frames may
 * go out between the fragments of a streamed message. Returns WSG_OK,
 * WSG_ERR_INVALID_ARG (over 125 bytes), WSG_ERR_STATE (Close sent),
 * WSG_ERR_RANDOM, WSG_ERR_NOMEM. */
WSG_API int wsg_conn_ping(struct wsg_conn *c, const void *data, size_t len);
WSG_API int wsg_conn_pong(struct wsg_conn *c, const void *data, size_t len);

/* Starts the close handshake: queues Close with `code` (a sendable code, or
 * 0 for a Close without a body) and a UTF-8 `reason` of up to 123 bytes,
 * and arms the close deadline at now_ms + close_timeout_ms. A longer reason
 * is cut to the longest prefix of at most 123 bytes that ends on a code
 * point boundary; the UTF-8 check covers what is sent and the code point
 * the cut falls in, not the bytes after it. Never allocates. Returns
 * WSG_OK, WSG_ERR_INVALID_ARG (unsendable code, bad UTF-8),
 * WSG_ERR_STATE (already sent), WSG_ERR_RANDOM (client role: no masking
 * key; nothing was queued, the call may be retried). */
WSG_API int wsg_conn_close(struct wsg_conn *c, uint16_t code,
                           const char *reason, size_t reason_len,
                           uint64_t now_ms);

/* A piece of output: wsg_conn_output() fills up to `max` of these, in order
 * (suitable for writev). */
struct wsg_iovec {
    const void *base;
    size_t len;
};

/* Lends out the bytes waiting to be sent. Returns the number of entries
 * filled (0 if nothing is pending). The pointers stay valid until the next
 * wsg_conn_output_consume() or wsg_conn_free(); queuing more output does not
 * move them. */
WSG_API size_t wsg_conn_output(struct wsg_conn *c, struct wsg_iovec *iov,
                               size_t max);

/* Marks `n` bytes of the lent output as written (n may be less than what
 * was lent, for partial writes). */
WSG_API void wsg_conn_output_consume(struct wsg_conn *c, size_t n);

/* Total bytes waiting to be written. An adapter stops reading while this is
 * over max_output (backpressure). */
WSG_API size_t wsg_conn_output_pending(const struct wsg_conn *c);

enum wsg_conn_state {
    WSG_STATE_OPEN = 0,
    WSG_STATE_CLOSING, /* a Close was sent or received, not both; also
                          after a failure while the failing Close is still
                          queued */
    WSG_STATE_CLOSED   /* both Close frames seen, the close deadline
                          passed, or failed and the failing Close taken
                          out of the output */
};

WSG_API enum wsg_conn_state wsg_conn_state(const struct wsg_conn *c);

/* True once the transport should be closed: the connection is CLOSED and
 * its output is drained, or the close deadline passed (then whatever is
 * still queued is abandoned). RFC 6455 section 7.1.1: the server closes
 * TCP first; a client may wait a little for the server to do it. */
WSG_API bool wsg_conn_should_close_transport(const struct wsg_conn *c);

/* Drives deadlines (the close handshake deadline). Returns WSG_OK or
 * WSG_ERR_TIMEOUT when the close deadline passed (the connection is then
 * CLOSED and the transport should be closed). */
WSG_API int wsg_conn_tick(struct wsg_conn *c, uint64_t now_ms);

/* The earliest time at which wsg_conn_tick() has something to do, or
 * UINT64_MAX. */
WSG_API uint64_t wsg_conn_next_deadline(const struct wsg_conn *c);

/* Close codes as seen so far: what we sent (0 if nothing) and what the peer
 * sent (0 if nothing, 1005 for a Close without a body). */
WSG_API uint16_t wsg_conn_close_sent(const struct wsg_conn *c);
WSG_API uint16_t wsg_conn_close_received(const struct wsg_conn *c);

/* Counters, for logs and metrics. */
struct wsg_conn_stats {
    uint64_t bytes_in, bytes_out;       /* wire bytes */
    uint64_t frames_in, frames_out;
    uint64_t messages_in, messages_out; /* data messages */
    uint64_t pings_in, pongs_in;
};
WSG_API void wsg_conn_get_stats(const struct wsg_conn *c,
                                struct wsg_conn_stats *st);

#ifdef __cplusplus
}
#endif
#endif
