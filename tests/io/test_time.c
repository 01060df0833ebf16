/* lib/io time limits of an OPEN session (HARDENING.md H7, H12; review F2):
 * keepalive Ping and Pong deadline, idle timeout, write-stall timeout, TCP
 * keepalive. Small values (100-400 ms); every wait is bounded. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io/io_internal.h" /* the session's fd, for the socket options */
#include "io_util.h"

static void quiet(struct wsg_server_config *cfg)
{
    cfg->ping_interval_ms = 0;
    cfg->pong_timeout_ms = 0;
    cfg->idle_timeout_ms = 0;
    cfg->write_stall_timeout_ms = 0;
}

Test(io_time, defaults_documented_in_io_h)
{
    struct wsg_server_config s;
    struct wsg_client_config c;

    wsg_server_config_init_default(&s);
    wsg_client_config_init_default(&c);
    cr_expect_eq(s.ping_interval_ms, 25000);
    cr_expect_eq(s.pong_timeout_ms, 30000);
    cr_expect_eq(s.idle_timeout_ms, 0);
    cr_expect_eq(s.write_stall_timeout_ms, 60000);
    cr_expect_eq(c.ping_interval_ms, 25000);
    cr_expect_eq(c.pong_timeout_ms, 30000);
    cr_expect_eq(c.idle_timeout_ms, 0);
    cr_expect_eq(c.write_stall_timeout_ms, 60000);
}

/* A peer that sends nothing but answers pings (a wsg client: auto_pong)
 * stays open well past the ping interval. */
Test(io_time, H7_silent_peer_that_answers_pings_stays_open, .timeout = 20)
{
    struct pair p;

    pair_init(&p);
    p.scfg.ping_interval_ms = 200;
    p.scfg.pong_timeout_ms = 300;
    pair_listen(&p);
    p.ccfg.ping_interval_ms = 0; /* only the server pings */
    pair_connect(&p);
    cr_assert(run_until(p.loop, 3000, int_pos, &p.srv_sd.opens));
    run_until(p.loop, 1500, NULL, NULL);
    cr_expect_eq(p.srv_sd.closes, 0, "closed: %s", p.srv_sd.ci_detail);
    cr_expect_eq(p.cli_sd.closes, 0, "closed: %s", p.cli_sd.ci_detail);
    /* Pongs to pings about every 200 ms (at least 4 in 1.5 s). */
    cr_expect_geq(p.srv_sd.controls, 4, "pongs: %d", p.srv_sd.controls);
    cr_expect_leq(p.srv_sd.controls, 9, "pongs: %d", p.srv_sd.controls);
    cr_assert_eq(wsg_session_close(p.cli, 1000, NULL), WSG_OK);
    cr_assert(run_until(p.loop, 3000, pair_both_closed, &p));
    cr_expect_eq(p.srv_sd.ci.err, WSG_OK, "%s", p.srv_sd.ci_detail);
    pair_fini(&p);
}

/* A raw peer that reads but never answers: Ping after the interval, Close
 * 1011 after the pong timeout, the end at the close deadline. */
Test(io_time, H7_peer_that_ignores_pings_is_closed, .timeout = 20)
{
    struct rig g;

    rig_init(&g);
    quiet(&g.cfg);
    g.cfg.ping_interval_ms = 200;
    g.cfg.pong_timeout_ms = 300;
    g.cfg.conn.close_timeout_ms = 300;
    rig_listen(&g);
    raw_upgrade(&g);
    uint64_t t0 = g.sd.t_open;
    struct pframe f = next_frame(&g);
    uint64_t t_ping = wsg_clock_ms() - t0;
    cr_expect_eq(f.op, WSG_OP_PING);
    cr_expect_eq(f.len, 0);
    cr_expect_geq(t_ping, 190, "ping after %lu ms", (unsigned long)t_ping);
    cr_expect_lt(t_ping, 1000, "ping after %lu ms", (unsigned long)t_ping);
    f = next_frame(&g);
    uint64_t t_close = wsg_clock_ms() - t0;
    cr_expect_eq(f.op, WSG_OP_CLOSE);
    cr_expect_eq(close_code_of(&f), WSG_CLOSE_INTERNAL_ERROR);
    cr_expect_geq(t_close, 480, "close after %lu ms", (unsigned long)t_close);
    cr_expect_lt(t_close, 1500, "close after %lu ms", (unsigned long)t_close);
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes));
    uint64_t el = g.sd.t_close - t0;
    cr_expect_geq(el, 780, "ended after %lu ms", (unsigned long)el);
    cr_expect_lt(el, 2500, "ended after %lu ms", (unsigned long)el);
    cr_expect_eq(g.sd.ci.err, WSG_ERR_TIMEOUT, "err %s",
                 wsg_err_name(g.sd.ci.err));
    cr_expect_eq(g.sd.ci.code_sent, WSG_CLOSE_INTERNAL_ERROR);
    cr_expect(strstr(g.sd.ci_detail, "pong") != NULL, "%s", g.sd.ci_detail);
    rig_fini(&g);
}

