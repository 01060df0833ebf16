/* lib/io end to end: wsg_server and wsg_client in one loop on 127.0.0.1:
 * open, round trips, close codes on both sides, upgrade refusals, deferred
 * upgrades, subprotocols, session data, aborts from callbacks, per-session
 * config, zero-copy sends. Server lifecycle is in test_server.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io_util.h"

/* ---- round trip and close codes ------------------------------------------ */

static const char TEXT[] = "hello, w\xc3\xb6rld \xe2\x98\x83"; /* UTF-8 */

struct script {
    uint8_t *big;
    size_t big_len;
    int step;
    int bad;
    int pongs;
};

static void rt_open(struct side *sd, struct wsg_session *s)
{
    (void)sd;
    cr_assert(wsg_session_is_open(s));
    cr_assert_not_null(wsg_session_conn(s));
    cr_assert_eq(wsg_session_ping(s, "p1", 2), WSG_OK);
    cr_assert_eq(wsg_session_send(s, WSG_OP_TEXT, TEXT, sizeof TEXT - 1),
                 WSG_OK);
}

static void rt_message(struct side *sd, struct wsg_session *s,
                       const struct wsg_event *ev)
{
    struct script *sc = sd->user;
    uint8_t bin[256];

    for (int i = 0; i < 256; i++)
        bin[i] = (uint8_t)i;
    switch (sc->step++) {
    case 0:
        if (ev->opcode != WSG_OP_TEXT || ev->len != sizeof TEXT - 1 ||
            memcmp(ev->data, TEXT, ev->len) != 0)
            sc->bad++;
        cr_assert_eq(wsg_session_send(s, WSG_OP_BINARY, bin, sizeof bin),
                     WSG_OK);
        break;
    case 1:
        if (ev->opcode != WSG_OP_BINARY || ev->len != 256 ||
            memcmp(ev->data, bin, 256) != 0)
            sc->bad++;
        cr_assert_eq(wsg_session_send(s, WSG_OP_BINARY, sc->big, sc->big_len),
                     WSG_OK);
        break;
    case 2:
        if (ev->opcode != WSG_OP_BINARY || ev->len != sc->big_len ||
            memcmp(ev->data, sc->big, sc->big_len) != 0)
            sc->bad++;
        cr_assert_eq(wsg_session_close(s, 4000, "done"), WSG_OK);
        cr_assert_not(wsg_session_is_open(s));
        /* Data after our Close is refused (RFC 6455 5.5.1). */
        cr_assert_neq(wsg_session_send(s, WSG_OP_TEXT, "x", 1), WSG_OK);
        break;
    default:
        sc->bad++;
        break;
    }
}

