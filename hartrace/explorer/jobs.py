"""Slow work (a slow explanation method, a run's first evaluation) off the request path, in a bounded pool.

A request that would take seconds submits a :class:`Job` and returns at once; the page
polls the job's progress and asks again when it is done. Jobs are keyed by what they
compute, so two sessions asking for the same map share one job. Each session that asked
is an *owner*; a session cancelling gives up its claim, and the job stops (at its next
progress report) once nobody wants it any more.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from hartrace.base.errors import HartraceError

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


class JobCancelled(Exception):
    """Raised inside a job's work, at a progress report, once every owner has cancelled it."""


@dataclass
class Job:
    """One piece of slow work: its state, how far it got, and who is waiting for it."""

    key: Hashable
    label: str
    state: str = QUEUED
    done: int = 0
    total: int | None = None
    error: str | None = None
    submitted: float = field(default_factory=time.monotonic)
    finished: float | None = None
    owners: set[str] = field(default_factory=set)
    stop_requested: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def fraction(self) -> float | None:
        """Share done in [0, 1], or None while the total is unknown."""
        if self.state == DONE:
            return 1.0
        return None if not self.total else min(1.0, self.done / self.total)

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def report(self, done: int, total: int | None = None) -> None:
        """Called by the work as it goes; raises :class:`JobCancelled` once nobody wants the result."""
        self.done = done
        if total is not None:
            self.total = total
        if self.stop_requested.is_set():
            raise JobCancelled(self.label)

    def describe(self) -> str:
        """One line for the page: what runs and how far it got."""
        if self.state == QUEUED:
            return f"{self.label}: waiting for a free worker"
        if self.state == RUNNING:
            share = self.fraction
            return f"{self.label}: {'starting' if share is None else f'{share:.0%}'}"
        if self.state == FAILED:
            return f"{self.label} failed: {self.error}"
        return f"{self.label}: {self.state}"


class JobPool:
    """At most ``workers`` jobs run at once; finished jobs are remembered (the last ``keep``) for their outcome."""

    def __init__(self, workers: int = 1, *, keep: int = 64) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="hartrace-job", initializer=_yield_the_cpu
        )
        self._jobs: OrderedDict[Hashable, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep

    def submit(self, key: Hashable, label: str, work: Callable[[Job], Any], *, owner: str = "") -> Job:
        """The job computing ``key``: the one queued or running (``owner`` joins it), else a new one."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.active:
                job.owners.add(owner)
                job.stop_requested.clear()  # a cancelled-but-not-yet-stopped job is wanted again
                return job
            job = Job(key, label, owners={owner})
            self._jobs[key] = job
            self._jobs.move_to_end(key)
            self._forget_old()
        self._executor.submit(self._run, job, work)
        return job

    def get(self, key: Hashable) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def cancel(self, key: Hashable, owner: str = "") -> Job | None:
        """``owner`` no longer waits for ``key``; the job stops once no owner is left."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or not job.active:
                return job
            job.owners.discard(owner)
            if not job.owners:
                job.stop_requested.set()
                if job.state == QUEUED:
                    self._finish(job, CANCELLED)
            return job

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def shutdown(self) -> None:
        """Stop every job at its next progress report and wait for the workers."""
        with self._lock:
            for job in self._jobs.values():
                job.stop_requested.set()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Job, work: Callable[[Job], Any]) -> None:
        if job.stop_requested.is_set():
            with self._lock:
                self._finish(job, CANCELLED)
            return
        job.state = RUNNING
        try:
            work(job)
        except JobCancelled:
            outcome, error = CANCELLED, None
        except HartraceError as exc:
            outcome, error = FAILED, str(exc)
        except Exception as exc:  # a bug: the page says so instead of spinning forever
            outcome, error = FAILED, f"unexpected {type(exc).__name__}: {exc} (a bug in hartrace: please report it)"
        else:
            outcome, error = DONE, None
        with self._lock:
            job.error = error
            self._finish(job, outcome)

    def _finish(self, job: Job, state: str) -> None:
        job.state = state
        job.finished = time.monotonic()

    def _forget_old(self) -> None:
        finished = [key for key, job in self._jobs.items() if not job.active]
        for key in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[key]


def _yield_the_cpu() -> None:
    """Lower this worker thread's scheduling priority (Linux: a thread has its own nice value, and the threads
    it starts, such as torch's intra-op workers, inherit it), so quick requests get the cores first."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
        except OSError:  # not permitted here: the job runs at normal priority
            pass
