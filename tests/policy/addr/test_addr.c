/* Addresses and CIDRs (lib/policy/addr.c): H3, H6, H11 key on the client
 * address, so parsing is strict, linear and never reads past `len`
 * (THREATS T5, T15). Every input also runs right before a PROT_NONE page
 * and with trailing bytes after `len`. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <wsguard/policy.h>

#include "guard_page.h" /* tests/common */

/* ---- helpers ------------------------------------------------------------- */

static struct guard_page g_page;
static unsigned char *g_end;  /* the first unreadable byte */
static size_t g_room;

/* One page before the PROT_NONE one; inputs are copied to end at it. */
static void guard_setup(void)
{
    g_room = (size_t)sysconf(_SC_PAGESIZE);
    g_end = (unsigned char *)guard_page_copy(&g_page, NULL, g_room) + g_room;
}

static void guard_teardown(void) { guard_page_free(&g_page); }

static const char *guarded(const char *s, size_t len)
{
    cr_assert(len <= g_room);
    char *p = (char *)g_end - len;
    memcpy(p, s, len);
    return p;
}

/* Parses three ways (plain, before a guard page, with digits and colons
 * after `len`) and asserts they agree. */
static int parse3(const char *s, size_t len, bool port, struct wsg_addr *out)
{
    struct wsg_addr a, b, c;
    static char trail[8192];
    memset(&a, 0xAA, sizeof a);
    memset(&b, 0xAA, sizeof b);
    memset(&c, 0xAA, sizeof c);
    int ra = wsg_addr_parse(s, len, port, &a);
    int rb = wsg_addr_parse(guarded(s, len), len, port, &b);
    cr_assert(len + 8 < sizeof trail);
    memcpy(trail, s, len);
    memcpy(trail + len, "1:1]:1.1", 8);
    int rc = wsg_addr_parse(trail, len, port, &c);
    cr_assert_eq(ra, rb, "guard page changes result for \"%.*s\"", (int)len,
                 s);
    cr_assert_eq(ra, rc, "trailing bytes change result for \"%.*s\"",
                 (int)len, s);
    if (ra == WSG_OK) {
        cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
        cr_assert_eq(memcmp(&a, &c, sizeof a), 0);
    } else {
        cr_assert_eq(ra, WSG_ERR_INVALID_ARG);
        uint8_t aa[16];
        memset(aa, 0xAA, sizeof aa);
        cr_assert_eq(memcmp(a.b, aa, 16), 0, "output written on failure");
    }
    if (out)
        *out = a;
    return ra;
}

static int cidr3(const char *s, size_t len, struct wsg_cidr *out)
{
    struct wsg_cidr a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int ra = wsg_cidr_parse(s, len, &a);
    int rb = wsg_cidr_parse(guarded(s, len), len, &b);
    cr_assert_eq(ra, rb, "guard page changes result for \"%.*s\"", (int)len,
                 s);
    if (ra == WSG_OK) {
        cr_assert_eq(memcmp(a.net.b, b.net.b, 16), 0);
        cr_assert_eq(a.bits, b.bits);
    } else {
        cr_assert_eq(ra, WSG_ERR_INVALID_ARG);
    }
    if (out)
        *out = a;
    return ra;
}

static struct wsg_addr A(const char *s)
{
    struct wsg_addr a;
    cr_assert_eq(wsg_addr_parse(s, strlen(s), true, &a), WSG_OK, "A(%s)", s);
    return a;
}

static struct wsg_cidr C(const char *s)
{
    struct wsg_cidr c;
    cr_assert_eq(wsg_cidr_parse(s, strlen(s), &c), WSG_OK, "C(%s)", s);
    return c;
}

/* ---- valid addresses ----------------------------------------------------- */

struct ok_case {
    const char *in;
    bool port;        /* needs allow_port */
    const char *canon;
};

