/* Fuzz harness: the frame parser (wsg_conn_feed) in one role, chosen at
 * build time with -DFUZZ_ROLE=WSG_ROLE_SERVER or WSG_ROLE_CLIENT.
 *
 * Input: 5 config bytes, then wire bytes.
 *   b0  bit0 DELIVER_STREAM, bit1 auto_pong off, bit2 RSV1 negotiated,
 *       bit3 interleave our own sends/pings/close/ticks, bits4-7 chunking
 *   b1  max_frame (low nibble), max_message (high nibble): small limits
 *       reach the 1009 paths
 *   b2  max_fragments (low nibble), max_output (high nibble)
 *   b3  seed for chunk sizes and actions
 *   b4  0xE0-0xFF: fail allocation number b4-0xDF; else no failure
 * Without bit0, bit3 and b4's failure, the events are also compared with
 * model.c, a reference model of RFC 6455 framing.
 * The wire bytes also drive differential checks of wsg_utf8_*, wsg_mask
 * and wsg_frame_header_write against simple reference code. */
#include "conn_drive.h"

#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_ROLE
#error "build with -DFUZZ_ROLE=WSG_ROLE_SERVER or WSG_ROLE_CLIENT"
#endif

static const uint64_t kSizes[16] = {
    1u << 20, 1, 2, 16, 100, 125, 126, 127, 128, 1000, 4096, 65535, 65536,
    65537, 7, 300,
};
static const uint32_t kFrags[16] = {
    1024, 1, 2, 3, 4, 5, 8, 16, 64, 100, 1000, 1025, 6, 7, 9, 1u << 20,
};
static const size_t kOutput[16] = {
    4u << 20, 1, 2, 14, 16, 64, 127, 128, 200, 1024, 4096, 65536, 8, 3,
    500, 1u << 20,
};

static void check_utf8(const uint8_t *p, size_t n, uint8_t seed)
{
    bool ref = fuzz_utf8_valid(p, n);
    FUZZ_CHECK(wsg_utf8_valid(p, n) == ref, "wsg_utf8_valid(%zu bytes) != %d",
               n, ref);
    /* incremental, split in three at varied places: fails at the piece
     * that holds the first bad byte, not later (fail fast, T11) */
    size_t cut1 = n ? (size_t)seed % (n + 1) : 0;
    size_t cut2 = cut1 + (n - cut1) / 2;
    size_t cuts[4] = {0, cut1, cut2, n};
    struct fuzz_utf8 r = {0, 0, 0};
    size_t bad = fuzz_utf8_first_bad(&r, p, n);
    struct wsg_utf8 u = WSG_UTF8_INIT;
    for (int i = 0; i < 3; i++) {
        size_t a = cuts[i], b = cuts[i + 1];
        bool ok = wsg_utf8_feed(&u, p + a, b - a);
        bool ref_ok = bad >= b;
        FUZZ_CHECK(ok == ref_ok || (b == a && bad == a),
                   "wsg_utf8_feed piece [%zu,%zu) = %d, first bad byte %zu",
                   a, b, ok, bad);
        if (!ok)
            return;
    }
    FUZZ_CHECK(wsg_utf8_complete(&u) == (r.need == 0),
               "wsg_utf8_complete = %d", wsg_utf8_complete(&u));
}

static void check_mask(const uint8_t *p, size_t n, const uint8_t key[4],
                       uint8_t seed)
{
    if (n > 1024)
        n = 1024;
    size_t align = seed & 7, koff = (seed >> 3) & 3;
    uint8_t *buf = malloc(n + 8), *ref = malloc(n + 1);
    if (!buf || !ref)
        abort();
    memcpy(buf + align, p, n);
    for (size_t i = 0; i < n; i++)
        ref[i] = p[i] ^ key[(koff + i) & 3];
    size_t cut = n / 3;
    size_t k = wsg_mask(buf + align, cut, key, koff);
    FUZZ_CHECK(k == ((koff + cut) & 3), "wsg_mask returned offset %zu", k);
    k = wsg_mask(buf + align + cut, n - cut, key, k);
    FUZZ_CHECK(k == ((koff + n) & 3), "wsg_mask returned offset %zu", k);
    FUZZ_CHECK(memcmp(buf + align, ref, n) == 0, "wsg_mask differs");
    free(buf);
    free(ref);
}

