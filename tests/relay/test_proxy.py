#!/usr/bin/python3
"""wsg-relay's plain-HTTP side with real processes: wsg-relay in front of the
Streamlit double. Every route as direct (index, static, health, host-config,
message cache, media with Range, HEAD, 304, gzip untouched), 50 MB streamed
both ways in bounded relay memory, uploads with and without XSRF and over
--max-upload, chunked bodies both ways, keep-alive on both sides with a
bounded number of upstream connections, header rules (Server removed,
security headers added, client-sent forwarding/identity headers never reach
the upstream, X-Forwarded-* set by the relay, trusted proxies), path tricks
refused before the upstream, upstream down (502) and silent (504)."""
import asyncio
import gzip
import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relaytest as rt  # noqa: E402
from relaytest import cmd, http, payload  # noqa: E402

C = rt.Checks("relay-proxy (wsg-relay's HTTP side in front of the double)")
MB = 1000 * 1000
SEC_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
               "Content-Security-Policy", "Permissions-Policy")
CSP_DEFAULT = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; "
               "font-src 'self' data:; connect-src 'self' ws: wss:; "
               "media-src 'self' blob: data:; worker-src 'self' blob:; frame-ancestors 'self'")


def csp_set(v):
    """A CSP as {directive: set of sources}: order does not matter."""
    out = {}
    for d in (v or "").split(";"):
        parts = d.split()
        if parts:
            out[parts[0].lower()] = frozenset(parts[1:])
    return out


def hardened(r):
    """No Server header, every security header (H10)."""
    return r.h("Server") is None and all(r.h(h) for h in SEC_HEADERS)


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def upstream_conns(port):
    """ESTABLISHED TCP connections to 127.0.0.1:port (from /proc/net/tcp)."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            rem, st = parts[2], parts[3]
            if st == "01" and rem.endswith(":%04X" % port) and rem.startswith("0100007F"):
                n += 1
    return n


def events(rl, pred, count=1, timeout=2.0):
    """The relay's audit events matching pred, waiting (bounded) for count."""
    deadline = time.monotonic() + timeout
    while True:
        evs = [e for e in rl.events() if pred(e)]
        if len(evs) >= count or time.monotonic() > deadline:
            return evs
        time.sleep(0.05)


def seen(d, pred):
    return [x for x in d.records("http") if pred(x)]


def hdrs(rec):
    return {k.lower(): v for k, v in rec.get("headers", [])}


# -- routes ------------------------------------------------------------------------

