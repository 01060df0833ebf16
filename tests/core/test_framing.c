/* RFC 6455 section 5.2 (base framing) and the section 5.7 examples, byte
 * for byte (5.3 masking: test_masking.c). Every parser test runs whole, one byte at a
 * time and before a guard page (run_all). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "helpers.h"

static const uint8_t hello[] = "Hello";

static void expect_message(const struct rec *e, enum wsg_opcode op,
                           const void *data, size_t len)
{
    cr_assert_eq(e->type, WSG_EV_MESSAGE, "type %d", e->type);
    cr_assert_eq(e->opcode, op);
    cr_assert_eq(e->len, len, "len %zu want %zu", e->len, len);
    cr_assert(len == 0 || memcmp(e->data, data, len) == 0);
}

/* ---- 5.7 examples ------------------------------------------------------------ */

Test(rfc6455_5_7_examples, unmasked_hello)
{
    const uint8_t in[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    struct wsg_conn_config cfg = cfg_client();
    struct run r;
    run_all(&cfg, in, sizeof in, &r);
    cr_assert_eq(r.n, 1);
    expect_message(&r.ev[0], WSG_OP_TEXT, hello, 5);
    cr_assert_eq(r.out.len, 0);
    run_free(&r);
    /* The server writes exactly these bytes. */
    struct wsg_conn *c;
    cfg = cfg_server();
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, hello, 5), WSG_OK);
    struct wsg_iovec iov[4];
    size_t n = wsg_conn_output(c, iov, 4);
    struct bb out = {0};
    for (size_t i = 0; i < n; i++)
        bb_add(&out, iov[i].base, iov[i].len);
    cr_assert_eq(out.len, sizeof in);
    cr_assert(memcmp(out.p, in, sizeof in) == 0);
    bb_free(&out);
    wsg_conn_free(c);
}

Test(rfc6455_5_7_examples, masked_hello)
{
    const uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                          0x7f, 0x9f, 0x4d, 0x51, 0x58};
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in, sizeof in, &r);
    cr_assert_eq(r.n, 1);
    expect_message(&r.ev[0], WSG_OP_TEXT, hello, 5);
    run_free(&r);
    /* And the header writer produces the same header for that key. */
    uint8_t h[WSG_FRAME_HEADER_MAX];
    cr_assert_eq(wsg_frame_header_write(h, WSG_OP_TEXT, true, 0, 5, test_key), 6);
    cr_assert(memcmp(h, in, 6) == 0);
    uint8_t p[5];
    memcpy(p, hello, 5);
    wsg_mask(p, 5, test_key, 0);
    cr_assert(memcmp(p, in + 6, 5) == 0);
}

Test(rfc6455_5_7_examples, fragmented_hello)
{
    const uint8_t in[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    struct wsg_conn_config cfg = cfg_client();
    struct run r;
    run_all(&cfg, in, sizeof in, &r);
    cr_assert_eq(r.n, 1);
    expect_message(&r.ev[0], WSG_OP_TEXT, hello, 5);
    run_free(&r);

    cfg.delivery = WSG_DELIVER_STREAM;
    run_all(&cfg, in, sizeof in, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.ev[0].type, WSG_EV_FRAGMENT);
    cr_assert(r.ev[0].first && !r.ev[0].fin);
    cr_assert_eq(r.ev[0].len, 3);
    cr_assert(memcmp(r.ev[0].data, "Hel", 3) == 0);
    cr_assert_eq(r.ev[1].type, WSG_EV_FRAGMENT);
    cr_assert(!r.ev[1].first && r.ev[1].fin);
    cr_assert_eq(r.ev[1].opcode, WSG_OP_TEXT);
    cr_assert(memcmp(r.ev[1].data, "lo", 2) == 0);
    run_free(&r);
}

Test(rfc6455_5_7_examples, unmasked_ping_answered_with_masked_pong)
{
    const uint8_t in[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    struct wsg_conn_config cfg = cfg_client();
    struct run r;
    run_all(&cfg, in, sizeof in, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.ev[0].type, WSG_EV_PING);
    cr_assert_eq(r.ev[0].len, 5);
    cr_assert(memcmp(r.ev[0].data, hello, 5) == 0);
    /* The client's pong: masked, same payload (5.5.3). */
    cr_assert_eq(r.out.len, 11);
    cr_assert_eq(r.out.p[0], 0x8a);
    cr_assert_eq(r.out.p[1], 0x85);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(r.out.p[6 + i] ^ r.out.p[2 + (i & 3)], hello[i]);
    cr_assert_eq(r.st.pings_in, 1);
    run_free(&r);
}

Test(rfc6455_5_7_examples, masked_pong)
{
    const uint8_t in[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                          0x7f, 0x9f, 0x4d, 0x51, 0x58};
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in, sizeof in, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.ev[0].type, WSG_EV_PONG);
    cr_assert_eq(r.ev[0].len, 5);
    cr_assert(memcmp(r.ev[0].data, hello, 5) == 0);
    cr_assert_eq(r.out.len, 0);
    run_free(&r);
}

static void binary_example(size_t len, const uint8_t *hdr, size_t hlen)
{
    uint8_t h[WSG_FRAME_HEADER_MAX];
    cr_assert_eq(wsg_frame_header_write(h, WSG_OP_BINARY, true, 0, len, NULL),
                 hlen);
    cr_assert(memcmp(h, hdr, hlen) == 0);
    struct bb in = {0};
    bb_add(&in, hdr, hlen);
    for (size_t i = 0; i < len; i++)
        bb_byte(&in, (uint8_t)(i * 7));
    struct wsg_conn_config cfg = cfg_client();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 1);
    expect_message(&r.ev[0], WSG_OP_BINARY, in.p + hlen, len);
    run_free(&r);
    bb_free(&in);
}

