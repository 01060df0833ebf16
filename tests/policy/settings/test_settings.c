/* The settings table, wsg_policy_set / _load_env / _get and
 * wsg_policy_check (H14: one name per setting; refusals name the setting
 * and its range). */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"

static struct wsg_policy *P;
static char err[256];

static void setup(void)
{
    cr_assert_eq(wsg_policy_new(NULL, &P), WSG_OK);
    err[0] = '\0';
}
static void teardown(void) { wsg_policy_free(P); }

TestSuite(settings, .init = setup, .fini = teardown);

static const char *get(const char *name)
{
    static char buf[4096];
    size_t n = wsg_policy_get(P, name, buf, sizeof(buf));
    cr_assert_lt(n, sizeof(buf));
    cr_assert_eq(strlen(buf), n);
    return buf;
}

static void set_ok(const char *name, const char *value)
{
    int rc = wsg_policy_set(P, name, value, err, sizeof(err));
    cr_assert_eq(rc, WSG_OK, "%s=%s: %s", name, value ? value : "(null)",
                 err);
}

static void set_bad(const char *name, const char *value, const char *msg)
{
    int rc = wsg_policy_set(P, name, value, err, sizeof(err));
    cr_assert_eq(rc, WSG_ERR_INVALID_ARG, "%s=%s accepted", name, value);
    if (msg != NULL)
        cr_assert_str_eq(err, msg);
}

