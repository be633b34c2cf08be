"""What the pages that start background work (training, experiments) share: the session's owner
of its jobs, and the message of a job waiting for a free slot."""
from __future__ import annotations

import streamlit as st

from cnnviz.train import manager
from cnnviz.train.jobs import Job

OWNER = "jobs_owner_obj"


class Owner:
    """Kept in the session: when Streamlit drops the session, the run manager stops its jobs."""


def session_owner() -> Owner:
    """This session's owner, made on first use."""
    if OWNER not in st.session_state:
        st.session_state[OWNER] = Owner()
    return st.session_state[OWNER]


def queue_message(job: Job) -> str:
    """Where ``job`` waits in the run manager's line, and why there is a line."""
    limit = manager().max_runs
    return (f"Waiting for a free slot: number {manager().position(job)} in line. This machine trains {limit} run"
            f"{'s' if limit != 1 else ''} at a time: ask the person who runs the server to allow more runs.")
