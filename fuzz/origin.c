/* Fuzz harness: Origin and Host allowlists (H2, THREATS T9):
 * wsg_origin_parse, wsg_origin_match, wsg_host_match.
 *
 * Input: 1 config byte, then A "\n" B (B empty if there is no "\n").
 *   b0  bit0: parse A as an allowlist entry; bit1: upper-case B for the
 *       case-insensitivity check
 * Every string is parsed from an exact-size heap copy (an over-read hits
 * the redzone). Checks: only WSG_OK / WSG_ERR_INVALID_ARG come back; a
 * parsed origin is normalised (known scheme, lower case, allowed
 * characters, port != 0), reparses to itself from its serialisation and
 * matches itself; wsg_origin_match agrees with a reference; Host and
 * Origin parsing agree on the same host text; matching ignores case. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsguard/policy.h>

static int parse(const char *s, size_t len, bool entry, struct wsg_origin *o)
{
    uint8_t *d = fuzz_dup((const uint8_t *)s, len);
    int rc = wsg_origin_parse((const char *)d, len, entry, o);
    free(d);
    FUZZ_CHECK(rc == WSG_OK || rc == WSG_ERR_INVALID_ARG, "parse: %d", rc);
    return rc;
}

static bool host_match(const char *entry, const char *h, size_t len)
{
    uint8_t *d = fuzz_dup((const uint8_t *)h, len);
    bool r = wsg_host_match(entry, (const char *)d, len);
    free(d);
    return r;
}

static uint16_t default_port(const char *scheme)
{
    return strcmp(scheme, "http") == 0 || strcmp(scheme, "ws") == 0 ? 80
                                                                    : 443;
}

static void check_origin(const struct wsg_origin *o, bool entry)
{
    FUZZ_CHECK(memchr(o->scheme, 0, sizeof o->scheme), "scheme not ended");
    FUZZ_CHECK(strcmp(o->scheme, "http") == 0 ||
                   strcmp(o->scheme, "https") == 0 ||
                   strcmp(o->scheme, "ws") == 0 ||
                   strcmp(o->scheme, "wss") == 0,
               "scheme %s", o->scheme);
    size_t hl = strnlen(o->host, sizeof o->host);
    FUZZ_CHECK(hl > 0 && hl < sizeof o->host, "host length %zu", hl);
    FUZZ_CHECK(o->port != 0, "port 0");
    bool v6 = o->host[0] == '[';
    for (size_t i = 0; i < hl; i++) {
        char c = o->host[i];
        FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "upper case in %s", o->host);
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || (v6 && (c == ':' || c == '[' ||
                                                  c == ']')) ||
                  (entry && i == 0 && c == '*');
        FUZZ_CHECK(ok, "character %02x in host %s", (unsigned char)c,
                   o->host);
    }
    if (!v6)
        FUZZ_CHECK(hl <= 255 && o->host[hl - 1] != '.' &&
                       !strstr(o->host, ".."),
                   "host %s", o->host);
    else
        FUZZ_CHECK(o->host[hl - 1] == ']', "v6 host %s", o->host);
}

/* Reference for wsg_origin_match on two checked origins. */
static bool ref_match(const struct wsg_origin *p, const struct wsg_origin *o)
{
    if (strcmp(p->scheme, o->scheme) != 0 || p->port != o->port ||
        strchr(o->host, '*'))
        return false;
    if (p->host[0] != '*')
        return strcmp(p->host, o->host) == 0;
    size_t pl = strlen(p->host + 1), ol = strlen(o->host);
    return ol > pl && strcmp(o->host + ol - pl, p->host + 1) == 0 &&
           o->host[0] != '.';
}

