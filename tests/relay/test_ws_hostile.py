#!/usr/bin/python3
"""wsg-relay's WebSocket side against hostile clients and upstreams
(shared/THREATS.md), with real processes. Each case asserts the status or
close code, the relay's audit event (JSON lines on its stdout, control id)
and, from the double's record (or a scripted upstream's bytes), that nothing
reached the upstream: T5 slowloris upgrade heads, T6 fake upgrades from the
upstream, T7 smuggling headers on the upgrade, T8 frames pipelined after
the upgrade head, T9 Origin/Host allowlists, T10 unmasked frames, T11
invalid UTF-8, T12 ping floods, T13 reserved bits and opcodes, T15 spoofed
forwarding and identity headers (and the trusted front end's identity as
X-Streamlit-User)."""
import base64
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relaytest as rt  # noqa: E402
from relaytest import (  # noqa: E402
    FakeUpstream, accept_for, ev_is, events, header_map, http, key_of, new_events, sha,
    ws_count, wsproto)
from relaytest import RawWs as Raw, raw_ws as raw_session  # noqa: E402

C = rt.Checks("relay-ws-hostile (wsg-relay's WebSocket side, THREATS.md T5-T15)")
TOKEN = "PLACEHOLDER_AUTH_TOKEN"
# Secrets that must never show in the relay's output.
SESSION_ID = "sess-" + os.urandom(12).hex()
COOKIE_SECRET = "ck" + os.urandom(12).hex()
# What a browser sends on every upgrade here: the credentials that must
# never show in an audit event, refusals and violations included.
SECRET_HEADERS = [("Sec-WebSocket-Protocol", "streamlit, %s, %s" % (TOKEN, SESSION_ID)),
                  ("Cookie", "_streamlit_xsrf=2|%s|x|1" % COOKIE_SECRET)]
RELAYS = []   # every relay started: their output is searched for secrets


def relay(d, *args):
    rl = rt.Relay(d, *args)
    RELAYS.append(rl)
    return rl


def slowloris(d, rl):
    """T5: half an upgrade head under --handshake-timeout 1: dropped, H7."""
    before = ws_count(d)
    n_h7 = len(events(rl, lambda e: e.get("control") == "H7", 0, 0))
    rc = Raw(rl.port)
    t0 = time.monotonic()
    rc.send(b"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConn")
    ev = rc.until(4)
    dt = time.monotonic() - t0
    rc.close()
    C.check("T5: half an upgrade head -> connection dropped after ~1 s (--handshake-timeout 1)",
            ev[0] in ("eof", "reset") and 0.7 < dt < 3, "%s after %.2f s" % (ev[0], dt))
    evs = events(rl, lambda e: e.get("control") == "H7", n_h7 + 1)
    C.check("T5: audit event H7", len(evs) == n_h7 + 1, str(rl.events()[-3:]))
    # Trickled byte by byte: the deadline counts from the first byte.
    rc = Raw(rl.port)
    t0 = time.monotonic()
    for ch in b"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nX-Slow: aaaaaaaaaaaaaaaa":
        if not rc.send(bytes([ch])) or time.monotonic() - t0 > 3:
            break
        time.sleep(0.05)
    ev = rc.until(3)
    dt = time.monotonic() - t0
    rc.close()
    C.check("T5: an upgrade head trickled byte by byte is cut at the deadline",
            ev[0] in ("eof", "reset") and dt < 3.5, "%s after %.2f s" % (ev[0], dt))
    time.sleep(0.2)
    C.check("T5: nothing reached the double", ws_count(d) == before)