Test(settings, table_names_and_env)
{
    size_t n = 0;
    const struct wsg_setting *t = wsg_policy_settings(&n);
    static const char *const issue3[] = {
        "allow-origin", "allow-host", "max-message", "max-frame",
        "max-fragments", "handshake-timeout", "idle-timeout",
        "ping-interval", "pong-timeout", "close-timeout", "msg-rate",
        "msg-burst", "byte-rate", "max-conns", "max-conns-per-ip",
        "conn-rate-per-ip", "trusted-proxy", "auth-token",
        "auth-hmac-key-file", "subprotocol", "binary-only", "text-only",
        "require-https", "https-redirect", "allow-no-origin",
        "auth-token-from", "auth-token-name", "auth-leeway",
        "auth-identity-header", "auth-first-message", "byte-burst",
        "control-rate", "rate-action", "conn-rate-window",
        "addr-table-memory", "client-ip-header", "idle-direction",
        "hsts-max-age", "csp", "frame-options", "referrer-policy",
        "permissions-policy", "max-output"};

    cr_assert_eq(n, sizeof(issue3) / sizeof(issue3[0]));
    cr_assert_lt(n, 64);    /* set_mask */
    for (size_t i = 0; i < sizeof(issue3) / sizeof(issue3[0]); i++)
        cr_assert_not_null(wsg_policy_setting_find(issue3[i]), "%s",
                           issue3[i]);
    for (size_t i = 0; i < n; i++) {
        char env[64] = "WSG_";
        size_t k = 4;
        for (const char *c = t[i].name; *c; c++)
            env[k++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        env[k] = '\0';
        cr_assert_str_eq(t[i].env, env);
        cr_assert_eq(wsg_policy_setting_find(t[i].name), &t[i]);
        cr_assert(t[i].control >= WSG_H1 && t[i].control <= WSG_H15);
        cr_assert_not_null(t[i].range);
        cr_assert_not_null(t[i].help);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(t[i].name, t[j].name);
        if (i > 0)  /* report order */
            cr_assert_geq(t[i].control, t[i - 1].control, "%s", t[i].name);
    }
    cr_assert_null(wsg_policy_setting_find("max_message"));
    cr_assert_null(wsg_policy_setting_find(""));
    cr_assert_null(wsg_policy_setting_find(NULL));
    cr_assert_str_eq(wsg_policy_setting_find("auth-token")->env,
                     "WSG_AUTH_TOKEN");
    cr_assert(wsg_policy_setting_find("auth-token")->secret);
}

Test(settings, defaults_are_the_table_defaults)
{
    size_t n;
    const struct wsg_setting *t = wsg_policy_settings(&n);

    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(get(t[i].name), t[i].def, "%s", t[i].name);
    cr_assert_eq(P->max_message, 1048576u);
    cr_assert_eq(P->handshake_timeout_ms, 10000u);
    cr_assert_eq(P->ping_interval_ms, 25000u);
    cr_assert_eq(P->max_output, 4194304u);
    cr_assert_eq(P->origin_count, 0);
    cr_assert_str_eq(P->auth_name, "wsg_token");
    cr_assert_eq(wsg_policy_check(P, err, sizeof(err)), WSG_OK, "%s", err);
}

/* Every setting from text: value -> what get gives back. */
static const struct { const char *name, *value, *get; } valid[] = {
    {"require-https", "yes", "true"},
    {"https-redirect", "on", "true"},
    {"allow-origin", "https://App.Example.com", "https://App.Example.com"},
    {"allow-host", "app.example.com:443", "app.example.com:443"},
    {"allow-no-origin", "1", "true"},
    {"auth-token", "0123456789abcdef-secret", "set"},
    {"auth-token-from", "cookie", "cookie"},
    {"auth-token-name", "session", "session"},
    {"auth-hmac-key-file", "/run/secrets/hmac key", "/run/secrets/hmac key"},
    {"auth-leeway", "5", "5"},
    {"auth-identity-header", "X-Auth-User", "X-Auth-User"},
    {"auth-first-message", "2.5", "2.5"},
    {"max-message", "64k", "65536"},
    {"max-frame", "1m", "1048576"},
    {"max-fragments", "16", "16"},
    {"msg-rate", "100", "100"},
    {"msg-burst", "200", "200"},
    {"byte-rate", "1G", "1073741824"},
    {"byte-burst", "2g", NULL},         /* over 1 GiB: refused below */
    {"control-rate", "0", "0"},
    {"rate-action", "drop", "drop"},
    {"max-conns", "4294967295", "4294967295"},
    {"max-conns-per-ip", "20", "20"},
    {"conn-rate-per-ip", "30", "30"},
    {"conn-rate-window", "60", "60"},
    {"addr-table-memory", "4096", "4096"},
    {"handshake-timeout", "0.1", "0.1"},
    {"idle-timeout", "86400", "86400"},
    {"idle-direction", "in", "in"},
    {"ping-interval", "0.25", "0.25"},
    {"pong-timeout", "1.005", "1.005"},
    {"close-timeout", "600", "600"},
    {"subprotocol", "chat.v1", "chat.v1"},
    {"binary-only", "true", "true"},
    {"text-only", "off", "false"},
    {"hsts-max-age", "0", "0"},
    {"csp", "default-src 'none'", "default-src 'none'"},
    {"frame-options", "SAMEORIGIN", "SAMEORIGIN"},
    {"referrer-policy", "", ""},
    {"permissions-policy", "camera=()", "camera=()"},
    {"trusted-proxy", "10.0.0.0/8", "10.0.0.0/8"},
    {"client-ip-header", "X-Client-IP", "X-Client-IP"},
    {"max-output", "4k", "4096"},
};

Test(settings, every_setting_from_text)
{
    size_t n, covered = 0;
    const struct wsg_setting *t = wsg_policy_settings(&n);

    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        if (valid[i].get == NULL) {
            set_bad(valid[i].name, valid[i].value, NULL);
            continue;
        }
        set_ok(valid[i].name, valid[i].value);
        cr_assert_str_eq(get(valid[i].name), valid[i].get, "%s",
                         valid[i].name);
    }
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
            if (strcmp(valid[i].name, t[k].name) == 0) {
                covered++;
                break;
            }
    cr_assert_eq(covered, n);
    /* typed values */
    cr_assert_eq(P->max_message, 65536u);
    cr_assert_eq(P->auth_first_message_ms, 2500u);
    cr_assert_eq(P->pong_timeout_ms, 1005u);
    cr_assert_eq(P->rate_action, WSG__RATE_DROP);
    cr_assert_eq(P->idle_direction, WSG__IDLE_FROM_CLIENT);
    cr_assert_eq(P->auth_from, WSG__TOKEN_COOKIE);
    cr_assert_eq(P->origin_count, 1);
    cr_assert_str_eq(P->origins[0].host, "app.example.com");
    cr_assert_eq(P->origins[0].port, 443);
    cr_assert_eq(P->trusted_count, 1);
    cr_assert_eq(P->headers.hsts_max_age, 0u);
    cr_assert_null(P->headers.referrer_policy);
    cr_assert_str_eq(P->headers.frame_options, "SAMEORIGIN");
    cr_assert_eq(P->max_conns, 4294967295u);
    /* leading dashes accepted, as on a command line */
    set_ok("--max-frame", "2k");
    cr_assert_str_eq(get("--max-frame"), "2048");
}

