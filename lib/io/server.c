/* The server: a listening socket (or none: port NULL), non-blocking accept
 * or adoption of a connection read by a front end (wsg_server_adopt), the
 * upgrade request read under a deadline (slowloris, shared/THREATS.md T5),
 * the application's decision (on_upgrade), then a session per connection;
 * and a clean shutdown that sends 1001 to every open session and waits,
 * bounded. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/io_internal.h"

#define ACCEPTS_PER_EVENT 64
#define ACCEPT_RETRY_MS 100

struct wsg_server {
    struct wsg_loop *loop;
    struct wsg_allocator alloc;
    struct wsg_server_config cfg;
    int lfd;
    struct wsg_watch *lw;
    bool listening;                  /* lw has READ interest */
    struct wsg_timer *retry;         /* accept back-off (EMFILE) */
    struct wsg_timer *shut_timer;
    uint16_t port;
    struct wsg_session *head;
    size_t count;
    bool shutting_down, shutdown_done;
    struct wsg__defer done;
};

#define CONTAINER(ptr, type, member)                                          \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

void wsg_server_config_init_default(struct wsg_server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = "9001";
    cfg->backlog = 511;
    cfg->handshake_timeout_ms = 10000;
    cfg->max_connections = 10000;
    cfg->ping_interval_ms = 25000;
    cfg->pong_timeout_ms = 30000;
    cfg->idle_timeout_ms = 0;
    cfg->write_stall_timeout_ms = 60000;
    wsg_hs_limits_init_default(&cfg->limits);
    wsg_conn_config_init_default(&cfg->conn);
}

static void set_listening(struct wsg_server *srv, bool on)
{
    if (!srv->lw || srv->listening == on)
        return;
    if (wsg_watch_set(srv->lw, on ? WSG_IO_READ : 0) == WSG_OK)
        srv->listening = on;
}

static void link_session(struct wsg_server *srv, struct wsg_session *s)
{
    s->srv = srv;
    s->next = srv->head;
    if (srv->head)
        srv->head->prev = s;
    srv->head = s;
    srv->count++;
}

/* A session on `fd` in the handshake phase, with the server's settings.
 * Accepted (`report`): linked at once, and a setup failure reaches
 * on_refuse with its real cause (e.g. WSG_ERR_TLS from the transport's
 * wrap, WSG_ERR_IO from epoll), not a blanket NOMEM. Adopted: linked only
 * on success; on failure nothing is reported, the error is returned and
 * the fd closed. */
static int make_session(struct wsg_server *srv, int fd, const char *peer,
                        bool tcp, bool report, struct wsg_session **out)
{
    struct wsg_session *s = NULL;
    int rc;

    *out = NULL;
    rc = wsg__session_new(srv->loop, &srv->alloc, &srv->cfg.cb, &s);
    if (rc != WSG_OK) {
        close(fd);
        return rc;
    }
    if (report)
        link_session(srv, s);
    snprintf(s->peer, sizeof s->peer, "%s", peer);
    s->conn_cfg = srv->cfg.conn;
    s->pause_output = srv->cfg.pause_output;
    s->tfac = srv->cfg.transport;
    s->ping_interval_ms = srv->cfg.ping_interval_ms;
    s->pong_timeout_ms = srv->cfg.pong_timeout_ms;
    s->idle_timeout_ms = srv->cfg.idle_timeout_ms;
    s->write_stall_ms = srv->cfg.write_stall_timeout_ms;
    if (tcp) {
        wsg__sock_nodelay(fd);
        wsg__sock_keepalive(fd, s->write_stall_ms);
    }
    s->phase = WSG__PH_SERVER_HS;
    rc = wsg_hs_server_new(&srv->cfg.limits, &srv->alloc, &s->hs_srv);
    if (rc == WSG_OK)
        rc = wsg__session_attach(s, fd, true);
    if (rc == WSG_OK) {
        *out = s;
        return WSG_OK;
    }
    if (s->fd < 0)
        close(fd); /* else the session closes it */
    if (report) {
        s->refuse_err = rc;
        snprintf(s->refuse_reason, sizeof s->refuse_reason,
                 "cannot set up the connection: %s", wsg_strerror(rc));
        wsg__session_end(s, rc, s->refuse_reason);
    } else {
        wsg__session_destroy(s); /* not linked, not seen: no callback */
    }
    return rc;
}

static void new_session(struct wsg_server *srv, int fd,
                        const struct sockaddr *sa, socklen_t salen)
{
    struct wsg_session *s = NULL;
    char peer[64];

    wsg__addr_format(sa, salen, peer, sizeof peer);
    if (make_session(srv, fd, peer, true, true, &s) != WSG_OK)
        return;
    s->hs_deadline = wsg_loop_now(srv->loop) + srv->cfg.handshake_timeout_ms;
    wsg__session_kick(s); /* sets the watch and the deadline */
}

