/* UTF-8 validation (RFC 3629 section 4), incremental and fail-fast.
 *
 * A shift DFA: 9 states, each a multiple of 6 below 64, and for every byte a
 * 64-bit row whose 6 bits at offset `s` hold the next state from state `s`:
 * one table load (independent of the state) and one shift per byte, so the
 * dependency chain is a single shift. The transitions are the RFC 3629
 * table, so overlongs (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF)
 * and code points over U+10FFFF (F4 90-BF, F5-FF) lead to the reject state
 * at the byte that makes them so. Reject is shift 0 and every row has 0
 * there, so it is sticky and a block can be checked once at its end.
 * ASCII runs cost one step per word (or nothing, skipped four words at a
 * time, at a code point boundary); the fused unmask pass feeds the DFA from
 * the words it just stored, not from memory. */
#include <string.h>

#include "core/mask.h"
#include "core/utf8.h"

/* States as callers see them (struct wsg_utf8, WSG__UTF8_*): 0 accept;
 * 1-3 need 1-3 more of 80-BF; 4-7 need a restricted first continuation;
 * 8 reject. */
enum { S_ACC = 0, S_C1, S_C2, S_C3, S_E0, S_ED, S_F0, S_F4, S_REJ };

/* The same states as shift amounts (reject is 0). */
#define SH(st) ((st) == S_REJ ? 0u : 6u * ((st) + 1u))
#define I_ACC SH(S_ACC)
#define I_REJ SH(S_REJ)
#define E(from, to) ((uint64_t)SH(to) << SH(from))

/* Rows per byte class; transitions not listed go to reject (0). */
#define R_ASC E(S_ACC, S_ACC) /* 00-7F */
#define R_CONT(l1, l2, l3)                                                    \
    (E(S_C1, S_ACC) | E(S_C2, S_C1) | E(S_C3, S_C2) | (l1) | (l2) | (l3))
#define R_80 R_CONT(E(S_ED, S_C1), E(S_F4, S_C2), 0) /* 80-8F */
#define R_90 R_CONT(E(S_ED, S_C1), E(S_F0, S_C2), 0) /* 90-9F */
#define R_A0 R_CONT(E(S_E0, S_C1), E(S_F0, S_C2), 0) /* A0-BF */
#define R_BAD 0                                      /* C0, C1, F5-FF */
#define R_L2 E(S_ACC, S_C1)                          /* C2-DF */
#define R_E0 E(S_ACC, S_E0)                          /* E0: next A0-BF */
#define R_L3 E(S_ACC, S_C2)                          /* E1-EC, EE-EF */
#define R_ED E(S_ACC, S_ED)                          /* ED: next 80-9F */
#define R_F0 E(S_ACC, S_F0)                          /* F0: next 90-BF */
#define R_L4 E(S_ACC, S_C3)                          /* F1-F3 */
#define R_F4 E(S_ACC, S_F4)                          /* F4: next 80-8F */

#define X4(r) r, r, r, r
#define X16(r) X4(r), X4(r), X4(r), X4(r)

static const uint64_t row[256] = {
    X16(R_ASC), X16(R_ASC), X16(R_ASC), X16(R_ASC), /* 00-3F */
    X16(R_ASC), X16(R_ASC), X16(R_ASC), X16(R_ASC), /* 40-7F */
    X16(R_80), X16(R_90), X16(R_A0), X16(R_A0),     /* 80-BF */
    R_BAD, R_BAD, R_L2, R_L2, X4(R_L2), X4(R_L2), X4(R_L2), /* C0-CF */
    X16(R_L2),                                      /* D0-DF */
    R_E0, R_L3, R_L3, R_L3, X4(R_L3), X4(R_L3),     /* E0-EB */
    R_L3, R_ED, R_L3, R_L3,                         /* EC-EF */
    R_F0, R_L4, R_L4, R_L4, R_F4, R_BAD, R_BAD, R_BAD, /* F0-F7 */
    X4(R_BAD), X4(R_BAD),                           /* F8-FF */
};