Test(settings, exact_messages)
{
    set_bad("max-message", "12q",
            "--max-message: expected 1-1073741824 bytes, got '12q'");
    set_bad("max-message", "0",
            "--max-message: expected 1-1073741824 bytes, got '0'");
    set_bad("max-message", "1025m",
            "--max-message: expected 1-1073741824 bytes, got '1025m'");
    set_bad("max-output", "4095",
            "--max-output: expected 4096-1073741824 bytes, got '4095'");
    set_bad("handshake-timeout", "0.05",
            "--handshake-timeout: expected 0.1-600 seconds, got '0.05'");
    set_bad("idle-timeout", "1.2345",
            "--idle-timeout: expected 0-86400 seconds, got '1.2345'");
    set_bad("max-conns", "4294967296",
            "--max-conns: expected 0-4294967295, got '4294967296'");
    set_bad("rate-action", "kill",
            "--rate-action: expected close|drop, got 'kill'");
    set_bad("binary-only", "maybe",
            "--binary-only: expected true|false, got 'maybe'");
    set_bad("allow-origin", "null",
            "--allow-origin: expected scheme://host[:port] or "
            "scheme://*.domain.tld, got 'null'");
    set_bad("trusted-proxy", "10.0.0.1/8",
            "--trusted-proxy: expected an address or CIDR such as "
            "10.0.0.0/8, got '10.0.0.1/8'");
    set_bad("max-frame", NULL,
            "--max-frame: expected 1-1073741824 bytes, got no value");
    set_bad("no-such-thing", "1", "unknown setting '--no-such-thing'");
    set_bad("max-message", "x\ny", "--max-message: expected 1-1073741824 "
                                   "bytes, got 'x?y'");
    /* secrets are not echoed */
    set_bad("auth-token", "short-secret",
            "--auth-token: expected 16-1024 visible ASCII bytes, got a "
            "value of 12 bytes");
    /* nothing changed */
    cr_assert_str_eq(get("max-message"), "1048576");
    cr_assert_str_eq(get("auth-token"), "");
}

Test(settings, invalid_values)
{
    static const struct { const char *name, *value; } bad[] = {
        {"max-message", ""}, {"max-message", "-1"}, {"max-message", "1.5k"},
        {"max-message", "1 k"}, {"max-message", "99999999999999g"},
        {"max-message", "k"}, {"max-fragments", "0"},
        {"max-fragments", "+5"}, {"msg-burst", "0"},
        {"handshake-timeout", "601"}, {"handshake-timeout", "1."},
        {"handshake-timeout", ".5"}, {"close-timeout", "0"},
        {"ping-interval", "86400.001"}, {"conn-rate-window", "0.5"},
        {"auth-leeway", "3601"}, {"require-https", ""},
        {"require-https", "TRUE "}, {"idle-direction", "both"},
        {"auth-token-from", ""}, {"auth-token-name", ""},
        {"auth-token-name", "a b"}, {"auth-identity-header", "X:Y"},
        {"csp", "a\r\nSet-Cookie: x"}, {"allow-origin", "https://a.com/x"},
        {"allow-origin", "file://"}, {"allow-origin", "https://*.com"},
        {"allow-host", "a b"}, {"subprotocol", "chat v1"},
        {"trusted-proxy", "bogus"}, {"auth-token", "with space inside!!"},
        {"allow-origin", "https://a.example.com,,https://b.example.com"},
        {"hsts-max-age", "-1"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = wsg_policy_set(P, bad[i].name, bad[i].value, err,
                                sizeof(err));
        char prefix[80];
        cr_assert_eq(rc, WSG_ERR_INVALID_ARG, "%s='%s'", bad[i].name,
                     bad[i].value);
        snprintf(prefix, sizeof(prefix), "--%s: expected ", bad[i].name);
        cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "%s", err);
    }
    cr_assert_eq(P->origin_count, 0);
    cr_assert_eq(P->set_mask, 0);
}

