/* Test helpers for the core (see helpers.h). */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "guard_page.h"

const uint8_t test_key[4] = {0x37, 0xfa, 0x21, 0x3d};

void bb_add(struct bb *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + len)
            cap *= 2;
        b->p = realloc(b->p, cap);
        cr_assert(b->p != NULL);
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
}

void bb_byte(struct bb *b, uint8_t v)
{
    bb_add(b, &v, 1);
}

void bb_free(struct bb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void bb_frame_form(struct bb *b, uint8_t b0, bool masked, const void *payload,
                   size_t len, int form)
{
    uint8_t m = masked ? 0x80u : 0u;
    bb_byte(b, b0);
    if (form == 0)
        form = len < 126 ? 0 : len <= 0xFFFF ? 126 : 127;
    if (form == 0) {
        bb_byte(b, (uint8_t)(m | len));
    } else if (form == 126) {
        bb_byte(b, m | 126u);
        bb_byte(b, (uint8_t)(len >> 8));
        bb_byte(b, (uint8_t)len);
    } else {
        bb_byte(b, m | 127u);
        for (int i = 7; i >= 0; i--)
            bb_byte(b, (uint8_t)((uint64_t)len >> (8 * i)));
    }
    if (masked)
        bb_add(b, test_key, 4);
    size_t start = b->len;
    bb_add(b, payload, len);
    if (masked)
        for (size_t i = 0; i < len; i++)
            b->p[start + i] ^= test_key[i & 3];
}

void bb_frame(struct bb *b, uint8_t b0, bool masked, const void *payload,
              size_t len)
{
    bb_frame_form(b, b0, masked, payload, len, 0);
}

void bb_close(struct bb *b, uint16_t code, const char *reason)
{
    uint8_t p[125];
    size_t rl = strlen(reason);
    cr_assert(rl <= 123);
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    memcpy(p + 2, reason, rl);
    bb_frame(b, FIN | WSG_OP_CLOSE, true, p, 2 + rl);
}

int test_random(void *ud, uint8_t *buf, size_t len)
{
    uint64_t *s = ud;
    for (size_t i = 0; i < len; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        buf[i] = (uint8_t)(*s >> 24);
    }
    return 0;
}

struct wsg_conn_config cfg_server(void)
{
    struct wsg_conn_config c;
    wsg_conn_config_init_default(&c);
    return c;
}

struct wsg_conn_config cfg_client(void)
{
    struct wsg_conn_config c;
    wsg_conn_config_init_default(&c);
    c.role = WSG_ROLE_CLIENT;
    return c;
}

/* ---- running ------------------------------------------------------------------ */

static void record(struct run *r, const struct wsg_event *ev, int rc)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
        cr_assert(r->ev != NULL);
    }
    struct rec *e = &r->ev[r->n++];
    memset(e, 0, sizeof *e);
    e->type = ev->type;
    e->opcode = ev->opcode;
    e->len = ev->len;
    e->data = malloc(ev->len ? ev->len : 1);
    cr_assert(ev->len == 0 || ev->data != NULL);
    if (ev->len)
        memcpy(e->data, ev->data, ev->len);
    if (ev->type == WSG_EV_MESSAGE || ev->type == WSG_EV_FRAGMENT ||
        ev->type == WSG_EV_PING || ev->type == WSG_EV_PONG)
        cr_assert(ev->data != NULL, "event data must never be NULL");
    e->first = ev->first;
    e->fin = ev->fin;
    e->rsv = ev->rsv;
    e->close_code = ev->close_code;
    cr_assert(ev->reason_len < sizeof e->reason);
    if (ev->reason_len)
        memcpy(e->reason, ev->reason, ev->reason_len);
    e->reason_len = ev->reason_len;
    e->err = ev->err;
    e->rc = rc;
}

/* Feeds `len` bytes at `p` in one call sequence; returns false once the
 * connection reported a non-OK status. */
static bool feed_chunk(struct wsg_conn *c, uint8_t *p, size_t len,
                       struct run *r)
{
    size_t pos = 0;
    for (size_t guard = 0; guard < 4 * len + 16; guard++) {
        struct wsg_event ev;
        size_t used = 99999;
        int rc = wsg_conn_feed(c, p + pos, len - pos, 1000, &used, &ev);
        cr_assert(used <= len - pos, "consumed more than given");
        pos += used;
        if (ev.type != WSG_EV_NONE)
            record(r, &ev, rc);
        if (ev.type == WSG_EV_FAIL)
            cr_assert(rc != WSG_OK, "FAIL event with status OK");
        if (rc != WSG_OK) {
            cr_assert(ev.type == WSG_EV_FAIL || rc == WSG_ERR_CLOSED,
                      "error status without a FAIL event: %s",
                      wsg_err_name(rc));
            if (r->rc == WSG_OK)
                r->rc = rc;
            return false;
        }
        if (ev.type == WSG_EV_NONE) {
            cr_assert(pos == len, "no event but input left (%zu of %zu)",
                      pos, len);
            return true;
        }
        if (pos == len)
            return true;
    }
    cr_assert_fail("feed made no progress");
    return false;
}

