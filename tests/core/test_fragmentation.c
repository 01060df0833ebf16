/* RFC 6455 section 5.4 (fragmentation) in both delivery modes, and the
 * fragment-flood regression (shared/THREATS.md T3). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "helpers.h"

static struct wsg_conn_config stream_cfg(void)
{
    struct wsg_conn_config c = cfg_server();
    c.delivery = WSG_DELIVER_STREAM;
    return c;
}

Test(rfc6455_5_4_fragmentation, three_fragments_assembled)
{
    struct bb in = {0};
    bb_frame(&in, WSG_OP_TEXT, true, "Hello, ", 7);
    bb_frame(&in, WSG_OP_CONTINUATION, true, "frag", 4);
    bb_frame(&in, FIN | WSG_OP_CONTINUATION, true, "mented!", 7);
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.ev[0].type, WSG_EV_MESSAGE);
    cr_assert_eq(r.ev[0].opcode, WSG_OP_TEXT);
    cr_assert_eq(r.ev[0].len, 18);
    cr_assert(memcmp(r.ev[0].data, "Hello, fragmented!", 18) == 0);
    cr_assert_eq(r.st.frames_in, 3);
    cr_assert_eq(r.st.messages_in, 1);
    run_free(&r);
    bb_free(&in);
}

/* 5.4: control frames MAY be injected in the middle of a message. */
Test(rfc6455_5_4_fragmentation, control_frames_between_fragments)
{
    struct bb in = {0};
    bb_frame(&in, WSG_OP_BINARY, true, "ab", 2);
    bb_frame(&in, FIN | WSG_OP_PING, true, "ping!", 5);
    bb_frame(&in, WSG_OP_CONTINUATION, true, "cd", 2);
    bb_frame(&in, FIN | WSG_OP_PONG, true, "", 0);
    bb_frame(&in, FIN | WSG_OP_CONTINUATION, true, "ef", 2);
    for (int mode = 0; mode < 2; mode++) {
        struct wsg_conn_config cfg = mode ? stream_cfg() : cfg_server();
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        if (mode == 0) {
            cr_assert_eq(r.n, 3);
            cr_assert_eq(r.ev[0].type, WSG_EV_PING);
            cr_assert_eq(r.ev[1].type, WSG_EV_PONG);
            cr_assert_eq(r.ev[2].type, WSG_EV_MESSAGE);
            cr_assert_eq(r.ev[2].len, 6);
            cr_assert(memcmp(r.ev[2].data, "abcdef", 6) == 0);
        } else {
            cr_assert_eq(r.n, 5);
            cr_assert_eq(r.ev[0].type, WSG_EV_FRAGMENT);
            cr_assert(r.ev[0].first && !r.ev[0].fin);
            cr_assert_eq(r.ev[1].type, WSG_EV_PING);
            cr_assert_eq(r.ev[2].type, WSG_EV_FRAGMENT);
            cr_assert(!r.ev[2].first && !r.ev[2].fin);
            cr_assert_eq(r.ev[2].opcode, WSG_OP_BINARY);
            cr_assert_eq(r.ev[3].type, WSG_EV_PONG);
            cr_assert(!r.ev[4].first && r.ev[4].fin);
        }
        /* The pong went out between the fragments we received. */
        cr_assert_eq(r.out.len, 7);
        cr_assert_eq(r.out.p[0], 0x8A);
        cr_assert(memcmp(r.out.p + 2, "ping!", 5) == 0);
        run_free(&r);
    }
    bb_free(&in);
}

Test(rfc6455_5_4_fragmentation, continuation_without_message)
{
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_CONTINUATION, true, "x", 1);
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "continuation frame without a message");
    cr_assert_eq(r.n, 1);
    run_free(&r);
    /* Also right after a finished message (T11: orphan continuation). */
    bb_free(&in);
    bb_frame(&in, FIN | WSG_OP_TEXT, true, "done", 4);
    bb_frame(&in, WSG_OP_CONTINUATION, true, "x", 1);
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 2);
    expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "continuation");
    run_free(&r);
    bb_free(&in);
}

