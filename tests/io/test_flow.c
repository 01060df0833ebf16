/* lib/io backpressure (HARDENING.md H12): a peer that does not read cannot
 * make the server buffer without bound. The server's pending output stays
 * within max_output, reading pauses while it is over pause_output, and once
 * the peer reads again every message arrives intact and in order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io_util.h"

#define MSG 8192
#define MAX_OUTPUT (256u * 1024u)

/* ---- server producer -> paused wsg client --------------------------------- */

struct producer {
    struct wsg_loop *loop;
    struct wsg_session *s;          /* server session */
    struct wsg_timer *t;
    uint32_t sent;
    uint32_t limit;                 /* stop after this many (UINT32_MAX) */
    int again;
    int other_err;
    size_t max_pending, max_conn_pending;
    bool pending_mismatch;
    uint64_t last_progress;
    uint8_t buf[MSG];
};

static void sample(struct producer *p)
{
    size_t a = wsg_session_pending(p->s);
    struct wsg_conn *c = wsg_session_conn(p->s);
    size_t b = c ? wsg_conn_output_pending(c) : 0;
    if (a > p->max_pending)
        p->max_pending = a;
    if (b > p->max_conn_pending)
        p->max_conn_pending = b;
    if (c && a != b)
        p->pending_mismatch = true;
}

static void produce(struct wsg_timer *t, void *ud)
{
    struct producer *p = ud;

    while (p->s && p->sent < p->limit) {
        for (size_t i = 0; i < MSG; i++)
            p->buf[i] = pattern(p->sent, i);
        memcpy(p->buf, &p->sent, 4);
        int rc = wsg_session_send(p->s, WSG_OP_BINARY, p->buf, MSG);
        sample(p);
        if (rc == WSG_ERR_AGAIN) {
            p->again++;
            break;
        }
        if (rc != WSG_OK) {
            p->other_err = rc;
            return;
        }
        p->sent++;
        p->last_progress = wsg_loop_now(p->loop);
    }
    if (p->s && p->sent < p->limit)
        wsg_timer_start(t, wsg_loop_now(p->loop) + 1);
}

static void producer_open(struct side *sd, struct wsg_session *s)
{
    struct producer *p = sd->user;
    p->s = s;
    p->last_progress = wsg_clock_ms();
    wsg_timer_start(p->t, wsg_clock_ms());
}

static void producer_close(struct side *sd, struct wsg_session *s,
                           const struct wsg_close_info *ci)
{
    struct producer *p = sd->user;
    (void)s;
    (void)ci;
    p->s = NULL;
    wsg_timer_stop(p->t);
}

struct consumer {
    uint32_t next;
    int bad;
};

static void consume(struct side *sd, struct wsg_session *s,
                    const struct wsg_event *ev)
{
    struct consumer *c = sd->user;
    uint32_t seq;
    (void)s;
    if (ev->opcode == WSG_OP_BINARY && ev->len == MSG) {
        memcpy(&seq, ev->data, 4);
        if (seq != c->next)
            c->bad++;
        for (size_t i = 4; i < MSG; i++)
            if (ev->data[i] != pattern(seq, i)) {
                c->bad++;
                break;
            }
    } else {
        c->bad++;
    }
    c->next++;
}

static void pause_on_open(struct side *sd, struct wsg_session *s)
{
    (void)sd;
    wsg_session_pause(s);
}

static bool stalled(void *arg)
{
    struct producer *p = arg;
    return p->again > 0 && wsg_clock_ms() - p->last_progress >= 300;
}

struct done2 {
    struct producer *p;
    struct consumer *c;
    struct side *srv;
};

static bool all_through(void *arg)
{
    struct done2 *d = arg;
    return d->p->sent == d->p->limit && d->c->next == d->p->limit &&
           d->srv->msgs > 0;
}

