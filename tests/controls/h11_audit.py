#!/usr/bin/python3
"""H11 audit: one JSON line per open/close/refuse/violation with the right
control id and fields; nothing on stdout without --audit. The client
address: X-Forwarded-For or a configured header only from trusted proxies,
and the per-address limits count that address."""
import json
import time

from ctl import (Checks, Server, upgrade, echo_once, close_event, ws_handshake,
                 check_refused, finish, wsproto)

c = Checks("controls H11 audit")
ARGS = ["--allow-origin", "https://app.example", "--max-message", "100"]
GOOD = ["Origin: https://app.example"]


def scenario(srv):
    """open+close (1000), refuse (H2), open+violation+close (H5)."""
    rep = upgrade(srv.port, GOOD, path="/room")
    if rep.client:
        echo_once(rep.client, b"payload-secret-7781")
        rep.client.send(wsproto.frame(wsproto.OP_CLOSE, wsproto.close_payload(1000)))
        close_event(rep.client)
    rep.close()
    upgrade(srv.port, ["Origin: https://evil.example"], path="/room").close()
    rep = upgrade(srv.port, GOOD, path="/big")
    if rep.client:
        rep.client.send(wsproto.frame(wsproto.OP_BINARY, b"z" * 101))
        close_event(rep.client)
    rep.close()
    time.sleep(0.3)


srv = Server(ARGS, audit=True)
scenario(srv)
srv.wait_event(lambda e: False, 0.5)
srv.stop()
lines = [ln for ln in srv.out if ln.strip()]
parsed = []
for ln in lines:
    try:
        parsed.append(json.loads(ln))
    except ValueError:
        parsed.append(None)
c.check("H11 on, every stdout line is one JSON object",
        lines and all(isinstance(p, dict) for p in parsed), "%r" % lines[:5])
evs = [p for p in parsed if isinstance(p, dict)]
names = [e.get("event") for e in evs]
c.check("H11 on, events open, close, refuse, open, violation, close",
        sorted(names) == sorted(["open", "close", "refuse", "open", "violation", "close"]),
        "%r" % names)
c.check("H11 on, every event has ts, client 127.0.0.1, path",
        evs and all(e.get("ts") and e.get("client") == "127.0.0.1" and e.get("path") for e in evs),
        "%r" % evs[:2])
ref = [e for e in evs if e.get("event") == "refuse"]
c.check("H11 on, refuse: H2, 403, path /room",
        len(ref) == 1 and ref[0].get("control") == "H2" and ref[0].get("status") == 403
        and ref[0].get("path") == "/room", "%r" % ref)
vio = [e for e in evs if e.get("event") == "violation"]
c.check("H11 on, violation: H5, 1009, path /big",
        len(vio) == 1 and vio[0].get("control") == "H5" and vio[0].get("close_code") == 1009
        and vio[0].get("path") == "/big", "%r" % vio)
cl = [e for e in evs if e.get("event") == "close"]
c.check("H11 on, clean close: 1000, no control, counters",
        any(e.get("close_code") == 1000 and "control" not in e and e.get("messages_in", 0) >= 1
            for e in cl), "%r" % cl)
c.check("H11 on, violation's close carries H5",
        any(e.get("control") == "H5" and e.get("close_code") == 1009 for e in cl), "%r" % cl)
c.check("H11 on, no payload in audit", "payload-secret-7781" not in srv.text()
        and "zzzz" not in srv.text(), "")

srv = Server(ARGS, audit=False)
scenario(srv)
st, _ = ws_handshake(srv.url, origin="https://app.example")
srv.stop()
c.check("H11 off, stdout empty", not [ln for ln in srv.out if ln.strip()], "%r" % srv.out[:3])


# -- client address through trusted proxies ---------------------------------------------
def client_of(srv, hdrs):
    """The audit's client field of the open and close events of one
    connection made with `hdrs` (None if missing), and the status."""
    m = srv.mark()
    rep = upgrade(srv.port, hdrs)
    if rep.client:
        echo_once(rep.client, b"c")
        rep.client.send(wsproto.frame(wsproto.OP_CLOSE, wsproto.close_payload(1000)))
        close_event(rep.client, 3)
    rep.close()
    op = srv.wait_event(lambda e: e.get("event") == "open" and e.get("peer") == rep.local,
                        3 if rep.status == 101 else 0.5, m)
    cl = srv.wait_event(lambda e: e.get("event") == "close" and e.get("peer") == rep.local,
                        3 if rep.status == 101 else 0.5, m)
    return rep.status, (op or {}).get("client"), (cl or {}).get("client")


srv = Server(["--trusted-proxy", "127.0.0.1/32", "--trusted-proxy", "10.0.0.0/8"])
for label, hdrs, want in [
        ("X-Forwarded-For from a trusted peer", ["X-Forwarded-For: 203.0.113.7"],
         "203.0.113.7"),
        ("right-most untrusted hop", ["X-Forwarded-For: 198.51.100.1, 203.0.113.7"],
         "203.0.113.7"),
        ("trusted hops skipped", ["X-Forwarded-For: 203.0.113.7, 10.1.2.3"],
         "203.0.113.7"),
        ("two headers are one list", ["X-Forwarded-For: 198.51.100.1",
                                      "X-Forwarded-For: 203.0.113.9, 10.9.9.9"],
         "203.0.113.9"),
        ("IPv6 client", ["X-Forwarded-For: 2001:db8::7"], "2001:db8::7"),
        # Azure Application Gateway appends the client's port.
        ("address:port", ["X-Forwarded-For: 203.0.113.7:5555"], "203.0.113.7"),
        ("[IPv6]:port", ["X-Forwarded-For: [2001:db8::7]:443"], "2001:db8::7")]:
    st, a, b = client_of(srv, hdrs)
    c.check("H11 client, %s -> %s in open and close" % (label, want),
            st == 101 and a == want and b == want, "status %r, open %r, close %r" % (st, a, b))
