/* Helpers for the guard tests: a default policy filled field by field
 * (until wsg_policy_new lands), an audit recorder that renders every event
 * with wsg_audit_json, upgrade requests parsed by wsg_hs_server. */
#ifndef WSG_TEST_GUARD_UTIL_H
#define WSG_TEST_GUARD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/guard.h>

#include "policy/policy_internal.h"

/* The defaults of the field comments of policy_internal.h: every opt-in
 * control off. */
void test_policy_default(struct wsg_policy *p);

/* Audit recorder: p->audit = rec_audit, p->audit_ud = &rec. */
#define REC_MAX 64
struct rec {
    size_t n;
    char event[REC_MAX][16];
    int control[REC_MAX];
    int status[REC_MAX];
    uint16_t code[REC_MAX];
    char reason[REC_MAX][64];
    char client[REC_MAX][64];
    char json[REC_MAX * 1024];   /* every rendered line, concatenated */
    size_t json_len;
};
void rec_audit(void *ud, const struct wsg_audit_event *ev);
void rec_attach(struct wsg_policy *p, struct rec *r);
/* True if `s` appears in any rendered line. */
bool rec_has(const struct rec *r, const char *s);

/* A peer "ip:port". */
struct wsg_guard_peer peer_make(const char *ip, bool tls, uint64_t unix_s);

/* Parses an upgrade for `target` with Host `host` and extra header lines
 * `extra` ("Name: v\r\n"...), runs wsg_guard_upgrade and frees the
 * request. Returns v->status (-1 if the request did not parse). */
int upgrade(struct wsg_guard *g, const char *host, const char *target,
            const char *extra, const struct wsg_guard_peer *peer,
            uint64_t now_ms, struct wsg_guard_verdict *v,
            struct wsg_guard_conn **out);
/* Same with Host server.example.com, target /chat, a fresh guard for `p`;
 * the connection (if any) is freed. */
int upgrade_once(const struct wsg_policy *p, const char *target,
                 const char *extra, const struct wsg_guard_peer *peer,
                 struct wsg_guard_verdict *v);

/* The value of verdict header `name` as a NUL-terminated copy in `buf`,
 * or NULL. */
const char *verdict_header(const struct wsg_guard_verdict *v,
                           const char *name, char *buf, size_t cap);

/* Message events. */
struct wsg_event ev_msg(enum wsg_opcode op, const char *data);
struct wsg_event ev_frag(enum wsg_opcode op, const char *data, bool first,
                         bool fin);
struct wsg_event ev_ctl(enum wsg_event_type t);

/* A guard plus one accepted connection for `p` at time `now_ms`. */
struct wsg_guard_conn *conn_open(const struct wsg_policy *p,
                                 struct wsg_guard **g, uint64_t now_ms);
void conn_close(struct wsg_guard *g, struct wsg_guard_conn *gc,
                uint64_t now_ms);

#endif