Test(io_session, text_binary_round_trip_and_client_close_code, .timeout = 20)
{
    struct pair p;
    struct script sc;

    pair_init(&p);
    memset(&sc, 0, sizeof sc);
    sc.big_len = 300 * 1024; /* several reads and writes */
    sc.big = malloc(sc.big_len);
    for (size_t i = 0; i < sc.big_len; i++)
        sc.big[i] = pattern(7, i);
    p.srv_sd.echo = true;
    p.cli_sd.user = &sc;
    p.cli_sd.hook_open = rt_open;
    p.cli_sd.hook_message = rt_message;
    pair_listen(&p);
    pair_connect(&p);

    cr_assert(run_until(p.loop, 5000, pair_both_closed, &p), "no close in time");
    cr_expect_eq(sc.step, 3);
    cr_expect_eq(sc.bad, 0, "%d messages came back wrong", sc.bad);
    cr_expect_eq(p.srv_sd.msgs, 3);
    cr_expect_eq(p.srv_sd.opens, 1);
    cr_expect_eq(p.cli_sd.opens, 1);
    cr_expect_geq(p.cli_sd.controls, 2, "no pong / close event on the client");

    /* Server: the client's code and reason, a clean handshake. */
    cr_expect_eq(p.srv_sd.ci.err, WSG_OK, "server err %s (%s)",
                 wsg_err_name(p.srv_sd.ci.err), p.srv_sd.ci.detail);
    cr_expect(p.srv_sd.ci.opened);
    cr_expect_eq(p.srv_sd.ci.code, 4000);
    cr_expect_str_eq(p.srv_sd.ci_reason, "done");
    cr_expect_eq(p.srv_sd.ci.reason_len, 4);
    cr_expect_eq(p.srv_sd.ci.code_sent, 4000, "server echoed %u",
                 p.srv_sd.ci.code_sent);
    cr_expect_eq(p.srv_sd.ctl_close_code, 4000);
    cr_expect_eq(p.srv_sd.ci.http_status, 0);
    /* Client: its own code sent, the echo received. */
    cr_expect_eq(p.cli_sd.ci.err, WSG_OK, "client err %s (%s)",
                 wsg_err_name(p.cli_sd.ci.err), p.cli_sd.ci.detail);
    cr_expect(p.cli_sd.ci.opened);
    cr_expect_eq(p.cli_sd.ci.code_sent, 4000);
    cr_expect_eq(p.cli_sd.ci.code, 4000);
    cr_expect_eq(p.srv_sd.closes, 1);
    cr_expect_eq(p.cli_sd.closes, 1);
    cr_expect_eq(wsg_server_session_count(p.srv), 0);
    free(sc.big);
    pair_fini(&p);
}

static void close_after_first(struct side *sd, struct wsg_session *s,
                              const struct wsg_event *ev)
{
    (void)ev;
    (void)sd;
    cr_assert_eq(wsg_session_close(s, 1001, "server going away"), WSG_OK);
    /* A second close is a state error, not a second frame. */
    cr_assert_eq(wsg_session_close(s, 1000, NULL), WSG_ERR_STATE);
}

Test(io_session, server_close_code_and_reason_reach_client, .timeout = 20)
{
    struct pair p;

    pair_init(&p);
    p.srv_sd.hook_message = close_after_first;
    p.cli_sd.hook_open = send_one;
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, pair_both_closed, &p));
    cr_expect_eq(p.cli_sd.ci.err, WSG_OK, "%s", p.cli_sd.ci.detail);
    cr_expect_eq(p.cli_sd.ci.code, 1001);
    cr_expect_str_eq(p.cli_sd.ci_reason, "server going away");
    cr_expect_eq(p.cli_sd.ci.code_sent, 1001);
    cr_expect_eq(p.srv_sd.ci.err, WSG_OK, "%s", p.srv_sd.ci.detail);
    cr_expect_eq(p.srv_sd.ci.code_sent, 1001);
    cr_expect_eq(p.srv_sd.ci.code, 1001);
    cr_expect_eq(p.srv_sd.msgs, 1);
    cr_expect_arr_eq(p.srv_sd.msg, "hi", 2);
    pair_fini(&p);
}

/* ---- upgrade refusals ------------------------------------------------------ */

static const struct wsg_header refuse_hdr[] = {
    {"X-Refused-By", 12, "test", 4},
};

static int refuse_403(struct side *sd, struct wsg_session *s,
                      struct wsg_upgrade *up)
{
    (void)sd;
    cr_assert_not_null(up->request);
    cr_assert_not_null(up->peer);
    cr_assert_null(wsg_session_conn(s), "conn before open");
    cr_assert_not(wsg_session_is_open(s));
    cr_assert_eq(wsg_session_send(s, WSG_OP_TEXT, "x", 1), WSG_ERR_STATE);
    cr_assert_eq(up->conn.max_message, 777, "up->conn is not the server's");
    cr_assert_eq(up->request->path.len, 1);
    cr_assert_eq(up->request->path.ptr[0], '/');
    cr_assert_eq(strncmp(up->peer, "127.0.0.1:", 10), 0, "peer %s", up->peer);
    up->refuse_reason = "not you";
    up->refuse_headers = refuse_hdr;
    up->refuse_header_count = 1;
    return 403;
}

