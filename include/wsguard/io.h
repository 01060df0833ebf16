/* wsguard io: the POSIX adapter.
 *
 * The only part of wsguard that touches file descriptors, clocks and the
 * system's random source. It is one way to drive the sans-I/O core and
 * handshake (wsguard/core.h, wsguard/handshake.h); an embedder with its own
 * event loop can ignore it.
 *
 *   wsg_loop     a small epoll loop: fd watches, timers (a min-heap of
 *                CLOCK_MONOTONIC millisecond deadlines), deferred work.
 *   wsg_rng      a CSPRNG (mbedTLS CTR-DRBG seeded from mbedtls_entropy),
 *                usable as the core's `struct wsg_random`.
 *   wsg_server   listens and accepts (or adopts connections from a front
 *                end that read the request head), runs the server
 *                handshake with a deadline, then one wsg_session per
 *                connection.
 *   wsg_client   resolves, connects (TCP or a Unix socket; non-blocking,
 *                with a deadline), runs the client handshake, then one
 *                wsg_session.
 *   wsg_session  one WebSocket connection on a transport: reads with
 *                backpressure, batched writes (writev), close handshake
 *                deadline, callbacks for messages and the end.
 *   wsg_transport_ops  how a session reads and writes its fd: plain TCP by
 *                default; a TLS adapter supplies its own.
 *
 * Threading: one loop and everything on it belong to one thread.
 * Signals: the library installs no signal handler and never raises SIGPIPE
 * (it sends with MSG_NOSIGNAL). Programs that want SIGINT/SIGTERM handling
 * watch a signalfd or a self-pipe with wsg_watch_new().
 * Callbacks: if a function that takes a callback fails, the callback is
 * never called for that object. Callbacks may call any function of this API
 * on any object, including closing or aborting the session they were called
 * for and freeing watches and timers; objects are torn down after the
 * callback returns. Two exceptions: wsg_loop_free() must never be called
 * from a callback (stop the loop and free it after wsg_loop_run()
 * returns), and wsg_server_free() not from a callback of one of that
 * server's sessions (use wsg_server_shutdown()).
 *
 * Time and memory bounds of a session (HARDENING.md H7, H12), with the
 * defaults of wsg_server_config_init_default():
 *   - handshake: handshake_timeout_ms (10 s) from accept to the 101;
 *   - OPEN: a Ping after ping_interval_ms (25 s) without input; no Pong
 *     (or other input) within pong_timeout_ms (30 s): Close 1011, then
 *     the close deadline (conn.close_timeout_ms, 5 s): a silent dead peer
 *     is gone after about 60 s; optional idle_timeout_ms (off); output
 *     that makes no progress for write_stall_timeout_ms (60 s): abort;
 *     TCP keepalive (60 s idle, 5 probes 10 s apart) and TCP_USER_TIMEOUT
 *     (= write_stall_timeout_ms) for peers that vanish without FIN or RST;
 *   - closing: the close deadline (5 s), then a lingering close of at most
 *     2 s and 8 MiB of discarded input.
 *   Memory held per OPEN session, worst case: conn.max_message (1 MiB, the
 *   message being assembled) + conn.max_output (4 MiB, counting the queue's
 *   own memory) + 64 KiB for control frames the core answers + the stash
 *   of unfed input (at most the loop's read_buffer, 64 KiB) + about 72 KiB
 *   fixed (a kept 64 KiB message buffer, a 4 KiB output chunk, the session
 *   and conn structs): about 5.2 MiB with the defaults; reading stops at
 *   pause_output (2 MiB pending) so echoed input cannot grow output
 *   without bound. A session in the handshake holds up to about 45 KiB.
 *   Size max_connections (10000) against this: 10000 x 5.2 MiB is about
 *   52 GiB if every peer does its worst. */
#ifndef WSGUARD_IO_H
#define WSGUARD_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/core.h>
#include <wsguard/err.h>
#include <wsguard/export.h>
#include <wsguard/handshake.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- clock -------------------------------------------------------------- */

/* CLOCK_MONOTONIC in milliseconds: the `now_ms` the core expects. */
WSG_API uint64_t wsg_clock_ms(void);

