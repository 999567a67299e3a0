"""What is in the inbox: every file (and every zip member) as a :class:`Source`, safely.

Units' returns arrive as whatever their mail client or colleague produced, so the scan defends
against:

* clutter that is not a return: Office lock files (``~$*``), ``Thumbs.db``, ``desktop.ini``,
  ``.DS_Store``, macOS ``__MACOSX/`` and AppleDouble ``._*`` files, hidden files and folders;
  they are listed as *skipped* with a Chinese reason, never counted as returns;
* files that are certainly not spreadsheets (PDF, pictures, Word/PowerPoint documents), decided
  by their bytes, not their names: an ``.xlsx`` renamed ``.pdf`` is still a candidate, and an
  HTML page named ``.xlsx`` is a candidate that the reader reports properly;
* symbolic links: a link whose target resolves outside the workspace, or to the workspace's
  own private files (the form key, the store, the caches: anything hidden or named
  ``store.sqlite*``), is never read; links to folders are never followed (no loops), broken
  links are listed;
* devices, pipes and sockets are never opened (opening a FIFO would block);
* zip archives (decided by sniffing): members are read in memory, never extracted, so member
  names such as ``../evil.xlsx``, ``/etc/x`` or ``C:\\x`` are only names; such members are
  listed under a sanitised name and skipped. Before anything is decompressed the central
  directory is checked: entry count, sum of declared sizes and per-member compression ratio
  (zip bombs), encrypted members. CPython's zip reader then enforces each member's declared
  size and CRC while reading. Archives nested in archives are not expanded (one level only).
  Member names written by Chinese Windows tools without the UTF-8 flag are decoded as GBK.

Policy for a refused archive (too many entries, too large): the archive is listed as **one
skipped** :class:`Source` with the reason; there is nothing the workbook reader could do with it.

The scan itself raises nothing for bad input. :meth:`Source.read_bytes` (one file) and
:class:`SourceReader` (many: each archive opened once) raise :class:`SourceUnavailable` only if
the file changed or vanished since the scan.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Final, Literal, cast

from reporting.intake.seen import Known, SeenFiles, identity
from reporting.intake.sniff import NON_SPREADSHEET_KINDS, Kind, sniff
from reporting.workspace import STORE_FILE

#: A regular file (or zip member) above this size is not a form: skipped without reading it.
MAX_FILE_BYTES: Final = 100 * 1024 * 1024
#: Zip archive limits, checked on the central directory before anything is decompressed.
MAX_ARCHIVE_ENTRIES: Final = 2_000
MAX_ARCHIVE_TOTAL_BYTES: Final = 200 * 1024 * 1024
MAX_MEMBER_RATIO: Final = 200  # uncompressed : compressed ...
RATIO_CHECK_ABOVE_BYTES: Final = 10 * 1024 * 1024  # ... for members larger than this
#: A file up to this size is read whole to be sniffed (a zip's end record may lie this far from
#: its end, so sniffing a small zip reads it all anyway), and with a :class:`SourceReader`
#: given to :func:`iter_inbox` those bytes are handed over instead of being read again.
WHOLE_READ_BYTES: Final = 64 * 1024 + 22

Status = Literal["candidate", "skipped"]

_MB = 1024 * 1024
_TOO_LARGE = f"文件过大（超过 {MAX_FILE_BYTES // _MB} MB），不是报送表单，未读取"
_SYSTEM_FILES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", ".ds_store"})
_KIND_LABELS: dict[str, str] = {
    "pdf": "PDF 文档",
    "image": "图片",
    "office": "Word、PowerPoint 等文档",
}
_SUPPORTED_COMPRESSION = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)


class SourceUnavailable(Exception):
    """The file behind a :class:`Source` changed or vanished since the scan. ``str(exc)`` is a
    Chinese sentence for the intake report; the caller records it, it is not a bug."""


@dataclass(frozen=True)
class Source:
    """One file found in the inbox, or one member of a zip archive found there.

    ``display`` is the path relative to the inbox with ``/`` separators; a zip member is shown as
    ``archive.zip!folder/name.xlsx``. ``path`` is the file in the inbox (for a member: the
    archive); ``real_path`` is what is actually read (the resolved target of a symlink).
    ``member`` is the member's (decoded, unsanitised) name and ``member_index`` its position in
    the archive's directory (names may repeat in a zip). ``kind`` is the sniffed format ("" when
    the file was skipped by name before reading). ``skip_code`` is a stable machine-readable
    reason; ``skip_reason`` the Chinese sentence.
    """

    display: str
    path: Path
    size: int
    status: Status
    kind: Kind | Literal[""] = ""
    member: str | None = None
    member_index: int | None = None
    real_path: Path | None = None
    modified: datetime | None = None
    skip_code: str | None = None
    skip_reason: str | None = None
    # The SHA-256 an earlier run computed for this very file (see reporting.intake.seen).
    known_sha256: str | None = None

    @property
    def is_candidate(self) -> bool:
        return self.status == "candidate"

    def skipped(self, code: str, reason: str) -> Source:
        """This source, marked skipped with a stable ``code`` and a Chinese ``reason``."""
        return replace(self, status="skipped", skip_code=code, skip_reason=reason)

    def read_bytes(self) -> bytes:
        """The file's (or member's) bytes, read in memory. Raises :class:`SourceUnavailable`.

        To read many members of one archive, use a :class:`SourceReader` (opens it once)."""
        with SourceReader() as reader:
            return reader.read(self)


class SourceReader:
    """Reads sources' bytes, keeping the last zip archive open between calls, so the members
    of a 2,000-entry archive do not each re-parse its directory. Use as a context manager::

        with SourceReader() as reader:
            for source in candidates:
                data = reader.read(source)
    """

    def __init__(self) -> None:
        self._path: Path | None = None
        self._file: BinaryIO | None = None
        self._zip: zipfile.ZipFile | None = None
        self._primed: tuple[Source, bytes] | None = None

    def prime(self, source: Source, data: bytes) -> None:
        """The bytes the scan just read for ``source``: the next :meth:`read` of that very
        object returns them instead of reading the file again (one source at a time)."""
        self._primed = (source, data)

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._file is not None:
            self._file.close()
        self._path = self._file = self._zip = None

    def read(self, source: Source) -> bytes:
        """``source``'s bytes. Raises :class:`SourceUnavailable` if it changed or vanished."""
        primed, self._primed = self._primed, None
        if primed is not None and primed[0] is source:
            return primed[1]
        target = source.real_path or source.path
        try:
            if source.member_index is None:
                return _read_regular(target, MAX_FILE_BYTES)
            infos = self._archive(target).infolist()
            info = infos[source.member_index] if source.member_index < len(infos) else None
            if info is None or _member_name(info) != source.member or _member_refusal(info):
                raise SourceUnavailable(f"压缩包 {source.path.name} 已变化，请重新扫描收件箱")
            assert self._zip is not None
            with self._zip.open(info) as member:
                return member.read()
        except SourceUnavailable:
            raise
        except FileNotFoundError as exc:
            raise SourceUnavailable(f"文件 {source.display} 已被移走或删除") from exc
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise SourceUnavailable(
                f"文件 {source.display} 无法读取（{type(exc).__name__}）"
            ) from exc

    def _archive(self, path: Path) -> zipfile.ZipFile:
        if self._zip is None or self._path != path:
            self.close()
            self._file = _open_regular(path)
            self._path = path
            self._zip = zipfile.ZipFile(self._file)
        return self._zip


