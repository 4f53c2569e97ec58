"""The sync's child processes, made to die with the sync.

The sync spawns up to two processes, each a one-worker ``ProcessPoolExecutor``: the
content parse process (``catalog.sync.artifacts.content``) and the artifact writer
(``catalog.sync.artifacts.writer``, ADR 0008). A worker of such a pool waits for its next task on
a pipe whose write end it holds itself, so when the sync is killed (SIGKILL, the OOM
killer) nothing wakes it: a writer was seen alive 291 s after its sync, holding its
database connection and the SQLite files. Two guards, set first thing in each worker,
before its own set-up:

* ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (Linux): the kernel kills the worker at once
  when the *thread* that started it ends. Python 3.11's pool starts "spawn" workers
  from the thread that calls ``submit()``, so ``child_process_pool`` submits a no-op
  itself, and asks for the signal only when that thread is the main thread: a worker
  started from a shorter-lived thread would be killed under a parent still using it.
* a watchdog thread that compares ``os.getppid()`` with the parent's pid every
  ``PARENT_POLL_S`` and ends the worker when they differ (its parent died and it was
  handed to another): it covers pools made off the main thread, and systems without
  ``prctl``.

The parent may die before either is in place: the pid check right after setting the
signal catches that. The module imports nothing from Django: the worker runs it before
it sets Django up.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

# How often the watchdog checks its parent; a killed sync's child ends within this.
PARENT_POLL_S = 0.5
# From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1
# The exit status of a worker that found its parent gone (os._exit: no cleanup to run,
# an open transaction is rolled back by the database).
EXIT_PARENT_GONE = 70


def child_process_pool(
    *, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """A pool of one "spawn"ed worker that dies with this process, started now.

    ``initializer(*initargs)`` runs in the worker once the guards are set; it must be
    a module-level function (it is pickled). "spawn", not fork: a fork would copy this
    process's open database connections and threads mid-use.
    """
    pool = ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_child,
        initargs=(
            os.getpid(),
            threading.current_thread() is threading.main_thread(),
            initializer,
            initargs,
        ),
    )
    # The worker is spawned by the thread that first submits: this one, as the flag
    # above says. A worker that fails to start fails this and every later task.
    pool.submit(int)
    return pool


def _start_child(
    parent_pid: int,
    spawned_by_main_thread: bool,
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
) -> None:
    die_with_parent(parent_pid=parent_pid, death_signal=spawned_by_main_thread)
    if initializer is not None:
        initializer(*initargs)


def die_with_parent(*, parent_pid: int, death_signal: bool = True) -> None:
    """Make this process end when ``parent_pid``, its parent, ends (see the module doc).

    ``death_signal``: also ask the kernel for SIGKILL when the thread that spawned this
    process ends (only right when that thread lives as long as its process).
    """
    if death_signal:
        set_parent_death_signal()
    # The parent may have died before the signal was set: then nothing would send it.
    if os.getppid() != parent_pid:
        os._exit(EXIT_PARENT_GONE)
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="watch-parent", daemon=True
    ).start()


def set_parent_death_signal() -> bool:
    """Ask Linux for SIGKILL when the parent's spawning thread ends; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    # A failure (non-zero) leaves the watchdog to do the work.
    return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(EXIT_PARENT_GONE)
