"""A platform endpoint that misbehaves, on 127.0.0.1 (after the red team's slow_server.py, issue 30):
/dribble... (headers, then a byte every `period` seconds, for ever), /huge?mb=N (an answer of N MB; &unsized: without its length)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Slow:
    def __init__(self, period: float = 2.0):
        self.period, self.hits = period, []
        slow = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlsplit(self.path)
                slow.hits.append((time.monotonic(), url.path))
                try:
                    if url.path.startswith("/dribble"):
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.end_headers()  # no length: the answer ends when the connection does
                        self.wfile.write(b'{"members": [')
                        while True:
                            time.sleep(slow.period)
                            self.wfile.write(b" ")
                            self.wfile.flush()
                    elif url.path == "/huge":
                        mb = int(parse_qs(url.query).get("mb", ["100"])[0])
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        if "unsized" not in url.query:  # unsized: no Content-Length, only the bytes tell
                            self.send_header("Content-Length", str(mb * 1024 * 1024 + 24))
                        self.end_headers()
                        self.wfile.write(b'{"members": [], "x": "')
                        for _ in range(mb):
                            self.wfile.write(b"a" * (1024 * 1024))
                        self.wfile.write(b'"}')
                    else:
                        self.send_response(404)
                        self.end_headers()
                except OSError:
                    return

            do_POST = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
