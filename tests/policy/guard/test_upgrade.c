/* wsg_guard_upgrade: H1 H2 H3 H6 H9 H10 H11, threats T9 and T15. Each
 * control is checked on (refused, with status, control id, reason, headers
 * and a "refuse" event) and off (the same request accepted). */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "guard_util.h"

#define NOW_S 1700000000u

static struct wsg_policy P;
static struct rec R;
static struct wsg_guard_verdict V;

static void setup(void)
{
    test_policy_default(&P);
    rec_attach(&P, &R);
}

TestSuite(guard_upgrade, .init = setup);

static struct wsg_guard_peer tls_peer(void)
{
    return peer_make("203.0.113.5", true, NOW_S);
}

/* The refusal in V and the last audit event agree. */
static void assert_refused(int status, int control, const char *reason)
{
    cr_assert_eq(V.status, status, "status %d, want %d", V.status, status);
    cr_assert_eq(V.control, control);
    cr_assert_str_eq(V.reason, reason);
    cr_assert_geq(R.n, 1);
    cr_assert_str_eq(R.event[R.n - 1], "refuse");
    cr_assert_eq(R.control[R.n - 1], control);
    cr_assert_eq(R.status[R.n - 1], status);
    cr_assert_str_eq(R.reason[R.n - 1], reason);
    cr_assert(rec_has(&R, "\"control\":\""), "control id rendered");
}

/* After upgrade_once: "open" then "close". */
static void assert_accepted(void)
{
    cr_assert_eq(V.status, 0, "refused %d %s", V.status,
                 V.reason != NULL ? V.reason : "");
    cr_assert_geq(R.n, 2);
    cr_assert_str_eq(R.event[R.n - 2], "open");
    cr_assert_eq(R.control[R.n - 2], 0);
}

/* H10: every default security header. */
static void assert_security_headers(void)
{
    char b[256];

    cr_assert_str_eq(verdict_header(&V, "Strict-Transport-Security", b,
                                    sizeof(b)),
                     "max-age=31536000");
    cr_assert_not_null(verdict_header(&V, "Content-Security-Policy", b,
                                      sizeof(b)));
    cr_assert_str_eq(verdict_header(&V, "X-Content-Type-Options", b,
                                    sizeof(b)),
                     "nosniff");
    cr_assert_str_eq(verdict_header(&V, "X-Frame-Options", b, sizeof(b)),
                     "DENY");
    cr_assert_not_null(verdict_header(&V, "Referrer-Policy", b, sizeof(b)));
    cr_assert_not_null(verdict_header(&V, "Permissions-Policy", b,
                                      sizeof(b)));
}

Test(guard_upgrade, default_policy_accepts_with_h10_headers)
{
    struct wsg_guard_peer pe = peer_make("203.0.113.5", false, NOW_S);

    cr_assert_eq(upgrade_once(&P, "/chat?x=1", "Origin: https://evil.example\r\n",
                              &pe, &V), 0);
    assert_accepted();
    assert_security_headers();
    cr_assert_null(V.subprotocol);
    cr_assert_str_eq(V.client, "203.0.113.5");
    /* H11: open and close events; the path without its query. */
    cr_assert_eq(R.n, 2);
    cr_assert_str_eq(R.event[1], "close");
    cr_assert(rec_has(&R, "\"path\":\"/chat\""));
    cr_assert_not(rec_has(&R, "x=1"));
}

Test(guard_upgrade, h10_headers_off)
{
    struct wsg_guard_peer pe = tls_peer();
    char b[256];

    P.headers.hsts_max_age = 0;
    P.headers.csp = NULL;
    P.headers.frame_options = NULL;
    P.headers.referrer_policy = NULL;
    P.headers.permissions_policy = NULL;
    P.headers.nosniff = false;
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 0);
    cr_assert_eq(V.header_count, 0);
    cr_assert_null(verdict_header(&V, "Strict-Transport-Security", b,
                                  sizeof(b)));
}

Test(guard_upgrade, h10_headers_on_refusals)
{
    struct wsg_guard_peer pe = peer_make("203.0.113.5", false, NOW_S);

    P.require_https = true;
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 403);
    assert_security_headers();
}

