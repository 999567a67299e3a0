"""Worker processes with limits: crashes, hangs, memory hogs and bugs stay out of the caller.

The task functions are module-level so that forkserver workers can import them by name.
"""

from __future__ import annotations

import ctypes
import io
import multiprocessing
import os
import random
import sys
import threading
import time
import zipfile

import pytest

from reporting.intake import sandbox
from reporting.intake.reader import read_workbook_task
from reporting.intake.sandbox import Outcome, run_isolated, warm_up

_GIB = 1024 * 1024 * 1024


def behave(task: object) -> object:
    """A task function that misbehaves on request."""
    if task == "abort":
        os.abort()
    if task == "exit":
        os._exit(3)
    if task == "sleep":
        time.sleep(30)
    if task == "hog":
        return len(bytearray(2 * _GIB))
    if task == "raise":
        raise ValueError("坏输入")
    if task == "die_soon":  # answer, then die while idle
        threading.Timer(0.1, os._exit, (0,)).start()
        return "dying"
    if isinstance(task, tuple):  # ("nap", seconds, value)
        time.sleep(task[1])
        return task[2]
    return task


def calamine_only(data: bytes) -> int:
    """Read with calamine directly, without the reader's pre-checks."""
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    try:
        return len(book.get_sheet_by_index(0).to_python(skip_empty_area=False))
    finally:
        book.close()


@pytest.fixture(autouse=True)
def _no_leftover_children() -> object:
    yield
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("start_method", ["forkserver", "fork"])
def test_every_kind_of_failure_is_an_outcome_and_the_batch_goes_on(start_method: str) -> None:
    tasks = [1, "abort", 2, "sleep", "hog", "raise", "exit", "三"]
    done: list[int] = []
    outcomes = run_isolated(
        behave,
        tasks,
        workers=2,
        timeout_s=1,
        on_done=lambda i, o: done.append(i),
        start_method=start_method,
    )

    assert [o.index for o in outcomes] == list(range(len(tasks)))
    assert sorted(done) == list(range(len(tasks)))
    summary = [(o.ok, o.result if o.ok else o.failure) for o in outcomes]
    assert summary == [
        (True, 1),
        (False, "crashed"),
        (True, 2),
        (False, "timeout"),
        (False, "memory"),
        (False, "error"),
        (False, "crashed"),
        (True, "三"),
    ]
    by_failure = {o.failure: o for o in outcomes if not o.ok}
    assert by_failure["crashed"].message == "解析时进程异常退出（可能是构造异常的文件）"
    assert (by_failure["timeout"].message or "").startswith("解析超过 1 秒，已中止")
    assert (by_failure["memory"].message or "").startswith("解析所需内存超过 500 MB，已中止")
    assert by_failure["error"].detail == "ValueError('坏输入')"
    assert outcomes[1].detail == "worker killed by SIGABRT"
    assert outcomes[6].detail == "worker exited with code 3"


def test_order_is_input_order_whatever_the_finishing_order() -> None:
    # the slow task naps long enough to finish last even on a loaded machine
    tasks = [("nap", 0.8, "slow"), ("nap", 0.0, "fast"), ("nap", 0.05, "mid"), 4]
    finished: list[int] = []
    outcomes = run_isolated(behave, tasks, workers=3, on_done=lambda i, o: finished.append(i))
    assert [o.result for o in outcomes] == ["slow", "fast", "mid", 4]
    assert finished[-1] == 0  # the slow one finished last


@pytest.mark.parametrize("workers", [0, 1])
def test_a_single_worker_still_isolates(workers: int) -> None:
    outcomes = run_isolated(behave, ["abort", "a", "exit", "b"], workers=workers)
    assert [o.result if o.ok else o.failure for o in outcomes] == ["crashed", "a", "crashed", "b"]


def test_tasks_from_a_generator_are_taken_lazily_within_the_window() -> None:
    taken: list[int] = []
    finished: set[int] = set()

    def tasks():  # type: ignore[no-untyped-def]
        for i in range(40):
            # never more than ``window`` tasks ahead of the oldest unfinished one
            oldest = min(set(range(i)) - finished, default=i)
            assert i - oldest < 5
            taken.append(i)
            yield ("nap", 0.03 if i % 7 == 0 else 0.0, i)

    outcomes = run_isolated(
        behave, tasks(), workers=2, prefetch=1, window=5, on_done=lambda i, o: finished.add(i)
    )
    assert [o.result for o in outcomes] == list(range(40))
    assert taken == list(range(40))


def test_outcomes_need_not_be_kept() -> None:
    seen: dict[int, object] = {}
    tasks = (("nap", 0.0, i) for i in range(50))
    kept = run_isolated(
        behave,
        tasks,
        workers=2,
        prefetch=1,
        window=4,
        keep=False,
        on_done=lambda i, o: seen.__setitem__(i, o.result),
    )
    assert kept == []
    assert seen == {i: i for i in range(50)}