Test(rfc6455_5_7_examples, binary_256_bytes)
{
    const uint8_t hdr[] = {0x82, 0x7E, 0x01, 0x00};
    binary_example(256, hdr, sizeof hdr);
}

Test(rfc6455_5_7_examples, binary_64k)
{
    const uint8_t hdr[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
    binary_example(65536, hdr, sizeof hdr);
}

/* ---- 5.2 base framing ----------------------------------------------------------- */

Test(rfc6455_5_2_base_framing, boundary_lengths)
{
    static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        struct bb in = {0}, pl = {0};
        for (size_t i = 0; i < lens[k]; i++)
            bb_byte(&pl, (uint8_t)('a' + i % 26));
        bb_frame(&in, FIN | WSG_OP_TEXT, true, pl.p, lens[k]);
        struct wsg_conn_config cfg = cfg_server();
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        cr_assert_eq(r.n, 1, "len %zu", lens[k]);
        expect_message(&r.ev[0], WSG_OP_TEXT, pl.p, lens[k]);
        cr_assert_eq(r.rc, WSG_OK);
        run_free(&r);
        bb_free(&in);
        bb_free(&pl);
    }
}

Test(rfc6455_5_2_base_framing, several_frames_in_one_feed)
{
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_TEXT, true, "one", 3);
    bb_frame(&in, FIN | WSG_OP_BINARY, true, "\x00\xff", 2);
    bb_frame(&in, FIN | WSG_OP_PING, true, "p", 1);
    bb_frame(&in, FIN | WSG_OP_TEXT, true, "", 0);
    bb_frame(&in, FIN | WSG_OP_PONG, true, "", 0);
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 5);
    expect_message(&r.ev[0], WSG_OP_TEXT, "one", 3);
    expect_message(&r.ev[1], WSG_OP_BINARY, "\x00\xff", 2);
    cr_assert_eq(r.ev[2].type, WSG_EV_PING);
    expect_message(&r.ev[3], WSG_OP_TEXT, "", 0);
    cr_assert_eq(r.ev[4].type, WSG_EV_PONG);
    cr_assert_eq(r.ev[4].len, 0);
    cr_assert_eq(r.st.frames_in, 5);
    cr_assert_eq(r.st.messages_in, 3);
    cr_assert_eq(r.st.bytes_in, in.len);
    cr_assert_eq(r.state, WSG_STATE_OPEN);
    run_free(&r);
    bb_free(&in);
}

/* Zero-copy: a message that arrives whole is unmasked in the caller's
 * buffer and the event points into it. */
Test(rfc6455_5_2_base_framing, whole_message_is_not_copied)
{
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_BINARY, true, "abcdefghijklmnopqrstuvwxyz", 26);
    struct wsg_conn_config cfg = cfg_server();
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    struct wsg_event ev;
    size_t used;
    cr_assert_eq(wsg_conn_feed(c, in.p, in.len, 0, &used, &ev), WSG_OK);
    cr_assert_eq(used, in.len);
    cr_assert_eq(ev.type, WSG_EV_MESSAGE);
    cr_assert_eq(ev.data, in.p + 6, "delivered from the caller's buffer");
    cr_assert(memcmp(in.p + 6, "abcdefghijklmnopqrstuvwxyz", 26) == 0);
    wsg_conn_free(c);
    bb_free(&in);
}

