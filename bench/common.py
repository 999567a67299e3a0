"""Shared helpers for the benchmarks: a workspace whose plan has N synthetic units."""

from __future__ import annotations

import compileall
import copy
import os
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reporting.plan.example import UNIT_ROWS, example_sheets, write_plan
from reporting.workspace import Workspace, init_workspace


def synthetic_sheets(n_units: int) -> dict:
    """The example plan with ``n_units`` units cycling through the example's categories and
    regions (codes U00001…), headcounts varied."""
    sheets = copy.deepcopy(example_sheets())
    header = sheets["单位"][0]
    rows = []
    for i in range(n_units):
        base = UNIT_ROWS[i % len(UNIT_ROWS)]
        code = f"U{i + 1:05d}"
        name = f"{base[1]}（{i + 1}号）" if i >= len(UNIT_ROWS) else base[1]
        headcount = max(20, (base[4] * (7 + i % 5)) // 9)
        rows.append([code, name, base[2], base[3], headcount, base[5], base[6]])
    sheets["单位"] = [header, *rows]
    return sheets


REPO = Path(__file__).resolve().parent.parent


def compile_bytecode(root: Path = REPO) -> None:
    """Compile the tool's modules into ``__pycache__`` as Python does on a clerk's machine the
    first time it runs. Where ``PYTHONDONTWRITEBYTECODE`` is set (this project's VM sets it),
    every command would otherwise compile them again at start-up, a cost no clerk pays. (The
    script ``cli.py`` itself is compiled at every start in any case, as every ``__main__``.)"""
    for package in ("reporting", "commands"):
        compileall.compile_dir(str(root / package), quiet=1)


def _spin(_: object = None) -> float:
    """Seconds this process takes for a fixed piece of pure-Python work (0.1-0.2 s here)."""
    start = time.perf_counter()
    sum(i * i for i in range(2_000_000))
    return time.perf_counter() - start


def machine_speed() -> tuple[float, float]:
    """(one core, two cores at once): seconds for :func:`_spin` alone, and the slower of two
    run side by side in two processes. A virtual machine's speed drifts with its host's load,
    by half and more within minutes on this project's VM, and a busy host slows two busy cores
    more than one (the second figure grows): measured next to a run, it tells a slow host
    from a slow change."""
    from concurrent.futures import ProcessPoolExecutor

    alone = min(_spin() for _ in range(2))
    with ProcessPoolExecutor(2) as pool:
        pool.submit(_spin).result()  # the processes are started
        both = max(pool.map(_spin, range(2)))
    return round(alone, 3), round(both, 3)


def bench_workspace(root: Path, n_units: int) -> Workspace:
    ws = init_workspace(root, force=True).workspace
    write_plan(ws.plan_path, synthetic_sheets(n_units))
    return ws


def peak_rss_mb() -> float:
    """Peak RSS of this process and its (waited-for) children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def cpu_count() -> int:
    return os.cpu_count() or 1


class TreeRss:
    """Samples the memory of this process and all its descendants (Linux /proc, PSS)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.peak = 0
        self.cpu = 0.0  # seconds of CPU the sampling itself took (reading /proc is not free)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    stage_peak = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            now = tree_rss(os.getpid())
            self.peak = max(self.peak, now)
            self.stage_peak = max(self.stage_peak, now)
            self.cpu = time.thread_time()
            self._stop.wait(self.interval)


def tree_pids(pid: int) -> list[int]:
    """``pid`` and every process below it (those that have not ended)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
        found.append(p)
    return found


def tree_rss(pid: int, pids: list[int] | None = None) -> int:
    """Memory of the process tree, as the sum of each process's PSS (proportional set size):
    pages a forked worker still shares with its parent count once, not once per process."""
    total = 0
    for p in tree_pids(pid) if pids is None else pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue
    return total


def tree_cpu(pids: list[int], seen: dict[int, float]) -> None:
    """Record in ``seen`` the CPU seconds (user + system) each of ``pids`` has used so far.
    Sampled: a process's last moments after the final sample are not counted."""
    tick = os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            seen[p] = max(seen.get(p, 0.0), (int(fields[11]) + int(fields[12])) / tick)
        except (OSError, ValueError, IndexError):
            continue