Test(guard_upgrade, h1_https_required)
{
    struct wsg_guard_peer plain = peer_make("203.0.113.5", false, NOW_S);
    struct wsg_guard_peer tls = tls_peer();
    char b[64];

    P.require_https = true;
    P.redirect_https = true; /* upgrades are never redirected */
    cr_assert_eq(upgrade_once(&P, "/", NULL, &plain, &V), 403);
    assert_refused(403, WSG_H1, "https required");
    cr_assert_null(verdict_header(&V, "Location", b, sizeof(b)));
    cr_assert(rec_has(&R, "\"control\":\"H1\""));
    cr_assert_eq(upgrade_once(&P, "/", NULL, &tls, &V), 0);
    P.require_https = false;
    cr_assert_eq(upgrade_once(&P, "/", NULL, &plain, &V), 0);
}

/* H1 behind a front end (T15): X-Forwarded-Proto / X-ARR-SSL count only
 * from a trusted peer. */
Test(guard_upgrade, h1_forwarded_proto_only_from_trusted_t15)
{
    static struct wsg_cidr nets[1];
    struct wsg_guard_peer proxy = peer_make("10.0.0.1", false, NOW_S);
    struct wsg_guard_peer other = peer_make("203.0.113.5", false, NOW_S);

    cr_assert_eq(wsg_cidr_parse("10.0.0.0/8", 10, &nets[0]), WSG_OK);
    P.trusted = nets;
    P.trusted_count = 1;
    P.require_https = true;
    cr_assert_eq(upgrade_once(&P, "/", "X-Forwarded-Proto: https\r\n", &proxy,
                              &V), 0);
    cr_assert_eq(upgrade_once(&P, "/", "X-ARR-SSL: 2048|256|CN=x\r\n", &proxy,
                              &V), 0);
    cr_assert_eq(upgrade_once(&P, "/", "X-Forwarded-Proto: https\r\n", &other,
                              &V), 403);
    assert_refused(403, WSG_H1, "https required");
    cr_assert_eq(upgrade_once(&P, "/", "X-ARR-SSL: 1\r\n", &other, &V), 403);
    cr_assert_eq(upgrade_once(&P, "/", "X-Forwarded-Proto: http\r\n", &proxy,
                              &V), 403);
    cr_assert_eq(upgrade_once(&P, "/", "X-Forwarded-Proto: https, http\r\n",
                              &proxy, &V), 403);
    cr_assert_eq(upgrade_once(&P, "/", NULL, &proxy, &V), 403);
}

Test(guard_upgrade, h6_global_cap_503)
{
    struct wsg_guard_peer pe = tls_peer();
    struct wsg_guard *g = NULL;
    struct wsg_guard_conn *c[3] = {NULL, NULL, NULL};
    struct wsg_guard_stats st;
    char b[16];

    P.max_conns = 2;
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    cr_assert_eq(upgrade(g, "h", "/", NULL, &pe, 0, &V, &c[0]), 0);
    cr_assert_eq(upgrade(g, "h", "/", NULL, &pe, 0, &V, &c[1]), 0);
    cr_assert_eq(upgrade(g, "h", "/", NULL, &pe, 0, &V, &c[2]), 503);
    assert_refused(503, WSG_H6, "server busy");
    cr_assert_str_eq(verdict_header(&V, "Retry-After", b, sizeof(b)), "1");
    assert_security_headers();
    wsg_guard_get_stats(g, &st);
    cr_assert_eq(st.open, 2);
    cr_assert_eq(st.accepted, 2);
    cr_assert_eq(st.refused[WSG_H6], 1);
    wsg_guard_conn_free(c[0], 5, NULL, 1000, 1000);
    cr_assert_eq(upgrade(g, "h", "/", NULL, &pe, 5, &V, &c[0]), 0);
    wsg_guard_conn_free(c[0], 5, NULL, 0, 0);
    wsg_guard_conn_free(c[1], 5, NULL, 0, 0);
    wsg_guard_free(g);

    /* off: the third one passes */
    P.max_conns = 0;
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(upgrade(g, "h", "/", NULL, &pe, 0, &V, &c[i]), 0);
    for (int i = 0; i < 3; i++)
        wsg_guard_conn_free(c[i], 1, NULL, 0, 0);
    wsg_guard_free(g);
}

