/* The policy's typed values (internal). lib/policy/settings.c fills them
 * from the settings table; guard.c and report.c read them. Every field has
 * the setting name it comes from. */
#ifndef WSG_POLICY_INTERNAL_H
#define WSG_POLICY_INTERNAL_H

#include <wsguard/guard.h>
#include <wsguard/policy.h>

#include "core/alloc.h"

/* An owned list of strings. */
struct wsg__strlist {
    char **items;
    size_t count, cap;
};

enum wsg__token_from { WSG__TOKEN_BEARER = 0, WSG__TOKEN_COOKIE,
                       WSG__TOKEN_QUERY };
enum wsg__rate_action { WSG__RATE_CLOSE = 0, WSG__RATE_DROP };
enum wsg__idle_dir { WSG__IDLE_ANY = 0, WSG__IDLE_FROM_CLIENT,
                     WSG__IDLE_TO_CLIENT };

struct wsg_policy {
    struct wsg_allocator alloc;

    /* H1 */
    bool require_https;              /* require-https */
    bool redirect_https;             /* https-redirect: 301 for plain GETs */

    /* H2 */
    struct wsg__strlist allow_origin;   /* allow-origin (raw text) */
    struct wsg_origin *origins;         /* parsed, same order */
    size_t origin_count;
    bool allow_no_origin;            /* allow-no-origin: missing Origin */
    struct wsg__strlist allow_host;  /* allow-host */

    /* H3 */
    char *auth_token;                /* auth-token (secret) */
    enum wsg__token_from auth_from;  /* auth-token-from: bearer|cookie|query */
    char *auth_name;                 /* auth-token-name: cookie/query name;
                                        default "wsg_token" */
    char *auth_hmac_key_file;        /* auth-hmac-key-file (path only) */
    uint8_t *hmac_key;               /* from wsg_policy_set_hmac_key */
    size_t hmac_key_len;
    uint32_t auth_leeway_s;          /* auth-leeway */
    char *auth_identity_header;      /* auth-identity-header: from trusted
                                        proxies only */
    uint32_t auth_first_message_ms;  /* auth-first-message: post-connect
                                        auth deadline; 0 off */

    /* H5 */
    uint64_t max_message;            /* max-message, default 1 MiB */
    uint64_t max_frame;              /* max-frame, default 1 MiB */
    uint32_t max_fragments;          /* max-fragments, default 1024 */

    /* H6 */
    uint64_t msg_rate, msg_burst;    /* msg-rate, msg-burst; 0 off */
    uint64_t byte_rate, byte_burst;  /* byte-rate, byte-burst; 0 off */
    uint64_t control_rate;           /* control-rate: pings+pongs/s; 0 off */
    enum wsg__rate_action rate_action; /* rate-action: close|drop */
    uint32_t max_conns;              /* max-conns: global cap (503); 0 off */
    uint32_t max_conns_per_ip;       /* max-conns-per-ip (429); 0 off */
    uint32_t conn_rate_per_ip;       /* conn-rate-per-ip: per window (429) */
    uint32_t conn_rate_window_ms;    /* conn-rate-window, default 10 s */
    uint64_t addr_table_memory;      /* addr-table-memory, default 4 MiB */
    struct wsg__strlist trusted_proxy; /* trusted-proxy (CIDRs, raw) */
    struct wsg_cidr *trusted;        /* parsed */
    size_t trusted_count;
    char *client_ip_header;          /* client-ip-header, e.g. X-Client-IP */

    /* H7 (milliseconds; settings are in seconds) */
    uint32_t handshake_timeout_ms;   /* handshake-timeout, default 10 s */
    uint32_t idle_timeout_ms;        /* idle-timeout; 0 off */
    enum wsg__idle_dir idle_direction; /* idle-direction: any|in|out */
    uint32_t ping_interval_ms;       /* ping-interval, default 25 s */
    uint32_t pong_timeout_ms;        /* pong-timeout, default 30 s */
    uint32_t close_timeout_ms;       /* close-timeout, default 5 s */

    /* H9 */
    struct wsg__strlist subprotocol; /* subprotocol allowlist */
    bool binary_only, text_only;     /* binary-only, text-only */
    uint16_t (*validate)(void *ud, enum wsg_opcode op, const uint8_t *data,
                         size_t len, const char **reason);
    void *validate_ud;

    /* H10 */
    struct wsg_security_headers headers; /* hsts-max-age, csp,
                                            frame-options, referrer-policy,
                                            permissions-policy */
    char *csp, *frame_options, *referrer_policy, *permissions_policy;

    /* H11 */
    void (*audit)(void *ud, const struct wsg_audit_event *ev);
    void *audit_ud;

    /* H12 */
    uint64_t max_output;             /* max-output, default 4 MiB */

    /* Bookkeeping (settings.c): bit i set when row i of the settings
     * table was set explicitly, for wsg_policy_check's cross-field rules
     * and the report. */
    uint64_t set_mask;
};

/* settings.c: true if the setting `name` was set explicitly. */
bool wsg__policy_was_set(const struct wsg_policy *p, const char *name);
/* settings.c: parses `v` (NULL: none given) into row `i` of the settings
 * table; a list is appended to, or replaced with `replace`. `label` names
 * the setting in the message written to err. WSG_OK, _INVALID_ARG or
 * _NOMEM. */
int wsg__policy_set_row(struct wsg_policy *p, size_t i, const char *label,
                        const char *v, bool replace, char *err, size_t cap);

/* settings_value.c: the text of setting values. Parsers return false (or
 * -1) for text that is not a value of their kind. */
#define WSG__QUOTE_MAX 64u  /* value bytes echoed in a message */
bool wsg__parse_uint(const char *s, size_t n, uint64_t *v); /* decimal */
bool wsg__parse_size(const char *s, uint64_t *v);   /* bytes, k/m/g */
bool wsg__parse_seconds(const char *s, uint64_t *ms); /* "1.5" -> 1500 */
int wsg__parse_bool(const char *s);                 /* 1, 0 or -1 */
int wsg__parse_choice(const char *range, const char *s); /* "a|b" index */
bool wsg__is_bounded_token(const char *s, size_t n, size_t min, size_t max);
bool wsg__is_visible(const char *s, size_t min, size_t max, bool space);
bool wsg__is_host_entry(const char *s, size_t n);
/* Writes `v` cut to WSG__QUOTE_MAX bytes, printable, into q[cap]. */
void wsg__quote(const char *v, char *q, size_t cap);
void wsg__format_seconds(uint64_t ms, char *buf, size_t cap);

/* settings_value.c: snprintf-style output into buf[cap] (buf may be NULL
 * with cap 0): writes what fits, counts all; _end NUL-terminates and
 * returns the length the whole text needs. */
struct wsg__out {
    char *buf;
    size_t cap, len;
};
void wsg__out_init(struct wsg__out *o, char *buf, size_t cap);
void wsg__out_put(struct wsg__out *o, const char *s);
void wsg__out_putn(struct wsg__out *o, const char *s, size_t n);
size_t wsg__out_end(struct wsg__out *o);
/* policy.c: frees the items and the array; leaves an empty list. */
void wsg__strlist_clear(const struct wsg_allocator *a,
                        struct wsg__strlist *l);

#endif
