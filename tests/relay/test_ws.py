#!/usr/bin/python3
"""wsg-relay's WebSocket side with real processes: wsg-relay in front of the
Streamlit double. The upgrade as forwarded (subprotocol list, Cookie, Host,
Origin, User-Agent verbatim, a key of the relay's own, forged forwarding and
identity headers dropped), the browser's 101 (Streamlit's selection, its
Set-Cookie, security headers), round trips from 38 B to 50 MB in bounded
relay memory, backpressure between the legs both ways, each leg's own
pings, close codes across legs, the per-direction limits, headless Chromium
through the relay (and refused on a foreign Origin), the upstream killed and
restarted, the SIGTERM drain, the metrics and health endpoints, and the
audit trail (open/close events, never the subprotocol entries past the
first, never cookies). The double's record file proves what did or did not
reach the upstream. The hostile cases (T5-T13, T15) are test_ws_hostile.py."""
import asyncio
import base64
import hashlib
import json
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relaytest as rt  # noqa: E402
from relaytest import (  # noqa: E402
    cmd, ev_is, events, header_map, http, metric, msgs_with, new_events, payload,
    reset_hwm, rss_kb, sha, wsproto)
from relaytest import raw_ws as raw_session  # noqa: E402
import websockets.exceptions as wsexc  # noqa: E402

C = rt.Checks("relay-ws (wsg-relay's WebSocket side in front of the double)")
MIB = 1024 * 1024
MB = 1000 * 1000
TOKEN = "PLACEHOLDER_AUTH_TOKEN"
# Secrets that must never show in the relay's output.
SESSION_ID = "sess-" + os.urandom(12).hex()
COOKIE_SECRET = "ck" + os.urandom(12).hex()
SEC_HEADERS = ("Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
               "Referrer-Policy", "Content-Security-Policy", "Permissions-Policy")
RELAYS = []   # every relay started: their output is searched for secrets


def relay(d, *args):
    rl = rt.Relay(d, *args)
    RELAYS.append(rl)
    return rl