def fake_upgrade():
    """T6: the relay tunnels only after a valid 101 for its own key."""
    up = FakeUpstream()
    rl = relay(up, "--upstream-timeout", "3")
    cases = [
        ("200 OK", lambda h: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ("101 with a wrong Sec-WebSocket-Accept", lambda h:
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_for("dGhlIHNhbXBsZSBub25jZQ==").encode() +
            b"\r\nSec-WebSocket-Protocol: streamlit\r\n\r\n"),
        ("101 without Upgrade: websocket", lambda h:
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_for(key_of(h)).encode() + b"\r\n\r\n"),
        ("101 selecting a subprotocol never offered", lambda h:
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_for(key_of(h)).encode() +
            b"\r\nSec-WebSocket-Protocol: evil\r\n\r\n"),
    ]
    try:
        for name, reply in cases + [("valid 101 (control)", lambda h:
                                     b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                                     accept_for(key_of(h)).encode() +
                                     b"\r\nSec-WebSocket-Protocol: streamlit\r\n\r\n")]:
            up.reply = reply
            n = len(up.conns)
            n_ev = len(rl.events())
            rc = Raw(rl.port)
            pipelined = wsproto.frame(wsproto.OP_BINARY, b"T6 client frame " * 8)
            status = rc.upgrade([("Sec-WebSocket-Protocol", "streamlit, " + TOKEN)], extra=pipelined)
            if status == 101:
                rc.send(wsproto.frame(wsproto.OP_BINARY, b"after the 101"))
            time.sleep(0.5)
            rc.close()
            recs = up.conns[n:]
            head = recs[0][0] if recs else b""
            after = bytes(recs[0][1]) if recs else b""
            if name.startswith("valid"):
                C.check("T6 control: a valid 101 -> 101 to the browser and its frames flow",
                        status == 101 and rc.accept_ok() and len(after) > 0, "%s %r" % (status, after[:40]))
                continue
            C.check("T6: upstream %s -> 502" % name, status == 502, str(status))
            C.check("T6: upstream %s: it got the relay's own key, no client frame byte" % name,
                    len(recs) == 1 and key_of(head) and key_of(head) != rc.key and after == b"",
                    "%d conns, after head: %r" % (len(recs), after[:60]))
            evs = events(rl, lambda e: e.get("event") == "refuse" and e.get("status") == 502, 1)
            C.check("T6: upstream %s: audit refuse 502" % name,
                    any(e.get("status") == 502 for e in rl.events()[n_ev:]), str(evs[-1:]))
    finally:
        rl.stop()
        up.close()


def smuggling(d, rl):
    """T7: framing headers on the upgrade, duplicates: 400, nothing upstream."""
    k = base64.b64encode(os.urandom(16)).decode()
    base = ("GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" % rl.port)
    cases = [
        ("Content-Length on the upgrade", base + "Sec-WebSocket-Key: %s\r\nContent-Length: 5\r\n\r\nhello" % k),
        ("Transfer-Encoding on the upgrade", base + "Sec-WebSocket-Key: %s\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % k),
        ("two Sec-WebSocket-Keys", base + "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Key: %s\r\n\r\n" % (k, k)),
        ("two Hosts", base + "Host: evil.example\r\nSec-WebSocket-Key: %s\r\n\r\n" % k),
        ("obs-fold", base + "Sec-WebSocket-Key: %s\r\nX-A: 1\r\n 2\r\n\r\n" % k),
        ("bare LF", base.replace("\r\n", "\n") + "Sec-WebSocket-Key: %s\n\n" % k),
    ]
    before_ws, before_http = ws_count(d), len(d.records("http"))
    for name, head in cases:
        n_ev = len(rl.events())
        rc = Raw(rl.port)
        status = rc.upgrade(head=head.encode())
        closed = rc.body_then_eof(3)
        rc.close()
        C.check("T7: %s -> 400, then closed" % name, status == 400 and closed, "%s %s" % (status, closed))
        evs = new_events(rl, n_ev, lambda e: e.get("event") == "refuse" and e.get("status") == 400
                         and e.get("control"))
        C.check("T7: %s: audit refuse 400 with a control id" % name, len(evs) == 1, str(rl.events()[n_ev:]))
    time.sleep(0.3)
    C.check("T7: none reached the double (no WebSocket, no request)",
            ws_count(d) == before_ws and len(d.records("http")) == before_http,
            str(d.records()[-2:])[:300])


def pipelined(d, rl):
    """T8: frames in the same write as the upgrade head: delivered after
    the 101, once, in order."""
    msgs = [b"T8-first-" + os.urandom(8).hex().encode(), b"T8-second-" + os.urandom(400).hex().encode(),
            b"T8-third"]
    extra = b"".join(wsproto.frame(wsproto.OP_BINARY, m) for m in msgs)
    rc = Raw(rl.port)
    try:
        status = rc.upgrade([("Sec-WebSocket-Protocol", "streamlit, " + TOKEN)], extra=extra)
        got = []
        for _ in msgs:
            ev = rc.until(5, ("message",))
            got.append(ev[2] if ev[0] == "message" else ev)
        rc.send(wsproto.frame(wsproto.OP_CLOSE, wsproto.close_payload(1000)))
        rc.until(3)
    finally:
        rc.close()
    C.check("T8: frames pipelined after the upgrade head: 101, then echoed in order",
            status == 101 and got == msgs, "%s %r" % (status, [g[:12] for g in got]))
    recs = [d.wait_record(lambda r, m=m: r.get("sha256") == sha(m), kind="ws_msg") for m in msgs]
    all_msgs = d.records("ws_msg")
    seen = [[r for r in all_msgs if r["sha256"] == sha(m)] for m in msgs]
    C.check("T8: each reached the double once, in order, on one connection",
            all(len(s) == 1 for s in seen) and all(recs)
            and len({r["conn"] for r in recs}) == 1
            and [all_msgs.index(r) for r in recs] == sorted(all_msgs.index(r) for r in recs),
            str([len(s) for s in seen]))


def origin_host():
    """T9: exact Origin and Host allowlists: 403 and no upstream connection
    (a counting upstream proves it)."""
    up = FakeUpstream()
    up.reply = lambda h: (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Accept: " + accept_for(key_of(h)).encode() +
                          b"\r\nSec-WebSocket-Protocol: streamlit\r\n\r\n")
    rl = relay(up, "--allow-origin", "https://app.example", "--allow-host", "app.example")
    try:
        cases = [
            ("foreign Origin", [("Origin", "https://evil.example")], "app.example"),
            ("Origin differing in scheme", [("Origin", "http://app.example")], "app.example"),
            ("Origin differing in port", [("Origin", "https://app.example:8443")], "app.example"),
            ("no Origin", [], "app.example"),
            ("foreign Host (DNS rebinding)", [("Origin", "https://app.example")], "evil.example"),
            ("loopback Host", [("Origin", "https://app.example")], "127.0.0.1:%d" % rl.port),
        ]
        for name, hdrs, host in cases:
            n = len(up.conns)
            n_ev = len(rl.events())
            rc = Raw(rl.port)
            status = rc.upgrade(hdrs + SECRET_HEADERS, host=host)
            rc.close()
            time.sleep(0.2)
            C.check("T9: %s -> 403, no upstream connection" % name,
                    status == 403 and len(up.conns) == n, "%s, %d upstream" % (status, len(up.conns) - n))
            evs = [e for e in events(rl, lambda e: True, n_ev + 1, 2)[n_ev:]]
            C.check("T9: %s: audit refuse H2 403" % name,
                    any(e.get("event") == "refuse" and e.get("control") == "H2" and e.get("status") == 403
                        for e in evs), str(evs))
        n = len(up.conns)
        rc = Raw(rl.port)
        status = rc.upgrade([("Origin", "https://app.example")] + SECRET_HEADERS, host="app.example")
        rc.close()
        time.sleep(0.2)
        C.check("T9 control: allowed Origin and Host -> 101, one upstream connection",
                status == 101 and len(up.conns) == n + 1, "%s %d" % (status, len(up.conns) - n))
        r = http(rl.port, "GET", "/_wsguard/metrics")
        m = re.search(r'^wsg_relay_refusals_total\{control="H2"\} (\d+)$', r.body.decode(errors="replace"), re.M)
        C.check("metrics: refusals counted by control id (H2 = %d)" % len(cases),
                r.status == 200 and m and int(m.group(1)) == len(cases), m.group(0) if m else r.body[:300])
    finally:
        rl.stop()
        up.close()


def frames_hostile(d, rl):
    """T11 (invalid UTF-8: 1007), T13 (RSV bits, opcodes: 1002), T10
    (unmasked: 1002): nothing reaches the double."""
    cases = [
        ("T11: invalid UTF-8 text", wsproto.frame(wsproto.OP_TEXT, b"T11 bad \xc3\x28 utf8"), 1007,
         b"T11 bad \xc3\x28 utf8"),
        ("T11: overlong encoding", wsproto.frame(wsproto.OP_TEXT, b"T11 \xc0\xaf overlong"), 1007,
         b"T11 \xc0\xaf overlong"),
        ("T11: UTF-16 surrogate", wsproto.frame(wsproto.OP_TEXT, b"T11 \xed\xa0\x80 surrogate"), 1007,
         b"T11 \xed\xa0\x80 surrogate"),
        ("T11: invalid byte in a continuation fragment",
         wsproto.frame(wsproto.OP_TEXT, b"T11 ok part ", fin=False) +
         wsproto.frame(wsproto.OP_CONT, b"\xff bad", fin=True), 1007, b"T11 ok part \xff bad"),
        ("T11: orphan continuation", wsproto.frame(wsproto.OP_CONT, b"T11 orphan"), 1002, b"T11 orphan"),
        ("T13: RSV1 set (no extension)", wsproto.frame(wsproto.OP_BINARY, b"T13 rsv1", rsv=4), 1002,
         b"T13 rsv1"),
        ("T13: RSV3 set", wsproto.frame(wsproto.OP_BINARY, b"T13 rsv3", rsv=1), 1002, b"T13 rsv3"),
        ("T13: reserved data opcode 0x3", wsproto.frame(3, b"T13 op3"), 1002, b"T13 op3"),
        ("T13: reserved control opcode 0xB", wsproto.frame(0xB, b"T13 opB"), 1002, b"T13 opB"),
        ("T10: unmasked client frame", wsproto.frame(wsproto.OP_BINARY, b"T10 unmasked", mask=False), 1002,
         b"T10 unmasked"),
    ]
    for name, data, want, body in cases:
        before = ws_count(d)
        n_ev = len(rl.events())
        rc = raw_session(rl.port, SECRET_HEADERS)
        try:
            ok = rc.status == 101
            if ok:
                rc.send(wsproto.frame(wsproto.OP_BINARY, b"ok before"))
                ev = rc.until(5, ("message",))
                ok = ev[0] == "message"
                rc.send(data)
                code = rc.close_code(5)
            else:
                code = rc.status
        finally:
            rc.close()
        C.check("%s -> close %d" % (name, want), ok and code == want, str(code))
        conn = d.wait_record(lambda r: r.get("sha256") == sha(b"ok before"), kind="ws_msg")
        time.sleep(0.1)
        seen = [m for m in d.records("ws_msg") if m.get("sha256") == sha(body)
                or (conn and m.get("conn") == conn["conn"] and m.get("sha256") != sha(b"ok before"))]
        C.check("%s: nothing of it reached the double" % name, ws_count(d) == before + 1 and not seen,
                str(seen))
        vio = new_events(rl, n_ev, ev_is("violation", control="H4", close_code=want))
        cl = new_events(rl, n_ev, ev_is("close", close_code=want))
        C.check("%s: audit violation (H4, %d) and close events" % (name, want),
                len(vio) == 1 and len(cl) == 1, str(rl.events()[n_ev:]))


def ping_flood(d):
    """T12: --control-rate 5: a ping flood gets 1008; pings never reach the double."""
    rl = relay(d, "--control-rate", "5")
    try:
        rc = raw_session(rl.port, [("Sec-WebSocket-Protocol", "streamlit, " + TOKEN)])
        try:
            rc.send(wsproto.frame(wsproto.OP_BINARY, b"T12 before flood"))
            ok = rc.until(5, ("message",))[0] == "message"
            rc.send(b"".join(wsproto.frame(wsproto.OP_PING, b"p%d" % i) for i in range(50)))
            code = None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                ev = rc.until(deadline - time.monotonic(), ("close", "pong"))
                if ev[0] != "pong":
                    code = ev[1] if ev[0] == "close" else ev[0]
                    break
        finally:
            rc.close()
        C.check("T12: 50 pings at once with --control-rate 5 -> close 1008", ok and code == 1008, str(code))
        conn = d.wait_record(lambda r: r.get("sha256") == sha(b"T12 before flood"), kind="ws_msg")
        C.check("T12: the browser's pings never reached the double (each leg answers its own)",
                conn and not [p for p in d.records("ws_ping") if p.get("conn") == conn["conn"]],
                str(d.records("ws_ping")[-3:]))
        evs = events(rl, lambda e: e.get("event") in ("violation", "close") and e.get("control") == "H6")
        C.check("T12: audit event with control H6", evs, str(rl.events()[-3:]))
        m = re.search(r'^wsg_relay_violations_total\{control="H6"\} (\d+)$',
                      http(rl.port, "GET", "/_wsguard/metrics").body.decode(errors="replace"), re.M)
        C.check("T12: metrics count the violation (H6)", m and int(m.group(1)) == 1, m.group(0) if m else "")
    finally:
        rl.stop()


def identity(d, rl):
    """T15 with a trusted front end: the identity header becomes X-Streamlit-User."""
    rl2 = relay(d, "--trusted-proxy", "127.0.0.1/32", "--identity-header", "X-MS-CLIENT-PRINCIPAL-NAME")
    try:
        name = "alice.o'hara@example.com"
        rc = raw_session(rl2.port, [("Sec-WebSocket-Protocol", "streamlit, " + TOKEN),
                                    ("X-MS-CLIENT-PRINCIPAL-NAME", name),
                                    ("X-Forwarded-For", "203.0.113.7"),
                                    ("X-Streamlit-User", "eyJlbWFpbCI6ImV2aWxAZXhhbXBsZS5jb20ifQ=="),
                                    ("X-Mark", "identity-1")])
        try:
            rc.send(wsproto.frame(wsproto.OP_BINARY, b"identity-1 msg"))
            ok = rc.until(5, ("message",))[0] == "message"
            rc.send(wsproto.frame(wsproto.OP_CLOSE, wsproto.close_payload(1000)))
            rc.until(3)
        finally:
            rc.close()
        msg = d.wait_record(lambda r: r.get("sha256") == sha(b"identity-1 msg"), kind="ws_msg")
        op = [o for o in d.records("ws_open") if msg and o.get("conn") == msg["conn"]]
        hs = header_map(op[0]["headers"]) if op else {}
        want = base64.b64encode(json.dumps({"email": name}, separators=(",", ":")).encode()).decode()
        users = hs.get("x-streamlit-user", [])
        try:
            decoded = json.loads(base64.b64decode(users[0])) if len(users) == 1 else None
        except ValueError:
            decoded = None
        C.check("T15 identity: 101 through a trusted proxy", rc.status == 101 and ok, str(rc.status))
        C.check("T15 identity: the double sees one X-Streamlit-User = base64 {\"email\": name}",
                len(users) == 1 and decoded == {"email": name}, "%s (want %s)" % (users, want))
        C.check("T15 identity: the identity header itself and X-Forwarded-For not forwarded",
                "x-ms-client-principal-name" not in hs and "x-forwarded-for" not in hs, str(hs))
        evs = events(rl2, ev_is("open"))
        C.check("T15 identity: audit client from the trusted X-Forwarded-For, subject the name",
                evs and evs[0].get("client") == "203.0.113.7" and evs[0].get("subject") == name, str(evs))
        before = ws_count(d)
        rc = Raw(rl2.port)
        status = rc.upgrade([("Sec-WebSocket-Protocol", "streamlit, " + TOKEN),
                             ("X-Streamlit-User", "eyJlbWFpbCI6ImV2aWxAZXhhbXBsZS5jb20ifQ==")])
        rc.close()
        time.sleep(0.2)
        C.check("T15 identity: without the identity header -> 401, nothing upstream (H3)",
                status == 401 and ws_count(d) == before, str(status))
    finally:
        rl2.stop()
    # Without a trusted proxy, the identity header of a client is not believed.
    rc = raw_session(rl.port, [("Sec-WebSocket-Protocol", "streamlit, " + TOKEN),
                               ("X-MS-CLIENT-PRINCIPAL-NAME", "mallory@example.com"),
                               ("X-Streamlit-User", "eyJlbWFpbCI6Im1hbGxvcnkifQ=="),
                               ("X-Mark", "identity-2")])
    try:
        rc.send(wsproto.frame(wsproto.OP_BINARY, b"identity-2 msg"))
        rc.until(5, ("message",))
    finally:
        rc.close()
    msg = d.wait_record(lambda r: r.get("sha256") == sha(b"identity-2 msg"), kind="ws_msg")
    op = [o for o in d.records("ws_open") if msg and o.get("conn") == msg["conn"]]
    hs = header_map(op[0]["headers"]) if op else {}
    C.check("T15: untrusted client's X-Streamlit-User and identity header never reach the double",
            op and "x-streamlit-user" not in hs and "x-ms-client-principal-name" not in hs, str(hs))


def secrets_never_logged():
    rt.check_secrets_never_logged(C, RELAYS, (TOKEN, SESSION_ID, COOKIE_SECRET))


def main():
    start = time.monotonic()
    rt.quiet_asan_quarantine()
    d = rt.Double()
    rl = relay(d)
    try:
        for fn in (smuggling, pipelined, frames_hostile, identity):
            rt.guarded(C, fn, d, rl)
        rh = relay(d, "--handshake-timeout", "1")
        try:
            rt.guarded(C, slowloris, d, rh)
        finally:
            rh.stop()
        rt.guarded(C, ping_flood, d)
        rt.guarded(C, fake_upgrade)
        rt.guarded(C, origin_host)
    finally:
        rc = rl.stop()
        d.stop()
    C.check("relay exits 0 on SIGTERM", rc == 0, str(rc))
    C.check("the double logged no traceback", "Traceback" not in d.text(), d.text()[-500:])
    secrets_never_logged()
    print("took %.1f s" % (time.monotonic() - start))
    return C.done()


if __name__ == "__main__":
    sys.exit(main())
