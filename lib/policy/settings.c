/* The settings table (H14): one name per setting for flags
 * ("--max-message"), the environment ("WSG_MAX_MESSAGE") and the report;
 * parsing from text, and the text of the current value. Every value is
 * validated when set; a refusal names the setting and the allowed range.
 * Lists are comma-separated, elements trimmed; a value is applied whole
 * or not at all. The text of values (parsing, checks, quoting) is in
 * settings_value.c; the environment is read in settings_env.c. */
#include <stdio.h>
#include <string.h>

#include "policy/policy_internal.h"

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024u)
#define GIB (MIB * 1024u)
#define U32 UINT64_C(4294967295)
#define LIST_MAX 256u                   /* entries per list */

enum sid {
    S_REQUIRE_HTTPS, S_HTTPS_REDIRECT,
    S_ALLOW_ORIGIN, S_ALLOW_HOST, S_ALLOW_NO_ORIGIN,
    S_AUTH_TOKEN, S_AUTH_TOKEN_FROM, S_AUTH_TOKEN_NAME, S_AUTH_HMAC_KEY_FILE,
    S_AUTH_LEEWAY, S_AUTH_IDENTITY_HEADER, S_AUTH_FIRST_MESSAGE,
    S_MAX_MESSAGE, S_MAX_FRAME, S_MAX_FRAGMENTS,
    S_MSG_RATE, S_MSG_BURST, S_BYTE_RATE, S_BYTE_BURST, S_CONTROL_RATE,
    S_RATE_ACTION, S_MAX_CONNS, S_MAX_CONNS_PER_IP, S_CONN_RATE_PER_IP,
    S_CONN_RATE_WINDOW, S_ADDR_TABLE_MEMORY,
    S_HANDSHAKE_TIMEOUT, S_IDLE_TIMEOUT, S_IDLE_DIRECTION, S_PING_INTERVAL,
    S_PONG_TIMEOUT, S_CLOSE_TIMEOUT,
    S_SUBPROTOCOL, S_BINARY_ONLY, S_TEXT_ONLY,
    S_HSTS_MAX_AGE, S_CSP, S_FRAME_OPTIONS, S_REFERRER_POLICY,
    S_PERMISSIONS_POLICY,
    S_TRUSTED_PROXY, S_CLIENT_IP_HEADER,
    S_MAX_OUTPUT,
    S_COUNT
};

#define B WSG_SETTING_BOOL
#define Z WSG_SETTING_SIZE
#define N WSG_SETTING_COUNT
#define T WSG_SETTING_SECONDS
#define S WSG_SETTING_STRING
#define L WSG_SETTING_LIST
#define C WSG_SETTING_CHOICE
#define ROW(name, env, kind, h, def, range, help) \
    {name, env, kind, h, def, range, help, false}

static const char DEF_CSP[] =
    "default-src 'self'; connect-src 'self'; frame-ancestors 'none'";
static const char DEF_PERM[] = "camera=(), microphone=(), geolocation=()";
static const char HDR_VALUE[] = "0-1024 bytes of visible ASCII and spaces";
static const char HDR_NAME[] = "a header name of 1-64 token characters";

