#!/usr/bin/env python3
"""A stand-in for the Docker Engine API on a unix socket (no Docker engine runs on the test
machines). It speaks HTTP/1.1 like dockerd does: keep-alive, Content-Length and chunked request
bodies, the streamed progress JSON of images/create (chunked, one message per line ending in
\\r\\n), the engine's {"message": ...} errors, and the connection hijack of attach (101 UPGRADED,
then raw bytes both ways).

Every request is recorded as one JSON line in --log: method, target, headers, body.

State (--state JSON file, read at start):
  {"images": ["docker.io/library/busybox:latest", ...],     images the engine has
   "registry": ["mirror.test:5000/library/ubuntu:18.04", ...],  what a pull can fetch
   "broken": ["mirror.test:5000/library/broken:1"],            pulls that fail mid-stream
   "slow": ["mirror.test:5000/library/slow:1"]}                pulls that wait for --release-file
References are kept normalised as docker does (docker.io/library/x:tag).
"""
import argparse
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
IMAGES = {}  # normalised ref -> image id
REGISTRY = set()
BROKEN = set()
SLOW = set()
ARGS = None

ENGINE_HEADERS = [
    ("Api-Version", "1.43"),
    ("Docker-Experimental", "false"),
    ("Ostype", "linux"),
    ("Server", "Docker/24.0.7 (linux)"),
]


def normalise(ref):
    """docker's reference normalisation (enough of it for the tests)."""
    name, digest = (ref.split("@", 1) + [""])[:2]
    tag = ""
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name
    if registry == "index.docker.io":
        registry = "docker.io"
    if registry == "docker.io" and "/" not in path:
        path = "library/" + path
    if digest:
        return f"{registry}/{path}@{digest}"
    return f"{registry}/{path}:{tag or 'latest'}"


def image_id(ref):
    import hashlib
    return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()


def record(method, target, headers, body):
    entry = {"method": method, "target": target, "headers": headers,
             "body": body.decode("utf-8", "replace")}
    with LOCK, open(ARGS.log, "a") as f:
        f.write(json.dumps(entry) + "\n")


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def read_until(self, marker):
        while marker not in self.buf:
            self.fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data):
        self.sock.sendall(data)

    def respond(self, status, reason, body=b"", ctype="application/json", extra=(), head_only=False):
        head = f"HTTP/1.1 {status} {reason}\r\n"
        for k, v in list(ENGINE_HEADERS) + list(extra):
            head += f"{k}: {v}\r\n"
        if ctype and body:
            head += f"Content-Type: {ctype}\r\n"
        head += "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()) + "\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self.send(head.encode() + (b"" if head_only else body))

    def json(self, status, reason, obj):
        # dockerd writes compact JSON with a newline behind it.
        self.respond(status, reason, (json.dumps(obj, separators=(",", ":")) + "\n").encode())

    def error(self, status, reason, message):
        self.json(status, reason, {"message": message})

    def start_chunked(self):
        head = "HTTP/1.1 200 OK\r\n"
        for k, v in ENGINE_HEADERS:
            head += f"{k}: {v}\r\n"
        head += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        self.send(head.encode())

    def chunk(self, data):
        if data:
            self.send(b"%x\r\n" % len(data) + data + b"\r\n")

    def end_chunked(self):
        self.send(b"0\r\n\r\n")


def progress(conn, obj):
    # dockerd's streamformatter: one JSON message per write, "\r\n" after each.
    conn.chunk((json.dumps(obj, separators=(",", ":")) + "\r\n").encode())


def pull(conn, query):
    from_image = query.get("fromImage", [""])[0]
    tag = query.get("tag", [""])[0]
    if tag:
        ref = f"{from_image}@{tag}" if ":" in tag else f"{from_image}:{tag}"
    else:
        ref = from_image
    norm = normalise(ref)
    repo_path = norm.split("/", 1)[1].rsplit("@", 1)[0].rsplit(":", 1)[0]
    if norm not in REGISTRY and norm not in BROKEN and norm not in SLOW:
        # dockerd answers a missing manifest before it starts streaming.
        conn.error(404, "Not Found",
                   f"pull access denied for {from_image}, repository does not exist or may require "
                   "'docker login': denied: requested access to the resource is denied")
        return
    conn.start_chunked()
    shown_tag = tag or "latest"
    progress(conn, {"status": f"Pulling from {repo_path}", "id": shown_tag})
    layer = image_id(norm)[7:19]
    progress(conn, {"status": "Pulling fs layer", "progressDetail": {}, "id": layer})
    if norm in SLOW:
        deadline = time.time() + 30
        while not os.path.exists(ARGS.release_file) and time.time() < deadline:
            time.sleep(0.05)
    if norm in BROKEN:
        msg = f"failed to register layer: error processing tar file: unexpected EOF ({layer})"
        progress(conn, {"errorDetail": {"message": msg}, "error": msg})
        conn.end_chunked()
        return
    for cur in (261120, 13107200, 26705075):
        progress(conn, {"status": "Downloading", "progressDetail": {"current": cur, "total": 26705075},
                        "progress": f"[=====>    ]  {cur / 1e6:.2f}MB/26.71MB", "id": layer})
    for st in ("Verifying Checksum", "Download complete", "Pull complete"):
        progress(conn, {"status": st, "progressDetail": {}, "id": layer})
    progress(conn, {"status": "Digest: " + image_id(norm + "manifest")})
    progress(conn, {"status": f"Status: Downloaded newer image for {ref}"})
    with LOCK:
        IMAGES[norm] = image_id(norm)
    conn.end_chunked()