static const uint8_t to_shift[S_REJ + 1] = {
    SH(S_ACC), SH(S_C1), SH(S_C2), SH(S_C3), SH(S_E0),
    SH(S_ED),  SH(S_F0), SH(S_F4), SH(S_REJ),
};

/* Back from a shift: state k (not reject) sits at 6 * (k + 1). */
static uint32_t from_shift(uint64_t s)
{
    s &= 63u;
    return s == I_REJ ? S_REJ : (uint32_t)(s / 6u - 1u);
}

#define HIGH_BITS UINT64_C(0x8080808080808080)

/* One step. Only the low 6 bits of `s` are the state; the bits above are
 * left over from the row and ignored (the & 63 costs nothing on targets
 * whose shifts take the count modulo 64). */
#define STEP(s, b) ((s) = row[(b)] >> ((s) & 63u))

/* Bytes of `w` read in memory order, as indices into a word of high bits
 * `m` (not 0): the first and the last with their high bit set. When the
 * byte order is unknown, 0 and 7: always correct, only slower. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                           \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_HIGH(m) ((unsigned)__builtin_ctzll(m) >> 3)
#define LAST_HIGH(m) (7u - ((unsigned)__builtin_clzll(m) >> 3))
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) &&                         \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define FIRST_HIGH(m) ((unsigned)__builtin_clzll(m) >> 3)
#define LAST_HIGH(m) (7u - ((unsigned)__builtin_ctzll(m) >> 3))
#else
#define FIRST_HIGH(m) ((void)(m), 0u)
#define LAST_HIGH(m) ((void)(m), 7u)
#endif

/* Byte k (memory order) of the word `w` loaded from `p`. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BYTE(p, w, k) ((uint8_t)((w) >> (8u * (k))))
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BYTE(p, w, k) ((uint8_t)((w) >> (56u - 8u * (k))))
#else
#define BYTE(p, w, k) ((p)[k])
#endif

/* In the fused pass the bytes are taken from the register just stored
 * (`reg`); reading them back would wait on store forwarding. */
#define AT(p, w, k) (reg ? BYTE(p, w, k) : (p)[k])

#if defined(__GNUC__) && defined(__x86_64__)
#define IN_GPR(x) __asm__("" : "+r"(x))
#else
#define IN_GPR(x) ((void)0)
#endif

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* A run of ASCII bytes acts as one: accept stays accept, any other state
 * rejects. */
#define STEP_ASCII(s) ((s) = R_ASC >> ((s) & 63u))

/* The DFA over one 8-byte word at `p` whose value is `w`. Each ASCII run
 * before the first and after the last non-ASCII byte costs one step; a
 * word with non-ASCII bytes spread over it runs all 8 steps unrolled. */
static ALWAYS_INLINE uint64_t run_word(uint64_t s, const uint8_t *p,
                                       uint64_t w, bool reg)
{
    uint64_t m = w & HIGH_BITS;
    unsigned j, l;

    if (m == 0)
        return STEP_ASCII(s);
    j = FIRST_HIGH(m);
    l = LAST_HIGH(m);
    if (l - j >= 4) {
        STEP(s, AT(p, w, 0u));
        STEP(s, AT(p, w, 1u));
        STEP(s, AT(p, w, 2u));
        STEP(s, AT(p, w, 3u));
        STEP(s, AT(p, w, 4u));
        STEP(s, AT(p, w, 5u));
        STEP(s, AT(p, w, 6u));
        STEP(s, AT(p, w, 7u));
        return s;
    }
    if (j != 0)
        STEP_ASCII(s);
    for (unsigned k = j; k <= l; k++)
        STEP(s, AT(p, w, k));
    if (l != 7)
        STEP_ASCII(s);
    return s;
}

/* The validator on internal states: returns I_REJ as soon as a word ends
 * rejected; after an ASCII word at a boundary, skips ASCII four words at a
 * time. */
