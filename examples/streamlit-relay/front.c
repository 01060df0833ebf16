/* wsg-relay: the browser side. Accepts on the loop, reads request heads
 * (parse.c: llhttp, strict), checks them and routes each one: the relay's
 * own endpoints, WebSocket upgrades (handed to ws.c with every byte read so
 * far), or the upstream (proxy.c). Connection teardown is deferred to the
 * connection's timer so that no caller ever holds a freed connection. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <wsguard/io.h>

#include "relay_int.h"

static void conn_io(struct wsg_watch *w, unsigned revents, void *ud);
static void conn_timer(struct wsg_timer *t, void *ud);
static void process(struct relay_conn *c);

/* Extra state kept here, not in the shared struct: why the timer runs. */
#define KICK_NONE 0
#define KICK_PROCESS 1
#define KICK_FREE 2

struct conn_priv {
    int kick;
    bool in_process;
    bool head_timing;   /* the head deadline (not keep-alive) is armed */
    bool req_head;      /* the current request is HEAD */
};

/* The private part lives right after the shared struct. */
struct conn_full {
    struct relay_conn c;
    struct conn_priv p;
};

static struct conn_priv *P(struct relay_conn *c)
{
    return &((struct conn_full *)(void *)c)->p;
}

/* ---- counters and small helpers -------------------------------------------- */

void relay_count_status(struct relay *r, int status)
{
    if (status >= 100 && status < 600)
        r->st.responses[status / 100]++;
}

void relay_audit_refuse(struct relay_conn *c, int status, int control,
                        const char *reason, const struct wsg_span *path)
{
    struct relay *r = c->r;
    if (!r->audit)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char p[256] = "", client[WSG_ADDR_STRLEN];
    if (path && path->ptr) {
        size_t n = path->len < sizeof p - 1 ? path->len : sizeof p - 1;
        memcpy(p, path->ptr, n);
        p[n] = '\0';
    }
    if (c->client[0] == '\0') /* no head parsed: the socket peer */
        wsg_addr_format(&c->peer, client, sizeof client);
    struct wsg_audit_event ev = {
        .time_ms = (uint64_t)ts.tv_sec * 1000u +
                   (uint64_t)ts.tv_nsec / 1000000u,
        .event = "refuse",
        .control = control,
        .client = c->client[0] ? c->client : client,
        .peer = c->peer_text,
        .path = p[0] ? p : NULL,
        .status = status,
        .reason = reason,
    };
    r->audit(r->audit_ud, &ev);
}

/* A new deadline. A pending "process" kick is dropped: whoever arms is
 * processing now; keeping it would turn the deadline into a kick (and a
 * slow head's deadline into a fresh one). A pending free stays. */
static void arm(struct relay_conn *c, uint32_t ms)
{
    if (P(c)->kick == KICK_FREE)
        return;
    P(c)->kick = KICK_NONE;
    wsg_timer_start(c->t, wsg_loop_now(c->r->loop) + ms);
}

static void kick(struct relay_conn *c, int why)
{
    if (why > P(c)->kick)
        P(c)->kick = why;
    wsg_timer_start(c->t, 0);
}

void relay_conn_kill(struct relay_conn *c)
{
    if (c->state == RC_PROXY)
        relay_proxy_abort(c);
    if (c->state == RC_ENDPOINT)
        relay_endpoint_cancel(c->r, c);
    c->state = RC_LINGER;
    relay_buf_consume(&c->out, relay_buf_pending(&c->out));
    kick(c, KICK_FREE);
}

