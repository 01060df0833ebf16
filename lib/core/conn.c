/* The connection: configuration, life cycle, the receive side (frames to
 * events, RFC 6455 sections 5 and 7) and the state queries. The send side
 * is in send.c. */
#include <string.h>

#include "core/alloc.h"
#include "core/conn.h"
#include "core/utf8.h"

/* Where an empty payload points: never NULL. */
static const uint8_t empty_payload[1] = {0};

/* A message buffer above this is given back once the message was read. */
#define MSG_KEEP 65536u

void wsg_conn_config_init_default(struct wsg_conn_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->role = WSG_ROLE_SERVER;
    cfg->delivery = WSG_DELIVER_MESSAGE;
    cfg->max_frame = 1u << 20;
    cfg->max_message = 1u << 20;
    cfg->max_fragments = 1024;
    cfg->max_output = (size_t)4 << 20;
    cfg->close_timeout_ms = 5000;
    cfg->auto_pong = true;
    cfg->rsv_allowed = 0;
}

int wsg_conn_new(const struct wsg_conn_config *cfg, struct wsg_conn **out)
{
    if (!out)
        return WSG_ERR_INVALID_ARG;
    *out = NULL;
    if (!cfg || !cfg->max_frame || !cfg->max_message || !cfg->max_fragments ||
        !cfg->max_output)
        return WSG_ERR_INVALID_ARG;
    if (cfg->role != WSG_ROLE_SERVER && cfg->role != WSG_ROLE_CLIENT)
        return WSG_ERR_INVALID_ARG;
    if (cfg->delivery != WSG_DELIVER_MESSAGE &&
        cfg->delivery != WSG_DELIVER_STREAM)
        return WSG_ERR_INVALID_ARG;
    if (cfg->role == WSG_ROLE_CLIENT && !cfg->random.fill)
        return WSG_ERR_INVALID_ARG;
    if (cfg->rsv_allowed & ~0x70u)
        return WSG_ERR_INVALID_ARG;
    struct wsg_allocator a;
    if (!wsg__alloc_init(&a, cfg->alloc))
        return WSG_ERR_INVALID_ARG;

    struct wsg_conn *c = wsg__zalloc(&a, sizeof *c);
    if (!c)
        return WSG_ERR_NOMEM;
    c->cfg = *cfg;
    c->alloc = a;
    c->cfg.alloc = &c->alloc;
    c->rx = WSG__RX_HEADER;
    wsg__outq_init(&c->out, &c->alloc);
    *out = c;
    return WSG_OK;
}

void wsg_conn_free(struct wsg_conn *c)
{
    if (!c)
        return;
    wsg__outq_free(&c->out);
    wsg__free(&c->alloc, c->msg_buf);
    struct wsg_allocator a = c->alloc;
    wsg__free(&a, c);
}

/* ---- failing (RFC 6455 section 7.1.7) ------------------------------------- */

static int conn_fail(struct wsg_conn *c, uint64_t now_ms,
                     struct wsg_event *ev)
{
    c->failed = true;
    if (!c->close_queued)
        (void)wsg__conn_queue_close(c, c->why.code, c->why.text, c->why.len);
    wsg__conn_arm_deadline(c, now_ms);
    ev->type = WSG_EV_FAIL;
    ev->close_code = c->why.code;
    ev->reason = c->why.text;
    ev->reason_len = c->why.len;
    ev->err = c->why.err;
    return c->why.err;
}

static int fail_with(struct wsg_conn *c, int err, const char *text,
                     uint64_t now_ms, struct wsg_event *ev)
{
    wsg__why_set(&c->why, err, text);
    return conn_fail(c, now_ms, ev);
}

/* ---- control frames (section 5.5) ------------------------------------------ */

static int control_done(struct wsg_conn *c, uint64_t now_ms,
                        struct wsg_event *ev)
{
    const uint8_t *p = c->ctrl;
    size_t n = c->ctrl_len;

