"""Run a function over many inputs in worker processes with a memory and a time limit.

Parsing untrusted workbooks can kill the process doing it: calamine aborts (SIGABRT) when a
file declares a cell at ``XFD1048576``, a crafted file can loop or eat all memory. This module
keeps those failures away from the caller:

* every task runs in a long-lived worker process (no process per file: 10,000 files go fast);
* each worker's address space is capped with ``RLIMIT_AS`` (``memory_mb``; on Windows its
  committed memory, with a job object): a Python ``MemoryError`` becomes the outcome
  ``"memory"``; a native allocation failure usually aborts the worker, which becomes
  ``"crashed"``;
* the parent tracks when each task began (handed to an idle worker, or the task before it in
  that worker's queue ended); a worker still busy with one task after ``timeout_s`` is killed
  (SIGKILL) and replaced, its task recorded as ``"timeout"``;
* a worker that dies (abort, segfault, kill, ``os._exit``) has its current task recorded as
  ``"crashed"`` and is replaced; the rest of the batch goes on;
* any other exception raised by the function becomes ``"error"`` with its repr in ``detail``
  (that is a bug in the function, not bad input: the function itself should return bad input as
  data);
* workers ignore SIGINT; on any exit from :func:`run_isolated` (normal, exception,
  ``KeyboardInterrupt``) every worker is stopped and joined: no zombies, no leaked pipes.

Start method: ``forkserver`` by default. A worker is then forked from a small single-threaded
server process, not from the caller, so (a) the memory limit applies to a small process, not to
a copy of a big parent, and (b) forking is safe even when the caller runs threads (a rich
progress bar refreshes from a thread; ``fork()`` of a threaded process can deadlock). The
function must therefore be importable by name (a module-level function). ``start_method="fork"``
is accepted for callers that need it.

Why ``RLIMIT_AS``: it is the limit Linux enforces on every allocation (``RLIMIT_DATA`` misses
``mmap`` on older kernels, and ``RLIMIT_RSS`` is not enforced at all). It counts virtual
memory, including what the worker inherited, so the limit is set to the address space the
worker maps when it starts (≈20 MB from the fork server, the whole parent with ``fork``) plus
``memory_mb``: ``memory_mb`` is what one task may add. Reading a 20 KB form adds a few MB; the
default 500 MB refuses only absurd files.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
import selectors
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Generic, Literal, TypeVar

from reporting.errors import ReportingError

T = TypeVar("T")
R = TypeVar("R")

Failure = Literal["crashed", "timeout", "memory", "error"]

_MB = 1024 * 1024


class SandboxError(ReportingError):
    """Worker processes cannot be started at all (environment problem, not a bad input file)."""


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What happened to ``tasks[index]``: ``ok`` with ``result`` (the function's return value),
    or a ``failure`` with a Chinese ``message`` and a technical ``detail``. ``seconds`` is the
    time from handing the task to a worker to its outcome."""

    index: int
    ok: bool
    result: R | None = None
    failure: Failure | None = None
    message: str | None = None
    detail: str | None = None
    seconds: float = 0.0


def run_isolated(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    *,
    workers: int = os.cpu_count() or 1,
    memory_mb: int = 500,
    timeout_s: float = 10.0,
    on_done: Callable[[int, Outcome[R]], None] | None = None,
    start_method: str | None = None,
    quiet: bool = True,
    prefetch: int = 0,
    window: int | None = None,
    keep: bool = True,
) -> list[Outcome[R]]:
    """Run ``fn(task)`` for every task in worker processes; outcomes in input order.

    ``fn`` must be a module-level function and tasks and results picklable. ``workers`` below 1
    means 1 (still isolated: a crash never reaches the caller). ``on_done(index, outcome)`` is
    called in the caller's process as each task finishes (in completion order), e.g. to advance
    a progress bar. ``quiet`` sends the workers' stderr to ``/dev/null`` (a native crash prints
    a backtrace there).

    ``tasks`` may be any iterable: it is consumed lazily, one task when a worker can take it, so
    a generator can read each input just before it is needed and the whole run uses one set of
    workers. ``prefetch`` queues up to that many further small tasks (pickled size up to
    :data:`PREFETCH_MAX_BYTES`) behind the one a busy worker is running, so it never waits for
    the caller between tasks; a queued task's time limit starts when the task before it ends,
    and a task queued behind one that crashed or timed out is handed out again, not blamed.
    ``window`` bounds how far the tasks handed out may run ahead of the oldest unfinished one
    (the caller then holds at most that many results waiting for an earlier one). With
    ``keep=False`` outcomes go to ``on_done`` only and the returned list is empty, so a long run
    holds no more than its window in memory.
    """
    source = iter(tasks)
    first = list(itertools.islice(source, max(1, workers)))
    if not first:
        return []
    ctx = _context(start_method, fn)
    pool = _Pool(ctx, fn, memory_mb, timeout_s, quiet, on_done, max(0, prefetch), window, keep)
    try:
        pool.run(itertools.chain(first, source), len(first))
    except BaseException:
        pool.kill_all()
        raise
    finally:
        pool.close()
    return pool.outcomes()