void run_feed(const struct wsg_conn_config *cfg0, const uint8_t *in,
              size_t len, enum feed_mode mode, struct run *r)
{
    struct wsg_conn_config cfg = *cfg0;
    uint64_t seed = 0x9E3779B97F4A7C15u;
    struct wsg_conn *c = NULL;

    memset(r, 0, sizeof *r);
    if (cfg.role == WSG_ROLE_CLIENT && !cfg.random.fill) {
        cfg.random.fill = test_random;
        cfg.random.ud = &seed;
    }
    cr_assert_eq(wsg_conn_new(&cfg, &c), WSG_OK);

    if (mode == FEED_WHOLE) {
        uint8_t *copy = malloc(len ? len : 1);
        cr_assert(copy != NULL);
        if (len)
            memcpy(copy, in, len);
        feed_chunk(c, copy, len, r);
        free(copy);
    } else if (mode == FEED_BYTES) {
        for (size_t i = 0; i < len; i++) {
            uint8_t one = in[i];
            if (!feed_chunk(c, &one, 1, r))
                break;
        }
    } else {
        /* The input ends right before a PROT_NONE page: any over-read
         * crashes the test. */
        struct guard_page g;
        feed_chunk(c, guard_page_copy(&g, in, len), len, r);
        guard_page_free(&g);
    }

    /* Drain the output, a few bytes at a time (partial writes). */
    for (int guard = 0; guard < 1 << 20; guard++) {
        struct wsg_iovec iov[4];
        size_t n = wsg_conn_output(c, iov, 4);
        if (n == 0)
            break;
        size_t take = iov[0].len > 7 ? 7 : iov[0].len;
        bb_add(&r->out, iov[0].base, take);
        wsg_conn_output_consume(c, take);
    }
    cr_assert_eq(wsg_conn_output_pending(c), 0);
    r->state = wsg_conn_state(c);
    r->should_close = wsg_conn_should_close_transport(c);
    r->close_sent = wsg_conn_close_sent(c);
    r->close_rcvd = wsg_conn_close_received(c);
    wsg_conn_get_stats(c, &r->st);
    wsg_conn_free(c);
}

void run_free(struct run *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->ev[i].data);
    free(r->ev);
    bb_free(&r->out);
    memset(r, 0, sizeof *r);
}

/* FRAGMENT pieces joined per message, so runs split differently compare. */
static void normalize(const struct run *r, struct run *o)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < r->n; i++) {
        const struct rec *e = &r->ev[i];
        struct rec *last = o->n ? &o->ev[o->n - 1] : NULL;
        if (e->type == WSG_EV_FRAGMENT && last &&
            last->type == WSG_EV_FRAGMENT && !last->fin && !e->first) {
            last->data = realloc(last->data, last->len + e->len + 1);
            memcpy(last->data + last->len, e->data, e->len);
            last->len += e->len;
            last->fin = e->fin;
            continue;
        }
        /* Streaming delivers the valid bytes before a failure as they
         * arrive, so how much of the failing message was handed out
         * depends on the split: leave that partial message out. */
        if (e->type == WSG_EV_FAIL && last && last->type == WSG_EV_FRAGMENT &&
            !last->fin) {
            free(last->data);
            o->n--;
        }
        struct wsg_event ev = {0};
        ev.type = e->type;
        ev.opcode = e->opcode;
        ev.data = e->data;
        ev.len = e->len;
        ev.first = e->first;
        ev.fin = e->fin;
        ev.rsv = e->rsv;
        ev.close_code = e->close_code;
        ev.reason = e->reason;
        ev.reason_len = e->reason_len;
        ev.err = e->err;
        record(o, &ev, e->rc);
    }
}

