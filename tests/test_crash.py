"""Crash safety: ``collect`` killed with SIGKILL at random points never leaves the store damaged
or a submission half-recorded, and the next run ends exactly where an uninterrupted run does.

The batch (~40 files: good returns, rejected ones with feedback, a zip, a copy, a revised
version, a broken file) is collected by ``python cli.py collect`` in a subprocess, which is
killed (its whole process group: the parent, the fork server and the parsing workers, as a
power cut would) once after a random delay and then each time the store has recorded a random
number of submissions (committed three at a time here, so a kill also loses the recorded but
uncommitted files of its group, which the next run must process again). After every kill
the store must pass SQLite's integrity and foreign-key checks, and every recorded submission
must be complete and identical to the one an uninterrupted run records for the same file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
RECEIVED = "2014-06-03T10:00"
COMMIT_FILES = 3
PERIOD = "2014-05"

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX signals")


def _template(root: Path) -> Path:
    """A workspace whose inbox holds the batch."""
    from bench.fastfill import fast_fill
    from reporting.forms import generate_forms
    from reporting.periods import Period
    from reporting.plan.load import require_plan
    from reporting.simulate import typical_filling
    from reporting.workspace import init_workspace

    ws = init_workspace(root).workspace
    plan = require_plan(ws.plan_path)
    period = Period.parse(PERIOD)
    forms = {f.unit_code: f.path for f in generate_forms(ws, plan, period, workers=1).files}

    def filled(code: str, seed: int, **indicators: Any) -> bytes:
        unit = plan.unit(code)
        assert unit is not None
        filling = typical_filling(plan, unit, period, random.Random(seed))
        filling.indicators.update(indicators)
        return fast_fill(forms[code].read_bytes(), plan, unit, period, filling)

    inbox = ws.inbox
    bad = {"SX03": {"B03": 9999}, "YL04": {"B01": "约50人"}, "ZS02": {"B06": 120}}
    for n, code in enumerate(sorted(forms)):
        data = filled(code, n, **bad.get(code, {}))
        (inbox / f"{code}.xlsx").write_bytes(data)
    (inbox / "SX05 (1).xlsx").write_bytes((inbox / "SX05.xlsx").read_bytes())  # a copy
    (inbox / "YL02（修改版）.xlsx").write_bytes(filled("YL02", 999))  # supersedes YL02
    with zipfile.ZipFile(inbox / "县区打包.zip", "w") as zf:
        for code in ("SX13", "SX14"):
            zf.writestr(f"打包/{code}.xlsx", (inbox / f"{code}.xlsx").read_bytes())
            (inbox / f"{code}.xlsx").unlink()
    (inbox / "坏文件.xlsx").write_bytes((inbox / "SX01.xlsx").read_bytes()[:5000])
    return root


# ``python cli.py`` with files committed three at a time instead of dozens (Store.commit_group),
# so that the kills below land between commits, and within a group, of a batch this size.
_CLI = f"""
import runpy, sys
import reporting.intake.collect as collect
collect.COMMIT_FILES = {COMMIT_FILES}
sys.argv[0] = {str(REPO / "cli.py")!r}
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _collect(root: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CLI,
            "collect",
            "-w",
            str(root),
            "--period",
            PERIOD,
            "--received-at",
            RECEIVED,
            "--json",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the fork server and workers too
    )


def _recorded(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=0.1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0])
    except sqlite3.Error:
        return 0


