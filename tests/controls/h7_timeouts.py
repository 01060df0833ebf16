#!/usr/bin/python3
"""H7 timeouts: idle timeout (1001) and handshake deadline (slowloris, T5)."""
import socket
import time

from ctl import Checks, Server, upgrade, close_event, echo_once, finish

c = Checks("controls H7 timeouts")

# -- idle --------------------------------------------------------------------------------
srv = Server(["--idle-timeout", "0.5"])
rep = upgrade(srv.port, [])
if rep.client:
    t0 = time.monotonic()
    ev = close_event(rep.client, 5)
    dt = time.monotonic() - t0
    c.check("H7 idle on, closed 1001 after ~0.5 s", ev[:2] == ("close", 1001) and 0.3 <= dt <= 3,
            "%r after %.2f s" % (ev, dt))
else:
    c.check("H7 idle on, 101", False, "%r" % rep.status)
rep.close()
ev = srv.wait_event(lambda e: e.get("event") == "violation", 3)
c.check("H7 idle on, audit violation H7 1001",
        ev is not None and ev.get("control") == "H7" and ev.get("close_code") == 1001, "%r" % ev)
# Traffic keeps it open: a message every 0.2 s for 1.2 s.
rep = upgrade(srv.port, [])
alive = True
for i in range(6):
    time.sleep(0.2)
    ev = echo_once(rep.client, b"k%d" % i) if rep.client else ("none",)
    alive = alive and ev[0] == "message"
c.check("H7 idle on, active connection not closed", alive, "%r" % (ev,))
rep.close()
srv.stop()

srv = Server([])
rep = upgrade(srv.port, [])
time.sleep(1.5)
ev = echo_once(rep.client, b"still") if rep.client else ("none",)
c.check("H7 idle off, open after 1.5 s idle", ev[:3] == ("message", 2, b"still"), "%r" % (ev,))
rep.close()
srv.stop()


# -- handshake deadline ---------------------------------------------------------------------
def half_request(port, wait):
    """Sends half a request head; returns ('closed', seconds) or ('open',)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
    t0 = time.monotonic()
    s.settimeout(wait)
    try:
        data = s.recv(4096)
        while data:
            data = s.recv(4096)
        res = ("closed", time.monotonic() - t0)
    except socket.timeout:
        res = ("open",)
    except ConnectionResetError:
        res = ("closed", time.monotonic() - t0)
    s.close()
    return res


srv = Server(["--handshake-timeout", "0.5"])
res = half_request(srv.port, 4)
c.check("H7 handshake on, half request dropped after ~0.5 s",
        res[0] == "closed" and 0.3 <= res[1] <= 3, "%r" % (res,))
ev = srv.wait_event(lambda e: e.get("event") == "refuse", 3)
c.check("H7 handshake on, audit refuse H7", ev is not None and ev.get("control") == "H7", "%r" % ev)
c.check("H7 handshake on, never opened", not srv.find("open"), "%r" % srv.find("open"))
srv.stop()
srv = Server([])
res = half_request(srv.port, 1.5)
c.check("H7 handshake off (default 10 s), half request still open at 1.5 s",
        res == ("open",), "%r" % (res,))
srv.stop()
finish(c)
