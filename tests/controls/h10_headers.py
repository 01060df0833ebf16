#!/usr/bin/python3
"""H10 security headers on the 101 and on refusals."""
from ctl import Checks, Server, upgrade, finish

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
for name, rep, st in [("101", ok, 101), ("403", bad, 403)]:
    c.check("H10 off, %s status" % name, rep.status == st, "%r" % rep.status)
    present = [h for h in switchable if h in rep.headers]
    c.check("H10 off, %s without the switched-off headers" % name, not present,
            "present %r" % present)
ok.close()
srv.stop()
finish(c)
