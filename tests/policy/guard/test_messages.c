/* wsg_guard_conn_message / _control / wsg_guard_conn_config: H3 post-connect
 * auth, H5/H12 limits, H6 rates (T12 control floods), H9 types and the
 * validator, H11 violation events. Each control also switched off. */
#include <string.h>

#include <criterion/criterion.h>

#include "conn_fixture.h"

TestSuite(guard_messages, .init = conn_fixture_setup);

static void open_at(uint64_t now)
{
    if (C != NULL)
        conn_close(G, C, now);
    C = conn_open(&P, &G, now);
}

static void done(void)
{
    conn_close(G, C, 99999);
    C = NULL;
    G = NULL;
}

/* Runs event `ev` at `now`; returns the action. */
static int step(const struct wsg_event *ev, uint64_t now)
{
    wsg_guard_conn_message(C, ev, now, &A);
    return (int)A.what;
}

static int msg(enum wsg_opcode op, const char *data, uint64_t now)
{
    struct wsg_event ev = ev_msg(op, data);

    return step(&ev, now);
}

static void assert_close(uint16_t code, int control, const char *reason)
{
    cr_assert_eq(A.what, WSG_GUARD_CLOSE);
    cr_assert_eq(A.code, code, "code %u want %u", A.code, code);
    cr_assert_eq(A.control, control);
    cr_assert_str_eq(A.reason, reason);
    cr_assert_str_eq(R.event[R.n - 1], "violation");
    cr_assert_eq(R.control[R.n - 1], control);
    cr_assert_eq(R.code[R.n - 1], code);
    cr_assert_str_eq(R.reason[R.n - 1], reason);
}

Test(guard_messages, h5_h12_conn_config)
{
    struct wsg_conn_config cfg;

    P.max_frame = 4096;
    P.max_message = 65536;
    P.max_fragments = 16;
    P.max_output = 100000;
    P.close_timeout_ms = 1234;
    open_at(0);
    wsg_conn_config_init_default(&cfg);
    wsg_guard_conn_config(G, &cfg);
    cr_assert_eq(cfg.max_frame, 4096);
    cr_assert_eq(cfg.max_message, 65536);
    cr_assert_eq(cfg.max_fragments, 16);
    cr_assert_eq(cfg.max_output, 100000);
    cr_assert_eq(cfg.close_timeout_ms, 1234);
    done();
}

Test(guard_messages, default_policy_passes_everything)
{
    open_at(0);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(msg(i & 1 ? WSG_OP_TEXT : WSG_OP_BINARY, "abc", 0),
                     WSG_GUARD_PASS);
        struct wsg_event ev = ev_ctl(WSG_EV_PING);
        wsg_guard_conn_control(C, &ev, 0, &A);
        cr_assert_eq(A.what, WSG_GUARD_PASS);
    }
    cr_assert_eq(R.n, 1); /* open only */
    done();
}

Test(guard_messages, h9_binary_only)
{
    P.binary_only = true;
    open_at(0);
    cr_assert_eq(msg(WSG_OP_BINARY, "x", 1), WSG_GUARD_PASS);
    cr_assert_eq(msg(WSG_OP_TEXT, "x", 1), WSG_GUARD_CLOSE);
    assert_close(1003, WSG_H9, "text not accepted");
    /* nothing reaches the application after the close decision */
    cr_assert_eq(msg(WSG_OP_BINARY, "x", 2), WSG_GUARD_DROP);
    P.binary_only = false;
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, "x", 1), WSG_GUARD_PASS);
    done();
}

Test(guard_messages, h9_text_only_streamed)
{
    struct wsg_event ev = ev_frag(WSG_OP_BINARY, "ab", true, false);

    P.text_only = true;
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, "x", 1), WSG_GUARD_PASS);
    wsg_guard_conn_message(C, &ev, 1, &A);
    assert_close(1003, WSG_H9, "binary not accepted");
    P.text_only = false;
    open_at(0);
    cr_assert_eq(step(&ev, 1), WSG_GUARD_PASS);
    done();
}

