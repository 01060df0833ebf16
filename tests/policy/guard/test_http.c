/* wsg_guard_http: the answer to requests the handshake refused. H10 on
 * every one of them; H1's https redirect for plain GETs, only when on, only
 * for requests not over HTTPS, never for a Host off the allowlist (H2). */
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

TestSuite(guard_http, .init = setup);

/* Feeds `head` to a fresh handshake (which must refuse it with `want`),
 * then asks a fresh guard for `p`. Returns V.status. */
static int answer(const char *head, int want, const struct wsg_guard_peer *peer)
{
    struct wsg_hs_server *hs = NULL;
    struct wsg_guard *g = NULL;
    size_t used = 0;

    cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
    cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)head, strlen(head),
                                    &used), WSG_ERR_HTTP);
    cr_assert_eq(wsg_hs_server_status(hs), want);
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    cr_assert_eq(wsg_guard_http(g, wsg_hs_server_plain_request(hs), peer,
                                want, &V), WSG_OK);
    wsg_guard_free(g);
    wsg_hs_server_free(hs);
    return V.status;
}

static const char PAGE[] =
    "GET /app/page?x=1&y=%2F HTTP/1.1\r\nHost: server.example.com:8443\r\n"
    "X-Forwarded-Proto: https\r\n\r\n";

static void redirect_on(void)
{
    P.require_https = true;
    P.redirect_https = true;
}

Test(guard_http, h1_redirect_plain_get)
{
    struct wsg_guard_peer peer = peer_make("203.0.113.5", false, NOW_S);
    char b[256];

    redirect_on();
    cr_assert_eq(answer(PAGE, 426, &peer), 301);
    cr_assert_eq(V.control, WSG_H1);
    cr_assert_str_eq(verdict_header(&V, "Location", b, sizeof(b)),
                     "https://server.example.com:8443/app/page?x=1&y=%2F");
    cr_assert_not_null(verdict_header(&V, "Content-Security-Policy", b,
                                      sizeof(b)), "H10 on the redirect");
    cr_assert_eq(R.n, 1);
    cr_assert_str_eq(R.event[0], "refuse");
    cr_assert_eq(R.control[0], WSG_H1);
    cr_assert_eq(R.status[0], 301);
}

/* Over TLS, or from a trusted front end that saw https: no redirect, the
 * handshake's own answer (with the headers). X-Forwarded-Proto from an
 * untrusted peer (the page request above carries one) changes nothing. */
Test(guard_http, h1_no_redirect_over_https)
{
    static struct wsg_cidr nets[1];
    struct wsg_guard_peer tls = peer_make("203.0.113.5", true, NOW_S);
    struct wsg_guard_peer proxy = peer_make("10.1.2.3", false, NOW_S);
    char b[256];

    redirect_on();
    cr_assert_eq(answer(PAGE, 426, &tls), 426);
    cr_assert_eq(V.control, 0);
    cr_assert_null(verdict_header(&V, "Location", b, sizeof(b)));
    cr_assert_not_null(verdict_header(&V, "X-Frame-Options", b, sizeof(b)));
    cr_assert_eq(wsg_cidr_parse("10.0.0.0/8", 10, &nets[0]), WSG_OK);
    P.trusted = nets;
    P.trusted_count = 1;
    cr_assert_eq(answer(PAGE, 426, &proxy), 426);
    cr_assert_eq(R.n, 0, "no event without a decision");
}

/* Switched off: the plain GET keeps its 426, no Location, no event. */
Test(guard_http, h1_redirect_off)
{
    struct wsg_guard_peer peer = peer_make("203.0.113.5", false, NOW_S);
    char b[256];

    P.require_https = true;
    cr_assert_eq(answer(PAGE, 426, &peer), 426);
    cr_assert_null(verdict_header(&V, "Location", b, sizeof(b)));
    cr_assert_eq(R.n, 0);
}

