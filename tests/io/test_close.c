/* lib/io closing against a raw peer: the close handshake deadline (H7,
 * T12), the server closing TCP first (RFC 6455 7.1.1), masking failures on
 * the wire (T10), peers that vanish or reset (no SIGPIPE), and a shutdown
 * that stays bounded when a peer ignores it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "io_util.h"

/* ---- close handshake -------------------------------------------------------- */

static void close_on_open(struct side *sd, struct wsg_session *s)
{
    (void)sd;
    cr_assert_eq(wsg_session_close(s, 1000, "bye"), WSG_OK);
}

Test(io_close, H7_T12_close_deadline_when_peer_never_answers, .timeout = 20)
{
    struct rig g;
    uint64_t t_open;

    rig_init(&g);
    g.cfg.conn.close_timeout_ms = 300;
    g.sd.hook_open = close_on_open;
    rig_listen(&g);
    raw_upgrade(&g);
    t_open = g.sd.t_open;
    cr_assert_gt(t_open, 0);
    struct pframe f = next_frame(&g);
    cr_expect_eq(f.op, WSG_OP_CLOSE);
    cr_expect_eq(close_code_of(&f), 1000);
    cr_expect_eq(f.len, 5);
    cr_expect_arr_eq(f.payload + 2, "bye", 3);
    /* Never answer, never close. */
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes),
              "no end after the close deadline");
    uint64_t el = g.sd.t_close - t_open;
    cr_expect_geq(el, 280, "closed early: %lu ms", (unsigned long)el);
    cr_expect_lt(el, 1500, "closed late: %lu ms", (unsigned long)el);
    cr_expect_eq(g.sd.ci.err, WSG_ERR_TIMEOUT, "err %s",
                 wsg_err_name(g.sd.ci.err));
    cr_expect_eq(g.sd.ci.code, WSG_CLOSE_ABNORMAL);
    cr_expect_eq(g.sd.ci.code_sent, 1000);
    cr_expect(g.sd.ci.opened);
    cr_expect(run_until(g.loop, 1000, raw_has_eof, &g.r));
    rig_fini(&g);
}

Test(io_close, server_closes_tcp_first_after_close_handshake, .timeout = 20)
{
    struct rig g;
    uint8_t fr[32];
    uint8_t body[2] = {0x03, 0xe8};

    rig_init(&g);
    g.sd.hook_open = close_on_open;
    rig_listen(&g);
    raw_upgrade(&g);
    struct pframe f = next_frame(&g);
    cr_expect_eq(f.op, WSG_OP_CLOSE);
    uint64_t t0 = wsg_clock_ms();
    raw_send(&g.r, fr, client_frame(fr, WSG_OP_CLOSE, true, body, 2, RAW_KEY));
    /* RFC 6455 7.1.1: the server closes the TCP connection first. */
    cr_assert(run_until(g.loop, 3000, raw_has_eof, &g.r));
    cr_expect_lt(g.r.t_eof - t0, 1000);
    cr_expect_eq(g.r.len, g.off, "bytes after the Close");
    raw_close(&g.r);
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes));
    cr_expect_eq(g.sd.ci.err, WSG_OK, "%s", g.sd.ci.detail);
    cr_expect_eq(g.sd.ci.code, 1000);
    cr_expect_eq(g.sd.ci.code_sent, 1000);
    rig_fini(&g);
}

Test(io_close, T10_unmasked_frame_fails_1002_on_the_wire, .timeout = 20)
{
    struct rig g;
    uint8_t fr[32];
    size_t n;

    rig_init(&g);
    g.sd.echo = true;
    rig_listen(&g);
    raw_upgrade(&g);
    n = wsg_frame_header_write(fr, WSG_OP_TEXT, true, 0, 6, NULL);
    memcpy(fr + n, "secret", 6);
    raw_send(&g.r, fr, n + 6);
    struct pframe f = next_frame(&g);
    cr_expect_eq(f.op, WSG_OP_CLOSE);
    cr_expect_eq(close_code_of(&f), 1002);
    cr_assert(run_until(g.loop, 3000, raw_has_eof, &g.r));
    raw_close(&g.r);
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes));
    cr_expect_eq(g.sd.msgs, 0, "unmasked payload was delivered");
    cr_expect(g.sd.ci.err == WSG_ERR_MASKING || g.sd.ci.err == WSG_ERR_PROTOCOL,
              "err %s", wsg_err_name(g.sd.ci.err));
    cr_expect_eq(g.sd.ci.code_sent, 1002);
    rig_fini(&g);
}

Test(io_close, peer_vanishes_without_close, .timeout = 20)
{
    struct rig g;

    rig_init(&g);
    rig_listen(&g);
    raw_upgrade(&g);
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.opens));
    raw_close(&g.r);
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes));
    cr_expect_eq(g.sd.ci.err, WSG_ERR_PEER_CLOSED);
    cr_expect_eq(g.sd.ci.code, WSG_CLOSE_ABNORMAL);
    cr_expect_eq(g.sd.ci.code_sent, 0);
    rig_fini(&g);
}

/* ---- shutdown against peers that do not cooperate --------------------------- */

static void shut_count(void *ud, struct wsg_server *srv)
{
    struct side *sd = ud;
    (void)srv;
    (*(int *)sd->user)++;
}

