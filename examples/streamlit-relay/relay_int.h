/* wsg-relay: the state shared by the modules of one worker (one loop).
 *
 *   struct relay       one per worker: config, loop, guard, counters, the
 *                      listener, the browser connections, the upstream pool
 *   struct relay_conn  one browser connection (front.c) and, while it is
 *                      proxied, its exchange (proxy.c)
 *   struct relay_up    one upstream connection (pool.c opens and keeps it,
 *                      proxy.c drives it while it carries an exchange)
 *
 * Bounds (HARDENING.md H12), per browser connection: a request head of at
 * most RELAY_MAX_HEAD bytes, at most RELAY_IO_CHUNK more read ahead;
 * output held for the browser and for the upstream each stops the other
 * side's reading above RELAY_HIGH_WATER (256 KiB). Pending bytes of a
 * proxied exchange, worst case, whatever its bodies' sizes: browser input
 * 96 KiB + browser output 320 KiB + upstream output 320 KiB + upstream
 * input 96 KiB, about 830 KiB (buffers grow by doubling: capacity at most
 * twice that; an empty output buffer over 64 KiB is freed). Measured: a
 * 50 MB upload or download raises the relay's peak RSS by under 1 MB. */
#ifndef WSG_RELAY_INT_H
#define WSG_RELAY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <wsguard/wsguard.h>

#include "headers.h"
#include "parse.h"
#include "relay.h"

#define RELAY_HIGH_WATER (256u * 1024)  /* stop reading the other side */
#define RELAY_IO_CHUNK (64u * 1024)     /* bytes per read() */
#define RELAY_MAX_CONNS 10000           /* browser connections held */
#define RELAY_HEAD_TIMEOUT_MS 10000     /* a request head, first byte to
                                           last (slowloris, T5); the
                                           policy's handshake-timeout */
#define RELAY_KEEPALIVE_MS 300000       /* idle browser connection between
                                           requests (> Azure's 240 s) */
#define RELAY_BODY_STALL_MS 60000       /* no request body byte for this
                                           long: the browser is gone */
#define RELAY_CONNECT_TIMEOUT_MS 5000   /* upstream connect (capped by
                                           upstream_timeout_ms) */
#define RELAY_LINGER_MS 2000            /* read and discard after our FIN */
#define RELAY_MAX_TRUSTED 64

/* Counters for /_wsguard/metrics (endpoints.c) and logs. */
struct relay_stats {
    uint64_t conns_open;       /* browser connections held by front.c */
    uint64_t conns_total;      /* accepted */
    uint64_t requests;         /* request heads read */
    uint64_t responses[6];     /* written by the HTTP side, by status
                                  class: [1] 1xx ... [5] 5xx */
    uint64_t bytes_in;         /* read from browsers (HTTP side) */
    uint64_t bytes_out;        /* written to browsers (HTTP side) */
    uint64_t upstream_errors;  /* 502, 504, exchanges cut mid-response */
    uint64_t upstream_conns;   /* upstream connections opened */
    uint64_t ws_handed;        /* upgrades taken by relay_ws_adopt */
    uint64_t refused_path;     /* 400 from relay_path_check (T15) */
    uint64_t refused_upload;   /* 413 */
};

struct relay_conn;
struct relay_up;

struct relay {
    const struct relay_config *cfg;
    struct wsg_loop *loop;
    struct wsg_server *ws_server;   /* non-listening, for adoption (ws.c) */
    struct wsg_guard *guard;        /* NULL without a policy */
    void *ws;                       /* ws.c's state */
    void *ep;                       /* endpoints.c's state */
    struct relay_stats st;
    bool draining;                  /* stop accepting; 503 new requests */
    /* Audit events (H11) of the relay itself: refusals of the HTTP side
     * (and ws.c's). main.c sets it (and the policy's callback) to print
     * JSON lines on stdout; NULL: none. */
    void (*audit)(void *ud, const struct wsg_audit_event *ev);
    void *audit_ud;

    /* front.c */
    int listen_fd;
    struct wsg_watch *listen_w;
    struct wsg_timer *accept_t;     /* resumes accepting after EMFILE */
    uint32_t head_timeout_ms;       /* request head deadline */
    struct relay_conn *conns;       /* every browser connection */

    /* pool.c */
    struct sockaddr_storage up_addr;
    socklen_t up_addrlen;
    struct relay_up *idle;          /* idle upstream connections */
    size_t idle_count;

    /* Trust and headers, from the policy (front.c, relay_front_init). */
    struct wsg_cidr trusted[RELAY_MAX_TRUSTED];
    size_t trusted_count;
    char client_ip_header[64];      /* "" : none */
    bool require_https;             /* H1: refuse plain-HTTP requests */
    bool https_redirect;            /* H1: GET/HEAD -> 301 https:// */
    struct wsg_security_headers sec;
    char sec_text[4][1024];         /* values read from the policy */
    struct wsg_header sec_list[8];  /* H10, every HTTP response */
    size_t sec_count;
};

/* ---- a proxied exchange (proxy.c) ----------------------------------------- */

struct relay_exchange {
    struct relay_up *up;
    struct wsg_timer *t;       /* progress deadline (504) */
    uint64_t req_bytes;        /* request body bytes */
    bool req_chunked;          /* re-framed as chunked to the upstream */
    bool req_done;             /* request body complete */
    bool head_method;          /* HEAD: the response has no body */
    bool resp_head;            /* response head sent to the browser */
    bool resp_chunked;         /* re-framed as chunked to the browser */
    bool resp_done;
    bool up_keep_alive;        /* the upstream connection may be reused */
    bool close_after;          /* close the browser connection after */
    bool retried;              /* no (more) retry on a new connection */
    bool write_dead;           /* the upstream stopped taking the request
                                  (closed after an early answer): its
                                  answer is still read; the rest of the
                                  request is not sent */
    uint8_t *replay;           /* a bodiless request's upstream head, for
                                  one retry when a reused connection died */
    size_t replay_len;
};

