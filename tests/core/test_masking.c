/* RFC 6455 section 5.3 (masking, T10): the mask itself, the masking rules
 * per role, a fresh key per client frame, and what happens when the random
 * source fails (core.h return codes). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "helpers.h"

/* ---- 5.3 masking ------------------------------------------------------------------- */

Test(rfc6455_5_3_masking, mask_matches_bytewise_reference)
{
    uint8_t base[300], a[300], b[300];
    const uint8_t key[4] = {0xA1, 0x02, 0xF3, 0x44};
    for (size_t i = 0; i < sizeof base; i++)
        base[i] = (uint8_t)(i * 31 + 7);
    for (size_t start = 0; start < 9; start++) {
        for (size_t len = 0; len + start <= 290; len += (len < 70 ? 1 : 37)) {
            for (size_t off = 0; off < 4; off++) {
                memcpy(a, base, sizeof a);
                memcpy(b, base, sizeof b);
                size_t next = wsg_mask(a + start, len, key, off);
                for (size_t i = 0; i < len; i++)
                    b[start + i] ^= key[(off + i) & 3];
                cr_assert(memcmp(a, b, sizeof a) == 0,
                          "start %zu len %zu off %zu", start, len, off);
                cr_assert_eq(next, (off + len) & 3);
            }
        }
    }
}

Test(rfc6455_5_3_masking, mask_in_pieces_equals_whole)
{
    uint8_t a[100], b[100];
    const uint8_t key[4] = {1, 2, 3, 4};
    for (int i = 0; i < 100; i++)
        a[i] = b[i] = (uint8_t)i;
    wsg_mask(a, 100, key, 0);
    size_t off = wsg_mask(b, 3, key, 0);
    off = wsg_mask(b + 3, 45, key, off);
    off = wsg_mask(b + 48, 52, key, off);
    cr_assert(memcmp(a, b, 100) == 0);
    cr_assert_eq(off, 0);
}

/* T10: an unmasked client frame fails with 1002 and its payload is never
 * delivered. */
Test(rfc6455_5_3_masking, T10_server_refuses_unmasked_frames)
{
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_TEXT, true, "fine", 4);
    bb_frame(&in, FIN | WSG_OP_TEXT, false, "secret", 6);
    struct wsg_conn_config cfg = cfg_server();
    for (int mode = 0; mode < 2; mode++) {
        cfg.delivery = mode ? WSG_DELIVER_STREAM : WSG_DELIVER_MESSAGE;
        struct run r;
        run_all(&cfg, in.p, in.len, &r);
        cr_assert_eq(r.n, 2);
        cr_assert_eq(r.ev[0].len, 4);
        expect_fail(&r, 1002, WSG_ERR_MASKING, "unmasked client frame");
        for (size_t i = 0; i < r.n; i++)
            cr_assert(r.ev[i].len < 6 ||
                      memmem(r.ev[i].data, r.ev[i].len, "secret", 6) == NULL);
        run_free(&r);
    }
    /* Unmasked control frames too. */
    bb_free(&in);
    bb_frame(&in, FIN | WSG_OP_PING, false, "", 0);
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    expect_fail(&r, 1002, WSG_ERR_MASKING, NULL);
    cr_assert_eq(r.n, 1);
    run_free(&r);
    bb_free(&in);
}

Test(rfc6455_5_3_masking, T10_client_refuses_masked_frames)
{
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_BINARY, true, "abc", 3);
    struct wsg_conn_config cfg = cfg_client();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    expect_fail(&r, 1002, WSG_ERR_MASKING, "masked server frame");
    cr_assert_eq(r.n, 1);
    /* The client's own Close is masked. */
    cr_assert_eq(out_close_code(&r.out, true), 1002);
    run_free(&r);
    bb_free(&in);
}

struct keylog {
    uint64_t seed;
    int calls;
    int fail_on;
};

static int logging_random(void *ud, uint8_t *buf, size_t len)
{
    struct keylog *k = ud;
    k->calls++;
    if (k->fail_on && k->calls == k->fail_on)
        return -1;
    return test_random(&k->seed, buf, len);
}