static const struct ok_case ok_cases[] = {
    {"0.0.0.0", false, "0.0.0.0"},
    {"1.2.3.4", false, "1.2.3.4"},
    {"192.0.2.7", false, "192.0.2.7"},
    {"255.255.255.255", false, "255.255.255.255"},
    {"10.0.0.1", false, "10.0.0.1"},
    {"100.64.0.0", false, "100.64.0.0"},
    {"::", false, "::"},
    {"::1", false, "::1"},
    {"1::", false, "1::"},
    {"2001:db8::1", false, "2001:db8::1"},
    {"2001:DB8::1", false, "2001:db8::1"},
    {"2001:0db8:0000:0000:0000:0000:0000:0001", false, "2001:db8::1"},
    {"2001:db8:0:0:1:0:0:1", false, "2001:db8::1:0:0:1"},
    {"2001:db8:0:0:0:1:0:0", false, "2001:db8::1:0:0"},
    {"2001:0:0:1:0:0:0:1", false, "2001:0:0:1::1"},
    {"2001:db8:0:1:1:1:1:1", false, "2001:db8:0:1:1:1:1:1"},
    {"1:2:3:4:5:6:7:8", false, "1:2:3:4:5:6:7:8"},
    {"1:2:3:4:5:6:7::", false, "1:2:3:4:5:6:7:0"},
    {"::2:3:4:5:6:7:8", false, "0:2:3:4:5:6:7:8"},
    {"1::8", false, "1::8"},
    {"0:0:0:0:0:0:0:0", false, "::"},
    {"0:0:0:0:0:0:0:1", false, "::1"},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false,
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    {"fe80::1", false, "fe80::1"},
    {"FE80::ABCD:EF01", false, "fe80::abcd:ef01"},
    {"::ffff:1.2.3.4", false, "1.2.3.4"},
    {"::FFFF:192.0.2.1", false, "192.0.2.1"},
    {"0:0:0:0:0:ffff:c000:0201", false, "192.0.2.1"},
    {"::ffff:c000:201", false, "192.0.2.1"},
    {"::1.2.3.4", false, "::102:304"},
    {"64:ff9b::192.0.2.33", false, "64:ff9b::c000:221"},
    {"1:2:3:4:5:6:1.2.3.4", false, "1:2:3:4:5:6:102:304"},
    {"1:2:3:4:5::1.2.3.4", false, "1:2:3:4:5:0:102:304"},
    {"::ffff:0:0", false, "0.0.0.0"},
    {"[::1]", false, "::1"},
    {"[2001:db8::1]", false, "2001:db8::1"},
    {"[::ffff:10.1.2.3]", false, "10.1.2.3"},
    /* with a port (ignored) */
    {"192.0.2.7:443", true, "192.0.2.7"},
    {"1.2.3.4:0", true, "1.2.3.4"},
    {"1.2.3.4:65535", true, "1.2.3.4"},
    {"[::1]:80", true, "::1"},
    {"[2001:db8::1]:443", true, "2001:db8::1"},
    {"[::ffff:1.2.3.4]:1", true, "1.2.3.4"},
    /* ambiguous: a bare IPv6 address, port never taken */
    {"::1:80", false, "::1:80"},
    {"2001:db8::1:443", false, "2001:db8::1:443"},
};

Test(policy_addr, valid_table, .init = guard_setup, .fini = guard_teardown)
{
    for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
        const struct ok_case *t = &ok_cases[i];
        size_t len = strlen(t->in);
        struct wsg_addr a;
        char buf[64];
        cr_assert_eq(parse3(t->in, len, true, &a), WSG_OK, "\"%s\"", t->in);
        size_t n = wsg_addr_format(&a, buf, sizeof buf);
        cr_assert_str_eq(buf, t->canon, "\"%s\"", t->in);
        cr_assert_eq(n, strlen(t->canon));
        /* without allow_port: same answer, or refused if it needs a port */
        int rc = parse3(t->in, len, false, NULL);
        cr_assert_eq(rc, t->port ? WSG_ERR_INVALID_ARG : WSG_OK, "\"%s\"",
                     t->in);
    }
}

Test(policy_addr, ipv4_is_mapped_bytes)
{
    struct wsg_addr a = A("192.0.2.7");
    static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0xff, 0xff, 192, 0, 2, 7};
    cr_assert_eq(memcmp(a.b, want, 16), 0);
    struct wsg_addr m = A("::ffff:192.0.2.7");
    cr_assert_eq(memcmp(m.b, want, 16), 0, "one comparison for both forms");
    struct wsg_addr six = A("2001:db8:1:2:3:4:5:6");
    static const uint8_t w6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2,
                                   0, 3, 0, 4, 0, 5, 0, 6};
    cr_assert_eq(memcmp(six.b, w6, 16), 0);
}