@pytest.mark.parametrize("bad", ["abort", "exit", "sleep"])
def test_a_task_queued_behind_a_failing_one_is_run_again_not_blamed(bad: str) -> None:
    tasks = ["a", bad, "b", "c", "d"]
    outcomes = run_isolated(behave, tasks, workers=1, prefetch=2, timeout_s=1)
    summary = [o.result if o.ok else o.failure for o in outcomes]
    failure = "timeout" if bad == "sleep" else "crashed"
    assert summary == ["a", failure, "b", "c", "d"]


def test_prefetch_keeps_results_in_input_order() -> None:
    tasks = [("nap", 0.02 * (i % 3), i) for i in range(30)]
    outcomes = run_isolated(behave, tasks, workers=2, prefetch=3)
    assert [o.result for o in outcomes] == list(range(30))
    assert all(o.ok and o.seconds < 5 for o in outcomes)


def test_large_tasks_are_never_queued_behind_a_running_one() -> None:
    big = "x" * 100_000  # larger than a pipe's buffer
    tasks = [("nap", 0.01, big), ("nap", 0.01, big), "small", ("nap", 0.0, big)]
    outcomes = run_isolated(behave, tasks, workers=1, prefetch=2, timeout_s=5)
    assert [o.ok for o in outcomes] == [True] * 4
    assert outcomes[2].result == "small" and outcomes[3].result == big


def test_a_worker_that_died_while_idle_costs_no_task() -> None:
    def tasks():  # type: ignore[no-untyped-def]
        yield "die_soon"
        time.sleep(0.5)  # the worker dies meanwhile; the next task must not be blamed
        yield "b"
        yield "c"

    outcomes = run_isolated(behave, tasks(), workers=1)
    assert [o.result if o.ok else o.failure for o in outcomes] == ["dying", "b", "c"]


def test_no_tasks_no_processes() -> None:
    assert run_isolated(behave, []) == []


@pytest.mark.parametrize("start_method", ["forkserver", "fork"])
def test_warm_up_then_run(start_method: str) -> None:
    """A fork server started early serves the run (and a second warm-up changes nothing)."""
    warm_up(behave, start_method=start_method)
    warm_up(behave, start_method=start_method)
    assert multiprocessing.active_children() == []  # the server is not a child process
    outcomes = run_isolated(behave, ["a", "raise", "b"], workers=2, start_method=start_method)
    assert [(o.ok, o.result, o.failure) for o in outcomes] == [
        (True, "a", None),
        (False, None, "error"),
        (True, "b", None),
    ]


