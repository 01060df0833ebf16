/* The send side: framing messages and control frames into the output queue
 * (masked with a fresh key per frame in the client role, RFC 6455 section
 * 5.3), the closing handshake (section 7) and lending the output. */
#include <string.h>

#include "core/conn.h"
#include "core/utf8.h"

static size_t header_size(const struct wsg_conn *c, size_t len)
{
    size_t n = 2;
    if (len >= 126)
        n += len <= 0xFFFFu ? 2 : 8;
    if (c->cfg.role == WSG_ROLE_CLIENT)
        n += 4;
    return n;
}

/* The budget counts both the wire bytes pending and the bytes the queue
 * allocated (chunks, segment structs, borrowed headers), so no mix of
 * copied, borrowed and control frames holds more memory than the budget
 * plus one chunk (WSG__OUTQ_SLACK; H12, T12). `wire` is the frame's size,
 * `cost` what queuing it allocates. Data may fill the budget; one data
 * frame may always go out alone, so a frame larger than the budget is not
 * refused forever. */
static bool fits(const struct wsg_conn *c, size_t wire, size_t cost,
                 size_t budget, bool data)
{
    size_t p = c->out.pending, m = c->out.mem;
    if (data && p == 0)
        return true;
    size_t mb = budget > SIZE_MAX - WSG__OUTQ_SLACK ? SIZE_MAX
                                                     : budget + WSG__OUTQ_SLACK;
    return p <= budget && wire <= budget - p && m <= mb && cost <= mb - m;
}

static size_t control_budget(const struct wsg_conn *c)
{
    size_t b = c->cfg.max_output;
    return b > SIZE_MAX - WSG__CONTROL_SLACK ? SIZE_MAX : b + WSG__CONTROL_SLACK;
}

/* A fresh masking key for every frame (5.3: "MUST pick a fresh masking key
 * from the set of allowed 32-bit values"; T10). */
static int new_key(struct wsg_conn *c, uint8_t key[4])
{
    if (c->cfg.random.fill(c->cfg.random.ud, key, 4) != 0)
        return WSG_ERR_RANDOM;
    return WSG_OK;
}

/* Queues one frame with a copy of the payload. Nothing is queued on error. */
static int queue_frame(struct wsg_conn *c, enum wsg_opcode op, bool fin,
                       const void *data, size_t len, size_t budget, bool is_data)
{
    bool client = c->cfg.role == WSG_ROLE_CLIENT;
    size_t hsz = header_size(c, len);
    uint8_t key[4];

    if (len > SIZE_MAX - hsz)
        return WSG_ERR_INVALID_ARG;
    if (!fits(c, hsz + len, wsg__outq_cost(&c->out, hsz + len), budget,
              is_data))
        return WSG_ERR_AGAIN;
    if (client && new_key(c, key) != WSG_OK)
        return WSG_ERR_RANDOM;
    uint8_t *p = wsg__outq_reserve(&c->out, hsz + len);
    if (!p)
        return WSG_ERR_NOMEM;
    wsg_frame_header_write(p, op, fin, 0, len, client ? key : NULL);
    if (len) {
        memcpy(p + hsz, data, len);
        if (client)
            wsg_mask(p + hsz, len, key, 0);
    }
    wsg__outq_commit(&c->out, hsz + len);
    c->st.frames_out++;
    return WSG_OK;
}

int wsg__conn_queue_control(struct wsg_conn *c, enum wsg_opcode op,
                       const uint8_t *data, size_t len)
{
    return queue_frame(c, op, true, data, len, control_budget(c), false);
}

int wsg__conn_queue_close(struct wsg_conn *c, uint16_t code, const char *reason,
                     size_t reason_len)
{
    bool client = c->cfg.role == WSG_ROLE_CLIENT;
    uint8_t payload[125];
    size_t n = 0;
    uint8_t key[4];

    if (client && new_key(c, key) != WSG_OK)
        return WSG_ERR_RANDOM;
    if (code) {
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        if (reason_len > 123)
            reason_len = 123;
        if (reason_len)
            memcpy(payload + 2, reason, reason_len);
        n = 2 + reason_len;
    }
    size_t h = wsg_frame_header_write(c->close_buf, WSG_OP_CLOSE, true, 0, n,
                                      client ? key : NULL);
    if (n) {
        memcpy(c->close_buf + h, payload, n);
        if (client)
            wsg_mask(c->close_buf + h, n, key, 0);
    }
    memset(&c->close_seg, 0, sizeof c->close_seg);
    c->close_seg.kind = WSG__SEG_EMBEDDED;
    c->close_seg.ptr = c->close_buf;
    c->close_seg.len = h + n;
    wsg__outq_push(&c->out, &c->close_seg);
    c->close_queued = true;
    c->code_sent = code ? code : WSG_CLOSE_NO_STATUS;
    c->st.frames_out++;
    return WSG_OK;
}

/* ---- data ------------------------------------------------------------------ */

static bool sending_closed(const struct wsg_conn *c)
{
    return c->close_queued || c->failed || c->timed_out;
}

/* Common checks of a data frame; on success *st is the UTF-8 state to keep. */
static int data_checks(struct wsg_conn *c, enum wsg_opcode *op,
                       const void *data, size_t len, bool first, bool fin,
                       uint32_t *st)
{
    if (!c || (!data && len))
        return WSG_ERR_INVALID_ARG;
    if (first && *op != WSG_OP_TEXT && *op != WSG_OP_BINARY)
        return WSG_ERR_INVALID_ARG;
    /* 5.5.1: no data after Close; 5.4: one message at a time. */
    if (sending_closed(c) || c->tx_in_msg != !first)
        return WSG_ERR_STATE;
    if (!first)
        *op = (enum wsg_opcode)c->tx_op_text;
    uint32_t s = first ? WSG__UTF8_ACCEPT : c->tx_utf8;
    if (*op == WSG_OP_TEXT) {
        s = wsg__utf8_run(s, data, len);
        if (s == WSG__UTF8_REJECT || (fin && s != WSG__UTF8_ACCEPT))
            return WSG_ERR_INVALID_ARG;
    }
    *st = s;
    return WSG_OK;
}

