/* Origin and Host allowlists (H2; THREATS T9: cross-site WebSocket
 * hijacking, DNS rebinding).
 *
 * Origins are serialised by browsers per RFC 6454 section 6.2: scheme
 * "://" host [":" port], ASCII only (IDNA already applied). Anything else
 * is refused rather than repaired: no percent-encoding, userinfo, path,
 * query or fragment, no empty or zero port, no leading zeros in ports.
 * Host names: letters, digits, '-' and '.', labels of 1-63 bytes, at most
 * 253 bytes once an optional trailing dot is stripped (RFC 1035 2.3.4).
 * IPv6 literals keep their brackets and are checked loosely (RFC 3986
 * 3.2.2: hex digits, ':' and '.'); they only ever match exactly. A
 * wildcard "*." is allowed in allowlist entries only, as the whole first
 * label, over at least two more labels ("*.com" is refused).
 * Every scan is a single bounded pass over [s, s + len). */
#include <string.h>

#include <wsguard/policy.h>

#define HOST_MAX 253
#define LABEL_MAX 63
#define V6_MAX 45 /* "ffff:...:255.255.255.255" (RFC 4291 2.2) */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    c = lower(c);
    return c >= 'a' && c <= 'z';
}

static bool is_hex(char c)
{
    c = lower(c);
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* A host name: copies it lower-cased to out (NUL-terminated), trailing dot
 * stripped. With `wild`, a leading "*." is allowed and kept; then at least
 * two labels must follow it. Returns the stored length, or 0 if invalid. */
static size_t host_name(const char *s, size_t len, bool wild, char *out)
{
    size_t i = 0, n = 0, label = 0, labels = 0;
    if (wild && len >= 2 && s[0] == '*' && s[1] == '.') {
        out[0] = '*';
        out[1] = '.';
        i = n = 2;
    } else {
        wild = false;
    }
    if (len > i && s[len - 1] == '.')
        len--; /* an absolute name "example.com." is the same host */
    if (len - i == 0 || len - i > HOST_MAX)
        return 0;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0)
                return 0; /* empty label */
            label = 0;
            labels++;
        } else if (is_alpha(c) || is_digit(c) || c == '-') {
            if (++label > LABEL_MAX)
                return 0;
        } else {
            return 0;
        }
        out[n++] = lower(c);
    }
    if (label == 0)
        return 0;
    labels++;
    if (wild && labels < 2)
        return 0;
    out[n] = 0;
    return n;
}

/* "[" v6 "]", loosely: 2-45 of hex digits, ':' and '.', with a ':'. */
static size_t host_v6(const char *s, size_t len, char *out)
{
    bool colon = false;
    if (len < 4 || len > V6_MAX + 2 || s[0] != '[' || s[len - 1] != ']')
        return 0;
    out[0] = '[';
    for (size_t i = 1; i + 1 < len; i++) {
        char c = s[i];
        if (c == ':')
            colon = true;
        else if (!is_hex(c) && c != '.')
            return 0;
        out[i] = lower(c);
    }
    if (!colon)
        return 0;
    out[len - 1] = ']';
    out[len] = 0;
    return len;
}

static size_t host_any(const char *s, size_t len, bool wild, char *out)
{
    if (len > 0 && s[0] == '[')
        return host_v6(s, len, out);
    return host_name(s, len, wild, out);
}