def _kill(proc: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the run's whole process group; whether it was still running."""
    running = proc.poll() is None
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return running


def _run_until(
    root: Path, env: dict[str, str], *, after_s: float | None = None, records: int | None = None
) -> bool:
    """Run collect and kill it after ``after_s`` seconds or once the store holds ``records``
    submissions; whether the kill interrupted it."""
    proc = _collect(root, env)
    started = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() - started < 60:
            if after_s is not None and time.monotonic() - started >= after_s:
                break
            if records is not None and _recorded(root / "store.sqlite") >= records:
                break
            time.sleep(0.005)
    finally:
        interrupted = _kill(proc)
    return interrupted


def _state(root: Path) -> dict[str, tuple[Any, ...]]:
    """Everything recorded per file (by sha256), with the archived original checked."""
    from reporting.store import Store

    with Store.open(root / "store.sqlite") as store:
        assert store.integrity_check() == []
        subs = store.submissions()
        ids = [s.id for s in subs]
        findings = store.findings_for_many(ids)
        values = store.values_for(ids)
        activities = store.activities_for(ids)
        ledgers = store.ledger_rows_for(ids)
        audited = {e.sha256 for e in store.audit_entries() if e.action in ("accepted", "rejected")}
    out: dict[str, tuple[Any, ...]] = {}
    for s in subs:
        archived = root / (s.archive_path or "")
        assert archived.is_file(), s
        assert hashlib.sha256(archived.read_bytes()).hexdigest() == s.sha256
        assert s.sha256 in audited, s
        if s.state == "accepted" and s.kind == "unit":
            assert values[s.id], s  # an accepted return has its values
            assert not [f for f in findings[s.id] if f.is_error], s
        if s.state == "rejected":
            assert [f for f in findings[s.id] if f.is_error], s
        out[s.sha256] = (
            s.state,
            s.unit_code,
            s.period,
            s.kind,
            s.received_at,
            s.late,
            s.original_path,
            s.archive_path,
            tuple((f.code, f.sheet, f.cell, f.message) for f in findings[s.id]),
            tuple(sorted(values[s.id].items())),
            tuple(activities[s.id]),
            tuple((r.ledger, r.row_no, tuple(r.data.items())) for r in ledgers[s.id]),
        )
    return out


def _same_record(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Equal, except that accepted and superseded may differ while a run is incomplete."""
    states = {a[0], b[0]}
    return a[1:] == b[1:] and (a[0] == b[0] or states == {"accepted", "superseded"})


def _outputs(root: Path) -> tuple[set[str], dict[str, str]]:
    feedback = root / "outbox" / "feedback"
    books = {
        str(p.relative_to(feedback))
        for p in feedback.rglob("*.xlsx")
        if not p.name.startswith(".") and zipfile.is_zipfile(p)
    }
    notices = {str(p.relative_to(feedback)): p.read_text("utf-8") for p in feedback.rglob("*.txt")}
    return books, notices


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _template(tmp_path_factory.mktemp("crash") / "template")


def test_sigkill_at_random_points_loses_nothing(template: Path, tmp_path: Path) -> None:
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    env = {**os.environ, "TMPDIR": str(systmp), "PYTHONPATH": str(REPO)}

    reference = tmp_path / "reference"
    shutil.copytree(template, reference, symlinks=True)
    started = time.monotonic()
    proc = _collect(reference, env)
    first_record = None  # seconds from start to the first recorded file
    while proc.poll() is None and time.monotonic() - started < 120:
        if first_record is None and _recorded(reference / "store.sqlite"):
            first_record = time.monotonic() - started
        time.sleep(0.005)
    assert proc.wait(timeout=10) == 1  # some returns are rejected
    first_record = first_record or time.monotonic() - started
    expected = _state(reference)
    assert len(expected) == 36  # 34 units, the revised YL02, the broken file (not the copy)
    assert {s[0] for s in expected.values()} == {"accepted", "rejected", "superseded"}

    victim = tmp_path / "victim"
    shutil.copytree(template, victim, symlinks=True)
    inbox_before = {p: p.read_bytes() for p in (victim / "inbox").rglob("*") if p.is_file()}
    rnd = random.Random(20140603)
    total = len(expected)
    store = victim / "store.sqlite"

    def check_partial() -> None:
        if store.exists():
            partial = _state(victim)  # integrity, archive, audit, completeness
            assert set(partial) <= set(expected)
            for sha, record in partial.items():
                assert _same_record(record, expected[sha]), (record, expected[sha])

    # first a kill during start-up (store creation, plan version, scan), then kills each time
    # the store has recorded a few more files, until all but the last are recorded. The
    # start-up takes as long as the reference run's did only on average: a run that got to
    # its end before the kill is started over, with a shorter delay.
    delay = rnd.uniform(first_record / 3, first_record)
    while not _run_until(victim, env, after_s=delay) or _recorded(store) >= total - 1:
        shutil.rmtree(victim)
        shutil.copytree(template, victim, symlinks=True)
        delay /= 2
    check_partial()
    mid_batch = 0
    for _ in range(20):
        done = _recorded(store)
        if done >= total - 1:
            break
        _run_until(victim, env, records=min(done + rnd.randint(1, 6), total - 1))
        mid_batch += _recorded(store) < total
        check_partial()
    assert mid_batch >= 2, "the kills came too late to interrupt anything"

    proc = _collect(victim, env)
    assert proc.wait(timeout=120) in (0, 1)  # 0 when only copies of recorded files are left
    assert _state(victim) == expected
    assert _outputs(victim) == _outputs(reference)
    assert {p: p.read_bytes() for p in (victim / "inbox").rglob("*") if p.is_file()} == (
        inbox_before
    )
    # killed runs leave temporary files behind; none of them holds the signing key
    key_hex = (victim / ".form-key").read_text("ascii").strip()
    for path in systmp.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert bytes.fromhex(key_hex) not in data and key_hex.encode() not in data, path
