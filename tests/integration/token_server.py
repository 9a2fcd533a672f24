#!/usr/bin/python3
"""A Docker-Hub-like token server for the integration tests (HTTPS).

    GET  /token?service=S&scope=repository:<name>:pull[,push][&scope=...][&account=U]
    POST /token   (application/x-www-form-urlencoded, Docker's OAuth2 flow:
                   grant_type=password|refresh_token, username, password,
                   refresh_token, service, scope (space separated), client_id,
                   access_type=offline)

both answer 200 with
    {"token": JWT, "access_token": JWT, "expires_in": 300, "issued_at": RFC3339}
(POST with access_type=offline also gets a "refresh_token").

The JWT is what the CNCF distribution registry (2.8) accepts with `auth: token`:
header {"typ":"JWT","alg":"ES256","x5c":[base64 DER of --sign-cert]} (the
registry checks the x5c chain against its rootcertbundle, i.e. --sign-cert),
claims iss, sub, aud (= the requested service), exp, nbf, iat, jti and
access = [{"type":"repository","name":N,"actions":[...]}]; the signature is the
raw 64-byte r||s of ECDSA P-256/SHA-256, base64url.

Policy (Docker Hub's): a repository whose name starts with --public-prefix may
be pulled by anyone; pushing to it, and pulling or pushing anything else, needs
the --user credentials (HTTP Basic on GET and POST, or the OAuth form fields on
POST). Missing or wrong credentials are not an error: the token simply grants
nothing for what they do not cover (empty access), and the registry then denies.
(Docker Hub answers 401 to a wrong password; --reject-bad-credentials does that.)

Every request is appended to --log as one line:
    method=GET path=/token?... authorization=basic|bearer|none user=tokuser|- \
      auth=ok|bad|anonymous status=200 service=S scope=repository:private/app:pull;... \
      granted=repository:private/app:pull;...   (scope: as asked, decoded; granted:
      what the token allows, "-" for no actions)
(passwords are never logged; a POST's form fields are logged without them).
The listening port goes to --port-file.
"""
import argparse
import base64
import datetime
import http.server
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ip", default="127.0.0.22")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert", required=True, help="TLS certificate (PEM) for auth.test")
    ap.add_argument("--key", required=True, help="TLS key (PEM)")
    ap.add_argument("--sign-cert", required=True, help="token signing certificate (PEM, EC P-256)")
    ap.add_argument("--sign-key", required=True, help="token signing key (PEM, EC P-256)")
    ap.add_argument("--issuer", default="test-issuer")
    ap.add_argument("--user", action="append", default=[], help="USER:PASSWORD (split at the first ':')")
    ap.add_argument("--public-prefix", default="public/")
    ap.add_argument("--expires-in", type=int, default=300)
    ap.add_argument("--reject-bad-credentials", action="store_true",
                    help="answer 401 to wrong credentials instead of a token granting nothing")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    users = {}
    for spec in args.user:
        name, sep, password = spec.partition(":")
        if not sep:
            sys.exit("--user wants USER:PASSWORD")
        users[name] = password

    with open(args.sign_key, "rb") as f:
        sign_key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(sign_key, ec.EllipticCurvePrivateKey) or sign_key.curve.name != "secp256r1":
        sys.exit("--sign-key must be an EC P-256 key (ES256)")
    with open(args.sign_cert, "rb") as f:
        sign_cert = x509.load_pem_x509_certificate(f.read())
    x5c = [base64.b64encode(sign_cert.public_bytes(serialization.Encoding.DER)).decode()]

    lock = threading.Lock()
    refresh_tokens = {}  # refresh token -> user
    log_file = open(args.log, "a", buffering=1)

    def log(line):
        with lock:
            log_file.write(line + "\n")

    def make_jwt(subject, audience, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": x5c}
        claims = {
            "iss": args.issuer,
            "sub": subject,
            "aud": audience,
            "exp": now + args.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        der = sign_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def grant(user, scopes):
        """The access list for USER (None: anonymous) asking for SCOPES."""
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3 or parts[0] != "repository":
                continue  # registry:catalog:* and the like: nothing
            name, wanted = ":".join(parts[1:-1]), parts[-1].split(",")
            allowed = set()
            if user is not None:
                allowed = {"pull", "push"}
            elif name.startswith(args.public_prefix):
                allowed = {"pull"}
            actions = [a for a in wanted if a in allowed]
            # Docker Hub lists the repository even when nothing is granted.
            access.append({"type": "repository", "name": name, "actions": actions})
        return access

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "pullthrough-test-token-server/1"

        def log_message(self, fmt, *a):  # quiet stderr; we keep our own log
            pass

        def reply_json(self, status, obj, extra=None):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def basic_credentials(self):
            """(kind, user, password) from the Authorization header."""
            value = self.headers.get("Authorization")
            if value is None:
                return "none", None, None
            scheme, _, rest = value.strip().partition(" ")
            if scheme.lower() != "basic":
                return scheme.lower() or "other", None, None
            try:
                decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
            except Exception:
                return "basic-malformed", None, None
            user, _, password = decoded.partition(":")  # RFC 7617: the user ends at the first ':'
            return "basic", user, password

        def handle_token(self, method, fields):
            kind, user, password = self.basic_credentials()
            form_note = ""
            if method == "POST":
                grant_type = fields.get("grant_type", [""])[0]
                form_note = " grant_type=%s client_id=%s" % (grant_type or "-", fields.get("client_id", ["-"])[0])
                if grant_type == "password" and "username" in fields:
                    user = fields.get("username", [""])[0]
                    password = fields.get("password", [""])[0]
                    kind = kind + "+form" if kind != "none" else "form"
                elif grant_type == "refresh_token":
                    with lock:
                        owner = refresh_tokens.get(fields.get("refresh_token", [""])[0])
                    kind = kind + "+refresh" if kind != "none" else "refresh"
                    if owner is not None:
                        user, password = owner, users.get(owner)
                    else:
                        user, password = "<unknown-refresh-token>", None
                scopes = []
                for s in fields.get("scope", []):
                    scopes += s.split()
            else:
                scopes = fields.get("scope", [])
            service = fields.get("service", [""])[0]

            if user is None:
                auth, subject = "anonymous", None
            elif user in users and users[user] == password:
                auth, subject = "ok", user
            else:
                auth, subject = "bad", None

            shown_path = self.path if method == "GET" else self.path + " form=" + urllib.parse.urlencode(
                {k: v for k, v in fields.items() if k not in ("password", "refresh_token")}, doseq=True)
            if auth == "bad" and args.reject_bad_credentials:
                log("method=%s path=%s authorization=%s user=%s auth=bad status=401%s" %
                    (method, shown_path, kind, user or "-", form_note))
                self.reply_json(401, {"details": "incorrect username or password"},
                                {"WWW-Authenticate": 'Basic realm="pullthrough test token server"'})
                return

            access = grant(subject, scopes)
            token = make_jwt(subject or "", service, access)
            body = {
                "token": token,
                "access_token": token,
                "expires_in": args.expires_in,
                "issued_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            if method == "POST" and fields.get("access_type", [""])[0] == "offline" and subject:
                rt = secrets.token_hex(16)
                with lock:
                    refresh_tokens[rt] = subject
                body["refresh_token"] = rt
            granted = ";".join("%s:%s:%s" % (a["type"], a["name"], ",".join(a["actions"]) or "-") for a in access)
            log("method=%s path=%s authorization=%s user=%s auth=%s status=200 service=%s scope=%s granted=%s%s" %
                (method, shown_path, kind, user if user is not None else "-", auth, service or "-",
                 ";".join(scopes) or "-", granted or "-", form_note))
            self.reply_json(200, body)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/healthz":
                self.reply_json(200, {"ok": True})
                return
            if url.path != "/token":
                log("method=GET path=%s authorization=%s status=404" % (self.path, self.basic_credentials()[0]))
                self.reply_json(404, {"details": "not found"})
                return
            self.handle_token("GET", urllib.parse.parse_qs(url.query, keep_blank_values=True))

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if url.path != "/token":
                log("method=POST path=%s authorization=%s status=404" % (self.path, self.basic_credentials()[0]))
                self.reply_json(404, {"details": "not found"})
                return
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/x-www-form-urlencoded":
                log("method=POST path=%s authorization=%s status=400 content-type=%s" %
                    (self.path, self.basic_credentials()[0], ctype or "-"))
                self.reply_json(400, {"details": "want application/x-www-form-urlencoded"})
                return
            fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            self.handle_token("POST", fields)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server((args.ip, args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    # The handshake happens on the handler thread's first read, not in accept(): a client
    # that connects and stalls must not block the others.
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    port = server.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