Test(guard_upgrade, h6_conns_per_ip_429)
{
    struct wsg_guard_peer a = tls_peer();
    struct wsg_guard_peer b = peer_make("2001:db8::7", true, NOW_S);
    struct wsg_guard *g = NULL;
    struct wsg_guard_conn *c1 = NULL, *c2 = NULL, *c3 = NULL;
    char buf[16];

    P.max_conns_per_ip = 1;
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    cr_assert_eq(upgrade(g, "h", "/", NULL, &a, 0, &V, &c1), 0);
    cr_assert_eq(upgrade(g, "h", "/", NULL, &a, 0, &V, &c2), 429);
    assert_refused(429, WSG_H6, "too many connections");
    cr_assert_not_null(verdict_header(&V, "Retry-After", buf, sizeof(buf)));
    cr_assert_str_eq(R.client[R.n - 1], "203.0.113.5");
    cr_assert_eq(upgrade(g, "h", "/", NULL, &b, 0, &V, &c3), 0);
    cr_assert_str_eq(V.client, "2001:db8::7");
    /* the slot comes back with wsg_guard_conn_free */
    wsg_guard_conn_free(c1, 10, NULL, 1000, 1000);
    cr_assert_eq(upgrade(g, "h", "/", NULL, &a, 10, &V, &c2), 0);
    wsg_guard_conn_free(c2, 10, NULL, 0, 0);
    wsg_guard_conn_free(c3, 10, NULL, 0, 0);
    wsg_guard_free(g);

    P.max_conns_per_ip = 0;
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    cr_assert_eq(upgrade(g, "h", "/", NULL, &a, 0, &V, &c1), 0);
    cr_assert_eq(upgrade(g, "h", "/", NULL, &a, 0, &V, &c2), 0);
    wsg_guard_conn_free(c1, 1, NULL, 0, 0);
    wsg_guard_conn_free(c2, 1, NULL, 0, 0);
    wsg_guard_free(g);
}

/* A later refusal (here H2) gives the per-address slot back. */
Test(guard_upgrade, h6_slot_released_on_later_refusal)
{
    static char *hosts[] = {(char *)"server.example.com"};
    struct wsg_guard_peer a = tls_peer();
    struct wsg_guard *g = NULL;
    struct wsg_guard_conn *c = NULL;

    P.max_conns_per_ip = 1;
    P.allow_host.items = hosts;
    P.allow_host.count = 1;
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(upgrade(g, "evil.example", "/", NULL, &a, 0, &V, &c),
                     403);
    cr_assert_eq(upgrade(g, "server.example.com", "/", NULL, &a, 0, &V, &c),
                 0);
    wsg_guard_conn_free(c, 1, NULL, 0, 0);
    wsg_guard_free(g);
}

Test(guard_upgrade, h6_conn_rate_per_ip_429_retry_after)
{
    struct wsg_guard_peer a = tls_peer();
    struct wsg_guard *g = NULL;
    struct wsg_guard_conn *c = NULL;
    char buf[16];
    unsigned ra;

    P.conn_rate_per_ip = 2;
    P.conn_rate_window_ms = 10000;
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(upgrade(g, "h", "/", NULL, &a, 1000, &V, &c), 0);
        wsg_guard_conn_free(c, 1000, NULL, 0, 0);
    }
    cr_assert_eq(upgrade(g, "h", "/", NULL, &a, 4000, &V, &c), 429);
    assert_refused(429, WSG_H6, "too many new connections");
    cr_assert_not_null(verdict_header(&V, "Retry-After", buf, sizeof(buf)));
    cr_assert_eq(sscanf(buf, "%u", &ra), 1);
    cr_assert(ra >= 1 && ra <= 10, "Retry-After %u", ra);
    /* a new window */
    cr_assert_eq(upgrade(g, "h", "/", NULL, &a, 11001, &V, &c), 0);
    wsg_guard_conn_free(c, 11001, NULL, 0, 0);
    wsg_guard_free(g);

    P.conn_rate_per_ip = 0;
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(upgrade(g, "h", "/", NULL, &a, 1000, &V, &c), 0);
        wsg_guard_conn_free(c, 1000, NULL, 0, 0);
    }
    wsg_guard_free(g);
}

