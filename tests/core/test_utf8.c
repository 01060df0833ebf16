/* UTF-8 (RFC 3629) validation, alone and in the connection: incremental,
 * fail fast (shared/THREATS.md T11). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/utf8.h"
#include "helpers.h"

/* A slow, obviously-correct reference: decode code points one at a time.
 * Returns 1 valid, 0 invalid, 2 valid so far but ends mid code point. */
static int ref_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        uint32_t cp;
        size_t need;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            cp = b & 0x1F;
            need = 1;
        } else if ((b & 0xF0) == 0xE0) {
            cp = b & 0x0F;
            need = 2;
        } else if ((b & 0xF8) == 0xF0) {
            cp = b & 0x07;
            need = 3;
        } else {
            return 0;
        }
        size_t j;
        for (j = 1; j <= need && i + j < n; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if (j <= need) {
            /* Truncated: valid so far only if some completion is valid;
             * check the prefix against the tightest ranges. */
            uint8_t b1 = i + 1 < n ? p[i + 1] : 0x80;
            if (b == 0xC0 || b == 0xC1 || b > 0xF4)
                return 0;
            if (i + 1 < n) {
                if (b == 0xE0 && b1 < 0xA0) return 0;
                if (b == 0xED && b1 > 0x9F) return 0;
                if (b == 0xF0 && b1 < 0x90) return 0;
                if (b == 0xF4 && b1 > 0x8F) return 0;
            }
            return 2;
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

Test(utf8, valid_samples)
{
    static const char *ok[] = {
        "", "plain ascii", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80",
        "\xed\x9f\xbf",     /* U+D7FF */
        "\xee\x80\x80",     /* U+E000 */
        "\xef\xbf\xbf",     /* U+FFFF */
        "\xf0\x90\x80\x80", /* U+10000 */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF */
        "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
        cr_assert(wsg_utf8_valid((const uint8_t *)ok[k], strlen(ok[k])), "%zu", k);
}

/* T11: overlongs, surrogates, beyond U+10FFFF, bad continuations. */
Test(utf8, T11_invalid_samples)
{
    static const char *bad[] = {
        "\xc0\x80", "\xc1\xbf",                    /* overlong 2-byte */
        "\xe0\x80\x80", "\xe0\x9f\xbf",            /* overlong 3-byte */
        "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",    /* overlong 4-byte */
        "\xed\xa0\x80", "\xed\xbf\xbf",            /* surrogates */
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xfe",
        "\x80", "a\xbf", "\xc2\x41", "\xe1\x80\x41", "\xf1\x80\x80\xc0",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        cr_assert(!wsg_utf8_valid((const uint8_t *)bad[k], strlen(bad[k])),
                  "%zu", k);
}

/* Fail fast: the byte that makes a sequence impossible is refused at once;
 * a sequence that can still complete is not. */
Test(utf8, T11_fail_fast_and_incremental)
{
    struct wsg_utf8 u = WSG_UTF8_INIT;
    cr_assert(wsg_utf8_feed(&u, (const uint8_t *)"\xe0", 1));
    cr_assert(!wsg_utf8_complete(&u));
    cr_assert(!wsg_utf8_feed(&u, (const uint8_t *)"\x80", 1)); /* overlong */
    cr_assert(!wsg_utf8_feed(&u, (const uint8_t *)"a", 1), "sticky");

    struct wsg_utf8 v = WSG_UTF8_INIT;
    cr_assert(wsg_utf8_feed(&v, (const uint8_t *)"\xf0\x9f", 2));
    cr_assert(wsg_utf8_feed(&v, (const uint8_t *)"\x98", 1));
    cr_assert(!wsg_utf8_complete(&v));
    cr_assert(wsg_utf8_feed(&v, (const uint8_t *)"\x80", 1));
    cr_assert(wsg_utf8_complete(&v));
    cr_assert(!wsg_utf8_valid((const uint8_t *)"\xf0\x9f\x98", 3));
    struct wsg_utf8 w = WSG_UTF8_INIT;
    cr_assert(!wsg_utf8_feed(&w, (const uint8_t *)"\xed\xa0", 2));
}

/* Random strings biased towards tricky bytes, split at random points,
 * against the reference; and the fused unmask+validate against mask then
 * validate. */
Test(utf8, random_against_reference)
{
    uint64_t seed = 42;
    static const uint8_t pool[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                   0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
                                   0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1,
                                   0xF3, 0xF4, 0xF5, 0xFF};
    uint8_t buf[80], masked[80];
    const uint8_t key[4] = {0x12, 0x80, 0xF0, 0x07};
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t r[8];
        test_random(&seed, r, 8);
        size_t n = r[0] % 80;
        test_random(&seed, buf, n);
        for (size_t i = 0; i < n; i++) {
            if (r[1] & 1)
                buf[i] = pool[buf[i] % sizeof pool];
            else if (buf[i] & 0x80 && (buf[i] & 7))
                buf[i] &= 0x7F; /* mostly ASCII, some pool bytes */
        }
        int want = ref_utf8(buf, n);
        cr_assert_eq(wsg_utf8_valid(buf, n), want == 1, "iter %d", iter);
        size_t cut = n ? r[2] % (n + 1) : 0;
        struct wsg_utf8 u = WSG_UTF8_INIT;
        bool ok = wsg_utf8_feed(&u, buf, cut) && wsg_utf8_feed(&u, buf + cut, n - cut);
        cr_assert_eq(ok, want != 0, "iter %d split", iter);
        if (ok)
            cr_assert_eq(wsg_utf8_complete(&u), want == 1);
        /* Fused path, from a key offset, split in two. */
        memcpy(masked, buf, n);
        size_t koff = r[3] & 3;
        for (size_t i = 0; i < n; i++)
            masked[i] ^= key[(koff + i) & 3];
        uint32_t s = wsg__unmask_utf8(masked, cut, key, koff, WSG__UTF8_ACCEPT);
        if (s != WSG__UTF8_REJECT)
            s = wsg__unmask_utf8(masked + cut, n - cut, key, (koff + cut) & 3, s);
        if (want != 0)
            cr_assert(memcmp(masked, buf, n) == 0, "iter %d unmask", iter);
        cr_assert_eq(s == WSG__UTF8_REJECT, want == 0, "iter %d fused", iter);
        if (want)
            cr_assert_eq(s == WSG__UTF8_ACCEPT, want == 1);
    }
}

Test(utf8, long_ascii_then_bad_byte_at_every_position)
{
    uint8_t buf[200];
    for (size_t pos = 0; pos < sizeof buf; pos++) {
        memset(buf, 'a', sizeof buf);
        buf[pos] = 0xC0;
        cr_assert(!wsg_utf8_valid(buf, sizeof buf), "pos %zu", pos);
        buf[pos] = 0xC3;
        if (pos + 1 < sizeof buf)
            buf[pos + 1] = 0xA9;
        cr_assert_eq(wsg_utf8_valid(buf, sizeof buf), pos + 1 < sizeof buf);
    }
}

/* ---- in the connection --------------------------------------------------------- */

static void expect_1007(const uint8_t *in, size_t len, enum wsg_delivery d,
                        const char *reason)
{
    struct wsg_conn_config cfg = cfg_server();
    cfg.delivery = d;
    struct run r;
    run_all(&cfg, in, len, &r);
    expect_fail(&r, 1007, WSG_ERR_INVALID_UTF8, reason);
    cr_assert_eq(out_close_code(&r.out, false), 1007);
    run_free(&r);
}

/* T11: an invalid byte in the first fragment fails at once, even though
 * the rest of the message never comes. */
Test(utf8, T11_fail_fast_first_fragment)
{
    struct bb in = {0};
    bb_frame(&in, WSG_OP_TEXT, true, "ok \xc0\xaf more", 10);
    expect_1007(in.p, in.len, WSG_DELIVER_MESSAGE, "invalid UTF-8 in text");
    expect_1007(in.p, in.len, WSG_DELIVER_STREAM, "invalid UTF-8 in text");
    bb_free(&in);
}

/* T11: mid-frame: the frame's tail never arrives. */
Test(utf8, T11_fail_fast_mid_frame)
{
    uint8_t pl[100];
    memset(pl, 'a', sizeof pl);
    pl[10] = 0xED;
    pl[11] = 0xA0; /* surrogate */
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_TEXT, true, pl, sizeof pl);
    size_t cut = in.len - 80; /* header + 20 bytes of payload */
    expect_1007(in.p, cut, WSG_DELIVER_MESSAGE, "invalid UTF-8 in text");
    expect_1007(in.p, cut, WSG_DELIVER_STREAM, "invalid UTF-8 in text");
    bb_free(&in);
}

/* Code points split across fragments (and, through run_all, reads). */
Test(utf8, T11_split_code_points_across_fragments)
{
    const char *s = "\xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9";
    size_t n = strlen(s);
    for (size_t a = 1; a < n; a++) {
        struct bb in = {0};
        bb_frame(&in, WSG_OP_TEXT, true, s, a);
        bb_frame(&in, FIN | WSG_OP_CONTINUATION, true, s + a, n - a);
        for (int d = 0; d < 2; d++) {
            struct wsg_conn_config cfg = cfg_server();
            cfg.delivery = d ? WSG_DELIVER_STREAM : WSG_DELIVER_MESSAGE;
            struct run r;
            run_all(&cfg, in.p, in.len, &r);
            cr_assert_eq(r.rc, WSG_OK, "split at %zu", a);
            size_t tot = 0;
            for (size_t i = 0; i < r.n; i++)
                tot += r.ev[i].len;
            cr_assert_eq(tot, n);
            run_free(&r);
        }
        bb_free(&in);
    }
}

/* T11: incomplete at the end of the final fragment. */
Test(utf8, T11_incomplete_at_end)
{
    struct bb in = {0};
    bb_frame(&in, WSG_OP_TEXT, true, "abc\xe2", 4);
    bb_frame(&in, FIN | WSG_OP_CONTINUATION, true, "\x82", 1);
    expect_1007(in.p, in.len, WSG_DELIVER_MESSAGE, "incomplete UTF-8");
    expect_1007(in.p, in.len, WSG_DELIVER_STREAM, "incomplete UTF-8");
    bb_free(&in);
    bb_frame(&in, FIN | WSG_OP_TEXT, true, "\xf0\x9f", 2);
    expect_1007(in.p, in.len, WSG_DELIVER_MESSAGE, "incomplete UTF-8");
    bb_free(&in);
    /* An empty final continuation after an incomplete sequence. */
    bb_frame(&in, WSG_OP_TEXT, true, "\xc3", 1);
    bb_frame(&in, FIN | WSG_OP_CONTINUATION, true, "", 0);
    expect_1007(in.p, in.len, WSG_DELIVER_STREAM, "incomplete UTF-8");
    expect_1007(in.p, in.len, WSG_DELIVER_MESSAGE, "incomplete UTF-8");
    bb_free(&in);
}

Test(utf8, T11_overlong_and_surrogate_in_text)
{
    static const char *bad[] = {"\xc0\x80", "\xe0\x80\xaf", "\xed\xb0\x80",
                                "\xf4\x90\x80\x80"};
    for (int k = 0; k < 4; k++) {
        struct bb in = {0};
        bb_frame(&in, FIN | WSG_OP_TEXT, true, bad[k], strlen(bad[k]));
        expect_1007(in.p, in.len, WSG_DELIVER_MESSAGE, NULL);
        bb_free(&in);
    }
}

Test(utf8, binary_is_not_checked)
{
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_BINARY, true, "\xff\xc0\x80", 3);
    struct wsg_conn_config cfg = cfg_server();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.ev[0].type, WSG_EV_MESSAGE);
    run_free(&r);
    bb_free(&in);
}