static ALWAYS_INLINE uint64_t run(uint64_t s, const uint8_t *p, size_t n)
{
    size_t i = 0;

    while (n - i >= 8) {
        uint64_t a, b;
        memcpy(&a, p + i, 8);
        s = run_word(s, p + i, a, false);
        if ((s & 63u) == I_REJ)
            return I_REJ;
        i += 8;
        if ((a & HIGH_BITS) == 0) { /* so now at accept */
            while (n - i >= 32) {
                uint64_t c, d;
                memcpy(&a, p + i, 8);
                memcpy(&b, p + i + 8, 8);
                memcpy(&c, p + i + 16, 8);
                memcpy(&d, p + i + 24, 8);
                if ((a | b | c | d) & HIGH_BITS)
                    break;
                i += 32;
            }
        }
    }
    for (; i < n; i++)
        STEP(s, p[i]);
    return s & 63u;
}

uint32_t wsg__utf8_run(uint32_t state, const uint8_t *p, size_t n)
{
    if (state >= S_REJ)
        return S_REJ;
    return from_shift(run(to_shift[state], p, n));
}

/* The DFA over 32 bytes just unmasked, from the words still in registers. */
static ALWAYS_INLINE uint64_t run32(uint64_t s, const uint8_t *p, uint64_t w0,
                                    uint64_t w1, uint64_t w2, uint64_t w3)
{
    s = run_word(s, p, w0, true);
    s = run_word(s, p + 8, w1, true);
    s = run_word(s, p + 16, w2, true);
    return run_word(s, p + 24, w3, true);
}

uint32_t wsg__unmask_utf8(uint8_t *p, size_t n, const uint8_t key[4],
                          size_t koff, uint32_t state)
{
    uint64_t k = wsg__key64(key, koff);
    uint64_t s;
    size_t i = 0;

    if (state >= S_REJ)
        return S_REJ;
    s = to_shift[state];
    /* 32 bytes per round: unmask four words, and when at a boundary with
     * all of them ASCII, that is the whole validation. Otherwise validate
     * the 32 bytes just written (still in L1). */
    while (n - i >= 32) {
        /* Separate scalars, not an array: an array round-trips through
         * the stack and stalls store forwarding. */
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p + i, 8);
        memcpy(&w1, p + i + 8, 8);
        memcpy(&w2, p + i + 16, 8);
        memcpy(&w3, p + i + 24, 8);
        w0 ^= k;
        w1 ^= k;
        w2 ^= k;
        w3 ^= k;
        /* Kept in general registers: otherwise GCC pairs the words into
         * vector registers for the stores and extracts them again. */
        IN_GPR(w0);
        IN_GPR(w1);
        IN_GPR(w2);
        IN_GPR(w3);
        memcpy(p + i, &w0, 8);
        memcpy(p + i + 8, &w1, 8);
        memcpy(p + i + 16, &w2, 8);
        memcpy(p + i + 24, &w3, 8);
        if (((w0 | w1 | w2 | w3) & HIGH_BITS) || (s & 63u) != I_ACC) {
            s = run32(s, p + i, w0, w1, w2, w3);
            if ((s & 63u) == I_REJ)
                return S_REJ;
        }
        i += 32;
    }
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= k;
        memcpy(p + i, &w, 8);
        s = run_word(s, p + i, w, true);
        if ((s & 63u) == I_REJ)
            return S_REJ;
        i += 8;
    }
    /* i is a multiple of 8, so the key offset is unchanged here. */
    for (; i < n; i++) {
        p[i] ^= key[(koff + i) & 3u];
        STEP(s, p[i]);
    }
    return from_shift(s);
}

bool wsg_utf8_feed(struct wsg_utf8 *u, const uint8_t *buf, size_t len)
{
    if (len == 0)
        return u->state < S_REJ;
    u->state = wsg__utf8_run(u->state, buf, len);
    return u->state != S_REJ;
}

bool wsg_utf8_complete(const struct wsg_utf8 *u)
{
    return u->state == S_ACC;
}

bool wsg_utf8_valid(const uint8_t *buf, size_t len)
{
    if (len == 0)
        return true;
    return wsg__utf8_run(S_ACC, buf, len) == S_ACC;
}
