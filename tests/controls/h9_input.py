#!/usr/bin/python3
"""H9 input: allowed message types (1003) and the subprotocol allowlist."""
from ctl import (Checks, Server, upgrade, check_refused, check_no_secret,
                 echo_once, ws_handshake, finish, wsproto)

c = Checks("controls H9 input")
CRED = "cred-" + "9f3a7c1e5b2d4a6f"   # a session credential as 2nd entry

srv = Server(["--binary-only"])
rep = upgrade(srv.port, [])
ev = echo_once(rep.client, b"bin", wsproto.OP_BINARY) if rep.client else ("none",)
c.check("H9 binary-only on, binary echoed", ev[:3] == ("message", 2, b"bin"), "%r" % (ev,))
ev = echo_once(rep.client, "text", wsproto.OP_TEXT) if rep.client else ("none",)
c.check("H9 binary-only on, text -> 1003", ev[:2] == ("close", 1003), "%r" % (ev,))
rep.close()
e = srv.wait_event(lambda e: e.get("event") == "violation", 3)
c.check("H9 binary-only on, audit violation H9 1003",
        e is not None and e.get("control") == "H9" and e.get("close_code") == 1003, "%r" % e)
srv.stop()

srv = Server(["--text-only"])
rep = upgrade(srv.port, [])
ev = echo_once(rep.client, b"bin", wsproto.OP_BINARY) if rep.client else ("none",)
c.check("H9 text-only on, binary -> 1003", ev[:2] == ("close", 1003), "%r" % (ev,))
rep.close()
srv.stop()

srv = Server([])
rep = upgrade(srv.port, [])
ev = echo_once(rep.client, "text", wsproto.OP_TEXT) if rep.client else ("none",)
c.check("H9 types off, text echoed", ev[:3] == ("message", 1, b"text"), "%r" % (ev,))
ev = echo_once(rep.client, b"bin", wsproto.OP_BINARY) if rep.client else ("none",)
c.check("H9 types off, binary echoed", ev[:3] == ("message", 2, b"bin"), "%r" % (ev,))
rep.close()
srv.stop()

# -- subprotocols ----------------------------------------------------------------------------
srv = Server(["--subprotocol", "chat"])
st, sub = ws_handshake(srv.url, subprotocols=["x", "chat"])
c.check("H9 subprotocol on, offered [x, chat] -> 101 chat", st == 101 and sub == "chat",
        "%r %r" % (st, sub))
m = srv.mark()
rep = upgrade(srv.port, ["Sec-WebSocket-Protocol: x, " + CRED])
check_refused(c, srv, "H9 subprotocol on, offered [x, cred]", rep, 403, "H9", since=m)
m = srv.mark()
rep = upgrade(srv.port, [])
check_refused(c, srv, "H9 subprotocol on, none offered", rep, 403, "H9", since=m)
rep = upgrade(srv.port, ["Sec-WebSocket-Protocol: chat, " + CRED])
c.check("H9 subprotocol on, offered [chat, cred] -> chat",
        rep.status == 101 and rep.h("Sec-WebSocket-Protocol") == "chat", "%r %r" % (rep.status, rep.headers))
rep.close()
e = srv.wait_event(lambda e: e.get("event") == "open", 3)
c.check("H9 subprotocol on, open event names the first entry only",
        e is not None and e.get("subprotocol") == "chat", "%r" % e)
srv.stop()
check_no_secret(c, srv, [CRED], "H9 subprotocol")

srv = Server([])
st, sub = ws_handshake(srv.url, subprotocols=["x"])
c.check("H9 subprotocol off, offered [x] -> 101 without one", st == 101 and sub is None,
        "%r %r" % (st, sub))
srv.stop()
finish(c)