Test(io_session, on_upgrade_refuses_403, .timeout = 20)
{
    struct pair p;

    pair_init(&p);
    p.scfg.conn.max_message = 777;
    p.srv_sd.hook_upgrade = refuse_403;
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, pair_both_closed, &p));
    cr_expect_eq(p.cli_sd.opens, 0);
    cr_expect_not(p.cli_sd.ci.opened);
    cr_expect_eq(p.cli_sd.ci.http_status, 403);
    cr_expect(p.cli_sd.ci.err == WSG_ERR_HANDSHAKE ||
                  p.cli_sd.ci.err == WSG_ERR_HTTP,
              "client err %s", wsg_err_name(p.cli_sd.ci.err));
    cr_expect_eq(p.cli_sd.ci.code, WSG_CLOSE_ABNORMAL);
    cr_expect_eq(p.cli_sd.ci.code_sent, 0);

    cr_expect_eq(p.srv_sd.upgrades, 1);
    cr_expect_eq(p.srv_sd.refuses, 1);
    cr_expect_eq(p.srv_sd.ref_status, 403);
    cr_expect_eq(p.srv_sd.ref_err, WSG_ERR_POLICY);
    cr_expect_str_eq(p.srv_sd.ref_reason, "not you");
    cr_expect(p.srv_sd.ref_had_request);
    cr_expect_eq(p.srv_sd.opens, 0);
    /* on_upgrade was seen, so the server also reports the end. */
    cr_expect_eq(p.srv_sd.closes, 1);
    cr_expect_not(p.srv_sd.ci.opened);
    cr_expect_eq(p.srv_sd.ci.err, WSG_ERR_POLICY);
    pair_fini(&p);
}

/* ---- deferred upgrades ----------------------------------------------------- */

struct deferral {
    struct wsg_session *s;
    struct wsg_timer *t;
    bool refuse;
    int accept_rc, again_rc, send_before_rc;
    uint64_t t_upgrade, t_decided;
    int tag;
};

static int defer_upgrade(struct side *sd, struct wsg_session *s,
                         struct wsg_upgrade *up)
{
    struct deferral *d = sd->user;
    d->s = s;
    d->t_upgrade = wsg_clock_ms();
    up->session_data = &d->tag;
    /* The upgrade decides later: 80 ms from now. */
    wsg_timer_start(d->t, d->t_upgrade + 80);
    return WSG_UPGRADE_DEFER;
}

static const struct wsg_header auth_hdr[] = {
    {"WWW-Authenticate", 16, "Bearer", 6},
};

static void decide(struct wsg_timer *t, void *ud)
{
    struct deferral *d = ud;
    struct wsg_hs_accept_opts opts;

    (void)t;
    d->t_decided = wsg_clock_ms();
    d->send_before_rc = wsg_session_send(d->s, WSG_OP_TEXT, "early", 5);
    cr_assert(!wsg_session_is_open(d->s));
    if (d->refuse) {
        d->accept_rc = wsg_session_refuse(d->s, 401, "token required",
                                          auth_hdr, 1);
        d->again_rc = wsg_session_accept(d->s, NULL);
        return;
    }
    memset(&opts, 0, sizeof opts);
    opts.subprotocol = "chat.v2";
    d->accept_rc = wsg_session_accept(d->s, &opts);
    d->again_rc = wsg_session_accept(d->s, &opts);
}

static const char *const protos2[] = {"chat.v1", "chat.v2"};

