/* RFC 6455 section 5.5 (control frames), 7.4 (close codes) and the closing
 * handshake of section 7, with its deadline. T12 regressions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "helpers.h"

/* ---- 5.5 control frames --------------------------------------------------------- */

Test(rfc6455_5_5_control, ping_125_bytes_answered)
{
    uint8_t pl[125];
    for (int i = 0; i < 125; i++)
        pl[i] = (uint8_t)i;
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_PING, true, pl, 125);
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.ev[0].type, WSG_EV_PING);
    cr_assert_eq(r.ev[0].len, 125);
    cr_assert(memcmp(r.ev[0].data, pl, 125) == 0);
    cr_assert_eq(r.out.len, 127);
    cr_assert_eq(r.out.p[0], 0x8A);
    cr_assert_eq(r.out.p[1], 125);
    cr_assert(memcmp(r.out.p + 2, pl, 125) == 0);
    run_free(&r);
    bb_free(&in);
}

Test(rfc6455_5_5_control, control_over_125_bytes)
{
    static const uint8_t ops[] = {WSG_OP_PING, WSG_OP_PONG, WSG_OP_CLOSE};
    uint8_t pl[126] = {0x03, 0xE8};
    for (int k = 0; k < 3; k++) {
        struct bb in = {0};
        bb_frame(&in, (uint8_t)(FIN | ops[k]), true, pl, 126);
        struct wsg_conn_config cfg = cfg_server();
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "control frame over 125 bytes");
        cr_assert_eq(r.n, 1);
        run_free(&r);
        bb_free(&in);
    }
}

Test(rfc6455_5_5_control, fragmented_control)
{
    static const uint8_t ops[] = {WSG_OP_PING, WSG_OP_PONG, WSG_OP_CLOSE};
    for (int k = 0; k < 3; k++) {
        struct bb in = {0};
        bb_frame(&in, ops[k], true, "", 0);
        struct wsg_conn_config cfg = cfg_server();
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "fragmented control frame");
        run_free(&r);
        bb_free(&in);
    }
}

Test(rfc6455_5_5_control, auto_pong_off)
{
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_PING, true, "x", 1);
    bb_frame(&in, FIN | WSG_OP_PONG, true, "y", 1);
    struct wsg_conn_config cfg = cfg_server();
    cfg.auto_pong = false;
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.ev[0].type, WSG_EV_PING);
    cr_assert_eq(r.ev[1].type, WSG_EV_PONG);
    cr_assert_eq(r.ev[1].data[0], 'y');
    cr_assert_eq(r.out.len, 0);
    cr_assert_eq(r.st.pings_in, 1);
    cr_assert_eq(r.st.pongs_in, 1);
    run_free(&r);
    bb_free(&in);
}

/* T12: a ping flood against a peer that does not read stays bounded: past
 * max_output + 64 KiB pings are reported but not answered. */
Test(rfc6455_5_5_control, T12_ping_flood_bounded)
{
    uint8_t pl[125];
    memset(pl, 'p', sizeof pl);
    struct bb in = {0};
    for (int i = 0; i < 4000; i++)
        bb_frame(&in, FIN | WSG_OP_PING, true, pl, sizeof pl);
    struct wsg_conn_config cfg = cfg_server();
    cfg.max_output = 1000;
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    size_t pos = 0, pings = 0;
    while (pos < in.len) {
        struct wsg_event ev;
        size_t used;
        cr_assert_eq(wsg_conn_feed(c, in.p + pos, in.len - pos, 0, &used, &ev),
                     WSG_OK);
        pos += used;
        pings += ev.type == WSG_EV_PING;
        cr_assert(wsg_conn_output_pending(c) <= 1000 + 65536);
    }
    cr_assert_eq(pings, 4000);
    /* Answered up to the control budget: the queue's memory (chunks of
     * 4 KiB, each with its struct) reaches it a little before the wire
     * bytes do. */
    cr_assert(wsg_conn_output_pending(c) > 65536 - 4096,
              "pongs were answered at first");
    /* Once drained, pings are answered again. */
    struct wsg_iovec iov[64];
    while (wsg_conn_output_pending(c)) {
        size_t n = wsg_conn_output(c, iov, 64);
        size_t tot = 0;
        for (size_t i = 0; i < n; i++)
            tot += iov[i].len;
        wsg_conn_output_consume(c, tot);
    }
    struct wsg_event ev;
    size_t used;
    struct bb one = {0};
    bb_frame(&one, FIN | WSG_OP_PING, true, "again", 5);
    cr_assert_eq(wsg_conn_feed(c, one.p, one.len, 0, &used, &ev), WSG_OK);
    cr_assert_eq(wsg_conn_output_pending(c), 7);
    wsg_conn_free(c);
    bb_free(&one);
    bb_free(&in);
}