Test(utf8, client_role_unmasked_text_checked)
{
    struct bb in = {0};
    bb_frame(&in, FIN | WSG_OP_TEXT, false, "\xe2\x82\xac ok", 6);
    bb_frame(&in, FIN | WSG_OP_TEXT, false, "x\xff", 2);
    struct wsg_conn_config cfg = cfg_client();
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.ev[0].type, WSG_EV_MESSAGE);
    expect_fail(&r, 1007, WSG_ERR_INVALID_UTF8, NULL);
    cr_assert_eq(out_close_code(&r.out, true), 1007);
    run_free(&r);
    bb_free(&in);
}

/* Sending text: whole messages and pieces are checked. */
Test(utf8, send_side_checks)
{
    struct wsg_conn_config cfg = cfg_server();
    struct wsg_conn *c;
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "\xc3", 1), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_send(c, WSG_OP_TEXT, "\xed\xa0\x80", 3),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_output_pending(c), 0);
    cr_assert_eq(wsg_conn_send_fragment(c, WSG_OP_TEXT, "\xe2\x82", 2, true, false),
                 WSG_OK);
    /* A bad piece is refused and the message can go on. */
    cr_assert_eq(wsg_conn_send_fragment(c, WSG_OP_TEXT, "\x41", 1, false, false),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_conn_send_fragment(c, WSG_OP_TEXT, "\xac", 1, false, true),
                 WSG_OK);
    cr_assert_eq(wsg_conn_send_fragment(c, WSG_OP_TEXT, "\xe2", 1, true, false),
                 WSG_OK);
    cr_assert_eq(wsg_conn_send_fragment(c, WSG_OP_TEXT, "", 0, false, true),
                 WSG_ERR_INVALID_ARG, "fin on an incomplete code point");
    cr_assert_eq(wsg_conn_send(c, WSG_OP_BINARY, "\xff", 1), WSG_ERR_STATE);
    wsg_conn_free(c);
}

