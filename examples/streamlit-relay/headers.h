/* wsg-relay: the HTTP proxy rules as pure functions (no I/O, no clock):
 * request-target checks, header filtering in both directions, the
 * X-Forwarded-* the relay sets, security headers, the head scanner and
 * the heads the relay writes. Unit-tested in tests/relay/test_headers.c. */
#ifndef WSG_RELAY_HEADERS_H
#define WSG_RELAY_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/handshake.h>

/* ---- a byte buffer -------------------------------------------------------- */

/* Bytes p[off..len) are pending. Grows on demand; the callers bound it
 * (backpressure). */
struct relay_buf {
    uint8_t *p;
    size_t off, len, cap;
};

/* Append; false on out of memory (nothing appended). */
bool relay_buf_put(struct relay_buf *b, const void *d, size_t n);
bool relay_buf_puts(struct relay_buf *b, const char *s);
bool relay_buf_printf(struct relay_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline size_t relay_buf_pending(const struct relay_buf *b)
{
    return b->len - b->off;
}
static inline uint8_t *relay_buf_data(const struct relay_buf *b)
{
    return b->p + b->off;
}
/* Drops `n` pending bytes from the front. */
void relay_buf_consume(struct relay_buf *b, size_t n);
/* Makes room for `n` more bytes; returns where to write them (then call
 * relay_buf_commit), or NULL on out of memory. */
uint8_t *relay_buf_space(struct relay_buf *b, size_t n);
void relay_buf_commit(struct relay_buf *b, size_t n);
/* Frees the memory of an empty buffer that grew past `keep` bytes. */
void relay_buf_shrink(struct relay_buf *b, size_t keep);
void relay_buf_free(struct relay_buf *b);

/* ---- names and lists ------------------------------------------------------ */

/* Case-insensitive comparison of a span with a NUL-terminated name. */
bool relay_name_is(const char *s, size_t n, const char *name);
/* True if the comma-separated list `v` holds `tok` (case-insensitive,
 * elements trimmed of spaces and tabs; RFC 9110 section 5.6.1). */
bool relay_list_has(const char *v, size_t n, const char *tok, size_t tn);
/* Number of headers named `name`; *first (if not NULL) gets the first. */
size_t relay_hdr_count(const struct wsg_header *h, size_t n, const char *name,
                       const struct wsg_header **first);

/* ---- request-target (T15) -------------------------------------------------- */

/* 0 if the request-target may be forwarded, else 400 with *why: it must be
 * origin-form ("/" ...); the path (before '?') holds no backslash, no
 * control character, no "%2f", "%5c" or "%00" (any case), no '%' without
 * two hex digits, no empty segment ("//") and no "." or ".." segment, dots
 * percent-encoded or not. The query is not inspected. */
int relay_path_check(const char *t, size_t n, const char **why);

/* ---- header rules ------------------------------------------------------------ */

/* Hop-by-hop (RFC 9110 section 7.6.1): Connection, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
 * Proxy-Authorization, Proxy-Authenticate. */
bool relay_hdr_hop(const char *name, size_t n);
/* True if a Connection header of `h` names `name`. */
bool relay_hdr_conn_named(const struct wsg_header *h, size_t n,
                          const char *name, size_t nl);
/* Forwarding and identity headers a client may not set: X-Forwarded-For,
 * -Proto, -Host, -Port, Forwarded, X-Real-IP, X-Client-IP, X-ARR-SSL,
 * X-Streamlit-User. */
bool relay_hdr_client_forged(const char *name, size_t n);

/* Copies into `out` (room for `n`) the request headers to forward: not
 * hop-by-hop, not named in Connection, not forged (above), not Expect (the
 * relay answers 100-continue itself). Returns the count. */
size_t relay_req_filter(const struct wsg_header *in, size_t n,
                        struct wsg_header *out);
/* The same for a response: not hop-by-hop, not named in Connection, not
 * Server. */
size_t relay_resp_filter(const struct wsg_header *in, size_t n,
                         struct wsg_header *out);

/* X-Forwarded-Proto as the relay sets it (H1): "https" only when the peer
 * is a trusted proxy that says so (the last element of the last
 * X-Forwarded-Proto is "https", or X-ARR-SSL is present), else "http". */
const char *relay_forwarded_proto(bool peer_trusted,
                                  const struct wsg_header *h, size_t n);

/* ---- heads the relay writes ------------------------------------------------ */

/* The standard reason phrase ("Bad Gateway"); "Unknown" if none. */
const char *relay_status_text(int status);

/* What relay_req_render adds to the kept headers. */
struct relay_fwd {
    const char *client;     /* X-Forwarded-For */
    const char *proto;      /* X-Forwarded-Proto */
    struct wsg_span host;   /* X-Forwarded-Host (the Host); ptr NULL: none */
    bool chunked;           /* Transfer-Encoding: chunked */
};

/* "<method> <target> HTTP/1.1", the kept headers, then X-Forwarded-For,
 * -Proto, -Host and the framing. False on out of memory. */
bool relay_req_render(struct relay_buf *out, const char *method,
                      struct wsg_span target, const struct wsg_header *h,
                      size_t n, const struct relay_fwd *fwd);

/* "HTTP/1.1 <status> <reason>", the kept headers, each of `sec` whose name
 * is not among them (H10: the upstream's own value wins), then
 * "Transfer-Encoding: chunked" if `chunked` and "Connection: close" if
 * `close`. An empty or unprintable reason becomes the standard one. */
bool relay_resp_render(struct relay_buf *out, int status,
                       struct wsg_span reason, const struct wsg_header *h,
                       size_t n, const struct wsg_header *sec, size_t nsec,
                       bool chunked, bool close);

/* A complete response written by the relay: text/plain body (may be NULL:
 * the reason phrase and a newline), every `sec` header, the `extra` ones,
 * and "Connection: close" if `close`. `head_only` (HEAD) leaves the body
 * out but keeps its Content-Length. */
bool relay_error_render(struct relay_buf *out, int status, const char *body,
                        const struct wsg_header *sec, size_t nsec,
                        const struct wsg_header *extra, size_t nextra,
                        bool close, bool head_only);

/* ---- the head scanner (T5, T7) -------------------------------------------- */

/* Finds the end of an HTTP head ("\r\n\r\n") in bytes that arrive in
 * pieces, refusing what llhttp's strict mode lets through: a bare LF or CR,
 * obs-fold, an empty line before the start line (RFC 9112 sections 2.2,
 * 5.2). Zero-initialise, set the limits, then call with the whole head so
 * far each time (it resumes at `pos`). */
struct relay_scan {
    size_t max_line;   /* start line bytes (414 for requests) */
    size_t max_head;   /* whole head bytes (431) */
    size_t pos;        /* bytes scanned; the head's length at the end */
    size_t line;       /* lines seen */
    bool cr;           /* last byte was CR */
    bool mid_line;     /* inside a line */
};

enum { RELAY_SCAN_MORE = 0, RELAY_SCAN_END = 1, RELAY_SCAN_BAD = -1 };

/* Returns RELAY_SCAN_MORE, RELAY_SCAN_END (s->pos is the head length) or
 * RELAY_SCAN_BAD with *status (400, 414 or 431) and *why. */
int relay_scan_head(struct relay_scan *s, const uint8_t *p, size_t n,
                    int *status, const char **why);

#endif