Test(rfc6455_5_4_fragmentation, new_message_inside_fragmented_one)
{
    static const uint8_t ops[] = {WSG_OP_TEXT, WSG_OP_BINARY};
    for (int k = 0; k < 2; k++) {
        struct bb in = {0};
        bb_frame(&in, WSG_OP_TEXT, true, "part", 4);
        bb_frame(&in, (uint8_t)(FIN | ops[k]), true, "new", 3);
        struct wsg_conn_config cfg = stream_cfg();
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "new data frame inside");
        run_free(&r);
        bb_free(&in);
    }
}

/* Empty data frames still give the right events. */
Test(rfc6455_5_4_fragmentation, empty_frames_stream_mode)
{
    struct bb in = {0};
    bb_frame(&in, WSG_OP_TEXT, true, "", 0);
    bb_frame(&in, WSG_OP_CONTINUATION, true, "abc", 3);
    bb_frame(&in, FIN | WSG_OP_CONTINUATION, true, "", 0);
    bb_frame(&in, FIN | WSG_OP_BINARY, true, "", 0);
    struct wsg_conn_config cfg = stream_cfg();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 4);
    cr_assert_eq(r.ev[0].type, WSG_EV_FRAGMENT);
    cr_assert(r.ev[0].first && !r.ev[0].fin && r.ev[0].len == 0);
    cr_assert_eq(r.ev[0].opcode, WSG_OP_TEXT);
    cr_assert(!r.ev[1].first && !r.ev[1].fin && r.ev[1].len == 3);
    cr_assert_eq(r.ev[2].type, WSG_EV_FRAGMENT);
    cr_assert(!r.ev[2].first && r.ev[2].fin && r.ev[2].len == 0);
    cr_assert_eq(r.ev[2].opcode, WSG_OP_TEXT);
    cr_assert(r.ev[3].first && r.ev[3].fin && r.ev[3].len == 0);
    cr_assert_eq(r.ev[3].opcode, WSG_OP_BINARY);
    cr_assert_eq(r.st.messages_in, 2);
    run_free(&r);
    bb_free(&in);
}

Test(rfc6455_5_4_fragmentation, empty_frames_message_mode)
{
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_TEXT, true, "", 0);
    bb_frame(&in, WSG_OP_BINARY, true, "", 0);
    bb_frame(&in, FIN | WSG_OP_CONTINUATION, true, "", 0);
    bb_frame(&in, WSG_OP_TEXT, true, "a", 1);
    bb_frame(&in, FIN | WSG_OP_CONTINUATION, true, "", 0);
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(r.ev[i].type, WSG_EV_MESSAGE);
    cr_assert_eq(r.ev[0].len, 0);
    cr_assert_eq(r.ev[0].opcode, WSG_OP_TEXT);
    cr_assert_eq(r.ev[1].len, 0);
    cr_assert_eq(r.ev[1].opcode, WSG_OP_BINARY);
    cr_assert_eq(r.ev[2].len, 1);
    run_free(&r);
    bb_free(&in);
}

/* Streaming hands out each piece as it arrives, in place, unbuffered. */
Test(rfc6455_5_4_fragmentation, stream_pieces_in_place)
{
    uint8_t payload[1000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)('a' + i % 26);
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_TEXT, true, payload, sizeof payload);
    struct wsg_conn_config cfg = stream_cfg();
    cfg.max_message = 1000;
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    size_t hdr = in.len - sizeof payload;
    size_t cuts[] = {hdr + 1, hdr + 400, in.len};
    size_t pos = 0, got = 0;
    for (int k = 0; k < 3; k++) {
        struct wsg_event ev;
        size_t used;
        cr_assert_eq(wsg_conn_feed(c, in.p + pos, cuts[k] - pos, 0, &used, &ev),
                     WSG_OK);
        cr_assert_eq(used, cuts[k] - pos);
        cr_assert_eq(ev.type, WSG_EV_FRAGMENT);
        cr_assert_eq(ev.first, k == 0);
        cr_assert_eq(ev.fin, k == 2);
        cr_assert_eq(ev.data, in.p + (k == 0 ? hdr : pos), "not in place");
        cr_assert(memcmp(ev.data, payload + got, ev.len) == 0);
        got += ev.len;
        pos = cuts[k];
    }
    cr_assert_eq(got, sizeof payload);
    wsg_conn_free(c);
    bb_free(&in);
}