/* ---- invalid addresses --------------------------------------------------- */

struct bad_case {
    const char *in;
    bool port;
};

static const struct bad_case bad_cases[] = {
    {"", true}, {" ", true}, {".", true}, {":", true}, {"[", true},
    {"]", true}, {"[]", true}, {"[]:80", true},
    {"1.2.3", true}, {"1.2.3.4.5", true}, {"01.2.3.4", true},
    {"1.02.3.4", true}, {"1.2.3.00", true}, {"256.1.1.1", true},
    {"1.2.3.256", true}, {"1.2.3.1000", true}, {"1..2.3", true},
    {".1.2.3.4", true}, {"1.2.3.4.", true}, {"1.2.3.-4", true},
    {"+1.2.3.4", true}, {"1.2.3.4 ", true}, {" 1.2.3.4", true},
    {"0x1.2.3.4", true}, {"1.2.3.a", true}, {"4294967295", true},
    {"1.2.3.4/8", true}, {"1.2.3.4:", true}, {"1.2.3.4:65536", true},
    {"1.2.3.4:080", true}, {"1.2.3.4:-1", true}, {"1.2.3.4:1:2", true},
    {"1.2.3.4:123456", true}, {"1.2.3.4:8a", true},
    {":::", true}, {"1::2::3", true}, {"::1::", true}, {":1", true},
    {"1:", true}, {"1:2", true}, {":1:2:3:4:5:6:7", true},
    {"1:2:3:4:5:6:7:", true}, {"1:2:3:4:5:6:7", true},
    {"1:2:3:4:5:6:7:8:9", true}, {"1:2:3:4:5:6:7:8::", true},
    {"::1:2:3:4:5:6:7:8", true}, {"1:2:3:4::5:6:7:8", true},
    {"12345::", true}, {"::12345", true}, {"g::", true}, {"::g", true},
    {"1:::2", true}, {"fe80::1%eth0", true}, {"fe80::1%1", true},
    {"[fe80::1%25eth0]", true}, {"::ffff:1.2.3", true},
    {"::ffff:1.2.3.4.5", true}, {"::ffff:01.2.3.4", true},
    {"::ffff:256.2.3.4", true}, {"::1.2.3.4:5", true},
    {"1.2.3.4::", true}, {"::1.2.3.4::", true}, {"1:2:3:4:5:6:7:1.2.3.4", true},
    {"1:2:3:4:5:6::1.2.3.4", true}, {"1:2:3:4:5:6:7:8:1.2.3.4", true},
    {"::ffff:1.2.3.4:80", true}, {"[1.2.3.4]", true}, {"[1.2.3.4]:80", true},
    {"[::1", true}, {"::1]", true}, {"[::1]]", true}, {"[[::1]]", true},
    {"[::1]:", true}, {"[::1]:65536", true}, {"[::1]80", true},
    {"[::1]:80:80", true}, {"[ ::1]", true}, {"::1 ", true},
    {"unknown", true}, {"_hidden", true}, {"localhost", true},
    {"1.2.3.4\n", true}, {"1.2.3.4,5.6.7.8", true},
    {"[::1]:80", false}, {"1.2.3.4:80", false},
};

Test(policy_addr, invalid_table, .init = guard_setup, .fini = guard_teardown)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *t = &bad_cases[i];
        cr_assert_eq(parse3(t->in, strlen(t->in), t->port, NULL),
                     WSG_ERR_INVALID_ARG, "\"%s\" must be refused", t->in);
    }
}

Test(policy_addr, embedded_nul_and_null_args)
{
    struct wsg_addr a;
    cr_assert_eq(wsg_addr_parse("1.2.3.4\0", 8, true, &a),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_addr_parse("::1\0", 4, true, &a), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_addr_parse(NULL, 3, true, &a), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_addr_parse("::1", 3, true, NULL), WSG_ERR_INVALID_ARG);
    /* len shorter than the string: only len bytes count */
    cr_assert_eq(wsg_addr_parse("1.2.3.45", 7, false, &a), WSG_OK);
    char buf[64];
    wsg_addr_format(&a, buf, sizeof buf);
    cr_assert_str_eq(buf, "1.2.3.4");
}

/* Every prefix of every valid input, before the guard page: a crash here
 * is an over-read on a truncated address. */