/* T10: the client masks every frame with a fresh key from the source. */
Test(rfc6455_5_3_masking, T10_client_fresh_key_per_frame)
{
    struct keylog kl = {12345, 0, 0};
    struct wsg_conn_config cfg = cfg_client();
    cfg.random.fill = logging_random;
    cfg.random.ud = &kl;
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    const char *msgs[] = {"first", "second message", "3", ""};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, msgs[i], strlen(msgs[i])),
                     WSG_OK);
    cr_assert_eq(wsg_conn_ping(c, "p", 1), WSG_OK);
    cr_assert_eq(kl.calls, 5);

    struct bb out = {0};
    struct wsg_iovec iov[8];
    size_t n = wsg_conn_output(c, iov, 8);
    for (size_t i = 0; i < n; i++)
        bb_add(&out, iov[i].base, iov[i].len);
    wsg_conn_output_consume(c, out.len);

    /* Replay the same source to know the expected keys. */
    uint64_t seed = 12345;
    size_t pos = 0;
    uint8_t prev[4] = {0};
    for (int i = 0; i < 5; i++) {
        uint8_t want[4];
        test_random(&seed, want, 4);
        size_t len = out.p[pos + 1] & 0x7F;
        cr_assert(out.p[pos + 1] & 0x80, "frame %d not masked", i);
        cr_assert(memcmp(out.p + pos + 2, want, 4) == 0, "frame %d key", i);
        cr_assert(i == 0 || memcmp(prev, want, 4) != 0, "key reused");
        memcpy(prev, want, 4);
        const char *expect = i < 4 ? msgs[i] : "p";
        cr_assert_eq(len, strlen(expect));
        for (size_t j = 0; j < len; j++)
            cr_assert_eq(out.p[pos + 6 + j] ^ want[j & 3], (uint8_t)expect[j]);
        pos += 6 + len;
    }
    cr_assert_eq(pos, out.len);
    bb_free(&out);
    wsg_conn_free(c);
}

Test(rfc6455_5_3_masking, random_failure)
{
    struct keylog kl = {1, 0, 2};
    struct wsg_conn_config cfg = cfg_client();
    cfg.random.fill = logging_random;
    cfg.random.ud = &kl;
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "a", 1), WSG_OK);
    size_t before = wsg_conn_output_pending(c);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "b", 1), WSG_ERR_RANDOM);
    cr_assert_eq(wsg_conn_output_pending(c), before, "nothing queued");
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "c", 1), WSG_OK);
    /* An automatic pong that cannot be masked fails the connection. */
    kl.fail_on = kl.calls + 1;
    uint8_t ping[] = {0x89, 0x00};
    struct wsg_event ev;
    size_t used;
    cr_assert_eq(wsg_conn_feed(c, ping, 2, 0, &used, &ev), WSG_ERR_RANDOM);
    cr_assert_eq(ev.type, WSG_EV_FAIL);
    cr_assert_eq(ev.err, WSG_ERR_RANDOM);
    wsg_conn_free(c);
}

/* A source that works for `ok` calls, then fails: once (`once`) or for
 * good. */
struct flaky {
    uint64_t seed;
    int calls, ok;
    bool once;
};

static int flaky_random(void *ud, uint8_t *buf, size_t len)
{
    struct flaky *f = ud;
    f->calls++;
    if (f->calls > f->ok && (!f->once || f->calls == f->ok + 1))
        return -1;
    return test_random(&f->seed, buf, len);
}

static struct wsg_conn *flaky_client(struct flaky *f)
{
    struct wsg_conn_config cfg = cfg_client();
    cfg.random.fill = flaky_random;
    cfg.random.ud = f;
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    return c;
}