Test(io_session, deferred_upgrade_then_accept, .timeout = 20)
{
    struct pair p;
    struct deferral d;
    int ctag = 0;

    pair_init(&p);
    memset(&d, 0, sizeof d);
    cr_assert_eq(wsg_timer_new(p.loop, decide, &d, &d.t), WSG_OK);
    p.srv_sd.user = &d;
    p.srv_sd.hook_upgrade = defer_upgrade;
    p.srv_sd.echo = true;
    p.cli_sd.hook_open = send_one;
    pair_listen(&p);
    p.ccfg.hs.protocols = protos2;
    p.ccfg.hs.protocol_count = 2;
    pair_connect(&p);
    wsg_session_set_data(p.cli, &ctag);
    cr_assert(run_until(p.loop, 5000, int_pos, &p.cli_sd.msgs));

    cr_expect_eq(d.send_before_rc, WSG_ERR_STATE);
    cr_expect_eq(d.accept_rc, WSG_OK);
    cr_expect_eq(d.again_rc, WSG_ERR_STATE, "accepted twice");
    cr_expect_eq(p.cli_sd.opens, 1);
    cr_expect_geq(d.t_decided, d.t_upgrade + 75);
    cr_expect_geq(p.srv_sd.t_open, d.t_decided, "opened before the decision");
    cr_expect_geq(p.cli_sd.t_open, d.t_decided);
    cr_expect_str_eq(p.srv_sd.proto_at_open, "chat.v2");
    cr_expect_str_eq(p.cli_sd.proto_at_open, "chat.v2");
    cr_expect_eq(p.srv_sd.data_at_open, &d.tag);
    cr_expect_eq(p.srv_sd.data_at_msg, &d.tag);
    cr_expect_eq(p.cli_sd.data_at_open, &ctag);
    cr_expect_eq(p.cli_sd.data_at_msg, &ctag);
    cr_expect_arr_eq(p.cli_sd.msg, "hi", 2);

    cr_assert_eq(wsg_session_close(p.cli, 1000, NULL), WSG_OK);
    cr_assert(run_until(p.loop, 5000, pair_both_closed, &p));
    cr_expect_eq(p.srv_sd.data_at_close, &d.tag);
    cr_expect_eq(p.cli_sd.data_at_close, &ctag);
    cr_expect_eq(p.srv_sd.ci.code, 1000);
    cr_expect_eq(p.cli_sd.ci.err, WSG_OK);
    wsg_timer_free(d.t);
    pair_fini(&p);
}

Test(io_session, deferred_upgrade_then_refuse_401, .timeout = 20)
{
    struct pair p;
    struct deferral d;

    pair_init(&p);
    memset(&d, 0, sizeof d);
    d.refuse = true;
    cr_assert_eq(wsg_timer_new(p.loop, decide, &d, &d.t), WSG_OK);
    p.srv_sd.user = &d;
    p.srv_sd.hook_upgrade = defer_upgrade;
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, pair_both_closed, &p));
    cr_expect_eq(d.accept_rc, WSG_OK);
    cr_expect_eq(d.again_rc, WSG_ERR_STATE);
    cr_expect_eq(p.cli_sd.opens, 0);
    cr_expect_eq(p.cli_sd.ci.http_status, 401);
    cr_expect_eq(p.srv_sd.refuses, 1);
    cr_expect_eq(p.srv_sd.ref_status, 401);
    cr_expect_eq(p.srv_sd.ref_err, WSG_ERR_POLICY);
    cr_expect_str_eq(p.srv_sd.ref_reason, "token required");
    cr_expect_geq(p.srv_sd.t_refuse, d.t_upgrade + 75);
    wsg_timer_free(d.t);
    pair_fini(&p);
}

/* ---- subprotocols ------------------------------------------------------------ */

static int pick_proto(struct side *sd, struct wsg_session *s,
                      struct wsg_upgrade *up)
{
    const char *want = sd->user;
    (void)s;
    if (want && up->request->protocols.ptr &&
        wsg_http_list_has(up->request->protocols, want))
        up->accept.subprotocol = want;
    else if (want && strcmp(want, "force-unoffered") == 0)
        up->accept.subprotocol = "zzz";
    return WSG_UPGRADE_ACCEPT;
}

/* A pair whose server picks `want` with pick_proto; the client offers
 * protos2 when `offer`. Connected. */