Test(guard_messages, h6_msg_rate_close)
{
    P.msg_rate = 10;
    P.msg_burst = 3;
    open_at(0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(msg(WSG_OP_TEXT, "x", 0), WSG_GUARD_PASS);
    cr_assert_eq(msg(WSG_OP_TEXT, "x", 0), WSG_GUARD_CLOSE);
    assert_close(1008, WSG_H6, "rate limit");
    done();

    /* 10/s: one every 100 ms is sustainable */
    open_at(0);
    for (uint64_t t = 0; t < 5000; t += 100)
        cr_assert_eq(msg(WSG_OP_TEXT, "x", t), WSG_GUARD_PASS, "t=%llu",
                     (unsigned long long)t);
    P.msg_rate = 0;
    open_at(0);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(msg(WSG_OP_TEXT, "x", 0), WSG_GUARD_PASS);
    done();
}

Test(guard_messages, h6_msg_rate_drop_counts)
{
    struct wsg_guard_stats st;

    P.msg_rate = 1;
    P.msg_burst = 1;
    P.rate_action = WSG__RATE_DROP;
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, "x", 0), WSG_GUARD_PASS);
    cr_assert_eq(msg(WSG_OP_TEXT, "x", 10), WSG_GUARD_DROP);
    cr_assert_eq(A.control, WSG_H6);
    cr_assert_eq(msg(WSG_OP_TEXT, "x", 20), WSG_GUARD_DROP);
    cr_assert_eq(msg(WSG_OP_TEXT, "x", 1000), WSG_GUARD_PASS);
    wsg_guard_get_stats(G, &st);
    cr_assert_eq(st.violations[WSG_H6], 0);
    wsg_guard_conn_free(C, 2000, NULL, 1000, 1000);
    C = NULL;
    cr_assert(rec_has(&R, "dropped 2"), "%s", R.json);
    cr_assert(rec_has(&R, "\"messages_dropped\":2,"), "%s", R.json);
    wsg_guard_free(G);
}

Test(guard_messages, h6_byte_rate)
{
    char big[61];

    memset(big, 'a', 60);
    big[60] = '\0';
    P.byte_rate = 100;
    P.byte_burst = 100;
    open_at(0);
    cr_assert_eq(msg(WSG_OP_BINARY, big, 0), WSG_GUARD_PASS);
    cr_assert_eq(msg(WSG_OP_BINARY, big, 0), WSG_GUARD_CLOSE);
    assert_close(1008, WSG_H6, "rate limit");
    open_at(0);
    cr_assert_eq(msg(WSG_OP_BINARY, big, 0), WSG_GUARD_PASS);
    cr_assert_eq(msg(WSG_OP_BINARY, big, 600), WSG_GUARD_PASS);
    P.byte_rate = 0;
    open_at(0);
    for (int i = 0; i < 50; i++)
        cr_assert_eq(msg(WSG_OP_BINARY, big, 0), WSG_GUARD_PASS);
    done();
}

/* Streamed delivery: one message token for the first fragment; a dropped
 * first fragment drops the rest of its message. */
Test(guard_messages, h6_streamed_counts_first_fragment)
{
    struct wsg_event f1 = ev_frag(WSG_OP_TEXT, "a", true, false);
    struct wsg_event f2 = ev_frag(WSG_OP_TEXT, "b", false, false);
    struct wsg_event f3 = ev_frag(WSG_OP_TEXT, "c", false, true);

    P.msg_rate = 1;
    P.msg_burst = 1;
    P.rate_action = WSG__RATE_DROP;
    open_at(0);
    cr_assert_eq(step(&f1, 0), WSG_GUARD_PASS);
    cr_assert_eq(step(&f2, 0), WSG_GUARD_PASS);
    cr_assert_eq(step(&f3, 0), WSG_GUARD_PASS);
    cr_assert_eq(step(&f1, 1), WSG_GUARD_DROP);
    /* tokens back, same message */
    cr_assert_eq(step(&f2, 2000), WSG_GUARD_DROP);
    cr_assert_eq(step(&f3, 2000), WSG_GUARD_DROP);
    cr_assert_eq(step(&f1, 2000), WSG_GUARD_PASS);
    done();
}

/* A byte-rate refusal in the middle of a streamed message closes even with
 * rate-action drop: the application already has its first piece. */
Test(guard_messages, h6_streamed_mid_message_closes)
{
    struct wsg_event f1 = ev_frag(WSG_OP_BINARY, "aaaa", true, false);
    struct wsg_event f2 = ev_frag(WSG_OP_BINARY, "bbbbbbbb", false, true);

    P.byte_rate = 10;
    P.byte_burst = 10;
    P.rate_action = WSG__RATE_DROP;
    open_at(0);
    cr_assert_eq(step(&f1, 0), WSG_GUARD_PASS);
    wsg_guard_conn_message(C, &f2, 0, &A);
    assert_close(1008, WSG_H6, "rate limit");
    done();
}

