/* H11 audit events as JSON lines (RFC 8259). snprintf contract: the
 * return value is the full length; at most `cap` bytes are written, the
 * last one a NUL when cap > 0. No allocation, no clock, no global. */
#include <string.h>

#include <wsguard/policy.h>

#define STR_MAX 256u                            /* input bytes per string */
#define TS_MAX_MS UINT64_C(253402300799999)     /* 9999-12-31T23:59:59.999Z */

struct out {
    char *buf;
    size_t cap;
    size_t len;     /* bytes needed so far */
};

static void put(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->cap > 0 && o->len < o->cap - 1)
            o->buf[o->len] = s[i];
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void put_u64(struct out *o, uint64_t v)
{
    char d[20];
    size_t n = 0;

    do {
        d[sizeof(d) - 1 - n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    put(o, d + sizeof(d) - n, n);
}

static void put_pad(struct out *o, unsigned v, size_t width)
{
    char d[4];

    for (size_t i = width; i > 0; i--) {
        d[i - 1] = (char)('0' + v % 10u);
        v /= 10u;
    }
    put(o, d, width);
}

/* RFC 3339 §5.6 in UTC with milliseconds. Days to civil date after
 * H. Hinnant's days_from_civil inverse (proleptic Gregorian, eras of 400
 * years). Instants past year 9999 are clamped to its last millisecond. */
static void put_ts(struct out *o, uint64_t ms)
{
    if (ms > TS_MAX_MS)
        ms = TS_MAX_MS;
    uint64_t secs = ms / 1000u, days = secs / 86400u;
    unsigned sod = (unsigned)(secs % 86400u);
    uint64_t z = days + 719468u;                  /* days since 0000-03-01 */
    uint64_t era = z / 146097u;
    unsigned doe = (unsigned)(z - era * 146097u); /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
    unsigned doy = doe - (365u * yoe + yoe / 4u - yoe / 100u);
    unsigned mp = (5u * doy + 2u) / 153u;         /* March = 0 */
    unsigned day = doy - (153u * mp + 2u) / 5u + 1u;
    unsigned mon = mp < 10u ? mp + 3u : mp - 9u;
    unsigned year = (unsigned)(era * 400u) + yoe + (mon <= 2u);

    put(o, "\"ts\":\"", 6);
    put_pad(o, year, 4);
    put(o, "-", 1);
    put_pad(o, mon, 2);
    put(o, "-", 1);
    put_pad(o, day, 2);
    put(o, "T", 1);
    put_pad(o, sod / 3600u, 2);
    put(o, ":", 1);
    put_pad(o, sod / 60u % 60u, 2);
    put(o, ":", 1);
    put_pad(o, sod % 60u, 2);
    put(o, ".", 1);
    put_pad(o, (unsigned)(ms % 1000u), 3);
    put(o, "Z\"", 2);
}

/* Length of the UTF-8 unit at `p` (RFC 3629 §4): a valid sequence
 * (*ok = true), or its maximal subpart (Unicode ch. 3, U+FFFD
 * substitution), at least 1 byte. Stops at a NUL: never a continuation. */
static size_t utf8_unit(const uint8_t *p, bool *ok)
{
    uint8_t b = p[0], lo = 0x80, hi = 0xBF;
    size_t need;

    *ok = false;
    if (b < 0x80) {
        *ok = true;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF)
        need = 1;
    else if (b >= 0xE0 && b <= 0xEF)
        need = 2;
    else if (b >= 0xF0 && b <= 0xF4)
        need = 3;
    else
        return 1;
    if (b == 0xE0)
        lo = 0xA0;
    else if (b == 0xED)
        hi = 0x9F;
    else if (b == 0xF0)
        lo = 0x90;
    else if (b == 0xF4)
        hi = 0x8F;
    for (size_t i = 1; i <= need; i++) {
        if (p[i] < lo || p[i] > hi)
            return i;
        lo = 0x80;
        hi = 0xBF;
    }
    *ok = true;
    return need + 1;
}

/* A JSON string (RFC 8259 §7) from at most STR_MAX input bytes of `s`,
 * cut at a unit boundary. */
static void put_str(struct out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;

    put(o, "\"", 1);
    while (p[i] != 0) {
        bool ok;
        size_t n = utf8_unit(p + i, &ok);
        uint8_t c = p[i];

        if (i + n > STR_MAX)
            break;
        if (!ok) {
            put(o, "\\ufffd", 6);
        } else if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else if (c < 0x20 || c == 0x7F) {
            const char *e = c == '\n' ? "\\n" : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t" : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f" : NULL;
            if (e != NULL) {
                put(o, e, 2);
            } else {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                put(o, u, 6);
            }
        } else {
            put(o, (const char *)p + i, n);
        }
        i += n;
    }
    put(o, "\"", 1);
}

static void field_str(struct out *o, const char *name, const char *v)
{
    if (v == NULL)
        return;
    put(o, ",\"", 2);
    puts_(o, name);
    put(o, "\":", 2);
    put_str(o, v);
}

static void field_u64(struct out *o, const char *name, uint64_t v)
{
    if (v == 0)
        return;
    put(o, ",\"", 2);
    puts_(o, name);
    put(o, "\":", 2);
    put_u64(o, v);
}

size_t wsg_audit_json(const struct wsg_audit_event *ev, char *out,
                      size_t cap)
{
    struct out o = {out, out != NULL ? cap : 0, 0};

    if (ev == NULL) {
        if (o.cap > 0)
            out[0] = '\0';
        return 0;
    }
    put(&o, "{", 1);
    put_ts(&o, ev->time_ms);
    put(&o, ",\"event\":", 9);
    put_str(&o, ev->event != NULL ? ev->event : "unknown");
    if (ev->control != 0)
        field_str(&o, "control", wsg_control_id(ev->control));
    field_str(&o, "client", ev->client);
    field_str(&o, "subject", ev->subject);
    field_str(&o, "peer", ev->peer);
    field_str(&o, "path", ev->path);
    if (ev->status != 0) {
        put(&o, ",\"status\":", 10);
        if (ev->status < 0)
            put(&o, "-", 1);
        put_u64(&o, ev->status < 0 ? 0u - (uint64_t)(int64_t)ev->status
                                   : (uint64_t)ev->status);
    }
    field_u64(&o, "close_code", ev->close_code);
    field_str(&o, "reason", ev->reason);
    field_str(&o, "subprotocol", ev->subprotocol);
    field_u64(&o, "duration_ms", ev->duration_ms);
    field_u64(&o, "bytes_in", ev->bytes_in);
    field_u64(&o, "bytes_out", ev->bytes_out);
    field_u64(&o, "messages_in", ev->messages_in);
    field_u64(&o, "messages_out", ev->messages_out);
    field_u64(&o, "messages_dropped", ev->messages_dropped);
    field_str(&o, "detail", ev->detail);
    put(&o, "}\n", 2);
    if (o.cap > 0)
        out[o.len < o.cap ? o.len : o.cap - 1] = '\0';
    return o.len;
}