Test(settings, bool_flag_without_value)
{
    set_ok("binary-only", NULL);
    cr_assert(P->binary_only);
    set_ok("binary-only", "no");
    cr_assert(!P->binary_only);
}

Test(settings, lists_repeat_clear_atomic)
{
    set_ok("allow-origin", "https://a.example.com");
    set_ok("allow-origin", "https://b.example.com:8443 , http://*.example.org");
    cr_assert_str_eq(get("allow-origin"),
                     "https://a.example.com,https://b.example.com:8443,"
                     "http://*.example.org");
    cr_assert_eq(P->origin_count, 3);
    cr_assert_eq(P->allow_origin.count, 3);
    cr_assert_eq(P->origins[1].port, 8443);
    /* one bad element: nothing appended */
    set_bad("allow-origin", "https://c.example.com,null", NULL);
    cr_assert_eq(P->origin_count, 3);
    cr_assert(strstr(err, "'null'") != NULL, "%s", err);
    set_ok("allow-origin", "");
    cr_assert_str_eq(get("allow-origin"), "");
    cr_assert_eq(P->origin_count, 0);
    /* trusted proxies, repeatable, both families */
    set_ok("trusted-proxy", "10.0.0.0/8");
    set_ok("trusted-proxy", "2001:db8::/32");
    set_ok("trusted-proxy", "192.0.2.7");
    cr_assert_eq(P->trusted_count, 3);
    cr_assert_str_eq(get("trusted-proxy"), "10.0.0.0/8,2001:db8::/32,192.0.2.7");
    /* bounded */
    char big[256 * 12 + 16];
    size_t k = 0;
    for (int i = 0; i < 257; i++)
        k += (size_t)sprintf(big + k, "%sp%d", i ? "," : "", i);
    set_bad("subprotocol", big, NULL);
    cr_assert(strstr(err, "more than 256 entries") != NULL, "%s", err);
    cr_assert_eq(P->subprotocol.count, 0);
    set_ok("subprotocol", strchr(big + k - 40, ',') + 1);
    cr_assert_gt(P->subprotocol.count, 0);
}

Test(settings, load_env)
{
    char *env[] = {
        "PATH=/usr/bin",
        "WSG_MAX_MESSAGE=64k",
        "WSG_ALLOW_ORIGIN=https://a.example.com, https://b.example.com",
        "WSG_BINARY_ONLY=true",
        "WSGX=ignored",
        "WSG_PING_INTERVAL=0.5",
        NULL,
    };

    set_ok("allow-origin", "https://flag.example.com");
    cr_assert_eq(wsg_policy_load_env(P, env, err, sizeof(err)), WSG_OK,
                 "%s", err);
    cr_assert_eq(P->max_message, 65536u);
    /* the environment gives the whole list */
    cr_assert_str_eq(get("allow-origin"),
                     "https://a.example.com,https://b.example.com");
    cr_assert(P->binary_only);
    cr_assert_eq(P->ping_interval_ms, 500u);

    char *typo[] = {"WSG_MAX_MESAGE=1", NULL};
    cr_assert_eq(wsg_policy_load_env(P, typo, err, sizeof(err)),
                 WSG_ERR_INVALID_ARG);
    cr_assert_str_eq(err,
                     "unknown setting WSG_MAX_MESAGE in the environment");
    char *bad[] = {"WSG_MAX_FRAME=lots", NULL};
    cr_assert_eq(wsg_policy_load_env(P, bad, err, sizeof(err)),
                 WSG_ERR_INVALID_ARG);
    cr_assert_str_eq(err,
                     "WSG_MAX_FRAME: expected 1-1073741824 bytes, got 'lots'");
    char *secret[] = {"WSG_AUTH_TOKEN=tiny", NULL};
    cr_assert_eq(wsg_policy_load_env(P, secret, err, sizeof(err)),
                 WSG_ERR_INVALID_ARG);
    cr_assert_null(strstr(err, "tiny"));
    cr_assert_eq(wsg_policy_load_env(P, NULL, err, sizeof(err)), WSG_OK);
}

