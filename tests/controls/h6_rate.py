#!/usr/bin/python3
"""H6 rate limits: per-connection message and control-frame buckets (T12),
per-address concurrent cap (429 + Retry-After), global cap (503)."""
import re
import time

from ctl import (Checks, Server, upgrade, check_refused, close_event, echo_once, finish,
                 wsproto)

c = Checks("controls H6 rate limits")


def burst(port, n):
    """Sends n small messages in one write; returns (echo count, end event)."""
    rep = upgrade(port, [])
    if not rep.client:
        return None, ("no 101", rep.status)
    cl = rep.client
    cl.send(b"".join(wsproto.frame(wsproto.OP_BINARY, b"m%d" % i) for i in range(n)))
    echoed, end = 0, None
    deadline = time.monotonic() + 5
    while echoed < n:
        try:
            ev = cl.next_event(deadline)
        except wsproto.ProtocolViolation as e:
            end = ("violation", str(e))
            break
        if ev[0] == "message":
            echoed += 1
        elif ev[0] in ("close", "eof", "reset", "timeout"):
            end = ev
            break
    cl.close()
    return echoed, end


def ping_flood(port, n):
    rep = upgrade(port, [])
    if not rep.client:
        return None, ("no 101", rep.status)
    cl = rep.client
    cl.send(b"".join(wsproto.frame(wsproto.OP_PING, b"p%d" % i) for i in range(n)))
    pongs, end = 0, None
    deadline = time.monotonic() + 5
    while pongs < n:
        try:
            ev = cl.next_event(deadline)
        except wsproto.ProtocolViolation as e:
            end = ("violation", str(e))
            break
        if ev[0] == "pong":
            pongs += 1
        elif ev[0] in ("close", "eof", "reset", "timeout"):
            end = ev
            break
    cl.close()
    return pongs, end


# -- message rate ---------------------------------------------------------------------
srv = Server(["--msg-rate", "5", "--msg-burst", "5"])
echoed, end = burst(srv.port, 20)
c.check("H6 msg-rate on, 20 at once -> 1008 'rate limit'",
        end is not None and end[:2] == ("close", 1008) and b"rate" in end[2],
        "%r after %r echoes" % (end, echoed))
c.check("H6 msg-rate on, at most the burst echoed", echoed is not None and echoed <= 5,
        "%r" % echoed)
ev = srv.wait_event(lambda e: e.get("event") == "violation", 3)
c.check("H6 msg-rate on, audit violation H6 1008",
        ev is not None and ev.get("control") == "H6" and ev.get("close_code") == 1008, "%r" % ev)
srv.stop()
srv = Server([])
echoed, end = burst(srv.port, 20)
c.check("H6 msg-rate off, all 20 echoed", echoed == 20 and end is None, "%r %r" % (echoed, end))
srv.stop()

# -- --rate-action drop: over the rate a message is dropped and counted, the
# connection stays open ---------------------------------------------------------------
srv = Server(["--msg-rate", "5", "--msg-burst", "5", "--rate-action", "drop"])
m = srv.mark()
rep = upgrade(srv.port, [])
echoed, end, later = 0, None, ("none",)
if rep.client:
    cl = rep.client
    cl.send(b"".join(wsproto.frame(wsproto.OP_BINARY, b"d%d" % i) for i in range(20)))
    deadline = time.monotonic() + 1.0     # the echoes come at once; then quiet
    while True:
        try:
            ev = cl.next_event(deadline)
        except wsproto.ProtocolViolation as e:
            end = ("violation", str(e))
            break
        if ev[0] == "message":
            echoed += 1
        else:
            end = None if ev[0] == "timeout" else ev
            break
    time.sleep(1.5)                       # the bucket refills
    later = echo_once(cl, b"later") if end is None else end
    cl.send(wsproto.frame(wsproto.OP_CLOSE, wsproto.close_payload(1000)))
    close_event(cl, 3)
rep.close()
c.check("H6 drop, 20 at once: the burst (5, 7 at most) echoed, no close",
        5 <= echoed <= 7 and end is None, "%r echoes, end %r" % (echoed, end))
c.check("H6 drop, still open: a message 1.5 s later is echoed",
        later[:3] == ("message", 2, b"later"), "%r" % (later,))
e = srv.wait_event(lambda e: e.get("event") == "close" and e.get("peer") == rep.local, 3, m)
dropped = None
if e is not None:
    mm = re.search(r"dropped (\d+)", e.get("detail") or "")
    dropped = int(mm.group(1)) if mm else None
c.check("H6 drop, audit close counts the drops (20 - echoed, 13 at least), clean 1000",
        e is not None and dropped == 20 - echoed and dropped >= 13
        and e.get("close_code") == 1000,
        "dropped %r, event %r" % (dropped, e))
c.check("H6 drop, the close event's messages_dropped field agrees",
        e is not None and e.get("messages_dropped") == dropped, "%r" % e)
