#!/usr/bin/python3
"""Self-test of the Streamlit double, driven directly (no relay): every
behaviour the relay tests rely on, so that "through the relay" can later be
compared with "direct". Three doubles: the main one (TCP, defaults), one with
--base-path /app --not-ready 1 and short ping/size limits, one on a Unix
socket."""
import asyncio
import gzip
import hashlib
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relaytest as rt  # noqa: E402
from relaytest import cmd, http, payload  # noqa: E402
sys.path.insert(0, os.path.join(rt.SRC, "tests", "conformance"))
import wsproto  # noqa: E402
import websockets.exceptions as wsexc  # noqa: E402

XSRF_RE = re.compile(r"^2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d+$")
SERVER = "TornadoServer/6.2"
C = rt.Checks("relay-double (the Streamlit double, direct)")


def check_page(name, r, base):
    C.check(name + ": 200 text/html", r.status == 200 and (r.h("Content-Type") or "").startswith("text/html"), repr(r))
    C.check(name + ": Server header is Tornado's", r.h("Server") == SERVER, str(r.h("Server")))
    C.check(name + ": page opens <base>/_stcore/stream with both subprotocols",
            ('var BASE = "%s";' % base).encode() in r.body and b'"/_stcore/stream"' in r.body
            and b'["streamlit", "PLACEHOLDER_AUTH_TOKEN"]' in r.body, r.body[:80])
    C.check(name + ": XSRF cookie set, Tornado v2 format", XSRF_RE.match(rt.cookie_value(r) or ""),
            str(r.all("Set-Cookie")))


# -- plain HTTP routes ------------------------------------------------------------------

def http_routes(d):
    a = d.addr()
    r = http(a, "GET", "/")
    check_page("index", r, "")
    C.check("index: Cache-Control no-cache", r.h("Cache-Control") == "no-cache", str(r.h("Cache-Control")))
    etag = r.h("Etag")
    r2 = http(a, "GET", "/", [("If-None-Match", etag or "none")])
    C.check("index: If-None-Match -> 304 without body", r2.status == 304 and r2.body == b"", repr(r2))
    r3 = http(a, "GET", "/some/page?x=1")
    C.check("unknown path -> index.html (200, same page)", r3.status == 200 and r3.body == r.body, repr(r3))
    r4 = http(a, "GET", "/some/_stcore/health")
    C.check("<wrong base>/_stcore/health -> 404 (base-path probing)", r4.status == 404, repr(r4))
    r5 = http(a, "GET", "/x/")
    C.check("/x/ -> 301 Location /x", r5.status == 301 and r5.h("Location") == "/x", repr(r5))
    r6 = http(a, "GET", "/x/?a=1&b=2")
    C.check("/x/?a=1&b=2 -> 301 keeps the query", r6.status == 301 and r6.h("Location") == "/x?a=1&b=2", repr(r6))
    r7 = http(a, "GET", "//evil.example/")
    C.check("//evil.example/ is no open redirect", not (r7.h("Location") or "").startswith("//"), repr(r7))

    r = http(a, "GET", "/_stcore/health")
    C.check("health: 200 ok", r.status == 200 and r.body == b"ok", repr(r))
    C.check("health: XSRF cookie, no-cache", XSRF_RE.match(rt.cookie_value(r) or "")
            and r.h("Cache-Control") == "no-cache", str(r.headers))
    c = rt.HttpConn(a)
    rh = c.request("HEAD", "/_stcore/health")
    rg = c.request("GET", "/healthz")
    c.close()
    C.check("health: HEAD 200 without body, then keep-alive GET /healthz 200 ok",
            rh.status == 200 and rh.body == b"" and rg.status == 200 and rg.body == b"ok",
            "%r %r" % (rh, rg))
    r = http(a, "GET", "/_stcore/health/")
    C.check("health: trailing slash accepted", r.status == 200 and r.body == b"ok", repr(r))

    r = http(a, "GET", "/_stcore/host-config")
    try:
        j = json.loads(r.body)
    except ValueError:
        j = {}
    C.check("host-config: 200 JSON with allowedOrigins", r.status == 200
            and (r.h("Content-Type") or "").startswith("application/json")
            and isinstance(j.get("allowedOrigins"), list) and j["allowedOrigins"]
            and j.get("useExternalAuthToken") is False, repr(r))

    r = http(a, "GET", "/_stcore/stream")
    C.check("GET _stcore/stream without Upgrade -> 400", r.status == 400, repr(r))

    r = http(a, "GET", "/_stcore/message?hash=" + "0" * 32)
    C.check("message: unknown hash -> 404", r.status == 404, repr(r))
    r = http(a, "GET", "/_stcore/message")
    C.check("message: no hash -> 404", r.status == 404, repr(r))

    c = rt.HttpConn(a)
    r = c.request("GET", "/", [("X-Dup", "a"), ("x-lower", "1"), ("X-Dup", "b")])
    c.close()
    rec = d.wait_record(lambda x: x.get("method") == "GET" and
                        any(h[0] == "x-lower" for h in x.get("headers", [])), kind="http")
    hs = rec["headers"] if rec else []
    C.check("record: request headers as received (case, order, duplicates)",
            hs[1:] == [["X-Dup", "a"], ["x-lower", "1"], ["X-Dup", "b"]] and rec["status"] == 200, str(rec))