def upgrade_headers(d, rl):
    origin = "http://127.0.0.1:%d" % rl.port
    ua = "Mozilla/5.0 (relay-ws test) Chrome/120"
    cookie = "ARRAffinity=aff1; _streamlit_xsrf=2|%s|x|1; other=%s" % (COOKIE_SECRET, COOKIE_SECRET)
    before = len(d.records("ws_open"))
    rc = raw_session(rl.port, [("Origin", origin), ("User-Agent", ua), ("Cookie", cookie),
                               ("Sec-WebSocket-Protocol", "streamlit, " + TOKEN),
                               ("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Host", "evil.example"),
                               ("X-Forwarded-Proto", "https"), ("X-Client-IP", "6.6.6.6"),
                               ("X-Real-IP", "6.6.6.6"), ("Forwarded", "for=6.6.6.6"),
                               ("X-Streamlit-User", "eyJlbWFpbCI6ImV2aWxAZXhhbXBsZS5jb20ifQ=="),
                               ("X-Mark", "upgrade-1")])
    try:
        C.check("101 with a valid Sec-WebSocket-Accept for the browser's key",
                rc.status == 101 and rc.accept_ok(), "%s %s" % (rc.status, rc.headers))
        C.check("101 selects 'streamlit' (Streamlit's selection)",
                rc.headers.get("sec-websocket-protocol") == ["streamlit"], str(rc.headers))
        C.check("101 carries the double's Set-Cookie (_streamlit_xsrf)",
                any(v.startswith(rt.XSRF_COOKIE + "=2|") for v in rc.headers.get("set-cookie", [])),
                str(rc.headers.get("set-cookie")))
        C.check("101 carries every security header, no Server",
                all(rc.h(h) for h in SEC_HEADERS) and rc.h("Server") is None, str(rc.headers))
        rc.send(wsproto.frame(wsproto.OP_BINARY, b"upgrade-1 hello"))
        ev = rc.until(5, ("message",))
        C.check("raw session: binary echo through the relay",
                ev[0] == "message" and ev[2] == b"upgrade-1 hello", wsproto.describe(ev))
        rc.send(wsproto.frame(wsproto.OP_CLOSE, wsproto.close_payload(1000)))
        ev = rc.until(5)
        C.check("close 1000 from the browser: 1000 back", ev[0] == "close" and ev[1] == 1000,
                wsproto.describe(ev))
    finally:
        rc.close()
    rec = d.wait_record(lambda r: ["X-Mark", "upgrade-1"] not in r.get("headers", []) and
                        ["Cookie", cookie] in r.get("headers", []), kind="ws_open")
    opens = d.records("ws_open")[before:]
    C.check("one upstream WebSocket for the upgrade", rec is not None and len(opens) == 1, str(opens)[:300])
    rec = rec or {}
    hs = header_map(rec.get("headers", []))
    C.check("upstream: subprotocol list exact (header and as parsed)",
            rec.get("subprotocols") == ["streamlit", TOKEN]
            and hs.get("sec-websocket-protocol") == ["streamlit, " + TOKEN], str(rec)[:400])
    C.check("upstream: Host as sent", hs.get("host") == ["127.0.0.1:%d" % rl.port], str(hs.get("host")))
    C.check("upstream: Origin, User-Agent, Cookie as sent (once each)",
            hs.get("origin") == [origin] and hs.get("user-agent") == [ua] and hs.get("cookie") == [cookie],
            str(hs))
    C.check("upstream: a Sec-WebSocket-Key of the relay's own",
            hs.get("sec-websocket-key") and hs["sec-websocket-key"] != [rc.key]
            and len(base64.b64decode(hs["sec-websocket-key"][0])) == 16, str(hs.get("sec-websocket-key")))
    forged = [k for k in ("x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-client-ip",
                          "x-real-ip", "forwarded", "x-streamlit-user", "x-mark") if k in hs]
    C.check("upstream: no client-sent X-Forwarded-*/X-Client-IP/X-Real-IP/Forwarded/X-Streamlit-User "
            "(T15), nor other headers", forged == [], str(forged))
    C.check("upstream: the same path, path and query", rec.get("path") == "/_stcore/stream", str(rec.get("path")))
    ev = events(rl, lambda e: e.get("event") == "open" and e.get("peer", "").startswith("127.0.0.1:"))
    C.check("T15: audit 'open' client is the socket peer (X-Forwarded-For/X-Client-IP not believed)",
            ev and all(e.get("client") == "127.0.0.1" for e in ev), str(ev))

    # Three entries (the session to resume: a credential), and a query.
    async def three():
        async with rt.ws_connect(rl.ws_url + "?embed=true", subprotocols=["streamlit", TOKEN, SESSION_ID]) as ws:
            await ws.send(cmd({"info": True}))
            return ws.subprotocol, json.loads((await asyncio.wait_for(ws.recv(), 5))[5:])
    try:
        sub, info = rt.run(three(), 15)
    except (asyncio.TimeoutError, OSError, wsexc.WebSocketException, ValueError) as e:
        sub, info = None, {"error": repr(e)}
    C.check("3-entry list: forwarded exactly, 'streamlit' selected",
            sub == "streamlit" and info.get("subprotocols") == ["streamlit", TOKEN, SESSION_ID]
            and info.get("selected") == "streamlit", str(info)[:300])
    rec = d.wait_record(lambda r: r.get("subprotocols") == ["streamlit", TOKEN, SESSION_ID], kind="ws_open")
    C.check("3-entry list: path and query forwarded", rec and rec.get("query") == "embed=true", str(rec)[:200])


