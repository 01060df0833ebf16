/* H2 Origin validation and the Host allowlist (THREATS T9: cross-site
 * WebSocket hijacking and DNS rebinding). Suites: policy_origin,
 * policy_host. Every parse runs from the literal, from an exact-size heap
 * copy and right before an unreadable page, with the same answer.
 *
 * Decisions pinned here: port 0 is refused (no browser serialises it and
 * nothing listens there); ports with leading zeros are refused (one
 * spelling per origin); "*.com"-style wildcards over a single label are
 * refused; an entry with a port needs that port in the Host header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <wsguard/policy.h>

#include "guard_page.h" /* tests/common */

/* Parses s three ways and asserts they agree; returns the result. */
static int parse3(const char *s, bool entry, struct wsg_origin *out)
{
    size_t len = strlen(s);
    struct wsg_origin a, b, c;
    memset(&a, 0x5A, sizeof a);
    memset(&b, 0x5A, sizeof b);
    memset(&c, 0x5A, sizeof c);
    int ra = wsg_origin_parse(s, len, entry, &a);

    char *heap = malloc(len ? len : 1);
    cr_assert(heap);
    memcpy(heap, s, len);
    int rb = wsg_origin_parse(heap, len, entry, &b);
    free(heap);

    struct guard_page g;
    const char *gp = guard_page_copy(&g, s, len);
    int rc = wsg_origin_parse(gp, len, entry, &c);
    guard_page_free(&g);

    cr_assert_eq(ra, rb, "%s: heap copy differs", s);
    cr_assert_eq(ra, rc, "%s: guard page copy differs", s);
    if (ra == WSG_OK) {
        cr_assert_str_eq(a.scheme, b.scheme);
        cr_assert_str_eq(a.host, c.host);
        cr_assert_eq(a.port, c.port);
        *out = a;
    }
    return ra;
}

static const struct {
    const char *in;
    bool entry;
    const char *scheme, *host;
    uint16_t port;
} valid[] = {
    {"https://example.com", false, "https", "example.com", 443},
    {"https://Example.COM", false, "https", "example.com", 443},
    {"HTTPS://EXAMPLE.COM:443", false, "https", "example.com", 443},
    {"http://example.com", false, "http", "example.com", 80},
    {"ws://example.com", false, "ws", "example.com", 80},
    {"wss://example.com", false, "wss", "example.com", 443},
    {"http://example.com:8080", false, "http", "example.com", 8080},
    {"https://a.b:65535", false, "https", "a.b", 65535},
    {"https://a.b:1", false, "https", "a.b", 1},
    {"http://localhost", false, "http", "localhost", 80},
    {"http://127.0.0.1:8000", false, "http", "127.0.0.1", 8000},
    {"http://[::1]", false, "http", "[::1]", 80},
    {"https://[2001:DB8::1]:8443", false, "https", "[2001:db8::1]", 8443},
    {"https://[::ffff:192.0.2.1]", false, "https", "[::ffff:192.0.2.1]",
     443},
    {"https://example.com.", false, "https", "example.com", 443},
    {"https://xn--bcher-kva.example", false, "https", "xn--bcher-kva.example",
     443},
    {"https://a-b.c-d", false, "https", "a-b.c-d", 443},
    {"https://example.com/", true, "https", "example.com", 443},
    {"https://*.example.com", true, "https", "*.example.com", 443},
    {"https://*.Example.com:8443/", true, "https", "*.example.com", 8443},
};

