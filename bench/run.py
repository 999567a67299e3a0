"""Benchmark: a whole month for N units, stage by stage.

    python bench/run.py --units 10000 [--json] [--openpyxl-sample K] [--keep DIR] [--pairs K]

Builds a workspace with an N-unit plan, generates the forms, fills them as units would (varied
values; 5% with an error, 3% late, 2% missing), then runs collect, status, collate, inspect,
rank and report, each as ``python cli.py …`` in a process of its own as a clerk runs them
(their start-up and terminal output included), printing seconds, files/s and the peak memory
(PSS) and the CPU seconds of each stage's process tree. It also
reads the same returns with python-calamine alone and with openpyxl alone (on a sample of K
files when --openpyxl-sample is given; openpyxl needs ~11 ms a file) and prints the ratios
collect/calamine and openpyxl/collect. The last line of --json output is one JSON object.

On a virtual machine whose host is busy now and then, one collect and one calamine read a few
minutes apart can meet different hosts: the same code has given 2.30 and 4.60. ``--pairs K``
then measures the ratio K more times, each pair close together in time (calamine, then both
collects on a fresh copy of the workspace as it was before the first one), and prints each
ratio and their median; the JSON line keeps the single run's figures.

Targets at N = 10,000 on a 2-core machine (issue #8): forms <= 60 s; collect <= 3x calamine;
collate + rank + report <= 15 s; peak RSS <= 500 MB; each stage within 12x its time at 1,000.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    bench_workspace,
    compile_bytecode,
    machine_speed,
    tree_cpu,
    tree_pids,
    tree_rss,
)
from fastfill import fast_fill

from reporting.periods import Period

PERIOD = Period(2014, 5)
ON_TIME = datetime(2014, 6, 4, 17, 0)
LATE = datetime(2014, 6, 9, 9, 0)
REPORT_DAY = date(2014, 6, 10)
AS_OF = date(2014, 6, 9)


CLI = Path(__file__).resolve().parent.parent / "cli.py"


def timed(figures: dict[str, Any], key: str, fn: Callable[[], Any]) -> Any:
    """Run one in-process step: its seconds in ``figures[key]``."""
    start = time.perf_counter()
    result = fn()
    figures[key] = round(time.perf_counter() - start, 2)
    return result


def stage(figures: dict[str, Any], key: str, args: list[str], ok: tuple[int, ...] = (0,)) -> str:
    """Run one stage as a clerk does, ``python cli.py …`` in its own process: its seconds in
    ``figures[key]``, the peak memory and the CPU seconds of its process tree beside it.
    Returns its output."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(CLI), *args], stdout=log, stderr=subprocess.STDOUT
        )
        peak = 0
        cpu: dict[int, float] = {}
        while proc.poll() is None:
            pids = tree_pids(proc.pid)
            peak = max(peak, tree_rss(proc.pid, pids))
            tree_cpu(pids, cpu)
            time.sleep(0.05)
        figures[key] = round(time.perf_counter() - start, 2)
        figures[key.replace("_s", "_peak_mb")] = round(peak / 2**20, 1)
        figures[key.replace("_s", "_cpu_s")] = round(sum(cpu.values()), 2)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    if proc.returncode not in ok:
        raise SystemExit(
            f"{' '.join(args[:1])} 失败（退出码 {proc.returncode}）：\n{output[-3000:]}"
        )
    return output


def fill_month(
    ws: Any, plan: Any, forms: list[tuple[str, Path]], rng: random.Random
) -> tuple[list[Path], list[Path]]:
    """Returns (on-time files, late files) written into two inbox folders."""
    from reporting.simulate import typical_filling

    on_time_dir, late_dir = ws.inbox / "按时", ws.inbox / "逾期"
    on_time_dir.mkdir()
    late_dir.mkdir()
    on_time, late = [], []
    for code, form in forms:
        roll = rng.random()
        if roll < 0.02:
            continue  # missing
        unit = plan.unit(code)
        filling = typical_filling(plan, unit, PERIOD, rng)
        if rng.random() < 0.05:
            filling.indicators["B01"] = unit.headcount + 5  # breaks "<= 职工人数"
        data = fast_fill(form.read_bytes(), plan, unit, PERIOD, filling)
        folder, bucket = (late_dir, late) if roll > 0.97 else (on_time_dir, on_time)
        path = folder / form.name
        path.write_bytes(data)
        bucket.append(path)
    return on_time, late


def calamine_read(paths: list[Path]) -> float:
    from python_calamine import CalamineWorkbook

    start = time.perf_counter()
    for path in paths:
        wb = CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return time.perf_counter() - start


def openpyxl_read(paths: list[Path]) -> float:
    import openpyxl

    start = time.perf_counter()
    for path in paths:
        wb = openpyxl.load_workbook(path, data_only=True)
        for ws in wb:
            for _ in ws.iter_rows(values_only=True):
                pass
        wb.close()
    return time.perf_counter() - start