static void proto_pair(struct pair *p, const char *want, bool offer)
{
    pair_init(p);
    p->srv_sd.hook_upgrade = pick_proto;
    p->srv_sd.user = (void *)(uintptr_t)want;
    pair_listen(p);
    if (offer) {
        p->ccfg.hs.protocols = protos2;
        p->ccfg.hs.protocol_count = 2;
    }
    pair_connect(p);
}

Test(io_session, subprotocol_selected_from_offer, .timeout = 20)
{
    struct pair p;

    proto_pair(&p, "chat.v1", true);
    cr_assert(run_until(p.loop, 5000, int_pos, &p.cli_sd.opens));
    cr_assert(run_until(p.loop, 5000, int_pos, &p.srv_sd.opens));
    cr_expect_str_eq(p.cli_sd.proto_at_open, "chat.v1");
    cr_expect_str_eq(p.srv_sd.proto_at_open, "chat.v1");
    cr_expect_str_eq(wsg_session_protocol(p.cli), "chat.v1");
    pair_fini(&p);
}

Test(io_session, subprotocol_none_when_not_offered, .timeout = 20)
{
    struct pair p;

    proto_pair(&p, "chat.v1", false);
    cr_assert(run_until(p.loop, 5000, int_pos, &p.cli_sd.opens));
    cr_assert(run_until(p.loop, 5000, int_pos, &p.srv_sd.opens));
    cr_expect_str_eq(p.cli_sd.proto_at_open, "");
    cr_expect_str_eq(p.srv_sd.proto_at_open, "");
    pair_fini(&p);
}

Test(io_session, subprotocol_not_offered_is_refused_500, .timeout = 20)
{
    struct pair p;

    proto_pair(&p, "force-unoffered", true);
    cr_assert(run_until(p.loop, 5000, pair_both_closed, &p));
    cr_expect_eq(p.cli_sd.opens, 0);
    cr_expect_eq(p.srv_sd.opens, 0);
    cr_expect_eq(p.cli_sd.ci.http_status, 500);
    cr_expect_eq(p.srv_sd.ref_status, 500);
    pair_fini(&p);
}

/* ---- aborts from callbacks ---------------------------------------------------- */

static void abort_on_message(struct side *sd, struct wsg_session *s,
                             const struct wsg_event *ev)
{
    (void)sd;
    (void)ev;
    wsg_session_abort(s, WSG_ERR_POLICY);
    /* The handle is still valid inside the callback; the session is not. */
    cr_assert_eq(wsg_session_send(s, WSG_OP_TEXT, "x", 1), WSG_ERR_STATE);
    cr_assert_eq(wsg_session_close(s, 1000, NULL), WSG_ERR_STATE);
    cr_assert_not(wsg_session_is_open(s));
    wsg_session_abort(s, WSG_ERR_IO); /* twice: no-op */
}

Test(io_session, abort_inside_on_message, .timeout = 20)
{
    struct pair p;

    pair_init(&p);
    p.srv_sd.hook_message = abort_on_message;
    p.cli_sd.hook_open = send_one;
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, pair_both_closed, &p));
    cr_expect_eq(p.srv_sd.closes, 1);
    cr_expect_eq(p.srv_sd.ci.err, WSG_ERR_POLICY);
    cr_expect(p.srv_sd.ci.opened);
    cr_expect_eq(p.srv_sd.ci.code, WSG_CLOSE_ABNORMAL);
    cr_expect_eq(p.cli_sd.ci.err, WSG_ERR_PEER_CLOSED, "client err %s",
                 wsg_err_name(p.cli_sd.ci.err));
    cr_expect_eq(p.cli_sd.ci.code, WSG_CLOSE_ABNORMAL);
    pair_fini(&p);
}

static void abort_on_open(struct side *sd, struct wsg_session *s)
{
    (void)sd;
    wsg_session_abort(s, 0); /* 0: WSG_ERR_CLOSED */
}