/* ---- loop --------------------------------------------------------------- */

struct wsg_loop;

struct wsg_loop_config {
    const struct wsg_allocator *alloc; /* NULL: libc; one without malloc
                                          or free: INVALID_ARG */
    uint32_t max_events;     /* epoll events per wait; default 256 */
    size_t read_buffer;      /* bytes read per read() call, shared by every
                                session on the loop; default 64 KiB */
};

WSG_API void wsg_loop_config_init_default(struct wsg_loop_config *cfg);

/* `cfg` may be NULL (defaults). Returns WSG_OK, WSG_ERR_INVALID_ARG,
 * WSG_ERR_NOMEM or WSG_ERR_IO (epoll_create1 failed). */
WSG_API int wsg_loop_new(const struct wsg_loop_config *cfg,
                         struct wsg_loop **out);

/* Frees the loop. Servers, client sessions, watches and timers on it must
 * have been freed (or ended) first; run one more wsg_loop_run_once(loop, 0)
 * before this so that deferred teardowns finish. Never from a callback of
 * this loop (the loop is still dispatching). */
WSG_API void wsg_loop_free(struct wsg_loop *loop);

/* Runs until wsg_loop_stop() or until nothing is left to wait for (no
 * active watch, no armed timer). Returns WSG_OK or WSG_ERR_IO. */
WSG_API int wsg_loop_run(struct wsg_loop *loop);

/* One round: waits up to `timeout_ms` (-1: until the next timer or event;
 * 0: poll), dispatches events, expired timers and deferred work. Returns
 * the number of callbacks run (>= 0) or WSG_ERR_IO. */
WSG_API int wsg_loop_run_once(struct wsg_loop *loop, int timeout_ms);

/* Makes wsg_loop_run() return after the current round. Safe to call from a
 * callback. */
WSG_API void wsg_loop_stop(struct wsg_loop *loop);

/* The loop's time: wsg_clock_ms() sampled at the start of the round. */
WSG_API uint64_t wsg_loop_now(const struct wsg_loop *loop);

/* fd watches. `events` is a mix of WSG_IO_READ and WSG_IO_WRITE (0 keeps
 * the watch registered but idle); the callback gets the ready ones, plus
 * WSG_IO_ERROR on error or hang-up. Level-triggered. */
#define WSG_IO_READ 0x1u
#define WSG_IO_WRITE 0x2u
#define WSG_IO_ERROR 0x4u

struct wsg_watch;

/* Watches `fd` (not owned: wsg_watch_free does not close it). One watch
 * per fd: a second watch on an fd that is still watched fails with
 * WSG_ERR_IO. Free the watch before closing its fd. If the fd was closed
 * first, the watch is dead (it gets no events); once the fd number has been
 * reused and watched again, wsg_watch_set on the old watch returns
 * WSG_ERR_IO and wsg_watch_free on it frees only it (the new watch stays
 * registered). Closing a watched fd that has duplicates (dup, fork) leaves
 * it registered in epoll: don't. Returns WSG_OK, WSG_ERR_INVALID_ARG,
 * WSG_ERR_NOMEM or WSG_ERR_IO (epoll_ctl). */
WSG_API int wsg_watch_new(struct wsg_loop *loop, int fd, unsigned events,
                          void (*cb)(struct wsg_watch *w, unsigned revents,
                                     void *ud),
                          void *ud, struct wsg_watch **out);
WSG_API int wsg_watch_set(struct wsg_watch *w, unsigned events);
WSG_API int wsg_watch_fd(const struct wsg_watch *w);
/* Stops watching and frees (later, if inside a dispatch). NULL: no-op. */
WSG_API void wsg_watch_free(struct wsg_watch *w);

/* Timers: one-shot, at an absolute wsg_clock_ms() time. */
struct wsg_timer;

WSG_API int wsg_timer_new(struct wsg_loop *loop,
                          void (*cb)(struct wsg_timer *t, void *ud), void *ud,
                          struct wsg_timer **out);