def test_interrupt_stops_every_worker() -> None:
    def interrupt(index: int, outcome: Outcome[object]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_isolated(behave, ["a", "sleep", "sleep", "b"], workers=3, on_done=interrupt)
    # the autouse fixture checks that no child is left


def _far_cell_workbook(dimension: str | None) -> bytes:
    """A 1 KB workbook with a real cell at XFD1048576: calamine would allocate 512 GB."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" '
            f'Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{main}">{dim}<sheetData>'
            '<row r="1"><c r="A1"><v>1</v></c></row>'
            '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
            "</sheetData></worksheet>"
        ),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return buf.getvalue()


def _form() -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("数据")
    for r in range(50):
        ws.write_row(r, 0, [f"第{r + 1}项", r, r * 1.5, "已完成"])
    wb.close()
    return buf.getvalue()


def test_a_cell_at_xfd1048576_never_reaches_the_caller() -> None:
    form = _form()
    honest = _far_cell_workbook(None)
    lying = _far_cell_workbook("A1:A1")  # a dimension that lies: only the sandbox can help
    tasks = [(form, "a.xlsx"), (honest, "far.xlsx"), (form, "b.xlsx")]
    outcomes = run_isolated(read_workbook_task, tasks, workers=2, memory_mb=500)
    assert all(o.ok for o in outcomes)
    first, far, last = (o.result for o in outcomes)
    assert first is not None and first.ok and last is not None and last.ok
    assert far is not None and (far.code, far.reason) == ("unreadable", "too-large-extent")
    assert "XFD1048576" in (far.message or "")

    raw = run_isolated(calamine_only, [form, lying, form], workers=1, memory_mb=500)
    assert [o.ok for o in raw] == [True, False, True]
    assert raw[1].failure == "crashed"  # calamine aborted the worker, not us
    assert raw[0].result == 50

    reader_on_lie = run_isolated(read_workbook_task, [(lying, "lie.xlsx")], workers=1)
    assert not reader_on_lie[0].ok and reader_on_lie[0].failure == "crashed"


def test_corrupted_workbooks_never_raise_out_of_the_reader() -> None:
    """Random bit flips and truncations: every outcome is a result or an isolated crash, never
    an unexpected exception (which the sandbox would report as "error")."""
    form = _form()
    rnd = random.Random(20240301)
    tasks: list[tuple[bytes, str]] = []
    for _ in range(150):
        data = bytearray(form)
        pos = rnd.randrange(len(data))
        data[pos] ^= 1 << rnd.randrange(8)
        tasks.append((bytes(data), f"flip-{pos}"))
    tasks += [(form[: rnd.randrange(len(form))], "truncated") for _ in range(30)]
    outcomes = run_isolated(read_workbook_task, tasks, workers=2, timeout_s=5)
    assert [o.detail for o in outcomes if o.failure == "error"] == []
    failures = [o.result for o in outcomes if o.ok and o.result is not None and not o.result.ok]
    assert failures and all(r.message and r.code == "unreadable" for r in failures)


class _FakeKernel32:
    """Stands in for Windows' kernel32 in :func:`sandbox._limit_memory_windows`: records the
    calls and reads the structures passed by reference, as the real functions would."""

    PSEUDO_PROCESS = 2**64 - 1  # GetCurrentProcess() as a void pointer
    JOB = 0x1234

    def __init__(self, committed: int, *, assign: bool = True, job: int = JOB) -> None:
        self.committed, self.assign, self.job = committed, assign, job
        self.calls: list[tuple[object, ...]] = []
        self.GetCurrentProcess = self._function(lambda: self.PSEUDO_PROCESS)
        self.CreateJobObjectW = self._function(lambda attributes, name: self.job)
        self.K32GetProcessMemoryInfo = self._function(self._memory_info)
        self.SetInformationJobObject = self._function(self._set_information)
        self.AssignProcessToJobObject = self._function(lambda job, process: self.assign)
        self.CloseHandle = self._function(lambda handle: 1)

    def _function(self, body):  # type: ignore[no-untyped-def]
        fake = self

        class Function:
            restype = argtypes = None

            def __call__(self, *args: object) -> object:
                name = next(k for k, v in vars(fake).items() if v is self)
                fake.calls.append((name, *(getattr(a, "value", a) for a in args)))
                return body(*args)

        return Function()

    def _memory_info(self, process: object, counters: object, size: int) -> int:
        structure = counters._obj  # type: ignore[attr-defined]
        assert size == ctypes.sizeof(structure) and structure.cb == size
        structure.PagefileUsage = self.committed
        return 1

    def _set_information(self, job: object, cls: int, info: object, size: int) -> int:
        self.limits = info._obj  # type: ignore[attr-defined]
        assert size == ctypes.sizeof(self.limits)
        return 1


def test_windows_workers_get_a_job_object_memory_limit() -> None:
    """Windows has no RLIMIT_AS: the worker joins a job object limiting its committed memory to
    what it has committed now plus ``memory_mb`` (JOB_OBJECT_LIMIT_PROCESS_MEMORY)."""
    kernel32 = _FakeKernel32(committed=40 * 1024 * 1024)
    assert sandbox._limit_memory_windows(500, kernel32) is True
    names = [call[0] for call in kernel32.calls]
    assert names == [
        "GetCurrentProcess",
        "K32GetProcessMemoryInfo",
        "CreateJobObjectW",
        "SetInformationJobObject",
        "AssignProcessToJobObject",
    ]
    set_call = kernel32.calls[3]
    assert set_call[1] == _FakeKernel32.JOB and set_call[2] == 9  # JobObjectExtendedLimitInfo
    assert kernel32.calls[4][1:] == (_FakeKernel32.JOB, _FakeKernel32.PSEUDO_PROCESS)
    limits = kernel32.limits
    assert limits.BasicLimitInformation.LimitFlags == 0x100  # JOB_OBJECT_LIMIT_PROCESS_MEMORY
    assert limits.ProcessMemoryLimit == (40 + 500) * 1024 * 1024
    assert limits.JobMemoryLimit == 0
    assert sandbox._JOB[-1] == _FakeKernel32.JOB


def test_a_windows_worker_without_a_job_runs_without_a_limit() -> None:
    """Windows 7 refuses a second job (Python started inside one): no limit, no exception, and
    the job handle is closed. So is a Windows whose kernel32 lacks a function."""
    refused = _FakeKernel32(committed=1, assign=False)
    assert sandbox._limit_memory_windows(500, refused) is False
    assert refused.calls[-1] == ("CloseHandle", _FakeKernel32.JOB)
    no_job = _FakeKernel32(committed=1, job=0)
    assert sandbox._limit_memory_windows(500, no_job) is False
    assert [call[0] for call in no_job.calls][-1] == "CreateJobObjectW"
    assert sandbox._limit_memory_windows(500, object()) is False


@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="64-bit layout")
def test_job_object_structures_have_the_windows_x64_layout() -> None:
    """Sizes and offsets as in the Windows SDK headers for x64: a wrong layout would set another
    field than the memory limit, or be refused as a bad length."""
    limits, counters = sandbox._job_structs()
    assert ctypes.sizeof(limits) == 144
    assert limits.BasicLimitInformation.offset == 0
    assert limits.IoInfo.offset == 64
    assert limits.ProcessMemoryLimit.offset == 112
    assert ctypes.sizeof(counters) == 72
    assert counters.PagefileUsage.offset == 56


def test_the_worker_limit_on_windows_is_the_job_object(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows ``_limit_memory`` goes to the job object, never to ``resource``."""
    used: list[int] = []
    monkeypatch.setattr(sandbox.sys, "platform", "win32")
    monkeypatch.setattr(sandbox, "_limit_memory_windows", lambda mb: used.append(mb) or True)
    monkeypatch.setitem(sys.modules, "resource", None)  # importing it would fail
    sandbox._limit_memory(123)
    assert used == [123]
