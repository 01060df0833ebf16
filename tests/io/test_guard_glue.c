/* lib/io/guard_glue.c: a policy's settings in a server config, the key
 * file, and the guard at the io layer's callbacks (the peer, refusals the
 * handshake decided, the control a refusal falls under). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <wsguard/guard.h>
#include <wsguard/io.h>
#include <wsguard/policy.h>

static struct wsg_policy *P;

static void setup(void)
{
    cr_assert_eq(wsg_policy_new(NULL, &P), WSG_OK);
}

static void teardown(void)
{
    wsg_policy_free(P);
}

TestSuite(io_guard_glue, .init = setup, .fini = teardown);

static void set(const char *name, const char *value)
{
    char err[256];

    cr_assert_eq(wsg_policy_set(P, name, value, err, sizeof(err)), WSG_OK,
                 "%s", err);
}

/* H5 H7 H12 into the server config; H6: the adapter's own cap leaves room
 * for the guard's 503 past max-conns. */
Test(io_guard_glue, server_config_from_policy)
{
    struct wsg_server_config c;

    wsg_server_config_init_default(&c);
    set("handshake-timeout", "2.5");
    set("ping-interval", "0");
    set("max-message", "4096");
    set("max-conns", "100");
    cr_assert_eq(wsg_server_config_from_policy(&c, P), WSG_OK);
    cr_assert_eq(c.handshake_timeout_ms, 2500);
    cr_assert_eq(c.ping_interval_ms, 0);
    cr_assert_eq(c.idle_timeout_ms, 0, "the guard owns the idle timeout");
    cr_assert_eq(c.conn.max_message, 4096);
    cr_assert_eq(c.max_connections, 164, "100 + at least 64");
    set("max-conns", "100000");
    cr_assert_eq(wsg_server_config_from_policy(&c, P), WSG_OK);
    cr_assert_eq(c.max_connections, 125000, "a quarter more");
    cr_assert_eq(wsg_server_config_from_policy(NULL, P), WSG_ERR_INVALID_ARG);
}

static void key_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(io_guard_glue, hmac_key_file)
{
    char path[] = "/tmp/wsg-key-XXXXXX", err[512];
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(wsg_policy_load_files(P, err, sizeof(err)), WSG_OK,
                 "no key file: nothing to do");
    key_file(path, "0123456789abcdef0123456789abcdef\n");
    set("auth-hmac-key-file", path);
    cr_assert_eq(wsg_policy_load_files(P, err, sizeof(err)), WSG_OK, "%s",
                 err);
    key_file(path, "too short\n");
    cr_assert_eq(wsg_policy_load_files(P, err, sizeof(err)),
                 WSG_ERR_INVALID_ARG);
    cr_assert(strstr(err, "--auth-hmac-key-file") != NULL, "%s", err);
    cr_assert(strstr(err, "32-1024") != NULL, "%s", err);
    unlink(path);
    cr_assert_eq(wsg_policy_load_files(P, err, sizeof(err)),
                 WSG_ERR_INVALID_ARG);
    cr_assert(strstr(err, path) != NULL, "names the file: %s", err);
}

Test(io_guard_glue, peer_fill)
{
    struct wsg_guard_peer pe;
    char text[WSG_ADDR_STRLEN];

    wsg_guard_peer_fill(&pe, "203.0.113.7:40000", true);
    wsg_addr_format(&pe.addr, text, sizeof(text));
    cr_assert_str_eq(text, "203.0.113.7");
    cr_assert(pe.tls);
    cr_assert_str_eq(pe.text, "203.0.113.7:40000");
    cr_assert_gt(pe.unix_s, 1700000000u, "the wall clock");
    cr_assert_eq(pe.unix_ms / 1000u, pe.unix_s);
    wsg_guard_peer_fill(&pe, "[2001:db8::1]:443", false);
    wsg_addr_format(&pe.addr, text, sizeof(text));
    cr_assert_str_eq(text, "2001:db8::1");
    cr_assert_not(pe.tls);
    wsg_guard_peer_fill(&pe, "unix", false);
    wsg_addr_format(&pe.addr, text, sizeof(text));
    cr_assert_str_eq(text, "::", "an unparsable peer is all zero");
}

static const char *header(const struct wsg_http_answer *a, const char *name)
{
    for (size_t i = 0; i < a->header_count; i++)
        if (strlen(name) == a->headers[i].name_len &&
            strncasecmp(a->headers[i].name, name, a->headers[i].name_len) == 0)
            return a->headers[i].value;
    return NULL;
}

/* H10 on a refusal the handshake decided; H1's redirect for a page load
 * only when switched on. */
Test(io_guard_glue, amend_refusal)
{
    static const char page[] =
        "GET /app?x=1 HTTP/1.1\r\nHost: app.example\r\n\r\n";
    struct wsg_hs_server *hs = NULL;
    struct wsg_guard *g = NULL;
    struct wsg_guard_verdict *v = calloc(1, sizeof(*v));
    struct wsg_http_answer a;
    size_t used = 0;

    cr_assert_not_null(v);
    cr_assert_eq(wsg_hs_server_new(NULL, NULL, &hs), WSG_OK);
    cr_assert_eq(wsg_hs_server_feed(hs, (const uint8_t *)page, strlen(page),
                                    &used), WSG_ERR_HTTP);
    cr_assert_eq(wsg_guard_new(P, NULL, &g), WSG_OK);
    memset(&a, 0, sizeof(a));
    a.peer = "198.51.100.4:5000";
    a.request = wsg_hs_server_plain_request(hs);
    a.status = 426;
    a.reason = "missing Upgrade: websocket";
    wsg_guard_amend_refusal(g, &a, false, v);
    cr_assert_eq(a.status, 426);
    cr_assert_str_eq(a.reason, "missing Upgrade: websocket");
    cr_assert_not_null(header(&a, "X-Frame-Options"), "H10");
    cr_assert_null(header(&a, "Location"));
    wsg_guard_free(g);

    set("require-https", "true");
    set("https-redirect", "true");
    cr_assert_eq(wsg_guard_new(P, NULL, &g), WSG_OK);
    a.status = 426;
    wsg_guard_amend_refusal(g, &a, false, v);
    cr_assert_eq(a.status, 301);
    cr_assert_str_eq(header(&a, "Location"), "https://app.example/app?x=1");
    a.status = 426;
    a.header_count = 0;
    wsg_guard_amend_refusal(g, &a, true, v);
    cr_assert_eq(a.status, 426, "over TLS: no redirect");
    wsg_guard_free(g);
    wsg_hs_server_free(hs);
    free(v);
}

Test(io_guard_glue, refusal_control)
{
    struct wsg_refusal r;

    memset(&r, 0, sizeof(r));
    r.peer = "198.51.100.4:5000";
    r.reason = "x";
    r.err = WSG_ERR_HTTP;
    r.status = 431;
    cr_assert_eq(wsg_refusal_control(&r), WSG_H5);
    r.status = 414;
    cr_assert_eq(wsg_refusal_control(&r), WSG_H5);
    r.status = 400;
    cr_assert_eq(wsg_refusal_control(&r), WSG_H4);
    r.status = 0;
    r.err = WSG_ERR_TIMEOUT;
    cr_assert_eq(wsg_refusal_control(&r), WSG_H7);
    r.err = WSG_ERR_POLICY;
    r.status = 403;
    cr_assert_eq(wsg_refusal_control(&r), 0, "the guard audited it");
    r.err = WSG_ERR_PEER_CLOSED;
    cr_assert_eq(wsg_refusal_control(&r), 0);
    cr_assert_eq(wsg_refusal_control(NULL), 0);
}
