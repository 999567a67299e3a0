"""The store: every SQL statement of the project, behind one :class:`Store`.

The store is a SQLite file in the workspace (``store.sqlite``). It keeps plan versions, the
units of each plan version, every submission that ever arrived (accepted, rejected or
superseded) with its findings, values, activity rows and ledger rows, and an audit log saying
what happened to every file. Other stages never see SQL or ``sqlite3`` objects: they pass the
frozen input dataclasses below and get frozen dataclasses, plain dicts and lists back.

Usage::

    with Store.open(ws.store_path) as store, store.lock("collect"):
        info = store.record_submission(record, run_id)

Durability: the connection runs in autocommit mode (``isolation_level=None``) and every write
goes through :meth:`Store.transaction` (``BEGIN IMMEDIATE`` … ``COMMIT``), with
``journal_mode=WAL`` and ``synchronous=NORMAL``: a crash never leaves half a submission behind.
Transactions nest: an inner ``transaction()`` is a SAVEPOINT of the outer one. A run that
writes thousands of small transactions may join them into a few (:meth:`Store.commit_group`).

Migrations
----------
The schema is the list :data:`MIGRATIONS` of :class:`Migration` ``(version, description, sql)``.
:meth:`Store.open` applies, in order, each migration whose version is not yet in
``schema_migrations``; each one runs in its own transaction together with its
``schema_migrations`` row, so it is applied completely or not at all, exactly once. To change
the schema, **append** a migration with the next version number, for example::

    Migration(2, "inspection scores", '''
        CREATE TABLE inspection_scores (
            submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
            item_code TEXT NOT NULL,
            points REAL,
            reason TEXT,
            PRIMARY KEY (submission_id, item_code)
        );
    '''),

Never edit or reorder a migration that has shipped: existing stores have already applied it.
Versions must be 1, 2, 3, … without gaps. ``sql`` may hold several statements separated by
``;`` (they are split with :func:`sqlite3.complete_statement`, so triggers are fine). A store
whose recorded version is higher than the last known migration was written by a newer
program and is refused with :class:`StoreError`.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from reporting.errors import ReportingError
from reporting.findings import Finding, Severity
from reporting.periods import Period
from reporting.plan.model import Plan, Unit

if sys.platform == "win32":  # pragma: no cover - the bureau's office PCs; CI runs on Linux
    import msvcrt
else:
    import fcntl

BUSY_TIMEOUT_MS = 5000
BULK_CHECKPOINT_PAGES = 10_000  # see Store.bulk_writes
# SQLite builds before 3.32 allow 999 host parameters per statement; stay well below.
_CHUNK = 500

Value = float | int | str | date | bool | None
"""An indicator value as intake reads it. Ints come back from the store as floats."""


class StoreError(ReportingError):
    """The store cannot be used: not a SQLite file, written by a newer program, or busy."""


class StoreLocked(StoreError):
    """Another process holds the run lock (another ``collect`` is running)."""


# ---------------------------------------------------------------------------------------------
# Migrations


@dataclass(frozen=True)
class Migration:
    """One schema step. Append new ones to :data:`MIGRATIONS`; never edit shipped ones."""

    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "plan versions, units, submissions, findings, values, activities, ledgers, audit log",
        """
        CREATE TABLE plan_versions (
            version    TEXT PRIMARY KEY,
            plan_id    TEXT NOT NULL,
            name       TEXT NOT NULL,
            snapshot   TEXT NOT NULL,
            first_seen TEXT NOT NULL
        );

        CREATE TABLE units (
            plan_version TEXT NOT NULL REFERENCES plan_versions(version),
            code         TEXT NOT NULL,
            name         TEXT NOT NULL,
            category     TEXT,
            region       TEXT,
            headcount    INTEGER,
            contact      TEXT,
            phone        TEXT,
            PRIMARY KEY (plan_version, code)
        );

        CREATE TABLE submissions (
            id            INTEGER PRIMARY KEY,
            sha256        TEXT NOT NULL UNIQUE,
            original_name TEXT NOT NULL,
            original_path TEXT,
            archive_path  TEXT,
            size          INTEGER NOT NULL,
            format        TEXT NOT NULL,
            kind          TEXT NOT NULL,
            unit_code     TEXT,
            period        TEXT,
            plan_version  TEXT,
            received_at   TEXT NOT NULL,
            state         TEXT NOT NULL
                          CHECK (state IN ('accepted', 'rejected', 'superseded')),
            late          INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1)),
            days_late     INTEGER NOT NULL DEFAULT 0,
            superseded_by INTEGER REFERENCES submissions(id),
            recorded_at   TEXT NOT NULL,
            CHECK ((state = 'superseded') = (superseded_by IS NOT NULL))
        );
        CREATE INDEX submissions_slot ON submissions (unit_code, period, kind, state);
        CREATE INDEX submissions_period ON submissions (period, kind, state);

        CREATE TABLE findings (
            submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
            seq           INTEGER NOT NULL,
            code          TEXT NOT NULL,
            severity      TEXT NOT NULL,
            sheet         TEXT,
            row_no        INTEGER,
            column_name   TEXT,
            cell          TEXT,
            label         TEXT,
            message       TEXT NOT NULL,
            PRIMARY KEY (submission_id, seq)
        );

        CREATE TABLE submission_values (
            submission_id  INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
            indicator_code TEXT NOT NULL,
            kind           TEXT NOT NULL CHECK (kind IN ('num', 'text', 'date', 'bool', 'none')),
            num            REAL,
            text           TEXT,
            PRIMARY KEY (submission_id, indicator_code)
        );

        CREATE TABLE activity_records (
            submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
            activity_code TEXT NOT NULL,
            status        TEXT,
            count         INTEGER,
            done_date     TEXT,
            participants  INTEGER,
            form          TEXT,
            evidence      TEXT,
            note          TEXT
        );
        CREATE INDEX activity_records_submission ON activity_records (submission_id);

        CREATE TABLE ledger_rows (
            submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
            ledger        TEXT NOT NULL,
            row_no        INTEGER NOT NULL,
            data          TEXT NOT NULL,
            PRIMARY KEY (submission_id, ledger, row_no)
        );

        CREATE TABLE audit_log (
            id        INTEGER PRIMARY KEY,
            at        TEXT NOT NULL,
            run_id    TEXT NOT NULL,
            action    TEXT NOT NULL,
            sha256    TEXT,
            path      TEXT,
            unit_code TEXT,
            period    TEXT,
            detail    TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX audit_log_run ON audit_log (run_id);
        CREATE INDEX audit_log_sha ON audit_log (sha256);
        """,
    ),
    Migration(
        2,
        "inspection sheets: inspectors and on-site scores of returned 督导考评表",
        """
        CREATE TABLE inspection_sheets (
            submission_id INTEGER PRIMARY KEY REFERENCES submissions(id) ON DELETE CASCADE,
            inspectors    TEXT,
            inspected_on  TEXT,
            comment       TEXT
        );

        CREATE TABLE inspection_scores (
            submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
            item_code     TEXT NOT NULL,
            points        REAL,
            max_points    REAL NOT NULL,
            reason        TEXT,
            PRIMARY KEY (submission_id, item_code)
        );
        """,
    ),
)


# ---------------------------------------------------------------------------------------------
# Plain data in and out


@dataclass(frozen=True)
class ValueRow:
    """One indicator value of a submission."""

    indicator_code: str
    value: Value


@dataclass(frozen=True)
class ActivityRow:
    """What a unit reported about one required activity."""

    activity_code: str
    status: str | None
    count: int | None
    done_date: date | None
    participants: int | None
    form: str | None
    evidence: str | None
    note: str | None


@dataclass(frozen=True)
class LedgerRow:
    """One row of a ledger sheet: column name -> str, int, float, bool, date or None."""

    ledger: str
    row_no: int
    data: dict[str, object]


@dataclass(frozen=True)
class InspectionScore:
    """An on-site rubric item as an inspector scored it (``points`` None: left blank)."""

    item_code: str
    points: float | None
    max_points: float
    reason: str | None


@dataclass(frozen=True)
class InspectionRecord:
    """What a returned inspector sheet (督导考评表) says: who inspected, when, the scores."""

    inspectors: str | None
    inspected_on: date | None
    comment: str | None
    scores: tuple[InspectionScore, ...] = ()


@dataclass(frozen=True)
class EncodedDetails:
    """A submission's values, activity rows and ledger rows in their stored form, made by
    :func:`encode_details`: ``(indicator_code, kind, num, text)``, ``(activity_code, status,
    count, done_date, participants, form, evidence, note)`` and ``(ledger, row_no, data)``.
    ``collect``'s workers encode them, so the process that records them only inserts them
    (unpickling the rows' dataclasses and dates cost it more than the inserts)."""

    values: tuple[tuple[Any, ...], ...] = ()
    activities: tuple[tuple[Any, ...], ...] = ()
    ledger_rows: tuple[tuple[Any, ...], ...] = ()


def encode_details(
    values: Iterable[ValueRow] = (),
    activities: Iterable[ActivityRow] = (),
    ledger_rows: Iterable[LedgerRow] = (),
) -> EncodedDetails:
    """The rows as :meth:`Store.record_submission` stores them. Raises what it would raise for
    a value the store cannot keep exactly (TypeError, ValueError, OverflowError)."""
    return EncodedDetails(
        tuple((v.indicator_code, *_encode_value(v.value)) for v in values),
        tuple(
            (
                a.activity_code,
                a.status,
                a.count,
                _opt_date(a.done_date),
                a.participants,
                a.form,
                a.evidence,
                a.note,
            )
            for a in activities
        ),
        tuple((r.ledger, r.row_no, _encode_ledger(r.data)) for r in ledger_rows),
    )


SubmissionState = Literal["accepted", "rejected"]


@dataclass(frozen=True)
class SubmissionRecord:
    """Everything intake learned about one received file, recorded in one transaction."""

    sha256: str
    original_name: str
    original_path: str | None
    archive_path: str | None
    size: int
    format: str
    kind: str
    unit_code: str | None
    period: str | None
    plan_version: str | None
    received_at: datetime
    state: SubmissionState
    late: bool = False
    days_late: int = 0
    findings: tuple[Finding, ...] = ()
    values: tuple[ValueRow, ...] = ()
    activities: tuple[ActivityRow, ...] = ()
    ledger_rows: tuple[LedgerRow, ...] = ()
    inspection: InspectionRecord | None = None  # kind "inspection" only
    # The values, activities and ledger rows already encoded, instead of the three above.
    details: EncodedDetails | None = None


@dataclass(frozen=True)
class SubmissionInfo:
    """A stored submission. ``state`` is 'accepted', 'rejected' or 'superseded'."""

    id: int
    sha256: str
    original_name: str
    original_path: str | None
    archive_path: str | None
    size: int
    format: str
    kind: str
    unit_code: str | None
    period: str | None
    plan_version: str | None
    received_at: datetime
    state: str
    late: bool
    days_late: int
    superseded_by: int | None
    recorded_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    run_id: str
    action: str
    sha256: str | None
    path: str | None
    unit_code: str | None
    period: str | None
    detail: str


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    description: str
    applied_at: datetime


_SUB_COLUMNS = (
    "id, sha256, original_name, original_path, archive_path, size, format, kind, unit_code, "
    "period, plan_version, received_at, state, late, days_late, superseded_by, recorded_at"
)
_SUB_FIELDS = tuple(name.strip() for name in _SUB_COLUMNS.split(","))
assert tuple(f.name for f in fields(SubmissionInfo)) == _SUB_FIELDS  # _info: by position
_AUDIT_COLUMNS = "id, at, run_id, action, sha256, path, unit_code, period, detail"


# ---------------------------------------------------------------------------------------------
# The store


class CommitGroup:
    """The open group of :meth:`Store.commit_group`."""

    def __init__(self, commit: Callable[[], None], pieces: int, seconds: float) -> None:
        self._commit, self._pieces, self._seconds = commit, pieces, seconds
        self.failed = False  # a transaction rolled the group back
        self.pending = 0  # complete pieces not yet committed
        self._since = 0.0  # when the oldest of them completed

    def completed(self) -> None:
        """One more piece of work is complete: commit if it is time."""
        self.pending += 1
        now = time.monotonic()
        if self.pending == 1:
            self._since = now
        if self.pending >= self._pieces or now - self._since >= self._seconds:
            self.commit()

    def commit(self) -> None:
        """Commit every complete piece now."""
        try:
            self._commit()
        except BaseException:
            self.failed = True
            raise
        self.pending = 0


class Store:
    """One open store file. Create with :meth:`open`; use as a context manager or ``close()``."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._depth = 0  # transaction nesting depth
        self._group: CommitGroup | None = None  # see commit_group

    # ---- opening and closing

    @classmethod
    def open(cls, path: Path, *, migrations: Sequence[Migration] = MIGRATIONS) -> Store:
        """Open (creating if missing) the store at ``path`` and bring its schema up to date."""
        path = Path(path)
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise StoreError(f"无法打开数据库 {path}：{exc}") from exc
        store = cls(path, conn)
        try:
            store._configure()
            store._migrate(migrations)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(
                f"无法使用数据库 {path}（文件可能已损坏或不是本工具的数据库）：{exc}"
            ) from exc
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _configure(self) -> None:
        c = self._conn
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA foreign_keys=ON")
        # WAL + NORMAL never corrupts the store; a power cut can lose the last few commits,
        # which the next collect redoes from the inbox (originals are fsynced in the archive).
        # FULL cost an fsync per submission, a quarter of collect's time.
        c.execute("PRAGMA synchronous=NORMAL")
        c.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def bulk_writes(self) -> None:
        """For a run that commits thousands of transactions (``collect``, see also
        :meth:`commit_group`): copy the write-ahead log back into the database every ~40 MB
        instead of SQLite's default ~4 MB. Each checkpoint rewrites the same index pages and
        syncs, so fewer of them save a sixth of the store's CPU per file and more of its wall
        time; durability is unchanged (WAL, ``synchronous=NORMAL``), and closing the store
        checkpoints and removes the log as before. For this connection only."""
        self._conn.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")

    # ---- transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` if the block raises. Nestable."""
        conn = self._conn
        group = self._group
        if self._depth == 0:
            if group is not None and group.failed:
                raise RuntimeError("a transaction failed inside this commit group: end it first")
            if group is None or not conn.in_transaction:
                self._begin()
            savepoint = None
        else:
            savepoint = f"sp{self._depth}"
            conn.execute(f"SAVEPOINT {savepoint}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if savepoint is None:
                if group is not None:
                    group.failed = True  # what it joined goes too: there are no savepoints
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            elif conn.in_transaction:
                conn.execute(f"ROLLBACK TO {savepoint}")
                conn.execute(f"RELEASE {savepoint}")
            raise
        self._depth -= 1
        if savepoint is not None:
            conn.execute(f"RELEASE {savepoint}")
        elif group is None:
            self._commit()

    def _begin(self) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(
                f"数据库 {self.path} 正被另一个程序写入，等待 {BUSY_TIMEOUT_MS // 1000} 秒"
                f"后仍未释放，请稍后再试：{exc}"
            ) from exc

    def _commit(self) -> None:
        conn = self._conn
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _commit_open(self) -> None:
        if self._conn.in_transaction:
            self._commit()

    @contextmanager
    def commit_group(self, pieces: int, seconds: float) -> Iterator[CommitGroup]:
        """Many small transactions committed as a few (``collect``: one per file, thousands).

        Inside the block, a top-level :meth:`transaction` joins one open transaction instead of
        committing its own, and the caller says when a piece of work is complete
        (:meth:`CommitGroup.completed`); every ``pieces`` pieces, or at the first piece
        completed ``seconds`` after the oldest uncommitted one, they are committed together.
        Leaving the block commits the rest. For collect's 10,000 returns this writes a fifth of
        the log (130 MB instead of 650 MB) with a third less CPU; an inner SAVEPOINT per piece
        would cost more than it saves.

        The price is that a failure loses the whole uncommitted group, not one piece: a
        transaction that raises rolls back everything since the last commit, and so does an
        exception leaving the block. So use it only for work that is simply done again when it
        was not recorded (``collect`` records a file only after its original is archived, and
        an unrecorded file is processed by the next run). After a failed transaction the group
        refuses further ones, so the loss cannot go unnoticed."""
        if self._group is not None or self._depth:
            raise RuntimeError("commit_group() cannot be nested or opened inside a transaction")
        group = self._group = CommitGroup(self._commit_open, pieces, seconds)
        try:
            yield group
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            self._group = None
        if group.failed:
            raise RuntimeError("a transaction failed inside a commit group and was not raised")
        group.commit()

    # ---- migrations

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        for i, m in enumerate(migrations, start=1):
            if m.version != i:
                raise ValueError(f"migration versions must be 1, 2, 3, …; got {m.version} at {i}")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        newest = self._schema_version()
        if newest > len(migrations):
            raise StoreError(
                f"数据库 {self.path} 由更新版本的程序创建（结构版本 {newest}，"
                f"本程序只认识到 {len(migrations)}），请升级本程序后再用"
            )
        for m in migrations:
            if m.version <= newest:
                continue
            with self.transaction():
                # Re-check inside the write lock: another process may have just applied it.
                if self._conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", (m.version,)
                ).fetchone():
                    continue
                for statement in _statements(m.sql):
                    self._conn.execute(statement)
                self._conn.execute(
                    "INSERT INTO schema_migrations (version, description, applied_at)"
                    " VALUES (?, ?, ?)",
                    (m.version, m.description, _now_text()),
                )

    def _schema_version(self) -> int:
        row = self._conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def applied_migrations(self) -> list[AppliedMigration]:
        rows = self._conn.execute(
            "SELECT version, description, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
        return [AppliedMigration(v, d, datetime.fromisoformat(a)) for v, d, a in rows]

    # ---- run lock

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @contextmanager
    def lock(self, command: str = "collect") -> Iterator[Path]:
        """Hold the exclusive run lock (``<store>.lock``) or raise :class:`StoreLocked` at once.

        The lock belongs to an open file description and is released when the block ends or
        the process dies, so a crashed run never leaves a stale lock behind. The lock file
        itself stays (removing it would race with a process about to lock it).
        """
        path = self.lock_path
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"无法创建锁文件 {path}：{exc.strerror or exc}") from exc
        try:
            if not _try_lock(fd):
                holder = _read_pid(fd)
                who = f"进程 {holder}，" if holder else ""
                raise StoreLocked(
                    f"另一个 {command} 正在运行（{who}锁文件 {path}），请等它结束后再试"
                )
            try:
                _write_pid(fd)
                yield path
            finally:
                _unlock(fd)
        finally:
            os.close(fd)

    # ---- checks

    def integrity_check(self) -> list[str]:
        """Problems found by SQLite's integrity and foreign-key checks; empty when all is well."""
        problems = [
            str(row[0])
            for row in self._conn.execute("PRAGMA integrity_check").fetchall()
            if row[0] != "ok"
        ]
        for table, rowid, parent, _fk in self._conn.execute("PRAGMA foreign_key_check"):
            problems.append(f"表 {table} 第 {rowid} 行引用的 {parent} 记录不存在")
        return problems

    # ---- plan versions and units

    def save_plan_version(self, version: str, plan_id: str, name: str, snapshot: str) -> bool:
        """Record a plan version once; return True if it was new. ``snapshot`` is opaque JSON."""
        with self.transaction():
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO plan_versions (version, plan_id, name, snapshot, first_seen)"
                " VALUES (?, ?, ?, ?, ?)",
                (version, plan_id, name, snapshot, _now_text()),
            )
            return cur.rowcount == 1

    def record_plan(self, plan: Plan, snapshot: Callable[[], str]) -> bool:
        """Record ``plan``'s version with its units in one transaction, unless both are
        recorded already; return True if anything was written. ``snapshot`` (the plan's
        opaque JSON) is called only then.

        A command that merely needs its plan on record (``forms``, ``inspect``, every
        ``collect``) thus takes no write lock for a plan it has seen, and does not wait for a
        ``collect`` that is writing (which holds the lock for dozens of files at a time,
        :meth:`commit_group`). The version is a hash of the whole plan, units included, so a
        recorded version with as many units recorded is the same roster."""
        version = plan.version
        row = self._conn.execute(
            "SELECT (SELECT 1 FROM plan_versions WHERE version = ?),"
            " (SELECT COUNT(*) FROM units WHERE plan_version = ?)",
            (version, version),
        ).fetchone()
        if row[0] is not None and row[1] == len(plan.units):
            return False
        with self.transaction():
            self.save_plan_version(version, plan.plan_id, plan.settings.name, snapshot())
            self.save_units(version, plan.units)
        return True

    def plan_snapshot(self, version: str) -> str | None:
        row = self._conn.execute(
            "SELECT snapshot FROM plan_versions WHERE version = ?", (version,)
        ).fetchone()
        return None if row is None else str(row[0])

    def plan_versions(self) -> list[str]:
        """Every recorded plan version, oldest first."""
        rows = self._conn.execute("SELECT version FROM plan_versions ORDER BY first_seen, version")
        return [str(r[0]) for r in rows]

    def save_units(self, plan_version: str, units: Iterable[Unit]) -> None:
        """Record the units of a plan version (saved first with :meth:`save_plan_version`)."""
        with self.transaction():
            self._conn.executemany(
                "INSERT INTO units"
                " (plan_version, code, name, category, region, headcount, contact, phone)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (plan_version, code) DO UPDATE SET name = excluded.name,"
                " category = excluded.category, region = excluded.region,"
                " headcount = excluded.headcount, contact = excluded.contact,"
                " phone = excluded.phone",
                [
                    (
                        plan_version,
                        u.code,
                        u.name,
                        u.category,
                        u.region,
                        u.headcount,
                        u.contact,
                        u.phone,
                    )
                    for u in units
                ],
            )

    def units(self, plan_version: str) -> list[Unit]:
        rows = self._conn.execute(
            "SELECT code, name, category, region, headcount, contact, phone FROM units"
            " WHERE plan_version = ? ORDER BY rowid",
            (plan_version,),
        ).fetchall()
        return [Unit(*row) for row in rows]

    # ---- submissions: writing

    def has_submission(self, sha256: str) -> bool:
        return (
            self._conn.execute("SELECT 1 FROM submissions WHERE sha256 = ?", (sha256,)).fetchone()
            is not None
        )

    def submission_shas(self) -> set[str]:
        """The content hash of every recorded submission (one query, for duplicate checks)."""
        return {row[0] for row in self._conn.execute("SELECT sha256 FROM submissions")}

    def submissions_by_sha(self) -> dict[str, SubmissionInfo]:
        """Every recorded submission by content hash (one query, for duplicate checks)."""
        return {
            row[1]: _info(row)
            for row in self._conn.execute(f"SELECT {_SUB_COLUMNS} FROM submissions")
        }

    def submission_by_sha(self, sha256: str) -> SubmissionInfo | None:
        row = self._conn.execute(
            f"SELECT {_SUB_COLUMNS} FROM submissions WHERE sha256 = ?", (sha256,)
        ).fetchone()
        return None if row is None else _info(row)

    def submission(self, submission_id: int) -> SubmissionInfo | None:
        row = self._conn.execute(
            f"SELECT {_SUB_COLUMNS} FROM submissions WHERE id = ?", (submission_id,)
        ).fetchone()
        return None if row is None else _info(row)

    def record_submission(
        self, rec: SubmissionRecord, run_id: str, *, replacing: int | None = None
    ) -> SubmissionInfo:
        """Record a received file with everything read from it, in one transaction.

        A file whose sha256 is already stored is left alone and its stored info returned, so
        re-running intake is a no-op. The one exception is ``replacing``: the id of the stored,
        rejected submission of these very bytes that a new check replaces (a return rejected
        because its unit was not on the roster, checked again once it is). That row and
        everything stored with it go, an audit entry 'rechecked' says so, and the new row takes
        its place. An accepted file then takes part in the supersede rule:
        of the accepted submissions of one (unit, period, kind), the latest ``received_at``
        (ties: highest id) stays accepted, the others become 'superseded'.
        """
        if rec.state not in ("accepted", "rejected"):
            raise ValueError(f"a new submission is 'accepted' or 'rejected', not {rec.state!r}")
        if rec.details is not None and (rec.values or rec.activities or rec.ledger_rows):
            raise ValueError("a submission's rows come either encoded (details) or not, not both")
        with self.transaction():
            existing = self.submission_by_sha(rec.sha256)
            replaced = None
            if existing is not None:
                if existing.id != replacing or existing.state != "rejected":
                    return existing
                # Out of the way of the new row, and removed only after it: the new row then
                # gets a higher id (SQLite reuses the highest), so revision() changes.
                replaced = existing.id
                self._conn.execute(
                    "UPDATE submissions SET sha256 = sha256 || ':replaced' WHERE id = ?",
                    (replaced,),
                )
                self._audit(
                    "rechecked",
                    run_id,
                    sha256=rec.sha256,
                    path=rec.original_path,
                    unit_code=rec.unit_code,
                    period=_canonical_period(rec.period),
                    detail=f"重新审核，取代此前退回的第 {replaced} 号记录",
                )
            now = _now_text()
            period = _canonical_period(rec.period)
            row = (
                rec.sha256,
                rec.original_name,
                _opt_text(rec.original_path),
                _opt_text(rec.archive_path),
                rec.size,
                rec.format,
                rec.kind,
                rec.unit_code,
                period,
                rec.plan_version,
                rec.received_at.isoformat(),
                rec.state,
                int(bool(rec.late)),
                rec.days_late,
                now,
            )
            sub_id = self._insert_submission(row)
            if replaced is not None:
                self._conn.execute("DELETE FROM submissions WHERE id = ?", (replaced,))
            self._insert_details(sub_id, rec)
            errors = sum(1 for f in rec.findings if f.severity is Severity.ERROR)
            warnings = len(rec.findings) - errors
            self._audit(
                rec.state,
                run_id,
                sha256=rec.sha256,
                path=rec.original_path,
                unit_code=rec.unit_code,
                period=period,
                detail=f"{rec.original_name}：错误 {errors} 个，警告 {warnings} 个",
                at=now,
            )
            winner = None
            if rec.state == "accepted":
                winner = self._supersede(rec.unit_code, period, rec.kind, run_id)
            # What was just written, without reading it back.
            superseded = winner is not None and winner != sub_id
            return _info(
                (
                    sub_id,
                    *row[:11],
                    "superseded" if superseded else rec.state,
                    row[12],
                    row[13],
                    winner if superseded else None,
                    now,
                )
            )

    def _insert_submission(self, row: tuple[Any, ...]) -> int:
        cur = self._conn.execute(
            "INSERT INTO submissions (sha256, original_name, original_path, archive_path, size,"
            " format, kind, unit_code, period, plan_version, received_at, state, late, days_late,"
            " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def _insert_details(self, sub_id: int, rec: SubmissionRecord) -> None:
        details = rec.details
        if details is None:
            details = encode_details(rec.values, rec.activities, rec.ledger_rows)
        c = self._conn
        c.executemany(
            "INSERT INTO findings (submission_id, seq, code, severity, sheet, row_no,"
            " column_name, cell, label, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    sub_id,
                    seq,
                    f.code,
                    str(f.severity),
                    f.sheet,
                    f.row,
                    f.column,
                    f.cell,
                    f.label,
                    f.message,
                )
                for seq, f in enumerate(rec.findings, start=1)
            ],
        )
        c.executemany(
            "INSERT INTO submission_values (submission_id, indicator_code, kind, num, text)"
            " VALUES (?, ?, ?, ?, ?)",
            [(sub_id, *row) for row in details.values],
        )
        c.executemany(
            "INSERT INTO activity_records (submission_id, activity_code, status, count,"
            " done_date, participants, form, evidence, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(sub_id, *row) for row in details.activities],
        )
        c.executemany(
            "INSERT INTO ledger_rows (submission_id, ledger, row_no, data) VALUES (?, ?, ?, ?)",
            [(sub_id, *row) for row in details.ledger_rows],
        )
        if rec.inspection is not None:
            ins = rec.inspection
            c.execute(
                "INSERT INTO inspection_sheets (submission_id, inspectors, inspected_on, comment)"
                " VALUES (?, ?, ?, ?)",
                (sub_id, ins.inspectors, _opt_date(ins.inspected_on), ins.comment),
            )
            c.executemany(
                "INSERT INTO inspection_scores"
                " (submission_id, item_code, points, max_points, reason) VALUES (?, ?, ?, ?, ?)",
                [(sub_id, x.item_code, x.points, x.max_points, x.reason) for x in ins.scores],
            )

    def _supersede(
        self, unit_code: str | None, period: str | None, kind: str, run_id: str
    ) -> int | None:
        """Apply the supersede rule to one slot; the id of the submission left accepted."""
        if unit_code is None or period is None:
            return None  # an unidentified file has no slot to compete for
        rows = self._conn.execute(
            f"SELECT {_SUB_COLUMNS} FROM submissions"
            " WHERE unit_code = ? AND period = ? AND kind = ? AND state = 'accepted'",
            (unit_code, period, kind),
        ).fetchall()
        if len(rows) < 2:  # the usual case: nothing to supersede
            return rows[0][0] if rows else None  # type: ignore[no-any-return]
        infos = [_info(r) for r in rows]
        winner = max(infos, key=lambda s: (_instant(s.received_at), s.id))
        for loser in infos:
            if loser.id == winner.id:
                continue
            self._conn.execute(
                "UPDATE submissions SET state = 'superseded', superseded_by = ? WHERE id = ?",
                (winner.id, loser.id),
            )
            self._audit(
                "superseded",
                run_id,
                sha256=loser.sha256,
                path=loser.original_path,
                unit_code=unit_code,
                period=period,
                detail=(
                    f"{loser.original_name} 被较新的报送 {winner.original_name}"
                    f"（收到于 {winner.received_at:%Y-%m-%d %H:%M}）取代"
                ),
            )
        return winner.id

    # ---- audit log

    def audit(
        self,
        action: str,
        run_id: str,
        *,
        sha256: str | None = None,
        path: str | None = None,
        unit_code: str | None = None,
        period: str | None = None,
        detail: str = "",
    ) -> None:
        """Append one entry to the audit log in its own short transaction."""
        with self.transaction():
            self._audit(
                action,
                run_id,
                sha256=sha256,
                path=path,
                unit_code=unit_code,
                period=period,
                detail=detail,
            )

    def audit_durably(self, action: str, run_id: str, *, detail: str = "") -> None:
        """Append one audit entry and make it, and every commit before it, survive a power cut:
        this one commit syncs the write-ahead log (``synchronous=FULL``). For a step that must
        not happen before the store is on disk (``collect --move`` deleting inbox files)."""
        self._conn.execute("PRAGMA synchronous=FULL")
        try:
            self.audit(action, run_id, detail=detail)
        finally:
            self._conn.execute("PRAGMA synchronous=NORMAL")

    def _audit(
        self,
        action: str,
        run_id: str,
        *,
        sha256: str | None,
        path: str | None,
        unit_code: str | None,
        period: str | None,
        detail: str,
        at: str | None = None,
    ) -> None:
        self._conn.execute(
            "INSERT INTO audit_log (at, run_id, action, sha256, path, unit_code, period, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                at or _now_text(),
                run_id,
                action,
                sha256,
                _opt_text(path),
                unit_code,
                None if period is None else str(period),
                detail,
            ),
        )

    def audit_entries(self, run_id: str | None = None) -> list[AuditEntry]:
        """Audit entries in the order they were written, optionally of one run only."""
        if run_id is None:
            rows = self._conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log ORDER BY id"
            ).fetchall()
        else:
            rows = self._conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE run_id = ? ORDER BY id", (run_id,)
            ).fetchall()
        return [
            AuditEntry(r[0], datetime.fromisoformat(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8])
            for r in rows
        ]

    def was_audited(self, action: str, sha256: str, path: str) -> bool:
        """Whether ``action`` was already logged for these bytes at this inbox path."""
        row = self._conn.execute(
            "SELECT 1 FROM audit_log WHERE action = ? AND sha256 = ? AND path = ? LIMIT 1",
            (action, sha256, path),
        ).fetchone()
        return row is not None

    # ---- submissions: reading

    def revision(self) -> str:
        """Changes whenever a submission is recorded or superseded (rows are only ever added,
        or replaced by a row with a higher id, and superseding happens in the same transaction):
        for telling whether an output made from the store is still current."""
        row = self._conn.execute(
            "SELECT count(*), coalesce(max(id), 0), count(superseded_by) FROM submissions"
        ).fetchone()
        return f"{row[0]}:{row[1]}:{row[2]}"

    def submissions(
        self,
        period: str | Period | None = None,
        kind: str | None = None,
        states: Iterable[str] | None = None,
        *,
        unit_code: str | None = None,
    ) -> list[SubmissionInfo]:
        """Submissions matching every filter given, oldest recorded first."""
        where: list[str] = []
        params: list[object] = []
        if period is not None:
            where.append("period = ?")
            params.append(str(period))
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if unit_code is not None:
            where.append("unit_code = ?")
            params.append(unit_code)
        if states is not None:
            wanted = list(dict.fromkeys(states))
            if not wanted:
                return []
            where.append(f"state IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        sql = f"SELECT {_SUB_COLUMNS} FROM submissions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_info(r) for r in self._conn.execute(sql + " ORDER BY id", params)]

    def return_heads(self, period: str | Period, kind: str) -> list[tuple[Any, ...]]:
        """``(id, unit_code, state, received_at, original_name)`` of the submissions of a period
        and kind that name a unit, oldest recorded first; ``received_at`` is stored text (see
        :func:`_info`). What the chat notices need, without a :class:`SubmissionInfo` a row: at
        provincial scale that cost every collect a fifth of a second."""
        return self._conn.execute(
            "SELECT id, unit_code, state, received_at, original_name FROM submissions"
            " WHERE period = ? AND kind = ? AND unit_code IS NOT NULL ORDER BY id",
            (str(period), kind),
        ).fetchall()

    def current_submission(
        self, unit_code: str, period: str | Period, kind: str = "unit"
    ) -> SubmissionInfo | None:
        """The accepted submission of a unit for a period, if any."""
        row = self._conn.execute(
            f"SELECT {_SUB_COLUMNS} FROM submissions"
            " WHERE unit_code = ? AND period = ? AND kind = ? AND state = 'accepted'"
            " ORDER BY received_at DESC, id DESC LIMIT 1",
            (unit_code, str(period), kind),
        ).fetchone()
        return None if row is None else _info(row)

    def latest_accepted_before(
        self, unit_code: str, period: str | Period, kind: str = "unit"
    ) -> SubmissionInfo | None:
        """The accepted submission of the latest period before ``period`` (to pre-fill forms)."""
        row = self._conn.execute(
            f"SELECT {_SUB_COLUMNS} FROM submissions"
            " WHERE unit_code = ? AND period < ? AND kind = ? AND state = 'accepted'"
            " ORDER BY period DESC, received_at DESC, id DESC LIMIT 1",
            (unit_code, str(period), kind),
        ).fetchone()
        return None if row is None else _info(row)

    def findings_for(self, submission_id: int) -> list[Finding]:
        return self.findings_for_many([submission_id])[submission_id]

    def findings_for_many(self, submission_ids: Iterable[int]) -> dict[int, list[Finding]]:
        """Findings per submission id, in the order intake reported them."""
        ids = _unique(submission_ids)
        out: dict[int, list[Finding]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            rows = self._conn.execute(
                "SELECT submission_id, code, severity, message, sheet, row_no, column_name, cell,"
                f" label FROM findings WHERE submission_id IN ({_marks(chunk)})"
                " ORDER BY submission_id, seq",
                chunk,
            )
            for sid, code, severity, message, sheet, row, column, cell, label in rows:
                out[sid].append(
                    Finding(code, Severity(severity), message, sheet, row, column, cell, label)
                )
        return out

    def values_for(self, submission_ids: Iterable[int]) -> dict[int, dict[str, Value]]:
        """Indicator values per submission id (every id asked for is a key)."""
        ids = _unique(submission_ids)
        out: dict[int, dict[str, Value]] = {i: {} for i in ids}
        for chunk in _chunks(ids):
            rows = self._conn.execute(
                "SELECT submission_id, indicator_code, kind, num, text FROM submission_values"
                f" WHERE submission_id IN ({_marks(chunk)}) ORDER BY submission_id, rowid",
                chunk,
            )
            for sid, code, kind, num, text in rows:
                out[sid][code] = _decode_value(kind, num, text)
        return out

    def activities_for(self, submission_ids: Iterable[int]) -> dict[int, list[ActivityRow]]:
        """Activity rows per submission id, in form order (every id asked for is a key)."""
        ids = _unique(submission_ids)
        out: dict[int, list[ActivityRow]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            rows = self._conn.execute(
                "SELECT submission_id, activity_code, status, count, done_date, participants,"
                " form, evidence, note FROM activity_records"
                f" WHERE submission_id IN ({_marks(chunk)}) ORDER BY submission_id, rowid",
                chunk,
            )
            for sid, code, status, count, done, participants, form, evidence, note in rows:
                out[sid].append(
                    ActivityRow(
                        code,
                        status,
                        count,
                        None if done is None else date.fromisoformat(done),
                        participants,
                        form,
                        evidence,
                        note,
                    )
                )
        return out

    def ledger_rows_for(self, submission_ids: Iterable[int]) -> dict[int, list[LedgerRow]]:
        """Ledger rows per submission id, in form order (every id asked for is a key)."""
        ids = _unique(submission_ids)
        out: dict[int, list[LedgerRow]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            rows = self._conn.execute(
                "SELECT submission_id, ledger, row_no, data FROM ledger_rows"
                f" WHERE submission_id IN ({_marks(chunk)}) ORDER BY submission_id, rowid",
                chunk,
            )
            for sid, ledger, row_no, data in rows:
                out[sid].append(LedgerRow(ledger, row_no, _decode_ledger(data)))
        return out

    def inspections_for(self, submission_ids: Iterable[int]) -> dict[int, InspectionRecord]:
        """Inspector sheets per submission id (ids that are not inspector sheets are absent)."""
        ids = _unique(submission_ids)
        out: dict[int, InspectionRecord] = {}
        scores: dict[int, list[InspectionScore]] = {}
        for chunk in _chunks(ids):
            for sid, code, points, most, reason in self._conn.execute(
                "SELECT submission_id, item_code, points, max_points, reason"
                f" FROM inspection_scores WHERE submission_id IN ({_marks(chunk)})"
                " ORDER BY submission_id, rowid",
                chunk,
            ):
                scores.setdefault(sid, []).append(InspectionScore(code, points, most, reason))
            for sid, inspectors, day, comment in self._conn.execute(
                "SELECT submission_id, inspectors, inspected_on, comment FROM inspection_sheets"
                f" WHERE submission_id IN ({_marks(chunk)})",
                chunk,
            ):
                out[sid] = InspectionRecord(
                    inspectors,
                    None if day is None else date.fromisoformat(day),
                    comment,
                    tuple(scores.get(sid, ())),
                )
        return out


# ---------------------------------------------------------------------------------------------
# Helpers


def _now_text() -> str:
    """Local wall-clock time with its UTC offset; tests may monkeypatch this."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _instant(moment: datetime) -> float:
    """Sort key for ``received_at``: naive times are local, aware ones carry their offset."""
    return moment.timestamp()


def _statements(sql: str) -> Iterator[str]:
    """Split a migration script into complete statements."""
    buf = ""
    for piece in sql.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \t\r\n;"):
                yield buf.strip()
            buf = ""
    if buf.strip(" \t\r\n;"):
        raise ValueError(f"incomplete SQL statement in migration: {buf.strip()[:60]!r}")


def _canonical_period(period: str | Period | None) -> str | None:
    """``2014-5`` and ``2014年5月`` become ``2014-05`` so periods sort as text."""
    if period is None:
        return None
    if isinstance(period, Period):
        return str(period)
    canonical = Period.canonical(period)
    if canonical is None:
        raise ValueError(f"not a period: {period!r}")
    return canonical


def _opt_text(value: object) -> str | None:
    """Paths may arrive as ``Path``; store them as text."""
    if value is None:
        return None
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def _as_date(value: datetime) -> date:
    """openpyxl reads date cells as midnight datetimes; anything with a time is a caller bug."""
    if value.time() != datetime.min.time() or value.tzinfo is not None:
        raise TypeError(f"expected a date, got a datetime with a time of day: {value!r}")
    return value.date()


def _opt_date(value: date | None) -> str | None:
    if value is None:
        return None
    if type(value) is date:  # the usual case, without the subclass checks
        return value.isoformat()
    if isinstance(value, datetime):
        value = _as_date(value)
    return value.isoformat()


def _encode_value(value: Value) -> tuple[str, float | None, str | None]:
    """An indicator value as (kind, num, text) columns."""
    # The cell types intake reads, by exact type first (tens of values per return); anything
    # else (bools, datetimes, subclasses, the unsupported) takes the general rules below.
    kind = type(value)
    if kind is float or kind is int:
        num = float(value)  # type: ignore[arg-type]
        if not math.isfinite(num):
            raise ValueError(f"cannot store a non-finite number: {value!r}")
        return ("num", num, None)
    if kind is str:
        return ("text", None, value)  # type: ignore[return-value]
    if kind is date:
        return ("date", None, value.isoformat())  # type: ignore[union-attr]
    if value is None:
        return ("none", None, None)
    if isinstance(value, bool):
        return ("bool", float(value), None)
    if isinstance(value, int | float):
        num = float(value)
        if not math.isfinite(num):
            raise ValueError(f"cannot store a non-finite number: {value!r}")
        return ("num", num, None)
    if isinstance(value, datetime):
        value = _as_date(value)
    if isinstance(value, date):
        return ("date", None, value.isoformat())
    if isinstance(value, str):
        return ("text", None, value)
    raise TypeError(f"unsupported indicator value {value!r} ({type(value).__name__})")


def _decode_value(kind: str, num: float | None, text: str | None) -> Value:
    if kind == "num":
        return None if num is None else float(num)
    if kind == "bool":
        return bool(num)
    if kind == "date":
        return None if text is None else date.fromisoformat(text)
    if kind == "text":
        return text
    return None


_DATE_TAG = "$date"


# What ``json.dumps(..., ensure_ascii=False, allow_nan=False)`` builds on every call, once.
_LEDGER_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_LEDGER_PLAIN = frozenset({str, int, float, bool, type(None)})  # stored as they are


def _encode_ledger(data: dict[str, object]) -> str:
    """JSON object in column order; dates are ``{"$date": "2014-05-03"}`` so text stays text."""
    plain: dict[str, object] = {}
    for key, value in data.items():
        kind = type(value)
        if kind in _LEDGER_PLAIN:  # exact types first: a ledger row has tens of cells
            plain[key] = value
        elif kind is date:
            plain[key] = {_DATE_TAG: value.isoformat()}  # type: ignore[attr-defined]
        else:
            plain[key] = _ledger_cell(key, value)
    return _LEDGER_JSON.encode(plain)


def _ledger_cell(key: str, value: object) -> object:
    """A ledger value of any other type (a datetime, a subclass) as JSON data, or TypeError."""
    if isinstance(value, datetime):
        value = _as_date(value)
    if isinstance(value, date):
        return {_DATE_TAG: value.isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"unsupported ledger value {value!r} in column {key!r}")


def _decode_ledger(text: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in json.loads(text).items():
        if isinstance(value, dict) and set(value) == {_DATE_TAG}:
            out[key] = date.fromisoformat(value[_DATE_TAG])
        else:
            out[key] = value
    return out


def _info(row: tuple[Any, ...]) -> SubmissionInfo:
    """A ``submissions`` row selected with :data:`_SUB_COLUMNS`, typed. By position: the
    columns are the fields in order (asserted where :data:`_SUB_FIELDS` is defined); the
    text times and the 0/1 ``late`` are the ones to convert."""
    return SubmissionInfo(
        *row[:11],
        datetime.fromisoformat(row[11]),  # received_at
        row[12],  # state
        bool(row[13]),  # late
        row[14],  # days_late
        row[15],  # superseded_by
        datetime.fromisoformat(row[16]),  # recorded_at
    )


def _unique(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(int(i) for i in ids))


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    """Slices of ``ids`` small enough for one ``IN (…)`` list."""
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _marks(chunk: Sequence[int]) -> str:
    return ", ".join("?" * len(chunk))


# ---------------------------------------------------------------------------------------------
# Inter-process lock primitives


def _try_lock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; False if someone else holds it."""
    try:
        if sys.platform == "win32":  # pragma: no cover
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _write_pid(fd: int) -> None:
    """Leave our pid in the lock file for the message another run shows; best effort."""
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:
        pass


def _read_pid(fd: int) -> int | None:
    """The pid the lock holder wrote into the lock file, if readable."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
