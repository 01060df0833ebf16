#!/usr/bin/python3
"""H1 require-https behind a trusted proxy, and the client address through
trusted proxies only (T15)."""
from ctl import Checks, Server, upgrade, check_refused, finish

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