Test(policy_addr, prefixes_guarded, .init = guard_setup,
     .fini = guard_teardown)
{
    for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
        const char *s = ok_cases[i].in;
        for (size_t l = 0; l <= strlen(s); l++) {
            (void)parse3(s, l, true, NULL);
            (void)parse3(s, l, false, NULL);
        }
    }
}

/* Linear time: a long run of digits or colons is refused quickly. */
Test(policy_addr, long_inputs, .init = guard_setup, .fini = guard_teardown)
{
    static char big[4000];
    memset(big, ':', sizeof big);
    cr_assert_eq(parse3(big, sizeof big, true, NULL), WSG_ERR_INVALID_ARG);
    memset(big, '1', sizeof big);
    cr_assert_eq(parse3(big, sizeof big, true, NULL), WSG_ERR_INVALID_ARG);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = "1:"[i % 2];
    cr_assert_eq(parse3(big, sizeof big, true, NULL), WSG_ERR_INVALID_ARG);
    big[0] = '[';
    cr_assert_eq(parse3(big, sizeof big, true, NULL), WSG_ERR_INVALID_ARG);
}

/* ---- format (RFC 5952) --------------------------------------------------- */

static struct wsg_addr groups(const uint16_t g[8])
{
    struct wsg_addr a;
    for (int k = 0; k < 8; k++) {
        a.b[2 * k] = (uint8_t)(g[k] >> 8);
        a.b[2 * k + 1] = (uint8_t)g[k];
    }
    return a;
}

