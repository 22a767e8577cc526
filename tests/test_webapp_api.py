"""The web demo's HTTP API on a tiny random-weight model (no browser): generate, downloads, fit,
every bad input a 4xx with a clear message, the queue with two requests, cancel, no path traversal."""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from webapp_helpers import call, start_tiny_demo, tiny_demo_files, wait_for_job

REPO = Path(__file__).resolve().parents[1]
GOOD = {"caption": "a person walks forward", "seconds": 1.5, "samples": 2, "seed": 3, "guidance": 2.5, "path": "3d"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return tiny_demo_files(tmp_path_factory.mktemp("webapp"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory, files):
    demo = start_tiny_demo(tmp_path_factory.mktemp("demo"), *files)
    yield demo
    demo.close()


def generate(demo, **changes) -> dict:
    status, job = call(f"{demo.url}/api/generate", "POST", {**GOOD, **changes})
    assert status == 202, job
    return wait_for_job(demo.url, job["id"])


def test_info_states_the_limits_of_the_model(demo):
    status, info = call(f"{demo.url}/api/info")
    assert status == 200
    assert info["limits"]["max_seconds"] == 48 / 20 and info["limits"]["max_samples"] == 4
    assert info["steps"] == 8 and sorted(info["paths"]) == ["2d", "3d", "mixture"]
    assert len(info["chains"]) == 5 and max(max(c) for c in info["chains"]) == 21


@pytest.mark.parametrize("path", ["3d", "2d", "mixture"])
def test_generate_returns_playable_samples_and_their_downloads(demo, path):
    from crossdiff.motion.bvh import bvh_positions, parse_bvh

    job = generate(demo, path=path)
    assert job["state"] == "done" and job["step"] == job["total"] == 8, job
    samples = job["result"]["samples"]
    assert [s["id"] for s in samples] == [f"{job['id']}-0", f"{job['id']}-1"]
    joints = np.array(samples[0]["joints"])
    assert joints.shape == (30, 22, 3) and np.isfinite(joints).all()
    assert not np.allclose(joints, np.array(samples[1]["joints"]))   # two different samples
    status, npy = call(f"{demo.url}{samples[0]['downloads']['npy']}")
    assert status == 200
    np.testing.assert_allclose(np.load(io.BytesIO(npy)), joints, atol=1e-4)
    status, bvh = call(f"{demo.url}{samples[0]['downloads']['bvh']}")
    assert status == 200 and bvh_positions(parse_bvh(bvh.decode()), "m").shape == (30, 22, 3)
    assert "mesh.npy" not in samples[0]["downloads"]


def test_same_seed_same_motion_and_another_seed_another(demo):
    first, again, other = (generate(demo, samples=1, seed=s)["result"]["samples"][0]["joints"] for s in (5, 5, 6))
    assert first == again and first != other


def test_a_caption_beyond_the_models_20_tokens_is_accepted_with_a_note(demo):
    long_caption = ("a person walks forward slowly then turns left and waves with both hands before sitting down "
                    "on a wooden chair in the corner")
    job = generate(demo, caption=long_caption, samples=1)
    assert job["state"] == "done" and "reads the first 20" in job["result"]["notes"][0]
    assert generate(demo, samples=1)["result"]["notes"] == []


def test_mp4_download_is_a_video_of_every_frame(demo):
    import imageio_ffmpeg

    sample = generate(demo, samples=1, seconds=0.5)["result"]["samples"][0]
    status, video = call(f"{demo.url}{sample['downloads']['mp4']}")
    assert status == 200 and video[4:8] == b"ftyp"
    path = Path(demo.engine.out_dir) / sample["id"].split("-")[0] / f"{sample['id']}.mp4"
    assert imageio_ffmpeg.count_frames_and_secs(str(path))[0] == 10


def test_fit_body_gives_a_mesh_that_follows_the_joints(demo):
    sample = generate(demo, samples=1, seconds=0.5)["result"]["samples"][0]
    status, job = call(f"{demo.url}/api/samples/{sample['id']}/fit", "POST")
    assert status == 202
    job = wait_for_job(demo.url, job["id"])
    assert job["state"] == "done", job
    assert job["total"] == 2 and job["result"]["sample"]["body"] == "mannequin"   # 10 iterations = 1 round + mesh
    status, mesh = call(f"{demo.url}/api/samples/{sample['id']}/mesh")
    vertices = np.load(io.BytesIO(call(f"{demo.url}{mesh['vertices']}")[1]))
    faces = np.array(mesh["faces"]).reshape(-1, 3)
    assert vertices.shape[0] == 10 and vertices.shape[2] == 3 and faces.max() == vertices.shape[1] - 1
    joints = np.array(sample["joints"])
    assert np.linalg.norm(vertices.mean(axis=1) - joints[:, 0], axis=-1).max() < 0.3   # the body is where the pelvis is
    status, obj = call(f"{demo.url}/api/samples/{sample['id']}/download/obj?frame=4")
    lines = obj.decode().splitlines()
    vs = np.array([[float(x) for x in line.split()[1:]] for line in lines if line.startswith("v ")])
    np.testing.assert_allclose(vs, vertices[4], atol=1e-5)
    assert sum(line.startswith("f ") for line in lines) == len(faces)
    assert call(f"{demo.url}/api/samples/{sample['id']}/download/obj?frame=99")[0] == 400


BAD_INPUTS = [
    ({"caption": ""}, "caption is empty"),
    ({"caption": "   "}, "caption is empty"),
    ({"caption": None}, "caption is empty"),
    ({"caption": "walk " * 80}, "80 CLIP tokens"),
    ({"caption": "x" * 5000}, "shorten it"),
    ({"seconds": 0.1}, "seconds must be from 0.5 to 2.4"),
    ({"seconds": 30}, "seconds must be from 0.5 to 2.4"),
    ({"seconds": "abc"}, "seconds must be a number"),
    ({"seconds": None}, "seconds is missing"),
    ({"seed": ""}, "seed is missing"),
    ({"seconds": "nan"}, "seconds must be a number"),
    ({"samples": "two"}, "samples must be a number"),
    ({"samples": 0}, "samples must be a whole number from 1 to 4"),
    ({"samples": 1.5}, "samples must be a whole number"),
    ({"seed": True}, "seed must be a number"),
    ({"seed": -1}, "seed must be a whole number from 0"),
    ({"guidance": [2]}, "guidance must be a number"),
    ({"guidance": 11}, "guidance must be from 0 to 10"),
    ({"path": "4d"}, "path must be one of 3d, 2d, mixture"),
    ({"path": None}, "path must be one of"),
]


@pytest.mark.parametrize("change, message", BAD_INPUTS, ids=[m for _, m in BAD_INPUTS])
def test_bad_input_is_a_400_naming_the_field(demo, change, message):
    status, answer = call(f"{demo.url}/api/generate", "POST", {**GOOD, **change})
    assert status == 400 and message in answer["error"], answer


def test_bad_bodies_and_unknown_things_are_4xx_and_the_server_keeps_running(demo):
    assert call(f"{demo.url}/api/generate", "POST", raw=b"{not json")[0] == 400
    assert "JSON object" in call(f"{demo.url}/api/generate", "POST", [1, 2])[1]["error"]
    assert call(f"{demo.url}/api/generate", "POST", raw=b"x" * 20000)[0] == 413
    assert call(f"{demo.url}/api/generate")[0] == 405
    assert call(f"{demo.url}/api/nothing")[0] == 404
    assert call(f"{demo.url}/api/jobs/j999")[0] == 404
    assert call(f"{demo.url}/api/samples/j999-0/download/bvh")[0] == 404
    assert call(f"{demo.url}/api/samples/j1-0/download/exe")[0] == 404
    assert call(f"{demo.url}/api/samples/j999-0/fit", "POST")[0] == 404
    assert call(f"{demo.url}/static/index.html", "POST", {})[0] == 405
    assert generate(demo, samples=1)["state"] == "done"


def _raw(demo, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    host, port = demo.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})   # sent as written, no normalisation
    response = connection.getresponse()
    return response.status, response.read()


def test_cross_site_requests_are_refused(demo):
    form = json.dumps(GOOD).encode()
    assert _raw(demo, "POST", "/api/generate", form, {"Content-Type": "text/plain"})[0] == 415
    assert _raw(demo, "POST", "/api/generate", form, {"Content-Type": "application/x-www-form-urlencoded"})[0] == 415
    assert _raw(demo, "POST", "/api/jobs/j1/cancel")[0] == 415   # no content type at all
    status, body = _raw(demo, "GET", "/api/info", headers={"Host": "attacker.example:7860"})
    assert status == 400 and b"unexpected Host" in body
    assert _raw(demo, "GET", "/api/info", headers={"Host": "localhost"})[0] == 200


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/../../../app.py", "/static/%2e%2e/handlers.py",
                                  "/static/..%2f..%2fparams.py", "/static//etc/passwd", "/../../etc/passwd",
                                  "/static/vendor/three/../../../jobs.py", "/app.py", "/static/%00index.html"])