Test(io_flow, H12_server_output_bounded_while_client_does_not_read,
     .timeout = 30)
{
    struct wsg_loop *loop = loop_new();
    struct side ss, cs;
    struct wsg_server_config scfg;
    struct wsg_client_config ccfg;
    struct wsg_server *srv;
    struct wsg_session *cli = NULL;
    struct producer *p = calloc(1, sizeof *p);
    struct consumer c = {0, 0};

    side_init(&ss, loop);
    side_init(&cs, loop);
    p->loop = loop;
    p->limit = UINT32_MAX;
    cr_assert_eq(wsg_timer_new(loop, produce, p, &p->t), WSG_OK);
    server_config(&scfg, &ss);
    scfg.conn.max_output = MAX_OUTPUT; /* pause_output 0: half of it */
    ss.user = p;
    ss.hook_open = producer_open;
    ss.hook_close = producer_close;
    srv = server_start(loop, &scfg, &ss);
    client_config(&ccfg, &cs, wsg_server_port(srv));
    cs.user = &c;
    cs.hook_open = pause_on_open;
    cs.hook_message = consume;
    cr_assert_eq(wsg_client_connect(loop, &ccfg, &cli), WSG_OK);

    /* Phase 1: the client reads nothing; the producer runs into the budget
     * and stays there. */
    cr_assert(run_until(loop, 8000, stalled, p),
              "no stall: %u messages sent, %d AGAIN", p->sent, p->again);
    cr_expect_eq(p->other_err, 0, "send failed: %s", wsg_err_name(p->other_err));
    cr_expect_leq(p->max_pending, MAX_OUTPUT, "pending %zu over budget %u",
                  p->max_pending, MAX_OUTPUT);
    cr_expect_leq(p->max_conn_pending, MAX_OUTPUT);
    cr_expect_gt(p->max_pending, MAX_OUTPUT / 2, "budget never reached");
    cr_expect_not(p->pending_mismatch,
                  "wsg_session_pending != wsg_conn_output_pending when open");
    cr_expect_eq(c.next, 0, "the paused client read");
    uint32_t sent_at_stall = p->sent;

    /* The server does not read while over its pause threshold: a message
     * from the client waits in the socket. */
    cr_assert_eq(wsg_session_send(cli, WSG_OP_TEXT, "marker", 6), WSG_OK);
    run_until(loop, 300, NULL, NULL);
    cr_expect_eq(ss.msgs, 0, "server read while its output was over budget");
    cr_expect_eq(p->sent, sent_at_stall, "progress without a reader");
    cr_expect_leq(wsg_session_pending(p->s), MAX_OUTPUT);

    /* Phase 2: the client reads; the producer finishes 64 more. */
    p->limit = p->sent + 64;
    wsg_session_resume(cli);
    struct done2 d = {p, &c, &ss};
    cr_assert(run_until(loop, 10000, all_through, &d),
              "sent %u, received %u of %u, server msgs %d", p->sent, c.next,
              p->limit, ss.msgs);
    cr_expect_eq(c.bad, 0, "%d messages out of order or corrupt", c.bad);
    cr_expect_eq(c.next, p->limit);
    cr_expect_eq(ss.msgs, 1);
    cr_expect_arr_eq(ss.msg, "marker", 6);
    cr_expect_geq(ss.drains, 1, "on_drain never called");
    cr_expect_leq(p->max_pending, MAX_OUTPUT);
    cr_expect_eq(cs.closes, 0);
    cr_expect_eq(ss.closes, 0);

    cr_assert_eq(wsg_session_close(cli, 1000, NULL), WSG_OK);
    run_until(loop, 3000, int_pos, &ss.closes);
    cr_expect_eq(ss.ci.err, WSG_OK, "%s", ss.ci.detail);
    wsg_timer_free(p->t);
    loop_finish(loop, srv, &cs);
    side_fini(&ss);
    side_fini(&cs);
    free(p);
}

/* ---- raw flooder -> echo server ------------------------------------------- */

#define FMSG 4096

struct flood {
    struct raw r;
    uint32_t built, next_recv;      /* frames built (sent or in flight) */
    uint32_t limit;
    uint8_t frame[FMSG + 16];
    size_t flen, foff;
    uint64_t last_progress;
    bool blocked;
    int bad;
    size_t parsed;                  /* consumed prefix of r.in */
    enum wsg_opcode op, reply_op;   /* what we send, what comes back */
    size_t plen;                    /* payload bytes per frame */
};

