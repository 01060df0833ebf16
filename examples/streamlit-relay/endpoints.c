/* wsg-relay: the relay's own endpoints under own_prefix (stub until
 * /_wsguard/health and /_wsguard/metrics land): none, front.c answers 404. */
#include "relay_int.h"

int relay_endpoint(struct relay *r, struct relay_conn *c,
                   const struct relay_request *req)
{
    (void)r;
    (void)c;
    (void)req;
    return -1;
}

void relay_endpoint_cancel(struct relay *r, struct relay_conn *c)
{
    (void)r;
    (void)c;
}
