"""Benchmark: the inspector sheets (one Excel and one Word file a unit) for N units.

    python bench/inspection.py [--units 10000] [--sample 200] [--json]

(Not ``bench/inspect.py``: scripts here run with ``bench/`` first on ``sys.path``, where a
file named ``inspect.py`` would stand in for the standard library's ``inspect``.)

Target (issue #8): at 10,000 units on 2 cores well under a minute, at most 8 ms of CPU a unit
for both files, and at most 500 MB for the whole process tree. The store is filled directly
like ``bench/collate.py`` does (accepted returns, 2% missing). Prints the CPU time a unit costs
in one process (snapshot, Excel sheet, Word sheet; measured on the first ``--sample`` units
with ``time.process_time``), then the whole ``inspect`` stage: seconds, units per second, CPU
seconds of the process tree (without the memory sampler's own, which reads ``/proc``) and its
peak memory (PSS, sampled every 50 ms). Wall-clock figures depend on what else runs on the
machine; CPU figures much less.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collate import PERIOD, fill_store
from common import TreeRss, bench_workspace

AS_OF = date(2014, 6, 9)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its children that have ended."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def stage(root: Path) -> dict[str, Any]:
    """The ``inspect`` command's library call, with the process tree's peak memory."""
    from reporting.inspection.service import make_inspection_sheets

    gc.collect()
    cpu = cpu_seconds()
    with TreeRss() as rss:
        start = time.perf_counter()
        result = make_inspection_sheets(root, str(PERIOD), as_of=AS_OF)
        seconds = time.perf_counter() - start
    units = len(result.files)
    return {
        "units": units,
        "seconds": round(seconds, 2),
        "units_per_s": round(units / seconds, 1),
        "tree_cpu_s": round(cpu_seconds() - cpu - rss.cpu, 2),
        "peak_mb": round(rss.peak / 2**20, 1),
    }


def per_unit(root: Path, sample: int) -> dict[str, float]:
    """CPU milliseconds a unit costs in one process, stage by stage (after a first unit that
    makes the Word skeleton and the Excel template)."""
    from reporting.collate.facts import load_month
    from reporting.inspection.sheet import build_sheet, make_meta
    from reporting.inspection.word import render_inspection_docx
    from reporting.inspection.writer import render_inspection
    from reporting.plan.load import require_plan
    from reporting.store import Store
    from reporting.workspace import Workspace

    ws = Workspace(root)
    plan = require_plan(ws.plan_path)
    with Store.open(ws.store_path) as store:
        month = load_month(store, plan, PERIOD)
    key = ws.form_key()
    units = [month.unit(u.code) for u in plan.units[: sample + 1]]
    first = build_sheet(month, units[0], AS_OF)
    render_inspection(first, make_meta(first, plan.plan_id, key, "x"))
    render_inspection_docx(first)
    units = units[1:]
    clock = time.process_time
    start = clock()
    sheets = [build_sheet(month, um, AS_OF) for um in units]
    metas = [make_meta(s, plan.plan_id, key, "2014-06-10T09:00:00") for s in sheets]
    snapshot = clock() - start
    start = clock()
    for s, m in zip(sheets, metas, strict=True):
        render_inspection(s, m, plan.settings.password or "")
    excel = clock() - start
    start = clock()
    for s in sheets:
        render_inspection_docx(s)
    word = clock() - start
    n = len(units) / 1000
    return {
        "snapshot_ms": round(snapshot / n, 2),
        "excel_ms": round(excel / n, 2),
        "word_ms": round(word / n, 2),
        "unit_ms": round((snapshot + excel + word) / n, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=10000)
    parser.add_argument("--sample", type=int, default=200, help="units timed in one process")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = bench_workspace(Path(tmp) / "ws", args.units)
        fill_store(ws.root, args.units)
        figures = stage(ws.root)
        figures.update(per_unit(ws.root, min(args.sample, args.units - 1)))
    print(
        f"{figures['units']} 个单位：inspect {figures['seconds']:.1f} 秒，"
        f"{figures['units_per_s']:.0f} 个单位/秒（进程树 CPU {figures['tree_cpu_s']:.1f} 秒）；"
        f"进程树内存峰值 {figures['peak_mb']:.0f} MB"
    )
    print(
        f"单进程 CPU 每单位：考评快照 {figures['snapshot_ms']} ms，Excel {figures['excel_ms']} ms，"
        f"Word {figures['word_ms']} ms，合计 {figures['unit_ms']} ms"
    )
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
