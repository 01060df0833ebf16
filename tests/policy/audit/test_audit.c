/* H11: wsg_audit_json renders one audit event as one JSON line
 * (RFC 8259), timestamps as RFC 3339 §5.6 UTC with milliseconds. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsguard/policy.h>

static char line[16384];

static const char *render(const struct wsg_audit_event *ev)
{
    size_t n = wsg_audit_json(ev, line, sizeof(line));
    cr_assert_lt(n, sizeof(line));
    cr_assert_eq(strlen(line), n);
    return line;
}

static struct wsg_audit_event full_event(void)
{
    struct wsg_audit_event ev = {0};
    ev.time_ms = UINT64_C(1795942800123);
    ev.event = "refuse";
    ev.control = WSG_H2;
    ev.client = "203.0.113.9";
    ev.subject = "alice@example.com";
    ev.peer = "10.0.0.2:51234";
    ev.path = "/chat?room=1";
    ev.status = 403;
    ev.close_code = 1008;
    ev.reason = "origin \"https://evil.example\" not allowed";
    ev.subprotocol = "chat.v1";
    ev.duration_ms = 12;
    ev.bytes_in = 345;
    ev.bytes_out = 6789;
    ev.messages_in = 3;
    ev.messages_out = 4;
    ev.messages_dropped = 5;
    ev.detail = "tab\there\nnew line";
    return ev;
}

static const char full_golden[] =
    "{\"ts\":\"2026-11-29T09:00:00.123Z\",\"event\":\"refuse\","
    "\"control\":\"H2\",\"client\":\"203.0.113.9\","
    "\"subject\":\"alice@example.com\","
    "\"peer\":\"10.0.0.2:51234\",\"path\":\"/chat?room=1\",\"status\":403,"
    "\"close_code\":1008,"
    "\"reason\":\"origin \\\"https://evil.example\\\" not allowed\","
    "\"subprotocol\":\"chat.v1\",\"duration_ms\":12,\"bytes_in\":345,"
    "\"bytes_out\":6789,\"messages_in\":3,\"messages_out\":4,"
    "\"messages_dropped\":5,\"detail\":\"tab\\there\\nnew line\"}\n";

TestSuite(policy_audit_json, .description = "H11 audit events as JSON lines");

Test(policy_audit_json, golden_full_event)
{
    struct wsg_audit_event ev = full_event();
    cr_assert_str_eq(render(&ev), full_golden);
}

Test(policy_audit_json, golden_minimal_event)
{
    struct wsg_audit_event ev = {0};
    cr_assert_str_eq(render(&ev),
                     "{\"ts\":\"1970-01-01T00:00:00.000Z\","
                     "\"event\":\"unknown\"}\n");
    ev.event = "open";
    ev.time_ms = 1;
    cr_assert_str_eq(render(&ev),
                     "{\"ts\":\"1970-01-01T00:00:00.001Z\","
                     "\"event\":\"open\"}\n");
}

Test(policy_audit_json, control_ids_and_signed_status)
{
    struct wsg_audit_event ev = {0};
    ev.event = "violation";
    ev.control = WSG_H11;
    ev.status = -1;
    cr_assert_str_eq(render(&ev),
                     "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"event\":"
                     "\"violation\",\"control\":\"H11\",\"status\":-1}\n");
    ev.control = 99;
    ev.status = -2147483647 - 1;
    cr_assert_str_eq(render(&ev),
                     "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"event\":"
                     "\"violation\",\"control\":\"H?\","
                     "\"status\":-2147483648}\n");
    ev.control = 0;
    ev.status = 0;
    ev.close_code = 65535;
    ev.bytes_in = UINT64_MAX;
    cr_assert_str_eq(render(&ev),
                     "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"event\":"
                     "\"violation\",\"close_code\":65535,"
                     "\"bytes_in\":18446744073709551615}\n");
}

Test(policy_audit_json, empty_strings_are_present)
{
    struct wsg_audit_event ev = {0};
    ev.event = "";
    ev.path = "";
    cr_assert_str_eq(render(&ev),
                     "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"event\":\"\","
                     "\"path\":\"\"}\n");
}

/* ---- RFC 3339 timestamps ---------------------------------------------- */

