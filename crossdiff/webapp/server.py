"""The demo's HTTP server (stdlib ThreadingHTTPServer): reads a capped request, asks handlers.Api.

    demo = start_demo(cfg, sampler, out_dir, log, host="127.0.0.1", port=0)   # serves in a thread
    demo.url                                                                  # http://127.0.0.1:PORT
    demo.close()

Requests are served on their own threads; the heavy work runs one job at a time (jobs.py).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from crossdiff.errors import UserError
from crossdiff.webapp.engine import DemoEngine
from crossdiff.webapp.handlers import Api, Response, error_response
from crossdiff.webapp.jobs import JobQueue
from crossdiff.webapp.params import Limits

# The page uses only its own origin: no CDN, fonts or scripts from elsewhere (the importmap is inline).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}


class DemoRequestHandler(BaseHTTPRequestHandler):
    server_version = "CrossDiffDemo"
    timeout = 60                  # seconds a client may stall mid-request before its thread gives up
    api: Api                      # set on the subclass made by build_demo
    max_body: int
    loopback_only: bool           # bound to a loopback address: only loopback Host headers
    log: logging.Logger

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        try:
            body = self._refusal(method) or self._read_body(method)
            if isinstance(body, Response):
                response = body
            else:
                url = urlsplit(self.path)
                query = {key: values[-1] for key, values in parse_qs(url.query).items()}
                response = self.api.handle(method, unquote(url.path), query, body)
        except Exception:  # a bug in one request must not stop the server
            self.log.exception("request %s %s failed", method, self.path)
            response = error_response(500, "internal server error (see the server log)")
        self._send(response)

    def _refusal(self, method: str) -> Response | None:
        """Requests another web page could make a browser send here: refused.

        A foreign Host on a loopback server is DNS rebinding; a POST that is not JSON may be a cross-site
        form (a page elsewhere cannot send application/json here without a CORS preflight we never grant).
        """
        host = urlsplit(f"//{self.headers.get('Host', '')}").hostname
        if self.loopback_only and host not in LOOPBACK_NAMES:
            return error_response(400, f"unexpected Host {self.headers.get('Host')!r}: open http://127.0.0.1:PORT")
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if method in ("POST", "PUT", "DELETE") and kind != "application/json":
            return error_response(415, f"{method} requests must send Content-Type: application/json, got {kind!r}")
        return None

    def _read_body(self, method: str) -> bytes | Response:
        """The request body (empty without a Content-Length), or the 4xx response that refuses it."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return error_response(411, "chunked requests are not accepted; send a Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.isdigit():
            self.close_connection = True
            return error_response(400, f"Content-Length {length!r} is not a number")
        if int(length) > self.max_body:
            self.close_connection = True  # the unread body must not be parsed as a next request
            return error_response(413, f"request body of {int(length)} bytes is over the limit of "
                                       f"{self.max_body} (app.max_request_bytes)")
        return self.rfile.read(int(length))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        if response.filename:
            self.send_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(response.filename)}")
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args) -> None:
        self.log.debug("%s %s", self.address_string(), format % args)


@dataclass
class Demo:
    server: ThreadingHTTPServer
    queue: JobQueue
    engine: DemoEngine
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def close(self) -> None:
        self.queue.stop()
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join(timeout=10)
        self.server.server_close()


def build_demo(cfg, sampler, out_dir: Path, log: logging.Logger, host: str, port: int) -> Demo:
    """The server (bound, not yet serving) around a loaded sampler, configured by cfg.app."""
    app = cfg.app
    limits = Limits.from_config(app, cfg.model.max_frames, sampler.skeleton.fps)
    engine = DemoEngine(sampler, limits, out_dir, change_idx=cfg.generate.change_idx,
                        fit_iterations=app.fit_iterations, body_folder=app.body_folder,
                        default_seed=cfg.seed, log=log)
    queue = JobQueue(app.queue_size, log)
    handler = type("BoundDemoRequestHandler", (DemoRequestHandler,),
                   {"api": Api(engine, queue), "max_body": app.max_request_bytes, "log": log,
                    "loopback_only": _is_loopback(host)})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as e:
        queue.stop()
        raise UserError(f"cannot serve on {host}:{port} ({e.strerror}); pass another --port or --host") from None
    server.daemon_threads = True
    return Demo(server, queue, engine)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def start_demo(cfg, sampler, out_dir: Path, log: logging.Logger, host: str = "127.0.0.1", port: int = 0) -> Demo:
    """build_demo, serving on a background thread (tests; port 0 picks a free port)."""
    demo = build_demo(cfg, sampler, out_dir, log, host, port)
    demo.thread = threading.Thread(target=demo.serve_forever, name="crossdiff-http", daemon=True)
    demo.thread.start()
    return demo