static const struct {
    const char *in;
    bool entry;
} invalid[] = {
    {"", false},
    {"null", false},
    {"null", true},
    {"file://", false},
    {"file:///etc/passwd", false},
    {"data:text/html,x", false},
    {"ftp://example.com", false},
    {"chrome-extension://abc", false},
    {"https:/example.com", false},
    {"https//example.com", false},
    {"https://", false},
    {"https://a.b/path", false},
    {"https://a.b/path", true},
    {"https://a.b/", false},      /* trailing "/" only in entries */
    {"https://a.b//", true},
    {"https://a.b?q", false},
    {"https://a.b#f", false},
    {"https://user@a.b", false},
    {"https://user:pw@a.b", false},
    {"https://a.b:", false},
    {"https://a.b:65536", false},
    {"https://a.b:99999999999", false},
    {"https://a.b:0", false},
    {"https://a.b:0443", false},
    {"https://a.b:+443", false},
    {"https://a.b:44 3", false},
    {"https://a.b:443:443", false},
    {"https://a%2eb", false},
    {"https://a..b", false},
    {"https://.a.b", false},
    {"https://.", false},
    {"https://a.b..", false},
    {"https://a_b.c", false},
    {"https://a b.c", false},
    {"https://a.b\t", false},
    {"https://a.b\r\n", false},
    {"https://*.example.com", false}, /* wildcard only in entries */
    {"https://*.com", true},
    {"https://*.", true},
    {"https://*", true},
    {"https://a.*.example.com", true},
    {"https://*a.example.com", true},
    {"https://**.example.com", true},
    {"https://[::1", false},
    {"https://::1", false},
    {"https://[]", false},
    {"https://[1.2.3.4]", false},
    {"https://[::1]x", false},
    {"https://[::g]", false},
    {"https://[::1%eth0]", false},
    {"https://[::1]:", false},
    {" https://a.b", false},
    {"https://a.b ", false},
    {"httpss://a.b", false},
    {"verylongscheme://a.b", false},
};

Test(policy_origin, valid_table)
{
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        struct wsg_origin o;
        int rc = parse3(valid[i].in, valid[i].entry, &o);
        cr_assert_eq(rc, WSG_OK, "%s: %d", valid[i].in, rc);
        cr_expect_str_eq(o.scheme, valid[i].scheme, "%s", valid[i].in);
        cr_expect_str_eq(o.host, valid[i].host, "%s", valid[i].in);
        cr_expect_eq(o.port, valid[i].port, "%s: port %u", valid[i].in,
                     o.port);
    }
}

Test(policy_origin, invalid_table)
{
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        struct wsg_origin o;
        cr_expect_eq(parse3(invalid[i].in, invalid[i].entry, &o),
                     WSG_ERR_INVALID_ARG, "accepted: \"%s\" (entry %d)",
                     invalid[i].in, invalid[i].entry);
    }
}

Test(policy_origin, host_lengths)
{
    char buf[600], lab[64];
    struct wsg_origin o;
    memset(lab, 'a', 63);
    lab[63] = 0;
    /* 63-byte label fine, 64 refused (RFC 1035 2.3.4) */
    snprintf(buf, sizeof buf, "https://%s.com", lab);
    cr_expect_eq(parse3(buf, false, &o), WSG_OK);
    snprintf(buf, sizeof buf, "https://%sa.com", lab);
    cr_expect_eq(parse3(buf, false, &o), WSG_ERR_INVALID_ARG);
    /* 253 bytes: 4 labels of 63 ... built as 63.63.63.61 */
    snprintf(buf, sizeof buf, "https://%s.%s.%s.%.61s", lab, lab, lab, lab);
    cr_expect_eq(parse3(buf, false, &o), WSG_OK);
    cr_expect_eq(strlen(o.host), 253);
    snprintf(buf, sizeof buf, "https://%s.%s.%s.%.61s.", lab, lab, lab, lab);
    cr_expect_eq(parse3(buf, false, &o), WSG_OK, "trailing dot not counted");
    snprintf(buf, sizeof buf, "https://%s.%s.%s.%.62s", lab, lab, lab, lab);
    cr_expect_eq(parse3(buf, false, &o), WSG_ERR_INVALID_ARG, "254 bytes");
    snprintf(buf, sizeof buf, "https://*.%s.%s.%s.%.61s:1/", lab, lab, lab,
             lab);
    cr_expect_eq(parse3(buf, true, &o), WSG_OK, "wildcard over 253 bytes");
    cr_expect_eq(strlen(o.host), 255);
}

