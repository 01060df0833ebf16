/* Fuzz harness: HMAC-SHA256 signed tokens (H3): wsg_token_verify,
 * wsg_token_sign, wsg_ct_equal.
 *
 * Input: b0 key length (b0 % 40; 0 is an empty key), the key bytes,
 * 5 bytes of now_s, 1 byte of leeway_s, then the token bytes.
 * The token is verified from an exact-size heap copy. Checks: only the
 * four documented results; an accepted token is the one wsg_token_sign
 * makes for its subject and expiry (one spelling per token) and fails with
 * any other key; EXPIRED only when now > expiry + leeway and the MAC is
 * right; the token bytes, used as a subject, sign and verify when (and
 * only when) they are a valid subject. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include <wsguard/policy.h>

static bool subject_ok(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr("_@:+=-", c)) || c == 0)
            return false;
    }
    return true;
}

static enum wsg_token_result verify(const uint8_t *key, size_t klen,
                                    const char *t, size_t n, uint64_t now,
                                    uint32_t leeway, char *subject)
{
    uint8_t *d = fuzz_dup((const uint8_t *)t, n);
    enum wsg_token_result r =
        wsg_token_verify(key, klen, (const char *)d, n, now, leeway, subject);
    free(d);
    FUZZ_CHECK(r == WSG_TOKEN_OK || r == WSG_TOKEN_MALFORMED ||
                   r == WSG_TOKEN_BAD_SIGNATURE || r == WSG_TOKEN_EXPIRED,
               "verify: %d", (int)r);
    return r;
}

/* Subject and expiry of a well-formed token (verify said it is). */
static void fields(const char *t, size_t n, char *subj, uint64_t *exp)
{
    const char *d1 = memchr(t + 3, '.', n - 3);
    FUZZ_CHECK(d1, "no subject end");
    size_t sl = (size_t)(d1 - (t + 3));
    FUZZ_CHECK(subject_ok(t + 3, sl), "bad subject accepted");
    memcpy(subj, t + 3, sl);
    subj[sl] = 0;
    *exp = 0;
    const char *p = d1 + 1;
    for (; *p != '.'; p++) {
        FUZZ_CHECK(*p >= '0' && *p <= '9', "bad expiry accepted");
        *exp = *exp * 10 + (uint64_t)(*p - '0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint8_t key[40];
    size_t klen = fuzz_in_byte(&in) % 40;
    for (size_t i = 0; i < klen; i++)
        key[i] = fuzz_in_byte(&in);
    uint64_t now = 0;
    for (int i = 0; i < 5; i++)
        now = now << 8 | fuzz_in_byte(&in);
    uint32_t leeway = fuzz_in_byte(&in);
    const char *tok = (const char *)in.p;
    size_t n = in.n;
    char subj[129], subj2[129], again[WSG_TOKEN_MAX + 1];

    memset(subj, 0x7F, sizeof subj);
    enum wsg_token_result r = verify(klen ? key : NULL, klen, tok, n, now,
                                     leeway, subj);
    if (r != WSG_TOKEN_MALFORMED) {
        FUZZ_CHECK(n <= WSG_TOKEN_MAX && n > 3 && memcmp(tok, "v1.", 3) == 0,
                   "well-formed but not v1.");
        uint64_t exp;
        fields(tok, n, subj2, &exp);
        if (r == WSG_TOKEN_OK)
            FUZZ_CHECK(strcmp(subj, subj2) == 0, "subject %s != %s", subj,
                       subj2);
        if (klen > 0) {
            size_t m = wsg_token_sign(key, klen, subj2, exp, again,
                                      sizeof again);
            FUZZ_CHECK(m > 0, "sign refused a verified subject");
            bool same = m == n && memcmp(again, tok, n) == 0;
            FUZZ_CHECK(same == (r != WSG_TOKEN_BAD_SIGNATURE),
                       "result %d but re-signed token %s", (int)r,
                       same ? "equal" : "differs");
        } else {
            FUZZ_CHECK(r == WSG_TOKEN_BAD_SIGNATURE, "empty key: %d", (int)r);
        }
        bool late = now > exp && now - exp > leeway;
        if (r == WSG_TOKEN_EXPIRED)
            FUZZ_CHECK(late, "expired at %llu, expiry %llu",
                       (unsigned long long)now, (unsigned long long)exp);
        if (r == WSG_TOKEN_OK) {
            FUZZ_CHECK(!late, "late token accepted");
            key[klen - 1] ^= 1;
            FUZZ_CHECK(verify(key, klen, tok, n, now, leeway, NULL) ==
                           WSG_TOKEN_BAD_SIGNATURE,
                       "verified with another key");
            key[klen - 1] ^= 1;
        }
    }

    /* the input as a subject */
    size_t sl = n < 140 ? n : 140;
    char s[141];
    memcpy(s, tok, sl);
    s[sl] = 0;
    uint64_t exp = now % 1000000000000ull;
    size_t m = wsg_token_sign(klen ? key : NULL, klen, s, exp, again,
                              sizeof again);
    bool valid = klen > 0 && subject_ok(s, strlen(s)); /* cut at a NUL */
    FUZZ_CHECK((m > 0) == valid, "sign(%s) gave %zu", s, m);
    if (m) {
        FUZZ_CHECK(m == strlen(again) && m <= WSG_TOKEN_MAX, "length %zu", m);
        FUZZ_CHECK(verify(key, klen, again, m, exp, 0, subj) == WSG_TOKEN_OK &&
                       strcmp(subj, s) == 0,
                   "own token %s does not verify", again);
        FUZZ_CHECK(verify(key, klen, again, m, exp + leeway + 1, leeway,
                          NULL) == WSG_TOKEN_EXPIRED,
                   "own token %s not expired", again);
        FUZZ_CHECK(wsg_token_sign(key, klen, s, exp, again, m) == 0,
                   "sign into a buffer without room for the NUL");
    }

    /* ct_equal agrees with memcmp */
    size_t half = n / 2;
    bool eq = wsg_ct_equal(tok, half, tok + half, n - half);
    FUZZ_CHECK(eq == (half == n - half && memcmp(tok, tok + half, half) == 0),
               "ct_equal differs from memcmp");
    return 0;
}
