"""What a job is to its callers: a read-only view (JobView) of the record the backend keeps."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATES = ("queued", "running", "finished", "stopped", "failed")
ENDED = ("finished", "stopped", "failed")


@dataclass
class Record:
    """A job as the backend keeps it (and as it is written to disk, events aside)."""

    id: str
    kind: str
    params: dict[str, Any]
    owner: str
    label: str = ""
    state: str = "queued"
    result: dict[str, Any] | None = None
    error: str | None = None
    times: dict[str, float] = field(default_factory=dict)  # submitted, started, ended (epoch seconds)
    server: int = 0  # pid of the process whose backend runs it: a record left behind by a dead one is failed
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def to_json(self) -> dict[str, Any]:
        """Everything but the events (they are many and only the live page needs them)."""
        return {"id": self.id, "kind": self.kind, "params": self.params, "owner": self.owner, "label": self.label,
                "state": self.state, "result": self.result, "error": self.error, "times": self.times,
                "server": self.server}


@dataclass(frozen=True)
class JobView:
    """A job at one moment: ``state`` in :data:`STATES`; ``position`` (1-based) only while queued;
    ``estimate_s``: the expected seconds until it ends, from measured run times (None when unknown)."""

    id: str
    kind: str
    label: str
    owner: str
    state: str
    position: int | None
    estimate_s: float | None
    events: list[dict[str, Any]]
    result: dict[str, Any] | None
    error: str | None
    times: dict[str, float]

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def last(self, kind: str) -> dict[str, Any] | None:
        """The newest event of type ``kind`` (e.g. the latest progress), or None."""
        return next((e for e in reversed(self.events) if e.get("type") == kind), None)