static void retry_cb(struct wsg_timer *t, void *ud)
{
    struct wsg_server *srv = ud;
    (void)t;
    if (!srv->shutting_down && srv->count < srv->cfg.max_connections)
        set_listening(srv, true);
}

static void accept_cb(struct wsg_watch *w, unsigned rev, void *ud)
{
    struct wsg_server *srv = ud;

    (void)w;
    (void)rev;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd;

        if (srv->shutting_down || srv->count >= srv->cfg.max_connections) {
            set_listening(srv, false);
            return;
        }
        fd = accept4(srv->lfd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM: back off instead of
             * spinning on a listener that stays readable. */
            set_listening(srv, false);
            wsg_timer_start(srv->retry,
                            wsg_loop_now(srv->loop) + ACCEPT_RETRY_MS);
            return;
        }
        new_session(srv, fd, (struct sockaddr *)&ss, len);
    }
}

static int open_listener(struct wsg_server *srv)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, one = 1;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(srv->cfg.host, srv->cfg.port, &hints, &res) != 0)
        return WSG_ERR_IO;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, srv->cfg.backlog) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return WSG_ERR_IO;
    srv->lfd = fd;
    {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
            if (ss.ss_family == AF_INET)
                srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            else if (ss.ss_family == AF_INET6)
                srv->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    return WSG_OK;
}

static void done_cb(struct wsg__defer *d)
{
    struct wsg_server *srv = CONTAINER(d, struct wsg_server, done);

    if (!srv->shutting_down || srv->count || srv->shutdown_done)
        return;
    srv->shutdown_done = true;
    wsg_timer_stop(srv->shut_timer);
    if (srv->cfg.on_shutdown)
        srv->cfg.on_shutdown(srv->cfg.cb.ud, srv);
}

static void shut_cb(struct wsg_timer *t, void *ud)
{
    struct wsg_server *srv = ud;

    (void)t;
    for (struct wsg_session *s = srv->head; s; s = s->next)
        wsg__session_end(s, WSG_ERR_TIMEOUT, "shutdown deadline passed");
    wsg__defer_queue(srv->loop, &srv->done);
}

int wsg_server_new(struct wsg_loop *loop, const struct wsg_server_config *cfg,
                   struct wsg_server **out)
{
    struct wsg_allocator a;
    struct wsg_server *srv;
    int rc;

    if (!out)
        return WSG_ERR_INVALID_ARG;
    *out = NULL;
    if (!loop || !cfg || (cfg->port && !cfg->host) ||
        cfg->max_connections == 0 || cfg->handshake_timeout_ms == 0)
        return WSG_ERR_INVALID_ARG;
    if (!wsg__alloc_init(&a, cfg->alloc ? cfg->alloc : wsg__loop_alloc(loop)))
        return WSG_ERR_INVALID_ARG;
    srv = wsg__zalloc(&a, sizeof *srv);
    if (!srv)
        return WSG_ERR_NOMEM;
    srv->loop = loop;
    srv->alloc = a;
    srv->cfg = *cfg;
    srv->cfg.conn.role = WSG_ROLE_SERVER;
    if (srv->cfg.backlog <= 0)
        srv->cfg.backlog = 511;
    srv->lfd = -1;
    srv->done.cb = done_cb;
    rc = cfg->port ? open_listener(srv) : WSG_OK; /* NULL: adopt only */
    srv->cfg.host = NULL; /* the caller's strings: used only above */
    srv->cfg.port = NULL;
    if (rc == WSG_OK)
        rc = wsg_timer_new(loop, retry_cb, srv, &srv->retry);
    if (rc == WSG_OK)
        rc = wsg_timer_new(loop, shut_cb, srv, &srv->shut_timer);
    if (rc == WSG_OK && srv->lfd >= 0)
        rc = wsg_watch_new(loop, srv->lfd, WSG_IO_READ, accept_cb, srv,
                           &srv->lw);
    if (rc != WSG_OK) {
        wsg_server_free(srv);
        return rc;
    }
    srv->listening = srv->lw != NULL;
    *out = srv;
    return WSG_OK;
}

static void close_listener(struct wsg_server *srv)
{
    wsg_watch_free(srv->lw);
    srv->lw = NULL;
    srv->listening = false;
    if (srv->lfd >= 0)
        close(srv->lfd);
    srv->lfd = -1;
    wsg_timer_stop(srv->retry);
}

void wsg_server_free(struct wsg_server *srv)
{
    struct wsg_allocator a;

    if (!srv)
        return;
    close_listener(srv);
    srv->shutdown_done = true; /* no on_shutdown from a free */
    while (srv->head)
        wsg__session_destroy(srv->head); /* unlinks itself */
    wsg__defer_cancel(srv->loop, &srv->done);
    wsg_timer_free(srv->retry);
    wsg_timer_free(srv->shut_timer);
    a = srv->alloc;
    memset(srv, 0, sizeof *srv);
    wsg__free(&a, srv);
}

