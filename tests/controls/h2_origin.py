#!/usr/bin/python3
"""H2 Origin and Host allowlists (T9: CSWSH, DNS rebinding), end to end."""
from ctl import (Checks, Server, upgrade, check_refused, echo_once,
                 ws_handshake, finish)

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

# -- --allow-no-origin: a missing Origin (non-browser clients) is let in, the
# origins a browser sends from sandboxed/local pages stay refused -----------------
srv = Server(["--allow-origin", GOOD])
m = srv.mark()
rep = upgrade(srv.port, [])
check_refused(c, srv, "H2 no-origin off, no Origin", rep, 403, "H2",
              reason_has="origin required", since=m)
st, _ = ws_handshake(srv.url)   # websockets sends no Origin by default
c.check("H2 no-origin off, websockets client without Origin -> 403", st == 403,
        "got %r" % st)
srv.stop()
srv = Server(["--allow-origin", GOOD, "--allow-no-origin"])
m = srv.mark()
rep = upgrade(srv.port, [])
c.check("H2 no-origin on, no Origin -> 101", rep.status == 101, "got %r" % rep.status)
if rep.client:
    ev = echo_once(rep.client, b"no-origin")
    c.check("H2 no-origin on, no Origin echoed", ev[:3] == ("message", 2, b"no-origin"),
            "%r" % (ev,))
rep.close()
st, _ = ws_handshake(srv.url)
c.check("H2 no-origin on, websockets client without Origin -> 101", st == 101,
        "got %r" % st)
# What the guard does: "null", file: and data: fail to parse as an origin and
# are refused as "origin not allowed", whatever --allow-no-origin says.
for label, hdrs in [("null origin", ["Origin: null"]),
                    ("file origin", ["Origin: file://"]),
                    ("file origin with path", ["Origin: file:///etc/passwd"]),
                    ("data origin", ["Origin: data:,x"]),
                    ("evil origin", ["Origin: https://evil.example"])]:
    m = srv.mark()
    rep = upgrade(srv.port, hdrs)
    check_refused(c, srv, "H2 no-origin on, " + label, rep, 403, "H2",
                  reason_has="origin not allowed", since=m)
rep = upgrade(srv.port, ["Origin: " + GOOD])
c.check("H2 no-origin on, good origin -> 101", rep.status == 101, "got %r" % rep.status)
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