Test(io_session, client_abort_inside_on_open, .timeout = 20)
{
    struct pair p;

    pair_init(&p);
    p.cli_sd.hook_open = abort_on_open;
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, pair_both_closed, &p));
    cr_expect_eq(p.cli_sd.closes, 1);
    cr_expect_eq(p.cli_sd.ci.err, WSG_ERR_CLOSED);
    cr_expect(p.cli_sd.ci.opened);
    cr_expect_eq(p.srv_sd.ci.err, WSG_ERR_PEER_CLOSED);
    pair_fini(&p);
}

/* ---- client failures ------------------------------------------------------------ */

Test(io_session, client_connect_refused_reports_once, .timeout = 20)
{
    struct wsg_loop *loop = loop_new();
    struct side sd;
    struct wsg_client_config cfg;
    struct wsg_session *s = NULL;
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd;

    /* A port that is bound but not listening: connect is refused. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    side_init(&sd, loop);
    client_config(&cfg, &sd, ntohs(sa.sin_port));
    cr_assert_eq(wsg_client_connect(loop, &cfg, &s), WSG_OK);
    cr_assert(run_until(loop, 3000, int_pos, &sd.closes));
    run_until(loop, 50, NULL, NULL);
    cr_expect_eq(sd.closes, 1);
    cr_expect_eq(sd.opens, 0);
    cr_expect_eq(sd.ci.err, WSG_ERR_IO, "err %s", wsg_err_name(sd.ci.err));
    cr_expect_not(sd.ci.opened);
    cr_expect_eq(sd.ci.http_status, 0);
    close(fd);

    /* Invalid config: fails, and the callback is never called. */
    cfg.host = NULL;
    s = (struct wsg_session *)&sd;
    cr_expect_eq(wsg_client_connect(loop, &cfg, &s), WSG_ERR_INVALID_ARG);
    cr_expect_null(s);
    run_until(loop, 20, NULL, NULL);
    cr_expect_eq(sd.closes, 1);
    loop_finish(loop, NULL, NULL);
    side_fini(&sd);
}

/* ---- per-session config from on_upgrade ------------------------------------ */

static int small_limit(struct side *sd, struct wsg_session *s,
                       struct wsg_upgrade *up)
{
    (void)sd;
    (void)s;
    up->conn.max_message = 1024;
    up->conn.max_frame = 1024;
    return WSG_UPGRADE_ACCEPT;
}

static void send_2000(struct side *sd, struct wsg_session *s)
{
    static uint8_t big[2000];
    (void)sd;
    cr_assert_eq(wsg_session_send(s, WSG_OP_BINARY, big, sizeof big), WSG_OK);
}

Test(io_session, H5_on_upgrade_conn_limits_apply, .timeout = 20)
{
    struct pair p;

    pair_init(&p);
    p.srv_sd.hook_upgrade = small_limit;
    p.cli_sd.hook_open = send_2000;
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, pair_both_closed, &p));
    cr_expect_eq(p.srv_sd.msgs, 0);
    cr_expect_eq(p.srv_sd.ci.err, WSG_ERR_TOO_BIG, "server err %s",
                 wsg_err_name(p.srv_sd.ci.err));
    cr_expect_eq(p.srv_sd.ci.code_sent, 1009);
    cr_expect_eq(p.cli_sd.ci.code, 1009, "client saw %u", p.cli_sd.ci.code);
    pair_fini(&p);
}

struct frags {
    int n, firsts, fins;
    size_t total;
    int bad;
};

static int stream_mode(struct side *sd, struct wsg_session *s,
                       struct wsg_upgrade *up)
{
    (void)sd;
    (void)s;
    up->conn.delivery = WSG_DELIVER_STREAM;
    return WSG_UPGRADE_ACCEPT;
}

