/* Reference model of RFC 6455 framing; see model.h. Deliberately simple:
 * one pass over the whole input, one byte of UTF-8 at a time. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

enum { C1002 = 1, C1007 = 2, C1009 = 4 };

void fuzz_recording_add(struct fuzz_recording *r, const struct wsg_event *ev)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
        if (!r->ev)
            abort();
    }
    struct fuzz_rec_event *e = &r->ev[r->n++];
    memset(e, 0, sizeof *e);
    e->type = ev->type;
    e->opcode = ev->opcode;
    const void *src = NULL;
    if (ev->type == WSG_EV_CLOSE) {
        e->code = ev->close_code;
        src = ev->reason;
        e->len = ev->reason_len;
    } else if (ev->type == WSG_EV_FAIL) {
        e->code = ev->close_code;
    } else {
        src = ev->data;
        e->len = ev->len;
    }
    e->data = fuzz_dup(src, e->len);
}

void fuzz_recording_free(struct fuzz_recording *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->ev[i].data);
    free(r->ev);
    memset(r, 0, sizeof *r);
}

struct walker {
    const struct fuzz_recording *rec;
    size_t next;
    size_t at; /* wire offset of the frame being modelled, for messages */
};

static const struct fuzz_rec_event *peek(const struct walker *w)
{
    return w->next < w->rec->n ? &w->rec->ev[w->next] : NULL;
}

static unsigned code_bit(uint16_t code)
{
    return code == 1002 ? C1002 : code == 1007 ? C1007 : code == 1009 ? C1009 : 0;
}

static void expect_event(struct walker *w, enum wsg_event_type type,
                         enum wsg_opcode op, const uint8_t *data, size_t len,
                         uint16_t code)
{
    const struct fuzz_rec_event *e = peek(w);
    FUZZ_CHECK(e != NULL, "model: frame at %zu: expected event %d, got none",
               w->at, (int)type);
    FUZZ_CHECK(e->type == type,
               "model: frame at %zu: expected event %d, got %d (code %u)",
               w->at, (int)type, (int)e->type, e->code);
    if (type == WSG_EV_MESSAGE)
        FUZZ_CHECK(e->opcode == op, "model: frame at %zu: opcode %d, want %d",
                   w->at, (int)e->opcode, (int)op);
    if (type == WSG_EV_CLOSE)
        FUZZ_CHECK(e->code == code, "model: close code %u, want %u", e->code,
                   code);
    FUZZ_CHECK(e->len == len && (len == 0 || memcmp(e->data, data, len) == 0),
               "model: frame at %zu: event %d payload differs (%zu bytes, "
               "want %zu)", w->at, (int)type, e->len, len);
    w->next++;
}

/* The core must fail here with one of `codes` (or may go on without an
 * event when `may_not` is set: the input ended inside a header). */
static void expect_fail(struct walker *w, unsigned codes, bool may_not)
{
    const struct fuzz_rec_event *e = peek(w);
    if (!e) {
        FUZZ_CHECK(may_not || codes == 0,
                   "model: frame at %zu must fail (codes mask %u), the core "
                   "accepted it", w->at, codes);
        return;
    }
    FUZZ_CHECK(e->type == WSG_EV_FAIL,
               "model: frame at %zu: expected FAIL (mask %u), got event %d",
               w->at, codes, (int)e->type);
    FUZZ_CHECK(code_bit(e->code) & codes,
               "model: frame at %zu: FAIL with %u, want mask %u (1002=1, "
               "1007=2, 1009=4)", w->at, e->code, codes);
    w->next++;
    FUZZ_CHECK(peek(w) == NULL, "model: events after FAIL");
}

static void expect_end(const struct walker *w)
{
    const struct fuzz_rec_event *e = peek(w);
    FUZZ_CHECK(e == NULL, "model: input ends at a frame boundary or inside a "
               "valid frame, but the core reported event %d (code %u)",
               e ? (int)e->type : 0, e ? e->code : 0);
}

static bool close_code_ok(uint16_t c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
           (c >= 3000 && c <= 4999);
}