/* Arms (or re-arms) the timer at `deadline_ms`; UINT64_MAX disarms. */
WSG_API void wsg_timer_start(struct wsg_timer *t, uint64_t deadline_ms);
WSG_API void wsg_timer_stop(struct wsg_timer *t);
WSG_API void wsg_timer_free(struct wsg_timer *t);

/* ---- random ------------------------------------------------------------- */

/* mbedTLS CTR-DRBG (AES-256) seeded from mbedtls_entropy (the OS source);
 * reseeds itself. Not thread-safe: one per thread or loop. */
struct wsg_rng;

/* `personal` (may be NULL) is mixed into the seed. Returns WSG_OK,
 * WSG_ERR_INVALID_ARG (an allocator without malloc or free), WSG_ERR_NOMEM
 * or WSG_ERR_RANDOM (seeding failed). */
WSG_API int wsg_rng_new(const struct wsg_allocator *alloc,
                        const char *personal, struct wsg_rng **out);
WSG_API void wsg_rng_free(struct wsg_rng *rng);
/* Returns WSG_OK or WSG_ERR_RANDOM. */
WSG_API int wsg_rng_fill(struct wsg_rng *rng, uint8_t *buf, size_t len);
/* The rng as the core's random source (fill = wsg_rng_fill). */
WSG_API struct wsg_random wsg_rng_random(struct wsg_rng *rng);

/* ---- transport ---------------------------------------------------------- */

/* How a session moves bytes. Plain TCP is built in (wsg_transport_tcp());
 * a TLS adapter supplies its own ops over the same fd. Each op returns
 * WSG_OK, WSG_ERR_AGAIN (would block: wait for `*want`, WSG_IO_READ or
 * WSG_IO_WRITE; a TLS record may need the opposite direction),
 * WSG_ERR_PEER_CLOSED (orderly end of stream), WSG_ERR_IO or WSG_ERR_TLS. */
struct wsg_transport_ops {
    int (*read)(void *ctx, int fd, uint8_t *buf, size_t len, size_t *got,
                unsigned *want);
    int (*writev)(void *ctx, int fd, const struct wsg_iovec *iov, size_t n,
                  size_t *put, unsigned *want);
    /* Bytes already decrypted and buffered (readable without the fd being
     * readable); NULL: never. */
    size_t (*pending)(void *ctx);
    /* Before the fd is closed (e.g. TLS close_notify); best effort; NULL:
     * nothing. */
    void (*shutdown)(void *ctx, int fd);
    /* Frees ctx; NULL: nothing. The session closes the fd itself. */
    void (*free)(void *ctx);
};

/* A transport for a new fd. Called by servers for every accepted fd and by
 * clients once connected; sets *ops and *ctx. Returns WSG_OK or an error
 * (the connection is then dropped). NULL factory: plain TCP. */
struct wsg_transport_factory {
    int (*wrap)(void *ud, int fd, bool server_side, const char *server_name,
                const struct wsg_transport_ops **ops, void **ctx);
    void *ud;
};

/* Plain TCP: recv/sendmsg with MSG_NOSIGNAL; ctx is unused (NULL). */
WSG_API const struct wsg_transport_ops *wsg_transport_tcp(void);

/* ---- sessions ----------------------------------------------------------- */

/* One WebSocket connection driven by the loop. Owned by its server or
 * client; the handle is valid from the first callback that names it until
 * on_close returns. */
struct wsg_session;

/* How a session ended, for on_close. */
struct wsg_close_info {
    int err;               /* WSG_OK: a clean close handshake; else why
                              (WSG_ERR_PEER_CLOSED: transport closed without
                              one; WSG_ERR_TIMEOUT; WSG_ERR_IO; a core
                              failure such as WSG_ERR_PROTOCOL;
                              WSG_ERR_HANDSHAKE / WSG_ERR_HTTP before open) */
    bool opened;           /* on_open was called */
    uint16_t code;         /* the peer's close code: 1005 if it sent none in
                              its Close, 1006 if no Close arrived */
    const char *reason;    /* the peer's reason, UTF-8, NUL-terminated */
    size_t reason_len;
    uint16_t code_sent;    /* our close code, 0 if none sent */
    int http_status;       /* client: the response's status: 101 after a
                              successful handshake, the refusal status
                              when it failed, 0 if no response head
                              arrived. Server: 0 */
    const char *detail;    /* human-readable detail (handshake reason,
                              strerror); never NULL */
};

