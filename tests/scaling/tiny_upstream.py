"""A minimal HTTP/1.1 instance for nginx tests: answers every GET with its name.

Run as a child process: ``python tiny_upstream.py --port N --name a [--delay-ms D]``.
``/healthz`` answers at once; every other path waits ``delay-ms`` first.
"""

from __future__ import annotations

import argparse
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so nginx's upstream keepalive is used
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

        def do_GET(self) -> None:
            if self.path != "/healthz" and args.delay_ms:
                time.sleep(args.delay_ms / 1000)
            body = f"{args.name}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Instance", args.name)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *log_args: object) -> None:
            pass

    ThreadingHTTPServer.daemon_threads = True
    with ThreadingHTTPServer(("127.0.0.1", args.port), Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