def round_trips(d, rl):
    sizes = [38, 1000, 24000, 65535, 65536, 70000, MIB, 5 * MIB]

    async def go():
        out = {}
        async with rt.ws_connect(rl.ws_url) as ws:
            for m in (b"\x0a\x02\x08\x01", os.urandom(300000)):
                await ws.send(m)
                got = await asyncio.wait_for(ws.recv(), 5)
                out.setdefault("echo", []).append(got == m)
            await ws.send("text \u00e9\u4e2d\U0001F600")
            out["text"] = await asyncio.wait_for(ws.recv(), 5)
            await ws.send(cmd({"send": [{"size": n} for n in sizes]}))
            got = []
            for _ in sizes:
                got.append(await asyncio.wait_for(ws.recv(), 15))
            out["sizes"] = [(len(g), g == payload(rt.send_seed(i, n), n)) for i, (n, g) in
                            enumerate(zip(sizes, got))]
            # 50 MB in one message, streamed through the relay.
            pid = rl.proc.pid
            out["hwm_reset"] = reset_hwm(pid)
            out["rss0"] = rss_kb(pid)
            t0 = time.monotonic()
            await ws.send(cmd({"send": [{"size": 50 * MB, "seed": "big-50"}]}))
            big = await asyncio.wait_for(ws.recv(), 60)
            out["dt"] = time.monotonic() - t0
            out["hwm"] = rss_kb(pid, "VmHWM")
            out["big"] = (len(big), sha(big) == sha(payload("big-50", 50 * MB)))
            del big
        return out
    try:
        out = rt.run(go(), 90)
    except (asyncio.TimeoutError, OSError, wsexc.WebSocketException) as e:
        C.check("round trips: session", False, repr(e))
        return
    C.check("echo: 4 B and 300 kB binary", out["echo"] == [True, True], str(out["echo"]))
    C.check("echo: UTF-8 text as text", out["text"] == "text \u00e9\u4e2d\U0001F600", repr(out["text"]))
    C.check("CMD send 38 B .. 5 MiB: every message byte for byte",
            out["sizes"] == [(n, True) for n in sizes], str(out["sizes"]))
    C.check("50 MB server message reaches the client intact", out["big"] == (50 * MB, True),
            "%s in %.1f s" % (out["big"], out["dt"]))
    growth = out["hwm"] - out["rss0"]
    C.check("50 MB message: relay peak RSS grew < 16 MB (VmHWM%s)" %
            (" reset before" if out["hwm_reset"] else ""), out["rss0"] > 0 and growth < 16 * 1024,
            "baseline %d kB, peak %d kB" % (out["rss0"], out["hwm"]))

    # Browser -> Streamlit: max-message 1 MiB (policy default): 1009, nothing reaches the double.
    big_up = payload("up-2mb", 2 * MIB)
    frag = [big_up[i:i + 256 * 1024] for i in range(0, len(big_up), 256 * 1024)]

    async def too_big(fragmented):
        async with rt.ws_connect(rl.ws_url) as ws:
            await ws.send(iter(frag) if fragmented else big_up)
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except wsexc.ConnectionClosed:
                pass
            return ws.close_code
    n_ev = len(rl.events())
    up_bytes = metric(http(rl.port, "GET", "/_wsguard/metrics").body.decode(errors="replace"),
                      "wsg_relay_ws_bytes_total", '{direction="to_upstream"}')
    for fragmented in (False, True):
        name = "2 MiB client message%s" % (" in 8 fragments" if fragmented else "")
        try:
            code = rt.run(too_big(fragmented), 15)
        except (asyncio.TimeoutError, OSError, wsexc.WebSocketException) as e:
            code = repr(e)
        C.check(name + " -> close 1009", code == 1009, str(code))
        # One 2 MiB frame is refused from its header; in fragments, the
        # browser's messages are forwarded only whole (H13): either way not
        # one byte of it is relayed.
        time.sleep(0.2)
        after = metric(http(rl.port, "GET", "/_wsguard/metrics").body.decode(errors="replace"),
                       "wsg_relay_ws_bytes_total", '{direction="to_upstream"}')
        C.check(name + ": 0 bytes relayed upstream",
                None not in (up_bytes, after) and after == up_bytes, "%s -> %s" % (up_bytes, after))
    time.sleep(0.3)
    C.check("2 MiB client messages: no message of them reached the double",
            not msgs_with(d, sha(big_up)) and not [m for m in d.records("ws_msg") if m["length"] >= MIB],
            str([m for m in d.records("ws_msg") if m["length"] >= MIB])[:200])
    evs = new_events(rl, n_ev, ev_is("violation", control="H5", close_code=1009, path="/_stcore/stream"), 2)
    C.check("2 MiB client messages: audit violation events (H5, 1009)", len(evs) == 2, str(rl.events()[n_ev:]))
    m = re.search(r'^wsg_relay_violations_total\{control="H5"\} (\d+)$',
                  http(rl.port, "GET", "/_wsguard/metrics").body.decode(errors="replace"), re.M)
    C.check("2 MiB client messages: metrics count them (violations H5 = 2)", m and int(m.group(1)) == 2,
            m.group(0) if m else "no H5 line")