/* Passed to a server's on_upgrade: the validated request and the answer.
 * Pointers the callback stores must stay valid until the callback returns
 * (the 101 is written before that), or, when deferring, until
 * wsg_session_accept()/wsg_session_refuse(). */
struct wsg_upgrade {
    const struct wsg_hs_request *request;
    const char *peer;                   /* "ip:port" of the client */
    struct wsg_hs_accept_opts accept;   /* subprotocol, extensions, extra
                                           headers of the 101; zeroed */
    struct wsg_conn_config conn;        /* this session's core config: a
                                           copy of the server's; may be
                                           changed (e.g. delivery, limits) */
    const char *refuse_reason;          /* when refusing; NULL: standard */
    const struct wsg_header *refuse_headers; /* e.g. WWW-Authenticate,
                                                Retry-After */
    size_t refuse_header_count;
    void *session_data;                 /* set: wsg_session_data() */
};

/* on_upgrade's answer: 0 accepts, an HTTP status (400-599) refuses,
 * WSG_UPGRADE_DEFER decides later with wsg_session_accept() or
 * wsg_session_refuse() (reading stops meanwhile; the handshake deadline
 * still runs). */
#define WSG_UPGRADE_ACCEPT 0
#define WSG_UPGRADE_DEFER 1

/* A refusal, for audit logs. */
struct wsg_refusal {
    const char *peer;       /* "ip:port" */
    int status;             /* HTTP status sent; 0 if the connection was
                               dropped without a response (deadline, read
                               error, peer closed) */
    int err;                /* WSG_ERR_HTTP (malformed), WSG_ERR_POLICY
                               (refused by on_upgrade, or adopted over
                               max_connections), WSG_ERR_TIMEOUT,
                               WSG_ERR_PEER_CLOSED, WSG_ERR_IO, ... */
    const char *reason;     /* short reason; never NULL */
    const struct wsg_hs_request *request; /* the upgrade, or a plain GET
                                             (wsg_hs_server_plain_request);
                                             NULL if none parsed */
};

/* The answer about to be sent to a request the handshake refused (or to
 * one that came while the server shuts down), for on_http_refusal to
 * amend. */
struct wsg_http_answer {
    const char *peer;                      /* "ip:port" */
    const struct wsg_hs_request *request;  /* a plain GET without Upgrade
                                              (wsg_hs_server_plain_request);
                                              NULL for anything else */
    int status;                            /* 400-599; with `request`, a
                                              redirect (301, 302, 303, 307,
                                              308) may be set instead */
    const char *reason;                    /* body text; may be replaced */
    const struct wsg_header *headers;      /* extra headers (security
                                              headers, Location); must stay
                                              valid until the callback's
                                              caller returns, i.e. live in
                                              the application's state */
    size_t header_count;
};