def iter_inbox(
    inbox: Path,
    workspace_root: Path,
    seen: SeenFiles | None = None,
    reader: SourceReader | None = None,
) -> Iterator[Source]:
    """Every file under ``inbox`` (recursively) and every member of every zip found there, in path
    order: each folder's entries sorted by name, a folder's contents at its place, an archive's
    members (sorted by their path inside it) at the archive's place. A missing inbox yields
    nothing. Lazy: ``collect`` hands each file to a worker as soon as the scan reaches it.

    Symlinks are followed only to regular files inside ``workspace_root`` that are not its own
    (see :func:`_private`). With ``seen``, a
    regular file that an earlier run sniffed and that is still the very same file (see
    :mod:`reporting.intake.seen`) is not opened: its kind and hash are taken from there. With
    ``reader``, a small regular file that was read whole to be sniffed is primed into it
    (:meth:`SourceReader.prime`): reading that source next costs nothing.
    """
    if not inbox.is_dir():
        return
    yield from _Scanner(inbox, workspace_root.resolve(), seen, reader).walk(inbox, ())


def scan_inbox(inbox: Path, workspace_root: Path, seen: SeenFiles | None = None) -> list[Source]:
    """:func:`iter_inbox` as a list."""
    return list(iter_inbox(inbox, workspace_root, seen))