/* T12: ping/pong floods. */
Test(guard_messages, h6_control_flood_t12)
{
    struct wsg_event ping = ev_ctl(WSG_EV_PING), pong = ev_ctl(WSG_EV_PONG);

    P.control_rate = 5;
    open_at(0);
    for (int i = 0; i < 5; i++) {
        wsg_guard_conn_control(C, i & 1 ? &ping : &pong, 0, &A);
        cr_assert_eq(A.what, WSG_GUARD_PASS);
    }
    wsg_guard_conn_control(C, &ping, 0, &A);
    assert_close(1008, WSG_H6, "control frame flood");
    open_at(0);
    for (uint64_t t = 0; t < 3000; t += 200) {
        wsg_guard_conn_control(C, &ping, t, &A);
        cr_assert_eq(A.what, WSG_GUARD_PASS);
    }
    P.control_rate = 0;
    open_at(0);
    for (int i = 0; i < 1000; i++) {
        wsg_guard_conn_control(C, &ping, 0, &A);
        cr_assert_eq(A.what, WSG_GUARD_PASS);
    }
    done();
}

#define SECRET "post-connect-SECRET"

Test(guard_messages, h3_post_connect_auth)
{
    P.auth_token = (char *)SECRET;
    P.auth_first_message_ms = 5000;
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, SECRET, 100), WSG_GUARD_DROP);
    cr_assert_eq(A.control, WSG_H3);
    cr_assert_eq(msg(WSG_OP_TEXT, "hello", 200), WSG_GUARD_PASS);
    cr_assert_eq(wsg_guard_conn_next_deadline(C), UINT64_MAX);
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, "hello", 100), WSG_GUARD_CLOSE);
    assert_close(1008, WSG_H3, "authentication required");
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, SECRET, 5000), WSG_GUARD_CLOSE); /* late */
    assert_close(1008, WSG_H3, "authentication required");
    cr_assert_not(rec_has(&R, SECRET));
    cr_assert_not(rec_has(&R, "hello"));

    /* off (and no handshake token either, which would then be required) */
    P.auth_first_message_ms = 0;
    P.auth_token = NULL;
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, "hello", 100), WSG_GUARD_PASS);
    done();
}

Test(guard_messages, h3_post_connect_auth_hmac_fragments)
{
    static uint8_t key[] = "k3y-k3y-k3y-k3y-";
    char tok[WSG_TOKEN_MAX + 1], a[WSG_TOKEN_MAX], b[WSG_TOKEN_MAX];
    size_t n = wsg_token_sign(key, 16, "eve", 1700000000u + 100, tok,
                              sizeof(tok));
    struct wsg_event f1, f2;

    cr_assert_gt(n, 4);
    memcpy(a, tok, 4);
    a[4] = '\0';
    strcpy(b, tok + 4);
    f1 = ev_frag(WSG_OP_TEXT, a, true, false);
    f2 = ev_frag(WSG_OP_TEXT, b, false, true);
    P.hmac_key = key;
    P.hmac_key_len = 16;
    P.auth_first_message_ms = 1000;
    open_at(0);
    cr_assert_eq(step(&f1, 10), WSG_GUARD_DROP);
    cr_assert_eq(step(&f2, 20), WSG_GUARD_DROP);
    cr_assert_eq(msg(WSG_OP_TEXT, "x", 30), WSG_GUARD_PASS);
    /* the wall clock follows now_ms: 200 s in, the token has expired */
    P.auth_first_message_ms = 300000;
    open_at(0);
    /* the previous connection's close event names who authenticated */
    cr_assert(rec_has(&R, "\"event\":\"close\",\"client\":\"203.0.113.5\","
                          "\"subject\":\"eve\""), "%s", R.json);
    cr_assert_eq(msg(WSG_OP_TEXT, tok, 99000), WSG_GUARD_DROP);
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, tok, 200000), WSG_GUARD_CLOSE);
    assert_close(1008, WSG_H3, "authentication required");
    cr_assert_not(rec_has(&R, tok + 4));
    done();
}

static uint16_t validator(void *ud, enum wsg_opcode op, const uint8_t *data,
                          size_t len, const char **reason)
{
    (void)op;
    (*(int *)ud)++;
    if (len >= 3 && memcmp(data, "bad", 3) == 0) {
        *reason = "schema";
        return 1007;
    }
    if (len >= 3 && memcmp(data, "odd", 3) == 0)
        return 4000; /* not allowed: becomes 1008 */
    return 0;
}