/* T15: X-Forwarded-For from an untrusted peer is ignored (the per-address
 * cap keys on the socket peer); from a trusted proxy it names the client. */
Test(guard_upgrade, h6_client_addr_xff_t15)
{
    static struct wsg_cidr nets[1];
    struct wsg_guard_peer a = tls_peer();
    struct wsg_guard_peer proxy = peer_make("10.0.0.1", true, NOW_S);
    struct wsg_guard *g = NULL;
    struct wsg_guard_conn *c1 = NULL, *c2 = NULL;

    cr_assert_eq(wsg_cidr_parse("10.0.0.0/8", 10, &nets[0]), WSG_OK);
    P.trusted = nets;
    P.trusted_count = 1;
    P.max_conns_per_ip = 1;
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    cr_assert_eq(upgrade(g, "h", "/", "X-Forwarded-For: 198.51.100.1\r\n", &a,
                         0, &V, &c1), 0);
    cr_assert_str_eq(V.client, "203.0.113.5");
    cr_assert_eq(upgrade(g, "h", "/", "X-Forwarded-For: 198.51.100.2\r\n", &a,
                         0, &V, &c2), 429);
    cr_assert_str_eq(R.client[R.n - 1], "203.0.113.5");
    cr_assert_not(rec_has(&R, "198.51.100"));
    /* behind the trusted proxy: two clients, one proxy address */
    cr_assert_eq(upgrade(g, "h", "/", "X-Forwarded-For: 198.51.100.1\r\n",
                         &proxy, 0, &V, &c2), 0);
    cr_assert_str_eq(V.client, "198.51.100.1");
    wsg_guard_conn_free(c2, 0, NULL, 0, 0);
    cr_assert_eq(upgrade(g, "h", "/", "X-Forwarded-For: 198.51.100.2\r\n",
                         &proxy, 0, &V, &c2), 0);
    cr_assert_str_eq(V.client, "198.51.100.2");
    cr_assert(rec_has(&R, "\"client\":\"198.51.100.2\""));
    wsg_guard_conn_free(c1, 0, NULL, 0, 0);
    wsg_guard_conn_free(c2, 0, NULL, 0, 0);
    wsg_guard_free(g);
}

/* T9: DNS rebinding. */
Test(guard_upgrade, h2_host_allowlist_t9)
{
    static char *hosts[] = {(char *)"server.example.com",
                            (char *)"*.example.net"};
    struct wsg_guard_peer pe = tls_peer();
    struct wsg_guard *g = NULL;
    struct wsg_guard_conn *c = NULL;

    P.allow_host.items = hosts;
    P.allow_host.count = 2;
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    cr_assert_eq(upgrade(g, "attacker.example:8080", "/", NULL, &pe, 0, &V,
                         &c), 403);
    assert_refused(403, WSG_H2, "host not allowed");
    assert_security_headers();
    cr_assert_eq(upgrade(g, "127.0.0.1", "/", NULL, &pe, 0, &V, &c), 403);
    cr_assert_eq(upgrade(g, "Server.Example.com:443", "/", NULL, &pe, 0, &V,
                         &c), 0);
    wsg_guard_conn_free(c, 0, NULL, 0, 0);
    cr_assert_eq(upgrade(g, "a.example.net", "/", NULL, &pe, 0, &V, &c), 0);
    wsg_guard_conn_free(c, 0, NULL, 0, 0);
    wsg_guard_free(g);

    P.allow_host.count = 0;
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    cr_assert_eq(upgrade(g, "attacker.example:8080", "/", NULL, &pe, 0, &V,
                         &c), 0);
    wsg_guard_conn_free(c, 0, NULL, 0, 0);
    wsg_guard_free(g);
}

