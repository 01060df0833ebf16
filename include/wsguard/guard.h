/* wsguard guard: applies a policy (wsguard/policy.h) at each point of a
 * connection's life: before the upgrade, on each message and control
 * frame, and on each tick. Sans-I/O: the caller passes the time and the
 * facts it knows (peer address, TLS); the guard answers with decisions and
 * emits audit events through the policy's callback.
 *
 * One guard serves every connection of a server (it owns the per-address
 * table and the global counters); one wsg_guard_conn per accepted
 * connection. Not thread-safe: one guard per event loop. */
#ifndef WSGUARD_GUARD_H
#define WSGUARD_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/core.h>
#include <wsguard/export.h>
#include <wsguard/handshake.h>
#include <wsguard/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wsg_guard;
struct wsg_guard_conn;

/* `p` must outlive the guard and must not change while it runs (check it
 * first with wsg_policy_check). Returns WSG_OK, WSG_ERR_INVALID_ARG or
 * WSG_ERR_NOMEM. */
WSG_API int wsg_guard_new(const struct wsg_policy *p,
                          const struct wsg_allocator *alloc,
                          struct wsg_guard **out);
WSG_API void wsg_guard_free(struct wsg_guard *g);

/* What the transport knows about a connection. */
struct wsg_guard_peer {
    struct wsg_addr addr;   /* socket peer */
    const char *text;       /* "ip:port", for logs */
    bool tls;               /* TLS terminated here */
    uint64_t unix_s;        /* wall clock, for token expiry */
    uint64_t unix_ms;       /* wall clock in ms, for audit timestamps;
                               0: unix_s * 1000 */
};

/* The answer to an upgrade request. Strings and headers point into the
 * verdict itself or into the policy; valid until the next call with it. */
struct wsg_guard_verdict {
    int status;                      /* 0: accept; else 401, 403, 426, 429,
                                        503 (or 301 for an https redirect) */
    int control;                     /* WSG_H* that decided a refusal */
    const char *reason;              /* short, for the body and the log */
    struct wsg_header headers[12];   /* security headers (H10) and, on
                                        refusal, WWW-Authenticate /
                                        Retry-After / Location */
    size_t header_count;
    const char *subprotocol;         /* to select in the 101; NULL: none */
    char client[WSG_ADDR_STRLEN];    /* client address (trusted proxies) */
    char subject[129];               /* authenticated subject, or "" */
    char scratch[96];                /* storage for header values */
    char location[2048];             /* a redirect's Location value */
};

/* Decides an upgrade (H1, H2, H3, H6, H9, H10, H11): scheme and TLS facts,
 * Origin and Host allowlists, authentication, global and per-address caps,
 * the subprotocol allowlist. On acceptance *out is the connection's state
 * (release it with wsg_guard_conn_free when the connection ends, accepted
 * or not). Every refusal emits a "refuse" audit event with its control id.
 * Returns WSG_OK (see v->status) or WSG_ERR_NOMEM. */
WSG_API int wsg_guard_upgrade(struct wsg_guard *g,
                              const struct wsg_hs_request *req,
                              const struct wsg_guard_peer *peer,
                              uint64_t now_ms, struct wsg_guard_verdict *v,
                              struct wsg_guard_conn **out);

/* The answer to a request the handshake refused: a plain HTTP request at
 * the WebSocket endpoint (`req` from wsg_hs_server_plain_request, with the
 * handshake's `status` 426) or a malformed one (`req` NULL; 400, 405, 414,
 * 431...). Fills v with the security headers (H10), which belong on every
 * response. With https-redirect on, a plain GET that did not arrive over
 * HTTPS (H1, same test as for upgrades) becomes a 301 to
 * https://<Host><target> with a Location header and an H1 "refuse" event;
 * its Host must pass the Host allowlist (else 403, H2, and an event), and
 * a Location over sizeof(v->location) gets 403 (H1) instead. Otherwise
 * v->status = status, v->control = 0, no event: the caller knows why the
 * handshake refused. Returns WSG_OK or WSG_ERR_INVALID_ARG. */