def binary_only(d):
    rl = relay(d, "--client-binary-only")
    try:
        rc = raw_session(rl.port, [("Sec-WebSocket-Protocol", "streamlit, " + TOKEN)])
        try:
            rc.send(wsproto.frame(wsproto.OP_BINARY, b"bin-ok"))
            ev = rc.until(5, ("message",))
            ok = ev[0] == "message" and ev[2] == b"bin-ok"
            rc.send(wsproto.frame(wsproto.OP_TEXT, b"text-refused-1003"))
            code = rc.close_code(5)
        finally:
            rc.close()
        C.check("--client-binary-only: binary passes, text -> close 1003", rc.status == 101 and ok
                and code == 1003, "%s %s" % (ok, code))
        time.sleep(0.2)
        C.check("--client-binary-only: the text message never reached the double",
                not msgs_with(d, sha(b"text-refused-1003")))
        C.check("--client-binary-only: audit event (H9, 1003)",
                events(rl, lambda e: e.get("control") == "H9" and e.get("close_code") == 1003),
                str(rl.events()[-3:]))
    finally:
        rl.stop()


def backpressure(d, rl):
    """Cross-leg backpressure: a browser that does not read holds Streamlit's
    leg (and a Streamlit that does not read holds the browser's) without
    the relay buffering what the other side cannot take."""
    pid = rl.proc.pid
    rc = raw_session(rl.port, [("Sec-WebSocket-Protocol", "streamlit, " + TOKEN)])
    try:
        reset_hwm(pid)
        rss0 = rss_kb(pid)
        rc.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        rc.send(wsproto.frame(wsproto.OP_BINARY, cmd({"send": [{"size": 40 * MB, "seed": "bp-40"}]})))
        time.sleep(2.5)   # the browser reads nothing meanwhile
        hwm = rss_kb(pid, "VmHWM")
        h = hashlib.sha256()
        n = 0
        deadline = time.monotonic() + 30
        while n < 40 * MB:   # now read it, frame by frame
            f = rc.read_frame(deadline)
            if len(f) == 1:
                break
            if f[1] in (wsproto.OP_BINARY, wsproto.OP_CONT):
                h.update(f[2])
                n += len(f[2])
            elif f[1] == wsproto.OP_PING:
                rc.send(wsproto.frame(wsproto.OP_PONG, f[2]))
    finally:
        rc.close()
    C.check("backpressure: a browser not reading for 2.5 s while Streamlit sends 40 MB: "
            "relay peak RSS grew < 16 MB", rss0 > 0 and hwm - rss0 < 16 * 1024,
            "baseline %d kB, peak %d kB" % (rss0, hwm))
    C.check("backpressure: then the 40 MB arrive intact", n == 40 * MB
            and h.hexdigest() == sha(payload("bp-40", 40 * MB)), "%d bytes" % n)

    # Streamlit not reading (the double's 'sleep' stops its reads): the
    # browser's messages wait in the browser's socket, not in the relay.
    msgs = [payload("bp-up-%d" % i, MB) for i in range(30)]

    async def up():
        async with rt.ws_connect(rl.ws_url, write_limit=65536) as ws:
            await ws.send(cmd({"echo": False, "sleep": 3}))
            await asyncio.sleep(0.3)
            reset_hwm(pid)
            rss0 = rss_kb(pid)
            sender = asyncio.ensure_future(asyncio.gather(*[ws.send(m) for m in msgs]))
            await asyncio.sleep(2.0)
            hwm = rss_kb(pid, "VmHWM")
            await asyncio.wait_for(sender, 20)
            await ws.send(cmd({"info": True}))
            await asyncio.wait_for(ws.recv(), 10)
            return rss0, hwm
    try:
        rss0, hwm = rt.run(up(), 40)
    except (asyncio.TimeoutError, OSError, wsexc.WebSocketException) as e:
        rss0, hwm = -1, repr(e)
    C.check("backpressure: 30 MB to a Streamlit not reading for 3 s: relay peak RSS grew < 16 MB",
            isinstance(hwm, int) and rss0 > 0 and hwm - rss0 < 16 * 1024, "baseline %s kB, peak %s kB" % (rss0, hwm))
    d.wait_record(lambda r: r.get("sha256") == sha(msgs[-1]), kind="ws_msg", timeout=5)
    recs = [d.wait_record(lambda r, m=m: r.get("sha256") == sha(m), kind="ws_msg", timeout=0) for m in msgs]
    C.check("backpressure: then all 30 messages reach the double intact, in order",
            all(recs) and [r["t"] for r in recs] == sorted(r["t"] for r in recs),
            "%d of 30" % sum(1 for r in recs if r))