static struct wsg_origin ORIGINS[2];

static void origins_on(void)
{
    cr_assert_eq(wsg_origin_parse("https://app.example.com", 23, true,
                                  &ORIGINS[0]), WSG_OK);
    cr_assert_eq(wsg_origin_parse("https://*.example.org", 21, true,
                                  &ORIGINS[1]), WSG_OK);
    P.origins = ORIGINS;
    P.origin_count = 2;
}

/* T9: cross-site WebSocket hijacking. */
Test(guard_upgrade, h2_origin_allowlist_t9)
{
    static const char *bad[] = {
        "Origin: https://evil.example\r\n",
        "Origin: http://app.example.com\r\n",       /* scheme */
        "Origin: https://app.example.com:8443\r\n", /* port */
        "Origin: https://app.example.com.evil.example\r\n",
        "Origin: https://example.org\r\n",          /* bare domain */
        "Origin: null\r\n",
        "Origin: file://\r\n",
        "Origin: file:///etc/passwd\r\n",
    };
    struct wsg_guard_peer pe = tls_peer();

    origins_on();
    cr_assert_eq(upgrade_once(&P, "/", "Origin: https://app.example.com\r\n",
                              &pe, &V), 0);
    cr_assert_eq(upgrade_once(&P, "/", "Origin: HTTPS://APP.example.com:443\r\n",
                              &pe, &V), 0);
    cr_assert_eq(upgrade_once(&P, "/", "Origin: https://a.b.example.org\r\n",
                              &pe, &V), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(upgrade_once(&P, "/", bad[i], &pe, &V), 403, "%s",
                     bad[i]);
        assert_refused(403, WSG_H2, "origin not allowed");
    }
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 403);
    assert_refused(403, WSG_H2, "origin required");

    /* allow-no-origin lets a missing Origin through, never "null" */
    P.allow_no_origin = true;
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 0);
    cr_assert_eq(upgrade_once(&P, "/", "Origin: null\r\n", &pe, &V), 403);

    /* off: everything passes */
    P.origin_count = 0;
    P.allow_no_origin = false;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(upgrade_once(&P, "/", bad[i], &pe, &V), 0, "%s", bad[i]);
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 0);
}

/* An allowlist that is set but did not parse refuses everything. */
Test(guard_upgrade, h2_unparsed_allowlist_fails_closed)
{
    static char *raw[] = {(char *)"https://app.example.com"};
    struct wsg_guard_peer pe = tls_peer();

    P.allow_origin.items = raw;
    P.allow_origin.count = 1;
    cr_assert_eq(upgrade_once(&P, "/", "Origin: https://app.example.com\r\n",
                              &pe, &V), 403);
}

static void assert_401(void)
{
    char b[64];

    assert_refused(401, WSG_H3, "authentication required");
    cr_assert_str_eq(verdict_header(&V, "WWW-Authenticate", b, sizeof(b)),
                     "Bearer realm=\"wsguard\"");
    assert_security_headers();
}

#define SECRET "s3cr3t-TOKEN-42"

Test(guard_upgrade, h3_bearer_token)
{
    struct wsg_guard_peer pe = tls_peer();

    P.auth_token = (char *)SECRET;
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 401);
    assert_401();
    cr_assert_eq(upgrade_once(&P, "/", "Authorization: Bearer wrong\r\n", &pe,
                              &V), 401);
    cr_assert_eq(upgrade_once(&P, "/", "Authorization: Basic " SECRET "\r\n",
                              &pe, &V), 401);
    cr_assert_eq(upgrade_once(&P, "/",
                              "Authorization: Bearer " SECRET "x\r\n", &pe,
                              &V), 401);
    cr_assert_eq(upgrade_once(&P, "/", "Authorization: Bearer " SECRET "\r\n",
                              &pe, &V), 0);
    cr_assert_eq(upgrade_once(&P, "/", "Authorization: bearer  " SECRET "\r\n",
                              &pe, &V), 0);
    cr_assert_str_eq(V.subject, "");
    /* in the query or a cookie it does not count: auth-token-from bearer */
    cr_assert_eq(upgrade_once(&P, "/?wsg_token=" SECRET,
                              "Cookie: wsg_token=" SECRET "\r\n", &pe, &V),
                 401);
    cr_assert_not(rec_has(&R, SECRET), "secret in the audit log: %s", R.json);
    cr_assert_not(rec_has(&R, "wrong"));

    P.auth_token = NULL;
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 0);
}