struct wsg_session_callbacks {
    /* Server only. NULL: accept everything without a subprotocol. */
    int (*on_upgrade)(void *ud, struct wsg_session *s, struct wsg_upgrade *up);
    /* Server only: the handshake refused the request (malformed, over a
     * limit, not an upgrade) and the answer is about to be written: add
     * headers (H10) or redirect a plain GET (H1). A status the adapter
     * cannot send keeps the original. on_refuse follows as usual (err
     * WSG_ERR_POLICY if the status was changed). May be NULL. */
    void (*on_http_refusal)(void *ud, struct wsg_http_answer *ans);
    /* Server only: a connection refused or dropped before the upgrade. */
    void (*on_refuse)(void *ud, const struct wsg_refusal *r);
    /* The session is OPEN: sending is allowed. */
    void (*on_open)(void *ud, struct wsg_session *s);
    /* WSG_EV_MESSAGE or WSG_EV_FRAGMENT (per the conn's delivery mode).
     * ev->data is valid until the callback returns. */
    void (*on_message)(void *ud, struct wsg_session *s,
                       const struct wsg_event *ev);
    /* WSG_EV_PING / WSG_EV_PONG (pings are answered already if auto_pong),
     * and WSG_EV_CLOSE when the peer starts or answers the close
     * handshake. May be NULL. */
    void (*on_control)(void *ud, struct wsg_session *s,
                       const struct wsg_event *ev);
    /* The pending output fell to half the pause threshold (pause_output
     * / 2) after having been over the threshold (relays resume the other
     * leg here); reading, if it was paused by backpressure, resumes at the
     * same point. May be NULL. */
    void (*on_drain)(void *ud, struct wsg_session *s);
    /* Exactly once per session the application has seen (server: on_upgrade
     * was called; client: wsg_client_connect() succeeded), when the
     * transport is closed. After the close handshake, a failure or a
     * refusal the adapter first sends FIN and drains input for up to 2 s
     * (a lingering close, so the peer reads our Close or HTTP status before
     * any reset); on_close follows. The handle dies when this returns. */
    void (*on_close)(void *ud, struct wsg_session *s,
                     const struct wsg_close_info *info);
    void *ud;
};

/* The core connection, for direct use (wsg_conn_send_fragment, stats...).
 * NULL before the session is open. After queuing output directly on it,
 * call wsg_session_flush(). */
WSG_API struct wsg_conn *wsg_session_conn(struct wsg_session *s);

/* Queue and flush (writes happen at the end of the loop round, batched).
 * Same return codes as the wsg_conn_* counterparts, plus WSG_ERR_STATE
 * before open or after the transport was closed. */
WSG_API int wsg_session_send(struct wsg_session *s, enum wsg_opcode op,
                             const void *data, size_t len);
WSG_API int wsg_session_send_fragment(struct wsg_session *s,
                                      enum wsg_opcode op, const void *data,
                                      size_t len, bool first, bool fin);
WSG_API int wsg_session_send_borrowed(struct wsg_session *s,
                                      enum wsg_opcode op, const void *data,
                                      size_t len, bool first, bool fin,
                                      void (*release)(void *ud,
                                                      const void *data),
                                      void *ud);
WSG_API int wsg_session_ping(struct wsg_session *s, const void *data,
                             size_t len);
/* Starts the close handshake (deadline: the conn's close_timeout_ms). */
WSG_API int wsg_session_close(struct wsg_session *s, uint16_t code,
                              const char *reason);
/* Schedules a write of whatever the core has queued. */
WSG_API void wsg_session_flush(struct wsg_session *s);
/* Closes the transport now, without a close handshake (on_close follows
 * with `err`, after the current callback). */
WSG_API void wsg_session_abort(struct wsg_session *s, int err);

/* Stops / resumes reading (a relay pauses one leg while the other is over
 * its budget). Independent of the automatic backpressure pause. */
WSG_API void wsg_session_pause(struct wsg_session *s);
WSG_API void wsg_session_resume(struct wsg_session *s);

/* Bytes queued and not yet written. */
WSG_API size_t wsg_session_pending(const struct wsg_session *s);

/* Finishes a deferred upgrade (WSG_UPGRADE_DEFER). `opts` may be NULL.
 * Returns WSG_OK, WSG_ERR_STATE (not deferred, or the session is gone),
 * WSG_ERR_INVALID_ARG, WSG_ERR_NOMEM. */
WSG_API int wsg_session_accept(struct wsg_session *s,
                               const struct wsg_hs_accept_opts *opts);
WSG_API int wsg_session_refuse(struct wsg_session *s, int status,
                               const char *reason,
                               const struct wsg_header *headers,
                               size_t header_count);

WSG_API void *wsg_session_data(const struct wsg_session *s);
WSG_API void wsg_session_set_data(struct wsg_session *s, void *data);
/* "ip:port" of the peer ("[v6]:port"; "unix" over a Unix socket). Never
 * NULL. */