static void roundtrip(const struct wsg_origin *o, bool entry)
{
    char buf[300];
    struct wsg_origin r;
    int n = snprintf(buf, sizeof buf, "%s://%s:%u", o->scheme, o->host,
                     o->port);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof buf, "serialise");
    FUZZ_CHECK(parse(buf, (size_t)n, entry, &r) == WSG_OK, "reparse %s", buf);
    FUZZ_CHECK(memcmp(&r, o, sizeof r) == 0 ||
                   (strcmp(r.scheme, o->scheme) == 0 &&
                    strcmp(r.host, o->host) == 0 && r.port == o->port),
               "reparse of %s differs", buf);
    if (o->port == default_port(o->scheme)) {
        n = snprintf(buf, sizeof buf, "%s://%s", o->scheme, o->host);
        FUZZ_CHECK(parse(buf, (size_t)n, entry, &r) == WSG_OK && r.port ==
                       o->port, "default port of %s", buf);
    }
    if (o->host[0] != '*') {
        FUZZ_CHECK(wsg_origin_match(o, o), "%s does not match itself", buf);
        FUZZ_CHECK(wsg_host_match(o->host, o->host, strlen(o->host)),
                   "host %s does not match itself", o->host);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint8_t b0 = fuzz_in_byte(&in);
    bool entry = b0 & 1;
    const char *a = (const char *)in.p;
    const uint8_t *nl = memchr(in.p, '\n', in.n);
    size_t alen = nl ? (size_t)(nl - in.p) : in.n;
    const char *b = nl ? (const char *)nl + 1 : "";
    size_t blen = nl ? in.n - alen - 1 : 0;
    struct wsg_origin pa, pb;

    int ra = parse(a, alen, entry, &pa);
    if (ra == WSG_OK) {
        check_origin(&pa, entry);
        roundtrip(&pa, entry);
    }
    /* an Origin header value is also a valid entry, with the same result */
    struct wsg_origin pe;
    if (parse(a, alen, false, &pe) == WSG_OK) {
        check_origin(&pe, false);
        FUZZ_CHECK(parse(a, alen, true, &pa) == WSG_OK &&
                       memcmp(pa.host, pe.host, sizeof pe.host) == 0 &&
                       pa.port == pe.port,
                   "origin valid but not as an entry");
        ra = WSG_OK;
    }
    int rb = parse(b, blen, false, &pb);
    if (rb == WSG_OK) {
        check_origin(&pb, false);
        roundtrip(&pb, false);
    }
    if (ra == WSG_OK && rb == WSG_OK) {
        bool m = wsg_origin_match(&pa, &pb);
        FUZZ_CHECK(m == ref_match(&pa, &pb), "match(%s://%s:%u, %s://%s:%u)",
                   pa.scheme, pa.host, pa.port, pb.scheme, pb.host, pb.port);
        /* the same decision through the Host allowlist */
        FUZZ_CHECK(!m || wsg_host_match(pa.host, pb.host, strlen(pb.host)),
                   "origin %s matches %s but host does not", pa.host,
                   pb.host);
    }

    /* Host: A (NUL-terminated, cut at the first NUL) as the entry, B as
     * the header value */
    char entry_s[512];
    size_t el = alen < sizeof entry_s - 1 ? alen : sizeof entry_s - 1;
    memcpy(entry_s, a, el);
    entry_s[el] = 0;
    bool hm = host_match(entry_s, b, blen);
    if (blen && blen <= 1024) {
        char up[1024];
        for (size_t i = 0; i < blen; i++) {
            char c = b[i];
            up[i] = (b0 & 2) && c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
        }
        FUZZ_CHECK(host_match(entry_s, up, blen) == hm, "case changes Host");
        /* whatever parses as the host of an origin matches as a Host */
        char url[1100];
        int n = snprintf(url, sizeof url, "http://%.*s", (int)blen, b);
        struct wsg_origin ho;
        if (n > 0 && (size_t)n < sizeof url && !memchr(b, 0, blen) &&
            parse(url, (size_t)n, false, &ho) == WSG_OK)
            FUZZ_CHECK(host_match(ho.host, b, blen),
                       "Host %.*s does not match its own host %s", (int)blen,
                       b, ho.host);
    }
    return 0;
}