static void harden(struct wsg_policy *p)
{
    static const char *const kv[][2] = {
        {"require-https", "true"}, {"https-redirect", "true"},
        {"allow-origin", "https://app.example.com"},
        {"allow-origin", "https://*.example.com"},
        {"allow-host", "app.example.com"},
        {"auth-token", "0123456789abcdef-very-secret"},
        {"auth-token-from", "query"}, {"auth-token-name", "tok"},
        {"auth-hmac-key-file", "/etc/wsg/hmac.key"}, {"auth-leeway", "10"},
        {"auth-identity-header", "X-Auth-User"},
        {"max-message", "65536"}, {"max-frame", "16k"},
        {"max-fragments", "64"}, {"msg-rate", "100"}, {"msg-burst", "200"},
        {"byte-rate", "1m"}, {"byte-burst", "2m"}, {"control-rate", "5"},
        {"rate-action", "drop"}, {"max-conns", "10000"},
        {"max-conns-per-ip", "20"}, {"conn-rate-per-ip", "30"},
        {"conn-rate-window", "60"}, {"addr-table-memory", "1m"},
        {"handshake-timeout", "5"}, {"idle-timeout", "300"},
        {"idle-direction", "in"}, {"ping-interval", "20"},
        {"pong-timeout", "10.5"}, {"close-timeout", "2"},
        {"subprotocol", "chat.v1"}, {"text-only", "true"},
        {"hsts-max-age", "63072000"}, {"trusted-proxy", "10.0.0.0/8"},
        {"client-ip-header", "X-Client-IP"}, {"max-output", "256k"},
    };
    static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";

    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        cr_assert_eq(wsg_policy_set(p, kv[i][0], kv[i][1], err,
                                    sizeof(err)), WSG_OK, "%s", err);
    cr_assert_eq(wsg_policy_set_hmac_key(p, key, sizeof(key)), WSG_OK);
}

Test(settings, get_round_trips)
{
    size_t n;
    const struct wsg_setting *t = wsg_policy_settings(&n);
    struct wsg_policy *q;

    harden(P);
    cr_assert_eq(wsg_policy_check(P, err, sizeof(err)), WSG_OK, "%s", err);
    cr_assert_eq(wsg_policy_new(NULL, &q), WSG_OK);
    for (size_t i = 0; i < n; i++) {
        char a[2048], b[2048];
        if (t[i].secret)
            continue;
        wsg_policy_get(P, t[i].name, a, sizeof(a));
        cr_assert_eq(wsg_policy_set(q, t[i].name, a, err, sizeof(err)),
                     WSG_OK, "%s='%s': %s", t[i].name, a, err);
        wsg_policy_get(q, t[i].name, b, sizeof(b));
        cr_assert_str_eq(a, b, "%s", t[i].name);
    }
    wsg_policy_free(q);
}

Test(settings, get_contract)
{
    char buf[8];

    memset(buf, 'Z', sizeof(buf));
    cr_assert_eq(wsg_policy_get(P, "max-message", buf, 4), 7);
    cr_assert_str_eq(buf, "104");
    cr_assert_eq(buf[4], 'Z');
    cr_assert_eq(wsg_policy_get(P, "max-message", NULL, 0), 7);
    cr_assert_eq(wsg_policy_get(P, "nope", buf, sizeof(buf)), 0);
    cr_assert_str_eq(buf, "");
}