/* RFC 3986 3.2.3 port, strictly: 1-65535, decimal, no leading zero. */
static bool port_parse(const char *s, size_t len, uint16_t *out)
{
    uint32_t v = 0;
    if (len == 0 || len > 5 || s[0] == '0')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* Splits "host[:port]" / "[v6][:port]": *hlen is the host part length,
 * *port the port or 0 when absent. False if the port part is malformed. */
static bool split_port(const char *s, size_t len, size_t *hlen,
                       uint16_t *port)
{
    size_t colon = len;
    *port = 0;
    if (len > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (!rb)
            return false;
        size_t end = (size_t)(rb - s) + 1;
        if (end < len) {
            if (s[end] != ':')
                return false;
            colon = end;
        }
    } else {
        const char *c = memchr(s, ':', len);
        if (c)
            colon = (size_t)(c - s);
    }
    *hlen = colon;
    if (colon == len)
        return true;
    return port_parse(s + colon + 1, len - colon - 1, port);
}

int wsg_origin_parse(const char *s, size_t len, bool entry,
                     struct wsg_origin *out)
{
    static const struct {
        const char *name;
        uint16_t port;
    } schemes[] = {{"http", 80}, {"https", 443}, {"ws", 80}, {"wss", 443}};
    struct wsg_origin o;
    size_t i = 0, sl, hl;
    uint16_t port;

    if (!out || (!s && len))
        return WSG_ERR_INVALID_ARG;
    memset(&o, 0, sizeof o);
    while (i < len && i < sizeof o.scheme && is_alpha(s[i])) {
        o.scheme[i] = lower(s[i]);
        i++;
    }
    if (i == 0 || i >= sizeof o.scheme || len - i < 3 ||
        memcmp(s + i, "://", 3) != 0)
        return WSG_ERR_INVALID_ARG; /* also "null", "file:", "data:" */
    for (sl = 0; sl < sizeof schemes / sizeof schemes[0]; sl++)
        if (strcmp(o.scheme, schemes[sl].name) == 0)
            break;
    if (sl == sizeof schemes / sizeof schemes[0])
        return WSG_ERR_INVALID_ARG;
    s += i + 3;
    len -= i + 3;
    if (entry && len > 0 && s[len - 1] == '/')
        len--; /* "https://a.example/" as written in configs */
    /* '@', '/', '?', '#', '%' and the rest fail in the host or port */
    if (!split_port(s, len, &hl, &port))
        return WSG_ERR_INVALID_ARG;
    if (host_any(s, hl, entry, o.host) == 0)
        return WSG_ERR_INVALID_ARG;
    o.port = port ? port : schemes[sl].port;
    *out = o;
    return WSG_OK;
}

bool wsg_origin_match(const struct wsg_origin *pattern,
                      const struct wsg_origin *o)
{
    if (!pattern || !o || pattern->port != o->port ||
        strncmp(pattern->scheme, o->scheme, sizeof o->scheme) != 0)
        return false;
    size_t pl = strnlen(pattern->host, sizeof pattern->host);
    size_t ol = strnlen(o->host, sizeof o->host);
    if (pl == 0 || pl == sizeof pattern->host || ol == 0 ||
        ol == sizeof o->host || memchr(o->host, '*', ol))
        return false;
    if (pattern->host[0] == '*') {
        /* "*.x.y" matches "a.x.y", "a.b.x.y"; never "x.y" or "ax.y" */
        const char *suf = pattern->host + 1; /* ".x.y" */
        size_t sl = pl - 1;
        return ol > sl && memcmp(o->host + ol - sl, suf, sl) == 0;
    }
    return pl == ol && memcmp(pattern->host, o->host, pl) == 0;
}

bool wsg_host_match(const char *entry, const char *host, size_t host_len)
{
    char eh[HOST_MAX + 3], hh[HOST_MAX + 3];
    size_t el, hl, len;
    uint16_t ep, hp;

    if (!entry || !host || host_len == 0)
        return false;
    len = strnlen(entry, HOST_MAX + 10);
    if (len == HOST_MAX + 10 || !split_port(entry, len, &el, &ep) ||
        !split_port(host, host_len, &hl, &hp))
        return false;
    el = host_any(entry, el, true, eh);
    hl = host_any(host, hl, false, hh);
    if (el == 0 || hl == 0)
        return false;
    if (ep != 0 && ep != hp)
        return false; /* an entry with a port needs that port, explicitly */
    if (eh[0] == '*') {
        size_t sl = el - 1;
        return hl > sl && memcmp(hh + hl - sl, eh + 1, sl) == 0;
    }
    return el == hl && memcmp(eh, hh, el) == 0;
}
