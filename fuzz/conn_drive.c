/* Drives a wsg_conn over fuzzed input; see conn_drive.h.
 * Documented answers are those of include/wsguard/core.h. */
#include "conn_drive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct drive {
    struct wsg_conn_config cfg;
    struct wsg_conn *c;
    struct fuzz_alloc alloc;
    struct fuzz_random rnd, peer_rnd;
    struct fuzz_rng rng;
    uint64_t now;
    uint64_t fed;

    bool failed;     /* a FAIL event was reported */
    int fail_err;
    uint16_t fail_code;
    bool closed_in;  /* a CLOSE event was reported */
    bool timed_out;  /* tick returned WSG_ERR_TIMEOUT */
    uint16_t we_closed; /* code of our own wsg_conn_close(), if it worked */

    /* received streamed message (WSG_DELIVER_STREAM) */
    bool in_msg;
    enum wsg_opcode msg_op;
    uint64_t msg_len;
    struct fuzz_utf8 msg_utf8;

    /* our own streamed message */
    bool tx_stream;
    enum wsg_opcode tx_op;
    unsigned tx_pieces;
    unsigned long borrowed_ok, released;

    /* the peer that parses our output */
    struct wsg_conn *peer;
    struct fuzz_recording *rec;
};

/* What the inputs reached, for fuzz_conn_stats_print(). */
static unsigned long g_events[WSG_EV_FAIL + 1], g_fail_code[4], g_runs;

void fuzz_conn_stats_print(FILE *f)
{
    static const char *const names[] = {"none", "message", "fragment", "ping",
                                        "pong", "close", "fail"};
    fprintf(f, "conn runs %lu; events:", g_runs);
    for (int i = 1; i <= WSG_EV_FAIL; i++)
        fprintf(f, " %s %lu", names[i], g_events[i]);
    fprintf(f, "; FAIL 1002 %lu, 1007 %lu, 1009 %lu, 1011 %lu\n",
            g_fail_code[0], g_fail_code[1], g_fail_code[2], g_fail_code[3]);
}

static const char kText[] =
    "hello w\xc3\xb6rld \xe2\x82\xac\xf0\x90\x8d\x88 \xe4\xb8\xad\xe6\x96\x87"
    " and some plain ASCII to make it longer than a word or two.";
static uint8_t kBorrowed[512];

static bool feed_fatal(int rc)
{
    return rc == WSG_ERR_PROTOCOL || rc == WSG_ERR_MASKING ||
           rc == WSG_ERR_INVALID_UTF8 || rc == WSG_ERR_TOO_BIG ||
           rc == WSG_ERR_NOMEM;
}

static void check_reason(const char *reason, size_t len)
{
    FUZZ_CHECK(len <= 123, "reason of %zu bytes", len);
    if (len) {
        FUZZ_CHECK(reason != NULL, "reason_len %zu with NULL reason", len);
        fuzz_touch(reason, len);
        FUZZ_CHECK(fuzz_utf8_valid((const uint8_t *)reason, len),
                   "reason is not UTF-8");
    }
}

static void check_data(const struct wsg_event *ev)
{
    if (ev->len) {
        FUZZ_CHECK(ev->data != NULL, "len %zu with NULL data", ev->len);
        fuzz_touch(ev->data, ev->len);
    }
}