Test(guard_upgrade, h3_cookie_token)
{
    struct wsg_guard_peer pe = tls_peer();

    P.auth_token = (char *)SECRET;
    P.auth_from = WSG__TOKEN_COOKIE;
    P.auth_name = (char *)"sess";
    cr_assert_eq(upgrade_once(&P, "/", "Cookie: a=b; sess=" SECRET "; c=d\r\n",
                              &pe, &V), 0);
    cr_assert_eq(upgrade_once(&P, "/",
                              "Cookie: a=b\r\nCookie: sess=\"" SECRET "\"\r\n",
                              &pe, &V), 0);
    cr_assert_eq(upgrade_once(&P, "/", "Cookie: xsess=" SECRET "\r\n", &pe,
                              &V), 401);
    assert_401();
    cr_assert_eq(upgrade_once(&P, "/", "Cookie: sess=" SECRET "0\r\n", &pe,
                              &V), 401);
    cr_assert_eq(upgrade_once(&P, "/", "Authorization: Bearer " SECRET "\r\n",
                              &pe, &V), 401);
    cr_assert_not(rec_has(&R, SECRET), "secret in the audit log");

    P.auth_token = NULL;
    cr_assert_eq(upgrade_once(&P, "/", "Cookie: sess=nope\r\n", &pe, &V), 0);
}

Test(guard_upgrade, h3_query_token)
{
    struct wsg_guard_peer pe = tls_peer();

    P.auth_token = (char *)SECRET;
    P.auth_from = WSG__TOKEN_QUERY;
    cr_assert_eq(upgrade_once(&P, "/chat?a=1&wsg_token=" SECRET, NULL, &pe,
                              &V), 0);
    cr_assert_eq(upgrade_once(&P, "/chat?wsg_token=s3cr3t%2dTOKEN-42", NULL,
                              &pe, &V), 0);
    cr_assert_eq(upgrade_once(&P, "/chat?wsg_token=" SECRET "%zz", NULL, &pe,
                              &V), 401);
    cr_assert_eq(upgrade_once(&P, "/chat?xwsg_token=" SECRET, NULL, &pe, &V),
                 401);
    assert_401();
    cr_assert_eq(upgrade_once(&P, "/chat", NULL, &pe, &V), 401);
    cr_assert_not(rec_has(&R, SECRET), "secret in the audit log");
    cr_assert(rec_has(&R, "\"path\":\"/chat\""));

    P.auth_token = NULL;
    cr_assert_eq(upgrade_once(&P, "/chat", NULL, &pe, &V), 0);
}

static uint8_t KEY[] = "0123456789abcdef0123456789abcdef";

Test(guard_upgrade, h3_hmac_token)
{
    struct wsg_guard_peer pe = tls_peer();
    char tok[WSG_TOKEN_MAX + 1], old[WSG_TOKEN_MAX + 1], hdr[400];

    cr_assert_gt(wsg_token_sign(KEY, 32, "alice", NOW_S + 60, tok,
                                sizeof(tok)), 0);
    cr_assert_gt(wsg_token_sign(KEY, 32, "bob", NOW_S - 30, old, sizeof(old)),
                 0);
    P.hmac_key = KEY;
    P.hmac_key_len = 32;
    P.auth_leeway_s = 0;
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", tok);
    cr_assert_eq(upgrade_once(&P, "/", hdr, &pe, &V), 0);
    cr_assert_str_eq(V.subject, "alice");
    /* H11: the open and close events say who (the subject, never the
     * token). */
    cr_assert(rec_has(&R, "\"event\":\"open\",\"client\":\"203.0.113.5\","
                          "\"subject\":\"alice\""), "%s", R.json);
    cr_assert(rec_has(&R, "\"event\":\"close\",\"client\":\"203.0.113.5\","
                          "\"subject\":\"alice\""), "%s", R.json);
    cr_assert_not(rec_has(&R, tok));
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", old);
    cr_assert_eq(upgrade_once(&P, "/", hdr, &pe, &V), 401);
    assert_401();
    cr_assert_str_eq(V.subject, "");
    P.auth_leeway_s = 60;
    cr_assert_eq(upgrade_once(&P, "/", hdr, &pe, &V), 0);
    cr_assert_str_eq(V.subject, "bob");
    /* a tampered signature */
    tok[strlen(tok) - 2] ^= 1;
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", tok);
    cr_assert_eq(upgrade_once(&P, "/", hdr, &pe, &V), 401);
    cr_assert_not(rec_has(&R, tok));
    cr_assert_not(rec_has(&R, old));

    P.hmac_key = NULL;
    P.hmac_key_len = 0;
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 0);
}