def routes(d, rl):
    a, b = d.addr(), rl.addr()
    direct = http(a, "GET", "/")
    r = http(b, "GET", "/")
    C.check("index: 200, same page as direct", r.status == 200 and r.body == direct.body
            and r.h("Content-Type") == direct.h("Content-Type"), repr(r))
    C.check("index: Server header removed, security headers added", hardened(r), str(r.headers))
    C.check("index: CSP is the Streamlit-compatible default (same directives and sources)",
            csp_set(r.h("Content-Security-Policy")) == csp_set(CSP_DEFAULT),
            str(r.h("Content-Security-Policy")))
    C.check("index: Set-Cookie (XSRF) passed", rt.cookie_value(r) is not None, str(r.all("Set-Cookie")))
    etag = r.h("Etag")
    r2 = http(b, "GET", "/", [("If-None-Match", etag or "none")])
    C.check("index: If-None-Match -> 304, no body, hardened", etag and r2.status == 304
            and r2.body == b"" and hardened(r2), repr(r2))

    js = rt.static_main_js()
    dz = http(a, "GET", "/static/js/main.js", [("Accept-Encoding", "gzip")])
    rz = http(b, "GET", "/static/js/main.js", [("Accept-Encoding", "gzip")])
    try:
        unz = gzip.decompress(rz.body)
    except (OSError, EOFError):
        unz = None
    # Tornado writes the gzip header's mtime (bytes 4-7) per response.
    same = rz.body[:4] + rz.body[8:] == dz.body[:4] + dz.body[8:]
    C.check("static: gzip passed untouched (same bytes as direct but mtime), chunked",
            rz.status == 200 and rz.h("Content-Encoding") == "gzip" and same and unz == js
            and rz.chunked, "%r / %r" % (rz, dz))
    r = http(b, "GET", "/static/js/main.js")
    C.check("static: identity without Accept-Encoding", r.status == 200 and r.body == js
            and r.h("Content-Encoding") is None, repr(r))

    r = http(b, "GET", "/_stcore/health")
    C.check("health: 200 ok, XSRF cookie, hardened", r.status == 200 and r.body == b"ok"
            and rt.cookie_value(r) and hardened(r), repr(r))
    r = http(b, "GET", "/_stcore/host-config")
    C.check("host-config: 200 JSON as direct", r.status == 200 and r.body ==
            http(a, "GET", "/_stcore/host-config").body and b"allowedOrigins" in r.body, repr(r))
    r = http(b, "GET", "/x/?a=1")
    C.check("redirect /x/ -> 301 /x?a=1 passed", r.status == 301 and r.h("Location") == "/x?a=1", repr(r))

    async def fill_cache():
        async with rt.ws_connect(d.ws_url) as ws:
            await ws.send(cmd({"send": [{"size": 3000}]}))
            return await asyncio.wait_for(ws.recv(), 5)
    msg = rt.run(fill_cache(), 15)
    h = hashlib.md5(msg).hexdigest()
    r = http(b, "GET", "/_stcore/message?hash=" + h)
    C.check("message cache: the cached message, exact bytes", r.status == 200 and r.body == msg, repr(r))
    r = http(b, "GET", "/_stcore/message?hash=" + "0" * 32)
    C.check("message cache: unknown hash -> 404 (upstream's)", r.status == 404 and hardened(r), repr(r))

    want = rt.media_content("bytes-100000.bin")
    r = http(b, "GET", "/media/bytes-100000.bin", [("Range", "bytes=100-199")])
    C.check("media: Range -> 206, Content-Range, exact bytes", r.status == 206
            and r.h("Content-Range") == "bytes 100-199/100000" and r.body == want[100:200], repr(r))
    r = http(b, "GET", "/media/bytes-100000.bin", [("Range", "bytes=-10")])
    C.check("media: suffix Range -> last 10 bytes", r.status == 206 and r.body == want[-10:], repr(r))
    r = http(b, "GET", "/media/bytes-100000.bin", [("Range", "bytes=200000-")])
    C.check("media: unsatisfiable -> 416 passed", r.status == 416, repr(r))
    c = rt.HttpConn(b)
    rh = c.request("HEAD", "/media/bytes-100000.bin")
    rg = c.request("GET", "/media/bytes-100.bin")
    c.close()
    C.check("HEAD: Content-Length kept, no body, connection reused for a GET",
            rh.status == 200 and rh.h("Content-Length") == "100000" and rh.body == b""
            and rg.status == 200 and rg.body == rt.media_content("bytes-100.bin"), "%r %r" % (rh, rg))
    r = http(b, "GET", "/_stcore/stream")
    C.check("GET _stcore/stream without Upgrade -> upstream's 400", r.status == 400, repr(r))


# -- headers --------------------------------------------------------------------------