/* Input of any kind (here: the peer's own pings) keeps the session alive
 * without a Pong; no keepalive Ping is sent while input flows. */
Test(io_time, H7_any_input_counts_as_alive, .timeout = 20)
{
    struct rig g;
    uint8_t fr[32];

    rig_init(&g);
    quiet(&g.cfg);
    g.cfg.ping_interval_ms = 200;
    g.cfg.pong_timeout_ms = 200;
    rig_listen(&g);
    raw_upgrade(&g);
    for (int i = 0; i < 10; i++) {
        raw_send(&g.r, fr, client_frame(fr, WSG_OP_PING, true, "x", 1,
                                        RAW_KEY));
        expect_frame(&g, WSG_OP_PONG, "x", 1); /* the auto pong, no Ping */
        run_until(g.loop, 100, NULL, NULL);
    }
    cr_expect_eq(g.sd.closes, 0, "closed: %s", g.sd.ci_detail);
    rig_fini(&g);
}

/* ---- idle timeout ----------------------------------------------------------- */

static void send_hi(struct rig *g)
{
    uint8_t fr[32];
    raw_send(&g->r, fr, client_frame(fr, WSG_OP_TEXT, true, "hi", 2, RAW_KEY));
}

Test(io_time, H7_idle_timeout_when_enabled, .timeout = 20)
{
    struct rig g;
    uint8_t fr[32];
    static const uint8_t body[2] = {0x03, 0xe9};

    rig_init(&g);
    quiet(&g.cfg);
    g.cfg.idle_timeout_ms = 300;
    rig_listen(&g);
    raw_upgrade(&g);
    /* Data every 100 ms for 600 ms: no timeout meanwhile. */
    for (int i = 0; i < 6; i++) {
        send_hi(&g);
        run_until(g.loop, 100, NULL, NULL);
    }
    cr_expect_eq(g.r.len, g.off, "a frame while data flows");
    cr_expect_eq(g.sd.closes, 0);
    cr_expect_eq(g.sd.msgs, 6);
    uint64_t t_last = wsg_clock_ms();
    /* Control frames are not data: pings alone do not keep it. */
    raw_send(&g.r, fr, client_frame(fr, WSG_OP_PING, true, NULL, 0, RAW_KEY));
    struct pframe f = next_frame(&g);
    cr_expect_eq(f.op, WSG_OP_PONG);
    f = next_frame(&g);
    uint64_t el = wsg_clock_ms() - t_last;
    cr_expect_eq(f.op, WSG_OP_CLOSE);
    cr_expect_eq(close_code_of(&f), WSG_CLOSE_GOING_AWAY);
    cr_expect_arr_eq(f.payload + 2, "idle timeout", 12);
    cr_expect_geq(el, 180, "closed %lu ms after the last message",
                  (unsigned long)el);
    cr_expect_lt(el, 1000, "closed %lu ms after the last message",
                 (unsigned long)el);
    /* The peer answers: a clean handshake, reported as a timeout. */
    raw_send(&g.r, fr, client_frame(fr, WSG_OP_CLOSE, true, body, 2, RAW_KEY));
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes));
    cr_expect_eq(g.sd.ci.err, WSG_ERR_TIMEOUT, "err %s",
                 wsg_err_name(g.sd.ci.err));
    cr_expect_eq(g.sd.ci.code, 1001);
    cr_expect_eq(g.sd.ci.code_sent, 1001);
    rig_fini(&g);
}

Test(io_time, idle_timeout_off_by_default, .timeout = 20)
{
    struct rig g;

    rig_init(&g);
    g.cfg.ping_interval_ms = 0; /* a quiet peer, nothing but defaults */
    rig_listen(&g);
    raw_upgrade(&g);
    run_until(g.loop, 800, NULL, NULL);
    cr_expect_eq(g.sd.closes, 0);
    cr_expect_eq(g.r.len, g.off, "something was sent to an idle peer");
    rig_fini(&g);
}

/* ---- write stall ------------------------------------------------------------ */