def pings_and_codes(d, rl):
    """Each leg answers its own pings; close codes pass from leg to leg."""
    rc = raw_session(rl.port, [("Sec-WebSocket-Protocol", "streamlit, " + TOKEN)])
    try:
        rc.send(wsproto.frame(wsproto.OP_BINARY, b"pings-1"))
        rc.until(5, ("message",))
        ev = rc.until(2.5, ("ping", "close"))
        msg = d.wait_record(lambda r: r.get("sha256") == sha(b"pings-1"), kind="ws_msg")
        pongs = [p for p in d.records("ws_pong") if msg and p.get("conn") == msg["conn"]]
        C.check("pings: the double's 1 s pings are answered by the relay, never reach the browser",
                ev[0] == "timeout" and len(pongs) >= 2, "%s, %d pongs upstream" % (ev[0], len(pongs)))
        rc.send(wsproto.frame(wsproto.OP_BINARY, cmd({"close": 4000, "reason": "bye from streamlit"})))
        ev = rc.until(5)
        C.check("close codes: Streamlit's 4000 'bye from streamlit' reaches the browser",
                ev[0] == "close" and ev[1] == 4000 and ev[2] == b"bye from streamlit", wsproto.describe(ev))
    finally:
        rc.close()
    rc = raw_session(rl.port, [("Sec-WebSocket-Protocol", "streamlit, " + TOKEN)])
    try:
        rc.send(wsproto.frame(wsproto.OP_BINARY, b"codes-2"))
        rc.until(5, ("message",))
        rc.send(wsproto.frame(wsproto.OP_CLOSE, wsproto.close_payload(4001, "bye from the browser")))
        ev = rc.until(5)
    finally:
        rc.close()
    msg = d.wait_record(lambda r: r.get("sha256") == sha(b"codes-2"), kind="ws_msg")
    cl = d.wait_record(lambda r: msg and r.get("conn") == msg["conn"], kind="ws_close")
    C.check("close codes: the browser's 4001 'bye from the browser' reaches the double, 4001 back",
            cl and cl.get("code") == 4001 and cl.get("reason") == "bye from the browser"
            and ev[0] == "close" and ev[1] == 4001, "%s %s" % (cl, wsproto.describe(ev)))

    rl2 = relay(d, "--ping-interval", "1")
    try:
        rc = raw_session(rl2.port, [("Sec-WebSocket-Protocol", "streamlit, " + TOKEN)])
        try:
            t0 = time.monotonic()
            ev = rc.until(3, ("ping",))
            dt = time.monotonic() - t0
            if ev[0] == "ping":
                rc.send(wsproto.frame(wsproto.OP_PONG, ev[1]) * 3)
            time.sleep(0.3)
            r = http(rl2.port, "GET", "/_wsguard/metrics").body.decode(errors="replace")
        finally:
            rc.close()
        C.check("pings: --ping-interval 1: the relay pings a silent browser within ~1 s",
                ev[0] == "ping" and dt < 2.5, "%s after %.2f s" % (ev[0], dt))
        C.check("pings: the browser's pongs are not relayed as messages",
                metric(r, "wsg_relay_ws_messages_total", '{direction="to_upstream"}') == 0, r[:0])
    finally:
        rl2.stop()