Test(settings, secrets_never_in_get)
{
    static const uint8_t key[40] = "KEYKEYKEYKEYKEYKEYKEYKEYKEYKEYKEYKEYKEY";
    size_t n;
    const struct wsg_setting *t = wsg_policy_settings(&n);

    set_ok("auth-token", "TOPSECRET-0123456789");
    cr_assert_eq(wsg_policy_set_hmac_key(P, key, sizeof(key)), WSG_OK);
    cr_assert_str_eq(get("auth-token"), "set");
    for (size_t i = 0; i < n; i++) {
        cr_assert_null(strstr(get(t[i].name), "TOPSECRET"));
        cr_assert_null(strstr(get(t[i].name), "KEYKEY"));
    }
    cr_assert_eq(wsg_policy_set_hmac_key(P, key, 31), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_policy_set_hmac_key(P, NULL, 32), WSG_ERR_INVALID_ARG);
    cr_assert_eq(P->hmac_key_len, sizeof(key));
}

static void check_bad(const char *msg)
{
    cr_assert_eq(wsg_policy_check(P, err, sizeof(err)), WSG_ERR_INVALID_ARG,
                 "expected: %s", msg);
    cr_assert_str_eq(err, msg);
}

static void fresh(void)
{
    wsg_policy_free(P);
    cr_assert_eq(wsg_policy_new(NULL, &P), WSG_OK);
}

Test(settings, check_cross_field_rules)
{
    set_ok("text-only", "true");
    set_ok("binary-only", "true");
    check_bad("--text-only and --binary-only: choose one");

    fresh();
    set_ok("auth-hmac-key-file", "/etc/k");
    check_bad("auth-hmac-key-file: key not loaded");
    static const uint8_t key[32] = {1};
    cr_assert_eq(wsg_policy_set_hmac_key(P, key, 32), WSG_OK);
    cr_assert_eq(wsg_policy_check(P, err, sizeof(err)), WSG_OK, "%s", err);

    fresh();
    set_ok("client-ip-header", "X-Client-IP");
    check_bad("--client-ip-header needs --trusted-proxy (the header is "
              "believed only from trusted proxies)");
    set_ok("trusted-proxy", "127.0.0.1");
    cr_assert_eq(wsg_policy_check(P, err, sizeof(err)), WSG_OK, "%s", err);

    fresh();
    set_ok("auth-identity-header", "X-User");
    check_bad("--auth-identity-header needs --trusted-proxy (the header is "
              "believed only from trusted proxies)");

    fresh();
    set_ok("msg-rate", "100");
    cr_assert_eq(P->msg_burst, 100u);           /* default burst: rate */
    cr_assert_eq(wsg_policy_check(P, err, sizeof(err)), WSG_OK, "%s", err);
    set_ok("msg-burst", "50");
    check_bad("--msg-burst: below --msg-rate (a burst must hold at least "
              "one second of the rate)");
    set_ok("msg-rate", "50");
    cr_assert_eq(P->msg_burst, 50u);            /* explicit burst stays */
    cr_assert_eq(wsg_policy_check(P, err, sizeof(err)), WSG_OK, "%s", err);

    fresh();
    set_ok("msg-burst", "5");
    check_bad("--msg-burst needs --msg-rate");
    fresh();
    set_ok("byte-burst", "5");
    check_bad("--byte-burst needs --byte-rate");
    fresh();
    set_ok("byte-rate", "1m");
    set_ok("byte-burst", "1k");
    check_bad("--byte-burst: below --byte-rate (a burst must hold at least "
              "one second of the rate)");

    fresh();
    set_ok("ping-interval", "0");
    cr_assert_eq(wsg_policy_check(P, err, sizeof(err)), WSG_OK, "%s", err);
    set_ok("pong-timeout", "5");
    check_bad("--pong-timeout needs --ping-interval above 0");

    fresh();
    set_ok("conn-rate-window", "5");
    check_bad("--conn-rate-window needs --conn-rate-per-ip");
    fresh();
    set_ok("idle-direction", "out");
    check_bad("--idle-direction needs --idle-timeout");
    fresh();
    set_ok("https-redirect", NULL);
    check_bad("--https-redirect needs --require-https");
    fresh();
    set_ok("allow-no-origin", NULL);
    check_bad("--allow-no-origin needs --allow-origin (without an allowlist "
              "no Origin is checked)");
    fresh();
    set_ok("auth-token-from", "cookie");
    check_bad("--auth-token-from/--auth-token-name need --auth-token or "
              "--auth-hmac-key-file");
    fresh();
    set_ok("auth-leeway", "1");
    check_bad("--auth-leeway needs --auth-hmac-key-file");
    fresh();
    set_ok("auth-first-message", "3");
    check_bad("--auth-first-message needs --auth-token or "
              "--auth-hmac-key-file");
    set_ok("auth-token", "0123456789abcdef");
    cr_assert_eq(wsg_policy_check(P, err, sizeof(err)), WSG_OK, "%s", err);
}