static void check_event(struct drive *d, int rc, const struct wsg_event *ev,
                        size_t consumed, size_t avail)
{
    FUZZ_CHECK(consumed <= avail, "consumed %zu of %zu", consumed, avail);
    if (d->failed) {
        FUZZ_CHECK(rc == WSG_ERR_CLOSED, "after FAIL feed returned %s",
                   wsg_err_name(rc));
    } else if (rc == WSG_OK) {
        FUZZ_CHECK(ev->type != WSG_EV_FAIL, "FAIL event with WSG_OK");
    } else if (feed_fatal(rc)) {
        FUZZ_CHECK(ev->type == WSG_EV_FAIL, "%s without a FAIL event (%d)",
                   wsg_err_name(rc), (int)ev->type);
        FUZZ_CHECK(rc != WSG_ERR_NOMEM || d->alloc.failed,
                   "NOMEM with no failed allocation");
    } else if (rc == WSG_ERR_CLOSED) {
        FUZZ_CHECK(d->closed_in || d->timed_out ||
                       wsg_conn_state(d->c) == WSG_STATE_CLOSED,
                   "CLOSED while the connection is %d",
                   (int)wsg_conn_state(d->c));
    } else {
        FUZZ_CHECK(0, "feed returned undocumented %d (%s)", rc,
                   wsg_err_name(rc));
    }
    if (rc == WSG_ERR_CLOSED)
        FUZZ_CHECK(ev->type == WSG_EV_NONE, "event %d with CLOSED",
                   (int)ev->type);
    if (ev->type != WSG_EV_NONE)
        FUZZ_CHECK(!d->failed && !d->closed_in,
                   "event %d after %s", (int)ev->type,
                   d->failed ? "FAIL" : "CLOSE");

    const struct wsg_conn_config *cfg = &d->cfg;
    if ((unsigned)ev->type <= WSG_EV_FAIL)
        g_events[ev->type]++;
    if (ev->type == WSG_EV_FAIL)
        g_fail_code[ev->close_code == 1002   ? 0
                    : ev->close_code == 1007 ? 1
                    : ev->close_code == 1009 ? 2
                                             : 3]++;
    switch (ev->type) {
    case WSG_EV_NONE:
        break;
    case WSG_EV_MESSAGE:
        FUZZ_CHECK(cfg->delivery == WSG_DELIVER_MESSAGE, "MESSAGE in stream mode");
        FUZZ_CHECK(ev->opcode == WSG_OP_TEXT || ev->opcode == WSG_OP_BINARY,
                   "message opcode %d", (int)ev->opcode);
        FUZZ_CHECK(ev->len <= cfg->max_message, "message %zu > max %llu",
                   ev->len, (unsigned long long)cfg->max_message);
        FUZZ_CHECK((ev->rsv & ~cfg->rsv_allowed) == 0, "rsv 0x%x", ev->rsv);
        check_data(ev);
        if (ev->opcode == WSG_OP_TEXT)
            FUZZ_CHECK(fuzz_utf8_valid(ev->data, ev->len) &&
                           wsg_utf8_valid(ev->data, ev->len),
                       "text message of %zu bytes is not UTF-8", ev->len);
        break;
    case WSG_EV_FRAGMENT:
        FUZZ_CHECK(cfg->delivery == WSG_DELIVER_STREAM, "FRAGMENT in message mode");
        FUZZ_CHECK(ev->opcode == WSG_OP_TEXT || ev->opcode == WSG_OP_BINARY,
                   "fragment opcode %d", (int)ev->opcode);
        FUZZ_CHECK(ev->first == !d->in_msg, "first=%d while in_msg=%d",
                   ev->first, d->in_msg);
        if (ev->first) {
            d->in_msg = true;
            d->msg_op = ev->opcode;
            d->msg_len = 0;
            memset(&d->msg_utf8, 0, sizeof d->msg_utf8);
        }
        FUZZ_CHECK(ev->opcode == d->msg_op, "fragment opcode changed");
        FUZZ_CHECK(ev->len <= cfg->max_frame, "fragment %zu > max_frame",
                   ev->len);
        FUZZ_CHECK((ev->rsv & ~cfg->rsv_allowed) == 0, "rsv 0x%x", ev->rsv);
        check_data(ev);
        d->msg_len += ev->len;
        FUZZ_CHECK(d->msg_len <= cfg->max_message,
                   "streamed message %llu > max %llu",
                   (unsigned long long)d->msg_len,
                   (unsigned long long)cfg->max_message);
        if (d->msg_op == WSG_OP_TEXT) {
            size_t bad = fuzz_utf8_first_bad(&d->msg_utf8, ev->data, ev->len);
            FUZZ_CHECK(bad == ev->len, "invalid UTF-8 delivered at %zu", bad);
        }
        if (ev->fin) {
            if (d->msg_op == WSG_OP_TEXT)
                FUZZ_CHECK(d->msg_utf8.need == 0,
                           "text message ends inside a code point");
            d->in_msg = false;
        }
        break;
    case WSG_EV_PING:
    case WSG_EV_PONG:
        FUZZ_CHECK(ev->len <= 125, "control payload %zu", ev->len);
        check_data(ev);
        break;
    case WSG_EV_CLOSE:
        FUZZ_CHECK((ev->close_code == 1005 && ev->reason_len == 0) ||
                       wsg_close_code_is_sendable(ev->close_code),
                   "close code %u", ev->close_code);
        check_reason(ev->reason, ev->reason_len);
        FUZZ_CHECK(wsg_conn_close_received(d->c) == ev->close_code,
                   "close_received %u != %u", wsg_conn_close_received(d->c),
                   ev->close_code);
        d->closed_in = true;
        break;
    case WSG_EV_FAIL:
        FUZZ_CHECK(feed_fatal(ev->err) && ev->err == rc,
                   "FAIL err %d rc %d", ev->err, rc);
        FUZZ_CHECK(ev->close_code == wsg_close_code_for(ev->err),
                   "FAIL code %u for %s", ev->close_code,
                   wsg_err_name(ev->err));
        FUZZ_CHECK(ev->close_code == 1002 || ev->close_code == 1007 ||
                       ev->close_code == 1009 || ev->close_code == 1011,
                   "FAIL code %u", ev->close_code);
        check_reason(ev->reason, ev->reason_len);
        /* CLOSED, or CLOSING while the Close frame is still queued */
        FUZZ_CHECK(wsg_conn_state(d->c) == WSG_STATE_CLOSED ||
                       (wsg_conn_state(d->c) == WSG_STATE_CLOSING &&
                        wsg_conn_output_pending(d->c) > 0),
                   "state %d after FAIL", (int)wsg_conn_state(d->c));
        d->failed = true;
        d->fail_err = ev->err;
        d->fail_code = ev->close_code;
        break;
    default:
        FUZZ_CHECK(0, "unknown event type %d", (int)ev->type);
    }
    if (d->rec && ev->type != WSG_EV_NONE)
        fuzz_recording_add(d->rec, ev);
}