static void ts_is(uint64_t ms, const char *want)
{
    struct wsg_audit_event ev = {0};
    char expect[64];
    ev.time_ms = ms;
    ev.event = "e";
    snprintf(expect, sizeof(expect), "{\"ts\":\"%s\",\"event\":\"e\"}\n",
             want);
    cr_assert_str_eq(render(&ev), expect, "at %llu ms",
                     (unsigned long long)ms);
}

Test(policy_audit_json, rfc3339_known_instants)
{
    ts_is(0, "1970-01-01T00:00:00.000Z");
    ts_is(UINT64_C(78796799000), "1972-06-30T23:59:59.000Z");
    ts_is(UINT64_C(951782400000), "2000-02-29T00:00:00.000Z");
    ts_is(UINT64_C(951868799999), "2000-02-29T23:59:59.999Z");
    ts_is(UINT64_C(1795942800123), "2026-11-29T09:00:00.123Z");
    ts_is(UINT64_C(4107499200000), "2100-02-28T12:00:00.000Z");
    ts_is(UINT64_C(4107542400000), "2100-03-01T00:00:00.000Z");
    ts_is(UINT64_C(253402300799999), "9999-12-31T23:59:59.999Z");
}

Test(policy_audit_json, rfc3339_clamps_after_year_9999)
{
    ts_is(UINT64_C(253402300800000), "9999-12-31T23:59:59.999Z");
    ts_is(UINT64_MAX, "9999-12-31T23:59:59.999Z");
}

