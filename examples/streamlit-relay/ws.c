/* wsg-relay: WebSocket upgrades (stub until the bridge lands): nothing is
 * taken, so front.c answers 503 "WebSocket bridge unavailable". */
#include "relay_int.h"

int relay_ws_init(struct relay *r)
{
    (void)r;
    return 0;
}

void relay_ws_free(struct relay *r)
{
    (void)r;
}

int relay_ws_adopt(struct relay *r, int fd, const uint8_t *data, size_t len)
{
    (void)r;
    (void)fd;
    (void)data;
    (void)len;
    return -1;
}
