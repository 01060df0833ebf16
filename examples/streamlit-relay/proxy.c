/* wsg-relay: plain HTTP forwarding (design "HTTP proxy rules").
 *
 * One exchange per browser connection at a time. The request head is
 * rewritten (headers.c), the body streamed: a Content-Length body keeps
 * its length, a chunked one is re-framed as chunked (trailers dropped).
 * The response head is filtered and given the security headers (H10); its
 * body is streamed the same way; HEAD, 204, 304 and Range/206 and any
 * Content-Encoding pass as they are (the relay never decodes or re-ranges).
 * Backpressure: each side stops being read while the other side's pending
 * output is over RELAY_HIGH_WATER. Errors before a response head: 502
 * (refused, reset, malformed), 504 (no progress for upstream_timeout_ms);
 * after it, the browser connection is cut. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <wsguard/io.h>

#include "relay_int.h"

static uint32_t timeout_ms(const struct relay *r)
{
    return r->cfg->upstream_timeout_ms ? r->cfg->upstream_timeout_ms : 30000;
}

static void ex_arm(struct relay_conn *c)
{
    if (c->ex.t)
        wsg_timer_start(c->ex.t, wsg_loop_now(c->r->loop) + timeout_ms(c->r));
}

static void up_update(struct relay_up *u)
{
    struct relay_conn *c = u->c;
    bool read = c && !c->ex.resp_done &&
                relay_buf_pending(&c->out) < RELAY_HIGH_WATER;
    relay_up_want(u, read, relay_buf_pending(&u->out) > 0 &&
                               !(c && c->ex.write_dead));
}

/* Ends the exchange's hold on its upstream connection. */
static void release_up(struct relay_conn *c, bool reusable)
{
    struct relay_up *u = c->ex.up;
    if (!u)
        return;
    c->ex.up = NULL;
    u->c = NULL;
    if (reusable)
        relay_pool_put(u);
    else
        relay_pool_drop(u);
}

void relay_proxy_abort(struct relay_conn *c)
{
    release_up(c, false);
    wsg_timer_free(c->ex.t);
    c->ex.t = NULL;
    free(c->ex.replay);
    c->ex.replay = NULL;
}

bool relay_proxy_want_read(const struct relay_conn *c)
{
    return c->ex.up && !c->ex.req_done && !c->ex.write_dead &&
           relay_buf_pending(&c->ex.up->out) < RELAY_HIGH_WATER;
}

void relay_proxy_drained(struct relay_conn *c)
{
    if (c->ex.up)
        up_update(c->ex.up);
}

/* false: the upstream connection broke. */
static bool up_flush(struct relay_up *u)
{
    if (u->c && u->c->ex.write_dead) {
        relay_buf_consume(&u->out, relay_buf_pending(&u->out));
        return true;
    }
    while (!u->connecting && relay_buf_pending(&u->out) > 0) {
        ssize_t n = send(u->fd, relay_buf_data(&u->out),
                         relay_buf_pending(&u->out), MSG_NOSIGNAL);
        if (n > 0) {
            relay_buf_consume(&u->out, (size_t)n);
            if (u->c)
                ex_arm(u->c);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n < 0 && errno == EINTR)
            continue;
        return false;
    }
    if (relay_buf_pending(&u->out) == 0)
        relay_buf_shrink(&u->out, 64 * 1024);
    return true;
}

/* ---- failures ----------------------------------------------------------------- */

static bool start_on(struct relay_conn *c, struct relay_up *u);

/* The upstream connection failed (err: WSG_ERR_TIMEOUT or another). A
 * request without a body that went to a reused connection which died
 * before answering is sent once more on a new connection (the upstream
 * may have closed it while idle). */
static void up_broken(struct relay_conn *c, int err)
{
    struct relay *r = c->r;
    struct relay_exchange *ex = &c->ex;
    struct relay_up *u = ex->up;
    if (u && u->reused && ex->replay && !ex->retried && !ex->resp_head &&
        err != WSG_ERR_TIMEOUT && u->http.scan.pos == 0 &&
        relay_buf_pending(&u->in) == 0) {
        release_up(c, false);
        ex->retried = true;
        struct relay_up *u2 = relay_pool_get(r, true);
        if (u2 && start_on(c, u2) &&
            relay_buf_put(&u2->out, ex->replay, ex->replay_len)) {
            up_update(u2);
            return;
        }
    }
    release_up(c, false);
    r->st.upstream_errors++;
    if (r->cfg->verbose)
        fprintf(stderr, "wsg-relay: %s: upstream %s\n", c->peer_text,
                err == WSG_ERR_TIMEOUT ? "timed out" : "failed");
    if (ex->resp_head) {
        relay_conn_kill(c);
        return;
    }
    if (err == WSG_ERR_TIMEOUT)
        relay_conn_error(c, 504, "upstream timed out\n", true);
    else
        relay_conn_error(c, 502, "upstream unavailable\n",
                         !ex->req_done || !c->keep_alive);
}

