/* ws:// URL parsing for wsg-client (RFC 6455 section 3). */
#ifndef WSG_CLIENT_URL_H
#define WSG_CLIENT_URL_H

enum {
    WSG_URL_OK = 0,
    WSG_URL_SCHEME = -1,   /* not ws:// or wss:// */
    WSG_URL_TLS = -2,      /* wss:// (not supported yet) */
    WSG_URL_HOST = -3,     /* missing or invalid host */
    WSG_URL_PORT = -4,     /* invalid port */
    WSG_URL_TOO_LONG = -5,
    WSG_URL_FRAGMENT = -6, /* '#' is not allowed (section 3) */
    WSG_URL_CHARS = -7     /* spaces or control characters */
};

struct wsg_url {
    char host[256];        /* for getaddrinfo: no brackets */
    char port[8];
    char host_header[272]; /* Host: value, [v6] and :port when not 80 */
    char target[4096];     /* path?query, at least "/" */
};

int wsg_url_parse(const char *s, struct wsg_url *u);
const char *wsg_url_error(int rc);

#endif
