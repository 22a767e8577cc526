"""The HTTP API and the static files, independent of the server: (method, path, body) -> Response.

    GET  /                                      the page (static/index.html)
    GET  /static/FILE                           its scripts, styles and the vendored three.js
    GET  /api/info                              model, limits, defaults, example captions, skeleton chains
    POST /api/generate                          {caption, seconds, samples, seed, guidance, path} -> 202 {job}
    GET  /api/jobs/ID                           state, queue position, progress step/total, result or error
    POST /api/jobs/ID/cancel                    drop a waiting job or stop the running one
    POST /api/samples/ID/fit                    fit the body to a sample -> 202 {job}
    GET  /api/samples/ID/mesh                   the fitted mesh's triangles (+ where its vertices are)
    GET  /api/samples/ID/download/KIND[?frame=N]   KIND: npy, bvh, mp4, mesh.npy, obj (one frame)

Bad input is 400 with {"error": message}; unknown things 404; a full queue 503.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from crossdiff.errors import UserError
from crossdiff.webapp.jobs import JobQueue, QueueFull
from crossdiff.webapp.params import parse_generate
from crossdiff.webapp.samples import NotFound

STATIC_DIR = (Path(__file__).parent / "static").resolve()
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
                 ".txt": "text/plain; charset=utf-8", "": "text/plain; charset=utf-8"}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    filename: str | None = None     # sent as an attachment with this name


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def json_response(obj, status: int = 200) -> Response:
    return Response(status, json.dumps(obj).encode())


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


class Api:
    """Routes requests to the engine (samples, info) and the job queue (generate, fit, status, cancel)."""

    def __init__(self, engine, queue: JobQueue):
        self.engine = engine
        self.queue = queue
        self.routes = [
            ("GET", r"/api/info", self.info),
            ("POST", r"/api/generate", self.generate),
            ("GET", r"/api/jobs/(?P<job_id>[\w-]+)", self.job_status),
            ("POST", r"/api/jobs/(?P<job_id>[\w-]+)/cancel", self.cancel),
            ("POST", r"/api/samples/(?P<sample_id>[\w-]+)/fit", self.fit),
            ("GET", r"/api/samples/(?P<sample_id>[\w-]+)/mesh", self.mesh),
            ("GET", r"/api/samples/(?P<sample_id>[\w-]+)/download/(?P<kind>[\w.]+)", self.download),
        ]

    def handle(self, method: str, path: str, query: dict, body: bytes) -> Response:
        """One request -> its response; every failure the client can fix becomes a 4xx."""
        try:
            if not path.startswith("/api/"):
                if method != "GET":
                    raise HttpError(405, f"{method} is not allowed on {path}")
                return static_file(path)
            for route_method, pattern, handler in self.routes:
                match = re.fullmatch(pattern, path)
                if match and route_method == method:
                    return handler(query=query, body=body, **match.groupdict())
                if match:
                    raise HttpError(405, f"{path} takes {route_method}, not {method}")
            raise HttpError(404, f"no API endpoint {path} (see /api/info and the README)")
        except HttpError as e:
            return error_response(e.status, str(e))
        except UserError as e:
            return error_response(400, str(e))
        except NotFound as e:
            return error_response(404, str(e))
        except QueueFull as e:
            return error_response(503, str(e))

    def info(self, **_) -> Response:
        return json_response(self.engine.info())

    def generate(self, body: bytes, **_) -> Response:
        params = parse_generate(_json_body(body), self.engine.limits)
        job = self.queue.submit("generate", lambda job: self.engine.generate(params, job))
        return json_response(self.queue.status(job.id), 202)

    def job_status(self, job_id: str, **_) -> Response:
        return json_response(self._job(self.queue.status, job_id))

    def cancel(self, job_id: str, **_) -> Response:
        return json_response(self._job(self.queue.cancel, job_id))

    def fit(self, sample_id: str, **_) -> Response:
        self.engine.samples.get(sample_id)   # 404 now rather than a failed job later
        job = self.queue.submit("fit", lambda job: self.engine.fit_body(sample_id, job))
        return json_response(self.queue.status(job.id), 202)

    def mesh(self, sample_id: str, **_) -> Response:
        return json_response(self.engine.samples.mesh_faces(sample_id))

    def download(self, sample_id: str, kind: str, query: dict, **_) -> Response:
        content, content_type, filename = self.engine.samples.download(sample_id, kind, query.get("frame"))
        return Response(200, content, content_type, filename)

    @staticmethod
    def _job(action, job_id: str) -> dict:
        try:
            return action(job_id)
        except KeyError:
            raise HttpError(404, f"no job {job_id!r} (finished jobs are forgotten after a while)") from None


def static_file(path: str) -> Response:
    """A file under static/ (`/` is index.html); anything resolving outside it is 404."""
    relative = "index.html" if path in ("/", "/index.html") else path.removeprefix("/static/")
    if relative == path or "\x00" in relative:   # not under /static/
        raise HttpError(404, f"not found: {path}")
    file = (STATIC_DIR / relative).resolve()
    if not file.is_relative_to(STATIC_DIR) or not file.is_file():
        raise HttpError(404, f"not found: {path}")
    return Response(200, file.read_bytes(), CONTENT_TYPES.get(file.suffix, "application/octet-stream"))


def _json_body(body: bytes):
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"the request body is not valid JSON ({e}); send an object like "
                        '{"caption": "a person jumps", "seconds": 3, "samples": 1, "seed": 1, '
                        '"guidance": 2.5, "path": "3d"}') from None
