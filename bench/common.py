"""Shared helpers for the benchmarks: a workspace whose plan has N synthetic units."""

from __future__ import annotations

import copy
import os
import resource
import sys
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
