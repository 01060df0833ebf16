/* H3 signed tokens (v1.<subject>.<expiry>.<signature>, HMAC-SHA256) and
 * wsg_ct_equal. Suite: policy_token. Known answers were computed with
 * Python's hmac/hashlib/base64 (an independent implementation). Every
 * verify also runs from an exact-size heap copy and right before an
 * unreadable page, with the same answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <wsguard/policy.h>

#include "guard_page.h" /* tests/common */

static const uint8_t K1[] = "secret-key-0123456789";
#define K1LEN (sizeof K1 - 1)
static const char T1[] =
    "v1.alice@example.1700000000.DREpA7I89rXc8uDNj4R8CUqiy8XrttU_C63AhYxYweQ";
#define T1EXP 1700000000ull

static enum wsg_token_result verify3(const uint8_t *key, size_t klen,
                                     const char *tok, size_t len,
                                     uint64_t now, uint32_t leeway,
                                     char *subject)
{
    char s2[129], s3[129];
    enum wsg_token_result a =
        wsg_token_verify(key, klen, tok, len, now, leeway, subject);

    char *heap = malloc(len ? len : 1);
    cr_assert(heap);
    if (len)
        memcpy(heap, tok, len);
    enum wsg_token_result b =
        wsg_token_verify(key, klen, heap, len, now, leeway, s2);
    free(heap);

    struct guard_page g;
    const char *gp = guard_page_copy(&g, tok, len);
    enum wsg_token_result c =
        wsg_token_verify(key, klen, gp, len, now, leeway, s3);
    guard_page_free(&g);

    cr_assert_eq(a, b, "%.*s: heap copy differs", (int)len, tok);
    cr_assert_eq(a, c, "%.*s: guard page copy differs", (int)len, tok);
    if (a == WSG_TOKEN_OK && subject) {
        cr_assert_str_eq(subject, s2);
        cr_assert_str_eq(subject, s3);
    }
    return a;
}

static enum wsg_token_result v(const char *tok, uint64_t now)
{
    return verify3(K1, K1LEN, tok, strlen(tok), now, 0, NULL);
}

Test(policy_token, known_answers)
{
    char subj[129];
    cr_expect_eq(verify3(K1, K1LEN, T1, strlen(T1), T1EXP, 0, subj),
                 WSG_TOKEN_OK);
    cr_expect_str_eq(subj, "alice@example");

    static const char t2[] =
        "v1.a.0.cHTSbKaK73SUMPfp3_NYPef8hP6apD0282Zi8AL7DpA";
    cr_expect_eq(verify3((const uint8_t *)"k", 1, t2, strlen(t2), 0, 0, subj),
                 WSG_TOKEN_OK);
    cr_expect_str_eq(subj, "a");

    uint8_t k3[100];
    for (int i = 0; i < 100; i++)
        k3[i] = (uint8_t)i;
    static const char t3[] = "v1.user:42+x=y_z-1.999999999999."
                             "alCHmetKEuLPIabUNhXArvh7gE2RhAKVDjziZ6HpvlA";
    cr_expect_eq(verify3(k3, sizeof k3, t3, strlen(t3), 999999999999ull, 0,
                         subj),
                 WSG_TOKEN_OK);
    cr_expect_str_eq(subj, "user:42+x=y_z-1");

    /* sign reproduces them byte for byte */
    char out[WSG_TOKEN_MAX + 1];
    cr_expect_eq(wsg_token_sign(K1, K1LEN, "alice@example", T1EXP, out,
                                sizeof out),
                 strlen(T1));
    cr_expect_str_eq(out, T1);
    cr_expect_eq(wsg_token_sign(k3, sizeof k3, "user:42+x=y_z-1",
                                999999999999ull, out, sizeof out),
                 strlen(t3));
    cr_expect_str_eq(out, t3);
}

