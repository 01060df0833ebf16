/* Frame headers (RFC 6455 section 5.2): writing, and the checks that can be
 * made from the header alone, in a fixed order (first byte, second byte,
 * length, limits) so that the verdict does not depend on how the bytes were
 * split across reads. */
#include <string.h>

#include "core/frame.h"

size_t wsg_frame_header_write(uint8_t *out, enum wsg_opcode op, bool fin,
                              uint8_t rsv, uint64_t len,
                              const uint8_t *mask_key)
{
    size_t n = 2;

    out[0] = (uint8_t)((fin ? 0x80u : 0u) | (rsv & 0x70u) | ((unsigned)op & 0x0Fu));
    out[1] = mask_key ? 0x80u : 0u;
    if (len < 126) {
        out[1] |= (uint8_t)len;
    } else if (len <= 0xFFFFu) {
        out[1] |= 126u;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] |= 127u;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask_key) {
        memcpy(out + n, mask_key, 4);
        n += 4;
    }
    return n;
}

/* ---- reasons: short, bounded, no printf ---------------------------------- */

void wsg__why_add(struct wsg__why *w, const char *text)
{
    while (*text && w->len < sizeof w->text - 1)
        w->text[w->len++] = *text++;
    w->text[w->len] = '\0';
}

void wsg__why_set(struct wsg__why *w, int err, const char *text)
{
    w->err = err;
    w->code = wsg_close_code_for(err);
    w->len = 0;
    w->text[0] = '\0';
    wsg__why_add(w, text);
}

void wsg__why_add_u64(struct wsg__why *w, uint64_t v)
{
    char d[21];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char s[21];
    for (size_t i = 0; i < n; i++)
        s[i] = d[n - 1 - i];
    s[n] = '\0';
    wsg__why_add(w, s);
}

static void why_add_hex(struct wsg__why *w, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    char s[5] = {'0', 'x', hex[(v >> 4) & 0xFu], hex[v & 0xFu], '\0'};
    if (v < 0x10u) {
        s[2] = hex[v];
        s[3] = '\0';
    }
    wsg__why_add(w, s);
}

/* ---- header checks -------------------------------------------------------- */

size_t wsg__frame_ext_size(uint8_t b1)
{
    uint8_t l7 = b1 & 0x7Fu;
    return l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
}

size_t wsg__frame_header_size(uint8_t b1)
{
    return 2 + wsg__frame_ext_size(b1) + ((b1 & 0x80u) ? 4 : 0);
}

int wsg__frame_check_b0(uint8_t b0, uint8_t rsv_allowed, bool in_msg,
                        struct wsg__why *w)
{
    uint8_t op = b0 & 0x0Fu;
    uint8_t rsv = b0 & 0x70u;

    /* 5.2: opcodes 3-7 and B-F are reserved. */
    if ((op >= 0x3 && op <= 0x7) || op >= 0xB) {
        wsg__why_set(w, WSG_ERR_PROTOCOL, "reserved opcode ");
        why_add_hex(w, op);
        return w->err;
    }
    /* 5.2: RSV bits MUST be 0 unless an extension defines them. The ones
     * we negotiate do so on the first frame of a data message only (RFC
     * 7692 section 6): never on control or continuation frames (T13). */
    bool first = !wsg__op_is_control(op) && op != WSG_OP_CONTINUATION;
    uint8_t allowed = first ? rsv_allowed : 0;
    if (rsv & ~allowed) {
        wsg__why_set(w, WSG_ERR_PROTOCOL, "reserved bits set ");
        why_add_hex(w, rsv & ~allowed & 0x70u);
        if (rsv & rsv_allowed & ~allowed)
            wsg__why_add(w, wsg__op_is_control(op) ? " on a control frame"
                                                   : " on a continuation");
        return w->err;
    }
    if (wsg__op_is_control(op)) {
        /* 5.5: control frames MUST NOT be fragmented. */
        if (!(b0 & 0x80u)) {
            wsg__why_set(w, WSG_ERR_PROTOCOL, "fragmented control frame");
            return w->err;
        }
        return WSG_OK;
    }
    /* 5.4: continuation only inside a message; no new message inside one. */
    if (op == WSG_OP_CONTINUATION && !in_msg) {
        wsg__why_set(w, WSG_ERR_PROTOCOL, "continuation frame without a message");
        return w->err;
    }
    if (op != WSG_OP_CONTINUATION && in_msg) {
        wsg__why_set(w, WSG_ERR_PROTOCOL,
                     "new data frame inside a fragmented message");
        return w->err;
    }
    return WSG_OK;
}