def uploads(d):
    a = d.addr()
    r = http(a, "GET", "/_stcore/health")
    cookie = rt.cookie_value(r)
    ctype, body = rt.multipart([("file", "a.bin", payload("upload", 70000))])
    hdr = [("Cookie", "%s=%s" % (rt.XSRF_COOKIE, cookie)), ("Content-Type", ctype)]
    r = http(a, "PUT", "/_stcore/upload_file/sess-1/file-1", hdr + [("X-Xsrftoken", cookie)], body)
    C.check("upload: PUT with X-Xsrftoken = cookie -> 204", r.status == 204, repr(r))
    up = d.wait_record(lambda x: x.get("file") == "file-1", kind="upload")
    C.check("upload: file received intact (record)", up and up["length"] == 70000 and up["sha256"]
            == hashlib.sha256(payload("upload", 70000)).hexdigest(), str(up))
    hr = d.wait_record(lambda x: x.get("method") == "PUT" and x.get("status") == 204, kind="http")
    C.check("record: PUT body length and sha256", hr and hr["body_length"] == len(body)
            and hr["body_sha256"] == hashlib.sha256(body).hexdigest(), str(hr))
    r = http(a, "PUT", "/_stcore/upload_file/sess-1/file-2", hdr, body)
    C.check("upload: no X-Xsrftoken -> 403", r.status == 403, repr(r))
    other = rt.cookie_value(http(a, "GET", "/_stcore/health"))
    r = http(a, "PUT", "/_stcore/upload_file/sess-1/file-3", hdr + [("X-Xsrftoken", other)], body)
    C.check("upload: X-Xsrftoken of another cookie -> 403", r.status == 403, repr(r))
    # The same token under a fresh mask (what a page reads later) is accepted,
    # as Tornado compares unmasked tokens.
    remasked = rt.cookie_value(http(a, "GET", "/_stcore/health", hdr[:1]))
    r = http(a, "PUT", "/_stcore/upload_file/sess-1/file-4", hdr + [("X-Xsrftoken", remasked)], body)
    C.check("upload: re-masked token of the same cookie -> 204",
            remasked != cookie and r.status == 204, "%s %r" % (remasked, r))
    r = http(a, "PUT", "/_stcore/upload_file/sess-1/file-5", hdr + [("X-Xsrftoken", cookie)],
             chunks=[body[:1000], body[1000:50000], body[50000:]])
    up = d.wait_record(lambda x: x.get("file") == "file-5", kind="upload")
    C.check("upload: chunked request body -> 204, file intact", r.status == 204 and up
            and up["length"] == 70000, "%r %s" % (r, up))
    ctype2, body2 = rt.multipart([("f1", "a", b"1"), ("f2", "b", b"2")])
    r = http(a, "PUT", "/_stcore/upload_file/sess-1/file-6",
             [hdr[0], ("Content-Type", ctype2), ("X-Xsrftoken", cookie)], body2)
    C.check("upload: two files -> 400", r.status == 400, repr(r))
    r = http(a, "DELETE", "/_stcore/upload_file/sess-1/file-1", hdr[:1] + [("X-Xsrftoken", cookie)])
    C.check("upload: DELETE with token -> 204", r.status == 204, repr(r))
    r = http(a, "DELETE", "/_stcore/upload_file/sess-1/file-1", hdr[:1])
    C.check("upload: DELETE without token -> 403", r.status == 403, repr(r))
    c = rt.HttpConn(a)
    c.send(("PUT /_stcore/upload_file/sess-1/big HTTP/1.1\r\nHost: x\r\nCookie: %s=%s\r\n"
            "X-Xsrftoken: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (rt.XSRF_COOKIE, cookie, cookie, ctype, 2 * 1024 * 1024)).encode())
    r = c.read_response("PUT")
    C.check("upload: Content-Length over --max-upload (1 MiB) -> 413 before the body, then close",
            r.status == 413 and c.closed_by_peer(3), repr(r))
    c.close()


def media(d):
    a = d.addr()
    want = rt.media_content("bytes-100000.bin")
    r = http(a, "GET", "/media/bytes-100000.bin")
    C.check("media: 200, deterministic bytes, Accept-Ranges", r.status == 200 and r.body == want
            and r.h("Accept-Ranges") == "bytes" and r.h("Server") == SERVER, repr(r))
    r = http(a, "GET", "/media/bytes-100000.bin", [("Range", "bytes=100-199")])
    C.check("media: Range 100-199 -> 206 + Content-Range + those bytes", r.status == 206
            and r.h("Content-Range") == "bytes 100-199/100000" and r.body == want[100:200], repr(r))
    r = http(a, "GET", "/media/bytes-100000.bin", [("Range", "bytes=-10")])
    C.check("media: suffix Range -10 -> last 10 bytes", r.status == 206 and r.body == want[-10:], repr(r))
    r = http(a, "GET", "/media/bytes-100000.bin", [("Range", "bytes=200000-")])
    C.check("media: unsatisfiable Range -> 416 bytes */100000", r.status == 416
            and r.h("Content-Range") == "bytes */100000", repr(r))
    c = rt.HttpConn(a)
    rh = c.request("HEAD", "/media/bytes-100000.bin")
    rg = c.request("GET", "/media/bytes-100.bin")
    c.close()
    C.check("media: HEAD has Content-Length 100000 and no body (connection reusable)",
            rh.status == 200 and rh.h("Content-Length") == "100000" and rh.body == b""
            and rg.status == 200 and rg.body == rt.media_content("bytes-100.bin"), "%r %r" % (rh, rg))
    text = rt.media_content("text-200000.txt")
    r = http(a, "GET", "/media/text-200000.txt", [("Accept-Encoding", "gzip")])
    try:
        unz = gzip.decompress(r.body)
    except (OSError, EOFError):
        unz = None
    C.check("media: text with Accept-Encoding gzip -> Content-Encoding gzip, decodes to the file",
            r.status == 200 and r.h("Content-Encoding") == "gzip" and unz == text
            and len(r.body) < len(text), repr(r))
    r = http(a, "GET", "/media/text-200000.txt")
    C.check("media: text without gzip -> identity", r.status == 200 and r.h("Content-Encoding") is None
            and r.body == text, repr(r))
    r = http(a, "GET", "/media/download-1000.csv")
    C.check("media: download -> Content-Disposition attachment", r.status == 200
            and (r.h("Content-Disposition") or "").startswith("attachment;"), repr(r))
    r = http(a, "GET", "/media/nothing.bin")
    C.check("media: unknown file -> 404", r.status == 404, repr(r))

    r = http(a, "GET", "/static/js/main.js", [("Accept-Encoding", "gzip")])
    try:
        unz = gzip.decompress(r.body)
    except (OSError, EOFError):
        unz = None
    C.check("static asset: gzip, chunked, Cache-Control public, decodes to the file",
            r.status == 200 and r.chunked and r.h("Content-Encoding") == "gzip"
            and unz == rt.static_main_js() and r.h("Cache-Control") == "public", repr(r))


def components(d):
    a = d.addr()
    r = http(a, "GET", "/component/demo/index.html")
    C.check("component: index.html 200 text/html no-cache", r.status == 200
            and (r.h("Content-Type") or "").startswith("text/html") and b"demo component" in r.body
            and r.h("Cache-Control") == "no-cache", repr(r))
    r = http(a, "GET", "/component/demo/main.js")
    C.check("component: main.js, Cache-Control public", r.status == 200 and
            r.body.startswith(b"/* demo component */") and r.h("Cache-Control") == "public", repr(r))
    r = http(a, "GET", "/component/nope/x.js")
    C.check("component: unknown component -> 404 not found", r.status == 404 and r.body == b"not found", repr(r))
    r = http(a, "GET", "/component/demo/..%2f..%2fsecret.txt")
    C.check("component: traversal -> 403 forbidden", r.status == 403 and r.body == b"forbidden", repr(r))


# -- WebSocket --------------------------------------------------------------------------

async def ws_checks(d):
    origin = "http://127.0.0.1:%d" % d.port
    out = {}
    async with rt.ws_connect(d.ws_url, origin=origin) as ws:
        C.check("ws: selected subprotocol 'streamlit'", ws.subprotocol == "streamlit", str(ws.subprotocol))
        sc = ws.response_headers.get_all("Set-Cookie")
        C.check("ws: Set-Cookie _streamlit_xsrf on the 101", any(
            v.startswith(rt.XSRF_COOKIE + "=2|") for v in sc), str(sc))
        C.check("ws: 101 carries Server: TornadoServer/6.2", ws.response_headers.get("Server") == SERVER,
                str(ws.response_headers))
        msg = os.urandom(16)
        await ws.send(msg)
        got = await asyncio.wait_for(ws.recv(), 3)
        C.check("ws: binary echo", got == msg, repr(got)[:60])
        await ws.send("plain text")
        got = await asyncio.wait_for(ws.recv(), 3)
        C.check("ws: text echoed as text", got == "plain text", repr(got)[:60])
        big = 5 * 1024 * 1024
        await ws.send(cmd({"send": [{"size": 38}, {"size": big}]}))
        m1 = await asyncio.wait_for(ws.recv(), 5)
        m2 = await asyncio.wait_for(ws.recv(), 10)
        C.check("ws: CMD send 38 B, byte for byte", m1 == payload(rt.send_seed(0, 38), 38), repr(m1)[:60])
        C.check("ws: CMD send 5 MiB, byte for byte", isinstance(m2, bytes) and len(m2) == big
                and m2 == payload(rt.send_seed(1, big), big), "%d bytes" % len(m2))
        out["md5"] = hashlib.md5(m1).hexdigest()
        out["m1"] = m1
        await ws.send(cmd({"info": True, "hello": 38}))
        info = await asyncio.wait_for(ws.recv(), 3)
        try:
            j = json.loads(info[5:]) if info.startswith(b"INFO:") else {}
        except ValueError:
            j = {}
        C.check("ws: CMD info: offered list, selection, upgrade headers",
                j.get("subprotocols") == rt.SUBPROTOCOLS and j.get("selected") == "streamlit"
                and ["Origin", origin] in j.get("headers", []), str(j)[:200])
        out["session"] = j.get("session")
        await ws.send(b"\x00CMD:")
        C.check("ws: a message not starting with CMD: is echoed", await asyncio.wait_for(ws.recv(), 3) == b"\x00CMD:")
        await ws.send(cmd({"nope": 1}) + b"{")
        got = await asyncio.wait_for(ws.recv(), 3)
        C.check("ws: malformed CMD -> ERR reply", isinstance(got, bytes) and got.startswith(b"ERR:"), repr(got))

        # hello: the next connection gets a 38-byte first message unasked
        async with rt.ws_connect(d.ws_url) as ws2:
            first = await asyncio.wait_for(ws2.recv(), 3)
            C.check("ws: hello -> first message right after open", first == payload(rt.hello_seed(38), 38),
                    repr(first)[:60])
            await ws2.send(cmd({"hello": 0}))
        async with rt.ws_connect(d.ws_url, subprotocols=rt.SUBPROTOCOLS + [out["session"]]) as ws3:
            await ws3.send(cmd({"info": True}))
            j3 = json.loads((await asyncio.wait_for(ws3.recv(), 3))[5:])
            C.check("ws: third subprotocol entry resumes the session", j3.get("resumed") is True
                    and j3.get("session") == out["session"] and ws3.subprotocol == "streamlit", str(j3)[:200])
        await ws.send(cmd({"close": 4000, "reason": "bye"}))
        try:
            await asyncio.wait_for(ws.recv(), 3)
        except wsexc.ConnectionClosed:
            pass
        C.check("ws: CMD close 4000 -> closed with 4000 'bye'", ws.close_code == 4000
                and ws.close_reason == "bye", "%s %r" % (ws.close_code, ws.close_reason))

    async with rt.ws_connect(d.ws_url, subprotocols=None) as ws:
        C.check("ws: nothing offered -> no subprotocol selected", ws.subprotocol is None
                and "Sec-WebSocket-Protocol" not in ws.response_headers, str(ws.response_headers))
    async with rt.ws_connect(d.ws_url, origin="http://localhost:1") as ws:
        C.check("ws: Origin on a loopback name accepted (as Streamlit)", ws.subprotocol == "streamlit")
    try:
        async with rt.ws_connect(d.ws_url, origin="https://evil.example"):
            status = 101
    except wsexc.InvalidStatusCode as e:
        status = e.status_code
    C.check("ws: foreign Origin -> 403", status == 403, str(status))
    return out


def raw_ws(d, timeout_expected=False):
    """Pings every --ping-interval; a 3-frame message is one message of 3 frames."""
    rc = wsproto.RawClient(d.ws_url, 5)
    try:
        rc.handshake(headers=["Sec-WebSocket-Protocol: streamlit, PLACEHOLDER_AUTH_TOKEN"])
        t0 = time.monotonic()
        ev = rc.next_event(t0 + 2.5)
        C.check("ws raw: a ping within 2.5 s", ev[0] == "ping", wsproto.describe(ev))
        rc.send(wsproto.frame(wsproto.OP_PONG, ev[1] if ev[0] == "ping" else b""))
        parts = [b"frag-one|", b"frag-two|", b"frag-three"]
        rc.send(wsproto.frame(wsproto.OP_BINARY, parts[0], fin=False) +
                wsproto.frame(wsproto.OP_CONT, parts[1], fin=False) +
                wsproto.frame(wsproto.OP_CONT, parts[2], fin=True))
        deadline = time.monotonic() + 3
        ev = rc.next_event(deadline)
        while ev[0] == "ping":
            rc.send(wsproto.frame(wsproto.OP_PONG, ev[1]))
            ev = rc.next_event(deadline)
        C.check("ws raw: fragmented message echoed whole", ev[0] == "message" and ev[2] == b"".join(parts),
                wsproto.describe(ev))
        rc.send(wsproto.frame(wsproto.OP_CLOSE, wsproto.close_payload(1000)))
        ev = rc.next_event(time.monotonic() + 3)
        while ev[0] == "ping":
            ev = rc.next_event(time.monotonic() + 3)
        C.check("ws raw: close 1000 echoed", ev[0] == "close" and ev[1] == 1000, wsproto.describe(ev))
    except (wsproto.HandshakeError, wsproto.ProtocolViolation, OSError) as e:
        C.check("ws raw: session", False, str(e))
    finally:
        rc.close()
    msg = d.wait_record(lambda r: r.get("sha256") == hashlib.sha256(b"".join(parts)).hexdigest(), kind="ws_msg")
    C.check("record: fragmented message as one message of 3 frames", msg and msg["frames"] == 3
            and msg["opcode"] == 2 and msg["length"] == len(b"".join(parts)), str(msg))
    C.check("record: our pong", d.wait_record(lambda r: r.get("conn") == msg.get("conn") if msg else False,
                                               kind="ws_pong") is not None)
    C.check("record: close 1000", d.wait_record(lambda r: msg and r.get("conn") == msg.get("conn")
                                                and r.get("code") == 1000, kind="ws_close") is not None)


def ws_records(d, out):
    op = d.records("ws_open")
    first = op[0] if op else {}
    C.check("record: ws_open with offered subprotocols and selection",
            first.get("subprotocols") == rt.SUBPROTOCOLS and first.get("selected") == "streamlit"
            and ["Sec-WebSocket-Protocol", "streamlit, PLACEHOLDER_AUTH_TOKEN"] in first.get("headers", []),
            str(first)[:300])
    msgs = d.records("ws_msg")
    C.check("record: the text message (opcode 1) and the 16-byte echo (opcode 2)",
            any(m["opcode"] == 1 and m["sha256"] == hashlib.sha256(b"plain text").hexdigest() for m in msgs)
            and any(m["opcode"] == 2 and m["length"] == 16 and m["frames"] == 1 for m in msgs), str(msgs)[:300])
    C.check("record: close 4000 'bye' of the first connection", any(
        c.get("conn") == first.get("conn") and c.get("code") == 4000 and c.get("reason") == "bye"
        for c in d.records("ws_close")), str(d.records("ws_close")))
    r = http(d.addr(), "GET", "/_stcore/message?hash=" + out.get("md5", "x"))
    C.check("message: GET ?hash=<md5 of a sent message> -> those bytes", r.status == 200
            and r.body == out.get("m1") and r.h("Content-Type") == "application/octet-stream", repr(r))


# -- the other doubles ------------------------------------------------------------------

def base_and_timers():
    t0 = time.monotonic()
    d = rt.Double("--not-ready", "1", "--ping-interval", "0.5", "--ping-timeout", "2",
                  "--max-message", "1000", base_path="/app")
    try:
        r = http(d.port, "GET", "/app/_stcore/health")
        C.check("not-ready: health 503 unavailable at first", r.status == 503 and r.body == b"unavailable", repr(r))
        ok_at = None
        while time.monotonic() - t0 < 6:
            if http(d.port, "GET", "/app/_stcore/health").status == 200:
                ok_at = time.monotonic() - t0
                break
            time.sleep(0.1)
        C.check("not-ready: health 200 after ~1 s", ok_at is not None and ok_at >= 0.9, str(ok_at))
        C.check("base path: /_stcore/health outside the base -> 404",
                http(d.port, "GET", "/_stcore/health").status == 404)
        r = http(d.port, "GET", "/app")
        C.check("base path: /app -> 301 /app/", r.status == 301 and r.h("Location") == "/app/", repr(r))
        check_page("base path: /app/", http(d.port, "GET", "/app/"), "/app")
        r = http(d.port, "GET", "/app/x/")
        C.check("base path: /app/x/ -> 301 /app/x", r.status == 301 and r.h("Location") == "/app/x", repr(r))

        async def ws_part():
            async with rt.ws_connect(d.ws_url) as ws:
                await ws.send(b"under base")
                C.check("base path: WebSocket echo on /app/_stcore/stream",
                        await asyncio.wait_for(ws.recv(), 3) == b"under base")
                await ws.send(b"x" * 2000)
                try:
                    await asyncio.wait_for(ws.recv(), 3)
                except wsexc.ConnectionClosed:
                    pass
                C.check("max message (--max-message 1000): 2000 B -> close 1009", ws.close_code == 1009,
                        str(ws.close_code))
            try:
                async with rt.ws_connect("ws://127.0.0.1:%d/_stcore/stream" % d.port):
                    status = 101
            except wsexc.InvalidStatusCode as e:
                status = e.status_code
            C.check("base path: stream outside the base -> 404", status == 404, str(status))
        rt.run(ws_part(), 15)

        rc = wsproto.RawClient(d.ws_url, 5)
        try:
            rc.handshake()
            t1 = time.monotonic()
            pings, ev = 0, ("timeout",)
            while time.monotonic() - t1 < 6:
                ev = rc.next_event(t1 + 6)
                if ev[0] != "ping":
                    break
                pings += 1
            took = time.monotonic() - t1
            C.check("ping timeout (2 s, never ponged): Tornado's empty close after ~2.5 s",
                    ev[0] == "close" and ev[1] is None and pings >= 3 and 1.5 < took < 5,
                    "%s after %.1f s, %d pings" % (wsproto.describe(ev), took, pings))
        except (wsproto.HandshakeError, wsproto.ProtocolViolation, OSError) as e:
            C.check("ping timeout", False, str(e))
        finally:
            rc.close()
    finally:
        d.stop()


def unix_socket():
    d = rt.Double(unix=True)
    try:
        r = http(d.addr(), "GET", "/_stcore/health")
        C.check("unix socket: health 200 ok", r.status == 200 and r.body == b"ok", repr(r))

        async def ws_part():
            async with rt.ws_connect("ws://localhost/_stcore/stream", unix=d.unix) as ws:
                await ws.send(b"over unix")
                C.check("unix socket: WebSocket echo, subprotocol streamlit", ws.subprotocol == "streamlit"
                        and await asyncio.wait_for(ws.recv(), 3) == b"over unix")
        rt.run(ws_part(), 10)
    finally:
        d.stop()
    C.check("unix socket: removed on exit", not os.path.exists(d.unix))


def chromium_page(d):
    """Headless Chromium runs the page: health, host-config, an upload with
    the cookie's token, the WebSocket with both subprotocols, messages
    checked by sha256; the page reports through the WebSocket."""
    sizes = [38, 1000000]
    br = rt.Chromium(d.url + "/?send=%s&upload=1000&report=1" % ",".join(map(str, sizes)))
    try:
        if br.proc is None:
            C.check("chromium installed at " + br.EXE, False, "apt-get install chromium")
            return
        rep = d.wait_record(lambda r: True, timeout=40, kind="report")
    finally:
        br.stop()
    rep = rep["report"] if rep else {}
    want = [[4, hashlib.sha256(b"\x0a\x02\x08\x01").hexdigest()]] + [
        [n, hashlib.sha256(payload(rt.send_seed(i, n), n)).hexdigest()] for i, n in enumerate(sizes)]
    C.check("chromium: page reported (health 200, host-config, upload 204, cookie, 'streamlit')",
            rep.get("health") == "200" and rep.get("hostconfig", "").startswith("allowedOrigins")
            and rep.get("upload") == "204" and rep.get("cookie") is True
            and rep.get("protocol") == "streamlit", str(rep)[:300])
    C.check("chromium: first-message echo and CMD send 38 B / 1 MB intact (sha256)",
            rep.get("messages") == want, str(rep.get("messages")))


def main():
    start = time.monotonic()
    d = rt.Double("--ping-interval", "1", "--max-upload", str(1024 * 1024))
    try:
        http_routes(d)
        uploads(d)
        media(d)
        components(d)
        try:
            out = rt.run(ws_checks(d), 30)
        except (asyncio.TimeoutError, OSError, wsexc.WebSocketException) as e:
            C.check("ws: session", False, repr(e))
            out = {}
        ws_records(d, out)
        raw_ws(d)
        chromium_page(d)
    finally:
        rc = d.stop()
    C.check("double exits 0 on SIGTERM", rc == 0, str(rc))
    C.check("double logged no traceback", "Traceback" not in d.text(),
            "\n".join(ln for ln in d.err if "Error" in ln or "Traceback" in ln)[:500])
    base_and_timers()
    unix_socket()
    print("took %.1f s" % (time.monotonic() - start))
    return C.done()


if __name__ == "__main__":
    sys.exit(main())
