/* wsg-relay's WebSocket bridge. For each upgrade front.c hands over:
 *   1. the guard decides first (H1 H2 H3 H6 H9 H10 H11): a refusal is
 *      answered here and nothing reaches Streamlit (T9);
 *   2. the browser's upgrade is deferred while the relay opens its own
 *      WebSocket to Streamlit: same target, Host, Origin, Cookie,
 *      User-Agent and subprotocol list, a key of its own; lib/io's client
 *      validates the 101 (accept value, offered subprotocol: T6);
 *   3. only then the browser gets its 101, with Streamlit's subprotocol,
 *      its Set-Cookie headers and the security headers; a failed upstream
 *      handshake answers 502 (504 on its deadline) and no byte of the
 *      browser's is forwarded;
 *   4. Streamlit's messages flow piece by piece (WSG_DELIVER_STREAM), so a
 *      200 MB message never sits whole in memory; the browser's are
 *      forwarded whole once validated (WSG_DELIVER_MESSAGE, at most
 *      max-message, 1 MiB by default), so no part of a message that turns
 *      out too big or malformed ever reaches Streamlit (H13); a leg whose
 *      output is over PAUSE_AT stops the other leg's reading until it
 *      drains;
 *   5. a Close on one leg closes the other with the same code, 1005 and
 *      1006 mapped to sendable codes.
 * Each leg answers its own pings (lib/io); the browser leg is pinged every
 * ping-interval (H7) and its pongs are control frames, not messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "headers.h"

#define PAUSE_AT RELAY_BRIDGE_PAUSE_AT
#define LEG_MAX_OUTPUT RELAY_BRIDGE_LEG_MAX_OUTPUT

struct relay_bridge {
    struct wsg_loop *loop;
    const struct relay_config *cfg;
    struct wsg_guard *guard;
    struct wsg_server *srv;
    relay_audit_fn *audit;
    void *audit_ud;
    struct wsg_guard_verdict refusal; /* lives until the answer is written */
    struct relay_bridge_stats st;
    void (*on_done)(void *ud);
    void *done_ud;
};

struct bridge_link {
    struct relay_bridge *w;
    struct wsg_session *down;        /* the browser */
    struct wsg_session *up;          /* Streamlit */
    struct wsg_guard_conn *gc;
    struct wsg_guard_verdict v;      /* security headers for the 101 */
    struct wsg_timer *timer;
    uint64_t armed;
    struct wsg_conn_stats ds;        /* the browser leg's, kept current */
    bool down_open, up_open, down_gone, up_gone;
    bool down_paused, up_paused;     /* paused by the other leg */
    uint16_t down_code, up_code;     /* codes received on each leg */
    struct relay_bridge_req req;     /* the upstream request (copies) */
    struct wsg_header accept[24];    /* the browser's 101 headers */
};

static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* An event of the bridge's own (the guard emits the rest). */
static void audit(struct relay_bridge *w, const char *event, const char *peer,
                  const char *client, const char *path, int status,
                  uint16_t code, int control, const char *reason)
{
    struct wsg_audit_event ev;

    if (w->audit == NULL)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.time_ms = wall_ms();
    ev.event = event;
    ev.control = control;
    ev.client = client;
    ev.peer = peer;
    ev.path = path;
    ev.status = status;
    ev.close_code = code;
    ev.reason = reason;
    w->audit(w->audit_ud, &ev);
}

/* ---- codes across legs ------------------------------------------------------ */

/* The browser's code for Streamlit: what it sent, or 1000 / 1001. */
static uint16_t code_for_up(uint16_t c)
{
    if (c == WSG_CLOSE_NO_STATUS)
        return WSG_CLOSE_NORMAL;
    return wsg_close_code_is_sendable(c) ? c : WSG_CLOSE_GOING_AWAY;
}

/* Streamlit's code for the browser: what it sent; 1011 when it vanished
 * (a crash or a restart), 1000 when it sent none. */
static uint16_t code_for_down(uint16_t c)
{
    if (c == WSG_CLOSE_NO_STATUS)
        return WSG_CLOSE_NORMAL;
    return wsg_close_code_is_sendable(c) ? c : WSG_CLOSE_INTERNAL_ERROR;
}

static void count_close(struct relay_bridge *w, uint16_t c)
{
    size_t i = c == 1000 ? 0 : c == 1001 ? 1 : (c >= 1008 && c <= 1009) ? 2
             : (c >= 1011 && c <= 1012) ? 3 : 4;
    w->st.closes_by_code[i]++;
}

/* ---- the bridge's life ---------------------------------------------------- */

