"""``collect``: every file in the inbox → archived original, recorded submission, feedback.

Order per file, so a run killed at any moment loses nothing and the next run completes it: read and
hash → (duplicate? stop) → check in a sandboxed worker → archive the original (written and verified
by hash by the worker; flushed to disk by the parent's :class:`SyncQueue`, off the workers' path) →
write feedback → once the original is on disk, record the submission in one store transaction,
committed together with the files around it (a few dozen at a time, :meth:`Store.commit_group`). The
store records a sha only in that last step, so an interrupted file, or the last few files of an
interrupted run, are simply processed again. With ``--move``, once every file is recorded and the
store is synced to disk, the inbox files whose originals are in the archive are deleted
(:meth:`_Run.clear_inbox`); without it the inbox is never touched.

One set of workers serves the whole run: the parent reads and hashes each file just before a
worker can take it, and records the outcomes strictly in inbox order as they come back, so the
store's work overlaps with the workers' parsing and the result does not depend on timing.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import pickle
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from reporting.errors import ReportingError, UsageError
from reporting.findings import Finding, make
from reporting.forms.layout import INSTRUCTIONS, META
from reporting.fsutil import Synced, SyncQueue, WriteFailed, atomic_write_bytes, atomic_write_text
from reporting.inspection.sheet import FACTS, FORM_KIND_INSPECTION
from reporting.intake.feedback import (
    build_feedback,
    chat_text,
    feedback_filename,
    unidentified_text,
)
from reporting.intake.reader import ReadResult, read_workbook
from reporting.intake.sandbox import Outcome, run_isolated, warm_up
from reporting.intake.seen import SeenFiles
from reporting.intake.sources import (
    CLUTTER_CODES,
    Source,
    SourceReader,
    SourceUnavailable,
    archive_matches,
    count_inbox,
    iter_inbox,
)
from reporting.intake.validate import Extracted, FormCheck, IntakeContext, check_workbook
from reporting.periods import Period
from reporting.plan import snapshot
from reporting.plan.load import require_plan_result
from reporting.plan.model import Plan
from reporting.store import (
    EncodedDetails,
    Store,
    SubmissionInfo,
    SubmissionRecord,
    encode_details,
)
from reporting.text import safe_name
from reporting.workspace import Workspace

Progress = Callable[[int, int], None]
WINDOW = 256  # files handed out ahead of the oldest one still being checked
# Recorded files are committed together every COMMIT_FILES files, or at the next file once the
# oldest uncommitted one is COMMIT_SECONDS old (Store.commit_group): a fifth of the log writes.
COMMIT_FILES = 64
COMMIT_SECONDS = 2.0


def default_workers() -> int:
    """One worker more than the cores. Chosen when workers still fsynced their archive copies
    (a worker waiting for the disk left its core to another; 3 workers were then 6-15% quicker
    than 2 on 2 cores). The parent's SyncQueue does the fsync now, and six alternating pairs of
    9,479 returns put 2 and 3 workers within noise of each other (docs/performance.md, twelfth
    session): the extra worker is kept, as it costs nothing measurable and a worker can still
    block writing its archive copy (unmeasured: no slow disk here)."""
    return (os.cpu_count() or 1) + 1


PREFETCH = 1  # tasks queued behind each worker's current one, so it never waits for us
FEEDBACK_DIR = "feedback"
# Sheets whose formulas are the tool's own: the reader does not look for uncalculated formulas
# or error cells there (validation reports neither on them).
OWN_SHEETS = frozenset({INSTRUCTIONS, META, FACTS})
RECHECKED = "此前因单位不在名单中被退回；该单位现已在名单中，已重新审核"
_CHANGED = "文件在处理过程中被改动或移走（可能还在保存），这次没有处理；稍后重新运行 collect"
UNIDENTIFIED = "未识别"  # the archive folder for what names no unit or period
_EXT = {"xlsx": "xlsx", "xlsm": "xlsm", "xls": "xls", "encrypted": "xlsx", "ole": "xls"}


@dataclass(frozen=True)
class FileReport:
    """What happened to one file of the inbox."""

    path: str
    sha256: str | None
    unit: str | None
    period: str | None
    kind: str
    state: str  # accepted | rejected | duplicate | skipped
    findings: tuple[Finding, ...] = ()
    received_at: datetime | None = None
    late: bool = False
    days_late: int = 0
    feedback: Path | None = None
    note: str = ""  # skip reason, or which submission a duplicate repeats
    processed_before: bool = False  # the very file (same path, same bytes) seen by an earlier run
    moved: bool = False  # removed from the inbox by ``--move`` (its original is in the archive)
    retry: bool = False  # not recorded this time (feedback not writable, file changing)

    @property
    def warned(self) -> bool:
        return self.state == "accepted" and bool(self.findings)

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "unit": self.unit,
            "period": self.period,
            "kind": self.kind,
            "state": self.state,
            "late": self.late,
            "days_late": self.days_late,
            "received_at": self.received_at.isoformat(timespec="seconds")
            if self.received_at
            else None,
            "feedback": str(self.feedback) if self.feedback else None,
            "note": self.note,
            "processed_before": self.processed_before,
            "moved": self.moved,
            "retry": self.retry,
            "findings": [
                {
                    "code": f.code,
                    "severity": str(f.severity),
                    "sheet": f.sheet,
                    "cell": f.cell,
                    "message": f.message,
                }
                for f in self.findings
            ],
        }


@dataclass
class CollectResult:
    run_id: str
    dry_run: bool
    files: list[FileReport] = field(default_factory=list)
    notices: list[Path] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        count = {
            s: sum(1 for f in self.files if f.state == s)
            for s in ("accepted", "rejected", "duplicate", "skipped")
        }
        return {
            "received": len(self.files),
            **count,
            "accepted_with_warnings": sum(1 for f in self.files if f.warned),
            "unidentified": sum(1 for f in self.files if f.state == "rejected" and not f.unit),
            "late": sum(1 for f in self.files if f.state == "accepted" and f.late),
        }

    @property
    def ok(self) -> bool:
        return not any(f.state == "rejected" or f.retry for f in self.files)

    @property
    def moved(self) -> int:
        """Inbox files (a zip counts once per member) that ``--move`` removed."""
        return sum(1 for f in self.files if f.moved)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "files": [f.as_json() for f in self.files],
            "totals": self.totals,
        }


# --------------------------------------------------------------------------- worker side


# Workers are started by a fork server (safe beside the progress bar's thread), so they do not
# inherit our memory: the context is pickled to a file once per run and each worker loads it
# once, on its first task. The file lives in the system's temporary folder and is left behind
# if the run is killed, so it never holds the signing key: each worker reads the key from the
# workspace itself (``workspace``).
@dataclass(frozen=True)
class _WorkerContext:
    intake: IntakeContext  # with ``key=None``
    archive: Path | None  # None in a dry run: nothing is written
    feedback: Path | None  # outbox/feedback; None in a dry run
    received_at: datetime
    workspace: Path | None = None  # whose .form-key signs and verifies metadata


_CONTEXTS: dict[str, _WorkerContext] = {}


def _context(path: str) -> _WorkerContext:
    ctx = _CONTEXTS.get(path)
    if ctx is None:
        with open(path, "rb") as fh:
            ctx = pickle.load(fh)
        if ctx.workspace is not None:
            key = Workspace(ctx.workspace).form_key()
            ctx = replace(ctx, intake=replace(ctx.intake, key=key))
        _CONTEXTS.clear()
        _CONTEXTS[path] = ctx
    return ctx


@dataclass(frozen=True)
class _Checked:
    """A worker's result. Paths travel as text: unpickling a Path costs the parent more than
    the rest of the result."""

    read: ReadResult
    check: FormCheck | None
    archived: str | None = None
    feedback: str | None = None
    retry: str | None = None  # why the file is not recorded this time: run collect again
    details: EncodedDetails | None = None  # check.extracted as stored (then emptied)


# What a worker gets for one candidate: its place as plain values (display, path, real path,
# zip member and index, scanned kind), its hash and the context file. A whole Source (Paths, a
# datetime) cost the parent three times as much to pickle.
_Task = tuple[str, str, str | None, str | None, int | None, str, str, str]


def _task(source: Source, sha: str, context_path: str) -> _Task:
    real = source.real_path
    return (
        source.display,
        os.fspath(source.path),
        None if real is None else os.fspath(real),
        source.member,
        source.member_index,
        source.kind,
        sha,
        context_path,
    )


def _check_task(task: _Task) -> _Checked:
    """In a worker: read the file again (the parent sends its place, not its bytes), check it
    and archive the original. Only a small result goes back."""
    display, path, real, member, member_index, scanned, sha, context_path = task
    source = Source(
        display,
        Path(path),
        0,  # size, status and date are not needed to read it
        "candidate",
        scanned,  # type: ignore[arg-type]
        member,
        member_index,
        None if real is None else Path(real),
    )
    ctx = _context(context_path)
    # A file that went away or changed since the parent read it (still being saved by the mail
    # client, say) is not recorded: its next run sees it as it is then.
    try:
        data = source.read_bytes()
    except SourceUnavailable as exc:
        return _Checked(ReadResult(""), None, retry=f"{exc}，这次没有处理；稍后重新运行 collect")
    if hashlib.sha256(data).hexdigest() != sha:
        return _Checked(ReadResult(""), None, retry=_CHANGED)
    read = read_workbook(data, source.display, own_sheets=OWN_SHEETS)
    check = None
    if read.ok and read.book is not None:
        check = check_workbook(read.book, ctx.intake)
        read = ReadResult(read.kind)
        later = _other_period(check, ctx.intake)
        if later is not None:
            return _Checked(read, None, retry=later)
    archived = None
    if ctx.archive is not None:
        unit = check.unit_code if check else None
        period = check.period if check else None
        kind = _exact_kind(source.kind, read.kind)
        # If this fails, the parent archives the file before recording it, and stops the run
        # when it cannot either: a disk that fails here must not turn the verdict into an error.
        # Not fsynced here: the parent's SyncQueue does it before recording (see process).
        with contextlib.suppress(ReportingError):
            path = archive_original(ctx.archive, data, sha, kind, unit, period, durable=False)
            archived = str(path)
    feedback = None
    if ctx.feedback is not None and check is not None:
        try:
            written = write_feedback(
                ctx.feedback, check, ctx.intake, source.display, ctx.received_at
            )
        except FeedbackNotWritten as exc:
            return _Checked(ReadResult(read.kind), None, archived, retry=str(exc))
        feedback = None if written is None else str(written)
    details = None
    if check is not None and check.unit_code:  # what record() stores: encoded here
        extracted = check.extracted
        try:
            details = encode_details(extracted.values, extracted.activities, extracted.ledger_rows)
        except (TypeError, ValueError, OverflowError):
            pass  # the parent meets it again and stops, as it always did
        else:
            check = replace(check, extracted=Extracted(), inputs={})
    if check is not None and check.inputs:  # only the feedback needed them
        check = replace(check, inputs={})
    return _Checked(read, check, archived, feedback, details=details)


def _other_period(check: FormCheck, ctx: IntakeContext) -> str | None:
    """With ``--period``, a sound form of another period of the campaign (a June form sent
    early while May is collected) is left for the run that collects its period: why, or None.
    Recorded, it would be rejected as a duplicate for ever after. A form whose period is not in
    the campaign, or with anything else wrong first, is checked and recorded as usual."""
    if ctx.period is None or check.unit_code is None:
        return None
    if {f.code for f in check.findings if f.is_error} != {"wrong-period"}:
        return None
    period = Period.canonical(check.period)
    if period is None or period == str(ctx.period):
        return None
    form_period = Period.parse(period)
    if form_period not in ctx.current.periods():
        return None
    return (
        f"这是 {form_period.label} 的表单，本次只回收 {ctx.period.label}（--period），没有处理；"
        f"文件留在收件箱里，回收 {form_period.label} 时再处理"
    )


def _exact_kind(scanned: str, read: str) -> str:
    """The file's format for the store and the archive: the inbox scan's, except that the scan
    tells ``.xlsx`` from ``.xlsm`` by member names only and the reader decides exactly."""
    if scanned in ("xlsx", "xlsm") and read in ("xlsx", "xlsm"):
        return read
    return scanned or "unknown"


def _name(text: str) -> str:
    """``Path(text).name``, without building a Path for the usual text: a relative path with
    ``/`` separators whose last part is a name (anything else goes through Path)."""
    name = text.rpartition("/")[2]
    if name in ("", ".", "..") or "\\" in text or ":" in text:
        return Path(text).name
    return name


def _relative(path: str, root: Path) -> str:
    """``str(Path(path).relative_to(root))``, without building Paths when ``path`` is text that
    starts with ``root`` and a separator (as the archive paths the run makes do)."""
    prefix = os.path.join(root, "")
    if path.startswith(prefix) and len(path) > len(prefix):
        return path[len(prefix) :]
    return str(Path(path).relative_to(root))


def write_feedback(
    folder: Path, check: FormCheck, ctx: IntakeContext, source: str, received: datetime
) -> Path | None:
    """The unit's 退回修改 / 审核提示 workbook, in outbox/feedback/<period>/."""
    period = Period.canonical(check.period)
    if check.unit_code is None or period is None:
        return None
    if check.kind == FORM_KIND_INSPECTION:  # an inspector sheet: its own feedback copy
        from reporting.inspection.feedback import build_inspection_feedback

        fb = build_inspection_feedback(check, ctx.current, ctx.key or b"", source, received)
    else:
        form_plan = ctx.plans.get(check.plan_version or "")
        fb = build_feedback(
            check, ctx.current, form_plan, ctx.key or b"", source, received, check.accepted
        )
    if fb is None:
        return None
    path = folder / period / fb.filename
    try:
        atomic_write_bytes(path, fb.data, durable=False)
    except WriteFailed as exc:
        raise FeedbackNotWritten(path, exc.reason) from exc
    return path