/* T1: length tricks, decided from the header alone. */
Test(rfc6455_5_2_base_framing, T1_non_minimal_lengths)
{
    struct { size_t len; int form; } cases[] = {
        {0, 126}, {125, 126}, {0, 127}, {125, 127}, {126, 127}, {65535, 127},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct bb in = {0};
        uint8_t *pl = calloc(1, cases[k].len + 1);
        bb_frame_form(&in, FIN | WSG_OP_BINARY, true, pl, cases[k].len,
                      cases[k].form);
        struct wsg_conn_config cfg = cfg_server();
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        cr_assert_eq(r.n, 1, "case %zu", k);
        expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "non-minimal length");
        run_free(&r);
        bb_free(&in);
        free(pl);
    }
}

Test(rfc6455_5_2_base_framing, T1_top_bit_of_64bit_length)
{
    const uint8_t in[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0x05,
                          0x37, 0xfa, 0x21, 0x3d, 1, 2, 3, 4, 5};
    struct wsg_conn_config cfg = cfg_server();
    cfg.max_frame = UINT64_MAX;
    cfg.max_message = UINT64_MAX;
    struct run r;
    run_all(&cfg, in, sizeof in, &r);
    expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "top bit");
    cr_assert_eq(r.n, 1);
    run_free(&r);
    /* Largest legal length with unlimited limits: accepted header, then
     * waits for payload (nothing allocated up front). */
    const uint8_t in2[] = {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                           0xFF, 0xFF, 0x37, 0xfa, 0x21, 0x3d};
    run_all(&cfg, in2, sizeof in2, &r);
    cr_assert_eq(r.n, 0);
    cr_assert_eq(r.rc, WSG_OK);
    run_free(&r);
}

/* T13: reserved opcodes and bits are a clean 1002. */
Test(rfc6455_5_2_base_framing, T13_reserved_opcodes)
{
    static const uint8_t ops[] = {0x3, 0x4, 0x5, 0x6, 0x7,
                                  0xB, 0xC, 0xD, 0xE, 0xF};
    static const char *names[] = {"0x3", "0x4", "0x5", "0x6", "0x7",
                                  "0xb", "0xc", "0xd", "0xe", "0xf"};
    for (size_t k = 0; k < sizeof ops; k++) {
        struct bb in = {0};
        bb_frame(&in, (uint8_t)(FIN | ops[k]), true, "x", 1);
        struct wsg_conn_config cfg = cfg_server();
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        const struct rec *e = expect_fail(&r, 1002, WSG_ERR_PROTOCOL,
                                          "reserved opcode");
        cr_assert(strstr(e->reason, names[k]) != NULL, "%s", e->reason);
        cr_assert_eq(out_close_code(&r.out, false), 1002);
        cr_assert_eq(r.n, 1);
        run_free(&r);
        bb_free(&in);
    }
}

Test(rfc6455_5_2_base_framing, T13_reserved_bits)
{
    static const uint8_t bits[] = {WSG_RSV1, WSG_RSV2, WSG_RSV3,
                                   WSG_RSV1 | WSG_RSV3};
    for (size_t k = 0; k < sizeof bits; k++) {
        struct bb in = {0};
        bb_frame(&in, (uint8_t)(FIN | bits[k] | WSG_OP_TEXT), true, "x", 1);
        struct wsg_conn_config cfg = cfg_server();
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "reserved bits");
        run_free(&r);
        /* On a control frame too. */
        bb_free(&in);
        bb_frame(&in, (uint8_t)(FIN | bits[k] | WSG_OP_PING), true, "x", 1);
        run_all(&cfg, in.p, in.len, &r);
        expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "reserved bits");
        run_free(&r);
        bb_free(&in);
    }
}