static const struct wsg_setting table[S_COUNT] = {
    ROW("require-https", "WSG_REQUIRE_HTTPS", B, WSG_H1, "false", "true|false",
        "refuse upgrades not made over TLS (here or at a trusted front end)"),
    ROW("https-redirect", "WSG_HTTPS_REDIRECT", B, WSG_H1, "false",
        "true|false", "answer plain-HTTP GETs with 301 to https://"),
    ROW("allow-origin", "WSG_ALLOW_ORIGIN", L, WSG_H2, "",
        "scheme://host[:port] or scheme://*.domain.tld",
        "allowed Origin (repeatable); none: no Origin check"),
    ROW("allow-host", "WSG_ALLOW_HOST", L, WSG_H2, "",
        "host, host:port or *.domain.tld",
        "allowed Host header (repeatable; DNS rebinding)"),
    ROW("allow-no-origin", "WSG_ALLOW_NO_ORIGIN", B, WSG_H2, "false",
        "true|false", "accept requests without an Origin header"),
    {"auth-token", "WSG_AUTH_TOKEN", S, WSG_H3, "",
     "16-1024 visible ASCII bytes", "static bearer token (secret)", true},
    ROW("auth-token-from", "WSG_AUTH_TOKEN_FROM", C, WSG_H3, "bearer",
        "bearer|cookie|query", "where the token is read from"),
    ROW("auth-token-name", "WSG_AUTH_TOKEN_NAME", S, WSG_H3, "wsg_token",
        "1-64 token characters", "cookie or query parameter name"),
    ROW("auth-hmac-key-file", "WSG_AUTH_HMAC_KEY_FILE", S, WSG_H3, "",
        "a path of 1-4096 bytes",
        "file holding the HMAC-SHA256 key for signed tokens"),
    ROW("auth-leeway", "WSG_AUTH_LEEWAY", N, WSG_H3, "30", "0-3600",
        "seconds of clock skew allowed on token expiry"),
    ROW("auth-identity-header", "WSG_AUTH_IDENTITY_HEADER", S, WSG_H3, "",
        HDR_NAME, "identity header set by a trusted proxy"),
    ROW("auth-first-message", "WSG_AUTH_FIRST_MESSAGE", T, WSG_H3, "0",
        "0-86400", "post-connect auth: first message deadline; 0 off"),
    ROW("max-message", "WSG_MAX_MESSAGE", Z, WSG_H5, "1048576",
        "1-1073741824", "bytes per message (close 1009)"),
    ROW("max-frame", "WSG_MAX_FRAME", Z, WSG_H5, "1048576", "1-1073741824",
        "payload bytes per frame (close 1009)"),
    ROW("max-fragments", "WSG_MAX_FRAGMENTS", N, WSG_H5, "1024",
        "1-4294967295", "frames per message (close 1009)"),
    ROW("msg-rate", "WSG_MSG_RATE", N, WSG_H6, "0", "0-4294967295",
        "messages per second per connection; 0 off"),
    ROW("msg-burst", "WSG_MSG_BURST", N, WSG_H6, "0", "1-4294967295",
        "message bucket size; default: the rate"),
    ROW("byte-rate", "WSG_BYTE_RATE", Z, WSG_H6, "0", "0-1073741824",
        "bytes per second per connection; 0 off"),
    ROW("byte-burst", "WSG_BYTE_BURST", Z, WSG_H6, "0", "1-1073741824",
        "byte bucket size; default: the rate"),
    ROW("control-rate", "WSG_CONTROL_RATE", N, WSG_H6, "0", "0-4294967295",
        "pings and pongs per second per connection; 0 off"),
    ROW("rate-action", "WSG_RATE_ACTION", C, WSG_H6, "close", "close|drop",
        "over a rate: close 1008, or drop the message and count it"),
    ROW("max-conns", "WSG_MAX_CONNS", N, WSG_H6, "0", "0-4294967295",
        "global connection cap (503); 0 off"),
    ROW("max-conns-per-ip", "WSG_MAX_CONNS_PER_IP", N, WSG_H6, "0",
        "0-4294967295", "concurrent connections per client address (429)"),
    ROW("conn-rate-per-ip", "WSG_CONN_RATE_PER_IP", N, WSG_H6, "0",
        "0-4294967295", "new connections per address per window (429)"),
    ROW("conn-rate-window", "WSG_CONN_RATE_WINDOW", T, WSG_H6, "10",
        "1-86400", "window of conn-rate-per-ip, seconds"),
    ROW("addr-table-memory", "WSG_ADDR_TABLE_MEMORY", Z, WSG_H6, "4194304",
        "4096-1073741824", "fixed memory of the per-address table"),
    ROW("handshake-timeout", "WSG_HANDSHAKE_TIMEOUT", T, WSG_H7, "10",
        "0.1-600", "deadline for the opening handshake"),
    ROW("idle-timeout", "WSG_IDLE_TIMEOUT", T, WSG_H7, "0", "0-86400",
        "close after this long without traffic; 0 off"),
    ROW("idle-direction", "WSG_IDLE_DIRECTION", C, WSG_H7, "any",
        "any|in|out", "traffic that counts against idle-timeout"),
    ROW("ping-interval", "WSG_PING_INTERVAL", T, WSG_H7, "25", "0-86400",
        "ping after this much silence; 0 off"),
    ROW("pong-timeout", "WSG_PONG_TIMEOUT", T, WSG_H7, "30", "0-86400",
        "deadline for the pong; 0 none"),
    ROW("close-timeout", "WSG_CLOSE_TIMEOUT", T, WSG_H7, "5", "0.1-600",
        "deadline for the closing handshake"),
    ROW("subprotocol", "WSG_SUBPROTOCOL", L, WSG_H9, "",
        "1-64 token characters",
        "allowed subprotocol (repeatable), in preference order"),
    ROW("binary-only", "WSG_BINARY_ONLY", B, WSG_H9, "false", "true|false",
        "refuse text messages (1003)"),
    ROW("text-only", "WSG_TEXT_ONLY", B, WSG_H9, "false", "true|false",
        "refuse binary messages (1003)"),
    ROW("hsts-max-age", "WSG_HSTS_MAX_AGE", N, WSG_H10, "31536000",
        "0-4294967295", "Strict-Transport-Security max-age; 0 none"),
    ROW("csp", "WSG_CSP", S, WSG_H10, DEF_CSP, HDR_VALUE,
        "Content-Security-Policy; empty: none"),
    ROW("frame-options", "WSG_FRAME_OPTIONS", S, WSG_H10, "DENY", HDR_VALUE,
        "X-Frame-Options; empty: none"),
    ROW("referrer-policy", "WSG_REFERRER_POLICY", S, WSG_H10, "no-referrer",
        HDR_VALUE, "Referrer-Policy; empty: none"),
    ROW("permissions-policy", "WSG_PERMISSIONS_POLICY", S, WSG_H10, DEF_PERM,
        HDR_VALUE, "Permissions-Policy; empty: none"),
    ROW("trusted-proxy", "WSG_TRUSTED_PROXY", L, WSG_H11, "",
        "an address or CIDR such as 10.0.0.0/8",
        "proxy whose forwarding headers are believed (repeatable)"),
    ROW("client-ip-header", "WSG_CLIENT_IP_HEADER", S, WSG_H11, "", HDR_NAME,
        "client address header from trusted proxies (X-Client-IP)"),
    ROW("max-output", "WSG_MAX_OUTPUT", Z, WSG_H12, "4194304",
        "4096-1073741824", "pending output per connection (backpressure)"),
};

