/* The send side and the output queue: iovecs, partial writes, lent
 * pointers that survive more output, borrowed payloads, the budget. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "helpers.h"

static struct wsg_conn *server(size_t max_output)
{
    struct wsg_conn_config cfg = cfg_server();
    if (max_output)
        cfg.max_output = max_output;
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    return c;
}

/* Drains everything, `step` bytes per consume. */
static void drain(struct wsg_conn *c, struct bb *out, size_t step)
{
    for (int guard = 0; guard < 1 << 22; guard++) {
        struct wsg_iovec iov[16];
        size_t n = wsg_conn_output(c, iov, 16);
        if (!n)
            return;
        size_t left = step;
        for (size_t i = 0; i < n && left; i++) {
            size_t take = iov[i].len < left ? iov[i].len : left;
            bb_add(out, iov[i].base, take);
            left -= take;
        }
        wsg_conn_output_consume(c, step - left);
    }
    cr_assert_fail("output never drained");
}

/* Parses server frames out of `out` back into (opcode byte, payload). */
static size_t parse_frames(const struct bb *out, uint8_t *b0s, size_t *lens,
                           size_t max)
{
    size_t pos = 0, n = 0;
    while (pos < out->len && n < max) {
        uint8_t b1 = out->p[pos + 1];
        cr_assert_eq(b1 & 0x80, 0, "server output is never masked");
        uint64_t len;
        size_t h = frame_len_at(out, pos, &len);
        b0s[n] = out->p[pos];
        lens[n] = (size_t)len;
        n++;
        pos += h + (size_t)len;
    }
    cr_assert_eq(pos, out->len);
    return n;
}

Test(output, frames_in_order_with_partial_writes)
{
    struct wsg_conn *c = server(0);
    static uint8_t big[100000];
    memset(big, 'B', sizeof big);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "one", 3), WSG_OK);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_BINARY, big, sizeof big), WSG_OK);
    cr_assert_eq(wsg_conn_ping(c, "p", 1), WSG_OK);
    cr_assert_eq(wsg_conn_pong(c, "", 0), WSG_OK);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_BINARY, big, 300), WSG_OK);
    size_t pending = wsg_conn_output_pending(c);
    cr_assert_eq(pending, 5 + 10 + sizeof big + 3 + 2 + 4 + 300);
    struct bb out = {0};
    drain(c, &out, 13);
    cr_assert_eq(out.len, pending);
    uint8_t b0[8];
    size_t lens[8];
    cr_assert_eq(parse_frames(&out, b0, lens, 8), 5);
    cr_assert_eq(b0[0], 0x81);
    cr_assert_eq(b0[1], 0x82);
    cr_assert_eq(lens[1], sizeof big);
    cr_assert_eq(b0[2], 0x89);
    cr_assert_eq(b0[3], 0x8A);
    cr_assert_eq(b0[4], 0x82);
    cr_assert_eq(lens[4], 300);
    struct wsg_conn_stats st;
    wsg_conn_get_stats(c, &st);
    cr_assert_eq(st.bytes_out, pending);
    cr_assert_eq(st.frames_out, 5);
    cr_assert_eq(st.messages_out, 3);
    bb_free(&out);
    wsg_conn_free(c);
}

