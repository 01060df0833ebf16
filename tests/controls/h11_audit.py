#!/usr/bin/python3
"""H11 audit: one JSON line per open/close/refuse/violation with the right
control id and fields; nothing on stdout without --audit."""
import json
import time

from ctl import (Checks, Server, upgrade, echo_once, close_event, ws_handshake,
                 finish, wsproto)

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
finish(c)
