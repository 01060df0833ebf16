/* Addresses, CIDRs and the client address behind trusted proxies
 * (H3, H6, H11; THREATS T15). Strict, linear, no allocation, never reads
 * past `len`. IPv4 is held as IPv4-mapped IPv6 (RFC 4291 2.5.5.2). */
#include <string.h>

#include <wsguard/policy.h>

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0,
                                          0, 0, 0xff, 0xff};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* dec-octet "." x3 (RFC 3986 3.2.2): no leading zeros, exactly 4 parts,
 * all of s[0..len). */
static bool parse_v4(const char *s, size_t len, uint8_t o[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < len && is_digit(s[i]) && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        size_t nd = i - start;
        if (nd == 0 || v > 255 || (nd > 1 && s[start] == '0'))
            return false;
        if (i < len && is_digit(s[i]))   /* a 4th digit */
            return false;
        o[part] = (uint8_t)v;
    }
    return i == len;
}

/* RFC 4291 2.2: x:x:x:x:x:x:x:x, one "::", an IPv4 tail. */
static bool parse_v6(const char *s, size_t len, uint8_t out[16])
{
    uint16_t g[8];
    int n = 0, dc = -1;
    size_t i = 0;
    if (len == 0)
        return false;
    if (s[0] == ':') {
        if (len < 2 || s[1] != ':')
            return false;
        dc = 0;
        i = 2;
    }
    while (i < len) {
        if (n >= 8)
            return false;
        size_t start = i;
        unsigned v = 0;
        while (i < len && i - start < 5 && hexval(s[i]) >= 0)
            v = (v << 4) | (unsigned)hexval(s[i++]);
        size_t nd = i - start;
        if (i < len && (s[i] == '.' || is_digit(s[i]))) {
            uint8_t o[4];   /* IPv4 tail: two groups, last thing */
            if (n + 2 > (dc >= 0 ? 7 : 8) || !parse_v4(s + start,
                                                        len - start, o))
                return false;
            g[n++] = (uint16_t)(o[0] << 8 | o[1]);
            g[n++] = (uint16_t)(o[2] << 8 | o[3]);
            i = len;
            break;
        }
        if (nd == 0 || nd > 4)
            return false;
        g[n++] = (uint16_t)v;
        if (i == len)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < len && s[i] == ':') {
            if (dc >= 0)
                return false;
            dc = n;
            i++;
        } else if (i == len) {
            return false;   /* trailing single ':' */
        }
    }
    if (dc < 0 ? n != 8 : n > 7)
        return false;
    memset(out, 0, 16);
    int tail = dc < 0 ? 0 : n - dc;
    int head = n - tail;
    for (int k = 0; k < head; k++) {
        out[2 * k] = (uint8_t)(g[k] >> 8);
        out[2 * k + 1] = (uint8_t)g[k];
    }
    for (int k = 0; k < tail; k++) {
        int d = 8 - tail + k;
        out[2 * d] = (uint8_t)(g[head + k] >> 8);
        out[2 * d + 1] = (uint8_t)g[head + k];
    }
    return true;
}

/* 1-5 digits, no leading zeros, at most 65535. */
static bool parse_port(const char *s, size_t len)
{
    if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= 65535;
}

static void set_v4(struct wsg_addr *a, const uint8_t o[4])
{
    memcpy(a->b, mapped_prefix, 12);
    memcpy(a->b + 12, o, 4);
}

