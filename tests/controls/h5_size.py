#!/usr/bin/python3
"""H5 size limits: a message over --max-message closes with 1009."""
from ctl import (Checks, Server, ws_run, ws_try, closed_code, upgrade,
                 close_event, echo_once, finish, wsproto, websockets)

c = Checks("controls H5 size limits")


async def send_sizes(url, sizes):
    """Sends binary messages of the given sizes with websockets; returns the
    echoed lengths and the close (code, reason) if the server closed."""
    r = await ws_try(url, max_size=None)
    if r[0] != "open":
        return None, ("no connection", r)
    ws = r[1]
    got = []
    try:
        for n in sizes:
            await ws.send(b"a" * n)
            got.append(len(await ws.recv()))
        await ws.close()
        return got, None
    except websockets.exceptions.ConnectionClosed as e:
        return got, closed_code(e)


srv = Server(["--max-message", "1000"])
got, closed = ws_run(send_sizes(srv.url, [1000, 1001]))
c.check("H5 on, 1000-byte message echoed", got is not None and got[:1] == [1000], "%r" % got)
c.check("H5 on, 1001-byte message -> 1009", closed is not None and closed[0] == 1009,
        "%r" % (closed,))
ev = srv.wait_event(lambda e: e.get("event") == "violation"
                    and e.get("close_code") == 1009, 3)
c.check("H5 on, audit violation H5 with close_code 1009",
        ev is not None and ev.get("control") == "H5", "%r" % srv.events())
cl = srv.wait_event(lambda e: e.get("event") == "close" and e.get("close_code") == 1009, 3)
c.check("H5 on, audit close 1009 names H5", cl is not None and cl.get("control") == "H5",
        "%r" % cl)
# Fragmented: 600 + 401 bytes crosses the limit too (raw client).
rep = upgrade(srv.port, [])
if rep.client:
    rep.client.send(wsproto.frame(wsproto.OP_BINARY, b"b" * 600, fin=False))
    rep.client.send(wsproto.frame(wsproto.OP_CONT, b"b" * 401))
    ev = close_event(rep.client)
    c.check("H5 on, 600+401 fragments -> 1009", ev[:2] == ("close", 1009), "%r" % (ev,))
rep.close()
srv.stop()
c.check("H5 on, nothing over the limit echoed", got is not None and 1001 not in got, "%r" % got)

srv = Server(["--max-frame", "500", "--max-message", "4000"])
rep = upgrade(srv.port, [])
if rep.client:
    ev = echo_once(rep.client, b"c" * 501)
    c.check("H5 --max-frame 500, 501-byte frame -> 1009", ev[:2] == ("close", 1009), "%r" % (ev,))
rep.close()
srv.stop()

# The same setting from the environment (Azure App Settings).
srv = Server([], env={"WSG_MAX_MESSAGE": "1000"})
got, closed = ws_run(send_sizes(srv.url, [1000, 1001]))
c.check("H5 on via WSG_MAX_MESSAGE=1000, 1001 bytes -> 1009",
        got == [1000] and closed is not None and closed[0] == 1009, "%r %r" % (got, closed))
srv.stop()

srv = Server([])
got, closed = ws_run(send_sizes(srv.url, [1000, 1001]))
c.check("H5 off, 1001-byte message echoed", got == [1000, 1001] and closed is None,
        "%r %r" % (got, closed))
rep = upgrade(srv.port, [])
if rep.client:
    ev = echo_once(rep.client, b"c" * 501)
    c.check("H5 off, 501-byte frame echoed", ev[:3] == ("message", 2, b"c" * 501), "%r" % (ev[:2],))
rep.close()
srv.stop()
finish(c)