static void bridge_free(struct bridge_link *b)
{
    if (b->w->st.open_now > 0)
        b->w->st.open_now--;
    wsg_timer_free(b->timer);
    free(b->req.strings);
    free(b);
}

/* Both legs gone: the bridge goes. */
static void maybe_free(struct bridge_link *b)
{
    if (b->down_gone && b->up_gone)
        bridge_free(b);
}

static void update(struct bridge_link *b, uint64_t now)
{
    /* After down_close the browser's session is freed. */
    struct wsg_conn *c = b->down_open && !b->down_gone
                             ? wsg_session_conn(b->down) : NULL;
    uint64_t out = b->ds.bytes_out;

    if (c == NULL)
        return;
    wsg_conn_get_stats(c, &b->ds);
    if (b->ds.bytes_out > out && b->gc != NULL)
        wsg_guard_conn_sent(b->gc, (size_t)(b->ds.bytes_out - out), now);
}

static void rearm(struct bridge_link *b)
{
    uint64_t d;

    if (b->gc == NULL)
        return;
    d = wsg_guard_conn_next_deadline(b->gc);
    if (d < b->armed) {
        b->armed = d;
        wsg_timer_start(b->timer, d);
    }
}

/* The guard closes the browser leg; Streamlit's leg follows. */
static void act(struct bridge_link *b, const struct wsg_guard_action *a)
{
    if (a->what == WSG_GUARD_CLOSE) {
        wsg_session_close(b->down, a->code, a->reason);
        if (b->up_open && !b->up_gone)
            wsg_session_close(b->up, WSG_CLOSE_GOING_AWAY, "client closed");
    } else if (a->what == WSG_GUARD_PING) {
        wsg_session_ping(b->down, NULL, 0);
    }
}

static void on_timer(struct wsg_timer *t, void *ud)
{
    struct bridge_link *b = ud;
    struct wsg_guard_action a;
    uint64_t now = wsg_loop_now(b->w->loop);

    (void)t;
    b->armed = UINT64_MAX;
    if (b->gc == NULL || b->down_gone)
        return;
    wsg_guard_conn_tick(b->gc, now, &a);
    act(b, &a);
    update(b, now);
    rearm(b);
}

/* Sends a whole message or one piece to `dst`; pauses `src` while `dst`
 * is over PAUSE_AT. */
static bool forward(struct bridge_link *b, struct wsg_session *dst,
                    struct wsg_session *src, bool *src_paused,
                    const struct wsg_event *ev)
{
    int rc = ev->type == WSG_EV_MESSAGE
                 ? wsg_session_send(dst, ev->opcode, ev->data, ev->len)
                 : wsg_session_send_fragment(dst, ev->opcode, ev->data,
                                             ev->len, ev->first, ev->fin);

    if (rc != WSG_OK)
        return false;
    if (!*src_paused && wsg_session_pending(dst) > PAUSE_AT) {
        *src_paused = true;
        wsg_session_pause(src);
    }
    (void)b;
    return true;
}

/* ---- the Streamlit leg (client session) ------------------------------------- */

static void up_open(void *ud, struct wsg_session *s)
{
    struct bridge_link *b = ud;
    struct wsg_hs_accept_opts o;
    const struct wsg_header *rh;
    size_t n = 0, k = 0;
    int rc;

    b->up_open = true;
    memset(&o, 0, sizeof(o));
    /* "" when Streamlit selected none: then the browser's 101 names none. */
    o.subprotocol = wsg_session_protocol(s);
    if (o.subprotocol != NULL && o.subprotocol[0] == '\0')
        o.subprotocol = NULL;
    for (size_t i = 0; i < b->v.header_count && k < 24; i++)
        b->accept[k++] = b->v.headers[i];
    rh = wsg_session_response_headers(s, &n);
    for (size_t i = 0; rh != NULL && i < n && k < 24; i++)
        if (relay_name_is(rh[i].name, rh[i].name_len, "Set-Cookie"))
            b->accept[k++] = rh[i];
    o.headers = b->accept;
    o.header_count = k;
    if (b->down_gone)
        rc = WSG_ERR_CLOSED;
    else
        rc = wsg_session_accept(b->down, &o);
    if (rc != WSG_OK) {
        /* The browser left, or its 101 could not be written. */
        if (b->w->cfg->verbose)
            fprintf(stderr, "wsg-relay: %s: cannot accept the upgrade: %s\n",
                    b->down_gone ? "-" : wsg_session_peer(b->down),
                    wsg_strerror(rc));
        wsg_session_close(s, WSG_CLOSE_GOING_AWAY, "client gone");
        if (!b->down_gone)
            wsg_session_refuse(b->down, 502, "cannot accept the upgrade",
                               b->v.headers, b->v.header_count);
    }
}