/* Numeric bounds, in bytes, ms or units (same order as the table). */
static const struct { uint64_t min, max; } lim[S_COUNT] = {
    [S_AUTH_LEEWAY] = {0, 3600},
    [S_AUTH_FIRST_MESSAGE] = {0, 86400000},
    [S_MAX_MESSAGE] = {1, GIB}, [S_MAX_FRAME] = {1, GIB},
    [S_MAX_FRAGMENTS] = {1, U32},
    [S_MSG_RATE] = {0, U32}, [S_MSG_BURST] = {1, U32},
    [S_BYTE_RATE] = {0, GIB}, [S_BYTE_BURST] = {1, GIB},
    [S_CONTROL_RATE] = {0, U32}, [S_MAX_CONNS] = {0, U32},
    [S_MAX_CONNS_PER_IP] = {0, U32}, [S_CONN_RATE_PER_IP] = {0, U32},
    [S_CONN_RATE_WINDOW] = {1000, 86400000},
    [S_ADDR_TABLE_MEMORY] = {4 * KIB, GIB},
    [S_HANDSHAKE_TIMEOUT] = {100, 600000},
    [S_IDLE_TIMEOUT] = {0, 86400000},
    [S_PING_INTERVAL] = {0, 86400000}, [S_PONG_TIMEOUT] = {0, 86400000},
    [S_CLOSE_TIMEOUT] = {100, 600000},
    [S_HSTS_MAX_AGE] = {0, U32},
    [S_MAX_OUTPUT] = {4 * KIB, GIB},
};