int wsg_addr_parse(const char *s, size_t len, bool allow_port,
                   struct wsg_addr *out)
{
    struct wsg_addr a;
    uint8_t o[4];
    if (!s || !out || len == 0)
        return WSG_ERR_INVALID_ARG;
    if (s[0] == '[') {   /* IP-literal (RFC 3986 3.2.2), IPv6 only */
        size_t close = 1;
        while (close < len && s[close] != ']')
            close++;
        if (close == len || !parse_v6(s + 1, close - 1, a.b))
            return WSG_ERR_INVALID_ARG;
        if (close + 1 != len &&
            !(allow_port && s[close + 1] == ':' &&
              parse_port(s + close + 2, len - close - 2)))
            return WSG_ERR_INVALID_ARG;
        *out = a;
        return WSG_OK;
    }
    size_t colon = len;   /* the last ':' */
    for (size_t i = len; i > 0; i--) {
        if (s[i - 1] == ':') {
            colon = i - 1;
            break;
        }
    }
    if (colon == len) {
        if (!parse_v4(s, len, o))
            return WSG_ERR_INVALID_ARG;
        set_v4(out, o);
        return WSG_OK;
    }
    /* A bare IPv6 address wins: "::1:80" is an address, never ::1 port 80. */
    if (parse_v6(s, len, a.b)) {
        *out = a;
        return WSG_OK;
    }
    if (allow_port && parse_v4(s, colon, o) &&
        parse_port(s + colon + 1, len - colon - 1)) {
        set_v4(out, o);
        return WSG_OK;
    }
    return WSG_ERR_INVALID_ARG;
}

static size_t put_dec(char *p, unsigned v)
{
    size_t n = 0;
    if (v >= 100)
        p[n++] = (char)('0' + v / 100);
    if (v >= 10)
        p[n++] = (char)('0' + v / 10 % 10);
    p[n++] = (char)('0' + v % 10);
    return n;
}

/* RFC 5952 section 4; IPv4-mapped addresses as plain dotted quads. */
size_t wsg_addr_format(const struct wsg_addr *a, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    char buf[48];
    size_t n = 0;
    if (!a || !out || cap == 0)
        return 0;
    if (memcmp(a->b, mapped_prefix, 12) == 0) {
        for (int k = 0; k < 4; k++) {
            if (k)
                buf[n++] = '.';
            n += put_dec(buf + n, a->b[12 + k]);
        }
    } else {
        uint16_t g[8];
        int best = -1, best_len = 1, run = 0;
        for (int k = 0; k < 8; k++) {
            g[k] = (uint16_t)(a->b[2 * k] << 8 | a->b[2 * k + 1]);
            run = g[k] == 0 ? run + 1 : 0;
            if (run > best_len) {   /* strictly longer: first wins ties */
                best_len = run;
                best = k - run + 1;
            }
        }
        for (int k = 0; k < 8; k++) {
            if (k == best) {
                buf[n++] = ':';
                buf[n++] = ':';
                k += best_len - 1;
                continue;
            }
            if (k > 0 && k != best + best_len)
                buf[n++] = ':';
            bool lead = true;
            for (int sh = 12; sh >= 0; sh -= 4) {
                unsigned d = (unsigned)(g[k] >> sh) & 0xf;
                if (lead && d == 0 && sh > 0)
                    continue;
                lead = false;
                buf[n++] = hex[d];
            }
        }
    }
    if (n >= cap) {
        out[0] = '\0';
        return 0;
    }
    memcpy(out, buf, n);
    out[n] = '\0';
    return n;
}

int wsg_cidr_parse(const char *s, size_t len, struct wsg_cidr *out)
{
    struct wsg_cidr c;
    if (!s || !out || len == 0)
        return WSG_ERR_INVALID_ARG;
    size_t slash = 0;
    bool v6 = false;
    while (slash < len && s[slash] != '/') {
        if (s[slash] == ':')
            v6 = true;
        slash++;
    }
    if (wsg_addr_parse(s, slash, false, &c.net) != WSG_OK)
        return WSG_ERR_INVALID_ARG;
    unsigned bits = 128;
    if (slash < len) {
        const char *p = s + slash + 1;
        size_t pl = len - slash - 1;
        if (pl == 0 || pl > 3 || (pl > 1 && p[0] == '0'))
            return WSG_ERR_INVALID_ARG;
        bits = 0;
        for (size_t i = 0; i < pl; i++) {
            if (!is_digit(p[i]))
                return WSG_ERR_INVALID_ARG;
            bits = bits * 10 + (unsigned)(p[i] - '0');
        }
        if (bits > (v6 ? 128u : 32u))
            return WSG_ERR_INVALID_ARG;
        if (!v6)
            bits += 96;   /* on the ::ffff:0:0/96 form */
    }
    c.bits = (uint8_t)bits;
    for (unsigned k = 0; k < 16; k++) {   /* no host bits past the prefix */
        unsigned keep = bits >= 8 * (k + 1) ? 8
                      : bits > 8 * k ? bits - 8 * k : 0;
        uint8_t mask = (uint8_t)(0xff00u >> keep);
        if (c.net.b[k] & (uint8_t)~mask)
            return WSG_ERR_INVALID_ARG;
    }
    *out = c;
    return WSG_OK;
}