    c->rx = WSG__RX_HEADER;
    switch (c->fr.op) {
    case WSG_OP_PING:
        c->st.pings_in++;
        /* 5.5.2: answer with a Pong carrying the same data. Past the
         * control budget pings go unanswered (T12). */
        if (c->cfg.auto_pong && !c->close_queued) {
            int rc = wsg__conn_queue_control(c, WSG_OP_PONG, p, n);
            if (rc == WSG_ERR_NOMEM)
                return fail_with(c, rc, "out of memory", now_ms, ev);
            if (rc == WSG_ERR_RANDOM)
                return fail_with(c, rc, "random source failed", now_ms, ev);
        }
        ev->type = WSG_EV_PING;
        break;
    case WSG_OP_PONG:
        c->st.pongs_in++;
        ev->type = WSG_EV_PONG;
        break;
    default: { /* WSG_OP_CLOSE, 5.5.1 */
        uint16_t code = WSG_CLOSE_NO_STATUS;
        if (n == 1)
            return fail_with(c, WSG_ERR_PROTOCOL,
                             "close frame with 1-byte payload", now_ms, ev);
        if (n >= 2) {
            code = (uint16_t)((p[0] << 8) | p[1]);
            /* 7.4: 0-999, 1004-1006, 1015, 1016-2999, 5000+ (T12). */
            if (!wsg_close_code_is_sendable(code)) {
                wsg__why_set(&c->why, WSG_ERR_PROTOCOL, "invalid close code ");
                wsg__why_add_u64(&c->why, code);
                return conn_fail(c, now_ms, ev);
            }
            /* 5.5.1: the reason is UTF-8. */
            if (!wsg_utf8_valid(p + 2, n - 2))
                return fail_with(c, WSG_ERR_INVALID_UTF8,
                                 "invalid UTF-8 in close reason", now_ms, ev);
        }
        c->close_rcvd = true;
        c->code_rcvd = code;
        if (!c->close_queued) {
            /* Echo the code (an empty Close for an empty one). */
            int rc = wsg__conn_queue_close(c, n >= 2 ? code : 0, NULL, 0);
            if (rc != WSG_OK)
                return fail_with(c, rc, "random source failed", now_ms, ev);
            wsg__conn_arm_deadline(c, now_ms);
        }
        ev->type = WSG_EV_CLOSE;
        ev->opcode = WSG_OP_CLOSE;
        ev->close_code = code;
        ev->reason = n >= 2 ? (const char *)p + 2 : "";
        ev->reason_len = n >= 2 ? n - 2 : 0;
        return WSG_OK;
    }
    }
    ev->opcode = (enum wsg_opcode)c->fr.op;
    ev->data = n ? p : empty_payload;
    ev->len = n;
    return WSG_OK;
}

/* ---- data frames (sections 5.4, 5.6) ----------------------------------- */

/* Unmasks in place and, for text, validates: one pass (T11: fail fast). */
static int payload_pass(struct wsg_conn *c, uint8_t *p, size_t n)
{
    if (c->msg_op == WSG_OP_TEXT) {
        if (c->fr.masked)
            c->rx_utf8 = wsg__unmask_utf8(p, n, c->fr.key, c->koff, c->rx_utf8);
        else
            c->rx_utf8 = wsg__utf8_run(c->rx_utf8, p, n);
        if (c->rx_utf8 == WSG__UTF8_REJECT) {
            wsg__why_set(&c->why, WSG_ERR_INVALID_UTF8,
                         "invalid UTF-8 in text message");
            return WSG_ERR_INVALID_UTF8;
        }
    } else if (c->fr.masked) {
        wsg_mask(p, n, c->fr.key, c->koff);
    }
    c->koff = (c->koff + n) & 3u;
    return WSG_OK;
}

/* The final frame of a message ended: the text must end on a code point. */
static int message_end(struct wsg_conn *c)
{
    c->in_msg = false;
    if (c->msg_op == WSG_OP_TEXT && c->rx_utf8 != WSG__UTF8_ACCEPT) {
        wsg__why_set(&c->why, WSG_ERR_INVALID_UTF8,
                     "incomplete UTF-8 at end of text message");
        return WSG_ERR_INVALID_UTF8;
    }
    c->st.messages_in++;
    return WSG_OK;
}

