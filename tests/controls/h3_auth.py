#!/usr/bin/python3
"""H3 authentication at the handshake: static token (bearer, cookie, query),
HMAC-signed tokens, post-connect auth. Tokens never in the audit."""
import base64
import hashlib
import hmac
import os
import tempfile
import time

from ctl import (Checks, Server, upgrade, check_refused, check_no_secret,
                 ws_handshake, echo_once, close_event, finish, wsproto)

c = Checks("controls H3 authentication")
TOKEN = "tok-" + os.urandom(10).hex()          # 24 chars
WRONG = "bad-" + os.urandom(10).hex()
assert len(TOKEN) == 24

# -- static bearer token -----------------------------------------------------------
srv = Server(["--auth-token", TOKEN])
m = srv.mark()
rep = upgrade(srv.port, [])
check_refused(c, srv, "H3 bearer, no token", rep, 401, "H3", since=m)
c.check("H3 bearer, 401 carries WWW-Authenticate",
        (rep.h("WWW-Authenticate") or "").lower().startswith("bearer"),
        "%r" % rep.h("WWW-Authenticate"))
m = srv.mark()
rep = upgrade(srv.port, ["Authorization: Bearer " + WRONG])
check_refused(c, srv, "H3 bearer, wrong token", rep, 401, "H3", since=m)
m = srv.mark()
rep = upgrade(srv.port, ["Authorization: Bearer " + TOKEN[:-1]])
check_refused(c, srv, "H3 bearer, token prefix", rep, 401, "H3", since=m)
rep = upgrade(srv.port, ["Authorization: Bearer " + TOKEN])
c.check("H3 bearer, right token -> 101", rep.status == 101, "got %r" % rep.status)
if rep.client:
    ev = echo_once(rep.client, b"x")
    c.check("H3 bearer, authenticated connection echoes", ev[:3] == ("message", 2, b"x"), "%r" % (ev,))
rep.close()
st, _ = ws_handshake(srv.url, extra_headers={"Authorization": "Bearer " + TOKEN})
c.check("H3 bearer, websockets client with token -> 101", st == 101, "got %r" % st)
st, _ = ws_handshake(srv.url)
c.check("H3 bearer, websockets client without token -> 401", st == 401, "got %r" % st)
srv.stop()
check_no_secret(c, srv, [TOKEN, WRONG, TOKEN[:-1]], "H3 bearer")

# -- cookie and query ----------------------------------------------------------------
srv = Server(["--auth-token", TOKEN, "--auth-token-from", "cookie",
              "--auth-token-name", "sess"])
m = srv.mark()
rep = upgrade(srv.port, ["Cookie: a=1; sess=" + WRONG])
check_refused(c, srv, "H3 cookie, wrong cookie", rep, 401, "H3", since=m)
rep = upgrade(srv.port, ["Cookie: a=1; sess=" + TOKEN])
c.check("H3 cookie, right cookie -> 101", rep.status == 101, "got %r" % rep.status)
rep.close()
srv.stop()
check_no_secret(c, srv, [TOKEN, WRONG], "H3 cookie")

srv = Server(["--auth-token", TOKEN, "--auth-token-from", "query"])
m = srv.mark()
rep = upgrade(srv.port, [], path="/app?x=1&wsg_token=" + WRONG)
check_refused(c, srv, "H3 query, wrong token", rep, 401, "H3", since=m)
rep = upgrade(srv.port, [], path="/app?x=1&wsg_token=" + TOKEN)
c.check("H3 query, right token -> 101", rep.status == 101, "got %r" % rep.status)
rep.close()
srv.stop()
check_no_secret(c, srv, [TOKEN, WRONG], "H3 query")

# -- HMAC-signed tokens ---------------------------------------------------------------
key = os.urandom(32).hex().encode()  # 64 printable bytes, no newline
kf = tempfile.NamedTemporaryFile(prefix="ctl-hmac-", delete=False)
kf.write(key)
kf.close()


def sign(k, subject, expiry):
    msg = "v1.%s.%d" % (subject, expiry)
    sig = base64.urlsafe_b64encode(hmac.new(k, msg.encode(), hashlib.sha256)
                                   .digest()).rstrip(b"=").decode()
    return msg + "." + sig


now = int(time.time())
good = sign(key, "alice", now + 600)
expired = sign(key, "alice", now - 3600)
forged = sign(os.urandom(32), "alice", now + 600)
try:
    srv = Server(["--auth-hmac-key-file", kf.name])
    rep = upgrade(srv.port, ["Authorization: Bearer " + good])
    c.check("H3 hmac, valid signed token -> 101", rep.status == 101, "got %r" % rep.status)
    rep.close()
    for label, tok in [("expired", expired), ("forged", forged),
                       ("tampered subject", good.replace(".alice.", ".admin."))]:
        m = srv.mark()
        rep = upgrade(srv.port, ["Authorization: Bearer " + tok])
        check_refused(c, srv, "H3 hmac, " + label, rep, 401, "H3", since=m)
    srv.stop()
    check_no_secret(c, srv, [good, expired, forged, good.split(".")[-1],
                             key.hex()], "H3 hmac")
