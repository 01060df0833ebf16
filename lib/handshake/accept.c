/* Sec-WebSocket-Accept and key checks (RFC 6455 sections 4.1, 4.2.1,
 * 4.2.2), HTTP lists (RFC 9110 section 5.6.1), tokens and status texts. */
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <mbedtls/version.h>

#include "handshake/hs_internal.h"

/* RFC 6455 section 1.3. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool wsg__b64_encode(const uint8_t *in, size_t n, char *out, size_t out_size)
{
    size_t olen = 0;
    if (mbedtls_base64_encode((unsigned char *)out, out_size, &olen, in, n))
        return false;
    return olen < out_size && out[olen] == '\0';
}

int wsg_hs_accept_value(const char *key, size_t key_len, char out[29])
{
    if (!out || (!key && key_len))
        return WSG_ERR_INVALID_ARG;
    unsigned char digest[20];
    mbedtls_sha1_context ctx;
    int rc;
    mbedtls_sha1_init(&ctx);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    rc = mbedtls_sha1_starts(&ctx);
    if (!rc)
        rc = mbedtls_sha1_update(&ctx, (const unsigned char *)key, key_len);
    if (!rc)
        rc = mbedtls_sha1_update(&ctx, (const unsigned char *)ws_guid,
                                 sizeof ws_guid - 1);
    if (!rc)
        rc = mbedtls_sha1_finish(&ctx, digest);
#else
    rc = mbedtls_sha1_starts_ret(&ctx);
    if (!rc)
        rc = mbedtls_sha1_update_ret(&ctx, (const unsigned char *)key,
                                     key_len);
    if (!rc)
        rc = mbedtls_sha1_update_ret(&ctx, (const unsigned char *)ws_guid,
                                     sizeof ws_guid - 1);
    if (!rc)
        rc = mbedtls_sha1_finish_ret(&ctx, digest);
#endif
    mbedtls_sha1_free(&ctx);
    if (rc || !wsg__b64_encode(digest, sizeof digest, out, 29))
        return WSG_ERR_INVALID_ARG;
    return WSG_OK;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

bool wsg__hs_key_valid(const char *key, size_t len)
{
    /* 16 bytes are 22 base64 characters and "==". The 22nd carries 2 bits
     * of data; its 4 low bits must be zero (canonical form). */
    if (!key || len != 24 || key[22] != '=' || key[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (b64_value((unsigned char)key[i]) < 0)
            return false;
    if (b64_value((unsigned char)key[21]) & 0x0f)
        return false;
    unsigned char raw[24];
    size_t olen = 0;
    if (mbedtls_base64_decode(raw, sizeof raw, &olen,
                              (const unsigned char *)key, len))
        return false;
    return olen == 16;
}

bool wsg__ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

/* ---- tokens, values, names ---------------------------------------------- */

bool wsg__is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool wsg__is_token(const char *s, size_t n)
{
    if (!s || n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!wsg__is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

bool wsg__is_field_value(const char *s, size_t n)
{
    if (!s)
        return n == 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool wsg__ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

bool wsg__ieq_z(struct wsg_span s, const char *z)
{
    return s.ptr && wsg__ieq(s.ptr, s.len, z, strlen(z));
}

/* Framing headers the handshake writes itself; callers may not add them.
 * Every Sec-WebSocket-* name is reserved too: the subprotocol and
 * extensions go through the checked options, never as raw headers. */
static const char *const reserved_headers[] = {
    "Content-Length", "Transfer-Encoding", "Connection", "Upgrade",
};
#define SEC_WS_PREFIX "Sec-WebSocket-"

bool wsg__header_ok(const struct wsg_header *hd)
{
    if (!wsg__is_token(hd->name, hd->name_len) ||
        !wsg__is_field_value(hd->value, hd->value_len))
        return false;
    for (size_t i = 0; i < sizeof reserved_headers / sizeof *reserved_headers;
         i++)
        if (wsg__ieq(hd->name, hd->name_len, reserved_headers[i],
                     strlen(reserved_headers[i])))
            return false;
    if (hd->name_len >= sizeof SEC_WS_PREFIX - 1 &&
        wsg__ieq(hd->name, sizeof SEC_WS_PREFIX - 1, SEC_WS_PREFIX,
                 sizeof SEC_WS_PREFIX - 1))
        return false;
    return true;
}

/* ---- lists (RFC 9110 section 5.6.1) ------------------------------------- */

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

bool wsg_http_list_next(struct wsg_span list, size_t *pos,
                        struct wsg_span *tok)
{
    if (!pos || !tok || !list.ptr)
        return false;
    const char *p = list.ptr;
    size_t n = list.len, i = *pos;
    /* Empty elements and OWS between them are skipped. */
    while (i < n && (ows(p[i]) || p[i] == ','))
        i++;
    if (i >= n) {
        *pos = n;
        return false;
    }
    size_t start = i;
    bool quoted = false;
    for (; i < n; i++) {
        char c = p[i];
        if (quoted) {
            if (c == '\\' && i + 1 < n)
                i++;
            else if (c == '"')
                quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            break;
        }
    }
    size_t end = i;
    while (end > start && ows(p[end - 1]))
        end--;
    *pos = i < n ? i + 1 : n;
    tok->ptr = p + start;
    tok->len = end - start;
    return true;
}

bool wsg_http_list_has(struct wsg_span list, const char *token)
{
    if (!token)
        return false;
    size_t pos = 0, tl = strlen(token);
    struct wsg_span t;
    while (wsg_http_list_next(list, &pos, &t))
        if (wsg__ieq(t.ptr, t.len, token, tl))
            return true;
    return false;
}

/* ---- status texts (RFC 9110 section 15, RFC 6585) ----------------------- */

const char *wsg_http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 421: return "Misdirected Request";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
