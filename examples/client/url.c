/* ws://host[:port]/path?query (RFC 6455 section 3). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"

const char *wsg_url_error(int rc)
{
    switch (rc) {
    case WSG_URL_OK: return "ok";
    case WSG_URL_SCHEME: return "the scheme must be ws://";
    case WSG_URL_TLS: return "TLS not supported yet";
    case WSG_URL_HOST: return "missing or invalid host";
    case WSG_URL_PORT: return "invalid port (1-65535)";
    case WSG_URL_TOO_LONG: return "too long";
    case WSG_URL_FRAGMENT: return "a fragment (#) is not allowed";
    default: return "spaces or control characters";
    }
}

int wsg_url_parse(const char *s, struct wsg_url *u)
{
    const char *p, *host, *host_end, *port = NULL, *port_end = NULL;
    size_t hl;
    bool v6 = false;

    memset(u, 0, sizeof *u);
    for (p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return WSG_URL_CHARS;
    if (strncasecmp(s, "wss://", 6) == 0)
        return WSG_URL_TLS;
    if (strncasecmp(s, "ws://", 5) != 0)
        return WSG_URL_SCHEME;
    if (strchr(s, '#'))
        return WSG_URL_FRAGMENT;
    host = s + 5;
    if (*host == '[') {
        v6 = true;
        host++;
        host_end = strchr(host, ']');
        if (!host_end)
            return WSG_URL_HOST;
        p = host_end + 1;
    } else {
        host_end = host + strcspn(host, ":/?");
        p = host_end;
    }
    hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof u->host || memchr(host, '@', hl))
        return WSG_URL_HOST;
    if (*p == ':') {
        port = p + 1;
        port_end = port + strcspn(port, "/?");
        p = port_end;
    } else if (*p && *p != '/' && *p != '?') {
        return WSG_URL_HOST;
    }
    memcpy(u->host, host, hl);
    if (port) {
        size_t pl = (size_t)(port_end - port);
        char *end;
        long v;
        if (pl == 0 || pl > 5 || strspn(port, "0123456789") < pl)
            return WSG_URL_PORT;
        memcpy(u->port, port, pl);
        v = strtol(u->port, &end, 10);
        if (v < 1 || v > 65535)
            return WSG_URL_PORT;
        snprintf(u->port, sizeof u->port, "%ld", v);
    } else {
        snprintf(u->port, sizeof u->port, "80");
    }
    if (strlen(p) + 2 > sizeof u->target)
        return WSG_URL_TOO_LONG;
    snprintf(u->target, sizeof u->target, "%s%s", *p == '/' ? "" : "/", p);
    snprintf(u->host_header, sizeof u->host_header, "%s%s%s%s%s",
             v6 ? "[" : "", u->host, v6 ? "]" : "",
             strcmp(u->port, "80") ? ":" : "",
             strcmp(u->port, "80") ? u->port : "");
    return WSG_URL_OK;
}
