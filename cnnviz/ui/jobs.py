"""What the pages that start background work (training, experiments) share: the session's owner
of its jobs, and the message of a job waiting for a free slot."""
from __future__ import annotations

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cnnviz.jobs import JobView
from cnnviz.train import manager
from cnnviz.train.jobs import Job

OWNER = "jobs_owner_obj"


class Owner:
    """Kept in the session: when Streamlit drops the session, the run manager stops its jobs.

    ``alive()`` says whether the browser is still connected; the manager stops the jobs of an
    owner disconnected for longer than ``grace_s``, the server's timeout for such sessions.
    """

    def __init__(self, session_id: str | None, grace_s: float) -> None:
        self.session_id, self.grace_s = session_id, grace_s

    def alive(self) -> bool:
        if self.session_id is None or not runtime.exists():
            return True
        return runtime.get_instance().is_active_session(self.session_id)


def session_owner() -> Owner:
    """This session's owner, made on first use."""
    if OWNER not in st.session_state:
        ctx = get_script_run_ctx()
        st.session_state[OWNER] = Owner(ctx.session_id if ctx is not None else None,
                                        float(st.get_option("server.disconnectedSessionTTL")))
    return st.session_state[OWNER]


def queue_message(job: Job) -> str:
    """Where ``job`` waits in the run manager's line, and why there is a line."""
    limit = manager().max_runs
    return (f"Waiting for a free slot: number {manager().position(job)} in line. This machine trains {limit} run"
            f"{'s' if limit != 1 else ''} at a time: ask the person who runs the server to allow more runs.")


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