/* Lent pointers stay valid (and unchanged) while more output is queued. */
Test(output, lent_pointers_survive_more_output)
{
    struct wsg_conn *c = server(0);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "first message", 13), WSG_OK);
    struct wsg_iovec iov[4];
    cr_assert_eq(wsg_conn_output(c, iov, 4), 1);
    uint8_t copy[64];
    size_t len0 = iov[0].len;
    memcpy(copy, iov[0].base, len0);
    static uint8_t chunk[5000];
    memset(chunk, 'c', sizeof chunk);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(wsg_conn_send(c, WSG_OP_BINARY, chunk, 1 + (size_t)i * 20),
                     WSG_OK);
    cr_assert(memcmp(iov[0].base, copy, len0) == 0, "lent bytes changed");
    /* A partial write of the lent bytes, then the rest. */
    wsg_conn_output_consume(c, 5);
    struct wsg_iovec iov2[4];
    cr_assert(wsg_conn_output(c, iov2, 4) >= 1);
    cr_assert_eq((const uint8_t *)iov2[0].base, (const uint8_t *)iov[0].base + 5);
    struct bb out = {0};
    bb_add(&out, copy, 5);
    drain(c, &out, 4096);
    uint8_t b0[256];
    size_t lens[256];
    cr_assert_eq(parse_frames(&out, b0, lens, 256), 201);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(lens[1 + i], 1 + (size_t)i * 20);
    bb_free(&out);
    wsg_conn_free(c);
}

Test(output, iovec_max_respected)
{
    struct wsg_conn *c = server(0);
    static uint8_t big[40000];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(wsg_conn_send(c, WSG_OP_BINARY, big, sizeof big), WSG_OK);
    struct wsg_iovec iov[8];
    size_t n = wsg_conn_output(c, iov, 2);
    cr_assert_eq(n, 2);
    cr_assert_eq(wsg_conn_output(c, iov, 0), 0);
    wsg_conn_free(c);
}

struct released {
    int calls;
    const void *data;
    void *ud;
};

static void on_release(void *ud, const void *data)
{
    struct released *r = ud;
    r->calls++;
    r->data = data;
}

/* Zero-copy send: the payload goes out by reference, released once
 * written. */
Test(output, borrowed_payload)
{
    struct wsg_conn *c = server(0);
    static const uint8_t payload[300] = {1, 2, 3};
    struct released rel = {0};
    cr_assert_eq(wsg_conn_send_borrowed(c, WSG_OP_BINARY, payload, sizeof payload,
                                        true, true, on_release, &rel),
                 WSG_OK);
    struct wsg_iovec iov[4];
    cr_assert_eq(wsg_conn_output(c, iov, 4), 2);
    cr_assert_eq(iov[0].len, 4);
    cr_assert_eq(iov[1].base, (const void *)payload, "not by reference");
    cr_assert_eq(iov[1].len, 300);
    wsg_conn_output_consume(c, 4 + 299);
    cr_assert_eq(rel.calls, 0, "released before its last byte was written");
    wsg_conn_output_consume(c, 1);
    cr_assert_eq(rel.calls, 1);
    cr_assert_eq(rel.data, (const void *)payload);
    cr_assert_eq(wsg_conn_output_pending(c), 0);

    /* Not written: released at free. Empty payloads too. */
    struct released rel2 = {0}, rel3 = {0};
    cr_assert_eq(wsg_conn_send_borrowed(c, WSG_OP_TEXT, "ab", 2, true, false,
                                        on_release, &rel2),
                 WSG_OK);
    cr_assert_eq(wsg_conn_send_borrowed(c, WSG_OP_TEXT, NULL, 0, false, true,
                                        on_release, &rel3),
                 WSG_OK);
    struct bb out = {0};
    drain(c, &out, 3);
    cr_assert_eq(rel2.calls, 1);
    cr_assert_eq(rel3.calls, 1);
    cr_assert_eq(out.len, 4 + 2);
    cr_assert_eq(out.p[0], 0x01);
    cr_assert_eq(out.p[4], 0x80);
    cr_assert_eq(out.p[5], 0x00);
    struct released rel4 = {0};
    cr_assert_eq(wsg_conn_send_borrowed(c, WSG_OP_BINARY, payload, 10, true, true,
                                        on_release, &rel4),
                 WSG_OK);
    wsg_conn_free(c);
    cr_assert_eq(rel4.calls, 1);
    bb_free(&out);
}