static void flood_send(struct flood *f)
{
    f->blocked = false;
    for (;;) {
        if (f->foff == f->flen) {
            uint8_t pl[FMSG];
            uint8_t key[4];
            if (f->built >= f->limit)
                return;
            for (size_t i = 0; i < f->plen; i++)
                pl[i] = pattern(f->built, i);
            memcpy(pl, &f->built, 4);
            memcpy(key, &f->built, 4);
            key[0] ^= 0x5a;
            f->flen = client_frame(f->frame, f->op, true, pl, f->plen, key);
            f->foff = 0;
            f->built++;
        }
        ssize_t w = send(f->r.fd, f->frame + f->foff, f->flen - f->foff,
                         MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            f->blocked = true;
            return;
        }
        cr_assert_gt(w, 0, "flood send: %s", strerror(errno));
        f->foff += (size_t)w;
        f->last_progress = wsg_clock_ms();
    }
}

static void flood_recv(struct flood *f)
{
    struct pframe pf;

    raw_pump(&f->r);
    while (parse_frame(f->r.in + f->parsed, f->r.len - f->parsed, &pf)) {
        uint32_t seq;
        if (pf.op != f->reply_op || pf.len != f->plen || pf.masked) {
            f->bad++;
        } else {
            memcpy(&seq, pf.payload, 4);
            if (seq != f->next_recv)
                f->bad++;
            for (size_t i = 4; i < f->plen; i++)
                if (pf.payload[i] != pattern(seq, i)) {
                    f->bad++;
                    break;
                }
        }
        f->next_recv++;
        f->parsed += pf.size;
    }
    /* Keep the buffer small. */
    memmove(f->r.in, f->r.in + f->parsed, f->r.len - f->parsed);
    f->r.len -= f->parsed;
    f->parsed = 0;
}

/* Connects the flooder to the server at `port` with small socket buffers
 * (they keep the kernel's share small), upgrades, and sets it to flood
 * without a limit. */