/* Sending to the upstream failed. Before any answer, on a connection of
 * its own, the upstream may have answered early (403 before an upload's
 * body) and closed: keep reading for that answer; the browser connection
 * closes after it. Otherwise as up_broken. */
static void write_failed(struct relay_conn *c)
{
    struct relay_exchange *ex = &c->ex;
    if (ex->resp_head || !ex->up || ex->up->reused || ex->write_dead) {
        up_broken(c, WSG_ERR_IO);
        return;
    }
    ex->write_dead = true;
    ex->close_after = true;
    ex->retried = true;
    relay_buf_consume(&ex->up->out, relay_buf_pending(&ex->up->out));
    up_update(ex->up);
    relay_conn_update(c);
}

void relay_proxy_up_failed(struct relay_up *u, int err)
{
    if (u->c)
        up_broken(u->c, err);
}

static void ex_timer(struct wsg_timer *t, void *ud)
{
    struct relay_conn *c = ud;
    struct relay_exchange *ex = &c->ex;
    (void)t;
    if (!ex->up || c->state != RC_PROXY)
        return;
    if (!ex->resp_head && !ex->req_done && !ex->write_dead &&
        !ex->up->connecting && relay_buf_pending(&ex->up->out) == 0) {
        /* waiting for the browser's body, not for the upstream */
        release_up(c, false);
        relay_conn_error(c, 408, "request body timed out\n", true);
        return;
    }
    ex->retried = true;
    up_broken(c, WSG_ERR_TIMEOUT);
}

/* ---- request --------------------------------------------------------------------- */

int relay_proxy_req_body(void *ud, const uint8_t *d, size_t n)
{
    struct relay_conn *c = ud;
    struct relay_exchange *ex = &c->ex;
    if (!ex->up)
        return 400;
    ex->req_bytes += n;
    if (ex->req_bytes > c->r->cfg->max_upload)
        return 413;
    struct relay_buf *o = &ex->up->out;
    bool ok = ex->req_chunked
                  ? relay_buf_printf(o, "%zx\r\n", n) && relay_buf_put(o, d, n) &&
                        relay_buf_put(o, "\r\n", 2)
                  : relay_buf_put(o, d, n);
    return ok ? 0 : 503;
}

/* Binds the exchange to `u`. */
static bool start_on(struct relay_conn *c, struct relay_up *u)
{
    c->ex.up = u;
    u->c = c;
    u->http.skip_body = c->ex.head_method;
    return true;
}

void relay_proxy_start(struct relay_conn *c)
{
    struct relay *r = c->r;
    struct relay_exchange *ex = &c->ex;
    const struct relay_head *hd = &c->http.head;
    struct wsg_timer *t = ex->t;
    free(ex->replay);
    memset(ex, 0, sizeof *ex);
    ex->t = t;
    bool body = hd->chunked || (hd->has_length && hd->length > 0);
    bool close = body || !c->keep_alive;
    if (!ex->t && wsg_timer_new(r->loop, ex_timer, c, &ex->t) != WSG_OK) {
        relay_conn_error(c, 503, "out of memory\n", close);
        return;
    }
    ex->head_method = hd->method == HTTP_HEAD;
    if (hd->has_length && hd->length > r->cfg->max_upload) {
        r->st.refused_upload++;
        relay_audit_refuse(c, 413, WSG_H5, "request body too large",
                           &hd->path);
        relay_conn_error(c, 413, "request body too large\n", true);
        return;
    }
    bool cont = false;
    const struct wsg_header *e = NULL;
    if (relay_hdr_count(hd->h, hd->n, "Expect", &e) > 0) {
        if (relay_hdr_count(hd->h, hd->n, "Expect", NULL) > 1 ||
            !relay_name_is(e->value, e->value_len, "100-continue")) {
            relay_conn_error(c, 417, "unsupported expectation\n", true);
            return;
        }
        cont = body; /* the relay answers it; the upstream never sees it */
    }
    struct wsg_header kept[RELAY_MAX_HEADERS];
    size_t nk = relay_req_filter(hd->h, hd->n, kept);
    const struct wsg_header *host = NULL;
    relay_hdr_count(hd->h, hd->n, "Host", &host);
    struct relay_fwd fwd = {
        .client = c->client,
        .proto = relay_forwarded_proto(c->peer_trusted, hd->h, hd->n),
        .chunked = hd->chunked,
    };
    if (host) {
        fwd.host.ptr = host->value;
        fwd.host.len = host->value_len;
    }
    /* A request with a body gets a new connection: it cannot be sent
     * again if an idle one turns out to be closed by the upstream. */
    struct relay_up *u = relay_pool_get(r, body);
    if (!u) {
        r->st.upstream_errors++;
        relay_conn_error(c, 502, "upstream unavailable\n", close);
        return;
    }
    start_on(c, u);
    const char *method = llhttp_method_name((llhttp_method_t)hd->method);
    if (!relay_req_render(&u->out, method, hd->target, kept, nk, &fwd)) {
        release_up(c, false);
        relay_conn_error(c, 503, "out of memory\n", true);
        return;
    }
    if (!body && u->reused) { /* for one retry (up_broken) */
        ex->replay_len = relay_buf_pending(&u->out);
        ex->replay = malloc(ex->replay_len);
        if (ex->replay)
            memcpy(ex->replay, relay_buf_data(&u->out), ex->replay_len);
    }
    ex->req_chunked = hd->chunked;
    ex->req_done = c->http.done;
    c->state = RC_PROXY;
    if (cont)
        relay_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    ex_arm(c);
    if (!up_flush(u)) {
        write_failed(c);
        return;
    }
    up_update(u);
}