Test(output, borrowed_refused_is_never_released)
{
    struct wsg_conn *c = server(100);
    static const uint8_t payload[80];
    struct released rel = {0};
    cr_assert_eq(wsg_conn_send(c, WSG_OP_BINARY, payload, 80), WSG_OK);
    cr_assert_eq(wsg_conn_send_borrowed(c, WSG_OP_BINARY, payload, 80, true,
                                        true, on_release, &rel),
                 WSG_ERR_AGAIN);
    cr_assert_eq(wsg_conn_send_borrowed(c, WSG_OP_PING, payload, 8, true, true,
                                        on_release, &rel),
                 WSG_ERR_INVALID_ARG);
    wsg_conn_free(c);
    cr_assert_eq(rel.calls, 0);
}

/* The budget: data past max_output is refused with AGAIN; a single frame
 * may exceed it when nothing is pending. */
Test(output, max_output_budget)
{
    struct wsg_conn *c = server(100);
    static uint8_t buf[500];
    cr_assert_eq(wsg_conn_send(c, WSG_OP_BINARY, buf, 60), WSG_OK);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_BINARY, buf, 60), WSG_ERR_AGAIN);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_BINARY, buf, 30), WSG_OK);
    cr_assert_eq(wsg_conn_output_pending(c), 62 + 32);
    /* Control frames have the extra slack. */
    cr_assert_eq(wsg_conn_ping(c, buf, 125), WSG_OK);
    struct bb out = {0};
    drain(c, &out, 1000);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_BINARY, buf, 500), WSG_OK);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_BINARY, buf, 1), WSG_ERR_AGAIN);
    bb_free(&out);
    wsg_conn_free(c);
}

Test(output, fragment_state_rules)
{
    struct wsg_conn *c = server(0);
    cr_assert_eq(wsg_conn_send_fragment(c, WSG_OP_TEXT, "a", 1, false, true),
                 WSG_ERR_STATE, "continuation without a message");
    cr_assert_eq(wsg_conn_send_fragment(c, WSG_OP_BINARY, "a", 1, true, false),
                 WSG_OK);
    cr_assert_eq(wsg_conn_send_fragment(c, WSG_OP_BINARY, "b", 1, true, false),
                 WSG_ERR_STATE, "two messages at once");
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "x", 1), WSG_ERR_STATE);
    cr_assert_eq(wsg_conn_ping(c, "between", 7), WSG_OK);
    cr_assert_eq(wsg_conn_send_fragment(c, WSG_OP_TEXT, "b", 1, false, false),
                 WSG_OK);
    cr_assert_eq(wsg_conn_send_fragment(c, WSG_OP_TEXT, "c", 1, false, true),
                 WSG_OK);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "x", 1), WSG_OK);
    struct bb out = {0};
    drain(c, &out, 1 << 20);
    uint8_t b0[8];
    size_t lens[8];
    cr_assert_eq(parse_frames(&out, b0, lens, 8), 5);
    cr_assert_eq(b0[0], 0x02);
    cr_assert_eq(b0[1], 0x89);
    cr_assert_eq(b0[2], 0x00);
    cr_assert_eq(b0[3], 0x80);
    cr_assert_eq(b0[4], 0x81);
    bb_free(&out);
    wsg_conn_free(c);
}

Test(output, argument_checks)
{
    struct wsg_conn *c = server(0);
    static uint8_t buf[200];
    cr_assert_eq(wsg_conn_send(c, WSG_OP_PING, "x", 1), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_CONTINUATION, "x", 1),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, NULL, 1), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_ping(c, buf, 126), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_pong(c, buf, 126), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_send(NULL, WSG_OP_TEXT, "x", 1), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_output_pending(c), 0);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, NULL, 0), WSG_OK);
    wsg_conn_free(c);
}

