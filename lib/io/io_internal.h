/* lib/io internals: shared by loop.c, sock.c, session.c, server.c,
 * client.c. Not installed. */
#ifndef WSG_IO_INTERNAL_H
#define WSG_IO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netdb.h>
#include <sys/socket.h>

#include <wsguard/core.h>
#include <wsguard/handshake.h>
#include <wsguard/io.h>

#include "core/alloc.h"

/* ---- allocation ---------------------------------------------------------- */

/* Allocation helpers: core/alloc.h. Like core and handshake, lib/io refuses
 * an allocator without malloc or free (WSG_ERR_INVALID_ARG). */

/* ---- loop ---------------------------------------------------------------- */

/* Deferred work: runs after the current round's events and timers. Embedded
 * in the owner; unlink before freeing the owner. */
struct wsg__defer {
    struct wsg__defer *prev, *next;
    bool queued;
    void (*cb)(struct wsg__defer *d);
};

void wsg__defer_queue(struct wsg_loop *loop, struct wsg__defer *d);
void wsg__defer_cancel(struct wsg_loop *loop, struct wsg__defer *d);

const struct wsg_allocator *wsg__loop_alloc(const struct wsg_loop *loop);
/* The shared read buffer: valid inside one callback only. */
uint8_t *wsg__loop_rbuf(struct wsg_loop *loop, size_t *len);

/* ---- sockets (sock.c) ---------------------------------------------------- */

/* Formats "ip:port" ("[v6]:port", "unix" for AF_UNIX) into buf (at least
 * 64 bytes). */
void wsg__addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
                      size_t cap);
/* TCP_NODELAY, best effort. */
void wsg__sock_nodelay(int fd);
/* SO_KEEPALIVE (idle 60 s, interval 10 s, 5 probes) and, if not 0,
 * TCP_USER_TIMEOUT; best effort. */
void wsg__sock_keepalive(int fd, uint32_t user_timeout_ms);
/* Bytes in the socket's send queue (not yet acknowledged), SIZE_MAX if
 * unknown. */
size_t wsg__sock_outq(int fd);

/* ---- sessions (session.c) ------------------------------------------------ */

enum wsg__phase {
    WSG__PH_CONNECTING = 0, /* client: non-blocking connect in progress */
    WSG__PH_CLIENT_HS,      /* client: request out, response in */
    WSG__PH_SERVER_HS,      /* server: reading the request */
    WSG__PH_DEFERRED,       /* server: on_upgrade deferred the answer */
    WSG__PH_REFUSING,       /* server: writing a refusal */
    WSG__PH_LINGER,         /* FIN sent (after a refusal or the close
                               handshake), draining input */
    WSG__PH_OPEN,           /* WebSocket (OPEN or CLOSING in the core) */
    WSG__PH_DEAD            /* transport closed, teardown queued */
};

/* What wsg_server_adopt() found in the bytes it was given, acted on in the
 * session's first pump (callbacks never run inside the adopt call). */
enum wsg__adopt {
    WSG__ADOPT_NONE = 0,    /* nothing (or a partial head): read the fd */
    WSG__ADOPT_HEAD,        /* a complete upgrade request: decide */
    WSG__ADOPT_BAD,         /* a refused head: answer its status */
    WSG__ADOPT_FULL         /* over max_connections: answer 503 */
};

struct wsg_server;

struct wsg_session {
    struct wsg_loop *loop;
    struct wsg_allocator alloc;
    struct wsg_server *srv;                 /* NULL for a client */
    struct wsg_session *prev, *next;        /* server's list */
    struct wsg_session_callbacks cb;
    enum wsg__phase phase;

    int fd;
    struct wsg_watch *watch;
    unsigned watching;                      /* events set on the watch */
    struct wsg_timer *timer;
    struct wsg_transport_factory tfac;
    const struct wsg_transport_ops *tops;
    void *tctx;
    unsigned read_want;                     /* after a read AGAIN */
    unsigned write_want;                    /* after a write AGAIN; 0: no
                                               write is blocked */

    /* handshake */
    struct wsg_hs_server *hs_srv;
    struct wsg_hs_client *hs_cli;
    const uint8_t *hs_out;                  /* 101, refusal or request */
    size_t hs_out_len, hs_out_off;
    uint64_t hs_deadline;                   /* UINT64_MAX when none */
    enum wsg__adopt adopt;
    size_t linger_bytes;
    int linger_err;                         /* how LINGER ends */

    /* WebSocket */
    struct wsg_conn_config conn_cfg;
    struct wsg_conn *conn;
    size_t pause_output;
    bool bp_paused;                         /* backpressure */
    bool user_paused;                       /* wsg_session_pause */
    bool over;                              /* was over pause_output */
    uint8_t *stash;                         /* input not yet fed */
    size_t stash_len, stash_off;
    struct wsg_rng *rng;                    /* client: own CSPRNG */

