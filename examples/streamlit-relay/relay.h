/* wsg-relay: the hardened relay in front of Streamlit (issue 4). Shared
 * declarations of the program's modules:
 *   main.c       start-up, the loop, signals, drain
 *   cli.c        flags and WSG_* environment -> struct relay_config
 *   front.c      the browser side: accept, read request heads (llhttp),
 *                route: own endpoints, WebSocket upgrades, proxying
 *   headers.c    request/response header rules and path checks (pure)
 *   proxy.c      plain HTTP forwarding, bodies streamed both ways
 *   pool.c       keep-alive upstream connections (TCP or Unix)
 *   ws.c         relay_ws_adopt: hands upgrades to bridge.c
 *   bridge.c     WebSocket upgrades: the guard, the upstream WebSocket,
 *                messages relayed between the two legs
 *   endpoints.c  /_wsguard/health and /_wsguard/metrics
 * One struct relay per worker (one event loop). */
#ifndef WSG_RELAY_H
#define WSG_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/wsguard.h>

struct relay_config {
    const char *listen_host;       /* default "0.0.0.0" */
    const char *listen_port;       /* $WEBSITES_PORT, else $PORT, else 8080 */
    const char *upstream_host;     /* from --upstream http://HOST:PORT */
    const char *upstream_port;     /*   default 127.0.0.1, 8501 */
    const char *upstream_unix;     /* --upstream unix:/path; NULL: TCP */
    const char *base_path;         /* "" or "/prefix" (no trailing '/') */
    const char *ws_path;           /* default base_path + "/_stcore/stream" */
    const char *own_prefix;        /* default "/_wsguard/" */
    uint64_t max_upload;           /* request body bytes; default 200 MiB */
    uint64_t max_message_down;     /* Streamlit -> browser; default 200 MB */
    bool client_binary_only;       /* refuse text from the browser (1003) */
    const char *identity_header;   /* trusted header -> X-Streamlit-User */
    const char *csp;               /* Content-Security-Policy for pages */
    uint32_t upstream_timeout_ms;  /* response head deadline (504) */
    uint32_t drain_timeout_ms;     /* SIGTERM: wait this long */
    uint32_t pool_idle;            /* idle upstream connections kept */
    unsigned workers;              /* default 1 */
    bool audit;                    /* audit JSON lines on stdout */
    bool verbose;                  /* diagnostics on stderr */
    struct wsg_policy *policy;     /* every WSG_* policy setting */
};

struct relay;

/* ws.c: takes over a WebSocket upgrade request: `fd` and every byte read
 * from it so far from the start of this request's head (the head itself,
 * maybe frames after it). Returns 0 when taken (the fd belongs to lib/io
 * from now on, even if the upgrade is then refused), -1 when not (the fd
 * is still the caller's, which answers 503). */
int relay_ws_adopt(struct relay *r, int fd, const uint8_t *data, size_t len);

/* ---- the HTTP side (front.c; appended by the HTTP proxy's author) -------
 * struct relay itself (loop, config, ws_server, guard, counters) is in
 * relay_int.h. */
struct relay_conn;

/* A request under own_prefix, for endpoints.c. Every pointer is valid only
 * during the relay_endpoint() call. */
struct relay_request {
    const char *method;            /* "GET", "HEAD", ... */
    struct wsg_span target;        /* as sent */
    struct wsg_span path, query;   /* query.ptr NULL: none */
    const struct wsg_header *headers;
    size_t header_count;
    const char *peer;              /* socket peer "ip:port" */
    const char *client;            /* client address (trusted proxies) */
    bool peer_trusted;             /* the peer is a --trusted-proxy */
    bool https;                    /* arrived over HTTPS (H1 rules) */
    bool has_body;                 /* a body follows (it is not read) */
};

/* endpoints.c: answers a request whose path starts with own_prefix by
 * calling relay_respond(c, ...) exactly once, now or later from a loop
 * callback (the connection waits, not reading, until then). Returns 0
 * when it did or will, -1 when the path is not one of its endpoints
 * (front.c answers 404). */
int relay_endpoint(struct relay *r, struct relay_conn *c,
                   const struct relay_request *req);

/* endpoints.c: the connection `c` that waits for relay_respond() is going
 * away (relay shutdown): forget it; never call relay_respond(c) after. */
void relay_endpoint_cancel(struct relay *r, struct relay_conn *c);

/* endpoints.c: the health probe's schedule (after relay_pool_init). */
int relay_endpoints_init(struct relay *r);
void relay_endpoints_free(struct relay *r);

/* front.c: the complete answer to an endpoint request: status, a
 * Content-Type (NULL: text/plain; charset=utf-8), the body (HEAD: left
 * out), security headers (H10), Cache-Control: no-store. */
void relay_respond(struct relay_conn *c, int status, const char *content_type,
                   const void *body, size_t len);

/* probe.c: sends "GET <path>" to the upstream on a connection of its own
 * (Connection: close) and calls done(ud, status) exactly once, from a loop
 * callback, with the response's status, or 0 when none came within
 * timeout_ms (refused, reset, malformed, silent, a 1xx). For the health
 * endpoint: relay_upstream_probe(r, "<base>/_stcore/health", ...). Returns
 * the probe, valid until done is called, or NULL (bad path, no memory,
 * done never called). relay_probe_cancel: done is never called. */
struct relay_probe;
struct relay_probe *relay_upstream_probe(struct relay *r, const char *path,
                                         uint32_t timeout_ms,
                                         void (*done)(void *ud, int status),
                                         void *ud);
void relay_probe_cancel(struct relay_probe *p);

/* ws.c: set up (after the loop, the guard and relay_front_init) and tear
 * down the WebSocket side (r->ws_server, r->ws). Return 0 or -1. */
int relay_ws_init(struct relay *r);
void relay_ws_free(struct relay *r);

#endif