/* The client's output round-trips through a server connection. */
Test(output, client_to_server_round_trip)
{
    struct wsg_conn_config cc = cfg_client();
    uint64_t seed = 77;
    cc.random.fill = test_random;
    cc.random.ud = &seed;
    struct wsg_conn *cli, *srv = server(0);
    cr_assert_eq(wsg_conn_new(&cc, &cli), WSG_OK);
    static uint8_t big[70000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 13);
    cr_assert_eq(wsg_conn_send(cli, WSG_OP_BINARY, big, sizeof big), WSG_OK);
    cr_assert_eq(wsg_conn_send_fragment(cli, WSG_OP_TEXT, "he", 2, true, false),
                 WSG_OK);
    cr_assert_eq(wsg_conn_send_fragment(cli, WSG_OP_TEXT, "llo", 3, false, true),
                 WSG_OK);
    cr_assert_eq(wsg_conn_close(cli, 1000, "done", 4, 0), WSG_OK);
    struct bb wire = {0};
    drain(cli, &wire, 1 << 20);
    struct wsg_conn_config sc = cfg_server();
    struct run r;
    run_all(&sc, wire.p, wire.len, &r);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.ev[0].len, sizeof big);
    cr_assert(memcmp(r.ev[0].data, big, sizeof big) == 0);
    cr_assert_eq(r.ev[1].len, 5);
    cr_assert(memcmp(r.ev[1].data, "hello", 5) == 0);
    cr_assert_eq(r.ev[2].type, WSG_EV_CLOSE);
    cr_assert_eq(r.ev[2].close_code, 1000);
    cr_assert_eq(r.ev[2].reason_len, 4);
    run_free(&r);
    bb_free(&wire);
    wsg_conn_free(cli);
    wsg_conn_free(srv);
}

/* ---- H12/T12: the budget bounds memory, not only wire bytes ----------------
 * Heap held by a connection whose peer stopped reading stays under
 * max_output + HEAP_SLACK, whatever mix of frames is queued; automatic
 * pongs may add the documented control slack. HEAP_SLACK: one chunk of
 * rounding (WSG__OUTQ_SLACK) plus the connection struct itself. */

#include "core/conn.h"

#define HEAP_SLACK (WSG__OUTQ_SLACK + sizeof(struct wsg_conn))

struct heap_run {
    struct test_alloc t;
    struct wsg_conn *c;
    size_t borrowed, copied, pings, released;
};

static void count_release(void *ud, const void *data)
{
    (void)data;
    ((struct heap_run *)ud)->released++;
}

static void heap_start(struct heap_run *h, size_t max_output)
{
    memset(h, 0, sizeof *h);
    test_alloc_init(&h->t, 0, true);
    struct wsg_conn_config cfg = cfg_server();
    cfg.max_output = max_output;
    cfg.alloc = &h->t.a;
    cr_assert_eq(wsg_conn_new(&cfg, &h->c), WSG_OK);
}

/* One masked 125-byte ping in, an automatic pong queued (or not, past the
 * control budget). */
static void heap_ping(struct heap_run *h)
{
    static uint8_t frame[2 + 4 + 125];
    frame[0] = FIN | WSG_OP_PING;
    frame[1] = 0x80u | 125u;
    struct wsg_event ev;
    size_t used;
    cr_assert_eq(wsg_conn_feed(h->c, frame, sizeof frame, 0, &used, &ev),
                 WSG_OK);
    cr_assert_eq(ev.type, WSG_EV_PING);
    h->pings++;
}

/* Drains everything, checks every frame came out whole and every borrowed
 * payload was released, and that the heap went back to the connection and
 * at most one spare chunk. */
static void heap_finish(struct heap_run *h, size_t frames)
{
    struct bb out = {0};
    drain(h->c, &out, 1 << 16);
    size_t pos = 0, n = 0;
    while (pos < out.len) {
        cr_assert(pos + 2 <= out.len);
        size_t len = out.p[pos + 1] & 0x7Fu;
        cr_assert(len < 126);
        pos += 2 + len;
        n++;
    }
    cr_assert_eq(pos, out.len, "a frame was cut");
    cr_assert_eq(n, frames);
    cr_assert_eq(h->released, h->borrowed);
    cr_assert_leq(h->t.bytes, sizeof(struct wsg_conn) + WSG__OUTQ_SLACK);
    wsg_conn_free(h->c);
    cr_assert_eq(h->t.bytes, 0);
    cr_assert_eq(h->t.live, 0);
    bb_free(&out);
}