Test(policy_token, round_trip)
{
    static const char *subjects[] = {"a", "alice", "u-1_2@x:y+z=",
                                     "0123456789"};
    static const uint64_t exps[] = {0, 1, 9, 10, 1700000000ull,
                                    999999999999ull};
    char out[WSG_TOKEN_MAX + 1], subj[129];
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 6; j++) {
            size_t n = wsg_token_sign(K1, K1LEN, subjects[i], exps[j], out,
                                      sizeof out);
            cr_assert(n > 0 && n == strlen(out) && n <= WSG_TOKEN_MAX);
            memset(subj, 'x', sizeof subj);
            cr_expect_eq(verify3(K1, K1LEN, out, n, exps[j], 0, subj),
                         WSG_TOKEN_OK, "%s", out);
            cr_expect_str_eq(subj, subjects[i]);
        }
    /* the longest token: 128-byte subject, 12-digit expiry */
    char s128[129];
    memset(s128, 'S', 128);
    s128[128] = 0;
    size_t n = wsg_token_sign(K1, K1LEN, s128, 999999999999ull, out,
                              sizeof out);
    cr_expect_eq(n, 3 + 128 + 1 + 12 + 1 + 43);
    cr_expect_eq(verify3(K1, K1LEN, out, n, 0, 0, subj), WSG_TOKEN_OK);
    cr_expect_str_eq(subj, s128);
    /* exact capacity: n + 1 fits, n does not */
    cr_expect_eq(wsg_token_sign(K1, K1LEN, s128, 999999999999ull, out, n + 1),
                 n);
    cr_expect_eq(wsg_token_sign(K1, K1LEN, s128, 999999999999ull, out, n), 0);
}

Test(policy_token, sign_refusals)
{
    char out[WSG_TOKEN_MAX + 1], s129[130];
    memset(s129, 'a', 129);
    s129[129] = 0;
    cr_expect_eq(wsg_token_sign(K1, K1LEN, "", 1, out, sizeof out), 0);
    cr_expect_eq(wsg_token_sign(K1, K1LEN, s129, 1, out, sizeof out), 0);
    cr_expect_eq(wsg_token_sign(K1, K1LEN, "a.b", 1, out, sizeof out), 0);
    cr_expect_eq(wsg_token_sign(K1, K1LEN, "a b", 1, out, sizeof out), 0);
    cr_expect_eq(wsg_token_sign(K1, K1LEN, "a/b", 1, out, sizeof out), 0);
    cr_expect_eq(wsg_token_sign(K1, K1LEN, NULL, 1, out, sizeof out), 0);
    cr_expect_eq(wsg_token_sign(K1, K1LEN, "a", 1000000000000ull, out,
                                sizeof out), 0);
    cr_expect_eq(wsg_token_sign(K1, 0, "a", 1, out, sizeof out), 0);
    cr_expect_eq(wsg_token_sign(NULL, 5, "a", 1, out, sizeof out), 0);
    cr_expect_eq(wsg_token_sign(K1, K1LEN, "a", 1, NULL, 0), 0);
    cr_expect_eq(wsg_token_sign(K1, K1LEN, "a", 1, out, 0), 0);
}

Test(policy_token, expiry_and_leeway)
{
    cr_expect_eq(v(T1, 0), WSG_TOKEN_OK);
    cr_expect_eq(v(T1, T1EXP), WSG_TOKEN_OK);
    cr_expect_eq(v(T1, T1EXP + 1), WSG_TOKEN_EXPIRED);
    cr_expect_eq(v(T1, UINT64_MAX), WSG_TOKEN_EXPIRED);
    size_t n = strlen(T1);
    cr_expect_eq(verify3(K1, K1LEN, T1, n, T1EXP + 30, 30, NULL),
                 WSG_TOKEN_OK);
    cr_expect_eq(verify3(K1, K1LEN, T1, n, T1EXP + 31, 30, NULL),
                 WSG_TOKEN_EXPIRED);
    /* no overflow in expiry + leeway */
    cr_expect_eq(verify3(K1, K1LEN, T1, n, UINT64_MAX, UINT32_MAX, NULL),
                 WSG_TOKEN_EXPIRED);
    cr_expect_eq(verify3(K1, K1LEN, T1, n, T1EXP + UINT32_MAX, UINT32_MAX,
                         NULL),
                 WSG_TOKEN_OK);
    char out[WSG_TOKEN_MAX + 1];
    n = wsg_token_sign(K1, K1LEN, "x", 999999999999ull, out, sizeof out);
    cr_expect_eq(verify3(K1, K1LEN, out, n, UINT64_MAX, UINT32_MAX, NULL),
                 WSG_TOKEN_EXPIRED);
    /* a forged token is never "expired": the signature comes first */
    cr_expect_eq(v("v1.alice@example.1."
                   "DREpA7I89rXc8uDNj4R8CUqiy8XrttU_C63AhYxYweQ",
                   T1EXP),
                 WSG_TOKEN_BAD_SIGNATURE);
}

/* T1 with byte i replaced by c. */
static enum wsg_token_result v_patched(size_t i, char c, uint64_t now)
{
    char t[sizeof T1];
    memcpy(t, T1, sizeof T1);
    t[i] = c;
    return v(t, now);
}