/* ---- the peer: parses our output, which must always be valid ---- */

static void peer_feed(struct drive *d, uint8_t *buf, size_t n)
{
    size_t off = 0;
    for (int guard = 0; guard < 100000; guard++) {
        size_t consumed = 0;
        struct wsg_event ev;
        memset(&ev, 0xA5, sizeof ev);
        int rc = wsg_conn_feed(d->peer, buf + off, n - off, d->now,
                               &consumed, &ev);
        FUZZ_CHECK(rc == WSG_OK || rc == WSG_ERR_CLOSED,
                   "our own output failed the peer: %s (%.*s)",
                   wsg_err_name(rc),
                   ev.type == WSG_EV_FAIL ? (int)ev.reason_len : 0,
                   ev.type == WSG_EV_FAIL ? ev.reason : "");
        FUZZ_CHECK(consumed <= n - off, "peer consumed too much");
        off += consumed;
        if (ev.type == WSG_EV_MESSAGE || ev.type == WSG_EV_PING ||
            ev.type == WSG_EV_PONG)
            check_data(&ev);
        if (ev.type == WSG_EV_NONE || rc != WSG_OK)
            break;
    }
    /* the peer's own output (pongs, close echo) goes nowhere */
    for (int i = 0; i < 1000 && wsg_conn_output_pending(d->peer); i++) {
        struct wsg_iovec iov[4];
        size_t cnt = wsg_conn_output(d->peer, iov, 4), sum = 0;
        for (size_t k = 0; k < cnt; k++)
            sum += iov[k].len;
        wsg_conn_output_consume(d->peer, sum);
    }
}

static void drain(struct drive *d, bool all)
{
    for (int round = 0; round < 10000; round++) {
        struct wsg_iovec iov[8];
        size_t pending = wsg_conn_output_pending(d->c);
        size_t cnt = wsg_conn_output(d->c, iov, 8), sum = 0;
        FUZZ_CHECK(cnt <= 8, "output returned %zu entries", cnt);
        for (size_t i = 0; i < cnt; i++) {
            FUZZ_CHECK(iov[i].base != NULL || iov[i].len == 0, "NULL iov");
            fuzz_touch(iov[i].base, iov[i].len);
            sum += iov[i].len;
        }
        FUZZ_CHECK(sum <= pending, "lent %zu of %zu pending", sum, pending);
        if (cnt < 8)
            FUZZ_CHECK(sum == pending, "lent %zu in %zu entries, pending %zu",
                       sum, cnt, pending);
        if (cnt == 0)
            return;
        size_t n = all ? sum : fuzz_rng_below(&d->rng, sum + 1);
        if (n) {
            uint8_t *buf = malloc(n);
            if (!buf)
                abort();
            size_t off = 0;
            for (size_t i = 0; i < cnt && off < n; i++) {
                size_t k = iov[i].len < n - off ? iov[i].len : n - off;
                memcpy(buf + off, iov[i].base, k);
                off += k;
            }
            peer_feed(d, buf, n);
            free(buf);
        }
        wsg_conn_output_consume(d->c, n);
        FUZZ_CHECK(wsg_conn_output_pending(d->c) == pending - n,
                   "pending %zu after consuming %zu of %zu",
                   wsg_conn_output_pending(d->c), n, pending);
        if (!all)
            return;
    }
    FUZZ_CHECK(0, "output never drains (%zu pending)",
               wsg_conn_output_pending(d->c));
}

