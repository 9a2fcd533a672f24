#!/usr/bin/python3
"""Load for the proxy: N concurrent client connections through CONNECT + TLS (trusting the proxy's
CA), each sending requests over keep-alive, like nodes pulling and kubelets checking manifests.

Half the connections "pull" (GET the manifest by digest, then every blob, digests checked), half
send HEAD storms for the manifest. All connections are held open until every one is established,
so the proxy really holds N at once. Source addresses are spread over --source-ips so that
per-client limits are not what is measured.

Prints one JSON line: {"connections": N, "requests": R, "errors": E, "bytes": B, "held": H, "error_samples": [...]}
Exit status 0 when there were no errors.
"""
import argparse
import asyncio
import hashlib
import json
import ssl
import sys


async def read_response(reader, method):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = b""
    if method != "HEAD":
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                body += chunk[:-2]
                if size == 0:
                    break
    return status, headers, body


async def one_client(i, args, ctx, all_open, stats):
    source = args.source_ips[i % len(args.source_ips)]
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(args.proxy_host, args.proxy_port, local_addr=(source, 0)), 30)
        target = "%s:%d" % (args.host, args.port)
        writer.write(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
        await writer.drain()
        status, _, _ = await asyncio.wait_for(read_response(reader, "CONNECT"), 30)
        if status != 200:
            raise RuntimeError("CONNECT answered %d" % status)
        await asyncio.wait_for(writer.start_tls(ctx, server_hostname=args.host), 30)
        stats["held"] += 1
        await all_open.wait()  # every connection is open at once before the requests start
        auth = "Authorization: %s\r\n" % args.authorization if args.authorization else ""
        pull = i % 2 == 0
        paths = ([("GET", "/v2/%s/manifests/%s" % (args.repo, args.manifest))] +
                 [("GET", "/v2/%s/blobs/%s" % (args.repo, b)) for b in args.blob]) if pull else \
            [("HEAD", "/v2/%s/manifests/%s" % (args.repo, args.tag))] * args.heads
        accept = "application/vnd.docker.distribution.manifest.v2+json"
        for method, path in paths:
            writer.write(("%s %s HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\n%s\r\n" %
                          (method, path, target, accept, auth)).encode())
            await writer.drain()
            status, headers, body = await asyncio.wait_for(read_response(reader, method), 60)
            stats["requests"] += 1
            stats["bytes"] += len(body)
            if status != 200:
                raise RuntimeError("%s %s answered %d" % (method, path, status))
            if method == "GET" and "/blobs/" in path:
                if "sha256:" + hashlib.sha256(body).hexdigest() != path.rsplit("/", 1)[1]:
                    raise RuntimeError("blob %s: wrong bytes" % path)
        writer.close()
    except Exception as e:  # noqa: BLE001 - every failure counts, whatever it is
        stats["errors"] += 1
        if len(stats["samples"]) < 5:
            stats["samples"].append("client %d: %s: %s" % (i, type(e).__name__, e))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxy-host", default="127.0.0.1")
    ap.add_argument("--proxy-port", type=int, required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--manifest", required=True, help="manifest digest")
    ap.add_argument("--blob", action="append", default=[])
    ap.add_argument("--authorization", default="")
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--heads", type=int, default=5)
    ap.add_argument("--source-ips", default="127.0.0.1")
    args = ap.parse_args()
    args.source_ips = args.source_ips.split(",")

    ctx = ssl.create_default_context(cafile=args.cafile)
    stats = {"requests": 0, "errors": 0, "bytes": 0, "held": 0, "samples": []}
    all_open = asyncio.Event()
    tasks = [asyncio.create_task(one_client(i, args, ctx, all_open, stats)) for i in range(args.connections)]
    # Release the requests once every connection is open (or has failed), or after 60 s.
    for _ in range(600):
        if stats["held"] + stats["errors"] >= args.connections:
            break
        await asyncio.sleep(0.1)
    held = stats["held"]
    all_open.set()
    await asyncio.gather(*tasks)
    print(json.dumps({"connections": args.connections, "held": held, "requests": stats["requests"],
                      "errors": stats["errors"], "bytes": stats["bytes"], "error_samples": stats["samples"]}))
    return 0 if stats["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