void relay_proxy_input(struct relay_conn *c)
{
    struct relay_exchange *ex = &c->ex;
    struct relay_up *u = ex->up;
    if (c->state != RC_PROXY || !u || ex->req_done)
        return;
    bool progress = false;
    while (!ex->req_done && relay_buf_pending(&u->out) < RELAY_HIGH_WATER) {
        size_t avail = relay_buf_pending(&c->in), used = 0;
        if (avail == 0) {
            if (c->eof) { /* the browser left inside the body */
                release_up(c, false);
                relay_conn_kill(c);
                return;
            }
            break;
        }
        enum relay_feed f = relay_http_feed(&c->http, relay_buf_data(&c->in),
                                            avail, &used);
        relay_buf_consume(&c->in, used);
        progress = progress || used > 0;
        if (f == RELAY_DONE) {
            ex->req_done = true;
            if (ex->req_chunked)
                relay_buf_puts(&u->out, "0\r\n\r\n");
            progress = true;
        } else if (f == RELAY_ERR) {
            int st = c->http.status ? c->http.status : 400;
            release_up(c, false);
            if (st == 413)
                c->r->st.refused_upload++;
            relay_audit_refuse(c, st, st == 413 ? WSG_H5 : WSG_H13,
                               st == 413 ? "request body too large"
                                         : "bad request body",
                               NULL);
            if (ex->resp_head)
                relay_conn_kill(c);
            else
                relay_conn_error(c, st,
                                 st == 413 ? "request body too large\n"
                                           : "bad request body\n",
                                 true);
            return;
        } else if (used == 0) {
            break;
        }
    }
    if (progress)
        ex_arm(c);
    if (!up_flush(u)) {
        write_failed(c);
        return;
    }
    up_update(u);
}

/* ---- response --------------------------------------------------------------------- */

int relay_proxy_resp_body(void *ud, const uint8_t *d, size_t n)
{
    struct relay_up *u = ud;
    struct relay_conn *c = u->c;
    if (!c)
        return 502;
    struct relay_exchange *ex = &c->ex;
    struct relay_buf *o = &c->out;
    bool ok = ex->resp_chunked
                  ? relay_buf_printf(o, "%zx\r\n", n) && relay_buf_put(o, d, n) &&
                        relay_buf_put(o, "\r\n", 2)
                  : relay_buf_put(o, d, n);
    return ok ? 0 : 502;
}

/* The response head: 1xx skipped (the relay answered 100-continue
 * itself), anything else filtered and written to the browser. Returns
 * false when the exchange ended. */
