#!/usr/bin/python3
"""H10 security headers on the 101 and on refusals."""
import socket

from ctl import Checks, Server, upgrade, finish


def raw_head(port, req):
    """Sends raw request bytes; returns the lower-case header names."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(req)
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
    lines = buf.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    return lines[0], {ln.partition(":")[0].strip().lower() for ln in lines[1:]}

c = Checks("controls H10 security headers")
ALL = ["strict-transport-security", "content-security-policy",
       "x-content-type-options", "x-frame-options", "referrer-policy",
       "permissions-policy"]
OFF = ["--hsts-max-age", "0", "--csp", "", "--frame-options", "",
       "--referrer-policy", "", "--permissions-policy", ""]
REFUSE = ["--allow-origin", "https://app.example"]

srv = Server(REFUSE)
ok = upgrade(srv.port, ["Origin: https://app.example"])
bad = upgrade(srv.port, ["Origin: https://evil.example"])
for name, rep, st in [("101", ok, 101), ("403", bad, 403)]:
    c.check("H10 on, %s status" % name, rep.status == st, "%r" % rep.status)
    missing = [h for h in ALL if h not in rep.headers]
    c.check("H10 on, %s carries all six headers" % name, not missing, "missing %r" % missing)
# Refusals the handshake decides (before the policy): a page load (426), a
# malformed request (400), another method (405), a long target (414).
for name, req in [("426 plain GET", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
                  ("400 no Host", b"GET / HTTP/1.1\r\n\r\n"),
                  ("405 POST", b"POST / HTTP/1.1\r\nHost: a\r\n\r\n"),
                  ("414 long target", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n")]:
    line, names = raw_head(srv.port, req)
    missing = [h for h in ALL if h not in names]
    c.check("H10 on, %s carries all six headers" % name,
            line.startswith("HTTP/1.1 " + name[:3]) and not missing, "%r missing %r" % (line, missing))
c.check("H10 on, HSTS max-age", "max-age=31536000" in (ok.h("Strict-Transport-Security") or ""),
        "%r" % ok.h("Strict-Transport-Security"))
c.check("H10 on, nosniff", (ok.h("X-Content-Type-Options") or "").lower() == "nosniff",
        "%r" % ok.h("X-Content-Type-Options"))
c.check("H10 on, X-Frame-Options DENY", ok.h("X-Frame-Options") == "DENY", "%r" % ok.h("X-Frame-Options"))
ok.close()
srv.stop()

srv = Server(REFUSE + ["--hsts-max-age", "600", "--csp", "default-src 'none'"])
ok = upgrade(srv.port, ["Origin: https://app.example"])
c.check("H10 configured, HSTS max-age=600", "max-age=600" in (ok.h("Strict-Transport-Security") or ""),
        "%r" % ok.h("Strict-Transport-Security"))
c.check("H10 configured, CSP value", ok.h("Content-Security-Policy") == "default-src 'none'",
        "%r" % ok.h("Content-Security-Policy"))
ok.close()
srv.stop()

srv = Server(REFUSE + OFF)
ok = upgrade(srv.port, ["Origin: https://app.example"])
bad = upgrade(srv.port, ["Origin: https://evil.example"])
switchable = [h for h in ALL if h != "x-content-type-options"]
line, names = raw_head(srv.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
c.check("H10 off, 426 without the switched-off headers",
        line.startswith("HTTP/1.1 426") and not [h for h in switchable if h in names],
        "%r %r" % (line, names))
for name, rep, st in [("101", ok, 101), ("403", bad, 403)]:
    c.check("H10 off, %s status" % name, rep.status == st, "%r" % rep.status)
    present = [h for h in switchable if h in rep.headers]
    c.check("H10 off, %s without the switched-off headers" % name, not present,
            "present %r" % present)
ok.close()
srv.stop()
finish(c)