/* ---- 7.4 close codes ------------------------------------------------------------------ */

Test(rfc6455_7_4_close_codes, valid_codes_are_echoed)
{
    static const uint16_t codes[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                     1010, 1011, 1012, 1013, 1014, 3000, 3999,
                                     4000, 4999};
    for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
        struct bb in = {0};
        bb_close(&in, codes[k], "bye \xc3\xa9");
        struct wsg_conn_config cfg = cfg_server();
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        cr_assert_eq(r.n, 1);
        cr_assert_eq(r.ev[0].type, WSG_EV_CLOSE);
        cr_assert_eq(r.ev[0].close_code, codes[k]);
        cr_assert_eq(r.ev[0].reason_len, 6);
        cr_assert(memcmp(r.ev[0].reason, "bye \xc3\xa9", 6) == 0);
        cr_assert_eq(out_close_code(&r.out, false), codes[k]);
        cr_assert_eq(r.close_rcvd, codes[k]);
        cr_assert_eq(r.close_sent, codes[k]);
        cr_assert_eq(r.state, WSG_STATE_CLOSED);
        cr_assert(r.should_close);
        run_free(&r);
        bb_free(&in);
    }
}

/* T12: invalid close codes fail with 1002. */
Test(rfc6455_7_4_close_codes, T12_invalid_codes)
{
    static const uint16_t codes[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016,
                                     1100, 2000, 2999, 5000, 65535};
    for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
        struct bb in = {0};
        bb_close(&in, codes[k], "");
        struct wsg_conn_config cfg = cfg_server();
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        const struct rec *e =
            expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "invalid close code");
        char want[40];
        snprintf(want, sizeof want, "invalid close code %u", codes[k]);
        cr_assert_str_eq(e->reason, want);
        cr_assert_eq(out_close_code(&r.out, false), 1002);
        run_free(&r);
        bb_free(&in);
    }
}

Test(rfc6455_7_4_close_codes, one_byte_payload)
{
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_CLOSE, true, "\x03", 1);
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "1-byte");
    run_free(&r);
    bb_free(&in);
}

Test(rfc6455_7_4_close_codes, empty_close_echoed_empty)
{
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_CLOSE, true, "", 0);
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.ev[0].type, WSG_EV_CLOSE);
    cr_assert_eq(r.ev[0].close_code, 1005);
    cr_assert_eq(r.ev[0].reason_len, 0);
    cr_assert_eq(r.out.len, 2);
    cr_assert_eq(r.out.p[0], 0x88);
    cr_assert_eq(r.out.p[1], 0x00);
    cr_assert_eq(r.close_rcvd, 1005);
    run_free(&r);
    bb_free(&in);
}

/* T12: an invalid reason fails with 1007. */
Test(rfc6455_7_4_close_codes, T12_invalid_reason_utf8)
{
    static const char *bad[] = {"\xff", "ok\xc0\xaf", "\xed\xa0\x80", "cut\xe2\x82"};
    for (size_t k = 0; k < 4; k++) {
        struct bb in = {0};
        bb_close(&in, 1000, bad[k]);
        struct wsg_conn_config cfg = cfg_server();
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        expect_fail(&r, 1007, WSG_ERR_INVALID_UTF8, "invalid UTF-8 in close reason");
        run_free(&r);
        bb_free(&in);
    }
}