void relay_conn_free(struct relay_conn *c)
{
    struct relay *r = c->r;
    if (c->state == RC_ENDPOINT)
        relay_endpoint_cancel(r, c);
    relay_proxy_abort(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        r->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    wsg_watch_free(c->w);
    wsg_timer_free(c->t);
    if (c->fd >= 0)
        close(c->fd);
    relay_buf_free(&c->in);
    relay_buf_free(&c->out);
    free(c);
    r->st.conns_open--;
    if (r->listen_w && !r->draining &&
        r->st.conns_open == RELAY_MAX_CONNS - 1)
        wsg_watch_set(r->listen_w, WSG_IO_READ);
}

/* ---- output and interest ------------------------------------------------------- */

static bool want_read(struct relay_conn *c)
{
    if (c->eof)
        return false;
    size_t in = relay_buf_pending(&c->in);
    switch (c->state) {
    case RC_HEAD:
        return in < RELAY_MAX_HEAD + RELAY_IO_CHUNK;
    case RC_PROXY:
        return in < RELAY_IO_CHUNK && relay_proxy_want_read(c);
    case RC_LINGER:
        return true;
    default:
        return false;
    }
}

void relay_conn_update(struct relay_conn *c)
{
    struct relay *r = c->r;
    if (P(c)->kick == KICK_FREE)
        return;
    size_t before = relay_buf_pending(&c->out);
    while (relay_buf_pending(&c->out) > 0) {
        ssize_t n = send(c->fd, relay_buf_data(&c->out),
                         relay_buf_pending(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            relay_buf_consume(&c->out, (size_t)n);
            r->st.bytes_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0 && errno == EINTR)
            continue;
        relay_conn_kill(c); /* the browser is gone */
        return;
    }
    size_t after = relay_buf_pending(&c->out);
    if (after == 0)
        relay_buf_shrink(&c->out, 64 * 1024);
    if (c->state == RC_CLOSING && after == 0) {
        shutdown(c->fd, SHUT_WR);
        c->state = RC_LINGER;
        arm(c, RELAY_LINGER_MS);
    }
    if (c->state == RC_PROXY && before >= RELAY_HIGH_WATER / 2 &&
        after < RELAY_HIGH_WATER / 2)
        relay_proxy_drained(c);
    unsigned ev = (after ? WSG_IO_WRITE : 0) | (want_read(c) ? WSG_IO_READ : 0);
    wsg_watch_set(c->w, ev);
}

void relay_conn_finish(struct relay_conn *c, bool close)
{
    if (P(c)->kick == KICK_FREE)
        return;
    if (close || !c->keep_alive || c->r->draining) {
        c->state = RC_CLOSING;
        arm(c, RELAY_BODY_STALL_MS); /* the browser must read it */
    } else {
        c->state = RC_HEAD;
        relay_http_next(&c->http);
        P(c)->head_timing = false;
        if (relay_buf_pending(&c->in) > 0)
            kick(c, KICK_PROCESS); /* a pipelined request */
        else
            arm(c, RELAY_KEEPALIVE_MS);
    }
    relay_conn_update(c);
}

static void answer(struct relay_conn *c, int status, const char *text,
                   const struct wsg_header *extra, size_t nextra, bool close)
{
    struct relay *r = c->r;
    if (!relay_error_render(&c->out, status, text, r->sec_list, r->sec_count,
                            extra, nextra, close, P(c)->req_head)) {
        relay_conn_kill(c);
        return;
    }
    relay_count_status(r, status);
    if (r->cfg->verbose)
        fprintf(stderr, "wsg-relay: %s: %d %s\n", c->peer_text, status,
                text ? text : "");
    relay_conn_finish(c, close);
}

void relay_conn_error(struct relay_conn *c, int status, const char *text,
                      bool close)
{
    answer(c, status, text, NULL, 0, close);
}

void relay_respond(struct relay_conn *c, int status, const char *content_type,
                   const void *body, size_t len)
{
    struct relay *r = c->r;
    if (c->state != RC_ENDPOINT)
        return;
    bool ok = relay_buf_printf(&c->out,
                               "HTTP/1.1 %03d %s\r\nContent-Type: %s\r\n"
                               "Content-Length: %zu\r\n"
                               "Cache-Control: no-store\r\n",
                               status, relay_status_text(status),
                               content_type ? content_type
                                            : "text/plain; charset=utf-8",
                               len);
    for (size_t i = 0; ok && i < r->sec_count; i++)
        ok = relay_buf_printf(&c->out, "%.*s: %.*s\r\n",
                              (int)r->sec_list[i].name_len, r->sec_list[i].name,
                              (int)r->sec_list[i].value_len,
                              r->sec_list[i].value);
    if (ok && (!c->keep_alive || r->draining))
        ok = relay_buf_puts(&c->out, "Connection: close\r\n");
    ok = ok && relay_buf_put(&c->out, "\r\n", 2) &&
         (P(c)->req_head || relay_buf_put(&c->out, body, len));
    if (!ok) {
        relay_conn_kill(c);
        return;
    }
    relay_count_status(r, status);
    relay_conn_finish(c, false);
}

/* ---- routing ---------------------------------------------------------------------- */

static bool starts_with(struct wsg_span s, const char *pfx)
{
    size_t n = strlen(pfx);
    return s.len >= n && memcmp(s.ptr, pfx, n) == 0;
}

static bool span_is(struct wsg_span s, const char *str)
{
    return s.len == strlen(str) && memcmp(s.ptr, str, s.len) == 0;
}

static bool has_body(const struct relay_head *hd)
{
    return hd->chunked || (hd->has_length && hd->length > 0);
}

/* The client address (H11) and the scheme (H1) of this request. */
static void client_of(struct relay_conn *c, const struct relay_head *hd)
{
    struct relay *r = c->r;
    struct wsg_hs_request req;
    memset(&req, 0, sizeof req);
    req.headers = hd->h;
    req.header_count = hd->n;
    struct wsg_addr a = wsg_client_addr(
        &c->peer, r->trusted, r->trusted_count, &req,
        r->client_ip_header[0] ? r->client_ip_header : NULL);
    wsg_addr_format(&a, c->client, sizeof c->client);
}

/* H1 for proxied requests that did not arrive over HTTPS: with
 * https-redirect, GET and HEAD get the guard's 301 to https://Host/target
 * (its Host allowlist and audit event included); with require-https,
 * anything else gets 403. Returns true when answered. */
static bool https_only(struct relay_conn *c, const struct relay_head *hd,
                       const struct wsg_header *host, bool close)
{
    struct relay *r = c->r;
    if ((!r->require_https && !r->https_redirect) ||
        strcmp(relay_forwarded_proto(c->peer_trusted, hd->h, hd->n),
               "https") == 0)
        return false;
    bool get = hd->method == HTTP_GET || hd->method == HTTP_HEAD;
    if (r->https_redirect && get && r->guard && host) {
        struct wsg_hs_request req;
        memset(&req, 0, sizeof req);
        req.target = hd->target;
        req.path = hd->path;
        req.query = hd->query;
        req.host.ptr = host->value;
        req.host.len = host->value_len;
        req.headers = hd->h;
        req.header_count = hd->n;
        struct wsg_guard_peer peer = {.addr = c->peer, .text = c->peer_text};
        static struct wsg_guard_verdict v; /* one loop per thread */
        if (wsg_guard_http(r->guard, &req, &peer, 403, &v) == WSG_OK &&
            (v.status == 301 || v.status == 403)) {
            answer(c, v.status, v.status == 301 ? "use https\n"
                                                : "https required\n",
                   v.headers, v.header_count, close);
            return true;
        }
    }
    relay_audit_refuse(c, 403, WSG_H1, "https required", &hd->path);
    relay_conn_error(c, 403, "https required\n", close);
    return true;
}

static void handoff(struct relay_conn *c)
{
    struct relay *r = c->r;
    int fd = c->fd;
    wsg_watch_free(c->w);
    c->w = NULL;
    if (relay_ws_adopt(r, fd, relay_buf_data(&c->in),
                       relay_buf_pending(&c->in)) == 0) {
        r->st.ws_handed++;
        c->fd = -1;
        c->state = RC_LINGER;
        kick(c, KICK_FREE);
        return;
    }
    if (wsg_watch_new(r->loop, fd, 0, conn_io, c, &c->w) != WSG_OK) {
        relay_conn_kill(c);
        return;
    }
    relay_conn_error(c, 503, "WebSocket bridge unavailable\n", true);
}

static void route(struct relay_conn *c)
{
    struct relay *r = c->r;
    const struct relay_head *hd = &c->http.head;
    const char *why = NULL;
    r->st.requests++;
    c->http10 = hd->major == 1 && hd->minor == 0;
    c->keep_alive = hd->keep_alive;
    P(c)->req_head = hd->method == HTTP_HEAD;
    bool body = has_body(hd);
    bool close = body || !c->keep_alive;
    const struct wsg_header *host = NULL;
    size_t hosts = relay_hdr_count(hd->h, hd->n, "Host", &host);

    client_of(c, hd);
    if (hd->major != 1 || (hosts != 1 && !(c->http10 && hosts == 0))) {
        relay_audit_refuse(c, 400, WSG_H13, "bad Host or version", &hd->path);
        relay_conn_error(c, 400, "bad request\n", true);
        return;
    }
    const struct wsg_header *te = NULL;
    size_t tes = relay_hdr_count(hd->h, hd->n, "Transfer-Encoding", &te);
    if (tes > 1 || (tes == 1 && !relay_name_is(te->value, te->value_len,
                                                "chunked"))) {
        /* Only "chunked" is re-framed; any other coding would reach the
         * upstream unlabelled (RFC 9112 section 6.1). */
        relay_audit_refuse(c, 400, WSG_H13, "unsupported Transfer-Encoding",
                           &hd->path);
        relay_conn_error(c, 400, "unsupported Transfer-Encoding\n", true);
        return;
    }
    if (relay_path_check(hd->target.ptr, hd->target.len, &why)) {
        r->st.refused_path++;
        relay_audit_refuse(c, 400, WSG_H13, why, &hd->path);
        char msg[96];
        snprintf(msg, sizeof msg, "%s\n", why);
        relay_conn_error(c, 400, msg, close);
        return;
    }
    if (r->draining) {
        relay_conn_error(c, 503, "shutting down\n", true);
        return;
    }
    const struct wsg_header *up = NULL;
    bool ws = relay_hdr_count(hd->h, hd->n, "Upgrade", &up) > 0 &&
              relay_list_has(up->value, up->value_len, "websocket", 9);
    if (ws) {
        if (span_is(hd->path, r->cfg->ws_path))
            handoff(c);
        else
            relay_conn_error(c, 404, "not found\n", true);
        return;
    }
    if (starts_with(hd->path, r->cfg->own_prefix)) {
        struct relay_request rq = {
            .method = llhttp_method_name((llhttp_method_t)hd->method),
            .target = hd->target, .path = hd->path, .query = hd->query,
            .headers = hd->h, .header_count = hd->n,
            .peer = c->peer_text, .client = c->client,
            .peer_trusted = c->peer_trusted,
            .https = strcmp(relay_forwarded_proto(c->peer_trusted, hd->h,
                                                  hd->n), "https") == 0,
            .has_body = body,
        };
        c->keep_alive = c->keep_alive && !body;
        c->state = RC_ENDPOINT;
        wsg_timer_stop(c->t);
        if (relay_endpoint(r, c, &rq) != 0 && c->state == RC_ENDPOINT)
            relay_conn_error(c, 404, "not found\n", close);
        return;
    }
    if (!https_only(c, hd, host, close))
        relay_proxy_start(c);
}

/* ---- input --------------------------------------------------------------------- */

static void process_head(struct relay_conn *c)
{
    size_t used = 0;
    if (!P(c)->head_timing) {
        P(c)->head_timing = true;
        arm(c, c->r->head_timeout_ms);
    }
    enum relay_feed f = relay_http_feed(&c->http, relay_buf_data(&c->in),
                                        relay_buf_pending(&c->in), &used);
    if (f == RELAY_MORE) {
        if (c->eof)
            relay_conn_kill(c);
        return;
    }
    if (f == RELAY_ERR) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s\n", c->http.why ? c->http.why : "bad request");
        P(c)->req_head = false;
        int st = c->http.status ? c->http.status : 400;
        c->client[0] = '\0';
        relay_audit_refuse(c, st, st == 414 || st == 431 ? WSG_H5 : WSG_H13,
                           c->http.why ? c->http.why : "bad request", NULL);
        relay_conn_error(c, st, msg, true);
        return;
    }
    /* RELAY_HEAD: the head's spans point into c->in until consumed. */
    route(c);
    if (c->fd < 0 || P(c)->kick == KICK_FREE)
        return;
    relay_buf_consume(&c->in, used);
    if (c->state != RC_PROXY && c->state != RC_HEAD) {
        /* answered (or waiting for an endpoint): a body is not read */
        if (c->state == RC_CLOSING || c->state == RC_LINGER)
            relay_buf_consume(&c->in, relay_buf_pending(&c->in));
    }
}

static void process(struct relay_conn *c)
{
    if (P(c)->in_process)
        return;
    P(c)->in_process = true;
    for (int guard = 0; guard < 64 && P(c)->kick != KICK_FREE; guard++) {
        enum relay_conn_state s = c->state;
        size_t in = relay_buf_pending(&c->in);
        if (s == RC_HEAD && (in > 0 || c->eof)) {
            if (in == 0) { /* EOF between requests */
                relay_conn_kill(c);
                break;
            }
            process_head(c);
        } else if (s == RC_PROXY) {
            relay_proxy_input(c);
            if (c->state == RC_PROXY)
                break;
        } else if (s == RC_LINGER) {
            relay_buf_consume(&c->in, in);
            if (c->eof)
                kick(c, KICK_FREE);
            break;
        } else {
            break;
        }
        if (c->state == s && relay_buf_pending(&c->in) == in)
            break; /* no progress */
    }
    P(c)->in_process = false;
    relay_conn_update(c);
}

static void conn_read(struct relay_conn *c)
{
    uint8_t *w = relay_buf_space(&c->in, RELAY_IO_CHUNK);
    if (!w) {
        relay_conn_kill(c);
        return;
    }
    ssize_t n = recv(c->fd, w, RELAY_IO_CHUNK, 0);
    if (n > 0) {
        relay_buf_commit(&c->in, (size_t)n);
        c->r->st.bytes_in += (uint64_t)n;
    } else if (n == 0) {
        c->eof = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        relay_conn_kill(c);
        return;
    }
    if (c->state == RC_PROXY && c->eof)
        relay_proxy_input(c); /* the parser sees the end of the body */
    process(c);
}

static void conn_io(struct wsg_watch *w, unsigned revents, void *ud)
{
    struct relay_conn *c = ud;
    (void)w;
    if (P(c)->kick == KICK_FREE)
        return;
    if (revents & (WSG_IO_READ | WSG_IO_ERROR)) {
        conn_read(c);
        if (P(c)->kick == KICK_FREE)
            return;
    }
    relay_conn_update(c);
}

static void conn_timer(struct wsg_timer *t, void *ud)
{
    struct relay_conn *c = ud;
    (void)t;
    int k = P(c)->kick;
    P(c)->kick = KICK_NONE;
    if (k == KICK_FREE) {
        relay_conn_free(c);
        return;
    }
    if (k == KICK_PROCESS) {
        P(c)->head_timing = false;
        arm(c, RELAY_KEEPALIVE_MS);
        process(c);
        return;
    }
    switch (c->state) {
    case RC_HEAD:
        if (P(c)->head_timing && relay_buf_pending(&c->in) > 0) {
            c->client[0] = '\0';
            relay_audit_refuse(c, 0, WSG_H7, "request head timeout", NULL);
        }
        relay_conn_kill(c); /* slowloris or idle keep-alive */
        break;
    case RC_CLOSING:
    case RC_LINGER:
        relay_conn_kill(c);
        break;
    default:
        break; /* proxy.c and endpoints.c keep their own deadlines */
    }
}

/* ---- a new connection --------------------------------------------------------------------- */

void relay_conn_new(struct relay *r, int fd, const struct sockaddr *sa,
                    socklen_t salen)
{
    struct conn_full *f = calloc(1, sizeof *f);
    struct relay_conn *c = f ? &f->c : NULL;
    if (!c) {
        close(fd);
        return;
    }
    c->r = r;
    c->fd = fd;
    char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "0";
    getnameinfo(sa, salen, host, sizeof host, serv, sizeof serv,
                NI_NUMERICHOST | NI_NUMERICSERV);
    if (wsg_addr_parse(host, strlen(host), false, &c->peer) != WSG_OK)
        memset(&c->peer, 0, sizeof c->peer);
    snprintf(c->peer_text, sizeof c->peer_text,
             strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, serv);
    for (size_t i = 0; i < r->trusted_count && !c->peer_trusted; i++)
        c->peer_trusted = wsg_cidr_contains(&r->trusted[i], &c->peer);
    relay_http_init(&c->http, true, relay_proxy_req_body, c);
    if (wsg_timer_new(r->loop, conn_timer, c, &c->t) != WSG_OK ||
        wsg_watch_new(r->loop, fd, WSG_IO_READ, conn_io, c, &c->w) !=
            WSG_OK) {
        wsg_timer_free(c->t);
        close(fd);
        free(f);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->next = r->conns;
    if (r->conns)
        r->conns->prev = c;
    r->conns = c;
    r->st.conns_open++;
    r->st.conns_total++;
    c->state = RC_HEAD;
    P(c)->head_timing = true;
    arm(c, c->r->head_timeout_ms);
}