static void set_data_event(struct wsg_conn *c, struct wsg_event *ev,
                           enum wsg_event_type type, const uint8_t *p,
                           size_t n, bool fin)
{
    ev->type = type;
    ev->opcode = (enum wsg_opcode)c->msg_op;
    ev->rsv = c->msg_rsv;
    ev->data = n ? p : empty_payload;
    ev->len = n;
    if (type == WSG_EV_FRAGMENT) {
        ev->first = c->stream_first;
        ev->fin = fin;
        c->stream_first = false;
    } else {
        ev->first = true;
        ev->fin = true;
    }
}

static int msg_grow(struct wsg_conn *c, size_t n)
{
    size_t need = c->msg_len + n; /* <= max_message: checked at the header */
    if (need <= c->msg_cap)
        return WSG_OK;
    size_t cap = c->msg_cap ? c->msg_cap : 1024;
    while (cap < need && cap <= SIZE_MAX / 2)
        cap *= 2;
    if (cap < need)
        cap = need;
    if (cap > c->cfg.max_message)
        cap = need > c->cfg.max_message ? need : (size_t)c->cfg.max_message;
    uint8_t *b = wsg__realloc(&c->alloc, c->msg_buf, c->msg_len, cap);
    if (!b)
        return WSG_ERR_NOMEM;
    c->msg_buf = b;
    c->msg_cap = cap;
    return WSG_OK;
}

static int rx_data(struct wsg_conn *c, uint8_t *data, size_t len, size_t *pos,
                   uint64_t now_ms, struct wsg_event *ev)
{
    size_t n = len - *pos;
    if (n > c->rem)
        n = (size_t)c->rem;
    uint8_t *p = data + *pos;
    bool whole = c->fr.op != WSG_OP_CONTINUATION && c->fr.fin &&
                 c->rem == c->fr.len && n == c->rem;

    if (c->cfg.delivery == WSG_DELIVER_STREAM || whole) {
        /* In place, no copy: the event borrows the caller's buffer. */
        *pos += n;
        c->rem -= n;
        if (payload_pass(c, p, n) != WSG_OK)
            return conn_fail(c, now_ms, ev);
        bool end = c->rem == 0 && c->fr.fin;
        if (c->rem == 0)
            c->rx = WSG__RX_HEADER;
        if (end && message_end(c) != WSG_OK)
            return conn_fail(c, now_ms, ev);
        set_data_event(c, ev, whole && c->cfg.delivery == WSG_DELIVER_MESSAGE
                                  ? WSG_EV_MESSAGE : WSG_EV_FRAGMENT,
                       p, n, end);
        return WSG_OK;
    }
    /* Assemble: grows only with bytes that arrived, up to max_message. */
    if (msg_grow(c, n) != WSG_OK)
        return fail_with(c, WSG_ERR_NOMEM, "out of memory", now_ms, ev);
    uint8_t *dst = c->msg_buf + c->msg_len;
    memcpy(dst, p, n);
    *pos += n;
    c->rem -= n;
    c->msg_len += n;
    if (payload_pass(c, dst, n) != WSG_OK)
        return conn_fail(c, now_ms, ev);
    if (c->rem != 0)
        return WSG_OK;
    c->rx = WSG__RX_HEADER;
    if (!c->fr.fin)
        return WSG_OK;
    if (message_end(c) != WSG_OK)
        return conn_fail(c, now_ms, ev);
    set_data_event(c, ev, WSG_EV_MESSAGE, c->msg_buf, c->msg_len, true);
    c->msg_release = true;
    return WSG_OK;
}

static int rx_control(struct wsg_conn *c, const uint8_t *data, size_t len,
                      size_t *pos, uint64_t now_ms, struct wsg_event *ev)
{
    size_t n = len - *pos;
    if (n > c->rem)
        n = (size_t)c->rem;
    uint8_t *dst = c->ctrl + c->ctrl_len;
    memcpy(dst, data + *pos, n);
    if (c->fr.masked)
        c->koff = wsg_mask(dst, n, c->fr.key, c->koff);
    c->ctrl_len = (uint8_t)(c->ctrl_len + n);
    c->rem -= n;
    *pos += n;
    if (c->rem == 0)
        return control_done(c, now_ms, ev);
    return WSG_OK;
}

/* ---- headers (section 5.2) ------------------------------------------------ */

