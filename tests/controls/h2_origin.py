#!/usr/bin/python3
"""H2 Origin and Host allowlists (T9: CSWSH, DNS rebinding), end to end."""
from ctl import Checks, Server, upgrade, check_refused, ws_handshake, finish

c = Checks("controls H2 origin/host")
GOOD = "https://app.example"

# -- on: --allow-origin ----------------------------------------------------------
srv = Server(["--allow-origin", GOOD])
for label, hdrs in [("evil origin", ["Origin: https://evil.example"]),
                    ("no origin", []),
                    ("null origin", ["Origin: null"]),
                    ("file origin", ["Origin: file://"]),
                    ("port mismatch", ["Origin: https://app.example:8443"]),
                    ("scheme mismatch", ["Origin: http://app.example"])]:
    m = srv.mark()
    rep = upgrade(srv.port, hdrs)
    check_refused(c, srv, "H2 on, " + label, rep, 403, "H2", since=m)
rep = upgrade(srv.port, ["Origin: HTTPS://APP.example:443"])
c.check("H2 on, good origin (case, default port) -> 101", rep.status == 101,
        "got %r" % rep.status)
rep.close()
st, _ = ws_handshake(srv.url, origin=GOOD)
c.check("H2 on, websockets client with good origin -> 101", st == 101, "got %r" % st)
st, _ = ws_handshake(srv.url, origin="https://evil.example")
c.check("H2 on, websockets client with evil origin -> 403", st == 403, "got %r" % st)
srv.stop()

# -- on: --allow-host (DNS rebinding) --------------------------------------------
srv = Server(["--allow-host", "app.example"])
m = srv.mark()
rep = upgrade(srv.port, [], host="evil.example")
check_refused(c, srv, "H2 host on, Host evil.example", rep, 403, "H2", since=m)
rep = upgrade(srv.port, [], host="app.example")
c.check("H2 host on, Host app.example -> 101", rep.status == 101, "got %r" % rep.status)
rep.close()
srv.stop()

# -- off: the same clients pass ---------------------------------------------------
srv = Server([])
for label, hdrs in [("evil origin", ["Origin: https://evil.example"]),
                    ("no origin", []), ("null origin", ["Origin: null"])]:
    rep = upgrade(srv.port, hdrs)
    c.check("H2 off, %s -> 101" % label, rep.status == 101, "got %r" % rep.status)
    rep.close()
rep = upgrade(srv.port, [], host="evil.example")
c.check("H2 off, Host evil.example -> 101", rep.status == 101, "got %r" % rep.status)
rep.close()
st, _ = ws_handshake(srv.url, origin="https://evil.example")
c.check("H2 off, websockets client with evil origin -> 101", st == 101, "got %r" % st)
c.check("H2 off, no refuse events", not srv.find("refuse"), "%r" % srv.find("refuse"))
srv.stop()
finish(c)