Test(policy_token, tampering)
{
    size_t sig = strlen(T1) - 43;
    /* subject, expiry and each signature character */
    cr_expect_eq(v_patched(3, 'b', 0), WSG_TOKEN_BAD_SIGNATURE);
    cr_expect_eq(v_patched(3, 'A', 0), WSG_TOKEN_BAD_SIGNATURE);
    cr_expect_eq(v_patched(17, '2', 0), WSG_TOKEN_BAD_SIGNATURE);
    cr_expect_eq(v_patched(26, '1', 0), WSG_TOKEN_BAD_SIGNATURE);
    for (size_t i = sig; i + 1 < strlen(T1); i++) {
        char c = T1[i] == 'A' ? 'B' : 'A';
        cr_expect_eq(v_patched(i, c, 0), WSG_TOKEN_BAD_SIGNATURE, "at %zu",
                     i);
    }
    /* the last character carries 4 bits and 2 zero pad bits: 'Q' = 010000;
     * changing a data bit is a bad MAC, a pad bit is malformed */
    cr_expect_eq(v_patched(strlen(T1) - 1, 'g', 0), WSG_TOKEN_BAD_SIGNATURE);
    cr_expect_eq(v_patched(strlen(T1) - 1, 'R', 0), WSG_TOKEN_MALFORMED);
    cr_expect_eq(v_patched(strlen(T1) - 1, 'S', 0), WSG_TOKEN_MALFORMED);
    cr_expect_eq(v_patched(2, ':', 0), WSG_TOKEN_MALFORMED);
    cr_expect_eq(v_patched(1, '2', 0), WSG_TOKEN_MALFORMED);
}

Test(policy_token, wrong_key)
{
    size_t n = strlen(T1);
    cr_expect_eq(verify3((const uint8_t *)"secret-key-012345678", K1LEN - 1,
                         T1, n, 0, 0, NULL),
                 WSG_TOKEN_BAD_SIGNATURE);
    cr_expect_eq(verify3((const uint8_t *)"Secret-key-0123456789", K1LEN, T1,
                         n, 0, 0, NULL),
                 WSG_TOKEN_BAD_SIGNATURE);
    cr_expect_eq(verify3(K1, 0, T1, n, 0, 0, NULL), WSG_TOKEN_BAD_SIGNATURE);
    cr_expect_eq(verify3(NULL, 0, T1, n, 0, 0, NULL),
                 WSG_TOKEN_BAD_SIGNATURE);
    char subj[129] = "untouched";
    cr_expect_eq(verify3((const uint8_t *)"x", 1, T1, n, 0, 0, subj),
                 WSG_TOKEN_BAD_SIGNATURE);
    cr_expect_str_eq(subj, "untouched");
}