    /* time limits of an OPEN session (session_time.c; H7, H12) */
    uint32_t ping_interval_ms, pong_timeout_ms, idle_timeout_ms;
    uint32_t write_stall_ms;
    uint64_t last_rx;                       /* bytes last read */
    uint64_t last_msg;                      /* data last received */
    uint64_t ping_at;                       /* our keepalive Ping; 0: none
                                               outstanding */
    uint64_t wr_progress;                   /* output last shrank */
    size_t wr_outq;                         /* kernel send queue when a
                                               write blocked; SIZE_MAX:
                                               not sampled */
    bool wr_armed;                          /* output pending: the stall
                                               clock runs */
    bool rd_eof;                            /* the peer sent FIN: flushing */
    uint64_t eof_deadline;
    int self_err;                           /* we closed (WSG_ERR_TIMEOUT) */

    /* client connect */
    struct addrinfo *ai_list, *ai_cur;
    char *unix_path;                        /* instead of ai_list */
    bool unix_tried;
    char *server_name;
    int connect_errno;

    /* identity and results */
    bool seen;                              /* on_close is owed */
    bool opened;
    void *data;
    char peer[64];
    char *protocol;
    int end_err;
    int fail_err;                           /* core WSG_EV_FAIL */
    int refuse_status;
    int refuse_err;
    char refuse_reason[128];
    int http_status;
    uint16_t peer_code;
    char peer_reason[128];
    size_t peer_reason_len;
    char detail[160];

    struct wsg__defer kick;                 /* pump stash + flush */
    struct wsg__defer teardown;
};

/* Creates a session on an fd (or -1 for a client before connecting), with
 * callbacks and allocator copied. */
int wsg__session_new(struct wsg_loop *loop, const struct wsg_allocator *alloc,
                     const struct wsg_session_callbacks *cb,
                     struct wsg_session **out);
/* Adopts a connected fd: transport, watch, state. */
int wsg__session_attach(struct wsg_session *s, int fd, bool server_side);
/* Arms the session's timer for its earliest deadline. */
void wsg__session_rearm(struct wsg_session *s);
/* Ends the session with `err`; teardown is deferred. `detail` may be
 * NULL. */
void wsg__session_end(struct wsg_session *s, int err, const char *detail);
/* Immediate teardown (used by wsg_server_free): callbacks are called. */
void wsg__session_destroy(struct wsg_session *s);
/* Schedules the pump (feed stash, flush). */
void wsg__session_kick(struct wsg_session *s);
/* Writes a refusal and lingers. */
int wsg__session_refuse(struct wsg_session *s, int status, const char *reason,
                        const struct wsg_header *headers, size_t n, int err);
/* Writes the 101 and opens the core connection. */
int wsg__session_accept(struct wsg_session *s,
                        const struct wsg_hs_accept_opts *opts);
/* Handles a readable/writable fd in CONNECTING (client.c). */
void wsg__client_connect_ready(struct wsg_session *s);
/* Handles the bytes of a handshake; returns false when it stopped the
 * session or the bytes after the head were stashed. */
void wsg__client_hs_input(struct wsg_session *s, const uint8_t *buf,
                          size_t len);
void wsg__server_hs_input(struct wsg_session *s, const uint8_t *buf,
                          size_t len);
/* An adopted session's first pump: acts on s->adopt. */
void wsg__server_adopted(struct wsg_session *s);
/* Server bookkeeping when a session is torn down. */
void wsg__server_session_gone(struct wsg_server *srv, struct wsg_session *s);
/* Backpressure bookkeeping after queuing output. */
void wsg__session_check_over(struct wsg_session *s);
/* Sets the watch's interest from the session's state. */
void wsg__session_update_watch(struct wsg_session *s);
/* Handshake bytes (101, refusal, request) not yet written. */
size_t wsg__session_hs_out_left(const struct wsg_session *s);
/* client.c: adopt a connecting fd; run the pump. */
void wsg__client_set_fd(struct wsg_session *s, int fd);
void wsg__client_pump(struct wsg_session *s);
/* session_time.c: the clocks of an OPEN session. _opened starts them,
 * _rx_resumed restarts the receive clocks (after a pause nothing was
 * read by our choice), _deadline gives the earliest one (UINT64_MAX:
 * none) and _expire acts on those that passed (may queue a Ping or a
 * Close, or end the session). */
void wsg__session_opened(struct wsg_session *s);
void wsg__session_rx_resumed(struct wsg_session *s);
uint64_t wsg__session_deadline(struct wsg_session *s);
void wsg__session_expire(struct wsg_session *s, uint64_t now);
/* Reading is paused (backpressure, wsg_session_pause, stash waiting). */
bool wsg__session_input_paused(const struct wsg_session *s);
/* Sets the stash to a copy of buf (replaces the current one). */
int wsg__session_stash(struct wsg_session *s, const uint8_t *buf, size_t len);

#endif