const struct wsg_setting *wsg_policy_settings(size_t *count)
{
    if (count != NULL)
        *count = S_COUNT;
    return table;
}

static int find(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < S_COUNT; i++)
        if (strcmp(table[i].name, name) == 0)
            return i;
    return -1;
}

const struct wsg_setting *wsg_policy_setting_find(const char *name)
{
    int i = find(name);

    return i < 0 ? NULL : &table[i];
}

bool wsg__policy_was_set(const struct wsg_policy *p, const char *name)
{
    int i = find(name);

    return p != NULL && i >= 0 && (p->set_mask >> i & 1u) != 0;
}

/* ---- messages ----------------------------------------------------------- */

static int fail(char *err, size_t cap, const char *label, size_t i,
                const char *value)
{
    const struct wsg_setting *r = &table[i];
    const char *unit = r->kind == WSG_SETTING_SIZE ? " bytes"
                     : r->kind == WSG_SETTING_SECONDS ? " seconds" : "";
    char q[WSG__QUOTE_MAX + 8];

    if (err == NULL || cap == 0)
        return WSG_ERR_INVALID_ARG;
    if (value == NULL)
        snprintf(err, cap, "%s: expected %s%s, got no value", label,
                 r->range, unit);
    else if (r->secret)
        snprintf(err, cap, "%s: expected %s, got a value of %zu bytes",
                 label, r->range, strlen(value));
    else {
        wsg__quote(value, q, sizeof(q));
        snprintf(err, cap, "%s: expected %s%s, got '%s'", label, r->range,
                 unit, q);
    }
    return WSG_ERR_INVALID_ARG;
}

static int nomem(char *err, size_t cap, const char *label)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s: out of memory", label);
    return WSG_ERR_NOMEM;
}

/* ---- typed values ------------------------------------------------------- */

static void store_num(struct wsg_policy *p, int i, uint64_t v)
{
    uint32_t v32 = (uint32_t)(v > U32 ? U32 : v);

    switch (i) {
    case S_REQUIRE_HTTPS: p->require_https = v != 0; break;
    case S_HTTPS_REDIRECT: p->redirect_https = v != 0; break;
    case S_ALLOW_NO_ORIGIN: p->allow_no_origin = v != 0; break;
    case S_AUTH_TOKEN_FROM: p->auth_from = (enum wsg__token_from)v; break;
    case S_AUTH_LEEWAY: p->auth_leeway_s = v32; break;
    case S_AUTH_FIRST_MESSAGE: p->auth_first_message_ms = v32; break;
    case S_MAX_MESSAGE: p->max_message = v; break;
    case S_MAX_FRAME: p->max_frame = v; break;
    case S_MAX_FRAGMENTS: p->max_fragments = v32; break;
    case S_MSG_RATE:
        p->msg_rate = v;
        if ((p->set_mask >> S_MSG_BURST & 1u) == 0)
            p->msg_burst = v;           /* default burst: the rate */
        break;
    case S_MSG_BURST: p->msg_burst = v; break;
    case S_BYTE_RATE:
        p->byte_rate = v;
        if ((p->set_mask >> S_BYTE_BURST & 1u) == 0)
            p->byte_burst = v;
        break;
    case S_BYTE_BURST: p->byte_burst = v; break;
    case S_CONTROL_RATE: p->control_rate = v; break;
    case S_RATE_ACTION: p->rate_action = (enum wsg__rate_action)v; break;
    case S_MAX_CONNS: p->max_conns = v32; break;
    case S_MAX_CONNS_PER_IP: p->max_conns_per_ip = v32; break;
    case S_CONN_RATE_PER_IP: p->conn_rate_per_ip = v32; break;
    case S_CONN_RATE_WINDOW: p->conn_rate_window_ms = v32; break;
    case S_ADDR_TABLE_MEMORY: p->addr_table_memory = v; break;
    case S_HANDSHAKE_TIMEOUT: p->handshake_timeout_ms = v32; break;
    case S_IDLE_TIMEOUT: p->idle_timeout_ms = v32; break;
    case S_IDLE_DIRECTION: p->idle_direction = (enum wsg__idle_dir)v; break;
    case S_PING_INTERVAL: p->ping_interval_ms = v32; break;
    case S_PONG_TIMEOUT: p->pong_timeout_ms = v32; break;
    case S_CLOSE_TIMEOUT: p->close_timeout_ms = v32; break;
    case S_BINARY_ONLY: p->binary_only = v != 0; break;
    case S_TEXT_ONLY: p->text_only = v != 0; break;
    case S_HSTS_MAX_AGE: p->headers.hsts_max_age = v32; break;
    case S_MAX_OUTPUT: p->max_output = v; break;
    default: break;
    }
}

