/* UTF-8 validation (RFC 3629 section 4), incremental and fail-fast.
 *
 * A byte-class DFA: each byte maps to one of 12 classes, and the state says
 * how many continuation bytes are still due and which range the next one
 * must fall in. The ranges are the RFC 3629 table, so overlongs (C0, C1,
 * E0 80-9F, F0 80-8F), surrogates (ED A0-BF) and code points over U+10FFFF
 * (F4 90-BF, F5-FF) are rejected at the byte that makes them so. Whole
 * 8-byte words of ASCII are skipped at once while at a code point boundary. */
#include <string.h>

#include "core/mask.h"
#include "core/utf8.h"

/* Byte classes. */
enum {
    C_ASC = 0, /* 00-7F */
    C_80 = 1,  /* 80-8F continuation */
    C_90 = 2,  /* 90-9F continuation */
    C_A0 = 3,  /* A0-BF continuation */
    C_BAD = 4, /* C0, C1, F5-FF: never valid */
    C_L2 = 5,  /* C2-DF: 2-byte lead */
    C_E0 = 6,  /* E0: next A0-BF */
    C_L3 = 7,  /* E1-EC, EE-EF: 3-byte lead */
    C_ED = 8,  /* ED: next 80-9F (no surrogates) */
    C_F0 = 9,  /* F0: next 90-BF */
    C_L4 = 10, /* F1-F3: 4-byte lead */
    C_F4 = 11  /* F4: next 80-8F (max U+10FFFF) */
};

/* States: 0 accept; 1-3 need 1-3 more of 80-BF; 4-7 need a restricted
 * first continuation; 8 reject. */
enum { S_ACC = 0, S_C1, S_C2, S_C3, S_E0, S_ED, S_F0, S_F4, S_REJ };

static const uint8_t byte_class[256] = {
    /* 00-7F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 80-8F, 90-9F, A0-BF */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    /* C0-DF */
    4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    /* E0-EF */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 7,
    /* F0-FF */
    9, 10, 10, 10, 11, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

#define R S_REJ
static const uint8_t transition[9][12] = {
    /*          ASC    80     90     A0     BAD  L2    E0    L3    ED    F0    L4    F4 */
    [S_ACC] = {S_ACC, R, R, R, R, S_C1, S_E0, S_C2, S_ED, S_F0, S_C3, S_F4},
    [S_C1] = {R, S_ACC, S_ACC, S_ACC, R, R, R, R, R, R, R, R},
    [S_C2] = {R, S_C1, S_C1, S_C1, R, R, R, R, R, R, R, R},
    [S_C3] = {R, S_C2, S_C2, S_C2, R, R, R, R, R, R, R, R},
    [S_E0] = {R, R, R, S_C1, R, R, R, R, R, R, R, R},
    [S_ED] = {R, S_C1, S_C1, R, R, R, R, R, R, R, R, R},
    [S_F0] = {R, R, S_C2, S_C2, R, R, R, R, R, R, R, R},
    [S_F4] = {R, S_C2, R, R, R, R, R, R, R, R, R, R},
    [S_REJ] = {R, R, R, R, R, R, R, R, R, R, R, R},
};
#undef R

#define HIGH_BITS UINT64_C(0x8080808080808080)

uint32_t wsg__utf8_run(uint32_t state, const uint8_t *p, size_t n)
{
    size_t i = 0;
    uint32_t s = state;

    if (s > S_REJ)
        return S_REJ;
    while (i < n) {
        if (s == S_ACC) {
            /* ASCII fast path: two words per round, then one. */
            while (n - i >= 16) {
                uint64_t a, b;
                memcpy(&a, p + i, 8);
                memcpy(&b, p + i + 8, 8);
                if ((a | b) & HIGH_BITS)
                    break;
                i += 16;
            }
            while (n - i >= 8) {
                uint64_t a;
                memcpy(&a, p + i, 8);
                if (a & HIGH_BITS)
                    break;
                i += 8;
            }
            /* Skip ASCII bytes up to the first non-ASCII one. */
            while (i < n && p[i] < 0x80)
                i++;
            if (i == n)
                break;
        }
        s = transition[s][byte_class[p[i]]];
        if (s == S_REJ)
            return S_REJ;
        i++;
    }
    return s;
}

uint32_t wsg__unmask_utf8(uint8_t *p, size_t n, const uint8_t key[4],
                          size_t koff, uint32_t state)
{
    uint64_t k = wsg__key64(key, koff);
    uint32_t s = state > S_REJ ? S_REJ : state;
    size_t i = 0;

    if (s == S_REJ)
        return S_REJ;
    /* 32 bytes per round: unmask four words, and when at a boundary with
     * all of them ASCII, that is the whole validation. Otherwise run the
     * DFA over the 32 bytes just written (still in L1). */
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
        memcpy(p + i, &w0, 8);
        memcpy(p + i + 8, &w1, 8);
        memcpy(p + i + 16, &w2, 8);
        memcpy(p + i + 24, &w3, 8);
        if (s != S_ACC || ((w0 | w1 | w2 | w3) & HIGH_BITS)) {
            s = wsg__utf8_run(s, p + i, 32);
            if (s == S_REJ)
                return S_REJ;
        }
        i += 32;
    }
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= k;
        memcpy(p + i, &w, 8);
        if (s != S_ACC || (w & HIGH_BITS)) {
            s = wsg__utf8_run(s, p + i, 8);
            if (s == S_REJ)
                return S_REJ;
        }
        i += 8;
    }
    /* i is a multiple of 8, so the key offset is unchanged here. */
    for (; i < n; i++) {
        p[i] ^= key[(koff + i) & 3u];
        s = transition[s][byte_class[p[i]]];
        if (s == S_REJ)
            return S_REJ;
    }
    return s;
}

bool wsg_utf8_feed(struct wsg_utf8 *u, const uint8_t *buf, size_t len)
{
    if (len == 0)
        return u->state != S_REJ;
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