/* Long mixed strings (ASCII runs, valid code points of every length, now
 * and then a bad byte), split at every offset across two feeds, through
 * the incremental, one-shot and fused paths, against the reference: the
 * word and block fast paths must agree with it wherever a block, word or
 * code point boundary falls. */
static size_t gen_mixed(uint64_t *seed, uint8_t *p, size_t cap, int density)
{
    static const char *const cps[] = {
        "\xc2\x80", "\xdf\xbf", "\xc3\xa9", "\xe0\xa0\x80", "\xe2\x82\xac",
        "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
        "\xf0\x9d\x84\x9e", "\xf3\xbf\xbf\xbf", "\xf4\x8f\xbf\xbf"};
    static const uint8_t bad[] = {0x80, 0xBF, 0xC0, 0xC1, 0xE0, 0xED, 0xF0,
                                  0xF4, 0xF5, 0xFF, 0xA0, 0x90};
    size_t n = 0;
    while (n + 4 <= cap) {
        uint8_t r[2];
        test_random(seed, r, 2);
        if (r[0] < 0xFE && r[0] % 16 < density) {
            const char *cp = cps[r[1] % 12];
            memcpy(p + n, cp, strlen(cp));
            n += strlen(cp);
        } else if (r[0] >= 0xFE) {
            p[n++] = bad[r[1] % 12];
        } else {
            p[n++] = (uint8_t)(' ' + r[1] % 95);
        }
    }
    return n;
}