/* ---- our own sends, interleaved with the input ---- */

static bool send_ok_rc(const struct drive *d, int rc)
{
    return rc == WSG_OK || rc == WSG_ERR_STATE || rc == WSG_ERR_AGAIN ||
           rc == WSG_ERR_CLOSED || rc == WSG_ERR_TIMEOUT ||
           (rc == WSG_ERR_NOMEM && d->alloc.failed) ||
           (d->failed && rc == d->fail_err);
}

static void on_release(void *ud, const void *data)
{
    struct drive *d = ud;
    FUZZ_CHECK(data == kBorrowed, "release of a pointer we did not lend");
    d->released++;
    FUZZ_CHECK(d->released <= d->borrowed_ok, "release called too often");
}

static size_t text_len(struct drive *d)
{
    size_t n = fuzz_rng_below(&d->rng, sizeof kText);
    while (n > 0 && n < sizeof kText - 1 && (kText[n] & 0xC0) == 0x80)
        n--; /* cut at a code point boundary */
    return n;
}

static void send_piece(struct drive *d)
{
    bool first = !d->tx_stream;
    bool fin = fuzz_rng_below(&d->rng, 4) == 0 || d->tx_pieces >= 200;
    if (first)
        d->tx_op = fuzz_rng_below(&d->rng, 2) ? WSG_OP_TEXT : WSG_OP_BINARY;
    size_t len = d->tx_op == WSG_OP_TEXT ? text_len(d)
                                         : fuzz_rng_below(&d->rng, 300);
    const void *p = d->tx_op == WSG_OP_TEXT ? (const void *)kText
                                            : (const void *)kBorrowed;
    int rc;
    bool borrowed = d->tx_op == WSG_OP_BINARY && fuzz_rng_below(&d->rng, 2);
    if (borrowed) {
        rc = wsg_conn_send_borrowed(d->c, d->tx_op, kBorrowed, len, first,
                                    fin, on_release, d);
        if (d->cfg.role == WSG_ROLE_CLIENT) {
            FUZZ_CHECK(rc == WSG_ERR_UNSUPPORTED || rc == WSG_ERR_STATE ||
                           rc == WSG_ERR_CLOSED ||
                           (d->failed && rc == d->fail_err),
                       "client borrowed send returned %s", wsg_err_name(rc));
            return;
        }
        if (rc == WSG_OK)
            d->borrowed_ok++;
    } else {
        rc = wsg_conn_send_fragment(d->c, d->tx_op, p, len, first, fin);
    }
    FUZZ_CHECK(send_ok_rc(d, rc), "send_fragment returned %s",
               wsg_err_name(rc));
    if (rc == WSG_OK) {
        d->tx_stream = !fin;
        d->tx_pieces = fin ? 0 : d->tx_pieces + 1;
    }
}

