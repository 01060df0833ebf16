/* The policy object: defaults, lifetime, callbacks, the HMAC key, and the
 * cross-field rules of wsg_policy_check (a setting that would have no
 * effect, or contradicts another, is refused rather than ignored). */
#include <stdio.h>
#include <string.h>

#include "policy/policy_internal.h"

void wsg__strlist_clear(const struct wsg_allocator *a, struct wsg__strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        wsg__free(a, l->items[i]);
    wsg__free(a, l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}

int wsg_policy_new(const struct wsg_allocator *alloc, struct wsg_policy **out)
{
    struct wsg_allocator a;
    struct wsg_policy *p;

    if (out == NULL)
        return WSG_ERR_INVALID_ARG;
    *out = NULL;
    if (!wsg__alloc_init(&a, alloc))
        return WSG_ERR_INVALID_ARG;
    if ((p = wsg__zalloc(&a, sizeof(*p))) == NULL)
        return WSG_ERR_NOMEM;
    p->alloc = a;
    if ((p->auth_name = wsg__strdup(&a, "wsg_token")) == NULL) {
        wsg__free(&a, p);
        return WSG_ERR_NOMEM;
    }
    p->auth_from = WSG__TOKEN_BEARER;
    p->auth_leeway_s = 30;
    p->max_message = UINT64_C(1) << 20;
    p->max_frame = UINT64_C(1) << 20;
    p->max_fragments = 1024;
    p->rate_action = WSG__RATE_CLOSE;
    p->conn_rate_window_ms = 10000;
    p->addr_table_memory = UINT64_C(4) << 20;
    p->handshake_timeout_ms = 10000;
    p->idle_direction = WSG__IDLE_ANY;
    p->ping_interval_ms = 25000;
    p->pong_timeout_ms = 30000;
    p->close_timeout_ms = 5000;
    wsg_security_headers_init_default(&p->headers);
    p->max_output = UINT64_C(4) << 20;
    *out = p;
    return WSG_OK;
}

static void free_secret(const struct wsg_allocator *a, void *s, size_t n)
{
    if (s != NULL) {
        volatile uint8_t *v = s;
        for (size_t i = 0; i < n; i++)
            v[i] = 0;
    }
    wsg__free(a, s);
}

void wsg_policy_free(struct wsg_policy *p)
{
    struct wsg_allocator a;

    if (p == NULL)
        return;
    a = p->alloc;
    wsg__strlist_clear(&a, &p->allow_origin);
    wsg__strlist_clear(&a, &p->allow_host);
    wsg__strlist_clear(&a, &p->trusted_proxy);
    wsg__strlist_clear(&a, &p->subprotocol);
    wsg__free(&a, p->origins);
    wsg__free(&a, p->trusted);
    free_secret(&a, p->auth_token,
                p->auth_token != NULL ? strlen(p->auth_token) : 0);
    free_secret(&a, p->hmac_key, p->hmac_key_len);
    wsg__free(&a, p->auth_name);
    wsg__free(&a, p->auth_hmac_key_file);
    wsg__free(&a, p->auth_identity_header);
    wsg__free(&a, p->client_ip_header);
    wsg__free(&a, p->csp);
    wsg__free(&a, p->frame_options);
    wsg__free(&a, p->referrer_policy);
    wsg__free(&a, p->permissions_policy);
    wsg__free(&a, p);
}

void wsg_policy_set_audit(struct wsg_policy *p,
                          void (*cb)(void *ud,
                                     const struct wsg_audit_event *ev),
                          void *ud)
{
    if (p == NULL)
        return;
    p->audit = cb;
    p->audit_ud = ud;
}

void wsg_policy_set_validator(
    struct wsg_policy *p,
    uint16_t (*validate)(void *ud, enum wsg_opcode op, const uint8_t *data,
                         size_t len, const char **reason),
    void *ud)
{
    if (p == NULL)
        return;
    p->validate = validate;
    p->validate_ud = ud;
}

/* RFC 2104 §3: keys shorter than the hash output weaken HMAC; 32 bytes
 * for SHA-256. At most 1 KiB (the file is a key, not a document). */
int wsg_policy_set_hmac_key(struct wsg_policy *p, const uint8_t *key,
                            size_t len)
{
    uint8_t *copy;

    if (p == NULL || key == NULL || len < 32 || len > 1024)
        return WSG_ERR_INVALID_ARG;
    if ((copy = wsg__memdup(&p->alloc, key, len)) == NULL)
        return WSG_ERR_NOMEM;
    free_secret(&p->alloc, p->hmac_key, p->hmac_key_len);
    p->hmac_key = copy;
    p->hmac_key_len = len;
    return WSG_OK;
}

static int refuse(char *err, size_t cap, const char *msg)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s", msg);
    return WSG_ERR_INVALID_ARG;
}

