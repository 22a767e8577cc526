"""The demo's heavy work, run as queued jobs: sample motions for a request, fit a body to a sample.

Both report progress to their job (diffusion step i/N, L-BFGS round i/N), so the page shows a bar
and a cancel stops them at the next step.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from crossdiff.io import save_npy
from crossdiff.text_encoder import CONTEXT_LENGTH
from crossdiff.webapp.jobs import Job
from crossdiff.webapp.params import PATH_LABELS, GenerateParams, Limits, clip_token_count
from crossdiff.webapp.samples import Sample, SampleStore

EXAMPLE_CAPTIONS = ("a person walks forward", "a person jumps up and down", "someone waves with the right hand",
                    "a person runs in a circle", "a man kicks with his left leg", "a person turns around slowly")


class DemoEngine:
    """A loaded MotionSampler plus the session's samples and body model."""

    def __init__(self, sampler, limits: Limits, out_dir: Path, *, change_idx: int, fit_iterations: int,
                 body_folder: str, default_seed: int, log: logging.Logger | None = None):
        self.sampler = sampler
        self.limits = limits
        self.out_dir = out_dir
        self.change_idx = change_idx
        self.fit_iterations = fit_iterations
        self.body_folder = body_folder
        self.default_seed = default_seed
        self.log = log or logging.getLogger("crossdiff")
        self.samples = SampleStore()
        self._body = None

    def info(self) -> dict:
        """What the page shows and checks before asking: the model, the limits and the defaults."""
        diffusion, fps = self.sampler.diffusion, self.limits.fps
        return {"checkpoint": self.sampler.checkpoint, "fps": fps,
                "sampler": diffusion.sampler, "steps": diffusion.sampling.num_timesteps,
                "limits": {"min_seconds": self.limits.min_frames / fps, "max_seconds": self.limits.max_frames / fps,
                           "max_samples": self.limits.max_samples, "max_guidance": self.limits.max_guidance,
                           "max_clip_tokens": 75},
                "defaults": {"seconds": min(4.0, self.limits.max_frames / fps), "samples": 1,
                             "seed": self.default_seed, "guidance": diffusion.guidance_scale, "path": "3d"},
                "paths": PATH_LABELS, "examples": list(EXAMPLE_CAPTIONS),
                "chains": [list(chain) for chain in self.sampler.skeleton.chains]}

    def generate(self, params: GenerateParams, job: Job) -> dict:
        """Sample `params.samples` motions of one caption; returns them for the page."""
        total = self.sampler.diffusion.sampling.num_timesteps
        job.report(0, total, "encoding the caption")
        generator = torch.Generator(device=self.sampler.device).manual_seed(params.seed)
        out = self.sampler.sample([params.caption] * params.samples, path=params.path, scale=params.guidance,
                                  change_idx=self.change_idx, generator=generator,
                                  on_step=lambda i, n: job.report(i, n, "sampling"))
        job.report(total, total, "decoding joints")
        clips = self.sampler.to_joints(out["motion"], [params.frames] * params.samples)
        folder = self.out_dir / job.id
        samples = []
        for k, (_, joints) in enumerate(clips):
            sample = Sample(id=f"{job.id}-{k}", caption=params.caption, seed=params.seed, path=params.path,
                            guidance=params.guidance, joints=joints, fps=self.limits.fps, folder=folder)
            save_npy(sample.file(".npy"), joints)
            self.samples.add(sample)
            samples.append(sample)
        seconds = params.frames / self.limits.fps
        self.log.info("%s: %d samples of %r (%.1f s, path %s, guidance %g, seed %d) in %s", job.id, len(samples),
                      params.caption, seconds, params.path, params.guidance, params.seed, folder)
        return {"caption": params.caption, "seconds": seconds, "seed": params.seed,
                "path": params.path, "guidance": params.guidance, "notes": _notes(params.caption),
                "samples": [s.to_json() for s in samples]}

    def fit_body(self, sample_id: str, job: Job) -> dict:
        """Fit the body model to one sample's joints and write its mesh (samples.py lists the files)."""
        from crossdiff.body.fitting import STEPS_PER_UPDATE, fit_joints
        from crossdiff.body.outputs import save_fit

        sample = self.samples.get(sample_id)
        body, prior = self._body_model()
        started = time.perf_counter()
        rounds = max(1, -(-self.fit_iterations // STEPS_PER_UPDATE))
        job.report(0, rounds + 1, "fitting the body")
        fit = fit_joints(sample.joints, body, iterations=self.fit_iterations, prior=prior, device=self.sampler.device,
                         on_round=lambda i, n: job.report(i, n + 1, "fitting the body"))
        job.report(rounds, rounds + 1, "building the mesh")
        vertices = body.vertices(fit.poses, fit.betas, fit.trans)
        save_fit(sample.file(""), fit, vertices, body, progress=False)
        sample.body = body.name
        self.log.info("%s: fitted %s, mean joint error %.2f cm, %.1f s", sample.id, body.name,
                      fit.mean_joint_error * 100, time.perf_counter() - started)
        return {"sample": sample.to_json(), "body": body.name, "mean_joint_error_cm": fit.mean_joint_error * 100}

    def _body_model(self):
        """The body model and pose prior, loaded once (the mannequin is built on first use)."""
        if self._body is None:
            from crossdiff.body.body_model import find_gmm_file, load_body_model
            from crossdiff.body.priors import GMMPosePrior

            body = load_body_model(None, self.body_folder, self.sampler.device, self.log)
            gmm = find_gmm_file(self.body_folder)
            self._body = (body, GMMPosePrior.load(gmm) if gmm else None)
        return self._body


def _notes(caption: str) -> list[str]:
    tokens = clip_token_count(caption)
    if tokens > CONTEXT_LENGTH - 2:
        return [f"the caption has {tokens} CLIP tokens; the model reads the first {CONTEXT_LENGTH - 2} "
                f"(as the original CrossDiff)"]
    return []