uint16_t wsg_server_port(const struct wsg_server *srv)
{
    return srv ? srv->port : 0;
}

size_t wsg_server_session_count(const struct wsg_server *srv)
{
    return srv ? srv->count : 0;
}

void wsg_server_shutdown(struct wsg_server *srv, uint16_t code,
                         const char *reason, uint32_t timeout_ms)
{
    uint64_t now = wsg_clock_ms();

    if (!srv || srv->shutting_down)
        return;
    srv->shutting_down = true;
    close_listener(srv);
    if (!reason)
        reason = "server shutting down";
    if (!wsg_close_code_is_sendable(code))
        code = WSG_CLOSE_GOING_AWAY;
    for (struct wsg_session *s = srv->head; s; s = s->next) {
        switch (s->phase) {
        case WSG__PH_OPEN:
            if (wsg_conn_state(s->conn) == WSG_STATE_OPEN &&
                wsg_conn_close(s->conn, code, reason, strlen(reason), now) ==
                    WSG_OK)
                wsg__session_kick(s);
            break;
        case WSG__PH_SERVER_HS:
        case WSG__PH_DEFERRED:
            s->refuse_err = WSG_ERR_CLOSED;
            snprintf(s->refuse_reason, sizeof s->refuse_reason,
                     "server shutting down");
            wsg__session_end(s, WSG_ERR_CLOSED, s->refuse_reason);
            break;
        default:
            break; /* refusals and dead sessions finish by themselves */
        }
    }
    wsg_timer_start(srv->shut_timer, now + timeout_ms);
    wsg__defer_queue(srv->loop, &srv->done);
}

void wsg__server_session_gone(struct wsg_server *srv, struct wsg_session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->srv = NULL;
    srv->count--;
    if (srv->shutting_down) {
        if (!srv->count)
            wsg__defer_queue(srv->loop, &srv->done);
    } else if (!srv->listening && srv->lw &&
               srv->count < srv->cfg.max_connections) {
        set_listening(srv, true);
    }
}

static bool is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 ||
           status == 307 || status == 308;
}

/* A refusal the application did not decide: it may still add headers
 * (H10) or turn a plain GET into a redirect (H1) in on_http_refusal. */
static void refuse_http(struct wsg_session *s, int status, const char *reason,
                        const struct wsg_hs_request *plain, int err)
{
    struct wsg_http_answer ans;

    memset(&ans, 0, sizeof ans);
    ans.peer = s->peer;
    ans.request = plain;
    ans.status = status;
    ans.reason = reason;
    if (s->cb.on_http_refusal) {
        s->cb.on_http_refusal(s->cb.ud, &ans);
        if (s->phase != WSG__PH_SERVER_HS)
            return; /* aborted from the callback */
        if (ans.status != status &&
            ((ans.status >= 400 && ans.status <= 599) ||
             (plain != NULL && is_redirect(ans.status))))
            err = WSG_ERR_POLICY;
        else
            ans.status = status;
        if (ans.reason == NULL)
            ans.reason = reason;
    }
    wsg__session_refuse(s, ans.status, ans.reason, ans.headers,
                        ans.header_count, err);
}

/* What follows a complete request head (rc 1) or a refused one (rc < 0):
 * the refusal, or the application's decision (on_upgrade). */
static void hs_result(struct wsg_session *s, int rc)
{
    struct wsg_server *srv = s->srv;
    struct wsg_upgrade up;

    if (rc < 0) {
        int status = wsg_hs_server_status(s->hs_srv);
        refuse_http(s, status >= 400 && status <= 599 ? status : 400,
                    wsg_hs_server_reason(s->hs_srv),
                    wsg_hs_server_plain_request(s->hs_srv), WSG_ERR_HTTP);
        return;
    }
    if (!srv || srv->shutting_down) {
        refuse_http(s, 503, "server shutting down", NULL, WSG_ERR_CLOSED);
        return;
    }
    memset(&up, 0, sizeof up);
    up.request = wsg_hs_server_request(s->hs_srv);
    up.peer = s->peer;
    up.conn = s->conn_cfg;
    s->seen = true;
    rc = s->cb.on_upgrade ? s->cb.on_upgrade(s->cb.ud, s, &up)
                          : WSG_UPGRADE_ACCEPT;
    if (up.session_data)
        s->data = up.session_data;
    if (s->phase != WSG__PH_SERVER_HS)
        return; /* aborted from the callback */
    s->conn_cfg = up.conn;
    if (rc == WSG_UPGRADE_ACCEPT) {
        rc = wsg__session_accept(s, &up.accept);
        if (rc != WSG_OK && s->phase == WSG__PH_SERVER_HS)
            wsg__session_refuse(s, 500, "cannot accept the upgrade", NULL, 0,
                                rc);
    } else if (rc == WSG_UPGRADE_DEFER) {
        s->phase = WSG__PH_DEFERRED;
    } else {
        wsg__session_refuse(s, rc >= 400 && rc <= 599 ? rc : 500,
                            up.refuse_reason, up.refuse_headers,
                            up.refuse_header_count, WSG_ERR_POLICY);
    }
}