static void compare(const struct run *a, const struct run *b, const char *what)
{
    struct run na, nb;
    normalize(a, &na);
    normalize(b, &nb);
    cr_assert_eq(na.n, nb.n, "%s: %zu events vs %zu", what, na.n, nb.n);
    for (size_t i = 0; i < na.n; i++) {
        const struct rec *x = &na.ev[i], *y = &nb.ev[i];
        cr_assert_eq(x->type, y->type, "%s: event %zu type", what, i);
        cr_assert_eq(x->opcode, y->opcode, "%s: event %zu opcode", what, i);
        cr_assert_eq(x->len, y->len, "%s: event %zu len", what, i);
        cr_assert(memcmp(x->data, y->data, x->len) == 0,
                  "%s: event %zu data", what, i);
        cr_assert_eq(x->first, y->first, "%s: event %zu first", what, i);
        cr_assert_eq(x->fin, y->fin, "%s: event %zu fin", what, i);
        cr_assert_eq(x->rsv, y->rsv, "%s: event %zu rsv", what, i);
        cr_assert_eq(x->close_code, y->close_code, "%s: event %zu code", what, i);
        cr_assert_eq(x->reason_len, y->reason_len, "%s: event %zu reason", what, i);
        cr_assert(memcmp(x->reason, y->reason, x->reason_len) == 0,
                  "%s: event %zu reason '%s' vs '%s'", what, i, x->reason,
                  y->reason);
        cr_assert_eq(x->err, y->err, "%s: event %zu err", what, i);
        cr_assert_eq(x->rc, y->rc, "%s: event %zu rc", what, i);
    }
    cr_assert_eq(a->rc, b->rc, "%s: status", what);
    cr_assert_eq(a->out.len, b->out.len, "%s: output length", what);
    cr_assert(a->out.len == 0 || memcmp(a->out.p, b->out.p, a->out.len) == 0,
              "%s: output bytes", what);
    cr_assert_eq(a->state, b->state, "%s: state", what);
    cr_assert_eq(a->should_close, b->should_close, "%s: should_close", what);
    cr_assert_eq(a->close_sent, b->close_sent, "%s: close sent", what);
    cr_assert_eq(a->close_rcvd, b->close_rcvd, "%s: close received", what);
    /* On a failure the two runs may have read different amounts of the
     * failing frame; every other counter must agree. */
    struct wsg_conn_stats sa = a->st, sb = b->st;
    if (a->rc != WSG_OK)
        sa.bytes_in = sb.bytes_in = 0;
    cr_assert(memcmp(&sa, &sb, sizeof sa) == 0, "%s: stats", what);
    run_free(&na);
    run_free(&nb);
}

void run_all(const struct wsg_conn_config *cfg, const uint8_t *in, size_t len,
             struct run *r)
{
    struct run bytes, guard;
    run_feed(cfg, in, len, FEED_WHOLE, r);
    run_feed(cfg, in, len, FEED_BYTES, &bytes);
    compare(r, &bytes, "byte-at-a-time");
    run_feed(cfg, in, len, FEED_GUARD, &guard);
    compare(r, &guard, "guard page");
    run_free(&bytes);
    run_free(&guard);
}

const struct rec *run_last(const struct run *r)
{
    cr_assert(r->n > 0, "no events");
    return &r->ev[r->n - 1];
}

size_t frame_len_at(const struct bb *out, size_t pos, uint64_t *len)
{
    const uint8_t *p = out->p + pos;

    *len = p[1] & 0x7Fu;
    if (*len == 126) {
        cr_assert_leq(pos + 4, out->len, "truncated length");
        *len = ((uint64_t)p[2] << 8) | p[3];
        return 4;
    }
    if (*len == 127) {
        cr_assert_leq(pos + 10, out->len, "truncated length");
        *len = 0;
        for (int i = 0; i < 8; i++)
            *len = (*len << 8) | p[2 + i];
        return 10;
    }
    return 2;
}

uint16_t out_close_code(const struct bb *out, bool masked)
{
    /* Walk the frames; remember the last one. */
    size_t pos = 0;
    uint16_t code = 0;
    while (pos + 2 <= out->len) {
        uint8_t b0 = out->p[pos], b1 = out->p[pos + 1];
        uint64_t len;
        size_t h = frame_len_at(out, pos, &len);
        cr_assert_eq(!!(b1 & 0x80u), masked, "mask bit of an output frame");
        uint8_t key[4] = {0};
        if (masked) {
            memcpy(key, out->p + pos + h, 4);
            h += 4;
        }
        cr_assert(pos + h + len <= out->len, "truncated output frame");
        code = 0;
        if ((b0 & 0x0Fu) == WSG_OP_CLOSE) {
            if (len >= 2) {
                uint8_t c0 = out->p[pos + h] ^ key[0];
                uint8_t c1 = out->p[pos + h + 1] ^ key[1];
                code = (uint16_t)((c0 << 8) | c1);
            } else {
                code = 1005;
            }
        }
        pos += h + (size_t)len;
    }
    cr_assert_eq(pos, out->len, "output is not whole frames");
    return code;
}

const struct rec *expect_fail(const struct run *r, uint16_t code, int err,
                              const char *reason)
{
    const struct rec *e = run_last(r);
    cr_assert_eq(e->type, WSG_EV_FAIL, "last event is %d, not FAIL", e->type);
    cr_assert_eq(e->close_code, code, "close code %u, want %u", e->close_code,
                 code);
    cr_assert_eq(e->err, err, "err %s, want %s", wsg_err_name(e->err),
                 wsg_err_name(err));
    cr_assert_eq(e->rc, err);
    cr_assert_eq(r->rc, err);
    cr_assert(e->reason_len > 0, "FAIL without a reason");
    if (reason)
        cr_assert(strstr(e->reason, reason) != NULL, "reason '%s' lacks '%s'",
                  e->reason, reason);
    cr_assert_eq(r->close_sent, code);
    cr_assert_eq(r->state, WSG_STATE_CLOSED);
    cr_assert(r->should_close);
    return e;
}