Test(policy_origin, null_args)
{
    struct wsg_origin o;
    cr_expect_eq(wsg_origin_parse(NULL, 0, false, &o), WSG_ERR_INVALID_ARG);
    cr_expect_eq(wsg_origin_parse(NULL, 5, false, &o), WSG_ERR_INVALID_ARG);
    cr_expect_eq(wsg_origin_parse("https://a.b", 11, false, NULL),
                 WSG_ERR_INVALID_ARG);
    /* len is honoured: the bytes after it are never looked at */
    cr_expect_eq(wsg_origin_parse("https://a.b/evil", 11, false, &o), WSG_OK);
    cr_expect_str_eq(o.host, "a.b");
}

/* An allowlist entry, a value, and whether they must match. */
struct pair {
    const char *entry, *value;
    bool match;
};

static void expect_pairs(bool (*fn)(const char *, const char *),
                         const char *name, const struct pair *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(fn(t[i].entry, t[i].value), t[i].match,
                     "%s(\"%s\", \"%s\") should be %s", name, t[i].entry,
                     t[i].value, t[i].match ? "true" : "false");
}

#define EXPECT_PAIRS(fn, t) expect_pairs(fn, #fn, t, sizeof t / sizeof t[0])

/* Parses an entry and an origin, returns wsg_origin_match(). */
static bool om(const char *pattern, const char *origin)
{
    struct wsg_origin p, o;
    cr_assert_eq(parse3(pattern, true, &p), WSG_OK, "entry %s", pattern);
    if (parse3(origin, false, &o) != WSG_OK)
        return false;
    return wsg_origin_match(&p, &o);
}

Test(policy_origin, match)
{
    static const struct pair t[] = {
        {"https://example.com", "https://Example.COM", true},
        {"https://example.com", "https://example.com:443", true},
        {"https://example.com:443/", "https://example.com", true},
        {"https://example.com", "https://example.com.", true},
        {"http://[::1]:8080", "http://[::1]:8080", true},
        {"https://example.com", "http://example.com", false},
        {"https://example.com", "wss://example.com", false},
        {"https://example.com", "https://example.com:8443", false},
        {"http://example.com", "http://example.com:443", false},
        {"https://example.com", "https://www.example.com", false},
        {"https://example.com", "https://example.co", false},
        {"https://example.com", "https://example.com.evil.com", false},
        {"https://example.com", "null", false},
        {"https://example.com", "file://", false},
    };
    EXPECT_PAIRS(om, t);
}

Test(policy_origin, wildcard)
{
    static const struct pair t[] = {
        {"https://*.example.com", "https://x.example.com", true},
        {"https://*.example.com", "https://X.Example.Com:443", true},
        {"https://*.example.com", "https://a.b.example.com", true},
        {"https://*.example.com", "https://example.com", false},
        {"https://*.example.com", "https://xexample.com", false},
        {"https://*.example.com", "https://x.example.com.evil.com", false},
        {"https://*.example.com", "https://x.example.co", false},
        {"https://*.example.com", "http://x.example.com", false},
        {"https://*.example.com", "https://x.example.com:8443", false},
        {"https://*.example.com", "https://[::1]", false},
        {"https://*.example.com:8443", "https://x.example.com:8443", true},
    };
    EXPECT_PAIRS(om, t);
}

Test(policy_origin, self_match)
{
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        struct wsg_origin o;
        cr_assert_eq(parse3(valid[i].in, valid[i].entry, &o), WSG_OK);
        if (o.host[0] == '*') {
            /* a wildcard entry never matches itself as an origin */
            cr_expect_not(wsg_origin_match(&o, &o), "%s", valid[i].in);
        } else {
            cr_expect(wsg_origin_match(&o, &o), "%s", valid[i].in);
        }
    }
    cr_expect_not(wsg_origin_match(NULL, NULL));
}

/* ---- Host allowlist (DNS rebinding, T9) ---- */

/* wsg_host_match with the Host value also placed before a guard page. */
static bool hm(const char *entry, const char *host)
{
    size_t len = strlen(host);
    bool a = wsg_host_match(entry, host, len);
    struct guard_page g;
    const char *gp = guard_page_copy(&g, host, len);
    bool b = wsg_host_match(entry, gp, len);
    guard_page_free(&g);
    cr_assert_eq(a, b, "%s vs %s: guard page copy differs", entry, host);
    return a;
}