Test(guard_messages, h9_validator)
{
    int calls = 0;

    P.validate = validator;
    P.validate_ud = &calls;
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, "good", 0), WSG_GUARD_PASS);
    cr_assert_eq(msg(WSG_OP_TEXT, "bad!", 0), WSG_GUARD_CLOSE);
    assert_close(1007, WSG_H9, "schema");
    cr_assert_not(rec_has(&R, "bad!"), "payload in the log");
    open_at(0);
    cr_assert_eq(msg(WSG_OP_BINARY, "odd", 0), WSG_GUARD_CLOSE);
    assert_close(1008, WSG_H9, "message refused");
    cr_assert_eq(calls, 3);
    P.validate = NULL;
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, "bad!", 0), WSG_GUARD_PASS);
    done();
}

Test(guard_messages, h11_violation_stats)
{
    struct wsg_guard_stats st;

    P.binary_only = true;
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, "x", 0), WSG_GUARD_CLOSE);
    wsg_guard_get_stats(G, &st);
    cr_assert_eq(st.violations[WSG_H9], 1);
    cr_assert_eq(st.open, 1);
    cr_assert(rec_has(&R, "\"event\":\"violation\""));
    cr_assert(rec_has(&R, "\"control\":\"H9\""));
    cr_assert(rec_has(&R, "\"close_code\":1003"));
    done();
}

/* Failures the transport decided (RFC 6455 7.1.7), not the guard: a
 * violation event with the control id, and the close event carries it;
 * a clean or echoed close, a vanished peer, or a close the guard decided
 * itself is no violation (H4, H5, H7, H11, H12). */
Test(guard_messages, transport_failures_audited)
{
    static const struct {
        int err;
        uint16_t code;
        int control;
        const char *reason;
    } cases[] = {
        {WSG_ERR_TOO_BIG, 1009, WSG_H5, "message too big"},
        {WSG_ERR_PROTOCOL, 1002, WSG_H4, "protocol error"},
        {WSG_ERR_MASKING, 1002, WSG_H4, "protocol error"},
        {WSG_ERR_INVALID_UTF8, 1007, WSG_H4, "invalid data"},
        {WSG_ERR_POLICY, 1008, WSG_H12, "output budget exceeded"},
        {WSG_ERR_TIMEOUT, 1011, WSG_H7, "keepalive ping timeout"},
        {WSG_OK, 1002, 0, NULL},            /* the peer's 1002, echoed */
        {WSG_ERR_PEER_CLOSED, 1000, 0, NULL},
        {WSG_ERR_TIMEOUT, 1001, 0, NULL},   /* not the pong deadline */
        {WSG_ERR_TOO_BIG, 0, 0, NULL},      /* nothing was sent */
    };
    struct wsg_guard_stats st;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t before;

        open_at(0);
        before = R.n;
        cr_assert_eq(wsg_guard_conn_failed(C, 10, cases[i].err,
                                           cases[i].code),
                     cases[i].control, "case %zu", i);
        if (cases[i].control == 0) {
            cr_assert_eq(R.n, before, "case %zu: no event", i);
            continue;
        }
        cr_assert_eq(R.n, before + 1);
        cr_assert_str_eq(R.event[R.n - 1], "violation");
        cr_assert_eq(R.control[R.n - 1], cases[i].control);
        cr_assert_eq(R.code[R.n - 1], cases[i].code);
        cr_assert_str_eq(R.reason[R.n - 1], cases[i].reason);
        wsg_guard_get_stats(G, &st);
        cr_assert_eq(st.violations[cases[i].control], 1);
        conn_close(G, C, 20);
        C = NULL;
        cr_assert_str_eq(R.event[R.n - 1], "close");
        cr_assert_eq(R.control[R.n - 1], cases[i].control,
                     "case %zu: the close event names the control", i);
    }
    /* A close the guard decided first: the transport's report adds none. */
    P.msg_rate = 1;
    P.msg_burst = 1;
    open_at(0);
    cr_assert_eq(msg(WSG_OP_TEXT, "a", 1), WSG_GUARD_PASS);
    cr_assert_eq(msg(WSG_OP_TEXT, "b", 2), WSG_GUARD_CLOSE);
    cr_assert_eq(wsg_guard_conn_failed(C, 3, WSG_ERR_POLICY, 1008), 0);
    cr_assert_eq(wsg_guard_conn_failed(NULL, 3, WSG_ERR_TOO_BIG, 1009), 0);
    done();
}