st, a, b = client_of(srv, ["X-Forwarded-For: 203.0.113.7, not-an-address"])
c.check("H11 client, malformed right-most element: stays the socket peer",
        st == 101 and a == "127.0.0.1", "status %r, open %r" % (st, a))
st, a, b = client_of(srv, ["X-Client-IP: 198.51.100.9"])
c.check("H11 client, X-Client-IP without --client-ip-header ignored",
        st == 101 and a == "127.0.0.1", "status %r, open %r" % (st, a))
srv.stop()

srv = Server(["--trusted-proxy", "127.0.0.1/32", "--client-ip-header", "X-Client-IP"])
st, a, b = client_of(srv, ["X-Client-IP: 198.51.100.9", "X-Forwarded-For: 203.0.113.7"])
c.check("H11 client, --client-ip-header X-Client-IP wins over X-Forwarded-For",
        st == 101 and a == "198.51.100.9" and b == "198.51.100.9",
        "status %r, open %r, close %r" % (st, a, b))
st, a, b = client_of(srv, ["X-Client-IP: 198.51.100.9", "X-Client-IP: 198.51.100.10",
                           "X-Forwarded-For: 203.0.113.7"])
c.check("H11 client, X-Client-IP twice is ambiguous: X-Forwarded-For used",
        st == 101 and a == "203.0.113.7", "status %r, open %r" % (st, a))
srv.stop()

# A refusal carries the forwarded client too (and the socket peer).
srv = Server(["--trusted-proxy", "127.0.0.1/32", "--allow-origin", "https://app.example"])
m = srv.mark()
rep = upgrade(srv.port, ["X-Forwarded-For: 203.0.113.7", "Origin: https://evil.example"])
check_refused(c, srv, "H11 client, refused through a proxy", rep, 403, "H2", since=m)
e = srv.wait_event(lambda e: e.get("event") == "refuse" and e.get("peer") == rep.local,
                   3 if rep.status == 403 else 0.5, m)
c.check("H11 client, refuse event: client 203.0.113.7, peer the socket",
        e is not None and e.get("client") == "203.0.113.7"
        and (e.get("peer") or "").startswith("127.0.0.1:"), "%r" % e)
srv.stop()

# Not trusted: forwarded headers are the client's own claim and ignored.
for label, args in [("no --trusted-proxy", []),
                    ("peer outside --trusted-proxy", ["--trusted-proxy", "10.0.0.0/8",
                                                      "--client-ip-header", "X-Client-IP"])]:
    srv = Server(args)
    st, a, b = client_of(srv, ["X-Forwarded-For: 203.0.113.7", "X-Client-IP: 198.51.100.9"])
    c.check("H11 client, %s: forwarded headers ignored (client 127.0.0.1)" % label,
            st == 101 and a == "127.0.0.1" and b == "127.0.0.1",
            "status %r, open %r, close %r" % (st, a, b))
    srv.stop()

# -- per-address limits count the forwarded address ----------------------------------------
srv = Server(["--trusted-proxy", "127.0.0.1/32", "--max-conns-per-ip", "1"])
a = upgrade(srv.port, ["X-Forwarded-For: 203.0.113.7"])
b = upgrade(srv.port, ["X-Forwarded-For: 203.0.113.8"])
c.check("H11 per-ip via proxy, two forwarded addresses from one socket peer -> 101, 101",
        a.status == 101 and b.status == 101, "%r %r" % (a.status, b.status))
m = srv.mark()
d = upgrade(srv.port, ["X-Forwarded-For: 203.0.113.7"])
check_refused(c, srv, "H11 per-ip via proxy, same forwarded address again", d, 429, "H6",
              reason_has="too many connections", since=m)
e = srv.wait_event(lambda e: e.get("event") == "refuse" and e.get("peer") == d.local,
                   3 if d.status == 429 else 0.5, m)
c.check("H11 per-ip via proxy, the 429 is audited for client 203.0.113.7",
        e is not None and e.get("client") == "203.0.113.7", "%r" % e)
for r in (a, b, d):
    r.close()
srv.stop()
# Without trust a spoofed X-Forwarded-For buys no second slot.
srv = Server(["--max-conns-per-ip", "1"])
a = upgrade(srv.port, ["X-Forwarded-For: 203.0.113.7"])
m = srv.mark()
b = upgrade(srv.port, ["X-Forwarded-For: 203.0.113.8"])
c.check("H11 per-ip untrusted, first -> 101", a.status == 101, "%r" % a.status)
check_refused(c, srv, "H11 per-ip untrusted, spoofed new X-Forwarded-For", b, 429, "H6",
              since=m)
for r in (a, b):
    r.close()
srv.stop()
finish(c)
