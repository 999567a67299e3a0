"""Benchmark: collect N filled returns and compare with python-calamine reading the same files.

    python bench/intake.py [--units 5000] [--worker-sample 300] [--json]

Target (issue #4): collect within 3x calamine's read time, both cores, peak memory < 500 MB.
Returns are filled by XML editing (bench/fastfill.py); 5% carry an error, 3% are sent twice.

Wall-clock figures depend on what else the machine runs; CPU time does much less. So it also
prints the CPU time per file of collect's parent process (time.process_time around collect: scan,
hashing, store, dispatch) and of the worker function (read, check, archive, feedback) run in
this process over --worker-sample files copied to a scratch workspace (0 skips it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import random
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import bench_workspace, peak_rss_mb
from fastfill import fast_fill

from reporting.forms.service import make_forms
from reporting.intake.collect import collect
from reporting.periods import Period
from reporting.plan.load import require_plan
from reporting.simulate import typical_filling

PERIOD = Period(2014, 5)


def calamine_read_all(paths: list[Path]) -> float:
    from python_calamine import CalamineWorkbook

    start = time.perf_counter()
    for path in paths:
        wb = CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return time.perf_counter() - start


def worker_cpu_ms(root: Path, paths: list[Path], scratch: Path) -> float:
    """CPU ms per file of collect's worker function over ``paths``, in this process, writing
    its archive and feedback into a copy of the workspace at ``scratch``."""
    from reporting.intake import collect as c
    from reporting.intake.sources import scan_inbox
    from reporting.intake.validate import IntakeContext
    from reporting.plan.load import require_plan_result
    from reporting.workspace import Workspace

    ws = Workspace(scratch)
    ws.inbox.mkdir(parents=True)
    for name in ("plan.xlsx", ".form-key"):
        shutil.copy(root / name, scratch / name)
    for path in paths:
        shutil.copy(path, ws.inbox / path.name)
    plan = require_plan_result(ws.plan_path).plan
    context = scratch / "context.pickle"
    intake = IntakeContext(plan, {plan.version: plan}, None, None)
    with context.open("wb") as fh:
        received = datetime(2014, 6, 3, 10)
        feedback = ws.outbox / c.FEEDBACK_DIR
        pickle.dump(c._WorkerContext(intake, ws.archive, feedback, received, ws.root), fh)
    tasks = [
        c._task(s, hashlib.sha256(s.read_bytes()).hexdigest(), str(context))
        for s in scan_inbox(ws.inbox, ws.root)
        if s.is_candidate
    ]
    import xlsxwriter  # noqa: F401  (a long-lived worker imports it once, at its first feedback)

    c._check_task(tasks[0])  # loads the context, imports the readers
    start = time.process_time()
    for task in tasks[1:]:
        c._check_task(task)
    return (time.process_time() - start) / max(1, len(tasks) - 1) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--worker-sample", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(4)
    with tempfile.TemporaryDirectory() as tmp:
        ws = bench_workspace(Path(tmp) / "ws", args.units)
        t0 = time.perf_counter()
        forms = make_forms(ws.root, str(PERIOD))
        forms_s = time.perf_counter() - t0
        plan = require_plan(ws.plan_path)
        t0 = time.perf_counter()
        paths = []
        for form in forms.files:
            unit = plan.unit(form.unit_code)
            assert unit
            filling = typical_filling(plan, unit, PERIOD, rng)
            if rng.random() < 0.05:
                filling.indicators["B01"] = unit.headcount + 5  # breaks "<= 职工人数"
            data = fast_fill(form.path.read_bytes(), plan, unit, PERIOD, filling)
            path = ws.inbox / form.path.name
            path.write_bytes(data)
            paths.append(path)
            if rng.random() < 0.03:
                (ws.inbox / f"{form.path.stem}(1).xlsx").write_bytes(data)
        fill_s = time.perf_counter() - t0
        calamine_s = calamine_read_all(paths)
        worker_ms = None
        if args.worker_sample > 0:
            sample = paths[: args.worker_sample + 1]
            worker_ms = worker_cpu_ms(ws.root, sample, Path(tmp) / "scratch")
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        result = collect(ws.root, received_at=None)
        parent_cpu_s = time.process_time() - cpu0
        collect_s = time.perf_counter() - t0
        t = result.totals
        n = len(paths)
        figures = {
            "units": args.units,
            "forms_s": round(forms_s, 2),
            "fill_s": round(fill_s, 2),
            "collect_s": round(collect_s, 2),
            "collect_files_per_s": round(t["received"] / collect_s, 1),
            "calamine_read_s": round(calamine_s, 2),
            "collect_vs_calamine": round(collect_s / calamine_s, 2),
            "parent_cpu_ms_per_file": round(parent_cpu_s / t["received"] * 1000, 3),
            "worker_cpu_ms_per_file": None if worker_ms is None else round(worker_ms, 3),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "totals": t,
        }
        print(f"表单 {args.units} 份：{forms_s:.1f} 秒；填写 {n} 份：{fill_s:.1f} 秒")
        print(
            f"collect：{t['received']} 个文件 {collect_s:.1f} 秒，"
            f"{t['received'] / collect_s:.0f} 个/秒"
            f"（接收 {t['accepted']}，退回 {t['rejected']}，重复 {t['duplicate']}）"
        )
        print(
            f"calamine 单进程读取同样 {n} 个文件：{calamine_s:.1f} 秒；collect / calamine = "
            f"{collect_s / calamine_s:.2f}"
        )
        print(
            f"CPU：collect 父进程 {figures['parent_cpu_ms_per_file']} ms/文件；"
            + (
                f"子进程函数（单进程 {args.worker_sample} 个文件）{worker_ms:.3f} ms/文件"
                if worker_ms is not None
                else "子进程函数未测"
            )
        )
        print(f"峰值内存 {figures['peak_rss_mb']} MB")
        if args.json:
            print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