WSG_API const char *wsg_session_peer(const struct wsg_session *s);
/* The negotiated subprotocol, "" if none. Never NULL. */
WSG_API const char *wsg_session_protocol(const struct wsg_session *s);
WSG_API bool wsg_session_is_open(const struct wsg_session *s);
/* A client session, from on_open until on_close returns: the headers of
 * the server's 101 (e.g. Set-Cookie), in order, names as received, values
 * not NUL-terminated; *count gets their number. They live in the
 * session's handshake state, kept (bounded by hs.limits) for the session's
 * life; nothing is copied per call. NULL and 0 for a server session,
 * before open (also in on_close after a failed handshake: use
 * info->http_status and info->detail) or for s NULL. `count` may be NULL. */
WSG_API const struct wsg_header *
wsg_session_response_headers(const struct wsg_session *s, size_t *count);

/* ---- server ------------------------------------------------------------- */

struct wsg_server;

struct wsg_server_config {
    const char *host;                 /* default "127.0.0.1"; ignored
                                         when port is NULL */
    const char *port;                 /* service or number; default "9001";
                                         "0" picks a free port. NULL: no
                                         listener (no socket, no port:
                                         wsg_server_port() is 0); sessions
                                         come only from wsg_server_adopt() */
    int backlog;                      /* default 511 */
    uint32_t handshake_timeout_ms;    /* accept (or adoption) to 101
                                         (slowloris, T5); default 10000 */
    uint32_t max_connections;         /* stop accepting at this many (an
                                         adopted connection over it gets
                                         503, see wsg_server_adopt);
                                         default 10000 */
    /* Time limits of an OPEN session (H7, H12); 0 turns each one off. */
    uint32_t ping_interval_ms;        /* send a Ping when nothing was
                                         received for this long; default
                                         25000 */
    uint32_t pong_timeout_ms;         /* no Pong (or any other input)
                                         this long after our Ping: Close
                                         1011 "keepalive ping timeout",
                                         then the close deadline; on_close
                                         gets WSG_ERR_TIMEOUT. 0: no
                                         deadline (a Ping per interval);
                                         default 30000 */
    uint32_t idle_timeout_ms;         /* no data message (or fragment)
                                         received for this long: Close
                                         1001 "idle timeout", on_close gets
                                         WSG_ERR_TIMEOUT. Browsers send
                                         nothing while idle, so it is off
                                         by default (0); ping/pong finds
                                         dead peers */
    uint32_t write_stall_timeout_ms;  /* pending output has not shrunk for
                                         this long (the peer stopped
                                         reading): abort without a close
                                         handshake, WSG_ERR_TIMEOUT. Also
                                         the socket's TCP_USER_TIMEOUT.
                                         Default 60000 */
    /* Accepted and adopted TCP sockets get TCP keepalive: SO_KEEPALIVE,
     * TCP_KEEPIDLE 60 s, TCP_KEEPINTVL 10 s, TCP_KEEPCNT 5. The ping,
     * pong and idle clocks stand still while reading is paused (by
     * backpressure or wsg_session_pause()): nothing is read then by our
     * choice. */
    size_t pause_output;              /* stop reading a session while its
                                         pending output is over this; 0:
                                         half the conn's max_output */
    struct wsg_hs_limits limits;      /* request head limits */
    struct wsg_conn_config conn;      /* every session's core config */
    struct wsg_session_callbacks cb;
    struct wsg_transport_factory transport; /* wrap NULL: plain TCP */
    /* Called once after wsg_server_shutdown() when the last session is
     * gone. May be NULL. */
    void (*on_shutdown)(void *ud, struct wsg_server *srv);
    const struct wsg_allocator *alloc; /* NULL: the loop's; one without
                                          malloc or free: INVALID_ARG */
};

WSG_API void wsg_server_config_init_default(struct wsg_server_config *cfg);

/* Binds and listens (unless cfg->port is NULL). `cfg` is copied (strings
 * too). Returns WSG_OK, WSG_ERR_INVALID_ARG (port set and host NULL,
 * max_connections or handshake_timeout_ms 0, a bad allocator),
 * WSG_ERR_NOMEM or WSG_ERR_IO (resolve, bind or listen failed; see
 * errno). */
