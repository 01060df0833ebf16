/* HMAC-SHA256 signed tokens (H3):  v1.<subject>.<expiry>.<signature>
 * (format in include/wsguard/policy.h). HMAC per RFC 2104 / FIPS 198-1
 * through mbedTLS; signature in base64url without padding (RFC 4648
 * section 5, section 3.2), decoded strictly: exactly 43 characters and
 * zero trailing bits, so every MAC has one spelling. Checks, in order:
 * format (MALFORMED), signature in constant time (BAD_SIGNATURE), expiry
 * (EXPIRED), so only authentic tokens are ever reported as expired.
 * A key must not be empty. */
#include <string.h>

#include <mbedtls/md.h>

#include <wsguard/policy.h>

#define MAC_LEN 32
#define SIG_CHARS 43 /* ceil(32 * 4 / 3), no padding */
#define SUBJECT_MAX 128
#define EXPIRY_DIGITS 12
#define EXPIRY_MAX 999999999999ull

static bool subject_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '@' || c == ':' ||
           c == '+' || c == '=' || c == '-';
}

/* RFC 4648 table 2: value of a base64url character, or -1. */
static int b64url_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes n bytes without padding; writes ceil(4n/3) chars, no NUL. */
static size_t b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
                     in[i + 2];
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
        out[o++] = b64url_chars[v >> 6 & 63];
        out[o++] = b64url_chars[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
        out[o++] = b64url_chars[v >> 6 & 63];
    }
    return o;
}

/* Decodes exactly SIG_CHARS characters into MAC_LEN bytes; false on any
 * character outside the alphabet ('=' included) or non-zero pad bits. */
static bool b64url_decode_mac(const char *s, uint8_t out[MAC_LEN])
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < SIG_CHARS; i++) {
        int v = b64url_val(s[i]);
        if (v < 0)
            return false;
        acc = (acc << 6 | (uint32_t)v) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* 43 * 6 = 258 bits: 2 left over, which must be zero */
    return o == MAC_LEN && (acc & ((1u << bits) - 1)) == 0;
}

static bool hmac(const uint8_t *key, size_t key_len, const char *msg,
                 size_t len, uint8_t mac[MAC_LEN])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    return md && mbedtls_md_hmac(md, key, key_len, (const unsigned char *)msg,
                                 len, mac) == 0;
}

bool wsg_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < alen; i++)
        d |= (uint8_t)(x[i] ^ y[i]);
    return d == 0;
}

enum wsg_token_result wsg_token_verify(const uint8_t *key, size_t key_len,
                                       const char *token, size_t len,
                                       uint64_t now_s, uint32_t leeway_s,
                                       char *subject)
{
    size_t i, subj_len, exp_start, signed_len;
    uint64_t expiry = 0;
    uint8_t mac[MAC_LEN], sig[MAC_LEN];

    if (!token || len > WSG_TOKEN_MAX || len < 3 ||
        memcmp(token, "v1.", 3) != 0)
        return WSG_TOKEN_MALFORMED;
    for (i = 3; i < len && token[i] != '.'; i++)
        if (!subject_char(token[i]) || i - 3 >= SUBJECT_MAX)
            return WSG_TOKEN_MALFORMED;
    subj_len = i - 3;
    if (subj_len == 0 || i == len)
        return WSG_TOKEN_MALFORMED;
    exp_start = ++i;
    for (; i < len && token[i] != '.'; i++) {
        if (token[i] < '0' || token[i] > '9' || i - exp_start >= EXPIRY_DIGITS)
            return WSG_TOKEN_MALFORMED;
        expiry = expiry * 10 + (uint64_t)(token[i] - '0');
    }
    if (i == exp_start || i == len ||
        (token[exp_start] == '0' && i - exp_start > 1))
        return WSG_TOKEN_MALFORMED; /* empty, no signature, "0123" */
    signed_len = i++;
    if (len - i != SIG_CHARS || !b64url_decode_mac(token + i, sig))
        return WSG_TOKEN_MALFORMED;

    if (!key || key_len == 0 || !hmac(key, key_len, token, signed_len, mac))
        return WSG_TOKEN_BAD_SIGNATURE;
    bool ok = wsg_ct_equal(mac, MAC_LEN, sig, MAC_LEN);
    memset(mac, 0, sizeof mac);
    if (!ok)
        return WSG_TOKEN_BAD_SIGNATURE;
    /* expired when now > expiry + leeway, without computing the sum */
    if (now_s > expiry && now_s - expiry > leeway_s)
        return WSG_TOKEN_EXPIRED;
    if (subject) {
        memcpy(subject, token + 3, subj_len);
        subject[subj_len] = 0;
    }
    return WSG_TOKEN_OK;
}

size_t wsg_token_sign(const uint8_t *key, size_t key_len, const char *subject,
                      uint64_t expiry_s, char *out, size_t cap)
{
    char buf[WSG_TOKEN_MAX + 1], digits[EXPIRY_DIGITS];
    size_t n = 0, sl, nd = 0;
    uint8_t mac[MAC_LEN];

    if (!key || key_len == 0 || !subject || !out || expiry_s > EXPIRY_MAX)
        return 0;
    sl = strnlen(subject, SUBJECT_MAX + 1);
    if (sl == 0 || sl > SUBJECT_MAX)
        return 0;
    for (size_t i = 0; i < sl; i++)
        if (!subject_char(subject[i]))
            return 0;
    do {
        digits[nd++] = (char)('0' + expiry_s % 10);
        expiry_s /= 10;
    } while (expiry_s);
    memcpy(buf, "v1.", 3);
    n = 3;
    memcpy(buf + n, subject, sl);
    n += sl;
    buf[n++] = '.';
    while (nd)
        buf[n++] = digits[--nd];
    if (!hmac(key, key_len, buf, n, mac))
        return 0;
    buf[n++] = '.';
    n += b64url_encode(mac, MAC_LEN, buf + n);
    memset(mac, 0, sizeof mac);
    if (n + 1 > cap)
        return 0;
    memcpy(out, buf, n);
    out[n] = 0;
    return n;
}
