"""A running web demo on a tiny random-weight model, for the API and browser tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from train_helpers import tiny_config


def tiny_demo_files(root: Path) -> tuple[Path, Path]:
    """(data root, checkpoint): a tiny synthetic folder and a bare state_dict of a random tiny model."""
    import torch

    from crossdiff.config import section_kwargs
    from crossdiff.io import torch_save
    from crossdiff.model import build_model
    from prepare.synthetic import make_tiny_dataset

    data_root = make_tiny_dataset(root / "data", clips=6, seed=1)
    cfg = tiny_config(root / "ckpt", data_root)
    torch.manual_seed(0)
    checkpoint = root / "random.pt"
    torch_save(checkpoint, build_model(**section_kwargs(cfg.model)).state_dict())
    return data_root, checkpoint


def demo_config(root: Path, data_root: Path, checkpoint: Path, *extra: str):
    return tiny_config(root, data_root, f"test_checkpoint={checkpoint}", f"app.body_folder={root / 'body'}",
                       "app.fit_iterations=10", "app.queue_size=3", "diffusion.sampling_steps=8", *extra)


def start_tiny_demo(root: Path, data_root: Path, checkpoint: Path, *extra: str):
    """The demo served on a free port of 127.0.0.1 in a background thread (close() it)."""
    from crossdiff.inference import load_sampler
    from crossdiff.runtime import get_logger
    from crossdiff.webapp.server import start_demo

    cfg = demo_config(root, data_root, checkpoint, *extra)
    log = get_logger()
    return start_demo(cfg, load_sampler(cfg, "cpu", log), root / "app", log)


def call(url: str, method: str = "GET", body=None, raw: bytes | None = None) -> tuple[int, dict | bytes]:
    """(status, JSON or bytes) of one request; 4xx/5xx are returned, not raised."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, content, kind = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, content, kind = e.code, e.read(), e.headers.get("Content-Type", "")
    return status, json.loads(content) if kind.startswith("application/json") else content


def wait_for_job(base: str, job_id: str, until=("done", "failed", "cancelled"), timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = call(f"{base}/api/jobs/{job_id}")
        assert status == 200, job
        if job["state"] in until:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s")