/* ---- 7.1 closing handshake --------------------------------------------------------- */

/* T12: data after a received Close is discarded. */
Test(rfc6455_7_closing, T12_peer_closes_first_then_data)
{
    struct bb in = {0};
    bb_close(&in, 1001, "going");
    bb_frame(&in, FIN | WSG_OP_TEXT, true, "late", 4);
    bb_frame(&in, FIN | WSG_OP_PING, true, "late", 4);
    bb_frame(&in, FIN | 0x3, true, "bad", 3);
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.ev[0].type, WSG_EV_CLOSE);
    cr_assert_eq(r.rc, WSG_OK);
    cr_assert_eq(out_close_code(&r.out, false), 1001);
    cr_assert_eq(r.out.len, 4, "only the echo, no pong");
    run_free(&r);
    bb_free(&in);
}

Test(rfc6455_7_closing, states_when_peer_closes)
{
    struct bb in = {0};
    bb_close(&in, 1000, "");
    struct wsg_conn_config cfg = cfg_server();
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_OPEN);
    cr_assert_eq(wsg_conn_next_deadline(c), UINT64_MAX);
    struct wsg_event ev;
    size_t used;
    cr_assert_eq(wsg_conn_feed(c, in.p, in.len, 100, &used, &ev), WSG_OK);
    cr_assert_eq(ev.type, WSG_EV_CLOSE);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_CLOSING);
    cr_assert(!wsg_conn_should_close_transport(c));
    cr_assert_eq(wsg_conn_next_deadline(c), 5100);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "x", 1), WSG_ERR_STATE);
    cr_assert_eq(wsg_conn_close(c, 1000, NULL, 0, 0), WSG_ERR_STATE);
    /* Partial write of the echo. */
    struct wsg_iovec iov[2];
    cr_assert_eq(wsg_conn_output(c, iov, 2), 1);
    cr_assert_eq(iov[0].len, 4);
    wsg_conn_output_consume(c, 1);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_CLOSING);
    wsg_conn_output_consume(c, 3);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_CLOSED);
    cr_assert(wsg_conn_should_close_transport(c));
    cr_assert_eq(wsg_conn_next_deadline(c), UINT64_MAX);
    cr_assert_eq(wsg_conn_tick(c, 999999), WSG_OK);
    wsg_conn_free(c);
    bb_free(&in);
}

/* T12: sending while closing is refused; the peer's data is still read. */
Test(rfc6455_7_closing, T12_we_close_first)
{
    struct wsg_conn_config cfg = cfg_server();
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    cr_assert_eq(wsg_conn_close(c, 1000, "bye", 3, 1000), WSG_OK);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_CLOSING);
    cr_assert_eq(wsg_conn_close_sent(c), 1000);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "x", 1), WSG_ERR_STATE);
    cr_assert_eq(wsg_conn_send_fragment(c, WSG_OP_TEXT, "x", 1, true, false),
                 WSG_ERR_STATE);
    cr_assert_eq(wsg_conn_ping(c, "x", 1), WSG_ERR_STATE);
    cr_assert_eq(wsg_conn_close(c, 1000, NULL, 0, 1000), WSG_ERR_STATE);
    cr_assert_eq(wsg_conn_next_deadline(c), 6000);

    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_TEXT, true, "still", 5);
    bb_frame(&in, FIN | WSG_OP_PING, true, "", 0);
    bb_close(&in, 1000, "ok");
    size_t pos = 0;
    enum wsg_event_type seen[3];
    for (int i = 0; i < 3; i++) {
        struct wsg_event ev;
        size_t used;
        cr_assert_eq(wsg_conn_feed(c, in.p + pos, in.len - pos, 2000, &used, &ev),
                     WSG_OK);
        pos += used;
        seen[i] = ev.type;
    }
    cr_assert_eq(seen[0], WSG_EV_MESSAGE);
    cr_assert_eq(seen[1], WSG_EV_PING);
    cr_assert_eq(seen[2], WSG_EV_CLOSE);
    cr_assert_eq(wsg_conn_close_received(c), 1000);
    /* No pong and no second Close: only our Close is queued. */
    struct wsg_iovec iov[4];
    cr_assert_eq(wsg_conn_output(c, iov, 4), 1);
    cr_assert_eq(iov[0].len, 2 + 2 + 3);
    const uint8_t *o = iov[0].base;
    cr_assert_eq(o[0], 0x88);
    cr_assert(memcmp(o + 4, "bye", 3) == 0);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_CLOSING);
    wsg_conn_output_consume(c, iov[0].len);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_CLOSED);
    cr_assert(wsg_conn_should_close_transport(c));
    wsg_conn_free(c);
    bb_free(&in);
}