/* Every day from 1970 to 9999 against a naive calendar walk. */
Test(policy_audit_json, rfc3339_every_day)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
    unsigned y = 1970, m = 1, d = 1;
    struct wsg_audit_event ev = {0};
    char want[64];

    ev.event = "e";
    for (uint64_t day = 0; y <= 9999; day++) {
        unsigned sod = (unsigned)((day * 7919u) % 86400u);
        unsigned ms = (unsigned)(day % 1000u);
        ev.time_ms = (day * 86400u + sod) * 1000u + ms;
        snprintf(want, sizeof(want),
                 "{\"ts\":\"%04u-%02u-%02uT%02u:%02u:%02u.%03uZ\"",
                 y, m, d, sod / 3600u, sod / 60u % 60u, sod % 60u, ms);
        wsg_audit_json(&ev, line, sizeof(line));
        if (strncmp(line, want, strlen(want)) != 0)
            cr_assert_fail("day %llu: %s, want %s",
                           (unsigned long long)day, line, want);
        bool leap = (y % 4u == 0 && y % 100u != 0) || y % 400u == 0;
        if (++d > mdays[m - 1] + (m == 2 && leap)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
}

/* ---- escaping and UTF-8 ----------------------------------------------- */

static void detail_is(const char *in, const char *want_json)
{
    struct wsg_audit_event ev = {0};
    char expect[4096];
    ev.event = "e";
    ev.detail = in;
    snprintf(expect, sizeof(expect),
             "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"event\":\"e\","
             "\"detail\":\"%s\"}\n", want_json);
    cr_assert_str_eq(render(&ev), expect);
}

Test(policy_audit_json, rfc8259_escapes)
{
    detail_is("a\"b\\c/d", "a\\\"b\\\\c/d");
    detail_is("\n\r\t\b\f", "\\n\\r\\t\\b\\f");
    detail_is("\x01\x1f\x7f x", "\\u0001\\u001f\\u007f x");
    detail_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
              "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    detail_is("\xef\xbf\xbd", "\xef\xbf\xbd");   /* a real U+FFFD stays */
}

/* Unicode ch. 3 "U+FFFD substitution of maximal subparts". */
Test(policy_audit_json, invalid_utf8_maximal_subparts)
{
    detail_is("\x80", "\\ufffd");
    detail_is("\xc0\xaf", "\\ufffd\\ufffd");           /* overlong */
    detail_is("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"); /* surrogate */
    detail_is("\xf0\x90\x80" "b", "\\ufffdb");          /* truncated */
    detail_is("\xe0\x80" "a", "\\ufffd\\ufffda");
    detail_is("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd");
    detail_is("\xf5\xff\xfe", "\\ufffd\\ufffd\\ufffd");
    detail_is("a\xe2\x82", "a\\ufffd");                 /* cut at the NUL */
    detail_is("\xf0\x9f\x98", "\\ufffd");
}

static void fill(char *s, char c, size_t n)
{
    memset(s, c, n);
    s[n] = '\0';
}

Test(policy_audit_json, strings_cut_at_256_bytes_on_a_boundary)
{
    char in[400], want[2048];

    fill(in, 'a', 300);
    fill(want, 'a', 256);
    detail_is(in, want);
    fill(in, 'a', 256);
    detail_is(in, want);

    fill(in, 'a', 255);                   /* 3-byte euro across 256 */
    strcat(in, "\xe2\x82\xac" "zz");
    fill(want, 'a', 255);
    detail_is(in, want);

    fill(in, 'a', 253);                   /* ends exactly at 256 */
    strcat(in, "\xe2\x82\xac" "zz");
    fill(want, 'a', 253);
    strcat(want, "\xe2\x82\xac");
    detail_is(in, want);

    fill(in, 'a', 254);                   /* 4-byte emoji across 256 */
    strcat(in, "\xf0\x9f\x98\x80");
    fill(want, 'a', 254);
    detail_is(in, want);

    fill(in, '"', 300);                   /* escapes do not count */
    want[0] = '\0';
    for (int i = 0; i < 256; i++)
        strcat(want, "\\\"");
    detail_is(in, want);

    fill(in, '\x80', 300);                /* 256 replacements, no more */
    want[0] = '\0';
    for (int i = 0; i < 256; i++)
        strcat(want, "\\ufffd");
    detail_is(in, want);
}

/* ---- snprintf contract ------------------------------------------------ */

Test(policy_audit_json, snprintf_contract_at_every_cap)
{
    struct wsg_audit_event ev = full_event();
    static char buf[2048];
    size_t need = wsg_audit_json(&ev, NULL, 0);

    cr_assert_eq(need, strlen(full_golden));
    for (size_t cap = 0; cap <= need + 1; cap++) {
        memset(buf, 0xA5, sizeof(buf));
        cr_assert_eq(wsg_audit_json(&ev, buf, cap), need, "cap %zu", cap);
        for (size_t i = cap; i < sizeof(buf); i++)
            if ((unsigned char)buf[i] != 0xA5)
                cr_assert_fail("cap %zu: byte %zu written", cap, i);
        if (cap == 0)
            continue;
        size_t got = cap - 1 < need ? cap - 1 : need;
        cr_assert_eq(buf[got], '\0', "cap %zu", cap);
        cr_assert_eq(memcmp(buf, full_golden, got), 0, "cap %zu", cap);
    }
}

Test(policy_audit_json, null_event)
{
    char b[4] = "xyz";
    cr_assert_eq(wsg_audit_json(NULL, b, sizeof(b)), 0);
    cr_assert_eq(b[0], '\0');
}

/* ---- random events through a real JSON parser -------------------------- */

static uint64_t rng = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Random bytes without NUL, biased to the interesting ones. */
static void random_bytes(char *s, size_t n)
{
    static const unsigned char pick[] = {
        '"', '\\', '\n', '\r', '\t', 0x01, 0x1f, 0x7f, 0x80, 0xbf, 0xc0,
        0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x8f};
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next();
        unsigned char c = (r & 3) == 0 ? pick[(r >> 8) % sizeof(pick)]
                                       : (unsigned char)(1 + (r >> 8) % 255);
        s[i] = (char)c;
    }
    s[n] = '\0';
}

