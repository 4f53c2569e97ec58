"""The order tests start in: the longest first, so the xdist workers finish together.

xdist's ``load`` scheduler hands tests out from the front of the collected list as
workers ask for more (pyproject's ``--maxschedchunk=2`` keeps at most a couple queued
per worker, so the list works as one shared queue). Collected in file order, a
40-second test could start last and leave the other worker idle for its whole length.
Started first, the long tests run side by side on both workers while the short ones
fill in around them. Every worker sorts the same collection the same way, as xdist
requires.
"""

from __future__ import annotations

# The longest tests (tests/timeline.py measures them), longest first: each starts
# servers, subprocesses or browsers, or builds a world. Tests marked ``slow`` follow
# them, then the rest in file order.
# The demo world is built once per run, by the first worker to need it, while the other
# waits for it (tests/demo/conftest.py): the second worker's first tests need no world,
# so it reaches the demo world's tests once the world is built and only restores it.
START_FIRST = (
    "tests/demo/test_make_run.py",  # the run's world build, then `make run`
    "tests/sync/test_kill.py",  # two syncs in subprocesses, one killed
    "tests/browser/test_layout.py",  # every page type at three widths
    "tests/test_install_script.py",  # a fresh venv
    "tests/sync/test_process.py",  # syncs killed and rerun
    "tests/demo/test_snippets_load.py",  # every snippet loaded by MLflow
    "tests/demo/test_fixture.py",  # the fixture against a fresh sync
)


def start_rank(nodeid: str, *, slow: bool) -> int:
    """Where a test starts: by its place in :data:`START_FIRST`, then slow ones, then the rest."""
    for rank, prefix in enumerate(START_FIRST):
        if nodeid.startswith(prefix):
            return rank
    return len(START_FIRST) + (0 if slow else 1)


def pytest_collection_modifyitems(config, items):
    # A stable sort: within a rank, tests keep their file order (and shared set-ups).
    items.sort(
        key=lambda item: start_rank(item.nodeid, slow=item.get_closest_marker("slow") is not None)
    )
