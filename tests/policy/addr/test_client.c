/* wsg_client_addr: the client address behind trusted proxies (H11 "client
 * address through trusted proxies only"; the key for H6 per-address limits
 * and H3 identity headers). THREATS T15: a client cannot spoof its address
 * with X-Forwarded-For or X-Client-IP unless the peer is a trusted proxy. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <wsguard/policy.h>

static struct wsg_addr A(const char *s)
{
    struct wsg_addr a;
    cr_assert_eq(wsg_addr_parse(s, strlen(s), true, &a), WSG_OK, "A(%s)", s);
    return a;
}

#define MAXH 16

struct req {
    struct wsg_header h[MAXH];
    struct wsg_hs_request r;
};

/* A request with headers "Name", "Value", ..., NULL. */
static void req_init(struct req *q, ...)
{
    va_list ap;
    memset(q, 0, sizeof *q);
    va_start(ap, q);
    size_t n = 0;
    for (const char *name; (name = va_arg(ap, const char *)) != NULL; n++) {
        const char *value = va_arg(ap, const char *);
        cr_assert(n < MAXH);
        q->h[n].name = name;
        q->h[n].name_len = strlen(name);
        q->h[n].value = value;
        q->h[n].value_len = strlen(value);
    }
    va_end(ap);
    q->r.headers = q->h;
    q->r.header_count = n;
}

static struct wsg_cidr trusted[3];
static size_t ntrusted;

static void trust(const char *const *list, size_t n)
{
    cr_assert(n <= 3);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(wsg_cidr_parse(list[i], strlen(list[i]), &trusted[i]),
                     WSG_OK);
    ntrusted = n;
}

static void default_trust(void)
{
    static const char *const l[] = {"10.0.0.0/8", "2001:db8:ffff::/48",
                                    "192.0.2.1"};
    trust(l, 3);
}

/* Asserts the client address for `peer` and `req` is `want`. */
static void expect(const char *peer, const struct wsg_hs_request *r,
                   const char *hdr, const char *want)
{
    struct wsg_addr p = A(peer);
    struct wsg_addr got = wsg_client_addr(&p, trusted, ntrusted, r, hdr);
    char g[46], w[46];
    struct wsg_addr wa = A(want);
    wsg_addr_format(&got, g, sizeof g);
    wsg_addr_format(&wa, w, sizeof w);
    cr_assert_str_eq(g, w, "peer %s header %s", peer, hdr ? hdr : "-");
}

/* The same for a request whose only header is X-Forwarded-For: `xff`. */
static void expect_xff(const char *peer, const char *xff, const char *want)
{
    struct req q;
    req_init(&q, "X-Forwarded-For", xff, (const char *)NULL);
    expect(peer, &q.r, NULL, want);
}

TestSuite(policy_client_addr, .init = default_trust);

/* T15: an untrusted peer's forwarding headers are never believed. */
Test(policy_client_addr, untrusted_peer_ignores_xff)
{
    struct req q;
    req_init(&q, "X-Forwarded-For", "1.1.1.1", "X-Client-IP", "2.2.2.2",
             (const char *)NULL);
    expect("203.0.113.5", &q.r, NULL, "203.0.113.5");
    expect("203.0.113.5", &q.r, "X-Client-IP", "203.0.113.5");
    expect("2001:db8:1::5", &q.r, "X-Client-IP", "2001:db8:1::5");
    /* 11.x is just outside 10/8 */
    expect("11.0.0.1", &q.r, NULL, "11.0.0.1");
    /* no trusted list at all: peer */
    struct wsg_addr p = A("10.0.0.1");
    struct wsg_addr got = wsg_client_addr(&p, NULL, 0, &q.r, "X-Client-IP");
    cr_assert_eq(memcmp(got.b, p.b, 16), 0);
    got = wsg_client_addr(&p, NULL, 5, &q.r, "X-Client-IP");
    cr_assert_eq(memcmp(got.b, p.b, 16), 0);
}

Test(policy_client_addr, trusted_peer_takes_rightmost_untrusted)
{
    struct req q;
    expect_xff("10.0.0.1", "6.6.6.6, 1.1.1.1", "1.1.1.1");
    /* spoofed left entries are never reached: 6.6.6.6 is ignored */
    expect_xff("10.0.0.1", "6.6.6.6,1.1.1.1,10.9.9.9,10.1.1.1", "1.1.1.1");
    req_init(&q, "x-forwarded-for", "  1.1.1.1  ", (const char *)NULL);
    expect("10.0.0.1", &q.r, NULL, "1.1.1.1");
    req_init(&q, "X-FORWARDED-FOR", "1.1.1.1", (const char *)NULL);
    expect("192.0.2.1", &q.r, NULL, "1.1.1.1");
}