/* ---- a browser connection (front.c) ----------------------------------------- */

enum relay_conn_state {
    RC_HEAD,       /* reading a request head */
    RC_PROXY,      /* an exchange with the upstream (proxy.c) */
    RC_ENDPOINT,   /* waiting for relay_respond() (endpoints.c) */
    RC_CLOSING,    /* write what is left, then FIN and linger */
    RC_LINGER      /* FIN sent: read and discard until EOF or deadline */
};

struct relay_conn {
    struct relay *r;
    struct relay_conn *prev, *next;
    int fd;
    struct wsg_watch *w;
    struct wsg_timer *t;        /* head / keep-alive / linger deadline */
    struct wsg_addr peer;
    char peer_text[64];         /* "ip:port" */
    bool peer_trusted;
    char client[WSG_ADDR_STRLEN]; /* client address (trusted proxies) */
    enum relay_conn_state state;
    struct relay_buf in;        /* read, not yet used */
    struct relay_buf out;       /* to write */
    struct relay_http http;     /* request parser */
    bool keep_alive;            /* after this response */
    bool http10;
    bool eof;                   /* the browser sent FIN */
    struct relay_exchange ex;   /* RC_PROXY */
};

/* ---- an upstream connection (pool.c) ---------------------------------------- */

struct relay_up {
    struct relay *r;
    struct relay_up *next;      /* idle list */
    int fd;
    struct wsg_watch *w;
    struct wsg_timer *t;        /* connect deadline */
    bool connecting;
    bool reused;                /* carried an exchange before */
    bool idle;                  /* in the idle list */
    struct relay_conn *c;       /* the exchange's browser side; NULL: idle */
    struct relay_buf in, out;
    struct relay_http http;     /* response parser */
};

/* ---- front.c, listen.c ------------------------------------------------------ */

/* front.c: a new browser connection (listen.c accepted it); frees one. */
void relay_conn_new(struct relay *r, int fd, const struct sockaddr *sa,
                    socklen_t salen);
void relay_conn_free(struct relay_conn *c);

/* listen.c: reads trust and security headers from the policy, opens the
 * listener and watches it. Returns 0 or -1 (message on stderr). */
int relay_front_init(struct relay *r);
/* Stops accepting (drain). */
void relay_front_stop_accepting(struct relay *r);
/* Drain: closes the browser connections idle between requests (the others
 * finish their exchange and close after it). */
void relay_front_close_idle(struct relay *r);
/* Closes every browser connection and the listener. */
void relay_front_free(struct relay *r);

/* For proxy.c: queue output / change what the connection waits for. */
void relay_conn_update(struct relay_conn *c);
/* An answer of the relay's own (error or endpoint); `close` ends the
 * connection after it. */
void relay_conn_error(struct relay_conn *c, int status, const char *text,
                      bool close);
/* The exchange is over: the next request, or close if `close`. */
void relay_conn_finish(struct relay_conn *c, bool close);
/* Ends the connection now (no more output). */
void relay_conn_kill(struct relay_conn *c);
/* A "refuse" audit event for the current request of `c`: control id,
 * status, reason; the path when a head was parsed (`path` may be NULL). */
void relay_audit_refuse(struct relay_conn *c, int status, int control,
                        const char *reason, const struct wsg_span *path);
/* Counts a response by status class. */
void relay_count_status(struct relay *r, int status);

/* ---- proxy.c ---------------------------------------------------------------- */

/* The request parser's body callback (ud: the relay_conn). */
int relay_proxy_req_body(void *ud, const uint8_t *d, size_t n);
/* Starts forwarding the request whose head is in c->http.head. */
void relay_proxy_start(struct relay_conn *c);
/* More request bytes in c->in (the body). */
void relay_proxy_input(struct relay_conn *c);
/* c->out was written down (resume reading the upstream). */
void relay_proxy_drained(struct relay_conn *c);
/* The browser connection is going away: drop the exchange. */
void relay_proxy_abort(struct relay_conn *c);
/* Should front.c read the browser now? */
bool relay_proxy_want_read(const struct relay_conn *c);
/* pool.c: an owned upstream connection is ready (revents) or failed
 * (err < 0 before any byte: connect refused or timed out). */
void relay_proxy_up_io(struct relay_up *u, unsigned revents);
void relay_proxy_up_failed(struct relay_up *u, int err);
/* The response parser's body callback (ud: the relay_up). */
int relay_proxy_resp_body(void *ud, const uint8_t *d, size_t n);

/* ---- pool.c ------------------------------------------------------------------ */

/* Resolves --upstream once. Returns 0 or -1 (message on stderr). */
int relay_pool_init(struct relay *r);
/* An idle connection (u->reused; unless `fresh`) or a new one,
 * connecting. NULL if no socket could be made or the connect failed at
 * once. The caller owns it (sets u->c) until put or drop. */
struct relay_up *relay_pool_get(struct relay *r, bool fresh);
/* Back to the idle pool (reusable) or closed (pool full). */
void relay_pool_put(struct relay_up *u);
/* Closed and freed. */
void relay_pool_drop(struct relay_up *u);
/* The watch interest of an owned connection. */
void relay_up_want(struct relay_up *u, bool read, bool write);
void relay_pool_free(struct relay *r);

#endif