/* The header is complete: set up the payload, or finish an empty frame. */
static int frame_start(struct wsg_conn *c, uint64_t now_ms,
                       struct wsg_event *ev)
{
    uint8_t b0 = c->hbuf[0], b1 = c->hbuf[1];
    struct wsg__frame *f = &c->fr;

    f->fin = (b0 & 0x80u) != 0;
    f->rsv = b0 & 0x70u;
    f->op = b0 & 0x0Fu;
    f->masked = (b1 & 0x80u) != 0;
    if (f->masked)
        memcpy(f->key, c->hbuf + c->hlen - 4, 4);
    c->hlen = 0;
    c->hstage = 0;
    c->st.frames_in++;
    c->rem = f->len;
    c->koff = 0;
    c->rx = WSG__RX_PAYLOAD;

    if (wsg__op_is_control(f->op)) {
        c->ctrl_len = 0;
        return c->rem == 0 ? control_done(c, now_ms, ev) : WSG_OK;
    }
    if (f->op != WSG_OP_CONTINUATION) {
        c->in_msg = true;
        c->stream_first = true;
        c->msg_op = f->op;
        c->msg_rsv = f->rsv;
        c->msg_frags = 0;
        c->msg_total = 0;
        c->msg_len = 0;
        c->rx_utf8 = WSG__UTF8_ACCEPT;
    }
    c->msg_frags++;
    c->msg_total += f->len;
    if (c->rem != 0)
        return WSG_OK;

    /* An empty data frame still produces the right events. */
    c->rx = WSG__RX_HEADER;
    if (f->fin && message_end(c) != WSG_OK)
        return conn_fail(c, now_ms, ev);
    if (c->cfg.delivery == WSG_DELIVER_STREAM) {
        set_data_event(c, ev, WSG_EV_FRAGMENT, NULL, 0, f->fin);
    } else if (f->fin) {
        set_data_event(c, ev, WSG_EV_MESSAGE, c->msg_buf, c->msg_len, true);
        c->msg_release = true;
    }
    return WSG_OK;
}

/* Collects header bytes and checks them as soon as each part is known, in a
 * fixed order, so the verdict is the same however the input is split. */
static int rx_header(struct wsg_conn *c, const uint8_t *data, size_t len,
                     size_t *pos, uint64_t now_ms, struct wsg_event *ev)
{
    for (;;) {
        size_t want = c->hstage < 2 ? 2 : wsg__frame_header_size(c->hbuf[1]);
        size_t n = want - c->hlen;
        if (n > len - *pos)
            n = len - *pos;
        memcpy(c->hbuf + c->hlen, data + *pos, n);
        c->hlen = (uint8_t)(c->hlen + n);
        *pos += n;

        if (c->hstage == 0 && c->hlen >= 1) {
            if (wsg__frame_check_b0(c->hbuf[0], c->cfg.rsv_allowed, c->in_msg,
                                    &c->why) != WSG_OK)
                return conn_fail(c, now_ms, ev);
            c->hstage = 1;
        }
        if (c->hstage == 1 && c->hlen >= 2) {
            if (wsg__frame_check_b1(c->hbuf[0], c->hbuf[1], c->cfg.role,
                                    &c->why) != WSG_OK)
                return conn_fail(c, now_ms, ev);
            c->hstage = 2;
        }
        if (c->hstage == 2 &&
            c->hlen >= 2 + wsg__frame_ext_size(c->hbuf[1])) {
            uint8_t op = c->hbuf[0] & 0x0Fu;
            bool cont = op == WSG_OP_CONTINUATION;
            if (wsg__frame_decode_len(c->hbuf, &c->fr.len, &c->why) != WSG_OK)
                return conn_fail(c, now_ms, ev);
            if (!wsg__op_is_control(op) &&
                wsg__frame_check_limits(c->fr.len, c->cfg.max_frame,
                                        c->cfg.max_message,
                                        c->cfg.max_fragments,
                                        cont ? c->msg_total : 0,
                                        cont ? c->msg_frags : 0,
                                        &c->why) != WSG_OK)
                return conn_fail(c, now_ms, ev);
            c->hstage = 3;
        }
        if (c->hstage == 3 && c->hlen == wsg__frame_header_size(c->hbuf[1]))
            return frame_start(c, now_ms, ev);
        if (c->hstage >= 2 && want == 2)
            continue; /* the size is known now: collect the rest */
        return WSG_OK;
    }
}