static void count_frag(struct side *sd, struct wsg_session *s,
                       const struct wsg_event *ev)
{
    struct frags *f = sd->user;
    (void)s;
    if (ev->type != WSG_EV_FRAGMENT) {
        f->bad++;
        return;
    }
    for (size_t i = 0; i < ev->len; i++)
        if (ev->data[i] != pattern(9, f->total + i)) {
            f->bad++;
            break;
        }
    f->n++;
    f->firsts += ev->first;
    f->fins += ev->fin;
    f->total += ev->len;
}

static void send_three_fragments(struct side *sd, struct wsg_session *s)
{
    static uint8_t buf[3000];
    (void)sd;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = pattern(9, i);
    cr_assert_eq(wsg_session_send_fragment(s, WSG_OP_BINARY, buf, 1000, true,
                                           false), WSG_OK);
    cr_assert_eq(wsg_session_send_fragment(s, WSG_OP_BINARY, buf + 1000, 1000,
                                           false, false), WSG_OK);
    cr_assert_eq(wsg_session_send_fragment(s, WSG_OP_BINARY, buf + 2000, 1000,
                                           false, true), WSG_OK);
}

Test(io_session, stream_delivery_chosen_in_on_upgrade, .timeout = 20)
{
    struct pair p;
    struct frags f;

    pair_init(&p);
    memset(&f, 0, sizeof f);
    p.srv_sd.user = &f;
    p.srv_sd.hook_upgrade = stream_mode;
    p.srv_sd.hook_message = count_frag;
    p.cli_sd.hook_open = send_three_fragments;
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, int_pos, &f.fins));
    cr_expect_eq(f.bad, 0);
    cr_expect_geq(f.n, 3);
    cr_expect_eq(f.firsts, 1);
    cr_expect_eq(f.fins, 1);
    cr_expect_eq(f.total, 3000);
    pair_fini(&p);
}

/* ---- zero-copy send, peers --------------------------------------------------- */

static int released;
static const char borrowed_buf[] = "borrowed payload";

static void on_release(void *ud, const void *data)
{
    cr_assert_eq(ud, &released);
    cr_assert_eq(data, borrowed_buf);
    released++;
}

static void send_borrowed(struct side *sd, struct wsg_session *s)
{
    (void)sd;
    cr_assert_eq(wsg_session_send_borrowed(s, WSG_OP_TEXT, borrowed_buf,
                                           sizeof borrowed_buf - 1, true, true,
                                           on_release, &released),
                 WSG_OK);
    cr_assert_eq(released, 0, "released before it was written");
}

Test(io_session, borrowed_send_released_once_and_peers_named, .timeout = 20)
{
    struct pair p;
    char want[32];

    released = 0;
    pair_init(&p);
    p.srv_sd.hook_open = send_borrowed;
    pair_listen(&p);
    pair_connect(&p);
    cr_assert(run_until(p.loop, 5000, int_pos, &p.cli_sd.msgs));
    cr_expect_eq(p.cli_sd.msg_len, sizeof borrowed_buf - 1);
    cr_expect_arr_eq(p.cli_sd.msg, borrowed_buf, sizeof borrowed_buf - 1);
    cr_expect_eq(released, 1);
    /* "ip:port" on both sides. */
    snprintf(want, sizeof want, "127.0.0.1:%u",
             (unsigned)wsg_server_port(p.srv));
    cr_expect_str_eq(wsg_session_peer(p.cli), want);
    cr_assert_not_null(p.srv_sd.s);
    cr_expect_eq(strncmp(wsg_session_peer(p.srv_sd.s), "127.0.0.1:", 10), 0,
                 "%s", wsg_session_peer(p.srv_sd.s));
    cr_expect_str_neq(wsg_session_peer(p.srv_sd.s), want);
    cr_expect_str_eq(wsg_session_peer(NULL), "unknown");
    cr_expect_str_eq(wsg_session_protocol(NULL), "");
    cr_expect_eq(wsg_session_pending(p.cli), 0);
    pair_fini(&p);
    cr_expect_eq(released, 1);
}