static void action(struct drive *d)
{
    int rc;
    size_t n;
    switch (fuzz_rng_below(&d->rng, 10)) {
    case 0:
        rc = wsg_conn_send(d->c, WSG_OP_TEXT, kText, text_len(d));
        FUZZ_CHECK(send_ok_rc(d, rc), "send text: %s", wsg_err_name(rc));
        FUZZ_CHECK(!(d->tx_stream && rc == WSG_OK),
                   "send accepted inside a streamed message");
        break;
    case 1:
        rc = wsg_conn_send(d->c, WSG_OP_BINARY, kBorrowed,
                           fuzz_rng_below(&d->rng, 300));
        FUZZ_CHECK(send_ok_rc(d, rc), "send binary: %s", wsg_err_name(rc));
        FUZZ_CHECK(!(d->tx_stream && rc == WSG_OK),
                   "send accepted inside a streamed message");
        break;
    case 2:
        send_piece(d);
        break;
    case 3:
        n = fuzz_rng_below(&d->rng, 140);
        rc = fuzz_rng_below(&d->rng, 2) ? wsg_conn_ping(d->c, kBorrowed, n)
                                        : wsg_conn_pong(d->c, kBorrowed, n);
        if (n > 125)
            FUZZ_CHECK(rc == WSG_ERR_INVALID_ARG || rc == WSG_ERR_STATE ||
                           rc == WSG_ERR_CLOSED ||
                           (d->failed && rc == d->fail_err),
                       "ping/pong of %zu: %s", n, wsg_err_name(rc));
        else
            FUZZ_CHECK(rc != WSG_ERR_AGAIN && send_ok_rc(d, rc),
                       "ping/pong: %s", wsg_err_name(rc));
        break;
    case 4: {
        static const uint16_t codes[] = {1000, 1001, 3000, 4999, 0, 1005};
        uint16_t code = codes[fuzz_rng_below(&d->rng, 6)];
        if (fuzz_rng_below(&d->rng, 3))
            break; /* rarely */
        rc = wsg_conn_close(d->c, code, code ? "bye" : NULL, code ? 3 : 0,
                            d->now);
        if (code == 1005)
            FUZZ_CHECK(rc == WSG_ERR_INVALID_ARG || rc == WSG_ERR_STATE ||
                           rc == WSG_ERR_CLOSED ||
                           (d->failed && rc == d->fail_err),
                       "close(1005): %s", wsg_err_name(rc));
        else
            FUZZ_CHECK(rc != WSG_ERR_AGAIN && send_ok_rc(d, rc),
                       "close: %s", wsg_err_name(rc));
        if (rc == WSG_OK) {
            FUZZ_CHECK(!d->we_closed && !d->failed && !d->closed_in,
                       "a second Close was accepted");
            d->we_closed = code ? code : 1005;
            FUZZ_CHECK(!code || wsg_conn_close_sent(d->c) == code,
                       "close_sent %u after close(%u)",
                       wsg_conn_close_sent(d->c), code);
        }
        break;
    }
    case 5:
        d->now += fuzz_rng_below(&d->rng, 3000);
        rc = wsg_conn_tick(d->c, d->now);
        FUZZ_CHECK(rc == WSG_OK || rc == WSG_ERR_TIMEOUT ||
                       rc == WSG_ERR_CLOSED ||
                       (d->failed && rc == d->fail_err),
                   "tick: %s", wsg_err_name(rc));
        if (rc == WSG_ERR_TIMEOUT) {
            d->timed_out = true;
            FUZZ_CHECK(wsg_conn_state(d->c) == WSG_STATE_CLOSED,
                       "state %d after TIMEOUT", (int)wsg_conn_state(d->c));
        }
        break;
    case 6:
    case 7:
        drain(d, false);
        break;
    default:
        d->now += fuzz_rng_below(&d->rng, 50);
        break;
    }
}

static void feed_chunk(struct drive *d, const uint8_t *src, size_t n)
{
    uint8_t *buf = fuzz_dup(src, n);
    size_t off = 0;
    int stall = 0;
    for (;;) {
        size_t consumed = (size_t)-1;
        struct wsg_event ev;
        memset(&ev, 0xA5, sizeof ev);
        int rc = wsg_conn_feed(d->c, buf + off, n - off, d->now, &consumed,
                               &ev);
        check_event(d, rc, &ev, consumed, n - off);
        off += consumed;
        d->fed += consumed;
        if (ev.type == WSG_EV_NONE) {
            if (rc == WSG_OK)
                FUZZ_CHECK(off == n, "no event, %zu of %zu bytes left",
                           n - off, n);
            break;
        }
        if (consumed == 0)
            FUZZ_CHECK(++stall < 8, "events without progress");
        else
            stall = 0;
    }
    free(buf);
}

static void check_bounds(struct drive *d)
{
    const struct wsg_conn_config *cfg = &d->cfg;
    /* H12: memory follows the limits, never the declared sizes. */
    uint64_t bound = 2 * cfg->max_message + 2 * cfg->max_frame +
                     2 * (uint64_t)cfg->max_output + (1u << 20);
    FUZZ_CHECK(d->alloc.peak <= bound, "peak %zu bytes > bound %llu",
               d->alloc.peak, (unsigned long long)bound);
    if (wsg_conn_should_close_transport(d->c))
        FUZZ_CHECK(wsg_conn_state(d->c) == WSG_STATE_CLOSED &&
                       (wsg_conn_output_pending(d->c) == 0 || d->timed_out),
                   "should_close_transport with state %d, %zu pending",
                   (int)wsg_conn_state(d->c), wsg_conn_output_pending(d->c));
    struct wsg_conn_stats st;
    wsg_conn_get_stats(d->c, &st);
    FUZZ_CHECK(st.bytes_in <= d->fed, "bytes_in %llu > fed %llu",
               (unsigned long long)st.bytes_in, (unsigned long long)d->fed);
    /* a FAIL queues its Close only if we had not sent one already */
    if (d->failed && !d->we_closed)
        FUZZ_CHECK(wsg_conn_close_sent(d->c) == d->fail_code,
                   "close_sent %u after FAIL with %u",
                   wsg_conn_close_sent(d->c), d->fail_code);
}