/* Identity header only from a trusted proxy (T15). */
Test(guard_upgrade, h3_identity_header_t15)
{
    static struct wsg_cidr nets[1];
    struct wsg_guard_peer proxy = peer_make("10.0.0.1", true, NOW_S);
    struct wsg_guard_peer other = tls_peer();

    cr_assert_eq(wsg_cidr_parse("10.0.0.0/8", 10, &nets[0]), WSG_OK);
    P.trusted = nets;
    P.trusted_count = 1;
    P.auth_identity_header = (char *)"X-Auth-User";
    cr_assert_eq(upgrade_once(&P, "/", "X-Auth-User: carol@example.com\r\n",
                              &proxy, &V), 0);
    cr_assert_str_eq(V.subject, "carol@example.com");
    cr_assert(rec_has(&R, "\"subject\":\"carol@example.com\""), "%s", R.json);
    cr_assert_eq(upgrade_once(&P, "/", "X-Auth-User: carol@example.com\r\n",
                              &other, &V), 401);
    assert_401();
    cr_assert_eq(upgrade_once(&P, "/", NULL, &proxy, &V), 401);
    cr_assert_eq(upgrade_once(&P, "/", "X-Auth-User: \r\n", &proxy, &V), 401);

    P.auth_identity_header = NULL;
    cr_assert_eq(upgrade_once(&P, "/", NULL, &other, &V), 0);
}

/* Several methods: any one suffices. */
Test(guard_upgrade, h3_any_method)
{
    struct wsg_guard_peer pe = tls_peer();
    char tok[WSG_TOKEN_MAX + 1], hdr[400];

    P.auth_token = (char *)SECRET;
    P.hmac_key = KEY;
    P.hmac_key_len = 32;
    cr_assert_gt(wsg_token_sign(KEY, 32, "dave", NOW_S + 5, tok, sizeof(tok)),
                 0);
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", tok);
    cr_assert_eq(upgrade_once(&P, "/", hdr, &pe, &V), 0);
    cr_assert_str_eq(V.subject, "dave");
    cr_assert_eq(upgrade_once(&P, "/", "Authorization: Bearer " SECRET "\r\n",
                              &pe, &V), 0);
    cr_assert_eq(upgrade_once(&P, "/", "Authorization: Bearer x\r\n", &pe, &V),
                 401);
}

/* H9 and H11: the subprotocol list is never logged past its first entry
 * (Streamlit puts a session credential second). */