def _load() -> float | None:
    """The 1-minute load average before the run (None where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def run(units: int, sample: int | None, keep: Path | None, pairs: int = 0) -> dict[str, Any]:
    from reporting.forms.generate import form_filename
    from reporting.plan.load import require_plan

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    figures: dict[str, Any] = {"units": units, "load_before": _load()}
    compile_bytecode()  # each stage then starts as on a clerk's machine after its first run
    figures["speed_before"] = machine_speed()
    try:
        ws = bench_workspace(tmp / "ws", units)
        plan = require_plan(ws.plan_path)
        w = ["-w", str(ws.root)]
        period = ["-p", str(PERIOD)]
        as_of = ["--as-of", AS_OF.isoformat()]
        stage(figures, "forms_s", ["forms", *period, *w])
        folder = ws.forms_dir / str(PERIOD)
        forms = [(u.code, folder / form_filename(u, PERIOD)) for u in plan.units]
        on_time, late = timed(
            figures, "fill_s", lambda: fill_month(ws, plan, forms, random.Random(8))
        )
        files = on_time + late
        figures["returns"] = len(files)
        shutil.move(str(ws.inbox / "逾期"), str(tmp / "逾期"))
        if pairs:
            snapshot(ws.root, tmp / "before")
        both_collects(figures, ws.root, tmp / "逾期", "collect_1_s", "collect_2_s")
        figures["collect_s"] = round(figures["collect_1_s"] + figures["collect_2_s"], 2)
        figures["collect_cpu_s"] = round(
            figures.pop("collect_1_cpu_s") + figures.pop("collect_2_cpu_s"), 2
        )
        figures["collect_peak_mb"] = max(
            figures.pop("collect_1_peak_mb"), figures.pop("collect_2_peak_mb")
        )
        figures["rejected"] = rejected(ws.store_path)
        figures["calamine_read_s"] = round(calamine_read(files), 2)
        figures["speed_after"] = machine_speed()  # the host as collect and calamine met it
        chosen = files if sample is None else files[:sample]
        openpyxl_s = openpyxl_read(chosen) * len(files) / max(1, len(chosen))
        figures["openpyxl_read_s"] = round(openpyxl_s, 2)
        figures["openpyxl_sampled"] = len(chosen)
        stage(figures, "status_s", ["status", *period, *w, *as_of])
        stage(figures, "collate_s", ["collate", *period, *w])
        stage(figures, "inspect_s", ["inspect", *period, *w, *as_of])
        stage(figures, "rank_s", ["rank", *period, *w, *as_of])
        stage(
            figures,
            "report_s",
            ["report", *period, *w, *as_of, "--date", REPORT_DAY.isoformat(), "--no-pdf"],
        )
        if pairs:
            figures["pairs"] = [
                paired(tmp / "before", tmp / "逾期", tmp / f"pair{i}", files) for i in range(pairs)
            ]
        peaks = [v for k, v in figures.items() if k.endswith("_peak_mb")]
        figures["peak_rss_mb"] = max(peaks)
        figures["collect_vs_calamine"] = round(figures["collect_s"] / figures["calamine_read_s"], 2)
        figures["openpyxl_vs_collect"] = round(figures["openpyxl_read_s"] / figures["collect_s"], 2)
        figures["forms_per_s"] = round(units / figures["forms_s"], 1)
        figures["collect_files_per_s"] = round(len(files) / figures["collect_s"], 1)
        if keep:
            shutil.copytree(tmp / "ws", keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return figures


def snapshot(root: Path, to: Path) -> None:
    """The workspace before its first collect, for :func:`paired` (the forms are left out:
    collect does not read them)."""
    shutil.copytree(
        root, to, ignore=lambda folder, _: ["forms"] if folder == str(root / "outbox") else []
    )


def paired(before: Path, late: Path, root: Path, files: list[Path]) -> tuple[float, float]:
    """One more (collect, calamine) pair, close together in time: calamine reads ``files``,
    then both collects run on a fresh copy of ``before``. Their seconds."""
    shutil.copytree(before, root)
    # On disk before the pair starts: collect's syncfs would otherwise flush the copy too.
    if hasattr(os, "sync"):
        os.sync()
    # The copies' change times are now; the first collect remembers only files older than 2 s
    # (seen.py), as the main run's filled returns are.
    time.sleep(2.1)
    read = calamine_read(files)
    figures: dict[str, Any] = {}
    both_collects(figures, root, late, "a_s", "b_s")
    count = recorded(root / "store.sqlite")
    shutil.rmtree(root, ignore_errors=True)
    if count != len(files):  # the copy was not the workspace the main run collected
        raise SystemExit(f"再测的一对只记录了 {count} 份报送，应为 {len(files)} 份")
    return round(figures["a_s"] + figures["b_s"], 2), round(read, 2)


def both_collects(figures: dict[str, Any], root: Path, late: Path, first: str, then: str) -> None:
    """A first collect takes the on-time returns; ``late`` is then copied into the inbox (kept
    for :func:`paired`) and a second collect after the deadline takes them. Their seconds in
    ``figures[first]`` and ``figures[then]``. collect exits 1 when it sent returns back, as it
    does here for the planted errors."""
    w = ["-w", str(root)]
    stage(figures, first, ["collect", *w, "--received-at", ON_TIME.isoformat()], (0, 1))
    shutil.copytree(late, root / "inbox" / "逾期")
    stage(figures, then, ["collect", *w, "--received-at", LATE.isoformat()], (0, 1))


def recorded(store: Path) -> int:
    """How many returns the collect runs recorded."""
    with closing(sqlite3.connect(store)) as conn:
        return conn.execute("SELECT count(*) FROM submissions").fetchone()[0]


def rejected(store: Path) -> int:
    """How many returns the collect runs sent back."""
    with closing(sqlite3.connect(store)) as conn:
        return conn.execute("SELECT count(*) FROM submissions WHERE state = 'rejected'").fetchone()[
            0
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=10000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--openpyxl-sample",
        type=int,
        default=None,
        help="read only this many returns with openpyxl and extrapolate",
    )
    parser.add_argument("--keep", type=Path, default=None, help="copy the workspace here")
    parser.add_argument(
        "--pairs",
        type=int,
        default=0,
        help="measure collect/calamine this many more times, each pair close together in time",
    )
    args = parser.parse_args()
    f = run(args.units, args.openpyxl_sample, args.keep, args.pairs)
    print(f"{f['units']} 个单位，{f['returns']} 份报送（退回 {f['rejected']}）")
    if f["load_before"] is not None:
        busy = "，有别的任务在运行，下面的数字会偏慢" if f["load_before"] > 0.5 else ""
        print(f"  开始前 1 分钟平均负载 {f['load_before']:.2f}{busy}（见 docs/performance.md）")
    (one, two), (one_after, two_after) = f["speed_before"], f["speed_after"]
    print(
        "  本机速度（同一段 Python 计算的秒数，越小越快；虚拟机随宿主机忙闲而变）："
        f"开始前单核 {one}、双核同时 {two}，calamine 之后单核 {one_after}、双核同时 {two_after}"
    )
    print(f"  forms    {f['forms_s']:>8.2f} 秒  {f['forms_per_s']:.0f} 份/秒")
    print(f"  填写     {f['fill_s']:>8.2f} 秒（基准数据准备，不计入）")
    print(
        f"  collect  {f['collect_s']:>8.2f} 秒  {f['collect_files_per_s']:.0f} 个/秒"
        f"（两次回收 {f['collect_1_s']} + {f['collect_2_s']}；进程树 CPU {f['collect_cpu_s']} 秒，"
        f"为 calamine 的 {f['collect_cpu_s'] / max(f['calamine_read_s'], 0.01):.1f} 倍）"
    )
    print(
        f"  calamine {f['calamine_read_s']:>8.2f} 秒（单进程只读取）  collect/calamine = "
        f"{f['collect_vs_calamine']}"
    )
    print(
        f"  openpyxl {f['openpyxl_read_s']:>8.2f} 秒（抽样 {f['openpyxl_sampled']} 个外推）"
        f"  openpyxl/collect = {f['openpyxl_vs_collect']}"
    )
    if f.get("pairs"):
        ratios = [c / max(r, 0.01) for c, r in f["pairs"]]
        each = "，".join(f"{c} / {r} = {c / max(r, 0.01):.2f}" for c, r in f["pairs"])
        print(
            f"  再测 {len(ratios)} 对（calamine 读取后紧接两次回收）：{each}；"
            f"collect/calamine 中位数 {statistics.median(ratios):.2f}"
        )
    for key in ("status", "collate", "inspect", "rank", "report"):
        print(f"  {key:<8} {f[key + '_s']:>8.2f} 秒（CPU {f[key + '_cpu_s']:.2f} 秒）")
    peaks = "，".join(f"{k[:-8]} {v:.0f}" for k, v in f.items() if k.endswith("_peak_mb"))
    print(f"  各阶段进程树峰值内存（MB）：{peaks}")
    total = f["collate_s"] + f["rank_s"] + f["report_s"]
    print(f"  collate + rank + report = {total:.2f} 秒；进程树峰值内存 {f['peak_rss_mb']} MB")
    if args.json:
        keys = (
            "units",
            "forms_s",
            "collect_s",
            "calamine_read_s",
            "openpyxl_read_s",
            "collect_vs_calamine",
            "openpyxl_vs_collect",
            "collate_s",
            "rank_s",
            "report_s",
            "peak_rss_mb",
        )
        print(json.dumps({k: f[k] for k in keys}, ensure_ascii=False))


if __name__ == "__main__":
    main()