def header_rules(d, rl):
    b = rl.addr()
    c = rt.HttpConn(b)
    forged = [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Proto", "https"),
              ("X-Forwarded-Host", "evil.example"), ("Forwarded", "for=6.6.6.6"),
              ("X-Real-IP", "6.6.6.6"), ("X-Client-IP", "6.6.6.6"),
              ("X-Streamlit-User", "eyJlbWFpbCI6ImFAYi5jIn0="),
              ("Connection", "keep-alive, X-Hop"), ("X-Hop", "secret"),
              ("Keep-Alive", "timeout=5"), ("Cookie", "ARRAffinity=abc; _streamlit_xsrf=2|x"),
              ("X-Xsrftoken", "2|x"), ("Authorization", "Bearer tok"), ("X-Mark", "hdr-1")]
    r = c.request("GET", "/_stcore/host-config", forged)
    c.close()
    rec = d.wait_record(lambda x: ["X-Mark", "hdr-1"] in x.get("headers", []), kind="http")
    hs = hdrs(rec or {})
    C.check("headers: the request reached the upstream", r.status == 200 and rec, repr(r))
    C.check("headers: X-Forwarded-For is the socket peer, not the client's",
            hs.get("x-forwarded-for") == "127.0.0.1", str(hs))
    C.check("headers: X-Forwarded-Proto http (untrusted peer's https ignored)",
            hs.get("x-forwarded-proto") == "http", str(hs))
    C.check("headers: X-Forwarded-Host is the Host", hs.get("x-forwarded-host") == c.host
            and hs.get("host") == c.host, str(hs))
    C.check("headers: Forwarded, X-Real-IP, X-Client-IP, X-Streamlit-User removed",
            not any(k in hs for k in ("forwarded", "x-real-ip", "x-client-ip", "x-streamlit-user")), str(hs))
    C.check("headers: hop-by-hop and Connection-named (X-Hop) removed",
            not any(k in hs for k in ("x-hop", "keep-alive", "connection")), str(hs))
    C.check("headers: Cookie, X-Xsrftoken, Authorization passed unchanged",
            hs.get("cookie") == "ARRAffinity=abc; _streamlit_xsrf=2|x" and hs.get("x-xsrftoken") == "2|x"
            and hs.get("authorization") == "Bearer tok", str(hs))
    n_xff = sum(1 for k, _ in (rec or {}).get("headers", []) if k.lower() == "x-forwarded-for")
    C.check("headers: exactly one X-Forwarded-For", n_xff == 1, str(n_xff))