static void up_message(void *ud, struct wsg_session *s,
                       const struct wsg_event *ev)
{
    struct bridge_link *b = ud;

    if (!b->down_open || b->down_gone)
        return;
    if (!forward(b, b->down, s, &b->up_paused, ev)) {
        wsg_session_close(b->down, WSG_CLOSE_INTERNAL_ERROR, "relay error");
        wsg_session_close(s, WSG_CLOSE_GOING_AWAY, "relay error");
        return;
    }
    if (ev->first) {
        b->w->st.messages_to_down++;
    }
    b->w->st.bytes_to_down += ev->len;
    update(b, wsg_loop_now(b->w->loop));
}

static void up_control(void *ud, struct wsg_session *s,
                       const struct wsg_event *ev)
{
    struct bridge_link *b = ud;

    (void)s;
    if (ev->type != WSG_EV_CLOSE)
        return; /* pings: answered by lib/io */
    b->up_code = ev->close_code;
    update(b, wsg_loop_now(b->w->loop));
    if (b->down_open && !b->down_gone) {
        char reason[124];
        size_t n = ev->reason_len < sizeof(reason) - 1 ? ev->reason_len
                                                        : sizeof(reason) - 1;
        memcpy(reason, ev->reason, n);
        reason[n] = '\0';
        wsg_session_close(b->down, code_for_down(ev->close_code), reason);
    }
}

static void up_drain(void *ud, struct wsg_session *s)
{
    struct bridge_link *b = ud;

    (void)s;
    if (b->down_paused && !b->down_gone) {
        b->down_paused = false;
        wsg_session_resume(b->down);
    }
}

static void up_close(void *ud, struct wsg_session *s,
                     const struct wsg_close_info *ci)
{
    struct bridge_link *b = ud;
    struct relay_bridge *w = b->w;

    (void)s;
    b->up_gone = true;
    if (!ci->opened) {
        /* T6: no valid 101 from Streamlit: 502 (504 on the deadline), and
         * nothing of the browser's was forwarded. */
        int status = ci->err == WSG_ERR_TIMEOUT ? 504 : 502;
        w->st.upstream_failed++;
        if (!b->down_gone) {
            audit(w, "refuse", wsg_session_peer(b->down), b->v.client, NULL,
                  status, 0, 0, ci->detail);
            wsg_session_refuse(b->down, status, status == 504
                               ? "upstream timed out" : "upstream refused the WebSocket",
                               b->v.headers, b->v.header_count);
        }
    } else if (b->down_open && !b->down_gone) {
        uint16_t c = b->up_code ? b->up_code : ci->code;
        update(b, wsg_loop_now(w->loop));
        wsg_session_close(b->down, code_for_down(c),
                          c == WSG_CLOSE_ABNORMAL ? "upstream connection lost"
                                                  : "upstream closed");
    }
    maybe_free(b);
}

/* ---- the browser leg (server session) --------------------------------------- */

static int start_upstream(struct bridge_link *b, const struct wsg_hs_request *rq)
{
    static const struct wsg_session_callbacks cb = {
        .on_open = up_open, .on_message = up_message,
        .on_control = up_control, .on_drain = up_drain,
        .on_close = up_close};

    return relay_bridge_connect(b->w->loop, b->w->cfg, rq, b->v.subject, &cb,
                                b, &b->req, &b->up);
}

/* Header values of the verdict that point into w->refusal move with it. */
static void rebase(struct bridge_link *b, const struct wsg_guard_verdict *from)
{
    const char *lo = (const char *)from, *hi = lo + sizeof(*from);

    memcpy(&b->v, from, sizeof(b->v));
    for (size_t i = 0; i < b->v.header_count; i++) {
        const char *v = b->v.headers[i].value;
        if (v >= lo && v < hi)
            b->v.headers[i].value = (const char *)&b->v + (v - lo);
    }
    if (b->v.subprotocol >= lo && b->v.subprotocol < hi)
        b->v.subprotocol = (const char *)&b->v + (b->v.subprotocol - lo);
}