bool wsg_cidr_contains(const struct wsg_cidr *c, const struct wsg_addr *a)
{
    if (!c || !a || c->bits > 128)
        return false;
    unsigned full = c->bits / 8u, rest = c->bits % 8u;
    if (memcmp(c->net.b, a->b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (c->net.b[full] & mask) == (a->b[full] & mask);
}

/* ---- client address ----------------------------------------------------- */

static bool trusted_addr(const struct wsg_cidr *t, size_t n,
                         const struct wsg_addr *a)
{
    if (!t)
        return false;
    for (size_t i = 0; i < n; i++)
        if (wsg_cidr_contains(&t[i], a))
            return true;
    return false;
}

static bool name_is(const struct wsg_header *h, const char *name, size_t nl)
{
    if (!h->name || h->name_len != nl)
        return false;
    for (size_t i = 0; i < nl; i++) {
        unsigned char x = (unsigned char)h->name[i];
        unsigned char y = (unsigned char)name[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* Parses s[0..len) with optional whitespace around it (RFC 9110 5.6.3). */
static bool parse_trimmed(const char *s, size_t len, struct wsg_addr *a)
{
    while (len > 0 && is_ows(s[0])) {
        s++;
        len--;
    }
    while (len > 0 && is_ows(s[len - 1]))
        len--;
    return len > 0 && wsg_addr_parse(s, len, true, a) == WSG_OK;
}

/* The header `client_header`, if present exactly once with one valid
 * address. */
static bool client_header_addr(const struct wsg_hs_request *req,
                               const char *name, struct wsg_addr *a)
{
    size_t nl = strlen(name), seen = 0;
    const struct wsg_header *found = NULL;
    if (nl == 0)
        return false;
    for (size_t i = 0; i < req->header_count; i++) {
        if (name_is(&req->headers[i], name, nl)) {
            seen++;
            found = &req->headers[i];
        }
    }
    if (seen == 1 && found->value)
        return parse_trimmed(found->value, found->value_len, a);
    return false;
}

struct wsg_addr wsg_client_addr(const struct wsg_addr *peer,
                                const struct wsg_cidr *trusted,
                                size_t trusted_count,
                                const struct wsg_hs_request *req,
                                const char *client_header)
{
    static const char xff[] = "X-Forwarded-For";
    struct wsg_addr last, cur;
    memset(&last, 0, sizeof last);
    if (!peer)
        return last;
    last = *peer;
    if (!trusted_addr(trusted, trusted_count, peer) || !req || !req->headers)
        return last;
    if (client_header && client_header_addr(req, client_header, &cur))
        return cur;
    /* Every X-Forwarded-For header is one list, in order (RFC 9110
     * 5.3): walk it right to left. Empty elements are skipped
     * (RFC 9110 5.6.1). */
    if (!wsg_hs_request_header(req, xff).ptr)
        return last;
    for (size_t h = req->header_count; h > 0; h--) {
        const struct wsg_header *hd = &req->headers[h - 1];
        if (!name_is(hd, xff, sizeof xff - 1) || !hd->value)
            continue;
        size_t end = hd->value_len;
        for (size_t i = end; ; i--) {
            if (i == 0 || hd->value[i - 1] == ',') {
                const char *e = hd->value + i;
                size_t el = end - i, k = 0;
                while (k < el && is_ows(e[k]))
                    k++;
                if (k < el) {
                    if (!parse_trimmed(e, el, &cur))
                        return last;   /* malformed: stop at last good */
                    if (!trusted_addr(trusted, trusted_count, &cur))
                        return cur;
                    last = cur;
                }
                if (i == 0)
                    break;
                end = i - 1;
            }
        }
    }
    return last;   /* every hop trusted: the left-most */
}