static uint64_t load_num(const struct wsg_policy *p, int i)
{
    switch (i) {
    case S_REQUIRE_HTTPS: return p->require_https;
    case S_HTTPS_REDIRECT: return p->redirect_https;
    case S_ALLOW_NO_ORIGIN: return p->allow_no_origin;
    case S_AUTH_TOKEN_FROM: return (uint64_t)p->auth_from;
    case S_AUTH_LEEWAY: return p->auth_leeway_s;
    case S_AUTH_FIRST_MESSAGE: return p->auth_first_message_ms;
    case S_MAX_MESSAGE: return p->max_message;
    case S_MAX_FRAME: return p->max_frame;
    case S_MAX_FRAGMENTS: return p->max_fragments;
    case S_MSG_RATE: return p->msg_rate;
    case S_MSG_BURST: return p->msg_burst;
    case S_BYTE_RATE: return p->byte_rate;
    case S_BYTE_BURST: return p->byte_burst;
    case S_CONTROL_RATE: return p->control_rate;
    case S_RATE_ACTION: return (uint64_t)p->rate_action;
    case S_MAX_CONNS: return p->max_conns;
    case S_MAX_CONNS_PER_IP: return p->max_conns_per_ip;
    case S_CONN_RATE_PER_IP: return p->conn_rate_per_ip;
    case S_CONN_RATE_WINDOW: return p->conn_rate_window_ms;
    case S_ADDR_TABLE_MEMORY: return p->addr_table_memory;
    case S_HANDSHAKE_TIMEOUT: return p->handshake_timeout_ms;
    case S_IDLE_TIMEOUT: return p->idle_timeout_ms;
    case S_IDLE_DIRECTION: return (uint64_t)p->idle_direction;
    case S_PING_INTERVAL: return p->ping_interval_ms;
    case S_PONG_TIMEOUT: return p->pong_timeout_ms;
    case S_CLOSE_TIMEOUT: return p->close_timeout_ms;
    case S_BINARY_ONLY: return p->binary_only;
    case S_TEXT_ONLY: return p->text_only;
    case S_HSTS_MAX_AGE: return p->headers.hsts_max_age;
    case S_MAX_OUTPUT: return p->max_output;
    default: return 0;
    }
}

/* The owned string of a STRING setting, and for H10 the header field it
 * feeds (NULL when "" turns the header off). */