static bool resp_head(struct relay_conn *c, struct relay_up *u)
{
    struct relay *r = c->r;
    struct relay_exchange *ex = &c->ex;
    const struct relay_head *hd = &u->http.head;
    int st = hd->status;
    if (st >= 100 && st < 200) {
        if (st == 101) {
            ex->retried = true;
            up_broken(c, WSG_ERR_PROTOCOL);
            return false;
        }
        relay_http_next(&u->http);
        u->http.skip_body = ex->head_method;
        return true;
    }
    bool nobody = ex->head_method || st == 204 || st == 304;
    bool te = false;
    /* An answer before the whole request was sent (403 before an upload's
     * body): the upstream may not read the rest; never reuse it. */
    ex->up_keep_alive = hd->keep_alive && ex->req_done &&
                        relay_buf_pending(&u->out) == 0;
    if (nobody) {
        te = hd->chunked && ex->head_method && !c->http10;
    } else if (hd->chunked || !hd->has_length) {
        if (!hd->has_length && !hd->chunked)
            ex->up_keep_alive = false; /* delimited by the upstream's EOF */
        if (c->http10) {
            ex->close_after = true; /* raw, ended by our close */
        } else {
            ex->resp_chunked = true;
            te = true;
        }
    }
    if (!ex->req_done || !c->keep_alive || r->draining)
        ex->close_after = true;
    struct wsg_header kept[RELAY_MAX_HEADERS];
    size_t nk = relay_resp_filter(hd->h, hd->n, kept);
    if (!relay_resp_render(&c->out, st, hd->reason, kept, nk, r->sec_list,
                           r->sec_count, te, ex->close_after)) {
        release_up(c, false);
        relay_conn_kill(c);
        return false;
    }
    ex->resp_head = true;
    relay_count_status(r, st);
    ex_arm(c);
    return true;
}

static void resp_done(struct relay_conn *c, struct relay_up *u, bool eof)
{
    struct relay_exchange *ex = &c->ex;
    if (ex->resp_chunked)
        relay_buf_puts(&c->out, "0\r\n\r\n");
    ex->resp_done = true;
    bool reusable = !eof && ex->up_keep_alive && ex->req_done &&
                    relay_buf_pending(&u->in) == 0;
    release_up(c, reusable);
    wsg_timer_stop(ex->t);
    free(ex->replay);
    ex->replay = NULL;
    relay_conn_finish(c, ex->close_after);
}

static void resp_process(struct relay_conn *c, struct relay_up *u, bool eof)
{
    for (int i = 0; i < 16; i++) {
        size_t used = 0;
        enum relay_feed f = relay_http_feed(&u->http, relay_buf_data(&u->in),
                                            relay_buf_pending(&u->in), &used);
        if (f == RELAY_HEAD) {
            bool go = resp_head(c, u); /* spans point into u->in */
            if (!go)
                return;
            relay_buf_consume(&u->in, used);
            continue;
        }
        relay_buf_consume(&u->in, used);
        if (f == RELAY_DONE) {
            resp_done(c, u, false);
            return;
        }
        if (f == RELAY_ERR) {
            if (c->r->cfg->verbose)
                fprintf(stderr, "wsg-relay: upstream response: %s\n",
                        u->http.why ? u->http.why : "malformed");
            c->ex.retried = true;
            up_broken(c, WSG_ERR_HTTP);
            return;
        }
        break;
    }
    if (eof) {
        enum relay_feed f = relay_http_eof(&u->http);
        if (f == RELAY_DONE && c->ex.resp_head) {
            resp_done(c, u, true);
            return;
        }
        up_broken(c, WSG_ERR_PEER_CLOSED);
    }
}

static void up_read(struct relay_conn *c, struct relay_up *u)
{
    if (relay_buf_pending(&c->out) >= RELAY_HIGH_WATER)
        return;
    uint8_t *w = relay_buf_space(&u->in, RELAY_IO_CHUNK);
    if (!w) {
        up_broken(c, WSG_ERR_NOMEM);
        return;
    }
    ssize_t n = recv(u->fd, w, RELAY_IO_CHUNK, 0);
    bool eof = n == 0;
    if (n > 0) {
        relay_buf_commit(&u->in, (size_t)n);
        ex_arm(c);
    } else if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        up_broken(c, WSG_ERR_IO);
        return;
    }
    resp_process(c, u, eof);
}

void relay_proxy_up_io(struct relay_up *u, unsigned revents)
{
    struct relay_conn *c = u->c;
    if (revents & WSG_IO_WRITE) {
        if (!up_flush(u)) {
            write_failed(c);
            return;
        }
        if (!c->ex.req_done && relay_buf_pending(&u->out) < RELAY_HIGH_WATER &&
            relay_buf_pending(&c->in) > 0) {
            relay_proxy_input(c);
            if (c->ex.up != u)
                return;
        }
    }
    if (revents & (WSG_IO_READ | WSG_IO_ERROR)) {
        up_read(c, u);
        if (c->ex.up != u) {
            relay_conn_update(c);
            return;
        }
    }
    up_update(u);
    relay_conn_update(c);
}