def chromium(d, rl):
    sizes = [38, 1000000]
    before = len(d.records("ws_open"))
    br = rt.Chromium(rl.url + "/?send=%s&report=1" % ",".join(map(str, sizes)))
    try:
        if br.proc is None:
            C.check("chromium installed at " + br.EXE, False, "apt-get install chromium")
            return
        rep = d.wait_record(lambda r: True, timeout=40, kind="report")
    finally:
        br.stop()
    rep = rep["report"] if rep else {}
    want = [[4, sha(b"\x0a\x02\x08\x01")]] + [
        [n, sha(payload(rt.send_seed(i, n), n))] for i, n in enumerate(sizes)]
    C.check("chromium through the relay: page, health 200, protocol 'streamlit'",
            rep.get("health") == "200" and rep.get("protocol") == "streamlit"
            and rep.get("cookie") is True, str(rep)[:300])
    C.check("chromium through the relay: binary round trips intact (sha256)",
            rep.get("messages") == want, str(rep.get("messages")))
    op = d.records("ws_open")[before:]
    hs = header_map(op[0].get("headers", [])) if op else {}
    C.check("chromium: upstream saw ['streamlit', 'PLACEHOLDER_AUTH_TOKEN'] and the page's Origin",
            op and op[0].get("subprotocols") == ["streamlit", TOKEN]
            and hs.get("origin") == ["http://127.0.0.1:%d" % rl.port], str(op)[:300])

    rl2 = relay(d, "--allow-origin", "http://other.example")
    br = rt.Chromium(rl2.url + "/?report=1")
    try:
        evs = events(rl2, ev_is("refuse", control="H2"), 1, timeout=30)
        time.sleep(0.3)
    finally:
        br.stop()
        rl2.stop()
    C.check("chromium, foreign Origin (--allow-origin other): upgrade refused 403, audit refuse H2",
            evs and evs[0].get("status") == 403 and evs[0].get("path") == "/_stcore/stream", str(evs))
    C.check("chromium, foreign Origin: the double recorded no WebSocket",
            len(d.records("ws_open")) == before + len(op), str(d.records("ws_open")[before + len(op):])[:200])


def health(rl, want, timeout):
    """Polls /_wsguard/health until it answers `want` (bounded)."""
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        try:
            st = http(rl.port, "GET", "/_wsguard/health", timeout=4).status
        except OSError:
            st = "error"
        if st == want:
            return st
        time.sleep(0.2)
    return st