Test(settings, callbacks_and_null_args)
{
    cr_assert_eq(wsg_policy_new(NULL, NULL), WSG_ERR_INVALID_ARG);
    wsg_policy_free(NULL);
    wsg_policy_set_audit(P, NULL, P);
    cr_assert_eq(P->audit_ud, (void *)P);
    wsg_policy_set_validator(P, NULL, P);
    cr_assert_eq(P->validate_ud, (void *)P);
    cr_assert_eq(wsg_policy_set(NULL, "max-message", "1", err, sizeof(err)),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_policy_set(P, "max-message", "1", NULL, 0), WSG_OK);
    cr_assert_eq(wsg_policy_set(P, "max-message", "x", NULL, 0),
                 WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_policy_check(NULL, err, sizeof(err)),
                 WSG_ERR_INVALID_ARG);
}

/* An allocator that fails after `budget` allocations. */
static int budget;
static void *fail_malloc(size_t n, void *ud)
{
    (void)ud;
    return budget-- > 0 ? malloc(n) : NULL;
}
static void *fail_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    return budget-- > 0 ? realloc(p, n) : NULL;
}
static void fail_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

Test(settings, every_allocation_can_fail)
{
    struct wsg_allocator a = {0};
    bool done = false;

    a.malloc = fail_malloc;
    a.realloc = fail_realloc;
    a.free = fail_free;
    for (int n = 0; n < 200 && !done; n++) {
        struct wsg_policy *p = NULL;
        int rc;
        budget = n;
        rc = wsg_policy_new(&a, &p);
        if (rc != WSG_OK) {
            cr_assert_eq(rc, WSG_ERR_NOMEM);
            continue;
        }
        static const char *const kv[][2] = {
            {"allow-origin", "https://a.example.com,https://b.example.com,"
                             "https://c.example.com,https://d.example.com,"
                             "https://e.example.com"},
            {"trusted-proxy", "10.0.0.0/8,10.1.0.0/16,10.2.0.0/16,"
                              "10.3.0.0/16,10.4.0.0/16"},
            {"csp", "default-src 'none'"},
            {"auth-token", "0123456789abcdef0"},
        };
        done = true;
        for (size_t i = 0; i < 4 && done; i++) {
            rc = wsg_policy_set(p, kv[i][0], kv[i][1], err, sizeof(err));
            if (rc != WSG_OK) {
                cr_assert_eq(rc, WSG_ERR_NOMEM);
                cr_assert(strstr(err, "out of memory") != NULL);
                done = false;
            }
        }
        /* a failed append keeps the lists consistent */
        cr_assert_eq(p->origin_count, p->allow_origin.count);
        cr_assert_eq(p->trusted_count, p->trusted_proxy.count);
        wsg_policy_free(p);
    }
    cr_assert(done);
}
