/* wsg-relay: one HTTP/1.1 message stream (requests from a browser or
 * responses from the upstream) read with llhttp in strict mode.
 *
 * The head is collected whole first (relay_scan_head: strict CRLF, size
 * limits), then given to llhttp in one call, so every header name and value
 * is one span pointing into the caller's buffer. Body bytes go to the
 * owner's on_body callback as they arrive (chunked framing removed, trailers
 * dropped). Each message ends in RELAY_DONE; relay_http_next() starts the
 * next one on the same connection. */
#ifndef WSG_RELAY_PARSE_H
#define WSG_RELAY_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>
#include <wsguard/handshake.h>

#include "headers.h"

#define RELAY_MAX_HEADERS 100
#define RELAY_MAX_LINE 8192     /* request or status line (414) */
#define RELAY_MAX_HEAD 32768    /* whole head (431) */

/* A parsed head; spans point into the bytes given to relay_http_feed and
 * stay valid while the caller keeps them. */
struct relay_head {
    uint8_t method;              /* enum llhttp_method (requests) */
    int status;                  /* responses */
    unsigned major, minor;
    struct wsg_span target;      /* requests */
    struct wsg_span path, query; /* target split at '?'; query.ptr NULL:
                                    none */
    struct wsg_span reason;      /* responses */
    struct wsg_header h[RELAY_MAX_HEADERS];
    size_t n;
    size_t len;                  /* head bytes */
    bool chunked;                /* Transfer-Encoding: chunked */
    bool has_length;             /* Content-Length */
    uint64_t length;
    bool keep_alive;             /* llhttp_should_keep_alive */
    bool upgrade;                /* Upgrade + Connection: upgrade */
};

enum relay_feed {
    RELAY_MORE = 0,  /* all given bytes used (body) or head incomplete */
    RELAY_HEAD,      /* head complete: h->head; *used is its length */
    RELAY_DONE,      /* message complete; *used bytes belonged to it */
    RELAY_ERR        /* h->status (400, 414, 431, 413 from on_body...), h->why */
};

struct relay_http {
    llhttp_t p;
    llhttp_settings_t s;
    struct relay_scan scan;
    struct relay_head head;
    bool request;
    bool in_body;        /* head given to llhttp */
    bool done;           /* message complete */
    bool skip_body;      /* responses to HEAD: set before the head arrives */
    bool pause_at_head;  /* stop at RELAY_HEAD (requests: route first) */
    int hstate;
    int status;          /* on RELAY_ERR */
    const char *why;
    /* Body bytes; return 0, or an HTTP status to stop with RELAY_ERR. */
    int (*on_body)(void *ud, const uint8_t *d, size_t n);
    void *ud;
};

void relay_http_init(struct relay_http *h, bool request,
                     int (*on_body)(void *ud, const uint8_t *d, size_t n),
                     void *ud);
/* Ready for the next message on the same stream. */
void relay_http_next(struct relay_http *h);

/* Feeds bytes. In the head, pass the whole head so far from its first byte
 * each time (nothing is used until it is complete); in the body, any new
 * bytes. After RELAY_HEAD, call again with the bytes after the head. */
enum relay_feed relay_http_feed(struct relay_http *h, const uint8_t *d,
                                size_t n, size_t *used);

/* The stream ended (EOF). RELAY_DONE if that completes the message (a
 * response body delimited by the connection's end), RELAY_MORE if no
 * message had started, else RELAY_ERR (truncated). */
enum relay_feed relay_http_eof(struct relay_http *h);

#endif
