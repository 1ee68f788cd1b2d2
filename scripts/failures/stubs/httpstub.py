#!/usr/bin/python3
"""Loopback-only helper server for the failure corpus.

  --status N      answer every HTTP request with status N (and --body)
  --dir PATH      serve files from PATH (a pip/npm/apt/gem stand-in index)
  --silent        accept connections and never send a byte
  --reset         accept connections and reset them at once
  --tls CERT KEY  wrap the HTTP modes in TLS
"""
import argparse, http.server, os, socket, ssl, socketserver, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--status", type=int)
ap.add_argument("--body", default="")
ap.add_argument("--header", action="append", default=[])
ap.add_argument("--dir")
ap.add_argument("--silent", action="store_true")
ap.add_argument("--reset", action="store_true")
ap.add_argument("--tls", nargs=2)
a = ap.parse_args()

if a.silent or a.reset:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", a.port))
    s.listen(64)
    held = []
    while True:
        c, _ = s.accept()
        if a.reset:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            time.sleep(0.05)
            c.close()
        else:
            held.append(c)


class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kw):
        super().__init__(*args, directory=a.dir or ".", **kw)

    def log_message(self, *args):
        pass

    def answer(self):
        body = (a.body or http.server.BaseHTTPRequestHandler.responses.get(a.status, ("",))[0] + "\n").encode()
        self.send_response(a.status)
        for h in a.header:
            k, v = h.split(":", 1)
            self.send_header(k.strip(), v.strip())
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if a.status:
            return self.answer()
        p = self.translate_path(self.path)
        if os.path.isdir(p) and os.path.exists(os.path.join(p, "index.json")):
            self.path = self.path.rstrip("/") + "/index.json"
        return super().do_GET()

    do_HEAD = do_GET

    def do_POST(self):
        return self.answer() if a.status else self.send_error(405)

    do_PUT = do_POST

    def guess_type(self, path):
        return "application/json" if path.endswith(".json") else super().guess_type(path)


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
    daemon_threads = True


srv = S(("127.0.0.1", a.port), H)
if a.tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.tls[0], a.tls[1])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
