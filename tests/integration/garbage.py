#!/usr/bin/python3
"""Throws malformed, hostile and slow input at the proxy's port.

usage: garbage.py PROXY_PORT REGISTRY_AUTHORITY PROXY_CA_CRT [HEADER_TIMEOUT_SECONDS]

Each case prints one line, "PASS <case>: <outcome>" or "FAIL <case>: <outcome>";
the exit status is the number of failed cases. The rule for hostile input:
the proxy answers with a 4xx status, or closes the connection, within a few
seconds; it never hangs on a client that has finished sending, never answers
2xx to nonsense, and never stops serving others.
"""
import random
import socket
import ssl
import sys
import threading
import time

PORT = int(sys.argv[1])
REGISTRY = sys.argv[2]           # e.g. registry.test:23456 (intercepted)
PROXY_CA = sys.argv[3]
RNG = random.Random(20231114)
failures = 0


def report(name, good, outcome):
    global failures
    if not good:
        failures += 1
    print("%s %s: %s" % ("PASS" if good else "FAIL", name, outcome), flush=True)


def connect(timeout=10):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_response_head(s, limit=65536):
    """Reads until a full response head, EOF, reset or timeout.
    Returns ("status", code, data) | ("closed", None, data) | ("reset", ..) | ("timeout", ..)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < limit:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except socket.timeout:
        if not data:
            return ("timeout", None, data)
    except (ConnectionResetError, BrokenPipeError):
        if not data:
            return ("reset", None, data)
    except ssl.SSLError as e:
        if not data:
            return ("closed", None, repr(e).encode())
    if data.startswith(b"HTTP/1."):
        try:
            return ("status", int(data.split(b" ", 2)[1]), data)
        except (IndexError, ValueError):
            return ("garbled", None, data)
    if not data:
        return ("closed", None, data)
    return ("garbled", None, data)


def describe(kind, code, data):
    first = data.split(b"\r\n", 1)[0][:120].decode("latin-1", "replace") if data else ""
    if kind == "status":
        return "answered %d (%s)" % (code, first)
    return kind + (" " + repr(first) if first else "")


def send_and_judge(name, payload, shutdown=False, allowed=range(400, 500), timeout=10):
    """4xx (or a status in `allowed`) or a close/reset is fine; a hang, garbage or 2xx is not."""
    try:
        s = connect(timeout)
    except OSError as e:
        report(name, False, "cannot connect: %r" % e)
        return
    try:
        try:
            s.sendall(payload)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the proxy gave up on us mid-send: fine, see what it said
        kind, code, data = read_response_head(s)
    finally:
        s.close()
    good = kind in ("closed", "reset") or (kind == "status" and code in allowed)
    report(name, good, describe(kind, code, data))


def connect_tunnel(authority):
    s = connect()
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (authority, authority)).encode())
    kind, code, data = read_response_head(s)
    if kind != "status" or code != 200:
        s.close()
        raise RuntimeError("CONNECT %s: %s" % (authority, describe(kind, code, data)))
    return s


def healthz(timeout=3):
    s = connect(timeout)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n")
        kind, code, _ = read_response_head(s)
        return kind == "status" and code == 200
    finally:
        s.close()


# --- plain-port garbage ------------------------------------------------------------------------
send_and_judge("random bytes", RNG.randbytes(4096) + b"\r\n\r\n")
send_and_judge("random bytes, then EOF", RNG.randbytes(1000), shutdown=True)
send_and_judge("NUL bytes", b"\x00" * 2048 + b"\r\n\r\n")
send_and_judge("half a request, then EOF", b"GET /healthz HTTP/1.1\r\nHo", shutdown=True)
send_and_judge("request line only, then EOF", b"GET /healthz HTTP/1.1\r\n", shutdown=True)
send_and_judge("bad HTTP version", b"GET /healthz HTTP/9.7\r\nHost: x\r\n\r\n", allowed=list(range(400, 500)) + [505])
send_and_judge("no HTTP version", b"GET /healthz\r\n\r\n", allowed=range(400, 500))
send_and_judge("header without colon", b"GET /healthz HTTP/1.1\r\nHost x\r\nBroken\r\n\r\n")
send_and_judge("bad Content-Length", b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
send_and_judge("two Content-Lengths",
               b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
send_and_judge("100 KB header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100 * 1024 + b"\r\n\r\n")
send_and_judge("15000 small headers (120 KB)", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-H: v\r\n" * 15000 + b"\r\n")
send_and_judge("100 KB request line", b"GET /" + b"a" * 100 * 1024 + b" HTTP/1.1\r\nHost: x\r\n\r\n")

# A TLS ClientHello to the plain-HTTP port: the handshake must fail, quickly.
try:
    raw = connect()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        t = ctx.wrap_socket(raw, server_hostname="registry.test")
        report("TLS ClientHello on the plain port", False, "handshake succeeded?! %r" % t.version())
        t.close()
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError) as e:
        ok = not isinstance(e, socket.timeout)
        report("TLS ClientHello on the plain port", ok, "handshake failed: %s" % str(e)[:100])
    finally:
        raw.close()
except OSError as e:
    report("TLS ClientHello on the plain port", False, "cannot connect: %r" % e)

# --- CONNECT to nonsense -----------------------------------------------------------------------
for target in ["../../etc:443", "a b:443", ":443", "registry.test:", "registry.test:0",
               "registry.test:99999", "registry.test:-1", "registry.test:44x3", "[::1:443",
               "-oProxyCommand=x:443", "host%00.test:443", "a" * 300 + ".test:443",
               "..:443", "exa mple.com:443"]:
    line = "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)
    send_and_judge("CONNECT %r" % target[:40], line.encode("latin-1"))
send_and_judge("CONNECT with NUL in host", b"CONNECT regis\x00try.test:443 HTTP/1.1\r\nHost: x\r\n\r\n")
send_and_judge("CONNECT with CR in host", b"CONNECT regis\rtry.test:443 HTTP/1.1\r\nHost: x\r\n\r\n")
# A name that cannot resolve: 4xx or 5xx, but an answer (or a close), not a hang.
send_and_judge("CONNECT unresolvable host", b"CONNECT no-such-host.invalid:443 HTTP/1.1\r\nHost: x\r\n\r\n",
               allowed=range(400, 600), timeout=30)

# --- local endpoints ---------------------------------------------------------------------------
s = connect()
s.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
kind, code, data = read_response_head(s)
s.close()
report("GET /nope", kind == "status" and code == 404, describe(kind, code, data))

s = connect()
s.sendall(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
kind, code, data = read_response_head(s)
try:
    s.settimeout(3)
    while True:  # the body should explain (HTTPS only)
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError:
    pass
s.close()
body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
report("GET http://example.com/ (absolute form)",
       kind == "status" and 400 <= code < 500 and len(body.strip()) > 0,
       describe(kind, code, data) + " body=%r" % body[:100])

send_and_judge("DELETE /ca.crt", b"DELETE /ca.crt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

# --- garbage inside an intercepted CONNECT -----------------------------------------------------
try:
    s = connect_tunnel(REGISTRY)
    s.sendall(RNG.randbytes(2048))
    kind, code, data = read_response_head(s)
    s.close()
    report("random bytes instead of a ClientHello after CONNECT", kind in ("closed", "reset")
           or (kind == "status" and 400 <= code < 500), describe(kind, code, data))
except (RuntimeError, OSError) as e:
    report("random bytes instead of a ClientHello after CONNECT", False, str(e))

try:
    s = connect_tunnel(REGISTRY)
    s.shutdown(socket.SHUT_WR)  # CONNECT, then nothing at all
    kind, code, data = read_response_head(s)
    s.close()
    # Nothing, or a TLS alert record: OpenSSL answers an EOF in the middle of a handshake with a
    # fatal decode_error alert before closing, as any TLS server on a socket does.
    tls_alert = kind == "garbled" and data[:1] == b"\x15"
    report("EOF right after CONNECT", kind in ("closed", "reset") or tls_alert, describe(kind, code, data))
except (RuntimeError, OSError) as e:
    report("EOF right after CONNECT", False, str(e))

ctx = ssl.create_default_context(cafile=PROXY_CA)
host = REGISTRY.rsplit(":", 1)[0]
for name, payload in [
    ("garbage request inside TLS", b"\x01\x02BLAH \x00 /\r\n\r\n"),
    ("100 KB header inside TLS", b"GET /v2/ HTTP/1.1\r\nHost: " + REGISTRY.encode() + b"\r\nX-Big: "
     + b"b" * 100 * 1024 + b"\r\n\r\n"),
    ("absolute-form to another host inside TLS",
     b"GET https://elsewhere.test/v2/ HTTP/1.1\r\nHost: elsewhere.test\r\n\r\n"),
    ("chunked body with a bad chunk size inside TLS",
     b"POST /v2/ HTTP/1.1\r\nHost: " + REGISTRY.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
]:
    try:
        s = ctx.wrap_socket(connect_tunnel(REGISTRY), server_hostname=host)
        try:
            s.sendall(payload)
        except (ssl.SSLError, OSError):
            pass
        kind, code, data = read_response_head(s)
        s.close()
        # Inside a tunnel an upstream answer (e.g. the registry's own 4xx) is fine too; a 2xx to
        # garbage is not.
        good = kind in ("closed", "reset") or (kind == "status" and 400 <= code < 600 and code not in (500,))
        report(name, good, describe(kind, code, data))
    except (RuntimeError, OSError) as e:
        report(name, False, str(e))

# --- slow and idle clients must not starve others ----------------------------------------------
stop = threading.Event()
slow_result = {}


def slowloris():
    try:
        s = connect(timeout=20)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        sent = 0
        while not stop.is_set():
            s.sendall(b"a")
            sent += 1
            time.sleep(0.2)
        slow_result["outcome"] = "still open after %d trickled bytes" % sent
        s.close()
    except OSError as e:
        slow_result["outcome"] = "closed by the proxy (%s)" % e.__class__.__name__


threads = [threading.Thread(target=slowloris) for _ in range(5)]
for t in threads:
    t.start()
idle = []
try:
    for _ in range(100):
        idle.append(connect())
    tunnels = [connect_tunnel(REGISTRY) for _ in range(10)]  # CONNECTed, no handshake
    idle.extend(tunnels)
    time.sleep(1)
    started = time.time()
    good = all(healthz() for _ in range(10))
    report("/healthz with 5 slowloris clients, 100 idle and 10 silent tunnels open", good,
           "10 health checks in %.2fs" % (time.time() - started))
    time.sleep(3)
    report("/healthz still fine after 4s of trickle", healthz(), "ok")
except (OSError, RuntimeError) as e:
    report("/healthz with slow and idle clients open", False, repr(e))
finally:
    stop.set()
    for t in threads:
        t.join()
    for s in idle:
        s.close()
print("info slowloris: %s" % slow_result.get("outcome"), flush=True)

# With HEADER_TIMEOUT=N given to the proxy (argv[4]), a head trickled in byte by byte is cut off
# after about N seconds, on the plain port and inside an intercepted CONNECT.
if len(sys.argv) > 4:
    limit = float(sys.argv[4])

    def trickle(sock):
        started = time.time()
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            while time.time() - started < limit * 4 + 5:
                sock.sendall(b"a")
                time.sleep(0.25)
                sock.setblocking(False)
                try:
                    if sock.recv(65536) == b"":
                        return "closed after %.1fs" % (time.time() - started), time.time() - started
                except (BlockingIOError, ssl.SSLWantReadError):
                    pass
                finally:
                    sock.setblocking(True)
            return "still open after %.1fs" % (time.time() - started), None
        except (OSError, ssl.SSLError) as e:
            return "cut off after %.1fs (%s)" % (time.time() - started, e.__class__.__name__), \
                time.time() - started

    for name, make in [("plain port", lambda: connect(timeout=30)),
                       ("inside TLS", lambda: ctx.wrap_socket(connect_tunnel(REGISTRY), server_hostname=host))]:
        try:
            outcome, elapsed = trickle(make())
        except (RuntimeError, OSError) as e:
            outcome, elapsed = repr(e), None
        report("slowloris cut off by HEADER_TIMEOUT=%gs (%s)" % (limit, name),
               elapsed is not None and elapsed < limit * 3 + 2, outcome)

sys.exit(min(failures, 100))
