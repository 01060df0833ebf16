/* wsg-bench load: option parsing and the masking-key source. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "load.h"

/* ---- CSPRNG for masking keys ---- */

int brng_fill(void *ud, uint8_t *out, size_t len)
{
    struct brng *r = ud;
    while (len) {
        if (r->pos == sizeof r->buf) {
            if (wsg_rng_fill(r->rng, r->buf, sizeof r->buf) != WSG_OK)
                return -1;
            r->pos = 0;
        }
        size_t k = sizeof r->buf - r->pos;
        if (k > len)
            k = len;
        memcpy(out, r->buf + r->pos, k);
        r->pos += k;
        out += k;
        len -= k;
    }
    return 0;
}

int brng_init(struct brng *r)
{
    r->pos = sizeof r->buf;
    return wsg_rng_new(NULL, "wsg-bench load", &r->rng);
}

void brng_free(struct brng *r)
{
    wsg_rng_free(r->rng);
    r->rng = NULL;
}

/* ---- options ---- */

static bool parse_url(const char *url, struct opts *o)
{
    if (strncmp(url, "wss://", 6) == 0) {
        fprintf(stderr, "load: wss:// is not supported by wsg-bench "
                        "(measure the TLS adapter separately)\n");
        return false;
    }
    if (strncmp(url, "ws://", 5) != 0) {
        fprintf(stderr, "load: URL must start with ws://\n");
        return false;
    }
    const char *p = url + 5, *hend, *path = strchr(p, '/');
    if (!path)
        path = p + strlen(p);
    const char *hs = p, *he;
    if (*p == '[') {
        hend = memchr(p, ']', (size_t)(path - p));
        if (!hend)
            return false;
        hs = p + 1;
        he = hend;
        p = hend + 1;
    } else {
        hend = memchr(p, ':', (size_t)(path - p));
        he = hend ? hend : path;
        p = he;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof o->host)
        return false;
    memcpy(o->host, hs, (size_t)(he - hs));
    o->host[he - hs] = 0;
    if (*p == ':') {
        p++;
        if (path - p <= 0 || path - p >= (long)sizeof o->port)
            return false;
        memcpy(o->port, p, (size_t)(path - p));
        o->port[path - p] = 0;
    } else {
        strcpy(o->port, "80");
    }
    snprintf(o->target, sizeof o->target, "%s", *path ? path : "/");
    bool v6 = strchr(o->host, ':') != NULL;
    if (strcmp(o->port, "80") == 0)
        snprintf(o->hosthdr, sizeof o->hosthdr, v6 ? "[%s]" : "%s", o->host);
    else
        snprintf(o->hosthdr, sizeof o->hosthdr, v6 ? "[%s]:%s" : "%s:%s",
                 o->host, o->port);
    return true;
}

bool load_parse_args(int argc, char **argv, struct opts *o)
{
    const char *url = "ws://127.0.0.1:9001/";
    o->connections = 100;
    o->depth = 16;
    o->size = 64;
    o->text = false;
    o->duration = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        char *end;
        if (strcmp(a, "--binary") == 0) {
            o->text = false;
        } else if (strcmp(a, "--text") == 0) {
            o->text = true;
        } else if (!v) {
            fprintf(stderr, "load: unknown or incomplete argument '%s'\n", a);
            return false;
        } else if (strcmp(a, "--url") == 0) {
            url = v, i++;
        } else if (strcmp(a, "--connections") == 0) {
            if (!bench_parse_size(v, &n) || n < 1 || n > MAX_CONNECTIONS) {
                fprintf(stderr, "load: --connections 1..%d\n", MAX_CONNECTIONS);
                return false;
            }
            o->connections = (unsigned)n, i++;
        } else if (strcmp(a, "--depth") == 0) {
            if (!bench_parse_size(v, &n) || n < 1 || n > MAX_DEPTH) {
                fprintf(stderr, "load: --depth 1..%d\n", MAX_DEPTH);
                return false;
            }
            o->depth = (unsigned)n, i++;
        } else if (strcmp(a, "--size") == 0) {
            if (!bench_parse_size(v, &n) || n > MAX_SIZE) {
                fprintf(stderr, "load: --size 0..%u\n", MAX_SIZE);
                return false;
            }
            o->size = n, i++;
        } else if (strcmp(a, "--duration") == 0) {
            o->duration = strtod(v, &end);
            if (*end || !(o->duration > 0 && o->duration <= 3600)) {
                fprintf(stderr, "load: --duration in (0, 3600] seconds\n");
                return false;
            }
            i++;
        } else {
            fprintf(stderr, "load: unknown argument '%s'\n", a);
            return false;
        }
    }
    if ((uint64_t)o->depth * (o->size + 14) > (1ull << 30)) {
        fprintf(stderr, "load: depth x size over 1 GiB per connection\n");
        return false;
    }
    if (!parse_url(url, o)) {
        fprintf(stderr, "load: bad URL '%s'\n", url);
        return false;
    }
    return true;
}
