"""What the pages that start jobs share: the time left of a running job, the message of a job waiting for a worker."""
from __future__ import annotations

from cnnviz.jobs import JobView


def time_left(seconds: float | None) -> str:
    """A running job's time left, in words (the progress line of training and experiments)."""
    if seconds is None:
        return "estimating the time left"
    return f"about {seconds:.0f} s left" if seconds < 90 else f"about {seconds / 60:.1f} min left"


def _wait_text(seconds: float | None) -> str:
    if seconds is None:
        return "the wait is not known yet"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s until it ends"
    return f"about {seconds / 60:.0f} min until it ends"


def job_queue_message(view: JobView) -> str:
    """Where a queued job waits and how long, from the measured run times of the work ahead of it."""
    return (f"Waiting for a free worker: number {view.position} in line, {_wait_text(view.estimate_s)}. "
            "Every student's runs share this server's workers; yours starts as soon as one is free.")