finally:
    os.unlink(kf.name)

# -- post-connect auth: the first message is the token ---------------------------------
srv = Server(["--auth-token", TOKEN, "--auth-first-message", "1"])
rep = upgrade(srv.port, [])
c.check("H3 first-message, no handshake token -> 101", rep.status == 101, "got %r" % rep.status)
if rep.client:
    rep.client.send(wsproto.frame(wsproto.OP_TEXT, TOKEN))
    ev = echo_once(rep.client, b"after-auth")
    c.check("H3 first-message, token consumed, next message echoed",
            ev[:3] == ("message", 2, b"after-auth"), "%r" % (ev,))
rep.close()
rep = upgrade(srv.port, [])
if rep.client:
    rep.client.send(wsproto.frame(wsproto.OP_TEXT, WRONG))
    ev = close_event(rep.client)
    c.check("H3 first-message, wrong token -> 1008", ev[:2] == ("close", 1008), "%r" % (ev,))
else:
    c.check("H3 first-message, wrong token -> 1008", False, "no 101: %r" % rep.status)
rep.close()
rep = upgrade(srv.port, [])
if rep.client:
    t0 = time.monotonic()
    ev = close_event(rep.client, 5)
    dt = time.monotonic() - t0
    c.check("H3 first-message, silent client -> 1008 after ~1 s",
            ev[:2] == ("close", 1008) and 0.5 <= dt <= 4, "%r after %.2f s" % (ev, dt))
else:
    c.check("H3 first-message, silent client -> 1008", False, "no 101")
rep.close()
ev = srv.wait_event(lambda e: e.get("event") == "violation" and e.get("control") == "H3", 3)
c.check("H3 first-message, audit violation H3 1008",
        ev is not None and ev.get("close_code") == 1008, "%r" % ev)
srv.stop()
check_no_secret(c, srv, [TOKEN, WRONG], "H3 first-message")

# -- post-connect auth: each outcome audited on its own connection, nothing of
# an unauthenticated connection reaches the application (no echo) -------------------------
def first_event(cl, timeout=3.0):
    try:
        return cl.next_event(time.monotonic() + timeout)
    except wsproto.ProtocolViolation as e:
        return ("violation", str(e))


srv = Server(["--auth-token", TOKEN, "--auth-first-message", "1"])
rep = upgrade(srv.port, [])
if rep.client:
    m = srv.mark()
    rep.client.send(wsproto.frame(wsproto.OP_TEXT, WRONG))
    ev = first_event(rep.client)
    c.check("H3 first-message, wrong token: first thing back is close 1008 (no echo)",
            ev[:2] == ("close", 1008), "%r" % (ev,))
    e = srv.wait_event(lambda e: e.get("event") == "violation"
                       and e.get("peer") == rep.local, 3 if ev[0] == "close" else 0.5, m)
    c.check("H3 first-message, wrong token: audit violation H3 1008 for this connection",
            e is not None and e.get("control") == "H3" and e.get("close_code") == 1008
            and e.get("reason") == "authentication required", "%r" % e)
else:
    c.check("H3 first-message, wrong token: 101", False, "%r" % rep.status)
rep.close()
rep = upgrade(srv.port, [])
if rep.client:
    m = srv.mark()
    t0 = time.monotonic()
    ev = first_event(rep.client, 5)
    dt = time.monotonic() - t0
    c.check("H3 first-message, silent client: first thing back is close 1008 at ~1 s",
            ev[:2] == ("close", 1008) and 0.5 <= dt <= 4, "%r after %.2f s" % (ev, dt))
    e = srv.wait_event(lambda e: e.get("event") == "violation"
                       and e.get("peer") == rep.local, 3 if ev[0] == "close" else 0.5, m)
    c.check("H3 first-message, silent client: audit violation H3 1008 for this connection",
            e is not None and e.get("control") == "H3" and e.get("close_code") == 1008,
            "%r" % e)
else:
    c.check("H3 first-message, silent client: 101", False, "%r" % rep.status)
rep.close()
# The token in two fragments is collected and consumed, not echoed.
rep = upgrade(srv.port, [])
if rep.client:
    half = len(TOKEN) // 2
    rep.client.send(wsproto.frame(wsproto.OP_TEXT, TOKEN[:half], fin=False)
                    + wsproto.frame(wsproto.OP_CONT, TOKEN[half:]))
    ev = echo_once(rep.client, b"after-fragments")
    c.check("H3 first-message, fragmented token consumed, next message echoed",
            ev[:3] == ("message", 2, b"after-fragments"), "%r" % (ev,))
else:
    c.check("H3 first-message, fragmented token: 101", False, "%r" % rep.status)