Test(utf8, long_mixed_split_at_every_offset)
{
    uint64_t seed = 7;
    static uint8_t buf[300], masked[300];
    const uint8_t key[4] = {0xA5, 0x3C, 0x80, 0x7F};
    int seen[3] = {0, 0, 0};
    for (int iter = 0; iter < 300; iter++) {
        size_t n = gen_mixed(&seed, buf, sizeof buf, iter % 17);
        if (iter % 5 == 4) /* truncate: may end mid code point */
            n -= (size_t)(iter % 3);
        int want = ref_utf8(buf, n);
        seen[want]++;
        cr_assert_eq(wsg_utf8_valid(buf, n), want == 1, "iter %d", iter);
        for (size_t cut = 0; cut <= n; cut++) {
            struct wsg_utf8 u = WSG_UTF8_INIT;
            bool ok = wsg_utf8_feed(&u, buf, cut);
            cr_assert_eq(ok, ref_utf8(buf, cut) != 0, "iter %d cut %zu", iter, cut);
            ok = ok && wsg_utf8_feed(&u, buf + cut, n - cut);
            cr_assert_eq(ok, want != 0, "iter %d cut %zu", iter, cut);
            cr_assert_eq(wsg_utf8_complete(&u), want == 1, "iter %d cut %zu",
                         iter, cut);
            size_t koff = (size_t)iter & 3u;
            for (size_t i = 0; i < n; i++)
                masked[i] = buf[i] ^ key[(koff + i) & 3u];
            uint32_t s = wsg__unmask_utf8(masked, cut, key, koff, WSG__UTF8_ACCEPT);
            if (s != WSG__UTF8_REJECT)
                s = wsg__unmask_utf8(masked + cut, n - cut, key,
                                     (koff + cut) & 3u, s);
            cr_assert_eq(s == WSG__UTF8_REJECT, want == 0, "iter %d cut %zu fused",
                         iter, cut);
            cr_assert_eq(s == WSG__UTF8_ACCEPT, want == 1, "iter %d cut %zu fused",
                         iter, cut);
            if (want != 0)
                cr_assert(memcmp(masked, buf, n) == 0, "iter %d unmask", iter);
        }
    }
    /* The generator really covers all three outcomes. */
    cr_assert(seen[0] > 20 && seen[1] > 20 && seen[2] > 5, "%d %d %d",
              seen[0], seen[1], seen[2]);
}