static void flood(struct side *sd, struct wsg_session *s)
{
    /* 8 MiB borrowed: far more than the socket buffers hold. */
    cr_assert_eq(wsg_session_send_borrowed(s, WSG_OP_BINARY, sd->user,
                                           8u << 20, true, true, NULL, NULL),
                 WSG_OK);
}

/* A rig whose session floods 8 MiB on open (write-stall-timeout 300 ms)
 * at a raw peer with a 4 KiB receive buffer; returns the 8 MiB once the
 * session is open (caller frees it after rig_fini). */
static char *flooded_rig(struct rig *g)
{
    int small = 4096;
    char *big = calloc(1, 8u << 20);
    char req[512];

    cr_assert_not_null(big);
    rig_init(g);
    quiet(&g->cfg);
    g->cfg.write_stall_timeout_ms = 300;
    g->cfg.conn.max_output = 16u << 20;
    g->sd.user = big;
    g->sd.hook_open = flood;
    rig_listen(g);
    raw_connect(&g->r, g->port);
    (void)setsockopt(g->r.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    raw_send(&g->r, req, upgrade_request(req, sizeof req, g->port, NULL));
    cr_assert(run_until(g->loop, 3000, int_pos, &g->sd.opens));
    return big;
}

Test(io_time, H12_peer_that_never_reads_is_aborted, .timeout = 20)
{
    struct rig g;
    char *big = flooded_rig(&g);

    uint64_t t0 = g.sd.t_open;
    /* Never read. */
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes),
              "still open: %zu pending", wsg_session_pending(g.sd.s));
    uint64_t el = g.sd.t_close - t0;
    cr_expect_geq(el, 290, "aborted after %lu ms", (unsigned long)el);
    cr_expect_lt(el, 1500, "aborted after %lu ms", (unsigned long)el);
    cr_expect_eq(g.sd.ci.err, WSG_ERR_TIMEOUT, "err %s",
                 wsg_err_name(g.sd.ci.err));
    cr_expect(strstr(g.sd.ci_detail, "stalled") != NULL, "%s",
              g.sd.ci_detail);
    cr_expect_eq(g.sd.ci.code_sent, 0);
    rig_fini(&g);
    free(big);
}

/* A peer that reads slowly but steadily makes progress: not aborted. */
Test(io_time, slow_reader_that_progresses_is_kept, .timeout = 20)
{
    struct rig g;
    char *big = flooded_rig(&g);

    for (int i = 0; i < 10; i++) {
        run_until(g.loop, 100, NULL, NULL);
        raw_pump(&g.r);
        g.r.len = 0; /* drop what was read */
    }
    cr_expect_eq(g.sd.closes, 0, "closed: %s", g.sd.ci_detail);
    rig_fini(&g);
    free(big);
}

/* ---- TCP keepalive ---------------------------------------------------------- */

static void expect_keepalive(int fd, unsigned user_timeout)
{
    int v = 0;
    unsigned u = 0;
    socklen_t l = sizeof v;

    cr_assert_geq(fd, 0);
    cr_expect_eq(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &l), 0);
    cr_expect_eq(v, 1, "SO_KEEPALIVE");
    l = sizeof v;
    cr_expect_eq(getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &l), 0);
    cr_expect_eq(v, 60);
    l = sizeof v;
    cr_expect_eq(getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, &l), 0);
    cr_expect_eq(v, 10);
    l = sizeof v;
    cr_expect_eq(getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, &l), 0);
    cr_expect_eq(v, 5);
    l = sizeof u;
    cr_expect_eq(getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &u, &l), 0);
    cr_expect_eq(u, user_timeout, "TCP_USER_TIMEOUT %u", u);
}

Test(io_time, tcp_keepalive_on_accepted_and_connected_sockets, .timeout = 20)
{
    struct pair p;

    pair_init(&p);
    p.scfg.write_stall_timeout_ms = 12345;
    pair_listen(&p);
    p.ccfg.write_stall_timeout_ms = 23456;
    pair_connect(&p);
    cr_assert(run_until(p.loop, 3000, int_pos, &p.cli_sd.opens));
    cr_assert(run_until(p.loop, 3000, int_pos, &p.srv_sd.opens));
    expect_keepalive(p.srv_sd.s->fd, 12345);
    expect_keepalive(p.cli->fd, 23456);
    cr_assert_eq(wsg_session_close(p.cli, 1000, NULL), WSG_OK);
    cr_assert(run_until(p.loop, 3000, pair_both_closed, &p));
    pair_fini(&p);
}