rep.close()
# A token at the handshake is enough: the first message is the application's.
rep = upgrade(srv.port, ["Authorization: Bearer " + TOKEN])
if rep.client:
    ev = echo_once(rep.client, b"first-is-data")
    c.check("H3 first-message, token at the handshake: first message echoed",
            ev[:3] == ("message", 2, b"first-is-data"), "%r" % (ev,))
else:
    c.check("H3 first-message, token at the handshake: 101", False, "%r" % rep.status)
rep.close()
srv.stop()
check_no_secret(c, srv, [TOKEN, WRONG, TOKEN[:len(TOKEN) // 2]],
                "H3 first-message outcomes")

# -- identity header from a trusted front end (Azure App Service Easy Auth) ---------------
IDH = "X-MS-CLIENT-PRINCIPAL-NAME"
WHO = "alice@contoso.example"
srv = Server(["--auth-identity-header", IDH, "--trusted-proxy", "127.0.0.1/32"])
m = srv.mark()
rep = upgrade(srv.port, ["%s: %s" % (IDH, WHO)])
c.check("H3 identity, header from a trusted peer -> 101", rep.status == 101,
        "got %r" % rep.status)
if rep.client:
    ev = echo_once(rep.client, b"id")
    c.check("H3 identity, authenticated connection echoes", ev[:3] == ("message", 2, b"id"),
            "%r" % (ev,))
e = srv.wait_event(lambda e: e.get("event") == "open" and e.get("peer") == rep.local, 3, m)
c.check("H3 identity, audit open for this connection", e is not None, "%r" % e)
c.check("H3 identity, the open event names who (subject)",
        e is not None and e.get("subject") == WHO, "%r" % e)
rep.close()
for label, hdrs in [("no header", []),
                    ("empty header", ["%s: " % IDH]),
                    ("header of 129 bytes", ["%s: %s" % (IDH, "a" * 129)]),
                    ("bearer instead of identity", ["Authorization: Bearer " + TOKEN])]:
    m = srv.mark()
    rep = upgrade(srv.port, hdrs)
    check_refused(c, srv, "H3 identity, " + label, rep, 401, "H3", since=m)
    c.check("H3 identity, %s: 401 carries WWW-Authenticate" % label,
            (rep.h("WWW-Authenticate") or "").lower().startswith("bearer"),
            "%r" % rep.h("WWW-Authenticate"))
st, _ = ws_handshake(srv.url, extra_headers={IDH: WHO})
c.check("H3 identity, websockets client with the header -> 101", st == 101, "got %r" % st)
srv.stop()
check_no_secret(c, srv, [TOKEN], "H3 identity")

# The same header from a peer outside the trusted networks is not believed.
srv = Server(["--auth-identity-header", IDH, "--trusted-proxy", "10.0.0.0/8"])
m = srv.mark()
rep = upgrade(srv.port, ["%s: %s" % (IDH, WHO)])
check_refused(c, srv, "H3 identity, untrusted peer's header", rep, 401, "H3", since=m)
c.check("H3 identity, untrusted peer: 401 carries WWW-Authenticate",
        (rep.h("WWW-Authenticate") or "").lower().startswith("bearer"),
        "%r" % rep.h("WWW-Authenticate"))
m = srv.mark()
rep = upgrade(srv.port, ["%s: %s" % (IDH, WHO), "X-Forwarded-For: 10.1.2.3"])
check_refused(c, srv, "H3 identity, untrusted peer claiming a trusted hop", rep, 401, "H3",
              since=m)
srv.stop()
# Without any trusted proxy the setting could never be believed: refused at
# startup (exit 2, the message names both settings).
srv = Server(["--auth-identity-header", IDH], expect_start=False)
try:
    rc = srv.proc.wait(10) if srv.port is None else None
except Exception:  # noqa: BLE001
    rc = None
srv.stop()
c.check("H3 identity without --trusted-proxy: refused at startup (exit 2)",
        srv.port is None and rc == 2 and "--trusted-proxy" in srv.text(),
        "port %r, exit %r: %s" % (srv.port, rc, srv.text()[-200:]))

# -- off: the same clients pass ----------------------------------------------------------
srv = Server([])
rep = upgrade(srv.port, [])
c.check("H3 off, no token -> 101", rep.status == 101, "got %r" % rep.status)
rep.close()
rep = upgrade(srv.port, ["Authorization: Bearer " + WRONG])
c.check("H3 off, wrong token -> 101", rep.status == 101, "got %r" % rep.status)
rep.close()
rep = upgrade(srv.port, ["Authorization: Bearer " + expired])
c.check("H3 off, expired signed token -> 101", rep.status == 101, "got %r" % rep.status)
rep.close()
st, _ = ws_handshake(srv.url)
c.check("H3 off, websockets client without token -> 101", st == 101, "got %r" % st)
rep = upgrade(srv.port, [])
ev = echo_once(rep.client, TOKEN, wsproto.OP_TEXT) if rep.client else ("none",)
c.check("H3 off, a first message is echoed like any other",
        ev[:3] == ("message", 1, TOKEN.encode()), "%r" % (ev,))
rep.close()
srv.stop()
finish(c)