class FeedbackNotWritten(ReportingError):
    """The feedback workbook could not be written, most often because the clerk has last
    run's copy open in Excel or WPS (Windows refuses to replace an open file). The return is
    then not recorded, so that the next run checks it again and writes its feedback: recorded,
    it would be a duplicate for ever after and its unit would never get the workbook."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"退回修改表“{path.name}”无法写入（{reason}），"
            "可能正被 Excel 或 WPS 打开。这个文件这次没有入库：关闭该表后重新运行 collect 即可"
        )


def archive_path(archive: Path, sha: str, kind: str, unit: str | None, period: str | None) -> Path:
    """archive/<period>/<unit>_<sha>.<ext> (<sha>.<ext> without a unit): one folder per period,
    the unit's files side by side. A folder per unit cost a directory for every file, which at
    provincial scale was a twentieth of collect's CPU (ext4 inode allocation) and is no easier
    to browse. The unit and period are what the returned file claims, so they may be anything:
    only a real period names a folder (else 未识别), and the unit code is made a safe part of
    a file name (no separators, no leading dots, at most 64 characters)."""
    folder = Period.canonical(period) or UNIDENTIFIED
    ext = _EXT.get(kind, "bin")
    name = f"{safe_name(unit)[:64]}_{sha}.{ext}" if unit else f"{sha}.{ext}"
    return archive / folder / name


def archive_original(
    archive: Path,
    data: bytes,
    sha: str,
    kind: str,
    unit: str | None,
    period: str | None,
    *,
    durable: bool = True,
) -> Path:
    """Keep the original at :func:`archive_path`, verified by hash, and with ``durable``
    fsynced (without, the caller makes it durable before relying on it: a :class:`SyncQueue`).

    Written to a temporary file in the same folder, read back through the same descriptor and
    checked against ``sha``, then renamed into place: the name never shows anything but the
    verified bytes. An existing file is kept only if its bytes match.
    """
    path = archive_path(archive, sha, kind, unit, period)
    if _same_bytes(path, sha):
        return path
    try:
        _write_verified(path, data, sha, durable)
    except OSError as exc:  # a full disk, a folder without write permission
        raise ArchiveFailed(path, exc) from exc
    return path


class ArchiveFailed(ReportingError):
    """An original could not be written to the archive, or not flushed to disk there."""

    def __init__(self, path: Path | str, exc: OSError) -> None:
        super().__init__(
            f"无法把原件写入存档 {path}（{exc.strerror or exc}），磁盘可能已满或没有写入权限；"
            "已停止，收件箱未改动"
        )


# Archive folders this process has made or found: a worker archives thousands of originals into
# the same few folders, and a mkdir for each one is wasted (one that has gone since is made again).
_FOLDERS: set[Path] = set()
_TMP_FLAGS = (  # as mkstemp's: binary on Windows, never through a symlink
    os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)


def _temporary(path: Path) -> tuple[int, str]:
    """A new file beside ``path`` for its bytes, only this process's: ``.<name>.<pid>.tmp``
    (mkstemp's random names cost more than the write), or mkstemp's when that name is taken
    (left by an earlier run killed halfway)."""
    folder = path.parent
    if folder not in _FOLDERS:
        folder.mkdir(parents=True, exist_ok=True)
        _FOLDERS.add(folder)
    tmp = os.path.join(folder, f".{path.name}.{os.getpid()}.tmp")
    try:
        return os.open(tmp, _TMP_FLAGS, 0o600), tmp
    except FileNotFoundError:  # the folder went away since
        _FOLDERS.discard(folder)
        folder.mkdir(parents=True, exist_ok=True)
        _FOLDERS.add(folder)
    except FileExistsError:
        pass
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)


def _write_verified(path: Path, data: bytes, sha: str, durable: bool) -> None:
    fd, tmp = _temporary(path)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)
            back = os.read(fd, len(data) + 1)
        finally:
            os.close(fd)
        if hashlib.sha256(back).hexdigest() != sha:
            raise ReportingError(f"存档 {path} 校验失败，磁盘可能有问题；已停止，收件箱未改动")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- parent side


def collect(
    root: Path,
    *,
    period: str | None = None,
    dry_run: bool = False,
    received_at: datetime | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    now: Callable[[], datetime] = datetime.now,
    move: bool = False,
) -> CollectResult:
    """Process every file in ``root``'s inbox (see the module docstring). With ``move``, the
    inbox files whose originals are now in the archive are removed from the inbox at the end
    (see :meth:`_Run.clear_inbox`)."""
    if move and dry_run:
        raise UsageError("--move 不能与 --dry-run 同用：试运行不改动任何文件")
    ws = Workspace(root)
    ws.require()
    collecting = Period.parse(period) if period else None
    if _has_entries(ws.inbox):
        # The workers' server imports their modules (~0.4 s) while this process loads the
        # plan and the store and scans the inbox: the workers start at once.
        warm_up(_check_task)
    plan_result = require_plan_result(ws.plan_path, keep=not dry_run)
    plan = plan_result.plan
    result = CollectResult(uuid.uuid4().hex[:12], dry_run)
    with Store.open(ws.store_path) as store, store.lock("collect"):
        store.bulk_writes()
        if not dry_run:
            store.record_plan(plan, lambda: snapshot.dump(plan_result))
        plans = _known_plans(store, plan)
        key = ws.form_key()
        with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
            context_path = str(Path(tmp) / "context.pickle")
            with open(context_path, "wb") as fh:
                intake = IntakeContext(plan, plans, None, collecting)
                started = received_at or now()
                pickle.dump(
                    _WorkerContext(
                        intake,
                        None if dry_run else ws.archive,
                        None if dry_run else ws.outbox / FEEDBACK_DIR,
                        started,
                        ws.root,
                    ),
                    fh,
                )
            known = SeenFiles.of(ws.root)
            run = _Run(ws, store, intake, key, result, started, dry_run, context_path, known, move)
            total = count_inbox(ws.inbox) if progress else 0
            if progress:
                progress(0, total)
            with SourceReader() as reader:
                # The scan is lazy: workers start on the first files while it goes on. It
                # hands the reader the small files it read whole, so they are read once.
                sources = iter_inbox(ws.inbox, ws.root, known, reader)
                run.process(reader, sources, workers, progress, total)
        if not dry_run:
            result.notices = run.write_notices()
            _name_duplicates(store, result)
            if move:
                run.clear_inbox()
            known.save()
    return result


def _same_bytes(path: Path, sha: str) -> bool:
    """Whether the regular file ``path`` holds exactly the bytes hashed ``sha``."""
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest() == sha
    except OSError:
        return False


def _remove_empty_folders(inbox: Path, folders: set[Path]) -> None:
    """Remove the folders ``--move`` emptied, up to (not including) the inbox itself."""
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        while folder != inbox and folder.is_relative_to(inbox):
            try:
                folder.rmdir()  # only an empty folder
            except OSError:
                break
            folder = folder.parent


def _has_entries(folder: Path) -> bool:
    try:
        with os.scandir(folder) as it:
            return next(it, None) is not None
    except OSError:
        return False


def _name_duplicates(store: Store, result: CollectResult) -> None:
    """A copy met before its original was recorded (same run) gets the original's unit."""
    for i, f in enumerate(result.files):
        if f.state == "duplicate" and f.unit is None and f.sha256:
            prior = store.submission_by_sha(f.sha256)
            if prior is not None:
                result.files[i] = FileReport(
                    **{
                        **f.__dict__,
                        "unit": prior.unit_code,
                        "period": prior.period,
                        "kind": prior.kind,
                    }
                )


def _known_plans(store: Store, current: Plan) -> dict[str, Plan]:
    plans = {current.version: current}
    for version in store.plan_versions():
        if version in plans:
            continue
        text = store.plan_snapshot(version)
        if text is None:
            continue
        try:
            parsed = snapshot.load(text)
        except ReportingError:
            continue
        if parsed.valid and parsed.plan.version == version:
            plans[version] = parsed.plan
    return plans


@dataclass
class _Entry:
    """One candidate on its way to the store: skipped (``unavailable``), a duplicate, or checked
    by a worker (``outcome``)."""

    source: Source
    sha: str | None = None
    size: int = 0  # bytes; the bytes themselves are not kept (see record)
    unavailable: str | None = None
    duplicate_of: str | None = None
    outcome: Outcome[_Checked] | None = None
    synced: Synced | None = None  # the worker's archived original, on its way to disk
    replaces: int | None = None  # the stored rejection of these bytes it is checked again for

    @property
    def resolved(self) -> bool:
        return (
            self.unavailable is not None
            or self.duplicate_of is not None
            or self.outcome is not None
        )


class _Run:
    def __init__(
        self,
        ws: Workspace,
        store: Store,
        intake: IntakeContext,  # the workers' (their key aside): the plans forms are read by
        key: bytes,
        result: CollectResult,
        received_at: datetime,
        dry_run: bool,
        context_path: str,
        known: SeenFiles | None = None,
        move: bool = False,
    ) -> None:
        self.ws, self.store, self.intake, self.key = ws, store, intake, key
        self.plan = intake.current
        self.context_path = context_path
        self.known = known or SeenFiles(None)
        self.priors: dict[str, SubmissionInfo] = {}  # recorded before this run, by sha
        self.result, self.received_at, self.dry_run = result, received_at, dry_run
        self.seen: dict[str, str] = {}  # sha → display, within this run
        self.rechecks: dict[int, bool] = {}  # stored submission id → whether to check it again
        self.periods: set[str] = set()
        # --move: what may leave the inbox once the store is on disk
        self.move = move
        self.clearing = move and not dry_run  # whether _clearable is needed at all
        self.canonical: dict[str | None, tuple[str | None, Period | None]] = {}
        self.clearable: list[tuple[int, Path, str, Path]] = []  # (report, file, sha, archived)
        self.zips: dict[Path, dict[int, tuple[int, str, Path]]] = {}  # member → same, per zip
        self.kept_zips: set[Path] = set()  # a member was not archived: the zip stays

    # ---- outcomes that need no parsing
    def skip(self, source: Source, reason: str, *, retry: bool = False) -> None:
        self.result.files.append(
            FileReport(source.display, None, None, None, "", "skipped", note=reason, retry=retry)
        )
        if source.member is not None and source.skip_code not in CLUTTER_CODES:
            self.kept_zips.add(source.path)
        if not self.dry_run:
            self.store.audit("skipped", self.result.run_id, path=source.display, detail=reason)

    def duplicate(self, source: Source, sha: str, of: str) -> None:
        prior = self.priors.get(sha) or self.store.submission_by_sha(sha)
        again = of == source.display or self.store.was_audited("duplicate", sha, source.display)
        note = "此前已处理过这个文件" if again else f"与已收到的 {of} 内容完全相同，不重复计入"
        if prior is not None and prior.period:
            # Rebuild that period's notices too: a run killed before writing them recorded the
            # file, so no later run would otherwise write them.
            self.periods.add(prior.period)
        self.result.files.append(
            FileReport(
                source.display,
                sha,
                prior.unit_code if prior else None,
                prior.period if prior else None,
                prior.kind if prior else "",
                "duplicate",
                note=note,
                processed_before=again,
            )
        )
        if prior is not None and prior.archive_path:
            self._clearable(source, sha, os.path.join(self.ws.root, prior.archive_path))
        elif source.member is not None:
            self.kept_zips.add(source.path)
        if not self.dry_run and not again:
            self.store.audit(
                "duplicate",
                self.result.run_id,
                sha256=sha,
                path=source.display,
                detail=f"same bytes as {of}",
            )

    # ---- the candidates, through the workers, recorded in inbox order
    def process(
        self,
        reader: SourceReader,
        sources: Iterable[Source],
        workers: int | None,
        progress: Progress | None,
        total: int = 0,
    ) -> None:
        """Every source in inbox order: skipped ones recorded as such, candidates checked by the
        workers. ``total`` is the progress bar's estimate until the scan has ended."""
        waiting: deque[_Entry] = deque()  # not yet recorded, in inbox order
        checking: dict[int, _Entry] = {}  # by task index, until its outcome is back
        tasks_made = itertools.count()
        counter = [0]
        sizes = [total, 0]  # the bar's total, the sources scanned so far
        self.priors = priors = self.store.submissions_by_sha()  # before this run

        def flush() -> None:
            # Record in inbox order as soon as the next file is resolved and its original is on
            # disk, so the store work overlaps with the workers' parsing and the order stays
            # deterministic.
            while waiting and waiting[0].resolved:
                synced = waiting[0].synced
                if synced is not None:
                    if not synced.done:
                        return  # the next tick, or the end of the run, comes back to it
                    if synced.error is not None:
                        raise ArchiveFailed(synced.path, synced.error)
                entry = waiting.popleft()
                if entry.unavailable is not None:
                    self.skip(entry.source, entry.unavailable)
                elif entry.duplicate_of is not None:
                    assert entry.sha is not None
                    self.duplicate(entry.source, entry.sha, entry.duplicate_of)
                else:
                    assert entry.sha is not None and entry.outcome is not None
                    checked = entry.outcome.result if entry.outcome.ok else None
                    if checked is not None and checked.retry:
                        self.skip(entry.source, checked.retry, retry=True)
                    else:
                        self.record(
                            entry.source, entry.sha, entry.size, entry.outcome, entry.replaces
                        )
                commits.completed()
                counter[0] += 1
                if progress:
                    progress(counter[0], sizes[0])

        def tasks() -> Iterator[_Task]:
            for source in sources:
                entry = _Entry(source)
                waiting.append(entry)
                sizes[1] += 1
                sizes[0] = max(sizes[0], sizes[1])  # an archive's members count one by one
                if not source.is_candidate:
                    entry.unavailable = source.skip_reason or "已跳过"
                    continue
                # A file an earlier run hashed and that is unchanged since (see seen.py) is not
                # read again when those bytes are a duplicate anyway.
                sha = source.known_sha256
                if sha is None or (sha not in self.seen and not self._settled(sha)):
                    try:
                        data = reader.read(source)
                    except SourceUnavailable as exc:
                        entry.unavailable = str(exc)
                        continue
                    sha = hashlib.sha256(data).hexdigest()
                    self.known.hashed(source.display, sha)
                entry.sha = sha
                if sha in self.seen:
                    entry.duplicate_of = self.seen[sha]
                    continue
                prior = priors.get(sha)
                if prior is not None:
                    if not self._recheck(prior):
                        entry.duplicate_of = prior.original_path or prior.original_name
                        continue
                    entry.replaces = prior.id
                self.seen[sha] = source.display
                entry.size = len(data)
                checking[next(tasks_made)] = entry
                yield _task(source, sha, self.context_path)
            sizes[0] = sizes[1]  # the scan is over: the total is exact

        def tick(index: int, outcome: Outcome[_Checked]) -> None:
            entry = checking.pop(index)
            entry.outcome = outcome
            archived = outcome.result.archived if outcome.ok else None
            if archived is not None and syncing is not None:
                entry.synced = syncing.add(archived)
            flush()

        # The workers archive without an fsync; this flushes their originals in batches.
        syncing = None if self.dry_run else SyncQueue()
        # Files are committed a few dozen at a time: a run stopped between two commits leaves
        # the last files unrecorded, and the next run processes them again.
        with self.store.commit_group(COMMIT_FILES, COMMIT_SECONDS) as commits:
            try:
                run_isolated(
                    _check_task,
                    tasks(),
                    workers=workers or default_workers(),
                    on_done=tick,
                    prefetch=PREFETCH,
                    window=WINDOW,
                    keep=False,  # recorded as they come back: memory stays within the window
                )
            finally:
                if syncing is not None:
                    syncing.close()
            flush()
        assert not waiting

    def _settled(self, sha: str) -> bool:
        """Whether these bytes were recorded before and stay as they were recorded."""
        prior = self.priors.get(sha)
        return prior is not None and not self._recheck(prior)

    def _recheck(self, prior: SubmissionInfo) -> bool:
        """A return rejected only because its unit was not on the roster is checked again once
        the plan lists the unit (the clerk added it back): the same bytes would otherwise stay
        "already processed" for ever and the unit be chased for a return it sent."""
        code = prior.unit_code
        if prior.state != "rejected" or not code or self.plan.unit(code) is None:
            return False
        known = self.rechecks.get(prior.id)
        if known is None:
            codes = {f.code for f in self.store.findings_for(prior.id)}
            # The plan validation will read it against must list the unit too, or the check
            # would only reject it again.
            made_from = self.intake.plan_for(
                prior.plan_version, by_instructions="metadata-missing" in codes
            )
            listed = made_from is not None and made_from.unit(code) is not None
            known = self.rechecks[prior.id] = "unknown-unit" in codes and listed
        return known

    def record(
        self,
        source: Source,
        sha: str,
        size: int,
        outcome: Outcome[_Checked],
        replaces: int | None = None,
    ) -> None:
        received = self.received_at
        check: FormCheck | None = None
        kind = source.kind or "unknown"
        checked = outcome.result if outcome.ok else None
        if checked is not None:
            kind = _exact_kind(kind, checked.read.kind)
        if checked is None:
            findings: tuple[Finding, ...] = (
                make("unreadable", f"{outcome.message or '解析失败'}。请重新保存为 .xlsx 后再发送"),
            )
        elif checked.check is None:
            read = checked.read
            code = read.code or "unreadable"
            findings = (make(code, read.message or "文件无法读取"),)
        else:
            check = checked.check
            findings = check.findings
        unit = check.unit_code if check else None
        period, parsed = self._period(check.period) if check else (None, None)
        form_kind = check.kind if check else "unknown"
        accepted = check is not None and check.accepted
        late, days_late = False, 0
        if parsed and unit and form_kind != FORM_KIND_INSPECTION:  # deadlines bind units only
            deadline = self.plan.deadline(parsed)
            days_late = max(0, (received.date() - deadline).days)
            late = days_late > 0
        state = "accepted" if accepted else "rejected"
        # the FileReport's fields up to ``feedback``
        report = (
            source.display,
            sha,
            unit,
            period,
            form_kind,
            state,
            findings,
            received,
            late,
            days_late,
        )
        note = "" if replaces is None else RECHECKED
        if self.dry_run:
            self.result.files.append(FileReport(*report, note=note))
            return
        archived = checked.archived if checked else None
        if archived is None:  # the worker died or could not archive: the parent does it here
            data = self._read_again(source, sha)
            if data is None:
                self.skip(source, _CHANGED, retry=True)
                return
            archived = str(archive_original(self.ws.archive, data, sha, kind, unit, period))
        feedback = checked.feedback if checked else None
        rec = SubmissionRecord(
            sha256=sha,
            original_name=_name(source.member or source.display),
            original_path=source.display,
            archive_path=_relative(archived, self.ws.root),
            size=size,
            format=kind,
            kind=form_kind,
            unit_code=unit,
            period=period,
            plan_version=check.plan_version if check else None,
            received_at=received,
            state=state,
            late=late,
            days_late=days_late,
            findings=findings,
            values=check.extracted.values if check and unit else (),
            activities=check.extracted.activities if check and unit else (),
            ledger_rows=check.extracted.ledger_rows if check and unit else (),
            inspection=check.inspection.record if check and check.inspection else None,
            details=checked.details if checked and check and unit else None,
        )
        self.store.record_submission(rec, self.result.run_id, replacing=replaces)
        if period:
            self.periods.add(period)
        self.result.files.append(
            FileReport(*report, None if feedback is None else Path(feedback), note=note)
        )
        self._clearable(source, sha, archived)

    def _period(self, text: str | None) -> tuple[str | None, Period | None]:
        """A period as a return states it: canonical text and parsed, or (None, None). Memoised:
        a run's returns state a handful of periods."""
        found = self.canonical.get(text)
        if found is None:
            canonical = Period.canonical(text)
            found = (canonical, None if canonical is None else Period.parse(canonical))
            self.canonical[text] = found
        return found

    @staticmethod
    def _read_again(source: Source, sha: str) -> bytes | None:
        """The file's bytes as the run first read them, or None when it changed or went away.
        Read again rather than kept: a window of read-ahead returns with photos in them could
        otherwise hold gigabytes in this process."""
        try:
            data = source.read_bytes()
        except SourceUnavailable:
            return None
        return data if hashlib.sha256(data).hexdigest() == sha else None

    # ---- --move: clear the inbox of what the archive now holds
    def _clearable(self, source: Source, sha: str, archived: str) -> None:
        """Note a file (or zip member) whose original is recorded and archived (``--move``).
        Without ``--move`` nothing is noted, and no Path is made for the file."""
        if not self.clearing:
            return
        index = len(self.result.files) - 1
        if source.member is not None and source.member_index is not None:
            members = self.zips.setdefault(source.path, {})
            members[source.member_index] = (index, sha, Path(archived))
        elif source.real_path is None:  # a symlink in the inbox is left alone
            self.clearable.append((index, source.path, sha, Path(archived)))

    def clear_inbox(self) -> list[Path]:
        """``--move``: remove from the inbox every file whose original this run recorded (or had
        recorded before) and whose archive copy still holds the same bytes; a zip only when every
        member was archived or is clutter (a lock file, macOS resources). Skipped files and files
        changed since they were read stay. First the store is synced to disk, so a power cut can
        never leave a file gone from the inbox and missing from the store. Returns the removed
        inbox paths; their reports are marked ``moved``."""
        targets = list(self.clearable)
        for zip_path, members in self.zips.items():
            if zip_path in self.kept_zips:
                continue
            expected = {i: sha for i, (_, sha, _) in members.items()}
            if all(_same_bytes(a, sha) for _, sha, a in members.values()) and archive_matches(
                zip_path, expected
            ):
                targets.extend((i, zip_path, sha, a) for i, sha, a in members.values())
        if not targets:
            return []
        run = self.result.run_id
        self.store.audit_durably("move", run, detail=f"移出收件箱：{len(targets)} 个文件")
        removed: dict[Path, None] = {}  # in order; a zip goes at its first member
        with self.store.transaction():  # the removals' audit entries: one commit, not one each
            for index, path, sha, archived in targets:
                if path not in removed:
                    if path not in self.zips and not (
                        _same_bytes(archived, sha) and _same_bytes(path, sha)
                    ):
                        continue  # changed since it was read, or the archive copy is not right
                    try:
                        path.unlink()
                    except FileNotFoundError:
                        pass
                    except OSError:
                        continue
                    removed[path] = None
                    self.store.audit(
                        "moved",
                        run,
                        sha256=None if path in self.zips else sha,
                        path=path.relative_to(self.ws.inbox).as_posix(),
                        detail=f"原件在 {archived.relative_to(self.ws.root)}",
                    )
                self.result.files[index] = replace(self.result.files[index], moved=True)
        _remove_empty_folders(self.ws.inbox, {p.parent for p in removed})
        return list(removed)

    def write_notices(self) -> list[Path]:
        """Per period touched: the texts to paste into chat for every unit whose current return
        needs attention, rebuilt from the store (so re-runs give the same file)."""
        written: list[Path] = []
        for period in sorted(self.periods):
            lines = _notice_lines(self.store, self.plan, Period.parse(period))
            path = self.ws.outbox / FEEDBACK_DIR / period / f"退回通知_{period}.txt"
            atomic_write_text(
                path, "\n\n".join(lines) + "\n" if lines else "本期暂无需要退回或提示的报送。\n"
            )
            written.append(path)
        return written


def _notice_lines(store: Store, plan: Plan, period: Period) -> list[str]:
    """One paragraph per unit whose latest return for ``period`` has findings, in roster order;
    a rejected return is not chased when the unit also has an accepted one."""
    latest: dict[str, tuple[Any, ...]] = {}  # unit -> (id, code, state, received, name)
    accepted_units: set[str] = set()
    for head in store.return_heads(period, "unit"):
        _, code, state, _, _ = head
        if state == "superseded":
            continue
        if state == "accepted":
            accepted_units.add(code)
        prev = latest.get(code)
        if prev is None or _received(head) > _received(prev):
            latest[code] = head
    findings = store.findings_for_many(head[0] for head in latest.values())
    lines: list[str] = []
    for unit in plan.units:
        head = latest.get(unit.code)
        if head is None:
            continue
        sub_id, _, state, _, name = head
        if not findings[sub_id] or (state == "rejected" and unit.code in accepted_units):
            continue
        ok = state == "accepted"
        lines.append(
            chat_text(
                unit.name,
                period,
                name,
                tuple(findings[sub_id]),
                ok,
                feedback_filename(unit.code, unit.name, ok),
            )
        )
    return lines


def _received(head: tuple[Any, ...]) -> tuple[datetime, int]:
    """A return's order among a unit's returns: when it was received, then its id."""
    return datetime.fromisoformat(head[3]), head[0]


def report_lines(files: Iterable[FileReport]) -> list[str]:
    """Texts for unidentified files, for the clerk."""
    return [
        unidentified_text(f.path, f.findings) for f in files if f.state == "rejected" and not f.unit
    ]
