/* wsguard handshake: the HTTP/1.1 upgrade of RFC 6455 section 4, both sides.
 *
 * Sans-I/O like the core: feed bytes in, borrow bytes to send. Requests and
 * responses are parsed with llhttp with every leniency off. Header names and
 * values are copied into one bounded buffer per handshake object; pointers
 * handed out borrow that buffer and stay valid until the object is freed.
 *
 * After a successful parse, `*consumed` tells where the HTTP head ended:
 * the bytes after it belong to the frame parser (wsg_conn_feed), never to
 * HTTP (shared/THREATS.md T8). */
#ifndef WSGUARD_HANDSHAKE_H
#define WSGUARD_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/core.h>
#include <wsguard/err.h>
#include <wsguard/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits for parsing an HTTP head (T5). Start from
 * wsg_hs_limits_init_default(). */
struct wsg_hs_limits {
    size_t max_request_line; /* method + target + version; default 8192
                                (over it: 414) */
    size_t max_header_bytes; /* all header names and values; default 16384
                                (over it: 431) */
    uint32_t max_headers;    /* default 100 (over it: 431) */
};

WSG_API void wsg_hs_limits_init_default(struct wsg_hs_limits *lim);

/* A header as received. Not NUL-terminated. Names keep their case. */
struct wsg_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* A string span; `ptr` is NULL when absent. Not NUL-terminated. */
struct wsg_span {
    const char *ptr;
    size_t len;
};

/* ---- server side -------------------------------------------------------- */

/* The validated upgrade request. Spans borrow the wsg_hs_server. */
struct wsg_hs_request {
    struct wsg_span target;       /* request-target as sent */
    struct wsg_span path;         /* target up to '?' */
    struct wsg_span query;        /* after '?', without it; ptr NULL if none */
    struct wsg_span host;
    struct wsg_span origin;       /* ptr NULL if no Origin header */
    struct wsg_span key;          /* Sec-WebSocket-Key */
    struct wsg_span protocols;    /* Sec-WebSocket-Protocol values joined
                                     with ", "; ptr NULL if none */
    struct wsg_span extensions;   /* Sec-WebSocket-Extensions, joined */
    const struct wsg_header *headers;
    size_t header_count;
};

struct wsg_hs_server;

/* Creates a server handshake. `lim` and `alloc` may be NULL (defaults,
 * libc). Returns WSG_OK, WSG_ERR_INVALID_ARG or WSG_ERR_NOMEM. */
WSG_API int wsg_hs_server_new(const struct wsg_hs_limits *lim,
                              const struct wsg_allocator *alloc,
                              struct wsg_hs_server **out);
WSG_API void wsg_hs_server_free(struct wsg_hs_server *hs);

/* Feeds request bytes. Returns:
 *   0            need more bytes (all `len` consumed);
 *   1            a complete, valid upgrade request; *consumed is the length
 *                of its head within this call's input, and the rest is
 *                WebSocket data. Feeding again returns 1 with *consumed 0;
 *   WSG_ERR_HTTP the request is refused: wsg_hs_server_status() gives the
 *                HTTP status (400, 405 for a known method other than GET,
 *                414, 426, 431) and wsg_hs_server_reason() a short reason;
 *   WSG_ERR_NOMEM out of memory (status 503).
 * Errors stick and set *consumed to 0. A plain GET without Upgrade gets
 * 426. Stricter than llhttp's strict mode: bare CR or LF, obs-fold, an empty
 * line before the request line and extra spaces in it are refused (400)
 * before llhttp sees them.
 * Checks RFC 6455 section 4.2.1: GET, HTTP/1.1, one Host, one Upgrade whose
 * token list holds "websocket" (any case), Connection whose list holds
 * "upgrade", one Sec-WebSocket-Key that base64-decodes to exactly 16 bytes,
 * one Sec-WebSocket-Version equal to 13 (else 426); no Content-Length or
 * Transfer-Encoding; request line, header bytes and header count within
 * the limits. */
WSG_API int wsg_hs_server_feed(struct wsg_hs_server *hs, const uint8_t *data,
                               size_t len, size_t *consumed);

/* Valid after wsg_hs_server_feed() returned 1; NULL before. */
WSG_API const struct wsg_hs_request *
wsg_hs_server_request(const struct wsg_hs_server *hs);

/* After a 426 refusal of a well-formed GET without an Upgrade header (a
 * plain page request at a WebSocket endpoint): its head, with target,
 * path, query, host, origin and headers set (key, protocols and
 * extensions empty), so that an application can answer it otherwise, e.g.
 * redirect it to https (H1). NULL in every other case. Valid until
 * wsg_hs_server_free. */
WSG_API const struct wsg_hs_request *
wsg_hs_server_plain_request(const struct wsg_hs_server *hs);

/* The HTTP status for a refusal (0 while none) and its reason. */
WSG_API int wsg_hs_server_status(const struct wsg_hs_server *hs);
WSG_API const char *wsg_hs_server_reason(const struct wsg_hs_server *hs);

/* Looks up a request header by name (case-insensitive). With several
 * headers of that name, returns the first. ptr NULL if absent. */
WSG_API struct wsg_span wsg_hs_request_header(const struct wsg_hs_request *r,
                                              const char *name);

/* Options for the 101 response. */
struct wsg_hs_accept_opts {
    const char *subprotocol;            /* NUL-terminated; must be one of
                                           the offered ones; NULL: none */
    const char *extensions;             /* NUL-terminated response value
                                           of Sec-WebSocket-Extensions;
                                           NULL: none */
    const struct wsg_header *headers;   /* extra headers (e.g. Set-Cookie) */
    size_t header_count;
};

