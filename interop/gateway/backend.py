"""The service behind the Apache gateway: answers every GET with JSON naming what the gateway
passed on (the `sub` claim as OIDC_CLAIM_sub, the user as X-Remote-User) and whether an
Authorization header reached it. Usage: python3 backend.py PORT"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({
            "path": self.path,
            "sub": self.headers.get("OIDC_CLAIM_sub"),
            "remote_user": self.headers.get("X-Remote-User"),
            "iss": self.headers.get("OIDC_CLAIM_iss"),
            "aud": self.headers.get("OIDC_CLAIM_aud"),
            "authorization": self.headers.get("Authorization") is not None,
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("backend: " + (fmt % args) + "\n")


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