/* Every frame in the client's output is masked (5.1, T10). */
static size_t assert_all_masked(struct wsg_conn *c)
{
    struct bb out = {0};
    for (int guard = 0; guard < 100; guard++) {
        struct wsg_iovec iov[8];
        size_t n = wsg_conn_output(c, iov, 8), tot = 0;
        if (!n)
            break;
        for (size_t i = 0; i < n; i++) {
            bb_add(&out, iov[i].base, iov[i].len);
            tot += iov[i].len;
        }
        wsg_conn_output_consume(c, tot);
    }
    size_t pos = 0, frames = 0;
    while (pos < out.len) {
        cr_assert(pos + 6 <= out.len);
        cr_assert(out.p[pos + 1] & 0x80u, "unmasked frame from a client");
        size_t len = out.p[pos + 1] & 0x7Fu;
        cr_assert(len < 126);
        pos += 6 + len;
        frames++;
    }
    cr_assert_eq(pos, out.len);
    bb_free(&out);
    return frames;
}

/* core.h: feed returns WSG_ERR_RANDOM when the automatic Pong or the Close
 * echo cannot be masked; FAIL says 1011; nothing unmasked goes out and,
 * with the source dead, no Close is queued at all. */
Test(rfc6455_5_3_masking, random_failure_in_feed_is_documented)
{
    static const uint8_t ping[] = {0x89, 0x02, 'h', 'i'};
    static const uint8_t close[] = {0x88, 0x02, 0x03, 0xE8};
    const uint8_t *in[] = {ping, close};
    for (int k = 0; k < 2; k++) {
        for (int once = 0; once < 2; once++) {
            struct flaky f = {9, 0, 0, once != 0};
            struct wsg_conn *c = flaky_client(&f);
            uint8_t buf[4];
            memcpy(buf, in[k], 4);
            struct wsg_event ev;
            size_t used;
            cr_assert_eq(wsg_conn_feed(c, buf, 4, 0, &used, &ev),
                         WSG_ERR_RANDOM, "input %d", k);
            cr_assert_eq(used, 4);
            cr_assert_eq(ev.type, WSG_EV_FAIL);
            cr_assert_eq(ev.err, WSG_ERR_RANDOM);
            cr_assert_eq(ev.close_code, 1011);
            size_t frames = assert_all_masked(c);
            if (once) {
                /* The next key worked: a masked Close 1011 went out. */
                cr_assert_eq(frames, 1);
                cr_assert_eq(wsg_conn_close_sent(c), 1011);
            } else {
                cr_assert_eq(frames, 0, "nothing could be masked");
                cr_assert_eq(wsg_conn_close_sent(c), 0);
            }
            cr_assert(wsg_conn_should_close_transport(c));
            cr_assert_eq(wsg_conn_feed(c, buf, 4, 0, &used, &ev),
                         WSG_ERR_CLOSED);
            wsg_conn_free(c);
        }
    }
}

/* core.h: wsg_conn_close returns WSG_ERR_RANDOM, queues nothing, and can
 * be retried. */
Test(rfc6455_5_3_masking, random_failure_in_close)
{
    struct flaky f = {3, 0, 0, true};
    struct wsg_conn *c = flaky_client(&f);
    cr_assert_eq(wsg_conn_close(c, 1000, "bye", 3, 0), WSG_ERR_RANDOM);
    cr_assert_eq(wsg_conn_output_pending(c), 0);
    cr_assert_eq(wsg_conn_close_sent(c), 0);
    cr_assert_eq(wsg_conn_state(c), WSG_STATE_OPEN);
    cr_assert_eq(wsg_conn_next_deadline(c), UINT64_MAX, "no deadline armed");
    cr_assert_eq(wsg_conn_close(c, 1000, "bye", 3, 0), WSG_OK);
    cr_assert_eq(wsg_conn_close_sent(c), 1000);
    cr_assert_eq(assert_all_masked(c), 1);
    wsg_conn_free(c);
}

Test(rfc6455_5_3_masking, borrowed_send_is_server_only)
{
    struct wsg_conn_config cfg = cfg_client();
    uint64_t seed = 5;
    cfg.random.fill = test_random;
    cfg.random.ud = &seed;
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    cr_assert_eq(wsg_conn_send_borrowed(c, WSG_OP_BINARY, "x", 1, true, true,
                                        NULL, NULL),
                 WSG_ERR_UNSUPPORTED);
    wsg_conn_free(c);
}
