"""Process checks for the demo tests, without psutil: /proc, pgrep and signal 0."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def alive(pid: int) -> bool:
    """True if ``pid`` runs; a zombie (exited, not yet reaped) holds nothing and is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(") ", 1)[-1][:1]
    except OSError:
        return False
    return state != "Z"


def group_members(pgid: int) -> set[int]:
    """Pids in process group ``pgid`` (zombies included)."""
    found = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True)
    return {int(pid) for pid in found.stdout.split()}


def children(pid: int) -> set[int]:
    """Direct children of ``pid``."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return {int(child) for child in found.stdout.split()}
