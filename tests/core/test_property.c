/* Random frame sequences, mostly valid with occasional violations, in both
 * roles and delivery modes with small limits: the whole, byte-at-a-time and
 * guard-page runs must agree (run_all), and the outcome must be one of the
 * documented ones. */
#include <string.h>

#include <criterion/criterion.h>

#include "helpers.h"

static uint32_t rnd(uint64_t *s, uint32_t below)
{
    uint8_t b[4];
    test_random(s, b, 4);
    uint32_t v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                 (uint32_t)b[3] << 24;
    return below ? v % below : v;
}

static void payload(uint64_t *s, uint8_t *p, size_t n)
{
    static const char *pieces[] = {"a", "\xc3\xa9", "\xe2\x82\xac",
                                   "\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xff"};
    size_t i = 0;
    while (i < n) {
        uint32_t k = rnd(s, 100);
        const char *pc = pieces[k < 60 ? 0 : k < 75 ? 1 : k < 87 ? 2 : k < 97 ? 3
                                : k < 99 ? 4 : 5];
        size_t l = strlen(pc);
        if (l > n - i)
            l = n - i; /* may cut a code point: also a test */
        memcpy(p + i, pc, l);
        i += l;
    }
}

/* How often each outcome came up: the generator must reach them all. */
struct tally {
    int ok, protocol, masking, utf8, too_big, messages, closes;
};

static void one_sequence(uint64_t *s, bool client, enum wsg_delivery d,
                         struct tally *t)
{
    struct bb in = {0};
    bool in_msg = false;
    int frames = 1 + (int)rnd(s, 12);
    for (int f = 0; f < frames; f++) {
        uint8_t p[300];
        size_t n = rnd(s, 4) ? rnd(s, 40) : rnd(s, 300);
        payload(s, p, n);
        uint32_t kind = rnd(s, 100);
        uint8_t b0;
        if (kind < 15) {
            b0 = (uint8_t)(FIN | (WSG_OP_PING + rnd(s, 2)));
            if (n > 125)
                n = 125;
        } else if (kind < 18) {
            uint8_t cp[2] = {0x03, 0xE8};
            bb_frame(&in, FIN | WSG_OP_CLOSE, !client, cp, 2);
            continue;
        } else if (kind < 20) {
            b0 = (uint8_t)(rnd(s, 256)); /* anything */
        } else {
            bool fin = rnd(s, 3) == 0;
            uint8_t op = in_msg ? WSG_OP_CONTINUATION
                                : (uint8_t)(rnd(s, 2) ? WSG_OP_TEXT : WSG_OP_BINARY);
            if (rnd(s, 40) == 0)
                op = (uint8_t)rnd(s, 3); /* maybe out of order */
            b0 = (uint8_t)((fin ? FIN : 0) | op);
            in_msg = !fin;
        }
        bool masked = !client;
        if (rnd(s, 60) == 0)
            masked = !masked;
        bb_frame(&in, b0, masked, p, n);
    }
    if (in.len && rnd(s, 4) == 0)
        in.len -= rnd(s, (uint32_t)in.len); /* truncated */

    struct wsg_conn_config cfg = client ? cfg_client() : cfg_server();
    cfg.delivery = d;
    cfg.max_frame = 200;
    cfg.max_message = 400;
    cfg.max_fragments = 6;
    cfg.max_output = 256;
    struct run r;
    run_all(&cfg, in.p, in.len, &r);
    static const int ok_rc[] = {WSG_OK, WSG_ERR_PROTOCOL, WSG_ERR_MASKING,
                                WSG_ERR_INVALID_UTF8, WSG_ERR_TOO_BIG};
    bool known = false;
    for (size_t i = 0; i < 5; i++)
        known |= r.rc == ok_rc[i];
    cr_assert(known, "status %s", wsg_err_name(r.rc));
    if (r.rc != WSG_OK) {
        const struct rec *e = run_last(&r);
        cr_assert_eq(e->type, WSG_EV_FAIL);
        cr_assert_eq(e->close_code, wsg_close_code_for(r.rc));
        cr_assert(wsg_utf8_valid((const uint8_t *)e->reason, e->reason_len));
    }
    t->ok += r.rc == WSG_OK;
    t->protocol += r.rc == WSG_ERR_PROTOCOL;
    t->masking += r.rc == WSG_ERR_MASKING;
    t->utf8 += r.rc == WSG_ERR_INVALID_UTF8;
    t->too_big += r.rc == WSG_ERR_TOO_BIG;
    for (size_t i = 0; i < r.n; i++) {
        const struct rec *e = &r.ev[i];
        t->messages += e->type == WSG_EV_MESSAGE;
        t->closes += e->type == WSG_EV_CLOSE;
        if (e->type == WSG_EV_MESSAGE) {
            cr_assert(e->len <= cfg.max_message);
            if (e->opcode == WSG_OP_TEXT)
                cr_assert(wsg_utf8_valid(e->data, e->len), "invalid text delivered");
        }
        if (e->type == WSG_EV_CLOSE)
            cr_assert_eq(i, r.n - 1, "events after CLOSE");
    }
    (void)out_close_code(&r.out, client); /* output is whole frames */
    run_free(&r);
    bb_free(&in);
}

Test(rfc6455_5_property, random_sequences_agree)
{
    uint64_t s = 0xC0FFEE;
    struct tally t = {0};
    for (int i = 0; i < 1500; i++)
        one_sequence(&s, i & 1, (i >> 1) & 1 ? WSG_DELIVER_STREAM
                                             : WSG_DELIVER_MESSAGE, &t);
    cr_log_info("ok %d protocol %d masking %d utf8 %d too_big %d messages %d "
                "closes %d", t.ok, t.protocol, t.masking, t.utf8, t.too_big,
                t.messages, t.closes);
    cr_assert(t.ok > 50 && t.protocol > 50 && t.masking > 20 && t.utf8 > 50 &&
              t.too_big > 20 && t.messages > 100 && t.closes > 20);
}