int wsg_policy_check(const struct wsg_policy *p, char *err, size_t err_cap)
{
    bool set_ping = p != NULL && p->ping_interval_ms != 0;
    bool auth = p != NULL && (p->auth_token != NULL || p->hmac_key != NULL ||
                              p->auth_hmac_key_file != NULL);
    bool signed_tok = p != NULL && (p->hmac_key != NULL ||
                                    p->auth_hmac_key_file != NULL);

    if (p == NULL)
        return refuse(err, err_cap, "no policy");
    if (err != NULL && err_cap > 0)
        err[0] = '\0';
    if (p->text_only && p->binary_only)
        return refuse(err, err_cap,
                      "--text-only and --binary-only: choose one");
    if (p->origin_count != p->allow_origin.count ||
        p->trusted_count != p->trusted_proxy.count)
        return refuse(err, err_cap, "allowlists out of step (internal)");
    if (p->auth_hmac_key_file != NULL && p->hmac_key == NULL)
        return refuse(err, err_cap, "auth-hmac-key-file: key not loaded");
    if (p->auth_identity_header != NULL && p->trusted_count == 0)
        return refuse(err, err_cap, "--auth-identity-header needs "
                      "--trusted-proxy (the header is believed only from "
                      "trusted proxies)");
    if (p->client_ip_header != NULL && p->trusted_count == 0)
        return refuse(err, err_cap, "--client-ip-header needs "
                      "--trusted-proxy (the header is believed only from "
                      "trusted proxies)");
    if (wsg__policy_was_set(p, "msg-burst") && p->msg_rate == 0)
        return refuse(err, err_cap, "--msg-burst needs --msg-rate");
    if (wsg__policy_was_set(p, "msg-burst") && p->msg_burst < p->msg_rate)
        return refuse(err, err_cap, "--msg-burst: below --msg-rate (a burst "
                      "must hold at least one second of the rate)");
    if (wsg__policy_was_set(p, "byte-burst") && p->byte_rate == 0)
        return refuse(err, err_cap, "--byte-burst needs --byte-rate");
    if (wsg__policy_was_set(p, "byte-burst") && p->byte_burst < p->byte_rate)
        return refuse(err, err_cap, "--byte-burst: below --byte-rate (a burst "
                      "must hold at least one second of the rate)");
    if (wsg__policy_was_set(p, "pong-timeout") && !set_ping)
        return refuse(err, err_cap, "--pong-timeout needs --ping-interval "
                      "above 0");
    if (wsg__policy_was_set(p, "conn-rate-window") && p->conn_rate_per_ip == 0)
        return refuse(err, err_cap, "--conn-rate-window needs "
                      "--conn-rate-per-ip");
    if (wsg__policy_was_set(p, "idle-direction") && p->idle_timeout_ms == 0)
        return refuse(err, err_cap, "--idle-direction needs --idle-timeout");
    if (p->redirect_https && !p->require_https)
        return refuse(err, err_cap, "--https-redirect needs --require-https");
    if (p->allow_no_origin && p->origin_count == 0)
        return refuse(err, err_cap, "--allow-no-origin needs --allow-origin "
                      "(without an allowlist no Origin is checked)");
    if ((wsg__policy_was_set(p, "auth-token-from") ||
         wsg__policy_was_set(p, "auth-token-name")) && !auth)
        return refuse(err, err_cap, "--auth-token-from/--auth-token-name "
                      "need --auth-token or --auth-hmac-key-file");
    if (wsg__policy_was_set(p, "auth-leeway") && !signed_tok)
        return refuse(err, err_cap, "--auth-leeway needs "
                      "--auth-hmac-key-file");
    if (p->auth_first_message_ms != 0 && !auth)
        return refuse(err, err_cap, "--auth-first-message needs "
                      "--auth-token or --auth-hmac-key-file");
    return WSG_OK;
}
