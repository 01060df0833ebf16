/* wsg-relay: the WebSocket side's entry points for front.c and main.c;
 * the work is bridge.c's. */
#include <stdio.h>

#include "bridge.h"
#include "relay_int.h"

/* The bridge's own audit events (upstream refusals) go where the
 * policy's go: main.c's audit sink, set on the policy. */
static void audit_sink(void *ud, const struct wsg_audit_event *ev)
{
    struct relay *r = ud;

    if (r->audit != NULL)
        r->audit(r->audit_ud, ev);
}

int relay_ws_init(struct relay *r)
{
    struct relay_bridge *b = NULL;

    if (r->guard == NULL) {
        fputs("wsg-relay: the WebSocket side needs a policy\n", stderr);
        return -1;
    }
    if (relay_bridge_new(r->loop, r->cfg, r->guard, audit_sink, r, &b) !=
        WSG_OK) {
        fputs("wsg-relay: cannot set up the WebSocket side\n", stderr);
        return -1;
    }
    r->ws = b;
    return 0;
}

void relay_ws_free(struct relay *r)
{
    relay_bridge_free(r->ws);
    r->ws = NULL;
}

int relay_ws_adopt(struct relay *r, int fd, const uint8_t *data, size_t len)
{
    if (r->ws == NULL)
        return -1;
    return relay_bridge_take(r->ws, fd, data, len);
}
