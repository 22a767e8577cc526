"""One job at a time: a FIFO of heavy work (sampling, body fits) run by a single worker thread.

    queue = JobQueue(max_waiting=8)
    job = queue.submit("generate", work)      # work(job) -> result dict; QueueFull when too many wait
    queue.status(job.id)                       # {"state", "position", "step", "total", "stage", ...}
    queue.cancel(job.id)                       # queued: dropped; running: stops at its next report

The work reports progress through `job.report(step, total, stage)`, which raises `JobCancelled` once
the job is cancelled, so a sampler's on_step callback stops the sampling mid-way.
"""

from __future__ import annotations

import itertools
import logging
import threading
import traceback
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable

from crossdiff.errors import UserError

KEEP_FINISHED = 200   # finished jobs remembered for status requests


class JobCancelled(Exception):
    """Raised inside a job's work by `report` once the job was cancelled."""


class QueueFull(Exception):
    """More jobs wait than the queue holds."""


@dataclass
class Job:
    id: str
    kind: str                                   # "generate" | "fit"
    work: Callable[["Job"], dict]
    state: str = "queued"                       # queued | running | done | failed | cancelled
    step: int = 0
    total: int = 0
    stage: str = "waiting"
    result: dict | None = None
    error: str | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event)

    def report(self, step: int, total: int, stage: str | None = None) -> None:
        """Progress from the work; stops the work (JobCancelled) once a cancel was requested."""
        if self.cancel_requested.is_set():
            raise JobCancelled
        self.step, self.total = step, total
        if stage is not None:
            self.stage = stage

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")


class JobQueue:
    def __init__(self, max_waiting: int, log: logging.Logger | None = None):
        self.max_waiting = max_waiting
        self.log = log or logging.getLogger("crossdiff")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._waiting: deque[Job] = deque()
        self._running: Job | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._stopped = False
        self._worker = threading.Thread(target=self._run, name="crossdiff-jobs", daemon=True)
        self._worker.start()

    def submit(self, kind: str, work: Callable[[Job], dict]) -> Job:
        with self._lock:
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull(f"{len(self._waiting)} jobs are already waiting; try again in a moment")
            job = Job(id=f"j{next(self._ids)}", kind=kind, work=work)
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._forget_old()
            self._lock.notify_all()
            return job

    def _job(self, job_id: str) -> Job:
        """The job with this id (KeyError when unknown or forgotten); call with the lock held."""
        job = self._jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            return self._job(job_id)

    def status(self, job_id: str) -> dict:
        """The job as JSON: its state, queue position (0 = running), progress and result or error."""
        with self._lock:
            job = self._job(job_id)
            position = 0 if job is self._running else (self._waiting.index(job) + 1 if job in self._waiting else None)
            return {"id": job.id, "kind": job.kind, "state": job.state, "position": position,
                    "step": job.step, "total": job.total, "stage": job.stage, "result": job.result,
                    "error": job.error}

    def cancel(self, job_id: str) -> dict:
        with self._lock:
            job = self._job(job_id)
            if job in self._waiting:
                self._waiting.remove(job)
                job.state, job.stage = "cancelled", "cancelled before it started"
            elif not job.finished:
                job.cancel_requested.set()
                job.stage = "cancelling"
        return self.status(job_id)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for job in self._waiting:
                job.state = "cancelled"
            self._waiting.clear()
            if self._running is not None:
                self._running.cancel_requested.set()
            self._lock.notify_all()
        self._worker.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._stopped:
                    self._lock.wait()
                if self._stopped:
                    return
                job = self._running = self._waiting.popleft()
                job.state, job.stage = "running", "starting"
            self._execute(job)
            with self._lock:
                self._running = None

    def _execute(self, job: Job) -> None:
        """Run one job; whatever it raises ends that job only, never the worker."""
        try:
            result = job.work(job)
            job.result, job.state, job.stage = result, "done", "done"
        except JobCancelled:
            job.state, job.stage = "cancelled", "cancelled"
            self.log.info("job %s (%s) cancelled", job.id, job.kind)
        except UserError as e:
            job.state, job.error = "failed", str(e)
        except Exception as e:  # a bug in one job must not stop the server: log it, report it
            self.log.error("job %s (%s) failed:\n%s", job.id, job.kind, traceback.format_exc())
            job.state, job.error = "failed", f"internal error: {type(e).__name__}: {e} (see the server log)"

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.finished]
        for job_id in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job_id]
