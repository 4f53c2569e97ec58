"""Sizes of each measurement (full and quick) and the targets they are judged against."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent / "var" / "bench"
BUCKET = "bench-artifacts"
# Files under each logged model's artifacts/ folder (see benchmarks.world).
LOGGED_MODEL_FILES = 3


@dataclass(frozen=True)
class WorldSize:
    """The knob of the synthetic world: how many of each thing it holds."""

    experiments: int
    runs: int
    files_per_run: int = 10
    big_folder_files: int = 0
    orphans: int = 0
    registered_models: int = 0
    versions_per_model: int = 2
    logged_models: int = 0
    metric_history_runs: int = 0
    metric_history_steps: int = 20
    # Change events over the world (benchmarks/fill_changes.py), for the timeline pages.
    change_events: int = 0

    @property
    def artifacts(self) -> int:
        return (
            self.runs * self.files_per_run
            + self.big_folder_files
            + self.orphans
            + self.logged_models * LOGGED_MODEL_FILES
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "artifacts": self.artifacts}


@dataclass(frozen=True)
class Plan:
    """Everything one benchmark run does."""

    name: str
    e2e: WorldSize
    reconcile: WorldSize
    reconcile_change_share: float
    pages: WorldSize
    page_repeats: int
    leaderboard_models: int
    leaderboard_repeats: int
    load_seconds: float
    load_connections: int = 4
    extra: dict = field(default_factory=dict)


FULL = Plan(
    name="full",
    e2e=WorldSize(experiments=20, runs=2_000, orphans=0, registered_models=50),
    reconcile=WorldSize(
        experiments=100, runs=100_000, registered_models=2_000, logged_models=1_000
    ),
    reconcile_change_share=0.01,
    pages=WorldSize(
        experiments=200,
        runs=100_000,
        files_per_run=10,
        big_folder_files=10_000,
        orphans=1_000,
        registered_models=2_000,
        logged_models=1_000,
        metric_history_runs=1_000,
        change_events=1_000_000,
    ),
    page_repeats=30,
    leaderboard_models=500,
    leaderboard_repeats=5,
    load_seconds=30.0,
)
# The numbers of FULL made small: a smoke test of the same code that finishes in minutes.
# 10,000 artifacts (not ~20,000) keeps the whole quick run comfortably under 3 minutes.
QUICK = Plan(
    name="quick",
    e2e=WorldSize(experiments=4, runs=100, registered_models=5),
    reconcile=WorldSize(experiments=10, runs=2_000, registered_models=50, logged_models=20),
    reconcile_change_share=0.01,
    pages=WorldSize(
        experiments=20,
        runs=2_000,
        files_per_run=10,
        big_folder_files=1_000,
        orphans=100,
        registered_models=50,
        logged_models=20,
        metric_history_runs=20,
        change_events=20_000,
    ),
    page_repeats=5,
    leaderboard_models=50,
    leaderboard_repeats=2,
    load_seconds=3.0,
)


@dataclass(frozen=True)
class Target:
    """One target: a figure's name, how it compares, and the bound."""

    figure: str
    op: str  # "<=" or ">=" or "=="
    bound: float
    text: str

    def judge(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        ok = {
            "<=": value <= self.bound,
            ">=": value >= self.bound,
            "==": value == self.bound,
        }[self.op]
        return "PASS" if ok else "MISS"


TARGETS = (
    Target("e2e.first_over_floor", "<=", 1.3, "first sync <= 1.3 x floor"),
    Target(
        "e2e.first_over_first_floor",
        "<=",
        1.3,
        "first sync <= 1.3 x (floor + the reads a first sync requires)",
    ),
    Target("e2e.resync_over_floor", "<=", 1.1, "no-change re-sync <= 1.1 x floor"),
    Target("e2e.resync_rows_written", "==", 0, "no-change re-sync writes 0 rows"),
    # Artifact records reconciled per second: the artifact stage (its key map loaded,
    # the walk, the compare, the writes, the small-file reads). The whole sync's rate,
    # runs and metric history included, is printed beside it.
    Target(
        "reconcile.first_artifact_stage_per_s",
        ">=",
        50_000,
        "first pass >= 50,000 artifacts/s (stand-in stream included)",
    ),
    Target(
        "reconcile.first_artifact_stage_net_per_s",
        ">=",
        50_000,
        "first pass >= 50,000 artifacts/s (catalogue's own: stream time taken out)",
    ),
    Target(
        "reconcile.resync_artifact_stage_per_s",
        ">=",
        200_000,
        "no-change >= 200,000 artifacts/s (stand-in stream included)",
    ),
    Target(
        "reconcile.resync_artifact_stage_net_per_s",
        ">=",
        200_000,
        "no-change >= 200,000 artifacts/s (catalogue's own: stream time taken out)",
    ),
    Target("reconcile.resync_rows_written", "==", 0, "no-change re-sync writes 0 rows"),
    Target("reconcile.peak_rss_mb", "<=", 500, "peak RSS < 500 MB"),
    Target("pages.worst_p95_ms", "<=", 100, "every page p95 <= 100 ms (cold render)"),
    Target(
        "pages.worst_warm_p95_ms", "<=", 100, "every page p95 <= 100 ms (as served, cache warm)"
    ),
    Target("pages.worst_queries", "<=", 15, "every page <= 15 queries"),
    Target(
        "leaderboard.speedup", ">=", 20, "leaderboard >= 20 x live MLflow (rendered, cache off)"
    ),
    Target(
        "leaderboard.speedup_cached",
        ">=",
        20,
        "leaderboard >= 20 x live MLflow (as served, page cache on)",
    ),
    Target("load.errors", "==", 0, "0 errors under load"),
    Target("load.locked", "==", 0, '0 "database is locked"'),
    Target("load.page_over_trivial", ">=", 0.3, "page/trivial throughput >= 0.3"),
)