def test_only_its_own_static_files_are_served(demo, path):
    status, body = _raw(demo, "GET", path)
    assert status == 404 and b"import" not in body and b"root:" not in body
    assert call(f"{demo.url}/static/vendor/three/LICENSE")[0] == 200


class SlowModel(torch.nn.Module):
    """The network, slowed down so a test can see a job running and cancel it midway."""

    def __init__(self, model, delay: float):
        super().__init__()
        self.model, self.delay = model, delay

    def forward(self, *args, **kwargs):
        time.sleep(self.delay)
        return self.model(*args, **kwargs)


def test_two_concurrent_requests_queue_with_positions_and_cancel_works(demo):
    sampler = demo.engine.sampler
    original, sampler.model = sampler.model, SlowModel(sampler.model, 0.3)
    try:
        answers = [None, None]

        def post(k):
            answers[k] = call(f"{demo.url}/api/generate", "POST", {**GOOD, "seed": k})

        threads = [threading.Thread(target=post, args=(k,)) for k in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [a[0] for a in answers] == [202, 202]
        first, second = sorted((a[1] for a in answers), key=lambda job: int(job["id"][1:]))
        running = wait_for_job(demo.url, first["id"], until=("running",))
        assert running["position"] == 0
        queued = call(f"{demo.url}/api/jobs/{second['id']}")[1]
        assert queued["state"] == "queued" and queued["position"] == 1
        wait_until_step(demo.url, first["id"], 2)
        call(f"{demo.url}/api/jobs/{first['id']}/cancel", "POST")
        stopped = wait_for_job(demo.url, first["id"])
        assert stopped["state"] == "cancelled" and stopped["step"] < stopped["total"]
        now_running = wait_for_job(demo.url, second["id"], until=("running", "done"))
        assert now_running["position"] in (0, None)
        call(f"{demo.url}/api/jobs/{second['id']}/cancel", "POST")
        assert wait_for_job(demo.url, second["id"])["state"] in ("cancelled", "done")
    finally:
        sampler.model = original
    assert generate(demo, samples=1)["state"] == "done"   # the worker lives on after cancels


def wait_until_step(base: str, job_id: str, step: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while call(f"{base}/api/jobs/{job_id}")[1]["step"] < step:
        assert time.monotonic() < deadline, f"job {job_id} never reached step {step}"
        time.sleep(0.05)


def test_a_full_queue_is_a_503(demo):
    release = threading.Event()
    blocker = demo.queue.submit("test", lambda job: release.wait(30) and {})
    try:
        waiting = [call(f"{demo.url}/api/generate", "POST", GOOD) for _ in range(4)]
        assert [status for status, _ in waiting] == [202, 202, 202, 503]   # app.queue_size=3
        assert "waiting" in waiting[-1][1]["error"]
        assert [call(f"{demo.url}/api/jobs/{job['id']}")[1]["position"] for _, job in waiting[:3]] == [1, 2, 3]
        for _, job in waiting[:3]:
            assert call(f"{demo.url}/api/jobs/{job['id']}/cancel", "POST")[1]["state"] == "cancelled"
    finally:
        release.set()
    assert wait_for_job(demo.url, blocker.id)["state"] == "done"


def test_missing_checkpoint_exits_2_naming_it(tmp_path, files, capsys):
    import app

    data_root, _ = files
    missing = tmp_path / "missing.pt"
    code = app.cli(["--cfg", str(REPO / "configs" / "base.yaml"), f"save_dir={tmp_path}", f"test_checkpoint={missing}",
                    "device=cpu", f"data.meta_dir={data_root}", "--port", "0"])
    assert code == 2
    error = capsys.readouterr().err
    assert str(missing) in error and "train.py" in error and "make demo" in error
    assert list(tmp_path.iterdir()) == []   # no run folder is left behind


def test_app_py_serves_until_interrupted_and_writes_its_config(tmp_path, files):
    import re
    import signal
    import subprocess
    import sys

    from train_helpers import tiny_overrides

    data_root, checkpoint = files
    command = [sys.executable, str(REPO / "app.py"), "--cfg", str(REPO / "configs" / "base.yaml"),
               *tiny_overrides(tmp_path, data_root), f"test_checkpoint={checkpoint}", "--port", "0"]
    # started with SIGINT ignored, as a background job of a script inherits it: Ctrl-C must still stop it
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "web demo at" in line:
                break
        url = re.search(r"http://127\.0\.0\.1:\d+", "".join(lines))
        assert url, "".join(lines)
        status, info = call(f"{url.group(0)}/api/info")
        assert status == 200 and info["checkpoint"] == str(checkpoint)
        process.send_signal(signal.SIGINT)
        # generous: on a loaded CI machine torch's interpreter teardown alone can take many seconds
        rest, _ = process.communicate(timeout=90)
        assert process.returncode == 0, "".join(lines) + rest
        assert "stopping" in rest
    finally:
        process.kill()
    assert (tmp_path / "save" / "tiny" / "app" / "config.yaml").is_file()


def test_request_seconds_are_converted_at_the_models_frame_rate():
    """A KIT-ML model (12.5 fps) turns 2 s into 25 frames, a HumanML3D one (20 fps) into 40."""
    from types import SimpleNamespace

    from crossdiff.webapp.params import Limits, parse_generate

    app = SimpleNamespace(min_seconds=0.5, max_samples=2, max_guidance=10.0)
    body = {"caption": "a person walks", "seconds": 2, "samples": 1, "seed": 0, "guidance": 1, "path": "3d"}
    kit, t2m = Limits.from_config(app, 196, fps=12.5), Limits.from_config(app, 196, fps=20.0)
    assert (kit.min_frames, t2m.min_frames) == (6, 10)
    assert parse_generate(body, kit).frames == 25 and parse_generate(body, t2m).frames == 40
