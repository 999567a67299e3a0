"""Write many small files (forms, inspector sheets) with one process or all cores."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_FROM = 40  # below this many jobs a process pool costs more than it saves


def run_jobs(
    fn: Callable[[T], R],
    jobs: Sequence[T],
    *,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    max_tasks: int | None = None,
) -> list[R]:
    """``fn`` over ``jobs`` in order, with a forked pool for large batches (workers inherit the
    parent's memory, so big shared data need not be pickled per job). ``max_tasks`` replaces a
    worker after that many jobs, for libraries that never give memory back."""
    total = len(jobs)
    n = workers if workers is not None else (os.cpu_count() or 1)
    done: list[R] = []
    if n <= 1 or total < PARALLEL_FROM:
        for job in jobs:
            done.append(fn(job))
            if progress:
                progress(len(done), total)
        return done
    with multiprocessing.get_context("fork").Pool(n, maxtasksperchild=max_tasks) as pool:
        for result in pool.imap(fn, jobs, chunksize=8):
            done.append(result)
            if progress:
                progress(len(done), total)
    return done