/* Writes the 101 Switching Protocols response into a buffer owned by `hs`
 * and lends it out through *data / *len (valid until wsg_hs_server_free).
 * Extra headers may not be Content-Length, Transfer-Encoding, Connection,
 * Upgrade or any Sec-WebSocket-* name (the subprotocol and extensions go
 * through their checked options). Returns WSG_OK, WSG_ERR_STATE (no valid
 * request), WSG_ERR_INVALID_ARG (subprotocol not offered, a reserved or
 * malformed header, CR/LF/NUL in a name or value, a response over 64 KiB),
 * WSG_ERR_NOMEM. */
WSG_API int wsg_hs_server_accept(struct wsg_hs_server *hs,
                                 const struct wsg_hs_accept_opts *opts,
                                 const uint8_t **data, size_t *len);

/* Writes a refusal: status line, Content-Type: text/plain,
 * Content-Length, Connection: close, `headers`, and `reason` plus "\n" as
 * the body. 426 also gets "Sec-WebSocket-Version: 13", "Upgrade: websocket"
 * and "Connection: Upgrade, close" (RFC 9110 7.8); 405 gets "Allow: GET".
 * Into a buffer owned by `hs` and lent out as above. `reason` NULL: the
 * standard phrase. `status` from 300 to 599 (redirects included). Returns
 * WSG_OK, WSG_ERR_INVALID_ARG (status out of range, a reserved or malformed
 * header as for accept, a response over 64 KiB) or WSG_ERR_NOMEM. Usable in
 * any state, including after a parse error. */
WSG_API int wsg_hs_server_refuse(struct wsg_hs_server *hs, int status,
                                 const char *reason,
                                 const struct wsg_header *headers,
                                 size_t header_count, const uint8_t **data,
                                 size_t *len);

/* The standard reason phrase for a status ("Forbidden"), "Unknown" else. */
WSG_API const char *wsg_http_status_text(int status);

/* ---- client side -------------------------------------------------------- */

struct wsg_hs_client_opts {
    const char *host;          /* Host header value, with ":port" if not
                                  the default; required */
    const char *target;        /* request-target, e.g. "/chat?x=1";
                                  default "/" */
    const char *origin;        /* NULL: no Origin header */
    const char *const *protocols; /* offered subprotocols, in order */
    size_t protocol_count;
    const char *extensions;    /* Sec-WebSocket-Extensions offer; NULL */
    const struct wsg_header *headers; /* extra headers */
    size_t header_count;
    struct wsg_random random;  /* for the 16-byte key; required */
    struct wsg_hs_limits limits;
};

WSG_API void wsg_hs_client_opts_init_default(struct wsg_hs_client_opts *o);

struct wsg_hs_client;

/* Builds the request (with a fresh random key). Returns WSG_OK,
 * WSG_ERR_INVALID_ARG (missing host, CR/LF/NUL or ',' inside a protocol,
 * bad header), WSG_ERR_RANDOM, WSG_ERR_NOMEM. */
WSG_API int wsg_hs_client_new(const struct wsg_hs_client_opts *opts,
                              const struct wsg_allocator *alloc,
                              struct wsg_hs_client **out);
WSG_API void wsg_hs_client_free(struct wsg_hs_client *hs);

/* The request bytes to send, owned by `hs`. */
WSG_API void wsg_hs_client_request(const struct wsg_hs_client *hs,
                                   const uint8_t **data, size_t *len);

/* Feeds response bytes. Returns 0 (need more), 1 (a valid 101; *consumed
 * ends the head, the rest is WebSocket data), or WSG_ERR_HANDSHAKE (not
 * 101, missing/wrong Upgrade or Connection token, wrong
 * Sec-WebSocket-Accept, a subprotocol that was not offered, an extension
 * that was not offered or accepted twice, a body on the 101),
 * WSG_ERR_HTTP (malformed or over the limits) or WSG_ERR_NOMEM.
 * Sticky. wsg_hs_client_reason() says what was wrong. */
WSG_API int wsg_hs_client_feed(struct wsg_hs_client *hs, const uint8_t *data,
                               size_t len, size_t *consumed);

WSG_API const char *wsg_hs_client_reason(const struct wsg_hs_client *hs);

/* The response status (0 until the status line is parsed). */
WSG_API int wsg_hs_client_status(const struct wsg_hs_client *hs);

/* The selected subprotocol (ptr NULL if none), the accepted extensions
 * value (ptr NULL if none), and all response headers; valid after feed
 * returned 1 (headers also after a refusal that parsed). */
WSG_API struct wsg_span wsg_hs_client_protocol(const struct wsg_hs_client *hs);
WSG_API struct wsg_span wsg_hs_client_extensions(const struct wsg_hs_client *hs);
WSG_API const struct wsg_header *
wsg_hs_client_headers(const struct wsg_hs_client *hs, size_t *count);

/* ---- helpers ------------------------------------------------------------ */

/* Sec-WebSocket-Accept for a key (section 4.2.2): base64(SHA-1(key +
 * GUID)), written as 28 characters plus a NUL into `out`. Returns WSG_OK
 * or WSG_ERR_INVALID_ARG. */
WSG_API int wsg_hs_accept_value(const char *key, size_t key_len,
                                char out[29]);

/* Iterates over a comma-separated HTTP list (RFC 9110 section 5.6.1),
 * skipping empty elements and optional whitespace. `*pos` starts at 0.
 * Returns true and sets *tok while there is an element. */
WSG_API bool wsg_http_list_next(struct wsg_span list, size_t *pos,
                                struct wsg_span *tok);

/* True if the list holds `token` (ASCII case-insensitive). */
WSG_API bool wsg_http_list_has(struct wsg_span list, const char *token);

#ifdef __cplusplus
}
#endif
#endif