Test(rfc6455_5_2_base_framing, negotiated_rsv_passes_through)
{
    struct bb in = {0};
    bb_frame(&in, (uint8_t)(WSG_RSV1 | WSG_OP_BINARY), true, "ab", 2);
    bb_frame(&in, (uint8_t)(FIN | WSG_OP_CONTINUATION), true, "c", 1);
    struct wsg_conn_config cfg = cfg_server();
    cfg.rsv_allowed = WSG_RSV1;
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 1);
    expect_message(&r.ev[0], WSG_OP_BINARY, "abc", 3);
    cr_assert_eq(r.ev[0].rsv, WSG_RSV1);
    run_free(&r);
    /* RSV2 is still refused. */
    bb_free(&in);
    bb_frame(&in, (uint8_t)(FIN | WSG_RSV2 | WSG_OP_BINARY), true, "ab", 2);
    run_all(&cfg, in.p, in.len, &r);
    expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "reserved bits set 0x20");
    run_free(&r);
    bb_free(&in);
}

/* T13 (review F6): negotiated RSV bits are legal on the first frame of a
 * data message only (RFC 7692 section 6); on control frames and on
 * continuations they fail with 1002 even when negotiated. Both roles, both
 * delivery modes, whole / byte by byte / guard page. */
Test(rfc6455_5_2_base_framing, T13_negotiated_rsv_only_on_first_data_frame)
{
    static const uint8_t allowed[] = {WSG_RSV1, WSG_RSV1 | WSG_RSV2 | WSG_RSV3};
    for (int role = 0; role < 2; role++)
    for (int d = 0; d < 2; d++)
    for (size_t a = 0; a < sizeof allowed; a++) {
        struct wsg_conn_config cfg = role ? cfg_client() : cfg_server();
        cfg.delivery = d ? WSG_DELIVER_STREAM : WSG_DELIVER_MESSAGE;
        cfg.rsv_allowed = allowed[a];
        bool masked = role == 0;
        struct run r;

        /* Control frames: never, alone or between fragments. */
        static const uint8_t ctl[] = {WSG_OP_PING, WSG_OP_PONG, WSG_OP_CLOSE};
        for (size_t k = 0; k < sizeof ctl; k++) {
            struct bb in = {0};
            bb_frame(&in, (uint8_t)(FIN | WSG_RSV1 | ctl[k]), masked, "\x03\xe8",
                     2);
            run_all(&cfg, in.p, in.len, &r);
            expect_fail(&r, 1002, WSG_ERR_PROTOCOL,
                        "reserved bits set 0x40 on a control frame");
            run_free(&r);
            bb_free(&in);
            bb_frame(&in, (uint8_t)(WSG_RSV1 | WSG_OP_TEXT), masked, "a", 1);
            bb_frame(&in, (uint8_t)(FIN | WSG_RSV1 | ctl[k]), masked, "\x03\xe8",
                     2);
            run_all(&cfg, in.p, in.len, &r);
            expect_fail(&r, 1002, WSG_ERR_PROTOCOL, "on a control frame");
            run_free(&r);
            bb_free(&in);
        }

        /* Continuations: never, whichever bit. */
        for (size_t k = 0; k < 3; k++) {
            uint8_t bit = (uint8_t)(WSG_RSV1 >> k);
            struct bb in = {0};
            bb_frame(&in, (uint8_t)(WSG_RSV1 | WSG_OP_BINARY), masked, "ab", 2);
            bb_frame(&in, (uint8_t)(FIN | bit | WSG_OP_CONTINUATION), masked,
                     "c", 1);
            run_all(&cfg, in.p, in.len, &r);
            const struct rec *e = expect_fail(&r, 1002, WSG_ERR_PROTOCOL,
                                              "reserved bits set");
            if (bit & allowed[a])
                cr_assert(strstr(e->reason, "on a continuation"), "%s",
                          e->reason);
            run_free(&r);
            bb_free(&in);
        }

        /* Still fine on the first frame, with a clean ping in between. */
        struct bb in = {0};
        bb_frame(&in, (uint8_t)(WSG_RSV1 | WSG_OP_TEXT), masked, "ab", 2);
        bb_frame(&in, (uint8_t)(FIN | WSG_OP_PING), masked, "p", 1);
        bb_frame(&in, (uint8_t)(FIN | WSG_OP_CONTINUATION), masked, "c", 1);
        bb_frame(&in, (uint8_t)(FIN | WSG_RSV1 | WSG_OP_BINARY), masked, "x",
                 1);
        run_all(&cfg, in.p, in.len, &r);
        cr_assert_eq(r.rc, WSG_OK);
        cr_assert_eq(r.state, WSG_STATE_OPEN);
        size_t msgs = 0;
        for (size_t i = 0; i < r.n; i++) {
            if (r.ev[i].type == WSG_EV_MESSAGE ||
                (r.ev[i].type == WSG_EV_FRAGMENT && r.ev[i].first)) {
                cr_assert_eq(r.ev[i].rsv, WSG_RSV1);
                msgs++;
            }
            cr_assert_neq(r.ev[i].type, WSG_EV_FAIL);
        }
        cr_assert_eq(msgs, 2);
        run_free(&r);
        bb_free(&in);
    }
}