WSG_API int wsg_server_new(struct wsg_loop *loop,
                           const struct wsg_server_config *cfg,
                           struct wsg_server **out);

/* Frees the server: closes the listener and every session at once (their
 * on_close is called with WSG_ERR_CLOSED, inside this call). Not from a
 * callback of one of this server's sessions: stop the loop first, or use
 * wsg_server_shutdown(). */
WSG_API void wsg_server_free(struct wsg_server *srv);

/* The bound port (useful with port "0"); 0 without a listener. */
WSG_API uint16_t wsg_server_port(const struct wsg_server *srv);

/* Hands a connection whose request head a front end already read (in
 * part or whole) to the server, listening or not: `fd` becomes a session
 * in the handshake phase exactly as if accepted by the server's listener
 * (same callbacks, limits, transport factory, TCP keepalive and nodelay
 * for TCP; the handshake deadline starts now), and data[0..len) is
 * processed before anything read from fd: the request head or a first
 * part of it, possibly followed by WebSocket frames (these reach the frame
 * parser after the 101, never before: T8). `data` is not kept: the head is
 * fed at once to the request parser (which holds at most the head limits'
 * worth; a head over them is answered 431 or 414), only the bytes after a
 * complete head are copied. With a transport factory (TLS), `data` is
 * what the transport would have returned (plaintext): a front end that
 * read TLS bytes itself cannot hand them over. `fd` must be a connected
 * stream socket (TCP or Unix; any blocking mode): it is made non-blocking
 * and close-on-exec; the peer string comes from getpeername ("unix" for a
 * Unix socket). No
 * callback runs inside this call: on_upgrade (or the refusal) follows
 * from the loop. At max_connections the connection is taken and answered
 * 503 "too many connections" (on_http_refusal may amend it; on_refuse
 * reports status 503 and WSG_ERR_POLICY; `data` is ignored): such
 * refusals count in wsg_server_session_count() while they are written
 * and linger (at most about 2 s), so the count may pass max_connections
 * by them; check the count first to answer otherwise.
 * Returns WSG_OK (fd is the server's; on_refuse and/or on_close follow
 * as for an accepted connection), or, with fd closed by the call (if >= 0) and no callback:
 * WSG_ERR_INVALID_ARG (srv NULL, fd < 0, data NULL with len > 0, fd not
 * a stream socket), WSG_ERR_CLOSED (after wsg_server_shutdown()),
 * WSG_ERR_IO (fd not connected, or fcntl failed), WSG_ERR_NOMEM, or the
 * transport factory's or epoll's error (WSG_ERR_TLS, WSG_ERR_IO). */
WSG_API int wsg_server_adopt(struct wsg_server *srv, int fd,
                             const uint8_t *data, size_t len);

/* Clean shutdown: stops accepting, drops connections still in the
 * handshake, sends Close `code` ("server shutting down" if reason is NULL)
 * to every open session, and waits up to `timeout_ms` for the close
 * handshakes; sessions left then are closed. on_shutdown follows. */
WSG_API void wsg_server_shutdown(struct wsg_server *srv, uint16_t code,
                                 const char *reason, uint32_t timeout_ms);

/* Sessions alive (in the handshake or open). */
WSG_API size_t wsg_server_session_count(const struct wsg_server *srv);

/* ---- policy glue (wsguard/policy.h) -------------------------------------- */

struct wsg_policy;

/* Copies a policy's settings into a server config: handshake-timeout,
 * ping-interval, pong-timeout, close-timeout, max-message, max-frame,
 * max-fragments, max-output; with max-conns, max_connections becomes
 * max-conns plus a quarter (at least 64), so that the guard's 503 reaches
 * the requests past the cap. idle_timeout_ms is set to 0: the idle timeout
 * belongs to the guard (wsg_guard_conn_next_deadline), which knows the
 * direction to count. Returns WSG_OK or WSG_ERR_INVALID_ARG. */
WSG_API int wsg_server_config_from_policy(struct wsg_server_config *cfg,
                                          const struct wsg_policy *p);

