#!/usr/bin/python3
"""H7 timeouts: idle timeout (1001), handshake deadline (slowloris, T5),
keepalive ping with a pong deadline (1011), close-handshake deadline."""
import asyncio
import socket
import time

from ctl import (Checks, Server, upgrade, close_event, echo_once, finish,
                 ws_run, ws_try, wsproto)

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


# -- keepalive ping and pong deadline ------------------------------------------------
def next_ev(cl, deadline):
    try:
        return cl.next_event(deadline)
    except wsproto.ProtocolViolation as e:
        return ("violation", str(e))


srv = Server(["--ping-interval", "0.3", "--pong-timeout", "0.5"])
m = srv.mark()
rep = upgrade(srv.port, [])
if rep.client:
    # A peer that reads but never answers: a Ping after ~0.3 s of silence,
    # then Close 1011 ~0.5 s later (RFC 6455 has no code for a dead peer).
    t0 = time.monotonic()
    ev = next_ev(rep.client, t0 + 4)
    t_ping = time.monotonic()
    c.check("H7 ping on, silent peer gets a Ping after ~0.3 s",
            ev[0] == "ping" and 0.15 <= t_ping - t0 <= 3,
            "%r after %.2f s" % (ev, t_ping - t0))
    ev = close_event(rep.client, 5)
    dt = time.monotonic() - t_ping
    c.check("H7 ping on, no Pong -> close 1011 ~0.5 s after the Ping",
            ev[:2] == ("close", 1011) and 0.3 <= dt <= 3, "%r after %.2f s" % (ev, dt))
    if ev[0] == "close":
        rep.client.send(wsproto.frame(wsproto.OP_CLOSE, wsproto.close_payload(1000)))
        rep.client.wait_tcp_close(time.monotonic() + 3)
else:
    c.check("H7 ping on, 101", False, "%r" % rep.status)
rep.close()
e = srv.wait_event(lambda e: e.get("event") == "close" and e.get("peer") == rep.local, 3, m)
c.check("H7 ping on, audit close 1011 for this connection",
        e is not None and e.get("close_code") == 1011
        and "sent 1011" in (e.get("detail") or ""), "%r" % e)
v = srv.find("violation", m, peer=rep.local)
c.check("H7 ping on, audit violation H7 1011 'keepalive ping timeout'",
        len(v) == 1 and v[0].get("control") == "H7" and v[0].get("close_code") == 1011
        and v[0].get("reason") == "keepalive ping timeout", "%r" % v)
c.check("H7 ping on, the close event carries H7 too",
        e is not None and e.get("control") == "H7", "%r" % e)
# A raw peer that answers every Ping stays open past several pong deadlines.
rep = upgrade(srv.port, [])
pings, end = 0, None
if rep.client:
    t_end = time.monotonic() + 2.0
    while time.monotonic() < t_end:
        ev = next_ev(rep.client, t_end)
        if ev[0] == "ping":
            pings += 1
            rep.client.send(wsproto.frame(wsproto.OP_PONG, ev[1]))
        elif ev[0] != "timeout":
            end = ev
            break
    ev = echo_once(rep.client, b"alive") if end is None else end
c.check("H7 ping on, answering peer: pings keep coming, open after 2 s",
        pings >= 2 and end is None and ev[:3] == ("message", 2, b"alive"),
        "%d pings, end %r, last %r" % (pings, end, ev))
rep.close()
answering = [rep.local]


# python3-websockets answers pings by itself (its own keepalive is off here).
async def ws_idle(url, wait):
    r = await ws_try(url)
    if r[0] != "open":
        return r
    ws = r[1]
    answering.append("%s:%d" % ws.local_address[:2])
    await asyncio.sleep(wait)
    if ws.closed:
        return ("closed", ws.close_code)
    await ws.send("still here")
    got = await asyncio.wait_for(ws.recv(), 3)
    await ws.close()
    return ("echo", got)


r = ws_run(ws_idle(srv.url, 2.0))
c.check("H7 ping on, websockets client (answers pings) open after 2 s",
        r == ("echo", "still here"), "%r" % (r,))
srv.stop()
bad = [e for e in srv.find("close", m) if e.get("peer") in answering
       and "sent 1011" in (e.get("detail") or "")]
c.check("H7 ping on, no 1011 sent to the answering peers", not bad, "%r" % bad)

srv = Server(["--ping-interval", "0"])
rep = upgrade(srv.port, [])
ev = next_ev(rep.client, time.monotonic() + 1.5) if rep.client else ("none",)
c.check("H7 ping-interval 0, no Ping within 1.5 s", ev == ("timeout",), "%r" % (ev,))
ev = echo_once(rep.client, b"quiet") if rep.client else ("none",)
c.check("H7 ping-interval 0, still open", ev[:3] == ("message", 2, b"quiet"), "%r" % (ev,))
rep.close()
srv.stop()


# -- close-handshake deadline ----------------------------------------------------------
def unanswered_close(srv, wait):
    """Waits for the server's Close 1001 (idle), never answers it. Returns
    (close event, TCP state after the Close, seconds, peer)."""
    rep = upgrade(srv.port, [])
    if not rep.client:
        return ("no 101", rep.status), None, 0, rep.local
    ev = close_event(rep.client, 4)
    t1 = time.monotonic()
    st = rep.client.wait_tcp_close(t1 + wait) if ev[0] == "close" else None
    dt = time.monotonic() - t1
    rep.close()
    return ev, st, dt, rep.local


srv = Server(["--idle-timeout", "0.3", "--close-timeout", "0.5"])
m = srv.mark()
ev, st, dt, peer = unanswered_close(srv, 4)
c.check("H7 close-timeout on, Close 1001 (idle) first", ev[:2] == ("close", 1001), "%r" % (ev,))
c.check("H7 close-timeout on, unanswered Close -> TCP closed ~0.5 s later",
        st in ("eof", "reset") and 0.3 <= dt <= 3, "%r after %.2f s" % (st, dt))
e = srv.wait_event(lambda e: e.get("event") == "close" and e.get("peer") == peer, 3, m)
c.check("H7 close-timeout on, audit close 1001 H7, peer never answered",
        e is not None and e.get("close_code") == 1001 and e.get("control") == "H7"
        and "received 1006" in (e.get("detail") or ""), "%r" % e)
srv.stop()
srv = Server(["--idle-timeout", "0.3"])
ev, st, dt, peer = unanswered_close(srv, 1.5)
c.check("H7 close-timeout default (5 s), Close 1001 then still open at 1.5 s",
        ev[:2] == ("close", 1001) and st == "timeout", "%r, then %r after %.2f s" % (ev, st, dt))
srv.stop()
finish(c)