static char **str_field(struct wsg_policy *p, int i, const char ***hdr)
{
    *hdr = NULL;
    switch (i) {
    case S_AUTH_TOKEN: return &p->auth_token;
    case S_AUTH_TOKEN_NAME: return &p->auth_name;
    case S_AUTH_HMAC_KEY_FILE: return &p->auth_hmac_key_file;
    case S_AUTH_IDENTITY_HEADER: return &p->auth_identity_header;
    case S_CLIENT_IP_HEADER: return &p->client_ip_header;
    case S_CSP: *hdr = &p->headers.csp; return &p->csp;
    case S_FRAME_OPTIONS: *hdr = &p->headers.frame_options;
        return &p->frame_options;
    case S_REFERRER_POLICY: *hdr = &p->headers.referrer_policy;
        return &p->referrer_policy;
    case S_PERMISSIONS_POLICY: *hdr = &p->headers.permissions_policy;
        return &p->permissions_policy;
    default: return NULL;
    }
}

static bool valid_string(int i, const char *v)
{
    size_t n = strlen(v);

    switch (i) {
    case S_AUTH_TOKEN: return wsg__is_visible(v, 16, 1024, false);
    case S_AUTH_TOKEN_NAME: return wsg__is_bounded_token(v, n, 1, 64);
    case S_AUTH_HMAC_KEY_FILE:
        if (n > 4096)
            return false;
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)v[k] < 0x20 || v[k] == 0x7F)
                return false;
        return true;
    case S_AUTH_IDENTITY_HEADER:
    case S_CLIENT_IP_HEADER: return wsg__is_bounded_token(v, n, 0, 64);
    default: return wsg__is_visible(v, 0, 1024, true);
    }
}

static int set_string(struct wsg_policy *p, int i, const char *v)
{
    const char **hdr;
    char **f = str_field(p, i, &hdr);
    char *copy = NULL;

    if (v[0] != '\0' && (copy = wsg__strdup(&p->alloc, v)) == NULL)
        return WSG_ERR_NOMEM;
    if (*f != NULL && i == S_AUTH_TOKEN)
        memset(*f, 0, strlen(*f));
    wsg__free(&p->alloc, *f);
    *f = copy;
    if (hdr != NULL)
        *hdr = copy;
    return WSG_OK;
}

/* ---- lists -------------------------------------------------------------- */

static bool valid_item(int i, const char *s, size_t n, struct wsg_origin *o,
                       struct wsg_cidr *c)
{
    switch (i) {
    case S_ALLOW_ORIGIN: return wsg_origin_parse(s, n, true, o) == WSG_OK;
    case S_ALLOW_HOST: return wsg__is_host_entry(s, n);
    case S_SUBPROTOCOL: return wsg__is_bounded_token(s, n, 1, 64);
    case S_TRUSTED_PROXY: return wsg_cidr_parse(s, n, c) == WSG_OK;
    default: return false;
    }
}

static struct wsg__strlist *list_field(struct wsg_policy *p, int i)
{
    switch (i) {
    case S_ALLOW_ORIGIN: return &p->allow_origin;
    case S_ALLOW_HOST: return &p->allow_host;
    case S_SUBPROTOCOL: return &p->subprotocol;
    case S_TRUSTED_PROXY: return &p->trusted_proxy;
    default: return NULL;
    }
}

static void list_clear(struct wsg_policy *p, int i)
{
    wsg__strlist_clear(&p->alloc, list_field(p, i));
    if (i == S_ALLOW_ORIGIN) {
        wsg__free(&p->alloc, p->origins);
        p->origins = NULL;
        p->origin_count = 0;
    } else if (i == S_TRUSTED_PROXY) {
        wsg__free(&p->alloc, p->trusted);
        p->trusted = NULL;
        p->trusted_count = 0;
    }
}