/* Fail fast inside long text: the invalid byte is refused by the feed
 * that contains it, wherever it sits relative to words and blocks. */
Test(utf8, fail_fast_at_every_position_in_multibyte_text)
{
    static const char *const bad2[] = {"\xe0\x80", "\xed\xa0", "\xf4\x90",
                                       "\xf0\x8f", "\xc0", "\xc1", "\xf5",
                                       "\xc3\x41"};
    uint8_t buf[160];
    for (size_t k = 0; k < sizeof bad2 / sizeof bad2[0]; k++) {
        size_t bl = strlen(bad2[k]);
        for (size_t pos = 0; pos + bl <= 96; pos++) {
            /* Valid 2-byte text, then the bad sequence at `pos` (after an
             * ASCII byte if `pos` would split a code point). */
            for (size_t i = 0; i + 1 < sizeof buf; i += 2)
                memcpy(buf + i, "\xd0\x96", 2);
            if (pos & 1)
                buf[pos - 1] = 'x';
            memcpy(buf + pos, bad2[k], bl);
            struct wsg_utf8 u = WSG_UTF8_INIT;
            cr_assert(wsg_utf8_feed(&u, buf, pos), "k %zu pos %zu", k, pos);
            cr_assert(!wsg_utf8_feed(&u, buf + pos, bl), "k %zu pos %zu", k, pos);
            cr_assert(!wsg_utf8_feed(&u, (const uint8_t *)"a", 1), "sticky");
            /* In one feed with the text before it (no waiting for more). */
            struct wsg_utf8 v = WSG_UTF8_INIT;
            cr_assert(!wsg_utf8_feed(&v, buf, pos + bl), "k %zu pos %zu", k, pos);
        }
    }
}