Test(policy_token, malformed)
{
    static const char S[] = "DREpA7I89rXc8uDNj4R8CUqiy8XrttU_C63AhYxYweQ";
    static const char *bad[] = {
        "", "v", "v1", "v1.", "v1..", "v1...", "V1.a.1.x", "v2.a.1.x",
        "v1.a.1", "v1.a..", "v1..1.",
        "v1.alice@example.0123.", /* non-minimal expiry */
        "v1.alice@example.00.",
        "v1.alice@example.-1.",
        "v1.alice@example.+1.",
        "v1.alice@example.1 .",
        "v1.alice@example.1000000000000.", /* 13 digits */
        "v1.alice example.1.",
        "v1.alice/example.1.",
        "v1.alice.example.1.",
        "v1.al%69ce.1.",
        "v1.alice@example.1700000000.x.",
    };
    char t[400];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(v(bad[i], 0), WSG_TOKEN_MALFORMED, "%s", bad[i]);
        snprintf(t, sizeof t, "%s%s", bad[i], S);
        cr_expect_eq(v(t, 0), WSG_TOKEN_MALFORMED, "%s", t);
    }
    cr_expect_eq(v("v1.a.1.", 0), WSG_TOKEN_MALFORMED);
    /* signature: bad base64url characters, padding, lengths */
    static const char *sigs[] = {
        "DREpA7I89rXc8uDNj4R8CUqiy8XrttU/C63AhYxYweQ", /* '/' std b64 */
        "DREpA7I89rXc8uDNj4R8CUqiy8XrttU+C63AhYxYweQ",
        "DREpA7I89rXc8uDNj4R8CUqiy8XrttU_C63AhYxYweQ=",
        "DREpA7I89rXc8uDNj4R8CUqiy8XrttU_C63AhYxYwe=",
        "DREpA7I89rXc8uDNj4R8CUqiy8XrttU_C63AhYxYwe",
        "DREpA7I89rXc8uDNj4R8CUqiy8XrttU_C63AhYxYweQA",
        "DREpA7I89rXc8uDNj4R8CUqiy8XrttU_C63AhYxYweQ.",
        "DREpA7I89rXc8uDNj4R8CUqiy8XrttU C63AhYxYweQ",
        "DREpA7I89rXc8uDNj4R8CUqiy8XrttU\nC63AhYxYweQ",
        "",
    };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        snprintf(t, sizeof t, "v1.alice@example.1700000000.%s", sigs[i]);
        cr_expect_eq(v(t, 0), WSG_TOKEN_MALFORMED, "%s", t);
    }
    /* subject length 128 ok (format), 129 malformed */
    char s[200];
    memset(s, 'a', 129);
    s[129] = 0;
    snprintf(t, sizeof t, "v1.%s.1.%s", s, S);
    cr_expect_eq(v(t, 0), WSG_TOKEN_MALFORMED);
    s[128] = 0;
    snprintf(t, sizeof t, "v1.%s.1.%s", s, S);
    cr_expect_eq(v(t, 0), WSG_TOKEN_BAD_SIGNATURE);
    /* too long overall, and an embedded NUL */
    memset(t, 'a', sizeof t);
    memcpy(t, "v1.", 3);
    cr_expect_eq(verify3(K1, K1LEN, t, WSG_TOKEN_MAX + 1, 0, 0, NULL),
                 WSG_TOKEN_MALFORMED);
    cr_expect_eq(verify3(K1, K1LEN, t, sizeof t, 0, 0, NULL),
                 WSG_TOKEN_MALFORMED);
    memcpy(t, T1, sizeof T1);
    t[5] = 0;
    cr_expect_eq(verify3(K1, K1LEN, t, strlen(T1), 0, 0, NULL),
                 WSG_TOKEN_MALFORMED);
    /* len is honoured: a valid token with trailing bytes, cut to size */
    snprintf(t, sizeof t, "%sjunk", T1);
    cr_expect_eq(verify3(K1, K1LEN, t, strlen(T1), 0, 0, NULL), WSG_TOKEN_OK);
    cr_expect_eq(verify3(K1, K1LEN, t, strlen(t), 0, 0, NULL),
                 WSG_TOKEN_MALFORMED);
    cr_expect_eq(verify3(K1, K1LEN, T1, strlen(T1) - 1, 0, 0, NULL),
                 WSG_TOKEN_MALFORMED);
    cr_expect_eq(wsg_token_verify(K1, K1LEN, NULL, 0, 0, 0, NULL),
                 WSG_TOKEN_MALFORMED);
    cr_expect_eq(wsg_token_verify(K1, K1LEN, NULL, 10, 0, 0, NULL),
                 WSG_TOKEN_MALFORMED);
}

Test(policy_token, every_prefix)
{
    /* no prefix of a valid token verifies; each one is safe to read */
    for (size_t n = 0; n < strlen(T1); n++) {
        enum wsg_token_result r = verify3(K1, K1LEN, T1, n, 0, 0, NULL);
        cr_expect(r == WSG_TOKEN_MALFORMED || r == WSG_TOKEN_BAD_SIGNATURE,
                  "prefix %zu: %d", n, r);
    }
}

Test(policy_token, ct_equal)
{
    uint8_t a[64], b[64];
    for (int i = 0; i < 64; i++)
        a[i] = b[i] = (uint8_t)(i * 7);
    cr_expect(wsg_ct_equal(a, 64, b, 64));
    cr_expect(wsg_ct_equal(a, 0, b, 0));
    cr_expect(wsg_ct_equal(NULL, 0, NULL, 0));
    cr_expect_not(wsg_ct_equal(a, 64, b, 63));
    cr_expect_not(wsg_ct_equal(a, 0, b, 1));
    for (int i = 0; i < 64; i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            cr_expect_not(wsg_ct_equal(a, 64, b, 64), "byte %d bit %d", i,
                          bit);
            b[i] ^= (uint8_t)(1u << bit);
        }
    cr_expect(wsg_ct_equal("abc", 3, "abc", 3));
    cr_expect_not(wsg_ct_equal("abc", 3, "abd", 3));
}