/* Random valid UTF-8 (1- to 4-byte code points, no surrogates, no NUL). */
static void random_utf8(char *s, size_t max)
{
    size_t n = 0;
    for (;;) {
        uint64_t r = next();
        uint32_t cp;
        switch (r % 4) {
        case 0: cp = 1 + (uint32_t)(r >> 8) % 0x7f; break;
        case 1: cp = 0x80 + (uint32_t)(r >> 8) % 0x780; break;
        case 2:
            cp = 0x800 + (uint32_t)(r >> 8) % 0xf800;
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xfffd;
            break;
        default: cp = 0x10000 + (uint32_t)(r >> 8) % 0x100000; break;
        }
        size_t k = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n + k > max)
            break;
        if (k == 1) {
            s[n] = (char)cp;
        } else {
            for (size_t i = k - 1; i > 0; i--, cp >>= 6)
                s[n + i] = (char)(0x80 | (cp & 0x3f));
            s[n] = (char)((k == 2 ? 0xc0 : k == 3 ? 0xe0 : 0xf0) | cp);
        }
        n += k;
    }
    s[n] = '\0';
}

static void put_hex(FILE *f, const char *s)
{
    if (s == NULL) {
        fputc('-', f);
        return;
    }
    for (; *s; s++)
        fprintf(f, "%02x", (unsigned char)*s);
}

/* Pipes `count` random events to check_json.py; returns its exit status. */
static int random_events_checked(int count, bool valid_utf8)
{
    const char *script = getenv("WSGUARD_AUDIT_CHECK");
    char cmd[4096];
    static char str[7][400];

    cr_assert_not_null(script, "WSGUARD_AUDIT_CHECK unset (run via meson test)");
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' >/dev/null", script);
    signal(SIGPIPE, SIG_IGN);        /* the checker exits at a bad line */
    FILE *py = popen(cmd, "w");
    cr_assert_not_null(py);
    for (int i = 0; i < count; i++) {
        struct wsg_audit_event ev = {0};
        const char **fields[7] = {&ev.event, &ev.client, &ev.peer, &ev.path,
                                  &ev.reason, &ev.subprotocol, &ev.detail};
        for (int f = 0; f < 7; f++) {
            uint64_t r = next();
            if (r % 5 == 0)
                continue;                 /* NULL: left out */
            size_t len = (size_t)(r >> 8) % (r % 7 == 0 ? 390 : 40);
            if (valid_utf8) {
                random_utf8(str[f], len);
                cr_assert(wsg_utf8_valid((const uint8_t *)str[f],
                                         strlen(str[f])));
            } else {
                random_bytes(str[f], len);
            }
            *fields[f] = str[f];
        }
        uint64_t r = next();
        ev.time_ms = next() % UINT64_C(300000000000000);
        ev.control = (int)(r % 17);
        ev.status = (r >> 8) % 3 == 0 ? 0 : (int)((r >> 16) % 600);
        ev.close_code = (r >> 24) % 2 ? 0 : (uint16_t)(r >> 32);
        ev.duration_ms = next() % 3 ? 0 : next();
        ev.bytes_in = next() % 3 ? 0 : next();
        ev.messages_out = next() % 3 ? 0 : next() % 1000;
        for (int f = 0; f < 7; f++) {
            if (f)
                fputc(',', py);
            put_hex(py, *fields[f]);
        }
        fputc('\t', py);
        fputs(render(&ev), py);
    }
    return pclose(py);
}

Test(policy_audit_json, random_bytes_always_parse_as_json)
{
    cr_assert_eq(random_events_checked(3000, false), 0,
                 "check_json.py refused a line (see stderr)");
}

Test(policy_audit_json, valid_utf8_round_trips_exactly)
{
    rng = UINT64_C(0x243f6a8885a308d3);
    cr_assert_eq(random_events_checked(3000, true), 0,
                 "check_json.py refused a line (see stderr)");
}