/* Reads the files a policy names: the auth-hmac-key-file (its bytes,
 * trailing CR/LF removed, 32-1024 bytes) into wsg_policy_set_hmac_key.
 * Nothing to do: WSG_OK. Else WSG_ERR_INVALID_ARG with a message naming
 * the setting in `err`. Call before wsg_policy_check. */
WSG_API int wsg_policy_load_files(struct wsg_policy *p, char *err,
                                  size_t err_cap);

/* ---- guard glue (wsguard/guard.h) ----------------------------------------- */

struct wsg_guard;
struct wsg_guard_peer;
struct wsg_guard_verdict;

/* What the guard needs to know of a session's peer: the address parsed
 * from `peer_text` ("ip:port"; all zero if it does not parse, e.g.
 * "unix"), `tls`, and the wall clock now (CLOCK_REALTIME) for token
 * expiry and audit timestamps. `peer_text` must outlive the use of *out. */
WSG_API void wsg_guard_peer_fill(struct wsg_guard_peer *out,
                                 const char *peer_text, bool tls);

/* An on_http_refusal callback's work (wsg_guard_http): the security
 * headers (H10) on the answer, the https redirect (H1) for a plain GET.
 * `v` must live until the answer is written (the application's state, not
 * the stack). Leaves `ans` as it was if the guard cannot answer. */
WSG_API void wsg_guard_amend_refusal(struct wsg_guard *g,
                                     struct wsg_http_answer *ans,
                                     bool tls, struct wsg_guard_verdict *v);

/* The control a refusal lib/io decided falls under, for its audit event:
 * H5 for 414/431, H7 for a handshake deadline, H4 for a malformed request;
 * 0 otherwise, and for WSG_ERR_POLICY (decided, and audited, by the
 * application or its guard). */
WSG_API int wsg_refusal_control(const struct wsg_refusal *r);

/* ---- client ------------------------------------------------------------- */

struct wsg_client_config {
    const char *host;                 /* to resolve and connect; required
                                         unless unix_path is set (then
                                         only the TLS server name) */
    const char *port;                 /* default "80" */
    const char *unix_path;            /* set: connect to this Unix socket
                                         (a path shorter than sun_path)
                                         instead of host and port; the
                                         Host header is hs.host, else
                                         "localhost"; timeout_ms as for
                                         TCP; the peer string is "unix" */
    uint32_t timeout_ms;              /* connect + handshake; default 10000 */
    size_t pause_output;              /* as for the server */
    uint32_t ping_interval_ms;        /* as for the server: default 25000 */
    uint32_t pong_timeout_ms;         /* default 30000 */
    uint32_t idle_timeout_ms;         /* default 0 (off) */
    uint32_t write_stall_timeout_ms;  /* default 60000; the connected
                                         socket gets the same TCP keepalive
                                         and TCP_USER_TIMEOUT */
    struct wsg_hs_client_opts hs;     /* request: target, origin,
                                         protocols, headers, limits. hs.host
                                         NULL: built from host and port.
                                         hs.random unset: the session's own
                                         wsg_rng. */
    struct wsg_conn_config conn;      /* role forced to client; random
                                         unset: the session's own wsg_rng */
    struct wsg_session_callbacks cb;  /* on_upgrade/on_refuse unused */
    struct wsg_transport_factory transport;
    const struct wsg_allocator *alloc; /* NULL: the loop's */
};

WSG_API void wsg_client_config_init_default(struct wsg_client_config *cfg);

/* Starts connecting (getaddrinfo is synchronous; the connect is not): the
 * addresses are tried in order until one connects, within timeout_ms in
 * all. On WSG_OK, *out is the session and on_close will be called exactly
 * once (on_open first if the handshake succeeds; after a failed connect
 * or handshake, info->http_status and info->detail say why). Returns
 * WSG_OK, WSG_ERR_INVALID_ARG, WSG_ERR_NOMEM, WSG_ERR_RANDOM, WSG_ERR_IO
 * (name resolution failed). */
WSG_API int wsg_client_connect(struct wsg_loop *loop,
                               const struct wsg_client_config *cfg,
                               struct wsg_session **out);

#ifdef __cplusplus
}
#endif
#endif