Test(policy_client_addr, trusted_hop_chain)
{
    struct req q;
    req_init(&q, "X-Forwarded-For",
             "7.7.7.7, 2001:db8:1::9, 10.2.2.2, 2001:db8:ffff::1, 192.0.2.1",
             (const char *)NULL);
    expect("10.0.0.1", &q.r, NULL, "2001:db8:1::9");
    expect("2001:db8:ffff::2", &q.r, NULL, "2001:db8:1::9");
    expect("::ffff:10.0.0.1", &q.r, NULL, "2001:db8:1::9");
    /* 192.0.2.2 is not the trusted /32 */
    expect_xff("10.0.0.1", "7.7.7.7, 192.0.2.2, 192.0.2.1", "192.0.2.2");
}

Test(policy_client_addr, all_trusted_gives_leftmost)
{
    struct req q;
    expect_xff("10.0.0.1", "10.3.3.3, 192.0.2.1, 10.4.4.4", "10.3.3.3");
    req_init(&q, (const char *)NULL);
    expect("10.0.0.1", &q.r, NULL, "10.0.0.1");
    expect("10.0.0.1", NULL, "X-Client-IP", "10.0.0.1");
    expect_xff("10.0.0.1", "", "10.0.0.1");
}

Test(policy_client_addr, malformed_element_stops_walk)
{
    struct req q;
    /* the walk reaches "unknown" after trusted 10.5.5.5: stops there */
    expect_xff("10.0.0.1", "1.1.1.1, unknown, 10.5.5.5", "10.5.5.5");
    expect_xff("10.0.0.1", "1.1.1.1, _hidden", "10.0.0.1");
    static const char *const bad[] = {
        "01.1.1.1", "1.1.1.1.1", "256.0.0.1", "::1::2", "fe80::1%eth0",
        "1.1.1.1 2.2.2.2", "\"1.1.1.1\"", "for=1.1.1.1", "[1.1.1.1]",
        "1.1.1.1:99999", "[::1", "unknown",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char v[80];
        snprintf(v, sizeof v, "9.9.9.9, %s, 10.6.6.6", bad[i]);
        req_init(&q, "X-Forwarded-For", v, (const char *)NULL);
        expect("10.0.0.1", &q.r, NULL, "10.6.6.6");
    }
    /* a malformed element left of the first untrusted one is never read */
    expect_xff("10.0.0.1", "garbage, 3.3.3.3", "3.3.3.3");
}

Test(policy_client_addr, elements_with_ports_and_brackets)
{
    expect_xff("10.0.0.1", "[2001:db8::1]:443", "2001:db8::1");
    expect_xff("10.0.0.1", "192.0.2.99:1234", "192.0.2.99");
    expect_xff("10.0.0.1", "[2001:db8::2]", "2001:db8::2");
    expect_xff("10.0.0.1", "2001:db8::3", "2001:db8::3");
    /* bare IPv6 with a colon suffix: an address, never address+port */
    expect_xff("10.0.0.1", "2001:db8::1:80", "2001:db8::1:80");
    expect_xff("10.0.0.1", "1.1.1.1, [10.7.7.7]:1, 10.8.8.8:99", "10.8.8.8");
}

/* RFC 9110 5.3: several X-Forwarded-For headers are one list, in order. */
Test(policy_client_addr, several_xff_headers_are_one_list)
{
    struct req q;
    req_init(&q, "X-Forwarded-For", "4.4.4.4", "Host", "x",
             "X-Forwarded-For", "10.1.0.1, 10.1.0.2", (const char *)NULL);
    expect("10.0.0.1", &q.r, NULL, "4.4.4.4");
    req_init(&q, "X-Forwarded-For", "4.4.4.4", "X-Forwarded-For", "5.5.5.5",
             (const char *)NULL);
    expect("10.0.0.1", &q.r, NULL, "5.5.5.5");
    req_init(&q, "X-Forwarded-For", "10.1.1.1", "X-Forwarded-For",
             "10.2.2.2", (const char *)NULL);
    expect("10.0.0.1", &q.r, NULL, "10.1.1.1");
    req_init(&q, "X-Forwarded-For", "4.4.4.4, bad", "X-Forwarded-For",
             "10.2.2.2", (const char *)NULL);
    expect("10.0.0.1", &q.r, NULL, "10.2.2.2");
    /* empty elements and empty headers are skipped (RFC 9110 5.6.1) */
    req_init(&q, "X-Forwarded-For", "4.4.4.4,", "X-Forwarded-For",
             ", ,10.2.2.2,,", (const char *)NULL);
    expect("10.0.0.1", &q.r, NULL, "4.4.4.4");
    req_init(&q, "X-Forwarded-For", "4.4.4.4", "X-Forwarded-For", "",
             (const char *)NULL);
    expect("10.0.0.1", &q.r, NULL, "4.4.4.4");
}

