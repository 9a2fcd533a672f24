#!/usr/bin/python3
"""A misbehaving registry for the cache tests: HTTPS, just enough of the v2 API
(`/v2/` and `/v2/<name>/blobs/<digest>`) to be pulled from through the proxy.

Each --blob FILE is served as /v2/<any name>/blobs/sha256:<sha256 of FILE>, with
the right Content-Length and Docker-Content-Digest, but:

  --corrupt        one byte in the middle is flipped on the wire, so the bytes
                   sent do not hash to the digest in the URL
  --delay S        the body goes out in --chunk bytes every S seconds (a slow
                   upstream); only for the first --slow-requests GETs when given
  --redirect-to U  blob GETs are answered 307 with Location U + path + a fake
                   signature query (a registry sending blobs to its CDN)
  --referrers F    GET /v2/<name>/referrers/<digest> answers F's bytes as an OCI
                   image index (the OCI 1.1 referrers API, which Debian's
                   docker-registry lacks)
  --status N       every request but "/v2/" is answered N (a registry failing
                   with 503, or rate-limiting with 429)
  --fault F        after --fault-after bytes of a blob GET's body: "reset" the
                   connection (TCP RST), or "stall" (send nothing more, hold the
                   connection); only for the first --fault-requests GETs when given

Every request is appended to --log as one line:
  "<METHOD> <PATH> <STATUS>" when the response head is sent, then
  "done <METHOD> <PATH> bytes=<N> complete|aborted" after the body.
The listening port is written to --port-file (the server binds port 0 unless
--port is given).
"""
import argparse
import hashlib
import http.server
import os
import ssl
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ip", default="127.0.0.25")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--blob", action="append", default=[])
    ap.add_argument("--corrupt", action="store_true")
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--slow-requests", type=int, default=-1, help="-1: every GET is slow")
    ap.add_argument("--redirect-to", default="")
    ap.add_argument("--status", type=int, default=0)
    ap.add_argument("--referrers", default="")
    ap.add_argument("--fault", choices=["reset", "stall"], default=None)
    ap.add_argument("--fault-after", type=int, default=65536)
    ap.add_argument("--fault-requests", type=int, default=-1, help="-1: every GET")
    args = ap.parse_args()

    blobs = {}
    for path in args.blob:
        with open(path, "rb") as f:
            data = f.read()
        blobs["sha256:" + hashlib.sha256(data).hexdigest()] = data

    lock = threading.Lock()
    state = {"slow_left": args.slow_requests, "faults_left": args.fault_requests}
    log_file = open(args.log, "a", buffering=1)

    def log(line):
        with lock:
            log_file.write(line + "\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fake-blob-registry/1"

        def log_message(self, *a):  # the --log file is the log
            pass

        def reply(self, status, body, ctype="application/json", extra=()):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            log("%s %s %d" % (self.command, self.path, status))
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_any(self):
            path = self.path.split("?", 1)[0]
            if path == "/v2/" or path == "/v2":
                return self.reply(200, b"{}")
            if args.status:
                return self.reply(args.status, b'{"errors":[{"code":"UNAVAILABLE","message":"failing on purpose"}]}')
            parts = path.split("/")
            if args.referrers and len(parts) >= 5 and parts[-2] == "referrers":
                with open(args.referrers, "rb") as f:
                    return self.reply(200, f.read(), ctype="application/vnd.oci.image.index.v1+json")
            # /v2/<name...>/blobs/<digest>, under any prefix (a CDN's storage path)
            if len(parts) >= 5 and "v2" in parts and parts[-2] == "blobs" and parts[-1] in blobs:
                if args.redirect_to and self.command == "GET":
                    where = args.redirect_to.rstrip("/") + path + "?X-Signature=fake&Expires=1"
                    return self.reply(307, b"", extra=[("Location", where)])
                return self.send_blob(parts[-1])
            return self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}')

        def send_blob(self, digest):
            data = blobs[digest]
            if args.corrupt and data:
                i = len(data) // 2
                data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
            slow = False
            if self.command == "GET" and args.delay > 0:
                with lock:
                    if state["slow_left"] != 0:
                        slow = True
                        if state["slow_left"] > 0:
                            state["slow_left"] -= 1
            fault = None
            if self.command == "GET" and args.fault:
                with lock:
                    if state["faults_left"] != 0:
                        fault = args.fault
                        if state["faults_left"] > 0:
                            state["faults_left"] -= 1
            if fault:
                return self.send_faulty(digest, data, fault)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Docker-Content-Digest", digest)
            self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
            self.end_headers()
            log("%s %s 200%s" % (self.command, self.path, " slow" if slow else ""))
            if self.command == "HEAD":
                return
            sent = 0
            try:
                step = args.chunk if slow else 1 << 20
                while sent < len(data):
                    self.wfile.write(data[sent:sent + step])
                    self.wfile.flush()
                    sent += len(data[sent:sent + step])
                    if slow:
                        time.sleep(args.delay)
                log("done %s %s bytes=%d complete" % (self.command, self.path, sent))
            except OSError as e:
                log("done %s %s bytes=%d aborted (%s)" % (self.command, self.path, sent, e))
                self.close_connection = True

        def send_faulty(self, digest, data, fault):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Docker-Content-Digest", digest)
            self.end_headers()
            log("%s %s 200 %s" % (self.command, self.path, fault))
            cut = min(args.fault_after, len(data) - 1)
            self.wfile.write(data[:cut])
            self.wfile.flush()
            if fault == "stall":
                time.sleep(3600)
                return
            # SO_LINGER 0: close() sends RST instead of FIN, as a crashing load balancer would.
            import socket as socket_module
            import struct
            raw = self.connection
            raw.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_LINGER, struct.pack("ii", 1, 0))
            log("done %s %s bytes=%d reset" % (self.command, self.path, cut))
            self.close_connection = True
            raw.close()

        do_GET = handle_any
        do_HEAD = handle_any

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def finish_request(self, request, client_address):
            # TLS handshake in the connection's own thread, not in the accept loop.
            ctx = self.ssl_context
            try:
                tls = ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log("tls handshake failed: %s" % e)
                return
            try:
                self.RequestHandlerClass(tls, client_address, self)
            except (OSError, ValueError):  # incl. the connections --fault reset closed itself
                pass
            finally:
                tls.close()

    server = Server((args.ip, args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.ssl_context = ctx
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