c.check("H6 drop, messages_in 21 and messages_out = echoes + 1",
        e is not None and e.get("messages_in") == 21 and e.get("messages_out") == echoed + 1,
        "%r" % e)
# Drops are counted, not audited one by one: no violation event.
v = srv.find("violation", m)
c.check("H6 drop, no violation event", not v, "%r" % v)
srv.stop()
srv = Server(["--msg-rate", "5", "--msg-burst", "5", "--rate-action", "close"])
echoed, end = burst(srv.port, 20)
c.check("H6 rate-action close, 20 at once -> 1008 after at most the burst",
        end is not None and end[:2] == ("close", 1008) and echoed is not None and echoed <= 5,
        "%r after %r echoes" % (end, echoed))
srv.stop()

# -- byte rate --------------------------------------------------------------------------
srv = Server(["--byte-rate", "1000", "--byte-burst", "1000"])
rep = upgrade(srv.port, [])
end = None
if rep.client:
    rep.client.send(b"".join(wsproto.frame(wsproto.OP_BINARY, b"b" * 600) for _ in range(3)))
    end = close_event(rep.client)
rep.close()
c.check("H6 byte-rate on, 1800 bytes at once over a 1000-byte burst -> 1008",
        end is not None and end[:2] == ("close", 1008), "%r" % (end,))
srv.stop()
srv = Server([])
echoed, end = burst(srv.port, 3)
c.check("H6 byte-rate off, messages echoed", echoed == 3 and end is None, "%r %r" % (echoed, end))
srv.stop()

# -- control frames (T12) -------------------------------------------------------------
srv = Server(["--control-rate", "10"])
pongs, end = ping_flood(srv.port, 50)
c.check("H6 control-rate on, 50 pings -> 1008",
        end is not None and end[:2] == ("close", 1008), "%r after %r pongs" % (end, pongs))
ev = srv.wait_event(lambda e: e.get("event") == "violation", 3)
c.check("H6 control-rate on, audit violation H6",
        ev is not None and ev.get("control") == "H6" and ev.get("close_code") == 1008, "%r" % ev)
srv.stop()
srv = Server([])
pongs, end = ping_flood(srv.port, 50)
c.check("H6 control-rate off, 50 pongs", pongs == 50 and end is None, "%r %r" % (pongs, end))
srv.stop()

# -- per address ------------------------------------------------------------------------
srv = Server(["--max-conns-per-ip", "2"])
a, b = upgrade(srv.port, []), upgrade(srv.port, [])
c.check("H6 per-ip on, two connections -> 101", a.status == 101 and b.status == 101,
        "%r %r" % (a.status, b.status))
m = srv.mark()
third = upgrade(srv.port, [])
check_refused(c, srv, "H6 per-ip on, third concurrent", third, 429, "H6", since=m)
ra = third.h("Retry-After")
c.check("H6 per-ip on, 429 carries Retry-After", ra is not None and ra.isdigit() and int(ra) >= 1,
        "%r" % ra)
a.close()
ok = srv.wait_event(lambda e: e.get("event") == "close", 3, m) is not None
d = upgrade(srv.port, [])
c.check("H6 per-ip on, slot freed after a close -> 101", ok and d.status == 101,
        "close seen %r, status %r" % (ok, d.status))
for r in (b, d):
    r.close()
srv.stop()
srv = Server([])
rs = [upgrade(srv.port, []) for _ in range(3)]
c.check("H6 per-ip off, three concurrent -> 101", [r.status for r in rs] == [101] * 3,
        "%r" % [r.status for r in rs])
for r in rs:
    r.close()
srv.stop()

# -- global cap -----------------------------------------------------------------------------
srv = Server(["--max-conns", "1"])
a = upgrade(srv.port, [])
m = srv.mark()
b = upgrade(srv.port, [])
check_refused(c, srv, "H6 max-conns on, second", b, 503, "H6", since=m)
c.check("H6 max-conns on, 503 carries Retry-After", b.h("Retry-After") is not None,
        "%r" % b.headers)
a.close()
srv.stop()
srv = Server([])
a, b = upgrade(srv.port, []), upgrade(srv.port, [])
c.check("H6 max-conns off, second -> 101", a.status == 101 and b.status == 101,
        "%r %r" % (a.status, b.status))
a.close()
b.close()
srv.stop()

# -- new connections per window ---------------------------------------------------------------
srv = Server(["--conn-rate-per-ip", "3", "--conn-rate-window", "60"])
sts = []
for _ in range(4):
    r = upgrade(srv.port, [])
    sts.append(r.status)
    r.close()
c.check("H6 conn-rate on, 4th new connection in window -> 429", sts == [101, 101, 101, 429],
        "%r" % sts)
srv.stop()
srv = Server([])
sts = []
for _ in range(4):
    r = upgrade(srv.port, [])
    sts.append(r.status)
    r.close()
c.check("H6 conn-rate off, 4 new connections -> 101", sts == [101] * 4, "%r" % sts)
srv.stop()
finish(c)