def count_inbox(inbox: Path) -> int:
    """About how many sources :func:`iter_inbox` will yield, for a progress bar: the files under
    ``inbox`` by name alone (nothing is opened or sniffed; an archive counts as one)."""
    count = 0
    folders = [inbox]
    while folders:
        try:
            with os.scandir(folders.pop()) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                            folders.append(Path(entry.path))
                        else:
                            count += 1
                    except OSError:
                        count += 1
        except OSError:
            count += 1
    return count


# --- skip rules ------------------------------------------------------------------------------


def _name_skip(parts: tuple[str, ...]) -> tuple[str, str] | None:
    """(code, Chinese reason) if a path (as components) is clutter rather than a return."""
    name = parts[-1]
    lowered = name.lower()
    if any(p.lower() == "__macosx" for p in parts[:-1]):
        return "macos-resource", "macOS 压缩时附带的资源文件（__MACOSX 文件夹），已跳过"
    if name.startswith("~$"):
        return "lock-file", "Office 临时锁文件（~$ 开头），已跳过"
    if name.startswith("._"):
        return "macos-resource", "macOS 附带的资源文件（._ 开头），已跳过"
    if lowered in _SYSTEM_FILES:
        return "system-file", f"系统文件（{name}），已跳过"
    if name.startswith("."):
        return "hidden", "隐藏文件（. 开头），已跳过"
    if any(p.startswith(".") for p in parts[:-1]):
        return "hidden", "位于隐藏文件夹中，已跳过"
    return None


def _private(relative: Path) -> bool:
    """Whether a file inside the workspace (``relative`` to it) is the tool's own: the
    form-signing key and the caches (hidden: ``.form-key``, ``.cache/``), the store and its
    journal files. A link in the inbox to one of them would copy it into the archive, which
    may be shared or backed up."""
    return relative.parts[0].startswith(STORE_FILE) or any(
        part.startswith(".") for part in relative.parts
    )


def _kind_skip(kind: Kind) -> tuple[str, str] | None:
    if kind in NON_SPREADSHEET_KINDS:
        return "not-excel", f"不是 Excel 文件（实际是{_KIND_LABELS[kind]}），已跳过"
    if kind == "archive":
        return "other-archive", "RAR、7z 等压缩包无法读取，请解压后放入收件箱，或改用 zip 格式"
    return None


# --- disk ------------------------------------------------------------------------------------


def _open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading without following a final symlink and without blocking on a
    FIFO; refuse anything that is not a regular file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceUnavailable(f"{path.name} 不是普通文件")
        return cast(BinaryIO, os.fdopen(fd, "rb"))
    except BaseException:
        os.close(fd)
        raise


def _read_regular(path: Path, limit: int) -> bytes:
    with _open_regular(path) as fh:
        # Ask for the size the file has (asking for ``limit`` bytes allocates that much first).
        size = os.fstat(fh.fileno()).st_size
        data: bytes = fh.read(min(size, limit) + 1)
        if size < len(data) <= limit:  # it grew since: read on, up to the limit
            data += fh.read(limit + 1 - len(data))
    if len(data) > limit:
        raise SourceUnavailable(f"{path.name} 超过 {limit // _MB} MB")
    return data