Test(io_close, shutdown_bounded_when_peer_ignores_close, .timeout = 20)
{
    struct rig g;
    struct raw half;
    int shutdowns = 0;

    rig_init(&g);
    g.sd.user = &shutdowns;
    g.cfg.on_shutdown = shut_count;
    rig_listen(&g);
    raw_upgrade(&g);
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.opens));
    /* A second peer still in the handshake. */
    raw_connect(&half, g.port);
    raw_sends(&half, "GET / HTTP/1.1\r\n");
    run_until(g.loop, 50, NULL, NULL);
    cr_expect_eq(wsg_server_session_count(g.srv), 2);

    uint64_t t0 = wsg_clock_ms();
    wsg_server_shutdown(g.srv, 1001, NULL, 300);
    struct pframe f = next_frame(&g);
    cr_expect_eq(f.op, WSG_OP_CLOSE);
    cr_expect_eq(close_code_of(&f), 1001);
    cr_expect_eq(f.len, 2 + 20);
    cr_expect_arr_eq(f.payload + 2, "server shutting down", 20);
    cr_expect(run_until(g.loop, 1000, raw_has_eof, &half),
              "handshaking peer not dropped");
    cr_expect_eq(half.len, 0);
    cr_assert(run_until(g.loop, 3000, int_pos, &shutdowns));
    uint64_t el = wsg_clock_ms() - t0;
    cr_expect_geq(el, 280);
    cr_expect_lt(el, 1500, "shutdown took %lu ms", (unsigned long)el);
    cr_expect_eq(g.sd.closes, 1);
    cr_expect_eq(g.sd.ci.err, WSG_ERR_TIMEOUT);
    cr_expect_eq(g.sd.ci.code_sent, 1001);
    cr_expect_eq(g.sd.refuses, 1);
    cr_expect_eq(g.sd.ref_err, WSG_ERR_CLOSED);
    cr_expect_eq(wsg_server_session_count(g.srv), 0);
    raw_close(&half);
    rig_fini(&g);
}

/* ---- more edges ------------------------------------------------------------- */

Test(io_close, close_without_body_reports_1005, .timeout = 20)
{
    struct rig g;
    uint8_t fr[16];

    rig_init(&g);
    rig_listen(&g);
    raw_upgrade(&g);
    raw_send(&g.r, fr, client_frame(fr, WSG_OP_CLOSE, true, NULL, 0, RAW_KEY));
    struct pframe f = next_frame(&g);
    cr_expect_eq(f.op, WSG_OP_CLOSE);
    cr_expect_eq(f.len, 0, "an empty Close is echoed empty (5.5.1)");
    cr_assert(run_until(g.loop, 3000, raw_has_eof, &g.r));
    raw_close(&g.r);
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes));
    cr_expect_eq(g.sd.ci.err, WSG_OK, "%s", g.sd.ci.detail);
    cr_expect_eq(g.sd.ci.code, WSG_CLOSE_NO_STATUS);
    cr_expect_eq(g.sd.ci.reason_len, 0);
    rig_fini(&g);
}

Test(io_close, T8_T10_pipelined_unmasked_frame_gets_101_then_1002,
     .timeout = 20)
{
    struct rig g;
    uint8_t buf[1024];
    size_t n;

    rig_init(&g);
    g.sd.echo = true;
    rig_listen(&g);
    raw_connect(&g.r, g.port);
    n = upgrade_request((char *)buf, sizeof buf, g.port, NULL);
    n += wsg_frame_header_write(buf + n, WSG_OP_TEXT, true, 0, 3, NULL);
    memcpy(buf + n, "bad", 3);
    raw_send(&g.r, buf, n + 3);
    expect_101(&g);
    struct pframe f = next_frame(&g);
    cr_expect_eq(f.op, WSG_OP_CLOSE);
    cr_expect_eq(close_code_of(&f), 1002);
    cr_expect_eq(g.sd.msgs, 0);
    rig_fini(&g);
}

/* io.h: the library never raises SIGPIPE. The peer asks for a lot and
 * closes at once (FIN): the server's first write lands on a closed socket,
 * which answers with a reset, and the next write in the same batch would
 * raise SIGPIPE without MSG_NOSIGNAL (Criterion reports a signal as a
 * crash). The session ends with an error and the process lives. */
static void send_a_lot(struct side *sd, struct wsg_session *s,
                       const struct wsg_event *ev)
{
    static uint8_t blob[512 * 1024];
    (void)sd;
    (void)ev;
    for (int i = 0; i < 4; i++)
        cr_assert_eq(wsg_session_send(s, WSG_OP_BINARY, blob, sizeof blob),
                     WSG_OK);
}

Test(io_close, peer_gone_while_writing_raises_no_sigpipe, .timeout = 20)
{
    struct rig g;
    uint8_t fr[32];

    rig_init(&g);
    g.sd.hook_message = send_a_lot;
    rig_listen(&g);
    raw_upgrade(&g);
    raw_send(&g.r, fr, client_frame(fr, WSG_OP_TEXT, true, "go", 2, RAW_KEY));
    close(g.r.fd); /* nothing unread: an orderly FIN */
    g.r.fd = -1;
    cr_assert(run_until(g.loop, 3000, int_pos, &g.sd.closes));
    cr_expect_eq(g.sd.msgs, 1);
    cr_expect(g.sd.ci.err == WSG_ERR_PEER_CLOSED || g.sd.ci.err == WSG_ERR_IO,
              "err %s", wsg_err_name(g.sd.ci.err));
    cr_expect(g.sd.ci.opened);
    rig_fini(&g);
}