int wsg__frame_check_b1(uint8_t b0, uint8_t b1, enum wsg_role role,
                        struct wsg__why *w)
{
    bool masked = (b1 & 0x80u) != 0;

    /* 5.1: a server MUST fail on an unmasked frame, a client on a masked
     * one (shared/THREATS.md T10). */
    if (role == WSG_ROLE_SERVER && !masked) {
        wsg__why_set(w, WSG_ERR_MASKING, "unmasked client frame");
        return w->err;
    }
    if (role == WSG_ROLE_CLIENT && masked) {
        wsg__why_set(w, WSG_ERR_MASKING, "masked server frame");
        return w->err;
    }
    /* 5.5: control payloads are at most 125 bytes. */
    if (wsg__op_is_control(b0 & 0x0Fu) && (b1 & 0x7Fu) > 125) {
        wsg__why_set(w, WSG_ERR_PROTOCOL, "control frame over 125 bytes");
        return w->err;
    }
    return WSG_OK;
}

int wsg__frame_decode_len(const uint8_t *h, uint64_t *len, struct wsg__why *w)
{
    uint8_t l7 = h[1] & 0x7Fu;
    uint64_t v = 0;

    if (l7 < 126) {
        *len = l7;
        return WSG_OK;
    }
    if (l7 == 126) {
        v = ((uint64_t)h[2] << 8) | h[3];
        /* 5.2: "the minimal number of bytes MUST be used". */
        if (v < 126) {
            wsg__why_set(w, WSG_ERR_PROTOCOL, "non-minimal length encoding");
            return w->err;
        }
        *len = v;
        return WSG_OK;
    }
    for (int i = 0; i < 8; i++)
        v = (v << 8) | h[2 + i];
    /* 5.2: the most significant bit MUST be 0 (T1). */
    if (v >> 63) {
        wsg__why_set(w, WSG_ERR_PROTOCOL, "64-bit length with the top bit set");
        return w->err;
    }
    if (v <= 0xFFFFu) {
        wsg__why_set(w, WSG_ERR_PROTOCOL, "non-minimal length encoding");
        return w->err;
    }
    *len = v;
    return WSG_OK;
}

int wsg__frame_check_limits(uint64_t len, uint64_t max_frame,
                            uint64_t max_message, uint32_t max_fragments,
                            uint64_t so_far, uint32_t frags,
                            struct wsg__why *w)
{
    /* shared/THREATS.md T2: decided before a byte of payload is kept. */
    if (len > max_frame) {
        wsg__why_set(w, WSG_ERR_TOO_BIG, "frame too big: ");
        wsg__why_add_u64(w, len);
        wsg__why_add(w, " > ");
        wsg__why_add_u64(w, max_frame);
        return w->err;
    }
    if (so_far > max_message || len > max_message - so_far) {
        wsg__why_set(w, WSG_ERR_TOO_BIG, "message too big: ");
        wsg__why_add_u64(w, so_far + len < so_far ? UINT64_MAX : so_far + len);
        wsg__why_add(w, " > ");
        wsg__why_add_u64(w, max_message);
        return w->err;
    }
    /* T3: fragment floods, including empty continuations. */
    if (frags >= max_fragments) {
        wsg__why_set(w, WSG_ERR_TOO_BIG, "too many fragments: ");
        wsg__why_add_u64(w, (uint64_t)frags + 1);
        wsg__why_add(w, " > ");
        wsg__why_add_u64(w, max_fragments);
        return w->err;
    }
    return WSG_OK;
}