def trusted_proxy(d):
    rl = rt.Relay(d, "--trusted-proxy", "127.0.0.1/32")
    try:
        r = http(rl.addr(), "GET", "/_stcore/host-config",
                 [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https"), ("X-Mark", "tp-1")])
        rec = d.wait_record(lambda x: ["X-Mark", "tp-1"] in x.get("headers", []), kind="http")
        hs = hdrs(rec or {})
        C.check("trusted proxy: client address from X-Forwarded-For, scheme https",
                r.status == 200 and hs.get("x-forwarded-for") == "203.0.113.9"
                and hs.get("x-forwarded-proto") == "https", str(hs))
        r = http(rl.addr(), "GET", "/_stcore/host-config", [("X-ARR-SSL", "2048|256"), ("X-Mark", "tp-2")])
        rec = d.wait_record(lambda x: ["X-Mark", "tp-2"] in x.get("headers", []), kind="http")
        hs = hdrs(rec or {})
        C.check("trusted proxy: X-ARR-SSL -> https; X-ARR-SSL itself not forwarded",
                hs.get("x-forwarded-proto") == "https" and "x-arr-ssl" not in hs, str(hs))
    finally:
        rl.stop()


def https_only(d):
    rl = rt.Relay(d, "--require-https", "--https-redirect", "--trusted-proxy", "127.0.0.1/32")
    try:
        b = rl.addr()
        before = len(d.records("http"))
        c = rt.HttpConn(b)
        r = c.request("GET", "/media/bytes-10.bin?x=1")
        C.check("H1: plain-HTTP GET -> 301 to https://Host/target, hardened", r.status == 301
                and r.h("Location") == "https://%s/media/bytes-10.bin?x=1" % c.host and hardened(r), repr(r))
        r = c.request("POST", "/_stcore/upload_file/a/b", body=b"z")
        C.check("H1: plain-HTTP POST -> 403", r.status == 403, repr(r))
        evs = events(rl, lambda e: e.get("event") == "refuse" and e.get("control") == "H1", 2)
        C.check("H1: audit events for the redirect (301) and the refusal (403)",
                sorted(e.get("status") for e in evs) == [301, 403], str(evs))
        c.close()
        time.sleep(0.2)
        C.check("H1: neither reached the upstream", len(d.records("http")) == before)
        r = http(b, "GET", "/media/bytes-10.bin", [("X-Forwarded-Proto", "https")])
        C.check("H1: over HTTPS at a trusted front end -> proxied", r.status == 200
                and r.body == rt.media_content("bytes-10.bin"), repr(r))
        r = http(b, "GET", "/_wsguard/health")
        C.check("H1: the relay's own endpoints are exempt (App Service probes over HTTP)",
                r.status not in (301, 403), repr(r))
    finally:
        rl.stop()


# -- paths (T15) -----------------------------------------------------------------------

def paths(d, rl):
    b = rl.addr()
    tricks = ["/a/../b", "/static/../../etc/passwd", "/%2e%2e/x", "/a/%2E%2e/b", "/.%2e/x",
              "/a%2fb", "/media%2F..%2Fx", "/a\\b", "/a%5cb", "/%00", "//evil.example/",
              "/a/./b", "http://evil.example/"]
    before = len(d.records("http"))
    for t in tricks:
        c = rt.HttpConn(b)
        r = c.request("GET", t)
        c.close()
        C.check("path %r -> 400, hardened" % t, r.status == 400 and hardened(r), repr(r))
    time.sleep(0.3)
    reached = [x["target"] for x in d.records("http")[before:]]
    C.check("path tricks never reached the upstream", reached == [], str(reached))
    evs = events(rl, lambda e: e.get("event") == "refuse" and e.get("control") == "H13"
                 and e.get("status") == 400, len(tricks))
    C.check("path tricks: one 'refuse' audit event each (H13, client address, path)",
            len(evs) >= len(tricks) and all(e.get("client") == "127.0.0.1" for e in evs)
            and any(e.get("path") == "/a/../b" for e in evs), str(evs[:2]))
    r = http(b, "GET", "/a/b/../c?x=../..%2f")
    C.check("dot segment before the query refused too", r.status == 400, repr(r))
    r = http(b, "GET", "/media/bytes-10.bin?x=../..%2f")
    C.check("query is not inspected (..%2f in the query passes)", r.status == 200, repr(r))
    d.wait_record(lambda x: x.get("target") == "/media/bytes-10.bin?x=../..%2f", kind="http")


def smuggling(d, rl):
    """Ambiguous framing and malformed heads: 400, connection closed, and
    nothing reaches the upstream."""
    b = rl.addr()
    cases = [
        ("CL and TE", b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("two Content-Lengths", b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                                b"Content-Length: 2\r\n\r\nab"),
        ("TE gzip, chunked", b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
        ("TE twice", b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("bare LF", b"GET /a HTTP/1.1\nHost: x\n\n"),
        ("obs-fold", b"GET /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n"),
        ("space before colon", b"GET /a HTTP/1.1\r\nHost : x\r\n\r\n"),
        ("no Host", b"GET /a HTTP/1.1\r\nX: y\r\n\r\n"),
        ("two Hosts", b"GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
        ("HTTP/2.0 line", b"GET /a HTTP/2.0\r\nHost: x\r\n\r\n"),
    ]
    before = len(d.records("http"))
    for name, raw in cases:
        c = rt.HttpConn(b)
        c.send(raw)
        r = c.read_response()
        C.check("framing: %s -> 400, then closed" % name, r.status == 400 and c.closed_by_peer(3), repr(r))
        c.close()
    c = rt.HttpConn(b)
    c.send(b"PUT /_stcore/upload_file/s/z HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\nzz\r\n")
    r = c.read_response()
    C.check("framing: bad chunk size mid-body -> 400, then closed", r.status == 400
            and c.closed_by_peer(3), repr(r))
    c.close()
    r = http(b, "GET", "/a", [("X-Pad-%d" % i, "a" * 1000) for i in range(40)])
    C.check("framing: a 40 kB head -> 431", r.status == 431, repr(r))
    r = http(b, "GET", "/" + "a" * 9000)
    C.check("framing: a 9 kB request line -> 414", r.status == 414, repr(r))
    time.sleep(0.3)
    reached = [x["target"] for x in d.records("http")[before:]
               if x["target"].startswith(("/a", "/_stcore/upload_file/s/z"))]
    C.check("framing: none of them reached the upstream complete", reached == [], str(reached))
    evs = [e for e in rl.events() if e.get("event") == "refuse"]
    C.check("framing: audit events for 414/431 (H5) and malformed heads (H13)",
            any(e.get("status") == 431 and e.get("control") == "H5" for e in evs)
            and any(e.get("status") == 414 and e.get("control") == "H5" for e in evs)
            and any(e.get("reason") == "bare LF in HTTP head" and e.get("control") == "H13" for e in evs),
            str(evs[-4:]))


# -- keep-alive and pipelining ----------------------------------------------------------

def keep_alive(d, rl):
    b = rl.addr()
    conns = [rt.HttpConn(b) for _ in range(3)]
    ok = True
    peak = 0
    for i in range(10):
        for j, c in enumerate(conns):
            r = c.request("GET", "/media/bytes-%d.bin" % (100 + i))
            ok = ok and r.status == 200 and r.body == rt.media_content("bytes-%d.bin" % (100 + i))
        peak = max(peak, upstream_conns(d.port))
    eofs = [c.eof for c in conns]
    for c in conns:
        c.close()
    C.check("keep-alive: 30 requests on 3 browser connections, all 200 and exact",
            ok and not any(eofs), str(eofs))
    C.check("keep-alive: the upstream saw at most 4 connections (pooled)", 1 <= peak <= 4, str(peak))

    c = rt.HttpConn(b)
    c.send(b"GET /media/bytes-11.bin HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /media/bytes-12.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    r1 = c.read_response()
    r2 = c.read_response()
    c.close()
    C.check("pipelined requests answered in order", r1.body == rt.media_content("bytes-11.bin")
            and r2.body == rt.media_content("bytes-12.bin"), "%r %r" % (r1, r2))

    c = rt.HttpConn(b)
    r = c.request("GET", "/_stcore/health", [("Connection", "close")])
    C.check("Connection: close -> answered, then closed", r.status == 200 and c.closed_by_peer(3), repr(r))
    c.close()
    c = rt.HttpConn(b)
    c.send(b"GET /_stcore/health HTTP/1.0\r\nHost: x\r\n\r\n")
    r = c.read_response()
    C.check("HTTP/1.0 -> answered, then closed", r.status == 200 and r.body == b"ok"
            and c.closed_by_peer(3), repr(r))
    c.close()


# -- uploads and big bodies -----------------------------------------------------------

def uploads(d, rl):
    b = rl.addr()
    cookie = rt.cookie_value(http(b, "GET", "/_stcore/health"))
    base = [("Cookie", "%s=%s" % (rt.XSRF_COOKIE, cookie))]
    data = payload("relay-upload", 50 * MB)
    ctype, body = rt.multipart([("file", "big.bin", data)])
    del data
    rss0 = rss_kb(rl.proc.pid)
    t0 = time.monotonic()
    r = http(b, "PUT", "/_stcore/upload_file/s1/big", base + [("Content-Type", ctype),
             ("X-Xsrftoken", cookie)], body, timeout=120)
    dt = time.monotonic() - t0
    up = d.wait_record(lambda x: x.get("file") == "big", kind="upload", timeout=10)
    C.check("upload 50 MB with X-Xsrftoken and cookie -> 204, file intact upstream",
            r.status == 204 and up and up["length"] == 50 * MB and
            up["sha256"] == hashlib.sha256(payload("relay-upload", 50 * MB)).hexdigest(),
            "%r %s (%.1f s)" % (r, up, dt))
    hwm = rss_kb(rl.proc.pid, "VmHWM")
    C.check("upload: relay peak RSS grew < 8 MB for a 50 MB body", hwm - rss0 < 8 * 1024,
            "baseline %d kB, peak %d kB" % (rss0, hwm))

    small_ctype, small = rt.multipart([("file", "s.bin", payload("small", 200000))])
    r = http(b, "PUT", "/_stcore/upload_file/s1/noxsrf", base + [("Content-Type", small_ctype)], small)
    C.check("upload without X-Xsrftoken -> 403 (upstream's)", r.status == 403 and hardened(r), repr(r))
    ctype5, body5 = rt.multipart([("file", "m.bin", payload("mid", 5 * MB))])
    ok = []
    for i in range(3):
        r = http(b, "PUT", "/_stcore/upload_file/s1/noxsrf5", base + [("Content-Type", ctype5)], body5,
                 timeout=30)
        ok.append(r.status)
    C.check("5 MB upload without X-Xsrftoken -> 403 each time (answered before the body, then "
            "the upstream closes: its answer is still passed on)", ok == [403] * 3, str(ok))
    r = http(b, "PUT", "/_stcore/upload_file/s1/chunked", base + [("Content-Type", small_ctype),
             ("X-Xsrftoken", cookie)], chunks=[small[:1000], small[1000:150000], small[150000:]])
    up = d.wait_record(lambda x: x.get("file") == "chunked", kind="upload")
    C.check("chunked request body -> 204, file intact upstream", r.status == 204 and up
            and up["length"] == 200000, "%r %s" % (r, up))
    r = http(b, "PUT", "/_stcore/upload_file/s1/expect", base + [("Content-Type", small_ctype),
             ("X-Xsrftoken", cookie), ("Expect", "100-continue")], small)
    up = d.wait_record(lambda x: x.get("file") == "expect", kind="upload")
    C.check("Expect: 100-continue answered by the relay, upload 204", r.status == 204 and up, repr(r))

    rss1 = rss_kb(rl.proc.pid)
    want = hashlib.sha256(rt.media_content("bytes-50000000.bin")).hexdigest()
    r = http(b, "GET", "/media/bytes-50000000.bin", timeout=120)
    hwm = rss_kb(rl.proc.pid, "VmHWM")
    C.check("download 50 MB: exact bytes", r.status == 200 and hashlib.sha256(r.body).hexdigest() == want,
            repr(r)[:200])
    C.check("download: relay peak RSS grew < 8 MB", hwm - rss1 < 8 * 1024,
            "baseline %d kB, peak %d kB" % (rss1, hwm))


def max_upload(d):
    rl = rt.Relay(d, "--max-upload", "1m")
    try:
        b = rl.addr()
        before = len(d.records("http"))
        c = rt.HttpConn(b)
        c.send(b"PUT /_stcore/upload_file/s/f HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
        r = c.read_response("PUT")
        C.check("--max-upload: Content-Length over it -> 413 before the body, then closed",
                r.status == 413 and hardened(r) and c.closed_by_peer(3), repr(r))
        c.close()
        time.sleep(0.3)
        C.check("--max-upload: the 413 request never reached the upstream",
                not [x for x in d.records("http")[before:] if x.get("target") == "/_stcore/upload_file/s/f"])
        C.check("--max-upload: audit event (refuse, H5, 413)",
                events(rl, lambda e: e.get("event") == "refuse" and e.get("control") == "H5"
                       and e.get("status") == 413), str(rl.events()))
        c = rt.HttpConn(b, timeout=10)
        # A handler that reads the whole body before answering (no early 403).
        r = c.request("PUT", "/_stcore/host-config", chunks=[b"x" * 300000] * 5)
        C.check("--max-upload: chunked body over it -> 413, then closed", r.status == 413
                and c.closed_by_peer(3), repr(r))
        c.close()
        r = http(b, "PUT", "/_stcore/upload_file/s/h", body=b"y" * 1000)
        C.check("--max-upload: a body under it is forwarded (403: no XSRF)", r.status == 403, repr(r))
    finally:
        rl.stop()


# -- upstream failures -------------------------------------------------------------------

class Silent:
    """Accepts connections and never answers."""

    def __init__(self):
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(16)
        self.port = self.s.getsockname()[1]
        self.held = []
        self.stop = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        self.s.settimeout(0.2)
        while not self.stop:
            try:
                self.held.append(self.s.accept()[0])
            except OSError:
                pass

    def close(self):
        self.stop = True
        for x in self.held:
            x.close()
        self.s.close()


class Scripted(Silent):
    """Reads each request head, answers it with `reply`, then closes the
    connection if `close`."""

    def __init__(self, reply, close=True):
        self.reply, self.close_after = reply, close
        super().__init__()

    def run(self):
        self.s.settimeout(0.2)
        while not self.stop:
            try:
                conn = self.s.accept()[0]
            except OSError:
                continue
            self.held.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        conn.settimeout(5)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf.split(b"\r\n\r\n", 1)[1]
                conn.sendall(self.reply)
                if self.close_after:
                    conn.shutdown(socket.SHUT_WR)
                    return
        except OSError:
            pass


def upstream_answers():
    """Responses the double never sends, from a scripted upstream."""
    class Fake:
        unix = None
        base = ""

    def through(reply, close=True, n=1, method="GET"):
        up = Scripted(reply, close)
        f = Fake()
        f.port = up.port
        rl = rt.Relay(f, "--upstream-timeout", "2")
        try:
            c = rt.HttpConn(rl.addr())
            rs = [c.request(method, "/x") for _ in range(n)]
            eof = c.closed_by_peer(0.3)
            c.close()
            return rs, eof
        finally:
            rl.stop()
            up.close()

    rs, _ = through(b"NOT HTTP AT ALL\r\n\r\n")
    C.check("upstream garbage -> 502", rs[0].status == 502 and hardened(rs[0]), repr(rs[0]))
    rs, eof = through(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
    C.check("upstream cut mid-body -> head passed, then the browser connection is cut",
            rs[0].status == 200 and rs[0].error == "eof" and rs[0].body == b"0123456789", repr(rs[0]))
    rs, _ = through(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz")
    C.check("upstream Transfer-Encoding other than chunked -> 502", rs[0].status == 502, repr(rs[0]))
    rs, _ = through(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    C.check("upstream Content-Length with Transfer-Encoding -> 502", rs[0].status == 502, repr(rs[0]))
    rs, eof = through(b"HTTP/1.1 200 OK\r\nServer: Tornado\r\n\r\nuntil close", n=2)
    C.check("close-delimited upstream body -> chunked to the browser, connection kept",
            all(r.status == 200 and r.chunked and r.body == b"until close" and r.h("Server") is None
                for r in rs) and not eof, repr(rs))
    rs, eof = through(b"HTTP/1.1 103 Early Hints\r\nLink: </a.js>\r\n\r\n"
                      b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Frame-Options: SAMEORIGIN\r\n"
                      b"Connection: close\r\n\r\nok", n=2)
    C.check("1xx from the upstream skipped; upstream's Connection: close not passed on; "
            "its X-Frame-Options kept, not doubled",
            all(r.status == 200 and r.body == b"ok" and r.all("X-Frame-Options") == ["SAMEORIGIN"]
                and r.h("Connection") is None for r in rs) and not eof, repr(rs))
    rs, _ = through(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", close=False, n=3,
                    method="GET")
    C.check("keep-alive upstream: three answers on one connection", all(r.body == b"hello" for r in rs),
            repr(rs))
    rs, _ = through(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", close=False, n=2,
                    method="HEAD")
    C.check("HEAD: Content-Length passed, no body awaited, keep-alive",
            all(r.status == 200 and r.h("Content-Length") == "5" and r.body == b"" for r in rs), repr(rs))


def slow_heads(d):
    """T5: the request head has a deadline from its first byte (the
    policy's handshake-timeout), not reset by trickled bytes."""
    rl = rt.Relay(d, "--handshake-timeout", "1")
    try:
        b = rl.addr()
        c = rt.HttpConn(b)
        t0 = time.monotonic()
        closed = c.closed_by_peer(4)
        C.check("T5: a silent connection is closed after ~1 s", closed
                and 0.8 < time.monotonic() - t0 < 3, "%.2f s" % (time.monotonic() - t0))
        c.close()
        c = rt.HttpConn(b)
        t0 = time.monotonic()
        alive = True
        for ch in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa":
            if not c.send(bytes([ch])) or time.monotonic() - t0 > 4:
                break
            time.sleep(0.1)
        closed = c.closed_by_peer(3)
        C.check("T5: a head trickled byte by byte is cut at the deadline",
                closed and time.monotonic() - t0 < 4.5, "%.2f s" % (time.monotonic() - t0))
        evs = events(rl, lambda e: e.get("control") == "H7")
        C.check("T5: one audit event (H7) for the trickled head, none for the silent connection",
                len(evs) == 1 and evs[0].get("reason") == "request head timeout", str(evs))
        c.close()
        c = rt.HttpConn(b)
        r1 = c.request("GET", "/media/bytes-10.bin")
        time.sleep(1.5)
        r2 = c.request("GET", "/media/bytes-11.bin")
        c.close()
        C.check("T5: an idle keep-alive connection between requests is not cut by the head deadline",
                r1.status == 200 and r2.status == 200, "%r %r" % (r1, r2))
    finally:
        rl.stop()


def unix_and_base():
    """A Unix-socket upstream with a base path: routes as direct, the
    browser's Host forwarded, upgrades only on <base>/_stcore/stream."""
    d = rt.Double(base_path="/app", unix=True)
    rl = rt.Relay(d, "--base-path", "/app")
    try:
        b = rl.addr()
        c = rt.HttpConn(b)
        r1 = c.request("GET", "/app/")
        r2 = c.request("GET", "/app/media/bytes-1000.bin", [("X-Mark", "unix-1")])
        r3 = c.request("GET", "/app")
        c.close()
        C.check("unix upstream: page, media and the base redirect as direct", r1.status == 200
                and r1.body == http(d.addr(), "GET", "/app/").body
                and r2.body == rt.media_content("bytes-1000.bin")
                and r3.status == 301 and r3.h("Location") == "/app/", "%r %r %r" % (r1, r2, r3))
        rec = d.wait_record(lambda x: ["X-Mark", "unix-1"] in x.get("headers", []), kind="http")
        C.check("unix upstream: the browser's Host is forwarded", rec and hdrs(rec).get("host") == c.host,
                str(rec and hdrs(rec)))
        r = http(b, "GET", "/_stcore/stream", [("Upgrade", "websocket"), ("Connection", "Upgrade")])
        C.check("base path: an upgrade on /_stcore/stream (outside the base) -> 404", r.status == 404, repr(r))
    finally:
        rl.stop()
        d.stop()


def failures():
    class Fake:
        unix = None
        base = ""

    down = Fake()
    down.port = rt.common.free_port()
    rl = rt.Relay(down)
    try:
        r = http(rl.addr(), "GET", "/")
        C.check("upstream down -> 502 with a short text body, hardened", r.status == 502
                and 0 < len(r.body) < 100 and hardened(r), repr(r))
        r = http(rl.addr(), "GET", "/again")
        C.check("relay stays up after 502", r.status == 502, repr(r))
    finally:
        rl.stop()

    silent = Silent()
    sl = Fake()
    sl.port = silent.port
    rl = rt.Relay(sl, "--upstream-timeout", "1")
    try:
        t0 = time.monotonic()
        r = http(rl.addr(), "GET", "/", timeout=10)
        dt = time.monotonic() - t0
        C.check("upstream silent -> 504 after --upstream-timeout (1 s)", r.status == 504
                and 0.8 < dt < 5 and hardened(r), "%r in %.2f s" % (r, dt))
    finally:
        rl.stop()
        silent.close()


def main():
    # The 50 MB memory checks (8 MB of slack) mean the same under
    # AddressSanitizer: a 1 MB quarantine, not the default 256 MB.
    rt.quiet_asan_quarantine(1)
    start = time.monotonic()
    d = rt.Double("--max-upload", str(200 * 1024 * 1024))
    rl = rt.Relay(d)
    try:
        routes(d, rl)
        header_rules(d, rl)
        paths(d, rl)
        smuggling(d, rl)
        keep_alive(d, rl)
        uploads(d, rl)
        r = http(rl.addr(), "GET", "/ws-elsewhere", [("Upgrade", "websocket"), ("Connection", "Upgrade")])
        C.check("WebSocket upgrade on another path -> 404", r.status == 404 and hardened(r), repr(r))
        trusted_proxy(d)
        https_only(d)
        max_upload(d)
        slow_heads(d)
    finally:
        rc = rl.stop()
        d.stop()
    C.check("relay exits 0 on SIGTERM", rc == 0, str(rc))
    C.check("relay printed no error for good traffic", "start-up failed" not in rl.text(), rl.text()[-300:])
    unix_and_base()
    failures()
    upstream_answers()
    print("took %.1f s" % (time.monotonic() - start))
    return C.done()


if __name__ == "__main__":
    sys.exit(main())