/* Bytes of the upgrade request (server side of RFC 6455 section 4.2). */
void wsg__server_hs_input(struct wsg_session *s, const uint8_t *buf,
                          size_t len)
{
    size_t used = 0;
    int rc;

    rc = wsg_hs_server_feed(s->hs_srv, buf, len, &used);
    if (rc == 0)
        return;
    /* T8: what follows the head is WebSocket data, fed after the 101. */
    if (rc > 0 && used < len &&
        wsg__session_stash(s, buf + used, len - used) != WSG_OK) {
        s->refuse_err = WSG_ERR_NOMEM;
        wsg__session_end(s, WSG_ERR_NOMEM, "out of memory");
        return;
    }
    hs_result(s, rc);
}

/* ---- adoption ----------------------------------------------------------- */

/* From the first pump of an adopted session: what adoption found, acted
 * on outside the wsg_server_adopt() call so that callbacks never run
 * inside it. */
void wsg__server_adopted(struct wsg_session *s)
{
    enum wsg__adopt a = s->adopt;

    s->adopt = WSG__ADOPT_NONE;
    if (s->phase != WSG__PH_SERVER_HS)
        return;
    switch (a) {
    case WSG__ADOPT_HEAD:
        hs_result(s, 1);
        break;
    case WSG__ADOPT_BAD:
        hs_result(s, WSG_ERR_HTTP);
        break;
    case WSG__ADOPT_FULL:
        refuse_http(s, 503, "too many connections", NULL, WSG_ERR_POLICY);
        break;
    default:
        break;
    }
}

/* Non-blocking and close-on-exec; a connected stream socket. Returns its
 * address family, or a negative error. */
static int adopt_check(int fd, struct sockaddr_storage *ss, socklen_t *sl)
{
    int type = 0, fl;
    socklen_t tl = sizeof type;

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
        type != SOCK_STREAM)
        return WSG_ERR_INVALID_ARG; /* not a socket, or not a stream */
    memset(ss, 0, sizeof *ss);
    if (getpeername(fd, (struct sockaddr *)ss, sl) != 0)
        return WSG_ERR_IO; /* not connected, or already reset */
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return WSG_ERR_IO;
    fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) != 0)
        return WSG_ERR_IO;
    return ss->ss_family;
}

int wsg_server_adopt(struct wsg_server *srv, int fd, const uint8_t *data,
                     size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    struct wsg_session *s = NULL;
    char peer[64];
    bool tcp;
    int rc;

    if (fd < 0)
        return WSG_ERR_INVALID_ARG;
    if (!srv || (!data && len)) {
        close(fd);
        return WSG_ERR_INVALID_ARG;
    }
    if (srv->shutting_down) {
        close(fd);
        return WSG_ERR_CLOSED;
    }
    rc = adopt_check(fd, &ss, &sl);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    wsg__addr_format((const struct sockaddr *)&ss, sl, peer, sizeof peer);
    tcp = ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
    rc = make_session(srv, fd, peer, tcp, false, &s);
    if (rc != WSG_OK)
        return rc; /* fd closed */
    if (srv->count >= srv->cfg.max_connections) {
        s->adopt = WSG__ADOPT_FULL; /* `data` is not even looked at */
    } else if (len) {
        /* Fed now: the parser keeps at most the head limits' worth (a
         * head over them is refused 431/414); only bytes after a complete
         * head are copied, to reach the frame parser after the 101 (T8). */
        size_t used = 0;
        int hrc = wsg_hs_server_feed(s->hs_srv, data, len, &used);
        if (hrc > 0 && used < len &&
            wsg__session_stash(s, data + used, len - used) != WSG_OK) {
            wsg__session_destroy(s); /* closes fd; no callback */
            return WSG_ERR_NOMEM;
        }
        s->adopt = hrc == 0  ? WSG__ADOPT_NONE
                   : hrc > 0 ? WSG__ADOPT_HEAD
                             : WSG__ADOPT_BAD;
    }
    link_session(srv, s);
    s->hs_deadline = wsg_clock_ms() + srv->cfg.handshake_timeout_ms;
    wsg__session_kick(s); /* acts on `adopt`, sets the watch and deadline */
    return WSG_OK;
}