int wsg_conn_feed(struct wsg_conn *c, uint8_t *data, size_t len,
                  uint64_t now_ms, size_t *consumed, struct wsg_event *ev)
{
    if (consumed)
        *consumed = 0;
    if (ev)
        memset(ev, 0, sizeof *ev);
    if (!c || !consumed || !ev || (!data && len))
        return WSG_ERR_INVALID_ARG;
    ev->type = WSG_EV_NONE;
    /* After a failure or a timeout: sticky, discard. After the peer's
     * Close: discard (5.5.1: nothing follows a Close). */
    if (c->failed || c->timed_out) {
        *consumed = len;
        return WSG_ERR_CLOSED;
    }
    if (c->close_rcvd) {
        *consumed = len;
        return WSG_OK;
    }
    if (c->msg_release) {
        c->msg_release = false;
        c->msg_len = 0;
        if (c->msg_cap > MSG_KEEP) {
            wsg__free(&c->alloc, c->msg_buf);
            c->msg_buf = NULL;
            c->msg_cap = 0;
        }
    }

    size_t pos = 0;
    int rc = WSG_OK;
    while (pos < len && ev->type == WSG_EV_NONE && rc == WSG_OK) {
        if (c->rx == WSG__RX_HEADER)
            rc = rx_header(c, data, len, &pos, now_ms, ev);
        else if (wsg__op_is_control(c->fr.op))
            rc = rx_control(c, data, len, &pos, now_ms, ev);
        else
            rc = rx_data(c, data, len, &pos, now_ms, ev);
    }
    c->st.bytes_in += pos;
    *consumed = rc == WSG_OK ? pos : len;
    return rc;
}

/* ---- state ---------------------------------------------------------------- */

enum wsg_conn_state wsg_conn_state(const struct wsg_conn *c)
{
    if (c->timed_out)
        return WSG_STATE_CLOSED;
    if (c->failed)
        return c->out.pending ? WSG_STATE_CLOSING : WSG_STATE_CLOSED;
    if (c->close_queued && c->close_rcvd)
        return c->out.pending ? WSG_STATE_CLOSING : WSG_STATE_CLOSED;
    if (c->close_queued || c->close_rcvd)
        return WSG_STATE_CLOSING;
    return WSG_STATE_OPEN;
}

bool wsg_conn_should_close_transport(const struct wsg_conn *c)
{
    return c->timed_out ||
           (wsg_conn_state(c) == WSG_STATE_CLOSED && c->out.pending == 0);
}

void wsg__conn_arm_deadline(struct wsg_conn *c, uint64_t now_ms)
{
    uint64_t d = now_ms + c->cfg.close_timeout_ms;
    if (d < now_ms)
        d = UINT64_MAX;
    if (!c->deadline_armed || d < c->deadline)
        c->deadline = d;
    c->deadline_armed = true;
}

int wsg_conn_tick(struct wsg_conn *c, uint64_t now_ms)
{
    if (c->timed_out)
        return WSG_ERR_TIMEOUT;
    if (!c->deadline_armed || wsg_conn_should_close_transport(c))
        return WSG_OK;
    if (now_ms < c->deadline)
        return WSG_OK;
    c->timed_out = true; /* 7.1.1: give up on the close handshake */
    return WSG_ERR_TIMEOUT;
}

uint64_t wsg_conn_next_deadline(const struct wsg_conn *c)
{
    if (!c->deadline_armed || c->timed_out ||
        wsg_conn_should_close_transport(c))
        return UINT64_MAX;
    return c->deadline;
}

uint16_t wsg_conn_close_sent(const struct wsg_conn *c)
{
    return c->code_sent;
}

uint16_t wsg_conn_close_received(const struct wsg_conn *c)
{
    return c->code_rcvd;
}

void wsg_conn_get_stats(const struct wsg_conn *c, struct wsg_conn_stats *st)
{
    *st = c->st;
}