static void flood_upgrade(struct flood *f, struct wsg_loop *loop,
                          uint16_t port)
{
    int small = 64 * 1024;
    char req[512];

    raw_connect(&f->r, port);
    (void)setsockopt(f->r.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    (void)setsockopt(f->r.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    raw_send(&f->r, req, upgrade_request(req, sizeof req, port, NULL));
    cr_assert(run_until(loop, 3000, raw_has_head, &f->r));
    cr_assert_eq(raw_status(&f->r), 101);
    f->parsed = raw_head_len(&f->r);
    f->limit = UINT32_MAX;
}

struct echo_watch {
    size_t max_pending;
    int send_fail;
};

static void echo_sample(struct side *sd, struct wsg_session *s,
                        const struct wsg_event *ev)
{
    struct echo_watch *e = sd->user;
    int rc = wsg_session_send(s, ev->opcode, ev->data, ev->len);
    if (rc != WSG_OK)
        e->send_fail++;
    if (wsg_session_pending(s) > e->max_pending)
        e->max_pending = wsg_session_pending(s);
}

Test(io_flow, H12_echo_server_stops_reading_a_peer_that_does_not_read,
     .timeout = 30)
{
    struct wsg_loop *loop = loop_new();
    struct side ss;
    struct wsg_server_config scfg;
    struct wsg_server *srv;
    struct flood *f = calloc(1, sizeof *f);
    struct echo_watch e = {0, 0};

    side_init(&ss, loop);
    server_config(&scfg, &ss);
    scfg.conn.max_output = MAX_OUTPUT;
    ss.user = &e;
    ss.hook_message = echo_sample;
    srv = server_start(loop, &scfg, &ss);
    flood_upgrade(f, loop, wsg_server_port(srv));
    f->op = f->reply_op = WSG_OP_BINARY;
    f->plen = FMSG;

    /* Phase 1: flood, never read, until our sends block for 300 ms. */
    uint64_t t0 = wsg_clock_ms();
    f->last_progress = t0;
    while (wsg_clock_ms() - t0 < 8000) {
        flood_send(f);
        if (f->blocked && wsg_clock_ms() - f->last_progress >= 300)
            break;
        if (e.send_fail)
            break; /* the echo already ran over the budget */
        wsg_loop_run_once(loop, 2);
    }
    cr_assert(f->blocked, "the server absorbed %u frames without blocking",
              f->built);
    cr_expect_leq(e.max_pending, MAX_OUTPUT, "pending %zu over budget",
                  e.max_pending);
    cr_expect_eq(e.send_fail, 0, "echo refused %d times", e.send_fail);
    cr_expect_lt((uint32_t)ss.msgs, f->built, "server read everything");
    cr_expect_leq(wsg_session_pending(ss.s), MAX_OUTPUT);
    int msgs_at_stall = ss.msgs;
    run_until(loop, 200, NULL, NULL);
    cr_expect_eq(ss.msgs, msgs_at_stall, "server kept reading while over "
                                         "budget");

    /* Phase 2: stop producing, read everything back. */
    f->limit = f->built;
    t0 = wsg_clock_ms();
    while (f->next_recv < f->limit && wsg_clock_ms() - t0 < 10000) {
        flood_send(f);
        flood_recv(f);
        wsg_loop_run_once(loop, 2);
    }
    cr_expect_eq(f->next_recv, f->limit, "got %u of %u echoes", f->next_recv,
                 f->limit);
    cr_expect_eq(f->bad, 0, "%d echoes out of order or corrupt", f->bad);
    cr_expect_eq((uint32_t)ss.msgs, f->limit);
    cr_expect_leq(e.max_pending, MAX_OUTPUT);
    cr_expect_geq(ss.drains, 1);
    cr_expect_eq(ss.closes, 0);
    raw_close(&f->r);
    cr_expect(run_until(loop, 3000, int_pos, &ss.closes));
    loop_finish(loop, srv, NULL);
    side_fini(&ss);
    free(f);
}

/* T12: a ping flood from a peer that never reads: the automatic pongs are
 * output like any other, so reading pauses and memory stays bounded; once
 * the peer reads, every ping got its pong, in order. */
Test(io_flow, T12_H12_ping_flood_from_a_peer_that_does_not_read,
     .timeout = 30)
{
    struct wsg_loop *loop = loop_new();
    struct side ss;
    struct wsg_server_config scfg;
    struct wsg_server *srv;
    struct flood *f = calloc(1, sizeof *f);
    size_t max_pending = 0;

    side_init(&ss, loop);
    server_config(&scfg, &ss);
    scfg.conn.max_output = MAX_OUTPUT;
    srv = server_start(loop, &scfg, &ss);
    flood_upgrade(f, loop, wsg_server_port(srv));
    f->op = WSG_OP_PING;
    f->reply_op = WSG_OP_PONG;
    f->plen = 125;

    uint64_t t0 = wsg_clock_ms();
    f->last_progress = t0;
    while (wsg_clock_ms() - t0 < 8000) {
        flood_send(f);
        if (f->blocked && wsg_clock_ms() - f->last_progress >= 300)
            break;
        wsg_loop_run_once(loop, 2);
        if (ss.s && wsg_session_pending(ss.s) > max_pending)
            max_pending = wsg_session_pending(ss.s);
    }
    cr_assert(f->blocked, "the server absorbed %u pings without blocking",
              f->built);
    cr_assert_not_null(ss.s);
    cr_expect_leq(max_pending, MAX_OUTPUT, "pong backlog %zu over budget",
                  max_pending);
    cr_expect_gt(max_pending, MAX_OUTPUT / 4, "output never filled (%zu)",
                 max_pending);

    f->limit = f->built;
    t0 = wsg_clock_ms();
    while (f->next_recv < f->limit && f->bad == 0 &&
           wsg_clock_ms() - t0 < 10000) {
        flood_send(f);
        flood_recv(f);
        wsg_loop_run_once(loop, 2);
    }
    cr_expect_eq(f->next_recv, f->limit, "got %u pongs for %u pings",
                 f->next_recv, f->limit);
    cr_expect_eq(f->bad, 0, "pongs out of order or wrong");
    cr_expect_eq(ss.closes, 0);
    raw_close(&f->r);
    cr_expect(run_until(loop, 3000, int_pos, &ss.closes));
    loop_finish(loop, srv, NULL);
    side_fini(&ss);
    free(f);
}
