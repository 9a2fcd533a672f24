#!/usr/bin/python3
"""A TCP relay that limits the bytes coming back from its target to a shared rate: a stand-in
for the internet link between a cache and a remote registry (tc cannot shape here: no sch_prio).

usage: slow_link.py --listen IP --port-file FILE --target IP:PORT --mbit N

All connections share one link: each chunk sent to a client occupies the link for len/rate
seconds, so N concurrent downloads get rate/N each, like one uplink. Client-to-target bytes
(requests, pushes) pass unshaped. TLS passes through untouched.
"""
import argparse
import asyncio
import socket
import time

CHUNK = 64 * 1024


class Link:
    def __init__(self, bytes_per_s):
        self.rate = bytes_per_s
        self.next_free = 0.0

    async def send(self, n):
        now = time.monotonic()
        start = max(now, self.next_free)
        self.next_free = start + n / self.rate
        delay = self.next_free - now
        if delay > 0:
            await asyncio.sleep(delay)


async def pump(reader, writer, link=None):
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            if link:
                await link.send(len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--mbit", type=float, required=True)
    args = ap.parse_args()
    host, port = args.target.rsplit(":", 1)
    link = Link(args.mbit * 1e6 / 8)

    async def handle(c_reader, c_writer):
        try:
            u_reader, u_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            c_writer.close()
            return
        for w in (c_writer, u_writer):
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(pump(c_reader, u_writer), pump(u_reader, c_writer, link))

    server = await asyncio.start_server(handle, args.listen, 0, backlog=512)
    with open(args.port_file, "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