Test(rfc6455_7_closing, close_deadline)
{
    struct wsg_conn_config cfg = cfg_server();
    cfg.close_timeout_ms = 250;
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    cr_assert_eq(wsg_conn_tick(c, 0), WSG_OK);
    cr_assert_eq(wsg_conn_close(c, 1001, NULL, 0, 1000), WSG_OK);
    cr_assert_eq(wsg_conn_next_deadline(c), 1250);
    /* Written, but the peer never answers. */
    struct wsg_iovec iov[2];
    size_t n = wsg_conn_output(c, iov, 2);
    cr_assert_eq(n, 1);
    wsg_conn_output_consume(c, iov[0].len);
    cr_assert_eq(wsg_conn_tick(c, 1249), WSG_OK);
    cr_assert(!wsg_conn_should_close_transport(c));
    cr_assert_eq(wsg_conn_tick(c, 1250), WSG_ERR_TIMEOUT);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_CLOSED);
    cr_assert(wsg_conn_should_close_transport(c));
    cr_assert_eq(wsg_conn_next_deadline(c), UINT64_MAX);
    cr_assert_eq(wsg_conn_tick(c, 2000), WSG_ERR_TIMEOUT);
    uint8_t b[2] = {0x88, 0x80};
    struct wsg_event ev;
    size_t used;
    cr_assert_eq(wsg_conn_feed(c, b, 2, 3000, &used, &ev), WSG_ERR_CLOSED);
    cr_assert_eq(used, 2);
    wsg_conn_free(c);
}

/* A failure arms the deadline too: a peer that never reads our Close
 * cannot hold the connection. */
Test(rfc6455_7_closing, failure_arms_deadline)
{
    struct bb in = {0};
    bb_frame(&in, FIN | 0x7, true, "", 0);
    struct wsg_conn_config cfg = cfg_server();
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    struct wsg_event ev;
    size_t used;
    cr_assert_eq(wsg_conn_feed(c, in.p, in.len, 10, &used, &ev), WSG_ERR_PROTOCOL);
    cr_assert_eq(wsg_conn_next_deadline(c), 5010);
    cr_assert_eq(wsg_conn_tick(c, 5010), WSG_ERR_TIMEOUT);
    cr_assert(wsg_conn_should_close_transport(c));
    wsg_conn_free(c);
    bb_free(&in);
}

Test(rfc6455_7_closing, close_arguments)
{
    struct wsg_conn_config cfg = cfg_server();
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    cr_assert_eq(wsg_conn_close(c, 1005, NULL, 0, 0), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_close(c, 999, NULL, 0, 0), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_close(c, 1015, NULL, 0, 0), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_close(c, 0, "x", 1, 0), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_close(c, 1000, "\xc3", 1, 0), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_close(c, 1000, NULL, 3, 0), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_output_pending(c), 0);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_OPEN);
    cr_assert_eq(wsg_conn_close(c, 0, NULL, 0, 0), WSG_OK);
    cr_assert_eq(wsg_conn_close_sent(c), 1005);
    struct wsg_iovec iov[2];
    cr_assert_eq(wsg_conn_output(c, iov, 2), 1);
    cr_assert_eq(iov[0].len, 2);
    wsg_conn_free(c);
}