void fuzz_conn_run(const struct fuzz_conn_opts *o, const uint8_t *wire,
                   size_t len)
{
    struct drive *d = calloc(1, sizeof *d);
    if (!d)
        abort();
    g_runs++;
    for (size_t i = 0; i < sizeof kBorrowed; i++)
        kBorrowed[i] = (uint8_t)(i * 31 + 7);
    d->cfg = o->cfg;
    fuzz_alloc_init(&d->alloc, o->alloc_fail_at);
    d->cfg.alloc = &d->alloc.a;
    d->cfg.random.fill = fuzz_random_fill;
    d->cfg.random.ud = &d->rnd;
    d->rng.s = o->seed;
    d->now = 1000;
    d->rec = o->rec;

    int rc = wsg_conn_new(&d->cfg, &d->c);
    if (rc != WSG_OK) {
        FUZZ_CHECK(rc == WSG_ERR_NOMEM && d->alloc.failed,
                   "wsg_conn_new: %s", wsg_err_name(rc));
        FUZZ_CHECK(d->alloc.cur == 0, "leak of %zu bytes after failed new",
                   d->alloc.cur);
        free(d);
        return;
    }
    FUZZ_CHECK(wsg_conn_state(d->c) == WSG_STATE_OPEN, "new conn not OPEN");

    struct wsg_conn_config pc;
    wsg_conn_config_init_default(&pc);
    pc.role = d->cfg.role == WSG_ROLE_SERVER ? WSG_ROLE_CLIENT
                                              : WSG_ROLE_SERVER;
    pc.random.fill = fuzz_random_fill;
    pc.random.ud = &d->peer_rnd;
    FUZZ_CHECK(wsg_conn_new(&pc, &d->peer) == WSG_OK, "peer conn");

    size_t off = 0;
    while (off < len) {
        size_t n = fuzz_chunk_next(&d->rng, o->max_chunk, len - off);
        feed_chunk(d, wire + off, n);
        off += n;
        if (o->actions) {
            size_t k = fuzz_rng_below(&d->rng, 3);
            for (size_t i = 0; i < k; i++)
                action(d);
        } else if (fuzz_rng_below(&d->rng, 4) == 0) {
            drain(d, false);
        }
        check_bounds(d);
    }
    /* an empty feed is no event */
    {
        size_t consumed = 7;
        struct wsg_event ev;
        memset(&ev, 0xA5, sizeof ev);
        rc = wsg_conn_feed(d->c, kBorrowed, 0, d->now, &consumed, &ev);
        check_event(d, rc, &ev, consumed, 0);
        FUZZ_CHECK(ev.type == WSG_EV_NONE, "event %d from no input",
                   (int)ev.type);
    }
    drain(d, true);
    check_bounds(d);
    d->now += 60000;
    rc = wsg_conn_tick(d->c, d->now);
    FUZZ_CHECK(rc == WSG_OK || rc == WSG_ERR_TIMEOUT || rc == WSG_ERR_CLOSED ||
                   (d->failed && rc == d->fail_err),
               "final tick: %s", wsg_err_name(rc));
    if (wsg_conn_close_sent(d->c) && !d->closed_in)
        FUZZ_CHECK(wsg_conn_state(d->c) == WSG_STATE_CLOSED,
                   "close deadline passed, state %d",
                   (int)wsg_conn_state(d->c));

    wsg_conn_free(d->c);
    FUZZ_CHECK(d->released == d->borrowed_ok,
               "%lu borrowed sends, %lu releases", d->borrowed_ok,
               d->released);
    FUZZ_CHECK(d->alloc.cur == 0, "leak: %zu bytes after wsg_conn_free",
               d->alloc.cur);
    wsg_conn_free(d->peer);
    free(d);
}