Test(policy_addr, format_rfc5952)
{
    static const struct {
        uint16_t g[8];
        const char *want;
    } t[] = {
        {{0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}, "2001:db8::1"},       /* 4.2.1 */
        {{0x2001, 0xdb8, 0, 1, 1, 1, 1, 1}, "2001:db8:0:1:1:1:1:1"}, /* 4.2.2 */
        {{0x2001, 0, 0, 1, 0, 0, 0, 1}, "2001:0:0:1::1"},         /* 4.2.3 */
        {{0x2001, 0xdb8, 0, 0, 1, 0, 0, 1}, "2001:db8::1:0:0:1"}, /* tie */
        {{0, 0, 1, 0, 0, 0, 0, 0}, "0:0:1::"},
        {{0, 0, 0, 1, 0, 0, 0, 0}, "0:0:0:1::"},
        {{0, 0, 0, 0, 1, 0, 0, 0}, "::1:0:0:0"},
        {{1, 0, 2, 0, 3, 0, 4, 0}, "1:0:2:0:3:0:4:0"},
        {{0, 1, 0, 1, 0, 1, 0, 1}, "0:1:0:1:0:1:0:1"},
        {{0xABCD, 0xEF, 0xF, 0x100, 0x1000, 0, 0, 0xFFFF},
         "abcd:ef:f:100:1000::ffff"},
        {{0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001}, "10.0.0.1"},
        {{0, 0, 0, 0, 0, 0xfffe, 0x0a00, 0x0001}, "::fffe:a00:1"},
        {{0, 0, 0, 0, 0xffff, 0, 0x0a00, 0x0001}, "::ffff:0:a00:1"},
        {{0, 0, 0, 0, 0, 0, 0, 0}, "::"},
        {{0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff},
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct wsg_addr a = groups(t[i].g);
        char buf[46];
        memset(buf, 'x', sizeof buf);
        size_t n = wsg_addr_format(&a, buf, sizeof buf);
        cr_assert_str_eq(buf, t[i].want);
        cr_assert_eq(n, strlen(t[i].want));
    }
}

Test(policy_addr, format_cap)
{
    struct wsg_addr a = A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    char buf[46];
    cr_assert_eq(wsg_addr_format(&a, buf, 46), 39);
    cr_assert_eq(wsg_addr_format(&a, buf, 40), 39);
    memset(buf, 'x', sizeof buf);
    cr_assert_eq(wsg_addr_format(&a, buf, 39), 0, "no room for the NUL");
    cr_assert_eq(buf[0], '\0');
    cr_assert_eq(buf[1], 'x', "nothing written past the NUL");
    cr_assert_eq(wsg_addr_format(&a, buf, 0), 0);
    cr_assert_eq(wsg_addr_format(NULL, buf, sizeof buf), 0);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;   /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

Test(policy_addr, format_round_trip_random, .init = guard_setup,
     .fini = guard_teardown)
{
    for (int it = 0; it < 20000; it++) {
        struct wsg_addr a, b;
        uint64_t r = rnd();
        for (int k = 0; k < 16; k++)
            a.b[k] = (uint8_t)rnd();
        for (int k = 0; k < 8; k++)   /* zero groups half the time */
            if (r >> k & 1)
                a.b[2 * k] = a.b[2 * k + 1] = 0;
        if ((r >> 8 & 7) == 0) {      /* some IPv4-mapped */
            memset(a.b, 0, 10);
            a.b[10] = a.b[11] = 0xff;
        }
        if ((r >> 11 & 15) == 0)      /* small groups: "0:a:..." */
            for (int k = 0; k < 16; k += 2)
                a.b[k] = 0;
        char buf[46];
        size_t n = wsg_addr_format(&a, buf, sizeof buf);
        cr_assert(n > 0 && n < 46);
        cr_assert_eq(strlen(buf), n);
        cr_assert_eq(parse3(buf, n, false, &b), WSG_OK, "\"%s\"", buf);
        cr_assert_eq(memcmp(a.b, b.b, 16), 0, "round trip of \"%s\"", buf);
        cr_assert_null(strstr(buf, ":::"));
        for (size_t i = 0; i < n; i++)
            cr_assert(!(buf[i] >= 'A' && buf[i] <= 'F'), "lower case");
        /* canonical: parsing the canonical form and formatting is stable */
        char buf2[46];
        wsg_addr_format(&b, buf2, sizeof buf2);
        cr_assert_str_eq(buf, buf2);
        /* the bracketed form with a port parses to the same address */
        if (!strchr(buf, '.')) {
            char br[64];
            int m = snprintf(br, sizeof br, "[%s]:%u", buf,
                             (unsigned)(r >> 16 & 0xffff));
            cr_assert_eq(parse3(br, (size_t)m, true, &b), WSG_OK, "%s", br);
            cr_assert_eq(memcmp(a.b, b.b, 16), 0);
        }
    }
}

/* ---- CIDRs --------------------------------------------------------------- */

Test(policy_cidr, valid, .init = guard_setup, .fini = guard_teardown)
{
    static const struct {
        const char *in;
        const char *net;
        unsigned bits;
    } t[] = {
        {"10.0.0.0/8", "10.0.0.0", 96 + 8},
        {"0.0.0.0/0", "0.0.0.0", 96},
        {"192.0.2.7", "192.0.2.7", 128},
        {"192.0.2.7/32", "192.0.2.7", 128},
        {"172.16.0.0/12", "172.16.0.0", 108},
        {"192.168.0.0/16", "192.168.0.0", 112},
        {"100.64.0.0/10", "100.64.0.0", 106},
        {"2001:db8::/32", "2001:db8::", 32},
        {"::/0", "::", 0},
        {"::1", "::1", 128},
        {"::1/128", "::1", 128},
        {"fe80::/10", "fe80::", 10},
        {"::ffff:0:0/96", "0.0.0.0", 96},
        {"::ffff:10.0.0.0/104", "10.0.0.0", 104},
        {"[2001:db8::]/48", "2001:db8::", 48},
        {"2001:db8:8000::/33", "2001:db8:8000::", 33},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct wsg_cidr c;
        char buf[46];
        cr_assert_eq(cidr3(t[i].in, strlen(t[i].in), &c), WSG_OK, "%s",
                     t[i].in);
        wsg_addr_format(&c.net, buf, sizeof buf);
        cr_assert_str_eq(buf, t[i].net, "%s", t[i].in);
        cr_assert_eq(c.bits, t[i].bits, "%s: bits %u", t[i].in, c.bits);
    }
}

Test(policy_cidr, invalid, .init = guard_setup, .fini = guard_teardown)
{
    static const char *const t[] = {
        "", "/", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08",
        "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0 /8",
        "10.0.0.1/8", "10.128.0.0/8", "192.0.2.1/31", "10.0.0.0/1000",
        "10.0.0.0/8a", "2001:db8::/129", "2001:db8::1/64", "::1/127",
        "2001:db8::/032", "::ffff:10.0.0.0/8", "10.0.0.0:80/8",
        "[::1]:80", "[::1]:80/128", "0.0.0.1/0", "::1/0", "unknown/8",
        "1.2.3.4/32\n", "fe80::1%eth0/64", "8000::/0",
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_assert_eq(cidr3(t[i], strlen(t[i]), NULL), WSG_ERR_INVALID_ARG,
                     "\"%s\" must be refused", t[i]);
    struct wsg_cidr c;
    cr_assert_eq(wsg_cidr_parse(NULL, 3, &c), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_cidr_parse("::/0", 4, NULL), WSG_ERR_INVALID_ARG);
}

Test(policy_cidr, contains_boundaries)
{
    struct wsg_cidr c = C("10.0.0.0/8");
    static const struct {
        const char *cidr, *addr;
        bool in;
    } t[] = {
        {"10.0.0.0/8", "10.0.0.0", true},
        {"10.0.0.0/8", "10.255.255.255", true},
        {"10.0.0.0/8", "9.255.255.255", false},
        {"10.0.0.0/8", "11.0.0.0", false},
        {"10.0.0.0/8", "::ffff:10.1.2.3", true},
        {"10.0.0.0/8", "::10.1.2.3", false},
        {"10.0.0.0/8", "a00:1::", false},
        {"172.16.0.0/12", "172.31.255.255", true},
        {"172.16.0.0/12", "172.32.0.0", false},
        {"172.16.0.0/12", "172.15.255.255", false},
        {"192.0.2.128/25", "192.0.2.128", true},
        {"192.0.2.128/25", "192.0.2.127", false},
        {"192.0.2.7", "192.0.2.7", true},
        {"192.0.2.7", "192.0.2.8", false},
        {"192.0.2.6/31", "192.0.2.7", true},
        {"192.0.2.6/31", "192.0.2.8", false},
        {"0.0.0.0/0", "255.255.255.255", true},
        {"0.0.0.0/0", "2001:db8::1", false},
        {"0.0.0.0/0", "::1", false},
        {"::/0", "2001:db8::1", true},
        {"::/0", "1.2.3.4", true},
        {"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"2001:db8::/32", "2001:db9::", false},
        {"2001:db8::/32", "2001:db7:ffff::", false},
        {"2001:db8:8000::/33", "2001:db8:7fff::1", false},
        {"2001:db8:8000::/33", "2001:db8:8000::1", true},
        {"fe80::/10", "febf::1", true},
        {"fe80::/10", "fec0::1", false},
        {"::1", "::1", true},
        {"::1", "::2", false},
        {"::1", "0.0.0.1", false},
        {"::ffff:0:0/96", "203.0.113.9", true},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct wsg_cidr cc = C(t[i].cidr);
        struct wsg_addr a = A(t[i].addr);
        cr_assert_eq(wsg_cidr_contains(&cc, &a), t[i].in, "%s in %s",
                     t[i].addr, t[i].cidr);
    }
    /* every prefix length: the network's first and last address are in,
     * the neighbours outside are not */
    for (unsigned bits = 1; bits <= 128; bits++) {
        struct wsg_cidr n;
        memset(&n, 0, sizeof n);
        n.bits = (uint8_t)bits;
        for (unsigned k = 0; k < bits; k++)   /* net = 0101... */
            if (k % 2)
                n.net.b[k / 8] |= (uint8_t)(0x80 >> (k % 8));
        struct wsg_addr lo = n.net, hi = n.net, out = n.net;
        for (unsigned k = bits; k < 128; k++)
            hi.b[k / 8] |= (uint8_t)(0x80 >> (k % 8));
        out.b[(bits - 1) / 8] ^= (uint8_t)(0x80 >> ((bits - 1) % 8));
        cr_assert(wsg_cidr_contains(&n, &lo), "/%u lo", bits);
        cr_assert(wsg_cidr_contains(&n, &hi), "/%u hi", bits);
        cr_assert(!wsg_cidr_contains(&n, &out), "/%u flipped bit", bits);
    }
    struct wsg_cidr bad = C("::/0");
    bad.bits = 129;
    struct wsg_addr any = A("::1");
    cr_assert(!wsg_cidr_contains(&bad, &any), "bits > 128 never matches");
    cr_assert(!wsg_cidr_contains(NULL, &any));
    cr_assert(!wsg_cidr_contains(&c, NULL));
}