static void borrowed_until_again(size_t max_output, size_t plen)
{
    static const uint8_t payload[64];
    struct heap_run h;
    heap_start(&h, max_output);
    int rc;
    for (size_t guard = 0; guard < (size_t)1 << 24; guard++) {
        rc = wsg_conn_send_borrowed(h.c, WSG_OP_BINARY, payload, plen, true,
                                    true, count_release, &h);
        if (rc != WSG_OK)
            break;
        h.borrowed++;
    }
    cr_assert_eq(rc, WSG_ERR_AGAIN);
    cr_assert_leq(h.t.peak, max_output + HEAP_SLACK,
                  "%zu-byte borrowed frames: heap %zu > budget %zu + %zu",
                  plen, h.t.peak, max_output, (size_t)HEAP_SLACK);
    /* The budget is used, not refused early. */
    cr_assert_geq(h.t.peak, max_output / 2);
    heap_finish(&h, h.borrowed);
}

Test(output, H12_T12_borrowed_empty_frames_heap_bounded)
{
    borrowed_until_again((size_t)4 << 20, 0);
    borrowed_until_again(65536, 0);
    borrowed_until_again(100, 0);
}

Test(output, H12_T12_borrowed_small_frames_heap_bounded)
{
    borrowed_until_again((size_t)4 << 20, 10);
    borrowed_until_again(65536, 10);
    borrowed_until_again(1000, 10);
}

/* Borrowed, copied and automatic pongs alternate, so no owned chunk is
 * ever the tail when the next copy is queued. */
Test(output, H12_T12_mixed_frames_and_pongs_heap_bounded)
{
    static const size_t budgets[] = {(size_t)4 << 20, 65536, 1000};
    for (size_t k = 0; k < sizeof budgets / sizeof budgets[0]; k++) {
        size_t max_output = budgets[k];
        struct heap_run h;
        heap_start(&h, max_output);
        bool again_b = false, again_c = false;
        for (size_t guard = 0; guard < (size_t)1 << 22; guard++) {
            int rc = wsg_conn_send_borrowed(h.c, WSG_OP_BINARY, "0123456789",
                                            10, true, true, count_release, &h);
            cr_assert(rc == WSG_OK || rc == WSG_ERR_AGAIN);
            h.borrowed += rc == WSG_OK;
            again_b |= rc == WSG_ERR_AGAIN;
            rc = wsg_conn_send(h.c, WSG_OP_BINARY, "abcdefghij", 10);
            cr_assert(rc == WSG_OK || rc == WSG_ERR_AGAIN);
            h.copied += rc == WSG_OK;
            again_c |= rc == WSG_ERR_AGAIN;
            heap_ping(&h);
            if (again_b && again_c)
                break;
        }
        cr_assert(again_b && again_c, "never refused");
        /* Keep pinging: pongs stop at the control budget. */
        size_t before = wsg_conn_output_pending(h.c);
        for (int i = 0; i < 2000; i++)
            heap_ping(&h);
        cr_assert_leq(wsg_conn_output_pending(h.c),
                      before + WSG__CONTROL_SLACK + WSG__OUTQ_SLACK);
        cr_assert_leq(h.t.peak, max_output + WSG__CONTROL_SLACK + HEAP_SLACK,
                      "budget %zu: heap %zu", max_output, h.t.peak);
        cr_assert_geq(h.t.peak, max_output / 2);
        struct wsg_conn_stats st;
        wsg_conn_get_stats(h.c, &st);
        heap_finish(&h, (size_t)st.frames_out);
    }
}