static int down_upgrade(void *ud, struct wsg_session *s, struct wsg_upgrade *up)
{
    struct relay_bridge *w = ud;
    struct wsg_guard_verdict *v = &w->refusal;
    struct wsg_guard_peer peer;
    struct wsg_guard_conn *gc = NULL;
    struct bridge_link *b;
    uint64_t now = wsg_loop_now(w->loop);

    wsg_guard_peer_fill(&peer, up->peer, false);
    if (wsg_guard_upgrade(w->guard, up->request, &peer, now, v, &gc) !=
        WSG_OK) {
        up->refuse_reason = "out of memory";
        return 503;
    }
    if (v->status != 0) {
        up->refuse_reason = v->reason;
        up->refuse_headers = v->headers;
        up->refuse_header_count = v->header_count;
        return v->status;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL || wsg_timer_new(w->loop, on_timer, b, &b->timer) != WSG_OK) {
        free(b);
        wsg_guard_conn_free(gc, now, NULL, 0, 0);
        up->refuse_reason = "out of memory";
        return 503;
    }
    b->w = w;
    b->down = s;
    b->gc = gc;
    b->armed = UINT64_MAX;
    rebase(b, v);
    w->st.open_now++;
    up->session_data = b;
    up->conn.delivery = WSG_DELIVER_MESSAGE; /* see 4. above */
    wsg_guard_conn_config(w->guard, &up->conn);
    up->conn.max_output = LEG_MAX_OUTPUT;
    if (start_upstream(b, up->request) != WSG_OK) {
        /* up_close will not come: the upstream leg never existed. */
        b->up_gone = true;
        w->st.upstream_failed++;
        audit(w, "refuse", up->peer, v->client, NULL, 502, 0, 0,
              "cannot reach the upstream");
        up->refuse_reason = "upstream unavailable";
        up->refuse_headers = b->v.headers;
        up->refuse_header_count = b->v.header_count;
        return 502; /* down_close frees the rest */
    }
    rearm(b);
    return WSG_UPGRADE_DEFER;
}

static void down_open(void *ud, struct wsg_session *s)
{
    struct bridge_link *b = wsg_session_data(s);

    (void)ud;
    if (b == NULL)
        return;
    b->down_open = true;
    b->w->st.opened++;
}

static void down_message(void *ud, struct wsg_session *s,
                         const struct wsg_event *ev)
{
    struct bridge_link *b = wsg_session_data(s);
    struct wsg_guard_action a;
    uint64_t now;

    (void)ud;
    if (b == NULL)
        return;
    now = wsg_loop_now(b->w->loop);
    wsg_guard_conn_message(b->gc, ev, now, &a);
    if (a.what == WSG_GUARD_PASS && b->up_open && !b->up_gone) {
        if (!forward(b, b->up, s, &b->down_paused, ev)) {
            wsg_session_close(s, WSG_CLOSE_INTERNAL_ERROR, "relay error");
            wsg_session_close(b->up, WSG_CLOSE_GOING_AWAY, "relay error");
        } else {
            if (ev->type == WSG_EV_MESSAGE || ev->first)
                b->w->st.messages_to_up++;
            b->w->st.bytes_to_up += ev->len;
        }
    } else if (a.what != WSG_GUARD_PASS) {
        act(b, &a);
    }
    update(b, now);
    rearm(b);
}

static void down_control(void *ud, struct wsg_session *s,
                         const struct wsg_event *ev)
{
    struct bridge_link *b = wsg_session_data(s);
    struct wsg_guard_action a;

    (void)ud;
    if (b == NULL)
        return;
    /* The counters for the close event: output queued earlier has been
     * written by now (the conn is gone by down_close). */
    update(b, wsg_loop_now(b->w->loop));
    if (ev->type == WSG_EV_CLOSE) {
        b->down_code = ev->close_code;
        if (b->up_open && !b->up_gone) {
            char reason[124];
            size_t n = ev->reason_len < sizeof(reason) - 1
                           ? ev->reason_len : sizeof(reason) - 1;
            memcpy(reason, ev->reason, n);
            reason[n] = '\0';
            wsg_session_close(b->up, code_for_up(ev->close_code), reason);
        }
        return;
    }
    wsg_guard_conn_control(b->gc, ev, wsg_loop_now(b->w->loop), &a);
    if (a.what != WSG_GUARD_PASS)
        act(b, &a);
}

static void down_drain(void *ud, struct wsg_session *s)
{
    struct bridge_link *b = wsg_session_data(s);

    (void)ud;
    if (b != NULL && b->up_paused && !b->up_gone) {
        b->up_paused = false;
        wsg_session_resume(b->up);
    }
}