def handle(conn, method, target, headers, body):
    url = urllib.parse.urlsplit(target)
    path = re.sub(r"^/v[0-9.]+(?=/)", "", url.path)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    if path == "/_ping" and method in ("GET", "HEAD"):
        conn.respond(200, "OK", b"OK", "text/plain; charset=utf-8",
                     [("Builder-Version", "2"), ("Cache-Control", "no-cache, no-store, must-revalidate"),
                      ("Pragma", "no-cache"), ("Swarm", "inactive")], head_only=method == "HEAD")
    elif path == "/version" and method == "GET":
        conn.json(200, "OK", {"Version": "24.0.7", "ApiVersion": "1.43", "MinAPIVersion": "1.12", "Os": "linux"})
    elif path == "/containers/json" and method == "GET":
        conn.json(200, "OK", [{"Id": "4f3c2b1a" * 8, "Names": ["/web"], "Image": "nginx:latest",
                               "State": "running", "Status": "Up 2 hours"}])
    elif path == "/images/create" and method == "POST":
        pull(conn, query)
    elif m := re.fullmatch(r"/images/(.+)/json", path):
        name = m.group(1)
        with LOCK:
            iid = IMAGES.get(normalise(name))
        if method == "GET" and iid:
            conn.json(200, "OK", {"Id": iid, "RepoTags": [name]})
        else:
            conn.error(404, "Not Found", f"No such image: {name}")
    elif (m := re.fullmatch(r"/images/(.+)/tag", path)) and method == "POST":
        name = m.group(1)
        repo = query.get("repo", [""])[0]
        tag = query.get("tag", [""])[0] or "latest"
        with LOCK:
            iid = IMAGES.get(normalise(name))
            if iid:
                IMAGES[normalise(f"{repo}:{tag}")] = iid
        if iid:
            conn.respond(201, "Created")
        else:
            conn.error(404, "Not Found", f"No such image: {name}")
    elif path == "/containers/create" and method == "POST":
        try:
            config = json.loads(body or b"{}")
        except ValueError as e:
            conn.error(400, "Bad Request", f"invalid JSON: {e}")
            return
        image = config.get("Image", "")
        with LOCK:
            ok = normalise(image) in IMAGES if image else False
        if ok:
            conn.json(201, "Created", {"Id": "c0ffee" + "0" * 58, "Warnings": []})
        else:
            conn.error(404, "Not Found", f"No such image: {image}")
    elif re.fullmatch(r"/containers/[^/]+/attach", path) and method == "POST":
        if headers.get("upgrade", "").lower() != "tcp":
            conn.error(400, "Bad Request", "attach needs Upgrade: tcp in this fake")
            return
        conn.send(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                  b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        conn.send(b"hello from the container\n")
        try:
            while True:
                while b"\n" not in conn.buf:
                    conn.fill()
                line, conn.buf = conn.buf.split(b"\n", 1)
                conn.send(b"echo: " + line + b"\n")
        except EOFError:
            conn.send(b"bye\n")
        raise EOFError  # the hijacked connection is over
    else:
        conn.error(404, "Not Found", "page not found")


def serve(sock):
    conn = Conn(sock)
    try:
        while True:
            head = conn.read_until(b"\r\n\r\n").decode("latin-1")
            lines = head.split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if line:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
            body = b""
            if headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size = int(conn.read_until(b"\r\n").split(b";")[0], 16)
                    if size == 0:
                        conn.read_until(b"\r\n")
                        break
                    body += conn.read_exact(size)
                    conn.read_exact(2)
            elif "content-length" in headers:
                body = conn.read_exact(int(headers["content-length"]))
            record(method, target, headers, body)
            handle(conn, method, target, headers, body)
            if headers.get("connection", "").lower() == "close":
                break
    except (EOFError, ConnectionError, OSError):
        pass
    finally:
        sock.close()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--socket", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--release-file", default="/nonexistent")
    ARGS = p.parse_args()
    state = json.load(open(ARGS.state))
    for ref in state.get("images", []):
        IMAGES[normalise(ref)] = image_id(normalise(ref))
    REGISTRY.update(normalise(r) for r in state.get("registry", []))
    BROKEN.update(normalise(r) for r in state.get("broken", []))
    SLOW.update(normalise(r) for r in state.get("slow", []))
    if os.path.exists(ARGS.socket):
        os.unlink(ARGS.socket)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(ARGS.socket)
    srv.listen(64)
    print("fake docker engine on", ARGS.socket, flush=True)
    while True:
        s, _ = srv.accept()
        threading.Thread(target=serve, args=(s,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