void fuzz_model_check(const struct wsg_conn_config *cfg, const uint8_t *wire,
                      size_t n, const struct fuzz_recording *rec)
{
    struct walker w = {rec, 0, 0};
    bool server = cfg->role == WSG_ROLE_SERVER;
    bool in_msg = false;
    int msg_op = 0;
    uint64_t msg_len = 0;
    uint32_t frags = 0;
    struct fuzz_utf8 u = {0, 0, 0};
    uint8_t *msg = malloc(n + 1), *pl = malloc(n + 1);
    if (!msg || !pl)
        abort();
    size_t p = 0;
    for (;;) {
        w.at = p;
        if (p >= n) {
            expect_end(&w);
            break;
        }
        size_t avail = n - p;
        unsigned codes = 0, maybe = 0;
        uint8_t b0 = wire[p];
        bool fin = b0 & 0x80, control = b0 & 0x08;
        int op = b0 & 0x0F;
        if ((b0 & 0x70) & ~(control || op == 0 ? 0 : cfg->rsv_allowed))
            codes |= C1002; /* 5.2: RSV without an extension */
        if ((op >= 3 && op <= 7) || op >= 0xB)
            codes |= C1002; /* reserved opcode */
        if (control && !fin)
            codes |= C1002; /* 5.5: control frames are not fragmented */
        if (op == 0 && !in_msg)
            codes |= C1002; /* 5.4: continuation without a message */
        if ((op == 1 || op == 2) && in_msg)
            codes |= C1002; /* new message inside a fragmented one */
        if (avail < 2) {
            expect_fail(&w, codes, true);
            break;
        }
        uint8_t b1 = wire[p + 1];
        bool masked = b1 & 0x80;
        uint64_t len = b1 & 0x7F;
        if (masked != server)
            codes |= C1002; /* 5.1 */
        if (control && len > 125)
            codes |= C1002; /* 5.5 */
        size_t hl = len == 126 ? 4 : len == 127 ? 10 : 2;
        if (avail < hl) {
            expect_fail(&w, codes, true);
            break;
        }
        if (len == 126) {
            len = (uint64_t)wire[p + 2] << 8 | wire[p + 3];
            if (len < 126)
                codes |= C1002; /* 5.2: minimal encoding */
        } else if (len == 127) {
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | wire[p + 2 + i];
            if (len >> 63)
                codes |= C1002; /* most significant bit must be 0 */
            else if (len < 65536)
                codes |= C1002;
        }
        if (op <= 2) {
            uint64_t base = op == 0 ? msg_len : 0;
            uint32_t fc = (op == 0 ? frags : 0) + 1;
            if (len > cfg->max_frame || len > cfg->max_message ||
                base + len > cfg->max_message || fc > cfg->max_fragments)
                codes |= C1009;
        } else if (control && len <= 125 && len > cfg->max_frame) {
            maybe |= C1009; /* max_frame may or may not cover control */
        }
        if (masked)
            hl += 4;
        if (avail < hl) {
            expect_fail(&w, codes, true);
            break;
        }
        if (codes) {
            expect_fail(&w, codes, false);
            break;
        }
        if (maybe) { /* a 1009 here is fine; other failures come later */
            const struct fuzz_rec_event *e = peek(&w);
            if (e && e->type == WSG_EV_FAIL && (code_bit(e->code) & maybe)) {
                expect_fail(&w, maybe, false);
                break;
            }
        }
        const uint8_t *key = wire + p + hl - 4;
        size_t ps = p + hl;
        size_t have = len < n - ps ? (size_t)len : n - ps;
        for (size_t i = 0; i < have; i++)
            pl[i] = wire[ps + i] ^ (masked ? key[i & 3] : 0);
        if (op == 1)
            memset(&u, 0, sizeof u);
        bool text = op == 1 || (op == 0 && msg_op == 1);
        if (text && fuzz_utf8_first_bad(&u, pl, have) < have) {
            expect_fail(&w, C1007, false); /* fail fast (T11) */
            break;
        }
        if (have < len) {
            expect_end(&w);
            break;
        }
        p = ps + (size_t)len;
        if (op <= 2) {
            if (op != 0) {
                in_msg = true;
                msg_op = op;
                msg_len = 0;
                frags = 0;
            }
            memcpy(msg + msg_len, pl, (size_t)len);
            msg_len += len;
            frags++;
            if (fin) {
                if (text && u.need != 0) {
                    expect_fail(&w, C1007, false);
                    break;
                }
                expect_event(&w, WSG_EV_MESSAGE, (enum wsg_opcode)msg_op, msg,
                             (size_t)msg_len, 0);
                in_msg = false;
            }
        } else if (op == 9 || op == 0xA) {
            expect_event(&w, op == 9 ? WSG_EV_PING : WSG_EV_PONG,
                         (enum wsg_opcode)op, pl, (size_t)len, 0);
        } else { /* Close, 5.5.1 and 7.4 */
            if (len == 1) {
                expect_fail(&w, C1002, false);
                break;
            }
            if (len == 0) {
                expect_event(&w, WSG_EV_CLOSE, WSG_OP_CLOSE, pl, 0, 1005);
            } else {
                uint16_t code = (uint16_t)(pl[0] << 8 | pl[1]);
                unsigned cc = 0;
                if (!close_code_ok(code))
                    cc |= C1002;
                if (!fuzz_utf8_valid(pl + 2, (size_t)len - 2))
                    cc |= C1007;
                if (cc) {
                    expect_fail(&w, cc, false);
                    break;
                }
                expect_event(&w, WSG_EV_CLOSE, WSG_OP_CLOSE, pl + 2,
                             (size_t)len - 2, code);
            }
            expect_end(&w); /* what follows a Close is discarded */
            break;
        }
    }
    free(msg);
    free(pl);
}
