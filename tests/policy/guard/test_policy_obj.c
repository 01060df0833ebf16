/* The guard driven by a policy built with wsg_policy_new / wsg_policy_set
 * (lib/policy/settings.c): the settings reach the guard, and the defaults
 * of test_policy_default() are those of wsg_policy_new. */
#include <string.h>

#include <criterion/criterion.h>

#include "guard_util.h"

static struct wsg_policy *PP;
static struct rec R;

static void setup(void)
{
    cr_assert_eq(wsg_policy_new(NULL, &PP), WSG_OK);
    memset(&R, 0, sizeof(R));
    wsg_policy_set_audit(PP, rec_audit, &R);
}

static void teardown(void)
{
    wsg_policy_free(PP);
}

TestSuite(guard_policy, .init = setup, .fini = teardown);

static void set(const char *name, const char *value)
{
    char err[256] = "";

    cr_assert_eq(wsg_policy_set(PP, name, value, err, sizeof(err)), WSG_OK,
                 "%s=%s: %s", name, value, err);
}

static void check(void)
{
    char err[256] = "";

    cr_assert_eq(wsg_policy_check(PP, err, sizeof(err)), WSG_OK, "%s", err);
}

/* Every field the guard reads has the same default in both. */
Test(guard_policy, defaults_match_test_policy_default)
{
    struct wsg_policy d;

    test_policy_default(&d);
    cr_assert_eq(PP->require_https, d.require_https);
    cr_assert_eq(PP->origin_count, 0);
    cr_assert_eq(PP->allow_no_origin, d.allow_no_origin);
    cr_assert_eq(PP->allow_host.count, 0);
    cr_assert_null(PP->auth_token);
    cr_assert_eq(PP->auth_from, d.auth_from);
    cr_assert_str_eq(PP->auth_name, d.auth_name);
    cr_assert_eq(PP->hmac_key_len, 0);
    cr_assert_eq(PP->auth_leeway_s, d.auth_leeway_s);
    cr_assert_eq(PP->auth_first_message_ms, 0);
    cr_assert_eq(PP->max_message, d.max_message);
    cr_assert_eq(PP->max_frame, d.max_frame);
    cr_assert_eq(PP->max_fragments, d.max_fragments);
    cr_assert_eq(PP->msg_rate, 0);
    cr_assert_eq(PP->byte_rate, 0);
    cr_assert_eq(PP->control_rate, 0);
    cr_assert_eq(PP->rate_action, d.rate_action);
    cr_assert_eq(PP->max_conns, 0);
    cr_assert_eq(PP->max_conns_per_ip, 0);
    cr_assert_eq(PP->conn_rate_per_ip, 0);
    cr_assert_eq(PP->conn_rate_window_ms, d.conn_rate_window_ms);
    cr_assert_eq(PP->addr_table_memory, d.addr_table_memory);
    cr_assert_eq(PP->idle_timeout_ms, 0);
    cr_assert_eq(PP->idle_direction, d.idle_direction);
    cr_assert_eq(PP->close_timeout_ms, d.close_timeout_ms);
    cr_assert_eq(PP->subprotocol.count, 0);
    cr_assert_eq(PP->binary_only || PP->text_only, false);
    cr_assert_null(PP->validate);
    cr_assert_eq(PP->headers.hsts_max_age, d.headers.hsts_max_age);
    cr_assert_eq(PP->headers.nosniff, d.headers.nosniff);
    cr_assert_eq(PP->max_output, d.max_output);
}

/* H2 + H3 + H9 + H6 configured by name, as wsg-echo does. */
Test(guard_policy, settings_drive_the_guard)
{
    struct wsg_guard_peer pe = peer_make("203.0.113.5", true, 1700000000u);
    struct wsg_guard_verdict v;
    struct wsg_guard *g = NULL;
    struct wsg_guard_conn *c = NULL;
    struct wsg_guard_action a;
    struct wsg_event ev = ev_msg(WSG_OP_TEXT, "x");

    set("allow-origin", "https://app.example.com");
    set("auth-token", "0123456789abcdef-token");
    set("subprotocol", "chat");
    set("msg-rate", "1");
    set("msg-burst", "1");
    check();
    cr_assert_eq(wsg_guard_new(PP, NULL, &g), WSG_OK);
    cr_assert_eq(upgrade(g, "h", "/", "Origin: https://evil.example\r\n", &pe,
                         0, &v, &c), 403);
    cr_assert_eq(v.control, WSG_H2);
    cr_assert_eq(upgrade(g, "h", "/", "Origin: https://app.example.com\r\n",
                         &pe, 0, &v, &c), 401);
    cr_assert_eq(v.control, WSG_H3);
    cr_assert_eq(upgrade(g, "h", "/",
                         "Origin: https://app.example.com\r\n"
                         "Authorization: Bearer 0123456789abcdef-token\r\n"
                         "Sec-WebSocket-Protocol: chat\r\n",
                         &pe, 0, &v, &c), 0);
    cr_assert_str_eq(v.subprotocol, "chat");
    wsg_guard_conn_message(c, &ev, 0, &a);
    cr_assert_eq(a.what, WSG_GUARD_PASS);
    wsg_guard_conn_message(c, &ev, 1, &a);
    cr_assert_eq(a.what, WSG_GUARD_CLOSE);
    cr_assert_eq(a.control, WSG_H6);
    wsg_guard_conn_free(c, 2, NULL, 1008, 1008);
    cr_assert_not(rec_has(&R, "0123456789abcdef-token"));
    wsg_guard_free(g);
}