Test(policy_host, exact)
{
    static const struct pair t[] = {
        {"example.com", "example.com", true},
        {"example.com", "EXAMPLE.com", true},
        {"example.com", "example.com:8080", true},
        {"example.com", "example.com.", true},
        {"example.com.", "example.com:443", true},
        {"Example.Com", "example.com", true},
        {"localhost", "localhost:8000", true},
        {"127.0.0.1", "127.0.0.1:8000", true},
        {"example.com", "www.example.com", false},
        {"example.com", "example.com.evil.com", false},
        {"example.com", "xexample.com", false},
    };
    EXPECT_PAIRS(hm, t);
}

Test(policy_host, dns_rebinding)
{
    /* T9: a rebinding page sends Host: evil.com (or its IP) */
    static const struct pair t[] = {
        {"app.example.com", "evil.com", false},
        {"app.example.com", "evil.com:80", false},
        {"app.example.com", "127.0.0.1", false},
        {"localhost", "localhost.evil.com", false},
        {"*.example.com", "example.com.evil.com", false},
        {"*.example.com", "evil.com", false},
    };
    EXPECT_PAIRS(hm, t);
}

Test(policy_host, ports)
{
    static const struct pair t[] = {
        {"example.com:8080", "example.com:8080", true},
        {"example.com:8080", "example.com", false},
        {"example.com:8080", "example.com:8081", false},
        {"example.com:8080", "example.com:08080", false},
        {"example.com", "example.com:", false},
        {"example.com", "example.com:0", false},
        {"example.com", "example.com:65536", false},
        {"example.com", "example.com:80:80", false},
        {"example.com", "example.com:8o", false},
        {"example.com:", "example.com", false},
        {"example.com:0", "example.com:0", false},
    };
    EXPECT_PAIRS(hm, t);
}

Test(policy_host, ipv6)
{
    static const struct pair t[] = {
        {"[::1]", "[::1]", true},
        {"[::1]", "[::1]:8080", true},
        {"[::1]:8080", "[::1]:8080", true},
        {"[2001:db8::1]", "[2001:DB8::1]", true},
        {"[::1]:8080", "[::1]", false},
        {"[::1]:8080", "[::1]:8081", false},
        {"[::1]", "::1", false},
        {"[::1]", "[::1", false},
        {"[::1]", "[::1]8080", false},
        {"[::1]", "[::2]", false},
        {"*.example.com", "[::1]", false},
    };
    EXPECT_PAIRS(hm, t);
}

Test(policy_host, wildcard)
{
    static const struct pair t[] = {
        {"*.example.com", "a.example.com", true},
        {"*.example.com", "A.B.Example.com:9000", true},
        {"*.example.com:9000", "a.example.com:9000", true},
        {"*.example.com:9000", "a.example.com", false},
        {"*.example.com", "example.com", false},
        {"*.example.com", "aexample.com", false},
        {"*.example.com", "*.example.com", false},
        {"*.com", "example.com", false},
        {"*", "example.com", false},
        {"a.*.com", "a.b.com", false},
    };
    EXPECT_PAIRS(hm, t);
}

Test(policy_host, malformed)
{
    static const char *bad[] = {
        "", ".", "..", "a..b", ".a", "a b", "a\tb", "a%2eb", "a/b",
        "user@a", "a_b", "a.b\r\n", "\0", "a.b?x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_not(hm("a", bad[i]), "%s", bad[i]);
        cr_expect_not(hm("a.b", bad[i]), "%s", bad[i]);
        cr_expect_not(hm("*.a.b", bad[i]), "%s", bad[i]);
    }
    cr_expect_not(wsg_host_match(NULL, "a", 1));
    cr_expect_not(wsg_host_match("a", NULL, 0));
    cr_expect_not(wsg_host_match("a", "a", 0));
    cr_expect_not(hm("", "a"));
    /* an embedded NUL is not an end */
    cr_expect_not(wsg_host_match("a.b", "a.b\0evil", 8));
    /* length honoured */
    cr_expect(wsg_host_match("a.b", "a.b.evil.com", 3));
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_expect_not(hm(big, big));
}