class _Scanner:
    def __init__(
        self,
        inbox: Path,
        root: Path,
        seen: SeenFiles | None = None,
        reader: SourceReader | None = None,
    ) -> None:
        self.inbox = inbox
        self.root = root
        self.seen = seen
        self.reader = reader

    def walk(self, folder: Path, rel: tuple[str, ...]) -> Iterator[Source]:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield _skipped(
                "/".join(rel) + "/", folder, "unreadable-folder", f"文件夹无法读取（{_why(exc)}）"
            )
            return
        for entry in entries:
            parts = (*rel, entry.name)
            display = "/".join(parts)
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    yield from self._symlink(path, parts, display)
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name.startswith("."):
                        yield _skipped(display + "/", path, "hidden", "隐藏文件夹，未读取")
                    else:
                        yield from self.walk(path, parts)
                elif entry.is_file(follow_symlinks=False):
                    yield from self._file(path, path, parts, display)
                else:
                    yield _skipped(
                        display, path, "not-regular", "不是普通文件（设备、管道等），已跳过"
                    )
            except OSError as exc:
                yield _skipped(display, path, "unreadable-file", f"文件无法读取（{_why(exc)}）")
            except SourceUnavailable as exc:
                yield _skipped(display, path, "unreadable-file", str(exc))

    def _symlink(self, path: Path, parts: tuple[str, ...], display: str) -> Iterator[Source]:
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            yield _skipped(display, path, "symlink-broken", "链接指向的文件不存在，已跳过")
            return
        if not target.is_relative_to(self.root):
            yield _skipped(
                display, path, "symlink-outside", "链接指向工作区以外的位置，出于安全考虑未读取"
            )
        elif target.is_dir():
            yield _skipped(display, path, "symlink-folder", "文件夹链接不跟随，已跳过")
        elif not target.is_file():
            yield _skipped(display, path, "not-regular", "链接指向的不是普通文件，已跳过")
        elif _private(target.relative_to(self.root)):
            yield _skipped(
                display,
                path,
                "symlink-private",
                "链接指向工作区自己的文件（签名密钥、数据库或缓存），出于安全考虑未读取",
            )
        else:
            yield from self._file(path, target, parts, display)

    def _file(
        self, path: Path, real: Path, parts: tuple[str, ...], display: str
    ) -> Iterator[Source]:
        stat_ns = time.time_ns()
        st = real.stat()
        linked = real is not path and real != path
        modified = datetime.fromtimestamp(st.st_mtime)
        kind: Kind | Literal[""] = ""
        known_sha256 = None
        data: bytes | None = None  # the whole file, when it was read whole
        skip = _name_skip(parts)
        if skip is None and st.st_size > MAX_FILE_BYTES:
            skip = "too-large", _TOO_LARGE
        if skip is None:
            remember = self.seen is not None and not linked  # not through a symlink
            ident = identity(st)
            known = self.seen.lookup(display, ident) if remember and self.seen else None
            if known is not None:
                kind, known_sha256 = known.kind, known.sha256  # type: ignore[assignment]
            else:
                with _open_regular(real) as fh:
                    if st.st_size <= WHOLE_READ_BYTES:
                        data = fh.read(WHOLE_READ_BYTES + 1)
                        if len(data) > WHOLE_READ_BYTES:  # it grew since the stat
                            data = None
                    # the workbook reader tells .xlsm exactly
                    kind = sniff(fh if data is None else data, quick=True)
                    if kind == "zip":
                        archive = Source(
                            display,
                            path,
                            st.st_size,
                            "candidate",
                            kind,
                            real_path=real if linked else None,
                            modified=modified,
                        )
                        yield from _expand_archive(
                            fh if data is None else io.BytesIO(data), archive
                        )
                        return
                if remember and self.seen:
                    self.seen.remember(display, ident, Known(kind), stat_ns)
            skip = _kind_skip(kind)
        # Built once, with everything known (dataclasses.replace cost as much as the rest).
        found = Source(
            display=display,
            path=path,
            size=st.st_size,
            status="candidate" if skip is None else "skipped",
            kind=kind,
            real_path=real if linked else None,
            modified=modified,
            skip_code=None if skip is None else skip[0],
            skip_reason=None if skip is None else skip[1],
            known_sha256=known_sha256,
        )
        if data is not None and skip is None and self.reader is not None:
            self.reader.prime(found, data)
        yield found


def _skipped(display: str, path: Path, code: str, reason: str) -> Source:
    return Source(display=display, path=path, size=0, status="skipped").skipped(code, reason)