/* Grows the list (and its parsed twin) to hold `need` items. */
static bool list_reserve(struct wsg_policy *p, int i, size_t need)
{
    struct wsg__strlist *l = list_field(p, i);
    size_t cap = l->cap != 0 ? l->cap : 4;
    void *n;

    if (need <= l->cap)
        return true;
    while (cap < need)
        cap *= 2;
    n = wsg__realloc(&p->alloc, l->items, l->cap * sizeof(char *),
                     cap * sizeof(char *));
    if (n == NULL)
        return false;
    l->items = n;
    if (i == S_ALLOW_ORIGIN) {
        n = wsg__realloc(&p->alloc, p->origins,
                         l->cap * sizeof(*p->origins),
                         cap * sizeof(*p->origins));
        if (n == NULL)
            return false;
        p->origins = n;
    } else if (i == S_TRUSTED_PROXY) {
        n = wsg__realloc(&p->alloc, p->trusted,
                         l->cap * sizeof(*p->trusted),
                         cap * sizeof(*p->trusted));
        if (n == NULL)
            return false;
        p->trusted = n;
    }
    l->cap = cap;
    return true;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* Walks the comma-separated items: validates all (apply false) or
 * appends all (apply true). Returns WSG_OK, _INVALID_ARG (*bad: the item)
 * or _NOMEM. */
static int list_walk(struct wsg_policy *p, int i, const char *v, bool apply,
                     char *bad, size_t bad_cap)
{
    struct wsg__strlist *l = list_field(p, i);
    size_t items = 0;

    for (const char *s = v;;) {
        const char *e = strchr(s, ',');
        size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
        struct wsg_origin o;
        struct wsg_cidr c;

        while (n > 0 && is_space(*s))
            s++, n--;
        while (n > 0 && is_space(s[n - 1]))
            n--;
        if (!apply) {
            if (!valid_item(i, s, n, &o, &c)) {
                size_t k = n < bad_cap - 1 ? n : bad_cap - 1;
                memcpy(bad, s, k);
                bad[k] = '\0';
                return WSG_ERR_INVALID_ARG;
            }
            if (l->count + ++items > LIST_MAX) {
                snprintf(bad, bad_cap, "more than %u entries", LIST_MAX);
                return WSG_ERR_INVALID_ARG;
            }
        } else {
            valid_item(i, s, n, &o, &c);
            if (!list_reserve(p, i, l->count + 1))
                return WSG_ERR_NOMEM;
            if ((l->items[l->count] = wsg__strndup(&p->alloc, s, n)) == NULL)
                return WSG_ERR_NOMEM;
            if (i == S_ALLOW_ORIGIN)
                p->origins[p->origin_count++] = o;
            else if (i == S_TRUSTED_PROXY)
                p->trusted[p->trusted_count++] = c;
            l->count++;
        }
        if (e == NULL)
            return WSG_OK;
        s = e + 1;
    }
}

/* ---- set, get ----------------------------------------------------------- */

int wsg__policy_set_row(struct wsg_policy *p, size_t row, const char *label,
                        const char *v, bool replace, char *err, size_t cap)
{
    const struct wsg_setting *r = &table[row];
    int i = (int)row;
    uint64_t num = 0;
    bool ok = v != NULL;
    int rc;

    if (v == NULL && r->kind == WSG_SETTING_BOOL)
        v = "true", ok = true;              /* a bare flag */
    if (!ok)
        return fail(err, cap, label, (size_t)i, NULL);
    switch (r->kind) {
    case WSG_SETTING_BOOL:
        rc = wsg__parse_bool(v);
        ok = rc >= 0;
        num = rc > 0;
        break;
    case WSG_SETTING_SIZE: ok = wsg__parse_size(v, &num); break;
    case WSG_SETTING_COUNT: ok = wsg__parse_uint(v, strlen(v), &num); break;
    case WSG_SETTING_SECONDS: ok = wsg__parse_seconds(v, &num); break;
    case WSG_SETTING_CHOICE:
        rc = wsg__parse_choice(r->range, v);
        ok = rc >= 0;
        num = (uint64_t)(rc < 0 ? 0 : rc);
        break;
    case WSG_SETTING_STRING:
        if (!valid_string(i, v) || (v[0] == '\0' && i == S_AUTH_TOKEN_NAME))
            return fail(err, cap, label, (size_t)i, v);
        if (set_string(p, i, v) != WSG_OK)
            return nomem(err, cap, label);
        p->set_mask |= UINT64_C(1) << i;
        return WSG_OK;
    case WSG_SETTING_LIST: {
        const char *s = v;
        char bad[WSG__QUOTE_MAX + 1];

        while (is_space(*s))
            s++;
        if (*s == '\0' || replace)
            list_clear(p, i);
        if (*s != '\0') {
            if (list_walk(p, i, v, false, bad, sizeof(bad)) != WSG_OK)
                return fail(err, cap, label, (size_t)i, bad);
            if (list_walk(p, i, v, true, NULL, 0) != WSG_OK)
                return nomem(err, cap, label);
        }
        p->set_mask |= UINT64_C(1) << i;
        return WSG_OK;
    }
    }
    if (ok && r->kind != WSG_SETTING_BOOL && r->kind != WSG_SETTING_CHOICE)
        ok = num >= lim[i].min && num <= lim[i].max;
    if (!ok)
        return fail(err, cap, label, (size_t)i, v);
    store_num(p, i, num);
    p->set_mask |= UINT64_C(1) << i;
    return WSG_OK;
}

int wsg_policy_set(struct wsg_policy *p, const char *name, const char *value,
                   char *err, size_t err_cap)
{
    char label[64];
    int i;

    if (name != NULL && name[0] == '-' && name[1] == '-')
        name += 2;
    i = find(name);
    if (p == NULL || i < 0) {
        char q[WSG__QUOTE_MAX + 8];
        wsg__quote(name != NULL ? name : "", q, sizeof(q));
        if (err != NULL && err_cap > 0)
            snprintf(err, err_cap, "unknown setting '--%s'", q);
        return WSG_ERR_INVALID_ARG;
    }
    snprintf(label, sizeof(label), "--%s", table[i].name);
    return wsg__policy_set_row(p, (size_t)i, label, value, false, err,
                               err_cap);
}

size_t wsg_policy_get(const struct wsg_policy *p, const char *name,
                      char *out, size_t cap)
{
    struct wsg__out o;
    int i;
    char num[32];

    if (name != NULL && name[0] == '-' && name[1] == '-')
        name += 2;
    i = find(name);
    wsg__out_init(&o, out, cap);
    if (p == NULL || i < 0)
        return 0;
    switch (table[i].kind) {
    case WSG_SETTING_BOOL:
        wsg__out_put(&o, load_num(p, i) ? "true" : "false");
        break;
    case WSG_SETTING_SIZE:
    case WSG_SETTING_COUNT:
        snprintf(num, sizeof(num), "%llu",
                 (unsigned long long)load_num(p, i));
        wsg__out_put(&o, num);
        break;
    case WSG_SETTING_SECONDS:
        wsg__format_seconds(load_num(p, i), num, sizeof(num));
        wsg__out_put(&o, num);
        break;
    case WSG_SETTING_CHOICE: {
        const char *w = table[i].range;
        for (uint64_t k = load_num(p, i); k > 0 && w != NULL; k--)
            if ((w = strchr(w, '|')) != NULL)
                w++;
        if (w != NULL)
            wsg__out_putn(&o, w, strcspn(w, "|"));
        break;
    }
    case WSG_SETTING_STRING: {
        const char **hdr;
        char *const *f = str_field((struct wsg_policy *)(uintptr_t)p, i, &hdr);
        const char *v = hdr != NULL ? *hdr : *f;
        if (table[i].secret)
            wsg__out_put(&o, v != NULL ? "set" : "");
        else if (v != NULL)
            wsg__out_put(&o, v);
        break;
    }
    case WSG_SETTING_LIST: {
        const struct wsg__strlist *l =
            list_field((struct wsg_policy *)(uintptr_t)p, i);
        for (size_t k = 0; k < l->count; k++) {
            if (k > 0)
                wsg__out_put(&o, ",");
            wsg__out_put(&o, l->items[k]);
        }
        break;
    }
    }
    return wsg__out_end(&o);
}
