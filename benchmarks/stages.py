"""Time each stage of a sync from its progress messages (no change to the sync needed).

``SyncOptions.progress`` is called with "listing runs", "walking S3", "listing the model
registry", "recomputing totals" ...; the time between one stage's first message and the
next stage's is that stage's time. The artifact stage's time includes reading the catalogued
rows it compares the listing with, so its rate counts that read too.
"""

from __future__ import annotations

import time

STAGES = (
    ("experiments", "listing experiments"),
    ("runs", "listing runs"),
    ("logged_models", "listing logged models"),
    ("artifacts", "walking S3"),
    ("registry", "listing the model registry"),
    ("totals", "recomputing totals"),
)


class StageClock:
    """A ``progress`` callback that remembers when each stage started."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.finished_at: float | None = None

    def __call__(self, message: str) -> None:
        for stage, prefix in STAGES:
            if message.startswith(prefix):
                self.started.setdefault(stage, time.perf_counter())
                return

    def finish(self) -> None:
        self.finished_at = time.perf_counter()

    def durations(self) -> dict[str, float]:
        """Seconds per stage, in the order they ran (the last one ends at ``finish``)."""
        ordered = sorted(self.started.items(), key=lambda item: item[1])
        out = {}
        for index, (stage, start) in enumerate(ordered):
            end = ordered[index + 1][1] if index + 1 < len(ordered) else self.finished_at
            if end is not None:
                out[stage] = round(end - start, 3)
        return out