def _why(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "没有权限"
    return exc.strerror or type(exc).__name__


# --- zip archives ----------------------------------------------------------------------------


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as the sender saw it. Zips made by Chinese Windows tools store GBK names
    without the UTF-8 flag; CPython then decodes them as cp437 (mojibake): undo that."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            return name
        for encoding in ("utf-8", "gb18030"):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                continue
    return name


def _sanitise(name: str) -> tuple[tuple[str, ...], bool]:
    """A member name as safe path components, and whether the original was unsafe (absolute,
    drive letter, ``..``). Control characters (e.g. U+202E used to fake an extension) are shown
    as ``?``."""
    unified = name.replace("\\", "/")
    unsafe = unified.startswith("/") or (len(unified) > 1 and unified[1] == ":")
    parts: list[str] = []
    for i, part in enumerate(unified.split("/")):
        if i == 0 and len(part) == 2 and part[1] == ":":
            continue  # drive letter
        if part == "..":
            unsafe = True
            continue
        if part in ("", "."):
            continue
        parts.append("".join("?" if _is_control(ch) else ch for ch in part))
    return tuple(parts) or ("?",), unsafe


def _is_control(ch: str) -> bool:
    return ch < " " or ch == "\x7f" or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"


def _expand_archive(fh: BinaryIO, archive: Source) -> Iterator[Source]:
    """The members of the zip open as ``fh`` (``archive`` describes the zip itself)."""
    try:
        fh.seek(0)
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        yield archive.skipped(
            "archive-unreadable", f"压缩包无法打开（{type(exc).__name__}），请重新发送"
        )
        return
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ARCHIVE_ENTRIES:
            yield archive.skipped(
                "archive-too-many",
                f"压缩包内文件过多（{len(infos)} 个，超过 {MAX_ARCHIVE_ENTRIES} 个），未解压，"
                "请分批发送",
            )
            return
        total = sum(info.file_size for info in infos)
        if total > MAX_ARCHIVE_TOTAL_BYTES:
            yield archive.skipped(
                "archive-too-large",
                f"压缩包解压后过大（声明 {total // _MB} MB，"
                f"超过 {MAX_ARCHIVE_TOTAL_BYTES // _MB} MB），疑似“压缩炸弹”，未解压",
            )
            return
        members = [(i, info) for i, info in enumerate(infos) if not info.is_dir()]
        if not members:
            yield archive.skipped("archive-empty", "压缩包是空的")
            return
        found = [_member_source(zf, index, info, archive) for index, info in members]
        # path order inside the archive too (stable: names may repeat in a zip)
        skip = len(archive.display) + 1
        found.sort(key=lambda source: source.display[skip:].split("/"))
        yield from found


#: Skip codes of things that are not returns at all (lock files, macOS resources, system and
#: hidden files): ``collect --move`` may remove a zip that holds only these besides the members
#: it archived.
CLUTTER_CODES: Final = frozenset({"lock-file", "macos-resource", "system-file", "hidden"})


def archive_matches(path: Path, expected: dict[int, str]) -> bool:
    """Whether the zip at ``path`` still holds, at each member index of ``expected``, bytes with
    that SHA-256, and nothing else but folders and clutter (:data:`CLUTTER_CODES`)."""
    try:
        with _open_regular(path) as fh, zipfile.ZipFile(fh) as zf:
            found = 0
            for index, info in enumerate(zf.infolist()):
                if info.is_dir():
                    continue
                if index not in expected:
                    parts, unsafe = _sanitise(_member_name(info))
                    skip = _name_skip(parts)
                    if unsafe or skip is None or skip[0] not in CLUTTER_CODES:
                        return False
                    continue
                if _member_refusal(info):
                    return False
                with zf.open(info) as member:
                    if hashlib.sha256(member.read()).hexdigest() != expected[index]:
                        return False
                found += 1
            return found == len(expected)
    except (
        OSError,
        SourceUnavailable,
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        ValueError,
        NotImplementedError,
    ):
        return False


def _member_refusal(info: zipfile.ZipInfo) -> tuple[str, str] | None:
    """Why a member must not be decompressed, judged from the central directory alone."""
    if info.flag_bits & 0x1:
        return "encrypted-member", "压缩包内的文件设置了密码，请解压后直接发送该文件"
    if info.file_size > MAX_FILE_BYTES:
        return "too-large", _TOO_LARGE
    if info.file_size > RATIO_CHECK_ABOVE_BYTES and info.file_size > MAX_MEMBER_RATIO * max(
        info.compress_size, 1
    ):
        return "zip-bomb", "压缩比异常（疑似“压缩炸弹”），未解压"
    if info.compress_type not in _SUPPORTED_COMPRESSION:
        return "unsupported-compression", "压缩包使用了不支持的压缩方式，请改用普通 zip 格式"
    return None


def _member_source(
    zf: zipfile.ZipFile, index: int, info: zipfile.ZipInfo, archive: Source
) -> Source:
    name = _member_name(info)
    parts, unsafe = _sanitise(name)
    try:
        modified: datetime | None = datetime(*info.date_time)
    except ValueError:
        modified = None
    found = replace(
        archive,
        display=f"{archive.display}!{'/'.join(parts)}",
        size=info.file_size,
        kind="",
        member=name,
        member_index=index,
        modified=modified,
    )
    if unsafe:
        return found.skipped("unsafe-path", f"压缩包内路径不安全（{name}），已跳过")
    skip = _name_skip(parts)
    if skip:
        return found.skipped(*skip)
    refusal = _member_refusal(info)
    if refusal:
        return found.skipped(*refusal)
    try:
        with zf.open(info) as member:
            data = member.read()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError):
        return found.skipped("member-unreadable", "压缩包内文件已损坏，无法解压，请重新发送")
    kind = sniff(data)
    found = replace(found, kind=kind)
    if kind == "zip":
        return found.skipped("nested-archive", "压缩包中的压缩包不再展开，请解压后放入收件箱")
    skip = _kind_skip(kind)
    return found.skipped(*skip) if skip else found