Test(rfc6455_5_4_fragmentation, message_limit_across_fragments)
{
    struct bb in = {0};
    bb_frame(&in, WSG_OP_BINARY, true, "123456", 6);
    /* Only the header of the second frame: refused before its payload. */
    const uint8_t hdr2[] = {0x80, 0x86, 0x37, 0xfa, 0x21, 0x3d};
    bb_add(&in, hdr2, sizeof hdr2);
    struct wsg_conn_config cfg = cfg_server();
    cfg.max_message = 10;
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    expect_fail(&r, 1009, WSG_ERR_TOO_BIG, "message too big: 12 > 10");
    cr_assert_eq(r.n, 1);
    run_free(&r);
    cfg.delivery = WSG_DELIVER_STREAM;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 2); /* the first piece, then the failure */
    expect_fail(&r, 1009, WSG_ERR_TOO_BIG, "message too big");
    run_free(&r);
    bb_free(&in);
}

/* T3: fragment floods, including empty continuations, stop at
 * max_fragments with 1009, in bounded memory. */
Test(rfc6455_5_4_fragmentation, T3_fragment_flood)
{
    struct wsg_conn_config cfg = cfg_server();
    struct bb in = {0};
    bb_frame(&in, WSG_OP_BINARY, true, "a", 1);
    for (int i = 0; i < 1022; i++)
        bb_frame(&in, WSG_OP_CONTINUATION, true, "", 0);
    bb_frame(&in, FIN | WSG_OP_CONTINUATION, true, "z", 1);
    /* Exactly 1024 frames: delivered. */
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.ev[0].type, WSG_EV_MESSAGE);
    cr_assert_eq(r.ev[0].len, 2);
    run_free(&r);
    bb_free(&in);

    /* 1025 and beyond: 1009 at the 1025th header. */
    struct test_alloc t;
    test_alloc_init(&t, 0, true);
    cfg.alloc = &t.a;
    bb_frame(&in, WSG_OP_TEXT, true, "a", 1);
    for (int i = 0; i < 5000; i++)
        bb_frame(&in, WSG_OP_CONTINUATION, true, "", 0);
    run_all(&cfg, in.p, in.len, &r);
    expect_fail(&r, 1009, WSG_ERR_TOO_BIG, "too many fragments: 1025 > 1024");
    cr_assert_eq(r.st.frames_in, 1024);
    cr_assert(t.peak < 64 * 1024, "memory grew: peak %zu", t.peak);
    cr_assert_eq(t.live, 0);
    run_free(&r);

    cfg.delivery = WSG_DELIVER_STREAM;
    cfg.max_fragments = 3;
    run_all(&cfg, in.p, in.len, &r);
    expect_fail(&r, 1009, WSG_ERR_TOO_BIG, "too many fragments: 4 > 3");
    cr_assert_eq(r.n, 4);
    run_free(&r);
    bb_free(&in);
}

/* The assembly buffer grows with the bytes that arrived, never beyond
 * max_message, and is given back after a large message. */
Test(rfc6455_5_4_fragmentation, assembly_buffer_bounded)
{
    struct test_alloc t;
    test_alloc_init(&t, 0, true);
    struct wsg_conn_config cfg = cfg_server();
    cfg.alloc = &t.a;
    cfg.max_message = 300000;
    struct bb in = {0};
    uint8_t *chunk = malloc(100000);
    memset(chunk, 'x', 100000);
    bb_frame(&in, WSG_OP_BINARY, true, chunk, 100000);
    bb_frame(&in, WSG_OP_CONTINUATION, true, chunk, 100000);
    bb_frame(&in, FIN | WSG_OP_CONTINUATION, true, chunk, 100000);
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.ev[0].len, 300000);
    cr_assert(t.peak <= 300000 + 4096, "peak %zu", t.peak);
    run_free(&r);
    cr_assert_eq(t.live, 0);
    free(chunk);
    bb_free(&in);
}