Test(policy_client_addr, client_header_once)
{
    struct req q;
    req_init(&q, "X-Forwarded-For", "1.1.1.1", "X-Client-IP", "8.8.8.8",
             (const char *)NULL);
    expect("10.0.0.1", &q.r, "X-Client-IP", "8.8.8.8");
    expect("10.0.0.1", &q.r, "x-client-ip", "8.8.8.8");
    expect("10.0.0.1", &q.r, NULL, "1.1.1.1");
    expect("10.0.0.1", &q.r, "", "1.1.1.1");
    expect("10.0.0.1", &q.r, "X-Real-IP", "1.1.1.1");
    req_init(&q, "X-Client-IP", " [2001:db8::8]:443 ", (const char *)NULL);
    expect("2001:db8:ffff::7", &q.r, "X-Client-IP", "2001:db8::8");
    /* its value may be a trusted address: it is taken as is */
    req_init(&q, "X-Client-IP", "10.9.9.9", (const char *)NULL);
    expect("10.0.0.1", &q.r, "X-Client-IP", "10.9.9.9");
}

/* Twice (a client's copy passed on next to the proxy's): ignored. */
Test(policy_client_addr, client_header_twice_falls_back)
{
    struct req q;
    req_init(&q, "X-Client-IP", "6.6.6.6", "X-Forwarded-For", "1.1.1.1",
             "X-Client-IP", "8.8.8.8", (const char *)NULL);
    expect("10.0.0.1", &q.r, "X-Client-IP", "1.1.1.1");
    req_init(&q, "X-Client-IP", "8.8.8.8", "x-client-ip", "8.8.8.8",
             (const char *)NULL);
    expect("10.0.0.1", &q.r, "X-Client-IP", "10.0.0.1");
    static const char *const bad[] = {
        "", "unknown", "8.8.8.8, 9.9.9.9", "08.8.8.8", "8.8.8.8:",
        "[8.8.8.8]", "fe80::1%1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req_init(&q, "X-Client-IP", bad[i], "X-Forwarded-For", "1.1.1.1",
                 (const char *)NULL);
        expect("10.0.0.1", &q.r, "X-Client-IP", "1.1.1.1");
    }
}

Test(policy_client_addr, ipv6_peers)
{
    static const char *const l[] = {"2001:db8:ffff::/48", "::1",
                                    "fd00::/8"};
    trust(l, 3);
    struct req q;
    req_init(&q, "X-Forwarded-For", "2001:db8:5::5, fd12::1, ::1",
             (const char *)NULL);
    expect("::1", &q.r, NULL, "2001:db8:5::5");
    expect("2001:db8:ffff:1::1", &q.r, NULL, "2001:db8:5::5");
    expect("2001:db8:fffe::1", &q.r, NULL, "2001:db8:fffe::1");
    /* an IPv4 peer is not inside IPv6 networks (mapped form) */
    expect("127.0.0.1", &q.r, NULL, "127.0.0.1");
    expect_xff("fd00::1", "192.0.2.50", "192.0.2.50");
}

Test(policy_client_addr, null_arguments)
{
    struct wsg_addr z = wsg_client_addr(NULL, trusted, ntrusted, NULL, NULL);
    static const uint8_t zero[16];
    cr_assert_eq(memcmp(z.b, zero, 16), 0);
    struct req q;
    req_init(&q, "X-Forwarded-For", "1.1.1.1", (const char *)NULL);
    q.r.headers = NULL;
    expect("10.0.0.1", &q.r, NULL, "10.0.0.1");
}

/* A real request through the handshake parser: header spans as the
 * handshake hands them out. */
Test(policy_client_addr, through_handshake_parser)
{
    static const char req[] =
        "GET /chat HTTP/1.1\r\n"
        "Host: example.com\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "X-Forwarded-For: 6.6.6.6, 198.51.100.7\r\n"
        "X-Client-IP: 203.0.113.1\r\n"
        "X-Forwarded-For:   10.20.30.40:5678 \r\n"
        "\r\n";
    struct wsg_hs_server *hs = NULL;
    size_t used = 0;
    cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
    cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)req,
                                    sizeof req - 1, &used), 1,
                 "reason: %s", wsg_hs_server_reason(hs));
    const struct wsg_hs_request *r = wsg_hs_server_request(hs);
    cr_assert_not_null(r);
    expect("10.0.0.1", r, NULL, "198.51.100.7");
    expect("10.0.0.1", r, "X-Client-IP", "203.0.113.1");
    expect("203.0.113.200", r, "X-Client-IP", "203.0.113.200");   /* T15 */
    wsg_hs_server_free(hs);
}

/* H12/T5: a long all-trusted chain is walked once, to its left-most hop. */
Test(policy_client_addr, long_trusted_chain)
{
    static char v[16000];
    size_t n = 0;
    for (unsigned i = 0; i < 1000; i++)
        n += (size_t)snprintf(v + n, sizeof v - n, "%s10.%u.%u.1",
                              i ? ", " : "", i / 250, i % 250);
    cr_assert(n < sizeof v - 1);
    expect_xff("10.0.0.1", v, "10.0.0.1");
    v[0] = ' ';   /* left-most becomes " 8.0.0.1": untrusted */
    v[1] = '8';
    expect_xff("10.0.0.1", v, "8.0.0.1");
}
