#!/usr/bin/python3
"""H1 require-https behind a trusted proxy, and the client address through
trusted proxies only (T15)."""
import re
import socket

from ctl import Checks, Server, upgrade, check_refused, finish


def page_get(port, target="/", headers=(), host=None):
    """A plain GET (no Upgrade): (status, {lower name: value}, local)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    local = "%s:%d" % s.getsockname()[:2]
    req = "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
        target, host or "127.0.0.1:%d" % port,
        "".join(h + "\r\n" for h in headers))
    s.sendall(req.encode())
    buf = b""
    try:
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            d = s.recv(4096)
            if not d:
                break
            buf += d
    except OSError:
        pass
    s.close()
    head = buf.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.1 (\d{3})", head[0])
    hdrs = {}
    for ln in head[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return (int(m.group(1)) if m else 0), hdrs, local

c = Checks("controls H1 transport / T15 client address")
TRUST = ["--trusted-proxy", "127.0.0.1/32"]

srv = Server(TRUST + ["--require-https"])
m = srv.mark()
rep = upgrade(srv.port, [])
check_refused(c, srv, "H1 on, no X-Forwarded-Proto", rep, 403, "H1", since=m)
m = srv.mark()
rep = upgrade(srv.port, ["X-Forwarded-Proto: http"])
check_refused(c, srv, "H1 on, X-Forwarded-Proto http", rep, 403, "H1", since=m)
rep = upgrade(srv.port, ["X-Forwarded-Proto: https"])
c.check("H1 on, trusted X-Forwarded-Proto https -> 101", rep.status == 101, "%r" % rep.status)
rep.close()
srv.stop()

srv = Server(["--require-https"])
m = srv.mark()
rep = upgrade(srv.port, ["X-Forwarded-Proto: https"])
check_refused(c, srv, "H1 on, untrusted peer's X-Forwarded-Proto ignored", rep, 403, "H1", since=m)
srv.stop()

# -- https redirect for page loads (plain GETs); upgrades are never redirected
srv = Server(TRUST + ["--require-https", "--https-redirect"])
m = srv.mark()
st, h, local = page_get(srv.port, "/app/page?x=1", host="app.example:8080")
c.check("H1 redirect on, plain GET -> 301", st == 301, "%r" % st)
c.check("H1 redirect on, Location is the https URL of the same target",
        h.get("location") == "https://app.example:8080/app/page?x=1", "%r" % h.get("location"))
c.check("H1 redirect on, 301 carries the security headers (H10)",
        "content-security-policy" in h and "strict-transport-security" in h, "%r" % sorted(h))
ev = srv.wait_event(lambda e: e.get("event") == "refuse" and e.get("peer") == local, 3, m)
c.check("H1 redirect on, audit refuse H1 301",
        ev is not None and ev.get("control") == "H1" and ev.get("status") == 301, "%r" % ev)
st, h, _ = page_get(srv.port, "/app/page", ["X-Forwarded-Proto: https"])
c.check("H1 redirect on, page over https (trusted proxy) -> 426, no Location",
        st == 426 and "location" not in h, "%r %r" % (st, h.get("location")))
m = srv.mark()
rep = upgrade(srv.port, [])
check_refused(c, srv, "H1 redirect on, the upgrade itself is refused, not redirected",
              rep, 403, "H1", since=m)
c.check("H1 redirect on, no Location on the refused upgrade", rep.h("Location") is None,
        "%r" % rep.h("Location"))
srv.stop()

srv = Server(TRUST + ["--require-https", "--https-redirect", "--allow-host", "app.example"])
st, h, _ = page_get(srv.port, "/", host="evil.example")
c.check("H1 redirect with --allow-host: a foreign Host is refused (403), not reflected",
        st == 403 and "location" not in h, "%r %r" % (st, h.get("location")))
srv.stop()

srv = Server(TRUST + ["--require-https"])
st, h, _ = page_get(srv.port, "/app/page")
c.check("H1 redirect off, plain GET -> 426 without Location",
        st == 426 and "location" not in h, "%r %r" % (st, h.get("location")))
srv.stop()

srv = Server([])
rep = upgrade(srv.port, [])
c.check("H1 off, plain request -> 101", rep.status == 101, "%r" % rep.status)
rep.close()
srv.stop()

# -- T15: client address -----------------------------------------------------------------
srv = Server(TRUST)
rep = upgrade(srv.port, ["X-Forwarded-For: 198.51.100.1, 203.0.113.9"])
c.check("T15 trusted, 101", rep.status == 101, "%r" % rep.status)
rep.close()
e = srv.wait_event(lambda e: e.get("event") == "open", 3)
c.check("T15 trusted, audit client is the right-most XFF hop 203.0.113.9",
        e is not None and e.get("client") == "203.0.113.9", "%r" % e)
c.check("T15 trusted, audit peer is the socket 127.0.0.1",
        e is not None and (e.get("peer") or "").startswith("127.0.0.1"), "%r" % e)
srv.stop()

srv = Server([])
rep = upgrade(srv.port, ["X-Forwarded-For: 203.0.113.9"])
rep.close()
e = srv.wait_event(lambda e: e.get("event") == "open", 3)
c.check("T15 untrusted, XFF ignored: client 127.0.0.1",
        e is not None and e.get("client") == "127.0.0.1", "%r" % e)
srv.stop()

# Per-address limits key on the trusted client address.
srv = Server(TRUST + ["--max-conns-per-ip", "1"])
a = upgrade(srv.port, ["X-Forwarded-For: 203.0.113.9"])
b = upgrade(srv.port, ["X-Forwarded-For: 203.0.113.10"])
d = upgrade(srv.port, ["X-Forwarded-For: 203.0.113.9"])
c.check("T15 per-ip limit uses the forwarded address",
        (a.status, b.status, d.status) == (101, 101, 429), "%r" % ((a.status, b.status, d.status),))
for r in (a, b, d):
    r.close()
srv.stop()
finish(c)