static void down_close(void *ud, struct wsg_session *s,
                       const struct wsg_close_info *ci)
{
    struct relay_bridge *w = ud;
    struct bridge_link *b = wsg_session_data(s);
    uint64_t now = wsg_loop_now(w->loop);

    if (b == NULL)
        return;
    wsg_session_set_data(s, NULL);
    b->down_gone = true;
    if (ci->opened) {
        count_close(w, ci->code_sent ? ci->code_sent : ci->code);
        /* lib/io failed the browser leg (1009, 1002/1007, output budget,
         * missed pong): a violation event with its control id. */
        wsg_guard_conn_failed(b->gc, now, ci->err, ci->code_sent);
    }
    wsg_guard_conn_free(b->gc, now, &b->ds, ci->code_sent, ci->code);
    b->gc = NULL;
    wsg_timer_stop(b->timer);
    if (!b->up_gone) {
        if (b->up_open)
            wsg_session_close(b->up, code_for_up(b->down_code ? b->down_code
                                                               : ci->code),
                              "client gone");
        else
            wsg_session_abort(b->up, WSG_ERR_CLOSED);
    }
    maybe_free(b);
}

/* Refusals lib/io decided (malformed upgrade, deadline): audited here. */
static void down_refuse(void *ud, const struct wsg_refusal *r)
{
    struct relay_bridge *w = ud;

    if (r->err == WSG_ERR_POLICY)
        return; /* the guard (or the bridge) audited it */
    audit(w, "refuse", r->peer, NULL, NULL, r->status, 0,
          wsg_refusal_control(r), r->reason);
}

/* TLS ends at the front end (H1 through trusted-proxy): tls false. */
static void down_http_refusal(void *ud, struct wsg_http_answer *ans)
{
    struct relay_bridge *w = ud;

    wsg_guard_amend_refusal(w->guard, ans, false, &w->refusal);
}

static void on_shutdown(void *ud, struct wsg_server *srv)
{
    struct relay_bridge *w = ud;

    (void)srv;
    if (w->on_done != NULL)
        w->on_done(w->done_ud);
}

/* ---- API -------------------------------------------------------------------- */

int relay_bridge_new(struct wsg_loop *loop, const struct relay_config *cfg,
                 struct wsg_guard *guard, relay_audit_fn *audit_fn,
                 void *audit_ud, struct relay_bridge **out)
{
    struct wsg_server_config sc;
    struct relay_bridge *w;
    int rc;

    *out = NULL;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return WSG_ERR_NOMEM;
    w->loop = loop;
    w->cfg = cfg;
    w->guard = guard;
    w->audit = audit_fn;
    w->audit_ud = audit_ud;
    wsg_server_config_init_default(&sc);
    if (cfg->policy != NULL &&
        (rc = wsg_server_config_from_policy(&sc, cfg->policy)) != WSG_OK) {
        free(w);
        return rc;
    }
    sc.host = NULL;
    sc.port = NULL; /* no listener: front.c adopts */
    sc.conn.delivery = WSG_DELIVER_MESSAGE;
    sc.conn.max_output = LEG_MAX_OUTPUT;
    sc.pause_output = PAUSE_AT;
    sc.cb.on_upgrade = down_upgrade;
    sc.cb.on_refuse = down_refuse;
    sc.cb.on_http_refusal = down_http_refusal;
    sc.cb.on_open = down_open;
    sc.cb.on_message = down_message;
    sc.cb.on_control = down_control;
    sc.cb.on_drain = down_drain;
    sc.cb.on_close = down_close;
    sc.cb.ud = w;
    sc.on_shutdown = on_shutdown;
    rc = wsg_server_new(loop, &sc, &w->srv);
    if (rc != WSG_OK) {
        free(w);
        return rc;
    }
    *out = w;
    return WSG_OK;
}

void relay_bridge_free(struct relay_bridge *w)
{
    if (w == NULL)
        return;
    wsg_server_free(w->srv);
    free(w);
}

int relay_bridge_take(struct relay_bridge *w, int fd, const uint8_t *data,
                  size_t len)
{
    int rc = wsg_server_adopt(w->srv, fd, data, len);

    if (rc == WSG_OK)
        w->st.adopted++;
    return 0; /* taken either way: adopt closes the fd on failure */
}

void relay_bridge_shutdown(struct relay_bridge *w, uint32_t timeout_ms,
                       void (*on_done)(void *ud), void *ud)
{
    w->on_done = on_done;
    w->done_ud = ud;
    wsg_server_shutdown(w->srv, WSG_CLOSE_GOING_AWAY, "relay shutting down",
                        timeout_ms);
}

const struct relay_bridge_stats *relay_bridge_get_stats(const struct relay_bridge *w)
{
    return &w->st;
}