/* T2: a declared size over the limit is refused at the header. */
Test(rfc6455_5_2_base_framing, T2_frame_over_max_frame)
{
    const uint8_t in[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 0x1E, 0x84, 0x80,
                          0x37, 0xfa, 0x21, 0x3d, 'a', 'b'};
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in, sizeof in, &r);
    const struct rec *e =
        expect_fail(&r, 1009, WSG_ERR_TOO_BIG, "frame too big: 2000000 > 1048576");
    cr_assert_eq(e->reason_len, strlen("frame too big: 2000000 > 1048576"));
    cr_assert_eq(r.n, 1);
    run_free(&r);
}

Test(rfc6455_5_2_base_framing, limits_are_inclusive)
{
    struct bb in = {0};
    uint8_t pl[100] = {0};
    bb_frame(&in, FIN | WSG_OP_BINARY, true, pl, 100);
    struct wsg_conn_config cfg = cfg_server();
    cfg.max_frame = 100;
    cfg.max_message = 100;
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.ev[0].type, WSG_EV_MESSAGE);
    run_free(&r);
    cfg.max_frame = 99;
    run_all(&cfg, in.p, in.len, &r);
    expect_fail(&r, 1009, WSG_ERR_TOO_BIG, "frame too big: 100 > 99");
    run_free(&r);
    cfg.max_frame = 100;
    cfg.max_message = 99;
    run_all(&cfg, in.p, in.len, &r);
    expect_fail(&r, 1009, WSG_ERR_TOO_BIG, "message too big: 100 > 99");
    run_free(&r);
    bb_free(&in);
}

Test(rfc6455_5_2_base_framing, sticky_failure_and_discard)
{
    struct bb in = {0};
    bb_frame(&in, FIN | 0x3, true, "x", 1);
    struct wsg_conn_config cfg = cfg_server();
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    struct wsg_event ev;
    size_t used;
    cr_assert_eq(wsg_conn_feed(c, in.p, in.len, 0, &used, &ev), WSG_ERR_PROTOCOL);
    cr_assert_eq(ev.type, WSG_EV_FAIL);
    cr_assert_eq(used, in.len);
    bb_free(&in);
    bb_frame(&in, FIN | WSG_OP_TEXT, true, "ok", 2);
    cr_assert_eq(wsg_conn_feed(c, in.p, in.len, 0, &used, &ev), WSG_ERR_CLOSED);
    cr_assert_eq(ev.type, WSG_EV_NONE);
    cr_assert_eq(used, in.len);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "x", 1), WSG_ERR_STATE);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_CLOSING); /* Close not written */
    cr_assert(!wsg_conn_should_close_transport(c));
    struct wsg_iovec iov[2];
    size_t n = wsg_conn_output(c, iov, 2);
    cr_assert_eq(n, 1);
    cr_assert_eq(((const uint8_t *)iov[0].base)[0], 0x88);
    wsg_conn_output_consume(c, iov[0].len);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_CLOSED);
    cr_assert(wsg_conn_should_close_transport(c));
    wsg_conn_free(c);
    bb_free(&in);
}

Test(rfc6455_5_2_base_framing, bad_arguments)
{
    struct wsg_conn_config cfg = cfg_server();
    struct wsg_conn *c = (struct wsg_conn *)1;
    cfg.max_frame = 0;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_ERR_INVALID_ARG);
    cr_assert_null(c);
    cfg = cfg_client(); /* no random source */
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_new(NULL, &c), WSG_ERR_INVALID_ARG);
    cfg = cfg_server();
    cr_assert_eq(wsg_conn_new(&cfg, NULL), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    struct wsg_event ev;
    size_t used;
    cr_assert_eq(wsg_conn_feed(c, NULL, 3, 0, &used, &ev), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_feed(c, NULL, 0, 0, &used, &ev), WSG_OK);
    cr_assert_eq(ev.type, WSG_EV_NONE);
    wsg_conn_free(c);
    wsg_conn_free(NULL);
}
