/* wsg-relay's WebSocket side: a non-listening wsg_server that adopts the
 * upgrade requests front.c hands over, the guard before anything else, an
 * upstream WebSocket of the relay's own, then messages relayed piece by
 * piece between the two validated legs (issue 4). */
#ifndef WSG_RELAY_BRIDGE_H
#define WSG_RELAY_BRIDGE_H

#include <stdint.h>

#include <wsguard/guard.h>
#include <wsguard/io.h>
#include <wsguard/policy.h>
#include <wsguard/wsguard.h>

#include "relay.h"

/* Figures for /_wsguard/metrics (one worker's). "down" is the browser leg,
 * "up" the Streamlit leg; "to_up" counts what went browser -> Streamlit. */
struct relay_bridge_stats {
    uint64_t adopted;             /* upgrade requests taken over */
    uint64_t opened;              /* bridges with both legs open */
    uint64_t open_now;            /* bridges alive now (any phase) */
    uint64_t upstream_failed;     /* upstream refused/unreachable: 502/504 */
    uint64_t messages_to_up, messages_to_down;
    uint64_t bytes_to_up, bytes_to_down;
    uint64_t closes_by_code[5];   /* 1000, 1001, 1008-1009 (policy),
                                     1011-1012 (upstream), other */
};

struct relay_bridge;

#define RELAY_BRIDGE_PAUSE_AT (1u << 20)        /* pending bytes on a leg */
#define RELAY_BRIDGE_LEG_MAX_OUTPUT (8u << 20)  /* PAUSE_AT + one read */
#define RELAY_BRIDGE_MAX_PROTOCOLS 16

/* The upstream request (bridge_req.c): NUL-terminated copies of the
 * browser's values, in one allocation (free `strings`). */
struct relay_bridge_req {
    char *strings;
    const char *path;                /* the browser's path, for events */
    const char *protocols[RELAY_BRIDGE_MAX_PROTOCOLS];
    size_t protocol_count;
    struct wsg_header headers[8];
    size_t header_count;
    char user[400];                  /* X-Streamlit-User value */
};

/* Opens the relay's own WebSocket to Streamlit for the browser's request
 * `rq` (subject: the guard's authenticated subject, "" or NULL for none),
 * with callbacks `cb` (ud replaced by `ud`), streamed delivery and the
 * Streamlit -> browser limit. `req` (zeroed) holds the copies the request
 * points into; it must live as long as the session. Returns WSG_OK (then
 * on_close will come) or an error (no session). */
int relay_bridge_connect(struct wsg_loop *loop, const struct relay_config *cfg,
                         const struct wsg_hs_request *rq, const char *subject,
                         const struct wsg_session_callbacks *cb, void *ud,
                         struct relay_bridge_req *req, struct wsg_session **out);

/* Audit sink for the bridge's own events (the guard emits the policy's
 * through the policy's callback). */
typedef void relay_audit_fn(void *ud, const struct wsg_audit_event *ev);

/* `cfg`, `guard` must outlive it. */
int relay_bridge_new(struct wsg_loop *loop, const struct relay_config *cfg,
                 struct wsg_guard *guard, relay_audit_fn *audit,
                 void *audit_ud, struct relay_bridge **out);
void relay_bridge_free(struct relay_bridge *w);

/* relay_ws_adopt's work (see relay.h). */
int relay_bridge_take(struct relay_bridge *w, int fd, const uint8_t *data,
                  size_t len);

/* SIGTERM: 1001 to every browser, upstream legs closed with 1001 too;
 * on_done(ud) once every bridge is gone or after timeout_ms. */
void relay_bridge_shutdown(struct relay_bridge *w, uint32_t timeout_ms,
                       void (*on_done)(void *ud), void *ud);

const struct relay_bridge_stats *relay_bridge_get_stats(const struct relay_bridge *w);

#endif