def kill_upstream():
    dk = rt.Double()
    port = dk.port
    rl = relay(dk)
    try:
        C.check("health 200 while the double is up", health(rl, 200, 5) == 200)

        async def session():
            async with rt.ws_connect(rl.ws_url) as ws:
                await ws.send(b"before the kill")
                first = await asyncio.wait_for(ws.recv(), 5)
                dk.proc.kill()   # SIGKILL, by PID
                t0 = time.monotonic()
                try:
                    await asyncio.wait_for(ws.recv(), 8)
                except wsexc.ConnectionClosed:
                    pass
                return first, ws.close_code, time.monotonic() - t0
        try:
            first, code, dt = rt.run(session(), 20)
        except (asyncio.TimeoutError, OSError, wsexc.WebSocketException) as e:
            first, code, dt = None, repr(e), 99
        if dk.proc.poll() is None:   # the session failed before its kill
            dk.proc.kill()
        dk.proc.wait(5)
        C.check("upstream killed mid-session: the browser gets 1011 or 1012 within 5 s",
                first == b"before the kill" and code in (1011, 1012) and dt < 5, "%s after %.2f s" % (code, dt))
        C.check("upstream killed: the relay stays up", rl.proc.poll() is None)
        C.check("upstream killed: health answers 503", health(rl, 503, 6) == 503)
        r = http(rl.port, "GET", "/")
        C.check("upstream killed: a page request gets 502", r.status == 502, repr(r))

        async def refused():
            try:
                async with rt.ws_connect(rl.ws_url):
                    return 101
            except wsexc.InvalidStatusCode as e:
                return e.status_code
        st = rt.run(refused(), 10)
        C.check("upstream down: a new WebSocket gets 502", st == 502, str(st))
        dk2 = rt.Double(port=port)
        try:
            C.check("the double restarted on the same port", dk2.port == port, str(dk2.port))

            async def again():
                async with rt.ws_connect(rl.ws_url) as ws:
                    await ws.send(b"after the restart")
                    return await asyncio.wait_for(ws.recv(), 5)
            try:
                got = rt.run(again(), 15)
            except (asyncio.TimeoutError, OSError, wsexc.WebSocketException) as e:
                got = repr(e)
            C.check("after the restart: a new WebSocket through the relay works", got == b"after the restart",
                    repr(got))
            C.check("after the restart: the restarted double recorded it",
                    dk2.wait_record(lambda r: r.get("sha256") == sha(b"after the restart"), kind="ws_msg"))
            C.check("after the restart: health answers 200 again", health(rl, 200, 6) == 200)
        finally:
            dk2.stop()
    finally:
        rl.stop()
        dk.stop()


def drain(d):
    rl = relay(d, "--drain-timeout", "2")
    try:
        async def session():
            async with rt.ws_connect(rl.ws_url) as ws:
                await ws.send(b"drain me")
                await asyncio.wait_for(ws.recv(), 5)
                rl.proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(ws.recv(), 5)
                except wsexc.ConnectionClosed:
                    pass
                return ws.close_code
        t0 = time.monotonic()
        try:
            code = rt.run(session(), 15)
        except (asyncio.TimeoutError, OSError, wsexc.WebSocketException) as e:
            code = repr(e)
        try:
            rc = rl.proc.wait(5)
        except Exception:
            rc = None
        dt = time.monotonic() - t0
        C.check("SIGTERM: the open WebSocket gets close 1001", code == 1001, str(code))
        C.check("SIGTERM: the relay exits 0 within --drain-timeout + 2 s", rc == 0 and dt < 4.5,
                "status %s after %.2f s" % (rc, dt))
    finally:
        rl.stop()

    # A browser that never answers the close: the drain still ends in time.
    rl = relay(d, "--drain-timeout", "2")
    try:
        rc = raw_session(rl.port, [("Sec-WebSocket-Protocol", "streamlit, " + TOKEN)])
        t0 = time.monotonic()
        rl.proc.send_signal(signal.SIGTERM)
        ev = rc.until(4)
        try:
            st = rl.proc.wait(6)
        except Exception:
            st = None
        dt = time.monotonic() - t0
        rc.close()
        C.check("SIGTERM, a browser that never answers: 1001 sent, exit 0 within 4 s",
                rc.status == 101 and ev[0] == "close" and ev[1] == 1001 and st == 0 and dt < 4.0,
                "%s, status %s after %.2f s" % (wsproto.describe(ev), st, dt))
    finally:
        rl.stop()