static void check_header_write(const uint8_t *p, size_t n)
{
    uint8_t in[10] = {0};
    memcpy(in, p, n < 10 ? n : 10);
    static const enum wsg_opcode ops[6] = {
        WSG_OP_CONTINUATION, WSG_OP_TEXT, WSG_OP_BINARY,
        WSG_OP_CLOSE, WSG_OP_PING, WSG_OP_PONG,
    };
    enum wsg_opcode op = ops[in[0] % 6];
    bool fin = in[0] & 0x80, masked = in[0] & 0x40;
    uint8_t rsv = in[1] & 0x70;
    uint64_t len = 0;
    for (int i = 2; i < 10; i++)
        len = len << 8 | in[i];
    len >>= (in[1] & 7) * 8; /* small lengths too */
    len &= 0x7FFFFFFFFFFFFFFFull;
    uint8_t key[4] = {in[2], in[3], in[4], in[5]};
    uint8_t out[WSG_FRAME_HEADER_MAX + 4], ref[WSG_FRAME_HEADER_MAX];
    memset(out, 0xEE, sizeof out);
    size_t rn = 0;
    ref[rn++] = (uint8_t)((fin ? 0x80 : 0) | rsv | (uint8_t)op);
    uint8_t mbit = masked ? 0x80 : 0;
    if (len < 126) {
        ref[rn++] = mbit | (uint8_t)len;
    } else if (len < 65536) {
        ref[rn++] = mbit | 126;
        ref[rn++] = (uint8_t)(len >> 8);
        ref[rn++] = (uint8_t)len;
    } else {
        ref[rn++] = mbit | 127;
        for (int s = 56; s >= 0; s -= 8)
            ref[rn++] = (uint8_t)(len >> s);
    }
    if (masked)
        for (int i = 0; i < 4; i++)
            ref[rn++] = key[i];
    size_t hn = wsg_frame_header_write(out, op, fin, rsv, len,
                                       masked ? key : NULL);
    FUZZ_CHECK(hn == rn && memcmp(out, ref, rn) == 0,
               "wsg_frame_header_write(len %llu) wrote %zu bytes, want %zu",
               (unsigned long long)len, hn, rn);
    for (size_t i = WSG_FRAME_HEADER_MAX; i < sizeof out; i++)
        FUZZ_CHECK(out[i] == 0xEE, "header write past 14 bytes");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint8_t b0 = fuzz_in_byte(&in), b1 = fuzz_in_byte(&in);
    uint8_t b2 = fuzz_in_byte(&in), b3 = fuzz_in_byte(&in);
    uint8_t b4 = fuzz_in_byte(&in);

    struct fuzz_conn_opts o;
    memset(&o, 0, sizeof o);
    wsg_conn_config_init_default(&o.cfg);
    o.cfg.role = FUZZ_ROLE;
    o.cfg.delivery = (b0 & 1) ? WSG_DELIVER_STREAM : WSG_DELIVER_MESSAGE;
    o.cfg.auto_pong = !(b0 & 2);
    o.cfg.rsv_allowed = (b0 & 4) ? WSG_RSV1 : 0;
    o.actions = (b0 & 8) != 0;
    o.max_chunk = fuzz_chunk_max(b0 >> 4);
    o.cfg.max_frame = kSizes[b1 & 15];
    o.cfg.max_message = kSizes[b1 >> 4];
    o.cfg.max_fragments = kFrags[b2 & 15];
    o.cfg.max_output = kOutput[b2 >> 4];
    o.seed = b3;
    o.alloc_fail_at = b4 >= 0xE0 ? (unsigned long)(b4 - 0xDF) : 0;

    uint8_t key[4] = {b1, b2, b3, b4};
    check_utf8(in.p, in.n, b3);
    check_mask(in.p, in.n, key, b3);
    check_header_write(in.p, in.n);

    /* the reference model covers message delivery without our own sends
     * or failing allocations */
    struct fuzz_recording rec = {NULL, 0, 0};
    bool model = o.cfg.delivery == WSG_DELIVER_MESSAGE && !o.actions &&
                 !o.alloc_fail_at;
    if (model)
        o.rec = &rec;
    fuzz_conn_run(&o, in.p, in.n);
    if (model)
        fuzz_model_check(&o.cfg, in.p, in.n, &rec);
    fuzz_recording_free(&rec);
    return 0;
}
