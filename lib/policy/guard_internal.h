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