def metrics(d, rl):
    def get():
        r = http(rl.port, "GET", "/_wsguard/metrics")
        return r, r.body.decode(errors="replace")
    r, t0 = get()
    C.check("metrics from 127.0.0.1: 200 Prometheus text",
            r.status == 200 and (r.h("Content-Type") or "").startswith("text/plain; version=0.0.4")
            and "# TYPE wsg_relay_ws_messages_total counter" in t0, repr(r))
    up0 = metric(t0, "wsg_relay_ws_messages_total", '{direction="to_upstream"}')
    dn0 = metric(t0, "wsg_relay_ws_messages_total", '{direction="to_browser"}')
    b0 = metric(t0, "wsg_relay_ws_bytes_total", '{direction="to_upstream"}')

    async def traffic():
        async with rt.ws_connect(rl.ws_url) as ws:
            for i in range(5):
                await ws.send(b"metrics-%d" % i)
                await asyncio.wait_for(ws.recv(), 5)
    rt.run(traffic(), 15)
    time.sleep(0.2)
    r, t1 = get()
    up1 = metric(t1, "wsg_relay_ws_messages_total", '{direction="to_upstream"}')
    dn1 = metric(t1, "wsg_relay_ws_messages_total", '{direction="to_browser"}')
    b1 = metric(t1, "wsg_relay_ws_bytes_total", '{direction="to_upstream"}')
    C.check("metrics: wsg_relay_ws_messages_total grew by 5 each way after 5 echoes",
            None not in (up0, dn0, up1, dn1) and up1 - up0 == 5 and dn1 - dn0 == 5,
            "%s->%s, %s->%s" % (up0, up1, dn0, dn1))
    C.check("metrics: wsg_relay_ws_bytes_total to_upstream grew by the payload",
            None not in (b0, b1) and b1 - b0 == sum(len(b"metrics-%d" % i) for i in range(5)),
            "%s->%s" % (b0, b1))
    C.check("metrics: closes counted by code (1000)",
            (metric(t1, "wsg_relay_ws_closes_total", '{code="1000"}') or 0) >= 1, t1[-400:])
    r = http(rl.port, "GET", "/_wsguard/health")
    C.check("health: 200 while the double is up", r.status == 200, repr(r))


def audit(d, rl):
    n_ev = len(rl.events())

    async def session():
        async with rt.ws_connect(rl.ws_url, subprotocols=["streamlit", TOKEN, SESSION_ID],
                                 extra_headers=[("Cookie", "sid=" + COOKIE_SECRET)]) as ws:
            await ws.send(b"audit-1" * 10)
            await asyncio.wait_for(ws.recv(), 5)
            await ws.close(4001, "bye from the browser")
    rt.run(session(), 15)
    evs = new_events(rl, n_ev, ev_is("close"))
    new = rl.events()[n_ev:]
    op = [e for e in new if e.get("event") == "open"]
    cl = [e for e in new if e.get("event") == "close"]
    C.check("audit: one open event (time, client, peer, path)",
            len(op) == 1 and op[0].get("ts") and op[0].get("client") == "127.0.0.1"
            and op[0].get("path") == "/_stcore/stream", str(op))
    c = cl[0] if cl else {}
    C.check("audit: one close event with duration, bytes, messages and both codes",
            len(cl) == 1 and "duration_ms" in c and c.get("bytes_in", 0) >= 70
            and c.get("bytes_out", 0) >= 70 and c.get("messages_in") == 1
            and c.get("close_code") == 4001 and "received 4001" in (c.get("detail") or ""),
            str(cl or evs))


def secrets_never_logged():
    rt.check_secrets_never_logged(C, RELAYS, (TOKEN, SESSION_ID, COOKIE_SECRET))


def main():
    start = time.monotonic()
    rt.quiet_asan_quarantine()
    d = rt.Double()
    rl = relay(d)
    try:
        for fn in (upgrade_headers, round_trips, backpressure, pings_and_codes, metrics, audit,
                   chromium):
            rt.guarded(C, fn, d, rl)
        rt.guarded(C, binary_only, d)
        rt.guarded(C, drain, d)
        rt.guarded(C, kill_upstream)
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