Test(guard_upgrade, h9_subprotocol_allowlist)
{
    static char *protos[] = {(char *)"chat.v2", (char *)"streamlit"};
    struct wsg_guard_peer pe = tls_peer();

    P.subprotocol.items = protos;
    P.subprotocol.count = 2;
    cr_assert_eq(upgrade_once(&P, "/",
                              "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n",
                              &pe, &V), 0);
    cr_assert_str_eq(V.subprotocol, "chat.v2");
    cr_assert_eq(upgrade_once(&P, "/",
                              "Sec-WebSocket-Protocol: streamlit, "
                              "PROTOSECRET123\r\n",
                              &pe, &V), 0);
    cr_assert_str_eq(V.subprotocol, "streamlit");
    cr_assert_eq(upgrade_once(&P, "/",
                              "Sec-WebSocket-Protocol: other, "
                              "PROTOSECRET123\r\n",
                              &pe, &V), 403);
    assert_refused(403, WSG_H9, "no allowed subprotocol");
    cr_assert_eq(upgrade_once(&P, "/", "Sec-WebSocket-Protocol: CHAT.V2\r\n",
                              &pe, &V), 403);
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 403);
    cr_assert(rec_has(&R, "\"subprotocol\":\"other\""));
    cr_assert_not(rec_has(&R, "PROTOSECRET123"), "%s", R.json);

    P.subprotocol.count = 0;
    cr_assert_eq(upgrade_once(&P, "/",
                              "Sec-WebSocket-Protocol: other, "
                              "PROTOSECRET123\r\n",
                              &pe, &V), 0);
    cr_assert_null(V.subprotocol);
    cr_assert_not(rec_has(&R, "PROTOSECRET123"));
}

/* The fixed order: H1 before H6 before H2 before H3 before H9. */
Test(guard_upgrade, order_of_checks)
{
    static char *hosts[] = {(char *)"server.example.com"};
    static char *protos[] = {(char *)"chat"};
    struct wsg_guard_peer plain = peer_make("203.0.113.5", false, NOW_S);
    struct wsg_guard_peer pe = tls_peer();

    P.require_https = true;
    P.allow_host.items = hosts;
    P.allow_host.count = 1;
    origins_on();
    P.auth_token = (char *)SECRET;
    P.subprotocol.items = protos;
    P.subprotocol.count = 1;
    cr_assert_eq(upgrade_once(&P, "/", NULL, &plain, &V), 403);
    cr_assert_eq(V.control, WSG_H1);
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 403);
    cr_assert_eq(V.control, WSG_H2);
    cr_assert_str_eq(V.reason, "origin required");
    cr_assert_eq(upgrade_once(&P, "/", "Origin: https://app.example.com\r\n",
                              &pe, &V), 401);
    cr_assert_eq(upgrade_once(&P, "/",
                              "Origin: https://app.example.com\r\n"
                              "Authorization: Bearer " SECRET "\r\n",
                              &pe, &V), 403);
    cr_assert_eq(V.control, WSG_H9);
    cr_assert_eq(upgrade_once(&P, "/",
                              "Origin: https://app.example.com\r\n"
                              "Authorization: Bearer " SECRET "\r\n"
                              "Sec-WebSocket-Protocol: chat\r\n",
                              &pe, &V), 0);
    cr_assert_not(rec_has(&R, SECRET));
}

Test(guard_upgrade, bad_arguments)
{
    struct wsg_guard *g = NULL;
    struct wsg_guard_conn *c = (void *)&V;

    cr_assert_eq(wsg_guard_new(NULL, NULL, &g), WSG_ERR_INVALID_ARG);
    cr_assert_null(g);
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    cr_assert_eq(wsg_guard_upgrade(g, NULL, NULL, 0, &V, &c),
                 WSG_ERR_INVALID_ARG);
    cr_assert_null(c);
    wsg_guard_free(g);
    wsg_guard_free(NULL);
    wsg_guard_conn_free(NULL, 0, NULL, 0, 0);
}

/* H11: audit timestamps carry the caller's millisecond wall clock when it
 * has one (open and refuse alike), whole seconds otherwise. */
Test(guard_upgrade, h11_audit_time_in_milliseconds)
{
    struct wsg_guard_peer pe = peer_make("203.0.113.5", false, NOW_S);

    pe.unix_ms = (uint64_t)NOW_S * 1000u + 123u;
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 0);
    assert_accepted();
    cr_assert(rec_has(&R, "\"ts\":\"2023-11-14T22:13:20.123Z\",\"event\":\"open\""));

    pe.unix_ms = 0;
    cr_assert_eq(upgrade_once(&P, "/", NULL, &pe, &V), 0);
    cr_assert(rec_has(&R, "\"ts\":\"2023-11-14T22:13:20.000Z\",\"event\":\"open\""));
}
