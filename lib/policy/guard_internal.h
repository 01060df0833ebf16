/* The guard's state (internal), shared by guard.c (the guard, the upgrade
 * decision) and guard_conn.c (per-connection checks). */
#ifndef WSG_GUARD_INTERNAL_H
#define WSG_GUARD_INTERNAL_H

#include "policy_internal.h"

struct wsg_guard {
    const struct wsg_policy *p;
    struct wsg_allocator alloc;
    struct wsg_addr_table *table;  /* NULL: no per-address limit */
    uint32_t conns;                /* connections holding a guard conn */
    struct wsg_guard_stats stats;
};

struct wsg_guard_conn {
    struct wsg_guard *g;
    struct wsg_addr client;
    bool slot;                     /* holds a per-address table slot */
    char client_text[WSG_ADDR_STRLEN];
    char subject[129];             /* authenticated subject, or "" */
    char peer[64];
    char path[256];
    const char *subprotocol;       /* selected; points into the policy */
    uint64_t unix_ms;              /* wall clock at opened_ms */
    uint64_t opened_ms, last_in_ms, last_out_ms;
    struct wsg_bucket msgs, bytes, control;
    bool authed;                   /* post-connect auth done (or off) */
    uint64_t auth_deadline_ms;
    uint8_t auth_buf[WSG_TOKEN_MAX];
    size_t auth_len;
    bool auth_overflow;
    bool drop_msg;                 /* dropping the rest of it */
    bool closed;                   /* a CLOSE was decided */
    int close_control;
    const char *close_reason;
    uint64_t dropped;
};

/* What goes into every audit event of an upgrade or request. */
struct wsg__upgrade_ctx {
    char path[256];
    char proto[64];   /* the first offered subprotocol only (H11) */
};

/* Copies s[0..n) as a C string, truncated to cap - 1 bytes. */
void wsg__copy_span(char *dst, size_t cap, const char *s, size_t n);

/* H1: TLS here, or X-Forwarded-Proto https / X-ARR-SSL from a trusted
 * front end. */
bool wsg__guard_is_https(const struct wsg_policy *p,
                         const struct wsg_hs_request *req,
                         const struct wsg_guard_peer *peer);

/* H2: the Host allowlist (true when there is none). */
bool wsg__guard_host_ok(const struct wsg_policy *p,
                        const struct wsg_hs_request *req);

/* H10: the security headers into v->headers (HSTS value in v->scratch). */
void wsg__guard_security_headers(const struct wsg_policy *p,
                                 struct wsg_guard_verdict *v);

/* Sets the refusal into v, counts it and emits its "refuse" event. */
void wsg__guard_refuse(struct wsg_guard *g, const struct wsg_guard_peer *peer,
                       const struct wsg__upgrade_ctx *cx,
                       struct wsg_guard_verdict *v, int status, int control,
                       const char *reason);

/* a + b, or UINT64_MAX. */
uint64_t wsg__sat_add(uint64_t a, uint64_t b);

/* Emits a "violation" event and fills a CLOSE action. */
void wsg__guard_violation(struct wsg_guard_conn *gc, uint64_t now_ms,
                          int control, uint16_t code, const char *reason,
                          struct wsg_guard_action *act);

/* True if `tok` is a valid static or HMAC token of the policy; copies an
 * HMAC token's subject into `subject` (129 bytes) when not NULL. */
bool wsg__guard_token_ok(const struct wsg_policy *p, const char *tok,
                         size_t len, uint64_t unix_s, char *subject);

#endif