/* Only a plain GET is redirected: a malformed request (no parsed head) or
 * another method keeps its status. */
Test(guard_http, h1_redirect_only_plain_get)
{
    struct wsg_guard_peer peer = peer_make("203.0.113.5", false, NOW_S);

    redirect_on();
    cr_assert_eq(answer("POST / HTTP/1.1\r\nHost: a.example\r\n\r\n", 405,
                        &peer), 405);
    cr_assert_eq(answer("GET / HTTP/1.1\r\n\r\n", 400, &peer), 400);
    cr_assert_eq(answer("GET / HTTP/1.1\r\nHost: a.example\r\n"
                        "Upgrade: h2c\r\nConnection: upgrade\r\n\r\n", 426,
                        &peer), 426);
    cr_assert_eq(R.n, 0);
}

/* H2 (T9): the redirect names the request's Host, so a Host off the
 * allowlist is refused instead of reflected. */
Test(guard_http, h2_no_redirect_to_foreign_host)
{
    static char *hosts[] = {(char *)"app.example.com"};
    struct wsg_guard_peer peer = peer_make("203.0.113.5", false, NOW_S);
    char b[256];

    redirect_on();
    P.allow_host.items = hosts;
    P.allow_host.count = 1;
    cr_assert_eq(answer(PAGE, 426, &peer), 403);
    cr_assert_eq(V.control, WSG_H2);
    cr_assert_null(verdict_header(&V, "Location", b, sizeof(b)));
    cr_assert_eq(answer("GET /x HTTP/1.1\r\nHost: app.example.com\r\n\r\n",
                        426, &peer), 301);
    cr_assert_str_eq(verdict_header(&V, "Location", b, sizeof(b)),
                     "https://app.example.com/x");
}

/* A Location that does not fit the verdict: 403, never a cut URL. */
Test(guard_http, h1_long_target_refused)
{
    struct wsg_guard_peer peer = peer_make("203.0.113.5", false, NOW_S);
    static char head[4096];
    char path[3000];

    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: a.example\r\n\r\n",
             path);
    redirect_on();
    cr_assert_eq(answer(head, 426, &peer), 403);
    cr_assert_eq(V.control, WSG_H1);
    cr_assert_str_eq(V.reason, "https required");
}

/* H10 on every handshake refusal, and switched off when configured so. */
Test(guard_http, h10_headers_on_every_refusal)
{
    struct wsg_guard_peer peer = peer_make("203.0.113.5", false, NOW_S);
    char b[256];

    cr_assert_eq(answer("GET / HTTP/1.1\r\n\r\n", 400, &peer), 400);
    cr_assert_str_eq(verdict_header(&V, "X-Content-Type-Options", b,
                                    sizeof(b)), "nosniff");
    cr_assert_not_null(verdict_header(&V, "Strict-Transport-Security", b,
                                      sizeof(b)));
    P.headers.hsts_max_age = 0;
    P.headers.frame_options = NULL;
    cr_assert_eq(answer("GET / HTTP/1.1\r\n\r\n", 400, &peer), 400);
    cr_assert_null(verdict_header(&V, "Strict-Transport-Security", b,
                                  sizeof(b)));
    cr_assert_null(verdict_header(&V, "X-Frame-Options", b, sizeof(b)));
}

Test(guard_http, bad_arguments)
{
    struct wsg_guard_peer peer = peer_make("203.0.113.5", false, NOW_S);
    struct wsg_guard *g = NULL;

    cr_assert_eq(wsg_guard_http(NULL, NULL, &peer, 400, &V),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_guard_new(&P, NULL, &g), WSG_OK);
    cr_assert_eq(wsg_guard_http(g, NULL, NULL, 400, &V), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_guard_http(g, NULL, &peer, 200, &V),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_guard_http(g, NULL, &peer, 400, NULL),
                 WSG_ERR_INVALID_ARG);
    wsg_guard_free(g);
}