def warm_up(fn: Callable[[T], R], *, start_method: str | None = None) -> None:
    """Start the fork server now, for a caller that has other work to do before it calls
    :func:`run_isolated` with ``fn``: the server imports the caller's modules in its own process
    meanwhile (a third of a second for ``collect``, which scans the inbox first), and the
    workers then start at once. Does nothing for other start methods or a server already up."""
    ctx = _context(start_method, fn)
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _context(start_method: str | None, fn: Callable[..., Any]) -> Any:
    methods = multiprocessing.get_all_start_methods()
    method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        # Import the function's module once, in the server, so that workers start warm instead
        # of each re-importing it (as spawn would). Only effective before the server starts
        # (the first call in this process). "__main__" is asked for too, but CPython 3.11
        # never hands the server the main script's path (``ensure_running`` keeps the key
        # "main_path" where spawn names it "init_main_from_path"): every worker runs the
        # script itself, as ``__mp_main__``; ``cli.py`` does nothing under that name.
        module = getattr(fn, "__module__", None)
        extra = [module] if isinstance(module, str) and module != "__main__" else []
        ctx.set_forkserver_preload(["__main__", *extra])
    return ctx


# --- the worker ------------------------------------------------------------------------------

_READY = "ready"


def _worker_main(conn: Connection, fn: Callable[[Any], Any], memory_mb: int, quiet: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if quiet:
        import faulthandler

        faulthandler.disable()  # may write to a copy of the parent's stderr (pytest's does)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    _limit_memory(memory_mb)
    try:
        conn.send(_READY)
        while True:
            message = conn.recv()
            if message is None:
                return
            index, task = message
            del message
            reply = _run_one(fn, index, task)
            del task
            try:
                conn.send(reply)
            except MemoryError:
                conn.send((index, "memory", None, "MemoryError while sending the result"))
            except (OSError, EOFError):
                raise
            except Exception as exc:  # the result could not be pickled
                conn.send((index, "error", None, f"result not picklable: {exc!r}"[:2000]))
    except (OSError, EOFError):
        return  # the parent is gone


def _run_one(fn: Callable[[Any], Any], index: int, task: Any) -> tuple[int, str, Any, str | None]:
    try:
        result = fn(task)
    except MemoryError:
        return index, "memory", None, "MemoryError"
    except Exception as exc:  # the isolation boundary: fn's failure is data for the parent
        return index, "error", None, repr(exc)[:2000]
    return index, "ok", result, None


def _limit_memory(memory_mb: int) -> None:
    """Cap the worker's address space at what it already maps plus ``memory_mb`` (on Windows,
    its committed memory: see :func:`_limit_memory_windows`)."""
    if sys.platform == "win32":
        _limit_memory_windows(memory_mb)
        return
    try:
        import resource
    except ImportError:  # neither POSIX nor Windows: no limit
        return
    limit = _mapped_bytes() + memory_mb * _MB
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@functools.cache
def _job_structs() -> tuple[Any, Any]:
    """``JOBOBJECT_EXTENDED_LIMIT_INFORMATION`` and ``PROCESS_MEMORY_COUNTERS`` as ctypes
    structures (built on first use: ctypes is imported only on Windows)."""
    import ctypes

    size_t, u32 = ctypes.c_size_t, ctypes.c_uint32

    class BasicLimits(ctypes.Structure):
        _fields_ = [
            ("PerProcessUserTimeLimit", ctypes.c_int64),
            ("PerJobUserTimeLimit", ctypes.c_int64),
            ("LimitFlags", u32),
            ("MinimumWorkingSetSize", size_t),
            ("MaximumWorkingSetSize", size_t),
            ("ActiveProcessLimit", u32),
            ("Affinity", size_t),
            ("PriorityClass", u32),
            ("SchedulingClass", u32),
        ]

    class ExtendedLimits(ctypes.Structure):
        _fields_ = [
            ("BasicLimitInformation", BasicLimits),
            ("IoInfo", ctypes.c_uint64 * 6),  # IO_COUNTERS
            ("ProcessMemoryLimit", size_t),
            ("JobMemoryLimit", size_t),
            ("PeakProcessMemoryUsed", size_t),
            ("PeakJobMemoryUsed", size_t),
        ]

    class MemoryCounters(ctypes.Structure):
        _fields_ = [("cb", u32), ("PageFaultCount", u32)] + [
            (name, size_t)
            for name in (
                "PeakWorkingSetSize",
                "WorkingSetSize",
                "QuotaPeakPagedPoolUsage",
                "QuotaPagedPoolUsage",
                "QuotaPeakNonPagedPoolUsage",
                "QuotaNonPagedPoolUsage",
                "PagefileUsage",
                "PeakPagefileUsage",
            )
        ]

    return ExtendedLimits, MemoryCounters


_JOB_EXTENDED_LIMITS = 9  # JobObjectExtendedLimitInformation
_JOB_LIMIT_PROCESS_MEMORY = 0x100
_JOB: list[int] = []  # the worker's job handle, kept open for the worker's lifetime


def _limit_memory_windows(memory_mb: int, kernel32: Any = None) -> bool:
    """Windows has no ``RLIMIT_AS``: the worker puts itself into a job object whose per-process
    limit is the memory it has committed now (the Python runtime and the worker function's
    module, loaded before this runs) plus ``memory_mb``. An allocation beyond it fails as
    under ``RLIMIT_AS``: Python raises ``MemoryError``, native code aborts. Windows 7 refuses a
    second job for a process already in one (a terminal may start Python in a job): the worker
    then runs without a limit, as before. Returns whether the limit is in force; never
    raises."""
    try:
        import ctypes

        extended_limits, memory_counters = _job_structs()
        if kernel32 is None:
            kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32.GetCurrentProcess.restype = ctypes.c_void_p
        kernel32.CreateJobObjectW.restype = ctypes.c_void_p
        kernel32.CreateJobObjectW.argtypes = (ctypes.c_void_p, ctypes.c_wchar_p)
        process = kernel32.GetCurrentProcess()
        counters = memory_counters(cb=ctypes.sizeof(memory_counters))
        if not kernel32.K32GetProcessMemoryInfo(
            ctypes.c_void_p(process), ctypes.byref(counters), counters.cb
        ):
            return False
        job = kernel32.CreateJobObjectW(None, None)
        if not job:
            return False
        limits = extended_limits()
        limits.BasicLimitInformation.LimitFlags = _JOB_LIMIT_PROCESS_MEMORY
        limits.ProcessMemoryLimit = counters.PagefileUsage + memory_mb * _MB
        if not kernel32.SetInformationJobObject(
            ctypes.c_void_p(job),
            _JOB_EXTENDED_LIMITS,
            ctypes.byref(limits),
            ctypes.sizeof(limits),
        ) or not kernel32.AssignProcessToJobObject(ctypes.c_void_p(job), ctypes.c_void_p(process)):
            kernel32.CloseHandle(ctypes.c_void_p(job))
            return False
        _JOB.append(job)
        return True
    except Exception:  # whatever this Windows lacks: no limit, never a worker that cannot start
        return False


def _mapped_bytes() -> int:
    """The process's current virtual memory size (Linux ``VmSize``), 0 if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


# --- the parent ------------------------------------------------------------------------------

_START_TIMEOUT_S = 60.0


class _Worker:
    def __init__(self, ctx: Any, fn: Callable[[Any], Any], memory_mb: int, quiet: bool) -> None:
        self.conn, child_conn = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_worker_main, args=(child_conn, fn, memory_mb, quiet), daemon=True
        )
        try:
            self.process.start()
        finally:
            child_conn.close()  # only the child holds it now: its death gives us EOF
        self.ready = False
        # Tasks sent and not answered, in the order the worker runs them: (index, task). The
        # first is running; the others wait in the pipe.
        self.queue: deque[tuple[int, Any]] = deque()
        self.started = time.monotonic()  # when it was started, then when its first task began
        self.gone = False  # a send failed: it is dead, the selector will report it

    @property
    def index(self) -> int | None:
        """The task it is working on."""
        return self.queue[0][0] if self.queue else None

    @property
    def waiting_on(self) -> bool:
        return not self.ready or bool(self.queue)

    def send(self, index: int, task: Any, payload: bytes) -> bool:
        """Hand a task over; ``False`` (and nothing queued) if the worker is gone."""
        try:
            self.conn.send_bytes(payload)
        except (OSError, EOFError):
            self.gone = True
            return False
        if not self.queue:
            self.started = time.monotonic()
        self.queue.append((index, task))
        return True

    def stop(self, *, kill: bool) -> None:
        if self.process.exitcode is None and not kill:
            try:
                self.conn.send(None)
            except (OSError, EOFError):
                pass
            else:
                self.process.join(timeout=2)
        if self.process.exitcode is None:
            self.process.kill()
        self.process.join()
        self.conn.close()
        self.process.close()

    def death(self) -> str:
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                return f"worker killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"worker killed by signal {-code}"
        return f"worker exited with code {code}"


#: A task is queued behind a running one only if it pickles to at most this many bytes, so the
#: queued tasks always fit in the pipe's buffer (64 KiB on Linux, 16 KiB at least on macOS):
#: sending one can then never block while the worker is itself blocked sending a large result.
PREFETCH_MAX_BYTES = 4096


class _Pool:
    def __init__(
        self,
        ctx: Any,
        fn: Callable[[Any], Any],
        memory_mb: int,
        timeout_s: float,
        quiet: bool,
        on_done: Callable[[int, Outcome[Any]], None] | None,
        prefetch: int,
        window: int | None,
        keep: bool = True,
    ) -> None:
        self.ctx, self.fn, self.memory_mb, self.quiet = ctx, fn, memory_mb, quiet
        self.timeout_s = timeout_s
        self.on_done = on_done
        self.prefetch = prefetch
        self.window = window
        self.keep = keep
        self.results: list[Outcome[Any] | None] = []  # by task index, when kept
        self.finished = bytearray()  # by task index: 1 once it has an outcome
        self.workers: list[_Worker] = []
        # Every worker's pipe and process sentinel, registered once (not per wait).
        self.selector = selectors.DefaultSelector()
        # Tasks taken from the caller and not yet sent (or taken back from a dead worker),
        # with their pickled form.
        self.pending: deque[tuple[int, Any, bytes]] = deque()
        self.unfinished = 0  # tasks taken and without an outcome
        self.attempts: dict[int, int] = {}  # sends that failed, by task index
        self.oldest = 0  # no task before this index is unfinished

    def run(self, tasks: Iterator[Any], count: int) -> None:
        for _ in range(count):
            self._start()
        exhausted = False

        def take() -> tuple[int, Any, bytes] | None:
            nonlocal exhausted
            if self.pending:
                return self.pending.popleft()
            if exhausted:
                return None
            index = len(self.finished)
            if self.window is not None and index - self._oldest_unfinished() >= self.window:
                return None
            try:
                task = next(tasks)
            except StopIteration:
                exhausted = True
                return None
            self.finished.append(0)
            if self.keep:
                self.results.append(None)
            self.unfinished += 1
            return index, task, bytes(ForkingPickler.dumps((index, task)))

        while True:
            # Every idle worker gets a task first; then, once all are started and busy, each
            # may get ``prefetch`` more small ones queued behind the running one.
            for depth in range(1 + self.prefetch):
                if depth and not all(w.ready for w in self.workers):
                    break
                for worker in list(self.workers):
                    if not worker.ready or worker.gone or len(worker.queue) != depth:
                        continue
                    item = take()
                    if item is None:
                        break
                    if depth and len(item[2]) > PREFETCH_MAX_BYTES:
                        self.pending.appendleft(item)
                    elif not worker.send(*item):
                        self._undelivered(item)
            if exhausted and not self.pending and not self.unfinished:
                return
            deadline = min((self._deadline(w) for w in self.workers if w.waiting_on), default=0.0)
            events = self.selector.select(max(0.0, deadline - time.monotonic()))
            readable: dict[_Worker, bool] = {}  # worker -> whether its pipe is readable
            for key, _ in events:
                worker = key.data
                readable[worker] = readable.get(worker, False) or key.fileobj is worker.conn
            for worker, pipe in readable.items():
                if worker in self.workers:  # not replaced meanwhile
                    self._collect(worker, pipe)
            now = time.monotonic()
            for worker in list(self.workers):
                if worker.waiting_on and now >= self._deadline(worker):
                    if not worker.ready:
                        raise SandboxError("解析子进程启动超时，请检查系统资源后重试")
                    worker.process.kill()
                    self._finish(worker, "timeout", None, f"over {self.timeout_s:g} s")
                    self._replace(worker)

    def _undelivered(self, item: tuple[int, Any, bytes]) -> None:
        """A task whose worker died before taking it goes to another worker; a task that no
        worker could take three times is recorded as crashed."""
        index = item[0]
        self.attempts[index] = tries = self.attempts.get(index, 0) + 1
        if tries < 3:
            self.pending.appendleft(item)
        else:
            self._record(index, "crashed", None, "worker gone before the task", 0.0)

    def _oldest_unfinished(self) -> int:
        while self.oldest < len(self.finished) and self.finished[self.oldest]:
            self.oldest += 1
        return self.oldest

    def _deadline(self, worker: _Worker) -> float:
        return worker.started + (self.timeout_s if worker.ready else _START_TIMEOUT_S)

    def _collect(self, worker: _Worker, pipe: bool) -> None:
        """Take one message from a worker whose pipe is readable (ready, or a task's reply;
        more are read on the next rounds), or record its death."""
        if pipe:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                pass  # the pipe closed: the worker is gone
            else:
                if message == _READY:
                    worker.ready = True
                else:
                    index, status, result, detail = message
                    if index == worker.index:
                        self._finish(worker, status, result, detail)
                return
        elif worker.conn.poll():  # the process ended: read what it sent before, first
            return
        worker.process.join(timeout=5)
        if not worker.ready:
            raise SandboxError(f"无法启动解析子进程（{worker.death()}），请检查运行环境")
        if worker.index is not None:
            self._finish(worker, "crashed", None, worker.death())
        self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        """A new worker instead of ``worker``; the tasks queued behind the one it was running
        (already recorded) are handed out again."""
        for index, task in reversed(worker.queue):
            self.pending.appendleft((index, task, bytes(ForkingPickler.dumps((index, task)))))
        worker.queue.clear()
        self._retire(worker, kill=True)
        self._start()

    def _start(self) -> None:
        worker = _Worker(self.ctx, self.fn, self.memory_mb, self.quiet)
        self.workers.append(worker)
        self.selector.register(worker.conn, selectors.EVENT_READ, worker)
        self.selector.register(worker.process.sentinel, selectors.EVENT_READ, worker)

    def _retire(self, worker: _Worker, *, kill: bool) -> None:
        self.workers.remove(worker)
        self.selector.unregister(worker.conn)
        self.selector.unregister(worker.process.sentinel)
        worker.stop(kill=kill)

    def _finish(self, worker: _Worker, status: str, result: Any, detail: str | None) -> None:
        index, _ = worker.queue.popleft()
        seconds = time.monotonic() - worker.started
        worker.started = time.monotonic()  # the next queued task begins now
        self._record(index, status, result, detail, seconds)

    def _record(
        self, index: int, status: str, result: Any, detail: str | None, seconds: float
    ) -> None:
        if status == "ok":
            outcome: Outcome[Any] = Outcome(index, True, result, seconds=seconds)
        else:
            outcome = Outcome(
                index,
                False,
                failure=status,  # type: ignore[arg-type]
                message=self._message(status),
                detail=detail,
                seconds=seconds,
            )
        self.finished[index] = 1
        if self.keep:
            self.results[index] = outcome
        self.unfinished -= 1
        if self.on_done is not None:
            self.on_done(index, outcome)

    def _message(self, status: str) -> str:
        if status == "timeout":
            return f"解析超过 {self.timeout_s:g} 秒，已中止（文件可能异常或过大）"
        if status == "memory":
            return f"解析所需内存超过 {self.memory_mb} MB，已中止（文件可能异常或过大）"
        if status == "crashed":
            return "解析时进程异常退出（可能是构造异常的文件）"
        return "处理时发生程序内部错误，请将该文件交技术人员检查"

    def kill_all(self) -> None:
        for worker in self.workers:
            if worker.process.exitcode is None:
                worker.process.kill()

    def close(self) -> None:
        while self.workers:
            self._retire(self.workers[-1], kill=False)
        self.selector.close()

    def outcomes(self) -> list[Outcome[Any]]:
        missing = [i for i, o in enumerate(self.results) if o is None]
        assert not missing, f"tasks without outcome: {missing[:5]}"
        return self.results  # type: ignore[return-value]