WSG_API int wsg_guard_http(struct wsg_guard *g,
                           const struct wsg_hs_request *req,
                           const struct wsg_guard_peer *peer, int status,
                           struct wsg_guard_verdict *v);

/* Limits for the connection's core config from the policy (H5, H12):
 * max_frame, max_message, max_fragments, max_output, close_timeout_ms. */
WSG_API void wsg_guard_conn_config(const struct wsg_guard *g,
                                   struct wsg_conn_config *cfg);

/* What to do after a message, a control frame or a tick. */
struct wsg_guard_action {
    enum {
        WSG_GUARD_PASS = 0,  /* deliver */
        WSG_GUARD_DROP,      /* drop this message, count it, keep going */
        WSG_GUARD_CLOSE,     /* close with code + reason */
        WSG_GUARD_PING       /* tick: send a ping now */
    } what;
    uint16_t code;
    const char *reason;
    int control;
};

/* A data message (or streamed fragment) from the peer (H3 post-connect
 * auth, H6 message and byte rates, H9 types and validator). */
WSG_API void wsg_guard_conn_message(struct wsg_guard_conn *gc,
                                    const struct wsg_event *ev,
                                    uint64_t now_ms,
                                    struct wsg_guard_action *act);
/* A ping or pong from the peer (H6 control-frame rate, H7 liveness). */
WSG_API void wsg_guard_conn_control(struct wsg_guard_conn *gc,
                                    const struct wsg_event *ev,
                                    uint64_t now_ms,
                                    struct wsg_guard_action *act);
/* Bytes sent to the peer (idle timeout counting that direction). */
WSG_API void wsg_guard_conn_sent(struct wsg_guard_conn *gc, size_t bytes,
                                 uint64_t now_ms);
/* Deadlines (H7: idle, post-connect auth). */
WSG_API uint64_t wsg_guard_conn_next_deadline(const struct wsg_guard_conn *gc);
WSG_API void wsg_guard_conn_tick(struct wsg_guard_conn *gc, uint64_t now_ms,
                                 struct wsg_guard_action *act);

/* The transport failed the connection itself (RFC 6455 section 7.1.7),
 * not the guard: `err` says why (as wsg_close_info.err), `code_sent` is the
 * close code sent. A failure a control covers emits a "violation" event
 * and gives the "close" event its control id and reason:
 *   WSG_ERR_TOO_BIG                       H5  "message too big"
 *   WSG_ERR_PROTOCOL, WSG_ERR_MASKING     H4  "protocol error"
 *   WSG_ERR_INVALID_UTF8                  H4  "invalid data"
 *   WSG_ERR_POLICY                        H12 "output budget exceeded"
 *   WSG_ERR_TIMEOUT with code 1011        H7  "keepalive ping timeout"
 * Anything else (a clean close, a peer that vanished, I/O), no code sent,
 * or a close the guard decided itself: nothing. Decided from the error,
 * not the code: a Close echoed to the peer is no violation. Call before
 * wsg_guard_conn_free. Returns the control id, or 0. */
WSG_API int wsg_guard_conn_failed(struct wsg_guard_conn *gc, uint64_t now_ms,
                                  int err, uint16_t code_sent);

/* The connection ended: emits the "close" audit event with duration,
 * bytes and both close codes, releases the per-address slot, frees. */
WSG_API void wsg_guard_conn_free(struct wsg_guard_conn *gc, uint64_t now_ms,
                                 const struct wsg_conn_stats *st,
                                 uint16_t code_sent, uint16_t code_received);

/* Counters for metrics (H11). */
struct wsg_guard_stats {
    uint64_t open, accepted, refused[16]; /* refused by control id */
    uint64_t closed, violations[16];
};
WSG_API void wsg_guard_get_stats(const struct wsg_guard *g,
                                 struct wsg_guard_stats *st);

#ifdef __cplusplus
}
#endif
#endif