/* Reasons over 123 bytes are cut at a code point boundary. */
Test(rfc6455_7_closing, long_reason_cut_on_boundary)
{
    char reason[200];
    memset(reason, 'r', 122);
    memcpy(reason + 122, "\xc3\xa9\xc3\xa9", 4); /* é at 122-123, 124-125 */
    struct wsg_conn_config cfg = cfg_server();
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    cr_assert_eq(wsg_conn_close(c, 4000, reason, 126, 0), WSG_OK);
    struct wsg_iovec iov[2];
    cr_assert_eq(wsg_conn_output(c, iov, 2), 1);
    const uint8_t *o = iov[0].base;
    cr_assert_eq(o[1], 2 + 122, "payload %u", o[1]);
    cr_assert(wsg_utf8_valid(o + 4, o[1] - 2));
    wsg_conn_free(c);
}

/* core.h: what is sent is checked, and the code point the cut falls in;
 * bytes after that are not looked at. */
Test(rfc6455_7_closing, long_reason_utf8_rules)
{
    struct {
        const char *tail;  /* after `pre` bytes of 'r' */
        size_t pre;
        int rc;
        size_t kept;       /* reason bytes sent */
    } cases[] = {
        {"\xff", 0, WSG_ERR_INVALID_ARG, 0},             /* bad, sent part */
        {"", 123, WSG_OK, 123},                          /* exactly 123 */
        {"\xc3\xa9", 121, WSG_OK, 123},                  /* é ends at 123 */
        {"\xf0\x9f\x98\x80", 121, WSG_OK, 121},          /* emoji straddles */
        {"\xf0\x9f\x98\x80", 122, WSG_OK, 122},
        {"\xe2x", 122, WSG_ERR_INVALID_ARG, 0},           /* broken at the cut */
        {"\xe2\x82", 122, WSG_ERR_INVALID_ARG, 0},       /* ends mid code point */
        {"\xed\xa0\x80", 122, WSG_ERR_INVALID_ARG, 0},    /* surrogate at the cut */
        {"\xff", 123, WSG_OK, 123},                       /* after the cut: ignored */
        {"x\xff", 123, WSG_OK, 123},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char reason[200];
        memset(reason, 'r', cases[k].pre);
        size_t tl = strlen(cases[k].tail);
        memcpy(reason + cases[k].pre, cases[k].tail, tl);
        size_t n = cases[k].pre + tl;
        if (cases[k].pre == 0) { /* a long reason, bad in its first byte */
            memset(reason + tl, 'r', 150);
            n += 150;
        }
        struct wsg_conn_config cfg = cfg_server();
        struct wsg_conn *c;
        cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
        cr_assert_eq(wsg_conn_close(c, 4000, reason, n, 0), cases[k].rc,
                     "case %zu", k);
        if (cases[k].rc == WSG_OK) {
            struct wsg_iovec iov[2];
            cr_assert_eq(wsg_conn_output(c, iov, 2), 1);
            const uint8_t *o = iov[0].base;
            cr_assert_eq(o[1], 2 + cases[k].kept, "case %zu: %u", k, o[1]);
            cr_assert(wsg_utf8_valid(o + 4, o[1] - 2u));
            cr_assert(memcmp(o + 4, reason, cases[k].kept) == 0);
        } else {
            cr_assert_eq(wsg_conn_output_pending(c), 0);
            cr_assert_eq(wsg_conn_state(c), WSG_STATE_OPEN);
        }
        wsg_conn_free(c);
    }
}