static void data_sent(struct wsg_conn *c, enum wsg_opcode op, bool fin,
                      uint32_t st)
{
    c->tx_in_msg = !fin;
    c->tx_op_text = (uint8_t)op;
    c->tx_utf8 = st;
    if (fin)
        c->st.messages_out++;
}

int wsg_conn_send_fragment(struct wsg_conn *c, enum wsg_opcode op,
                           const void *data, size_t len, bool first, bool fin)
{
    uint32_t st;
    int rc = data_checks(c, &op, data, len, first, fin, &st);
    if (rc != WSG_OK)
        return rc;
    rc = queue_frame(c, first ? op : WSG_OP_CONTINUATION, fin, data, len,
                     c->cfg.max_output, true);
    if (rc == WSG_OK)
        data_sent(c, op, fin, st);
    return rc;
}

int wsg_conn_send(struct wsg_conn *c, enum wsg_opcode op, const void *data,
                  size_t len)
{
    return wsg_conn_send_fragment(c, op, data, len, true, true);
}

int wsg_conn_send_borrowed(struct wsg_conn *c, enum wsg_opcode op,
                           const void *data, size_t len, bool first, bool fin,
                           void (*release)(void *ud, const void *data),
                           void *ud)
{
    uint32_t st;

    if (c && c->cfg.role == WSG_ROLE_CLIENT)
        return WSG_ERR_UNSUPPORTED; /* clients must mask: a copy */
    int rc = data_checks(c, &op, data, len, first, fin, &st);
    if (rc != WSG_OK)
        return rc;
    /* The header travels in the segment's own allocation: no chunk. */
    uint8_t hdr[WSG_FRAME_HEADER_MAX];
    size_t hsz = wsg_frame_header_write(hdr, first ? op : WSG_OP_CONTINUATION,
                                        fin, 0, len, NULL);
    if (len > SIZE_MAX - hsz)
        return WSG_ERR_INVALID_ARG;
    if (!fits(c, hsz + len, wsg__outq_borrowed_cost(hsz), c->cfg.max_output,
              true))
        return WSG_ERR_AGAIN;
    struct wsg__seg *s =
        wsg__outq_borrowed_new(&c->out, hdr, hsz, data, len, release, ud);
    if (!s)
        return WSG_ERR_NOMEM;
    wsg__outq_push(&c->out, s);
    c->st.frames_out++;
    data_sent(c, op, fin, st);
    return WSG_OK;
}

/* ---- control --------------------------------------------------------------- */

static int send_control(struct wsg_conn *c, enum wsg_opcode op,
                        const void *data, size_t len)
{
    if (!c || (!data && len) || len > 125)
        return WSG_ERR_INVALID_ARG;
    if (sending_closed(c))
        return WSG_ERR_STATE;
    /* The caller's own control frames are not budgeted (core.h lists no
     * WSG_ERR_AGAIN for them); only automatic pongs are. */
    return queue_frame(c, op, true, data, len, SIZE_MAX, false);
}

int wsg_conn_ping(struct wsg_conn *c, const void *data, size_t len)
{
    return send_control(c, WSG_OP_PING, data, len);
}

int wsg_conn_pong(struct wsg_conn *c, const void *data, size_t len)
{
    return send_control(c, WSG_OP_PONG, data, len);
}

int wsg_conn_close(struct wsg_conn *c, uint16_t code, const char *reason,
                   size_t reason_len, uint64_t now_ms)
{
    if (!c || (!reason && reason_len))
        return WSG_ERR_INVALID_ARG;
    if (code == 0 ? reason_len != 0 : !wsg_close_code_is_sendable(code))
        return WSG_ERR_INVALID_ARG;
    if (sending_closed(c))
        return WSG_ERR_STATE;
    /* 5.5: 125 bytes of payload, 2 for the code; 5.5.1: the reason is
     * UTF-8. Keep the longest prefix of at most 123 bytes that ends on a
     * code point boundary; check every byte sent and the code point the
     * cut falls in (at most 3 bytes past 123); ignore what follows. */
    struct wsg_utf8 u = WSG_UTF8_INIT;
    size_t n = 0;
    for (size_t i = 0; i < reason_len; i++) {
        if (i >= 123 && wsg_utf8_complete(&u))
            break;
        if (!wsg_utf8_feed(&u, (const uint8_t *)reason + i, 1))
            return WSG_ERR_INVALID_ARG;
        if (i < 123 && wsg_utf8_complete(&u))
            n = i + 1;
    }
    if (!wsg_utf8_complete(&u))
        return WSG_ERR_INVALID_ARG;
    int rc = wsg__conn_queue_close(c, code, reason, n);
    if (rc != WSG_OK)
        return rc;
    wsg__conn_arm_deadline(c, now_ms);
    return WSG_OK;
}

/* ---- output ------------------------------------------------------------------ */

size_t wsg_conn_output(struct wsg_conn *c, struct wsg_iovec *iov, size_t max)
{
    if (!c || !iov)
        return 0;
    return wsg__outq_lend(&c->out, iov, max);
}

void wsg_conn_output_consume(struct wsg_conn *c, size_t n)
{
    if (!c)
        return;
    c->st.bytes_out += wsg__outq_consume(&c->out, n);
}

size_t wsg_conn_output_pending(const struct wsg_conn *c)
{
    return c ? c->out.pending : 0;
}
