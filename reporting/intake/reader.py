"""Read one returned workbook's bytes into plain Python data (meant to run in a sandbox worker).

:func:`read_workbook` turns the bytes of an ``.xlsx``/``.xlsm``/``.xls`` into a :class:`RawBook`
(sheets in workbook order, cell values at their true positions), or a failed
:class:`ReadResult` whose ``code`` is ``"unreadable"`` or ``"encrypted"`` and whose Chinese
``message`` says what the file seems to be and what the unit should do. It never raises for
bad input; an exception out of it is a bug (the sandbox records it as ``"error"``).

What it defends against:

* wrong formats whatever the file name: HTML previews from webmail, CSV/text, PDF, Word, an
  archive, an empty file, a download cut short, a flipped byte (decided by
  :mod:`reporting.intake.sniff`, then by the parsers' own errors);
* password-protected workbooks (OLE ``EncryptedPackage``, calamine's ``PasswordError``);
* zip bombs: the zip directory is checked (entry count, sum of declared sizes, per-entry ratio,
  encrypted entries) before anything is decompressed; CPython's zip reader then enforces each
  entry's declared size and CRC;
* hostile XML: every XML part whose prolog declares a DTD is refused (billion laughs, external
  entities); the parts parsed here use lxml with entities unresolved, no network, no huge trees;
* absurd sheet extents: a single real cell at ``XFD1048576`` makes calamine allocate 512 GB and
  abort the process (tafia/calamine#693). The XML pass measures each sheet's used extent first
  and refuses sheets beyond :class:`Limits`. ``.xls`` files cannot be measured cheaply: for them,
  and for anything else that kills the process, the sandbox is the defence;
* calamine's blind spots in ``.xlsx``: a formula with no cached value (a file written by a
  library and never opened in Excel) and error cells (``#DIV/0!``) both come back as ``""``; the
  XML pass lists them (:attr:`RawBook.formula_cells_without_value`, :attr:`RawBook.error_cells`),
  the rows hold ``None`` there, never 0. Other calamine versions have been seen to drop the
  whole row of such a formula: the XML pass keeps those rows' raw cells and puts back any value
  calamine lost.

Value types in rows: ``None`` (empty or error), ``str``, ``float`` (every number, also whole
numbers from ``.xls``), ``bool``, ``datetime.date`` (date-only formats), ``datetime.datetime``
(date and time), ``datetime.time`` (time-only formats) and ``datetime.timedelta`` (elapsed-time
formats such as ``[h]:mm``). Positions: ``rows[r][c]`` is the cell at row ``r + 1``, column
``c + 1``; rows start at A1 (never trimmed at the top or left), all rows have the same length,
and the list ends at the last used row: use :meth:`RawSheet.value` / :meth:`RawSheet.cell`,
which return ``None`` outside it. ``.xls`` error cells cannot be detected (calamine gives ``""``,
stored as ``None``).
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import IO, Any, Final, Literal

from reporting.intake.sniff import Kind, sniff, zip_kind

Value = str | float | bool | date | datetime | time | timedelta | None
Visibility = Literal["visible", "hidden", "veryhidden"]
BookFormat = Literal["xlsx", "xlsm", "xls"]
FailureCode = Literal["unreadable", "encrypted"]

_MB: Final = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What a returned form may look like before it is refused unread. A form is ~20 KB with a
    few hundred cells; these bounds are generous for ledgers with thousands of rows."""

    max_entries: int = 10_000
    max_total_bytes: int = 300 * _MB
    max_ratio: int = 300
    ratio_above_bytes: int = 20 * _MB
    max_rows: int = 100_000
    max_cols: int = 200
    max_cells: int = 2_000_000  # rows x columns of one sheet's used rectangle
    fast_scan_max_bytes: int = 8 * _MB  # larger worksheet XML is streamed, not parsed whole


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True)
class RawSheet:
    """One worksheet's values; see the module docstring for types and positions."""

    name: str
    visibility: Visibility
    rows: list[list[Value]]

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def n_cols(self) -> int:
        return len(self.rows[0]) if self.rows else 0

    def value(self, row: int, col: int) -> Value:
        """The value at 1-based ``row``/``col``; ``None`` outside the used area."""
        if row < 1 or col < 1 or row > len(self.rows):
            return None
        line = self.rows[row - 1]
        return line[col - 1] if col <= len(line) else None

    def cell(self, ref: str) -> Value:
        """The value at an A1 reference such as ``"B7"``."""
        row, col = split_ref(ref)
        return self.value(row, col)


@dataclass(frozen=True)
class RawBook:
    """A workbook read into plain data. Cells are named ``(sheet, "B7")``."""

    format: BookFormat
    sheets: dict[str, RawSheet]
    formula_cells_without_value: tuple[tuple[str, str], ...] = ()
    error_cells: tuple[tuple[str, str, str], ...] = ()  # (sheet, cell, "#DIV/0!")


@dataclass(frozen=True)
class ReadResult:
    """Either ``book`` (ok) or a failure: ``code``, a finer machine-readable ``reason`` (e.g.
    ``"html"``, ``"truncated"``, ``"zip-bomb"``), a Chinese ``message`` for the unit and a
    technical ``detail`` (exception text) for the audit log. ``kind`` is the sniffed format."""

    kind: str
    book: RawBook | None = None
    code: FailureCode | None = None
    reason: str | None = None
    message: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.book is not None


def read_workbook(
    data: bytes,
    name: str = "",
    *,
    limits: Limits = DEFAULT_LIMITS,
    own_sheets: Collection[str] = (),
) -> ReadResult:
    """Read a workbook from its bytes. ``name`` (the display name) is only used in ``detail``.

    ``own_sheets`` names sheets whose formulas are the tool's own (a form's instructions and
    metadata): formulas without a cached value and error cells are not looked for there (their
    values still read as ``None``, never 0), which spares the byte search over the sheet that
    has the most formulas. Their prolog, size, CRC and extent are checked like every sheet's.
    """
    if not data.startswith(b"PK"):
        kind = sniff(data)
        if kind in ("xls", "ole"):
            return _read_calamine(data, kind, None, name)
        return _kind_failure(kind, name)
    try:
        zf = _MemoryZip(data)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        # NotImplementedError: a directory entry claiming a zip version from the future
        return _exception_failure(exc).result("damaged", name)
    with zf:
        refusal = _check_directory(zf, limits)  # before anything is decompressed
        if refusal:
            return refusal.result("zip", name)
        kind = zip_kind(zf)
        if kind not in ("xlsx", "xlsm"):
            return _kind_failure(kind, name)
        sheets: dict[str, bytes] = {}
        scan = _scan_ooxml(zf, limits, frozenset(own_sheets), sheets)
        if isinstance(scan, _Failure):
            return scan.result(kind, name)
        data = _with_sheets_stored(zf, data, sheets)
    return _read_calamine(data, kind, scan, name)


def read_workbook_task(task: tuple[bytes, str]) -> ReadResult:
    """:func:`read_workbook` for :func:`reporting.intake.sandbox.run_isolated`: ``(data, name)``."""
    data, name = task
    return read_workbook(data, name)


def split_ref(ref: str) -> tuple[int, int]:
    """``"B7"`` → ``(7, 2)`` (1-based row, column). Raises ``ValueError`` if malformed."""
    found = _REFS.get(ref)
    if found is not None:
        return found
    match = _REF.fullmatch(ref.replace("$", ""))
    if not match:
        raise ValueError(f"not an A1 reference: {ref!r}")
    col = 0
    for ch in match.group(1).upper():
        col = col * 26 + ord(ch) - 64
    found = int(match.group(2)), col
    if len(_REFS) >= _REFS_MAX:  # a hostile sheet's many distinct references
        _REFS.clear()
    _REFS[ref] = found
    return found


# Validation looks up the same few hundred cells in every form of a run.
_REFS: dict[str, tuple[int, int]] = {}
_REFS_MAX = 4096


def cell_ref(row: int, col: int) -> str:
    """``(7, 2)`` → ``"B7"``."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row}"


_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")

# --- failures --------------------------------------------------------------------------------

_RESEND = "请用 Excel 或 WPS 打开后另存为 .xlsx，再重新报送"

_KIND_FAILURES: dict[str, tuple[FailureCode, str, str]] = {
    "empty": ("unreadable", "empty", "文件是空的（0 字节），请重新发送"),
    "html": (
        "unreadable",
        "html",
        "文件实际是网页（HTML），可能是邮箱“下载”得到的预览页。"
        "请在邮件中直接下载附件原件后重新报送",
    ),
    "xml": (
        "unreadable",
        "xml",
        f"文件是 XML 文本（可能是“XML 电子表格 2003”格式），不是 Excel 工作簿，{_RESEND}",
    ),
    "csv": (
        "unreadable",
        "csv",
        "文件是 CSV 文本，不是 Excel 工作簿（可能被另存为了 CSV，格式和隐藏信息已丢失），"
        "请报送下发的 Excel 表单原件",
    ),
    "text": ("unreadable", "text", "文件是纯文本，不是 Excel 工作簿，请报送下发的 Excel 表单"),
    "damaged": (
        "unreadable",
        "truncated",
        "文件不完整（可能下载或发送中断），请重新发送",
    ),
    "zip": (
        "unreadable",
        "archive",
        "文件是压缩包，不是 Excel 工作簿，请解压后发送其中的表单",
    ),
    "archive": (
        "unreadable",
        "archive",
        "文件是 RAR、7z 等压缩包，不是 Excel 工作簿，请解压后发送其中的表单",
    ),
    "xlsb": (
        "unreadable",
        "xlsb",
        "文件是 Excel 二进制工作簿（.xlsb），请用 Excel 另存为 .xlsx 后重新报送",
    ),
    "ods": (
        "unreadable",
        "ods",
        "文件是 OpenDocument 表格（.ods），请用 WPS 或 Excel 另存为 .xlsx 后重新报送",
    ),
    "office": (
        "unreadable",
        "not-excel",
        "文件是 Word、PowerPoint 等文档，不是 Excel 工作簿，请报送下发的 Excel 表单",
    ),
    "pdf": (
        "unreadable",
        "not-excel",
        "文件是 PDF 文档，不是 Excel 工作簿，请报送下发的 Excel 表单",
    ),
    "image": ("unreadable", "not-excel", "文件是图片，不是 Excel 工作簿，请报送下发的 Excel 表单"),
    "encrypted": ("encrypted", "encrypted", "文件设置了打开密码，请取消密码后重新报送"),
    "unknown": (
        "unreadable",
        "unknown",
        "无法识别的文件格式，不是 Excel 工作簿，请报送下发的 Excel 表单（.xlsx）",
    ),
}


def _kind_failure(kind: str, name: str) -> ReadResult:
    code, reason, message = _KIND_FAILURES.get(kind, _KIND_FAILURES["unknown"])
    return _fail(kind, code, reason, message, detail=name or None)


def _fail(
    kind: str, code: FailureCode, reason: str, message: str, *, detail: str | None = None
) -> ReadResult:
    return ReadResult(kind=kind, code=code, reason=reason, message=message, detail=detail)


@dataclass(frozen=True)
class _Failure:
    reason: str
    message: str
    detail: str | None = None
    code: FailureCode = "unreadable"

    def result(self, kind: str, name: str) -> ReadResult:
        detail = f"{name}: {self.detail}" if name and self.detail else (self.detail or name or None)
        return _fail(kind, self.code, self.reason, self.message, detail=detail)


def _exception_failure(exc: BaseException) -> _Failure:
    """Translate a parser's exception on bad input into a failure."""
    import python_calamine

    detail = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, python_calamine.PasswordError):
        return _Failure("encrypted", _KIND_FAILURES["encrypted"][2], detail, code="encrypted")
    if isinstance(exc, zlib.error) or any(s in str(exc) for s in ("CRC", "differ", "magic")):
        return _Failure("corrupt", "文件已损坏（压缩数据校验失败），请重新发送原件", detail)
    if isinstance(exc, EOFError | zipfile.BadZipFile):
        return _Failure("truncated", _KIND_FAILURES["damaged"][2], detail)
    if isinstance(exc, KeyError):
        return _Failure("missing-part", f"文件缺少工作簿的必要组成部分，{_RESEND}", detail)
    if "Resource limit exceeded" in str(exc):  # libxml2's limits (huge_tree is never enabled)
        return _Failure(
            "too-large-text",
            "文件中有超长内容（如一个单元格的文字超过 1000 万字节），不是正常填写的表单，"
            "已拒绝读取。请删去超长内容后重新报送",
            detail,
        )
    return _Failure("unreadable", f"文件无法解析（内容有误或已损坏），{_RESEND}", detail)


# --- the zip, in memory ----------------------------------------------------------------------

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # signature ... name length, extra length


class _MemoryZip(zipfile.ZipFile):
    """A zip whose bytes are in memory. :meth:`read` decompresses a stored or deflated member
    straight from those bytes with :mod:`zlib`, making the checks :mod:`zipfile` makes (local
    header signature and name, at most the declared size, CRC-32) without its per-member file
    objects (~15 µs a member, a dozen members a form). Anything else (other methods, flags,
    passwords) and :meth:`open` go through :mod:`zipfile` itself."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self._bytes = memoryview(data)

    def read(self, name: str | zipfile.ZipInfo, pwd: bytes | None = None) -> bytes:
        info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
        if pwd is not None or not self._direct(info):
            return super().read(name, pwd)
        return self._inflate(info, info.file_size)

    def head(self, info: zipfile.ZipInfo, size: int) -> bytes:
        """The first ``size`` bytes of a member, as ``open(info).read(size)`` gives them: only
        what they take is decompressed, and the CRC-32 is checked only when that is the whole
        member (zipfile checks it at the end of the stream)."""
        if size <= 0:
            return b""
        if not self._direct(info):
            with self.open(info) as fh:
                return fh.read(size)
        return self._inflate(info, min(size, info.file_size))

    @staticmethod
    def _direct(info: zipfile.ZipInfo) -> bool:
        return not (
            info.flag_bits & 0x61  # encrypted, patched, strongly encrypted
            or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        )

    def _inflate(self, info: zipfile.ZipInfo, size: int) -> bytes:
        at = info.header_offset
        if at < 0:
            raise ValueError("negative seek value")  # as zipfile's seek
        header = self._bytes[at : at + _LOCAL_HEADER.size]
        if len(header) != _LOCAL_HEADER.size:
            raise zipfile.BadZipFile("Truncated file header")
        signature, _, _, flags, *_, name_len, extra_len = _LOCAL_HEADER.unpack(header)
        if signature != b"PK\x03\x04":
            raise zipfile.BadZipFile("Bad magic number for file header")
        start = at + _LOCAL_HEADER.size
        raw_name = bytes(self._bytes[start : start + name_len])
        if raw_name.decode("utf-8" if flags & 0x800 else "cp437") != info.orig_filename:
            raise zipfile.BadZipFile(
                f"File name in directory {info.orig_filename!r} and header {raw_name!r} differ."
            )
        start += name_len + extra_len
        raw = self._bytes[start : start + info.compress_size]
        cut = len(raw) < info.compress_size  # the file ends first
        if size <= 0:
            out = b""  # (max_length 0 would mean no limit)
        elif info.compress_type == zipfile.ZIP_STORED:
            out = bytes(raw[:size])
            if cut and len(out) < size:
                raise EOFError
        else:  # never more than asked for, whatever the stream holds
            stream = zlib.decompressobj(-15)
            out = stream.decompress(raw, size)
            if cut and len(out) < size and not stream.eof:
                raise EOFError
        if size == info.file_size and zlib.crc32(out) != info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
        return out


# At most this much decompressed worksheet XML goes to calamine stored (see below).
_STORED_MAX = 32 * _MB


def _with_sheets_stored(zf: zipfile.ZipFile, data: bytes, sheets: dict[str, bytes]) -> bytes:
    """The workbook for calamine: the same members in the same order, the worksheets the XML
    pass has decompressed (and CRC-checked) stored instead of deflated, every other member's
    compressed bytes as they are. calamine then does not inflate the sheets a second time
    (~0.2 ms of its ~0.7 ms for a form) and reads exactly the XML that was checked.

    The original bytes whenever the rebuild is not plainly the same workbook: a member name
    twice, an encrypted or otherwise unusual member, a member whose data is cut short."""
    if not sheets or sum(map(len, sheets.values())) > _STORED_MAX:
        return data
    from reporting import zippack

    infos = zf.infolist()
    if len({i.filename.replace("\\", "/").lower() for i in infos}) != len(infos):
        return data
    view = memoryview(data)
    parts = []
    for info in infos:
        if info.flag_bits & 0x61 or info.compress_type not in (0, zlib.DEFLATED):
            return data  # calamine is to judge such a member as it is
        whole = sheets.get(info.filename)
        if whole is not None:
            parts.append(zippack.Part(info.filename, info.CRC, len(whole), whole, method=0))
            continue
        at = info.header_offset
        header = view[at : at + _LOCAL_HEADER.size]
        if at < 0 or len(header) != _LOCAL_HEADER.size:
            return data
        *_, name_len, extra_len = _LOCAL_HEADER.unpack(header)
        start = at + _LOCAL_HEADER.size + name_len + extra_len
        raw = bytes(view[start : start + info.compress_size])
        if len(raw) != info.compress_size:
            return data
        parts.append(
            zippack.Part(info.filename, info.CRC, info.file_size, raw, method=info.compress_type)
        )
    try:
        return zippack.pack(parts)
    except ValueError:
        return data


# --- the XML pass over .xlsx/.xlsm -----------------------------------------------------------

_MAIN_NS = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
_REL_NS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _tags(local: str) -> frozenset[str]:
    return frozenset(f"{{{ns}}}{local}" for ns in _MAIN_NS)


_C, _ROW, _F, _V, _IS, _T, _R, _SI = (
    _tags(n) for n in ("c", "row", "f", "v", "is", "t", "r", "si")
)
# (column, t attribute, s attribute, <v> text, inline string text)
_RawCell = tuple[int, str | None, str | None, str | None, str | None]


@dataclass
class _SheetScan:
    name: str
    formulas: list[str] = field(default_factory=list)  # A1 refs of formulas without a value
    errors: list[tuple[str, str]] = field(default_factory=list)  # (A1, "#DIV/0!")
    raw_rows: dict[int, list[_RawCell]] = field(default_factory=dict)  # rows holding formulas
    recovered: dict[tuple[int, int], Value] = field(default_factory=dict)  # (row, col) 1-based

    def forget_cells(self) -> None:
        """Keep the extent checks only (a sheet whose formulas are the tool's own)."""
        self.formulas.clear()
        self.errors.clear()
        self.raw_rows.clear()


class _UnsafeXml(Exception):
    pass


class _TooLarge(Exception):
    def __init__(self, sheet: str, ref: str) -> None:
        super().__init__(sheet, ref)
        self.sheet = sheet
        self.ref = ref


def _scan_ooxml(
    zf: _MemoryZip,
    limits: Limits,
    own: frozenset[str] = frozenset(),
    keep: dict[str, bytes] | None = None,
) -> dict[str, _SheetScan] | _Failure:
    """The XML pass, after the directory checks: DTD refusal, then per worksheet its extent,
    formulas without a cached value, error cells, and the decoded raw cells of rows holding
    such a formula (not in the ``own`` sheets). Returns the scans by sheet name; ``keep``
    receives the worksheets it decompressed whole, by member name."""
    from lxml import etree

    try:
        parts = {info.filename.replace("\\", "/").lower(): info for info in zf.infolist()}
        for key in _PROLOG_CHECKED:
            info = parts.get(key)
            if info is not None and _prolog_has_doctype(zf, info):
                return _unsafe_xml(info.filename)
        shared = parts.get("xl/sharedstrings.xml")
        if shared is not None and shared.file_size > _TEXT_NODE_MAX:
            _parse_through(zf, shared)
        return _scan_parts(zf, parts, limits, own, keep)
    except _UnsafeXml as exc:
        return _unsafe_xml(str(exc))
    except _TooLarge as exc:
        return _Failure(
            "too-large-extent",
            f"表格范围异常（工作表“{exc.sheet}”有内容到 {exc.ref}），不是本工具生成的表单；"
            f"请删除多余的行列（最多 {limits.max_rows} 行、{limits.max_cols} 列）后重新报送",
            f"extent {exc.sheet}!{exc.ref}",
        )
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        KeyError,
        OSError,
        NotImplementedError,
        ValueError,
        etree.XMLSyntaxError,
    ) as exc:
        return _exception_failure(exc)


#: libxml2's limit on one text node without ``huge_tree``.
_TEXT_NODE_MAX = 10_000_000


def _parse_through(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Stream a part through lxml for its checks alone: a shared-strings part large enough to
    hold a text node over :data:`_TEXT_NODE_MAX` is refused like every part parsed here, whether
    or not a formula without a cached value makes the XML pass decode the shared strings."""
    from lxml import etree

    with zf.open(info) as fh:
        for _, elem in etree.iterparse(
            fh,
            events=("end",),
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            load_dtd=False,
        ):
            elem.clear()


#: Parts calamine parses that the XML pass does not parse itself: their prologs are checked for
#: a DTD. (The workbook, its relationships and the worksheets are parsed here with lxml, which
#: reports a DTD in ``docinfo``; other parts are read by nobody.)
_PROLOG_CHECKED = ("xl/sharedstrings.xml", "xl/styles.xml")


def _unsafe_xml(part: str) -> _Failure:
    return _Failure(
        "unsafe-xml",
        "文件包含不安全的 XML 内容（DTD 或实体声明），不是 Excel 或 WPS 保存的正常文件，已拒绝读取",
        f"DOCTYPE in {part}",
    )


def _check_directory(zf: zipfile.ZipFile, limits: Limits) -> _Failure | None:
    infos = zf.infolist()
    message = "文件压缩结构异常（疑似“压缩炸弹”），不是正常的 Excel 工作簿，已拒绝读取"
    if len(infos) > limits.max_entries:
        return _Failure("zip-bomb", message, f"{len(infos)} zip entries")
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        return _Failure("zip-bomb", message, f"declared uncompressed size {total}")
    for info in infos:
        if info.file_size > limits.ratio_above_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            return _Failure(
                "zip-bomb", message, f"{info.filename}: {info.file_size} from {info.compress_size}"
            )
        if info.flag_bits & 0x1:
            return _Failure(
                "encrypted",
                _KIND_FAILURES["encrypted"][2],
                f"encrypted zip entry {info.filename}",
                code="encrypted",
            )
    return None


_DOCTYPES = (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))
_ELEMENT_START = re.compile(rb"<[A-Za-z_]|<\x00[A-Za-z_]|\x00<\x00[A-Za-z_]")
_PROLOG_MAX = 64 * 1024


def _prolog_has_doctype(zf: _MemoryZip, info: zipfile.ZipInfo) -> bool:
    """Whether an XML part declares a DTD (reads at most its first 65 KiB; no zipfile stream,
    ~20 µs a part: the first KiB is almost always all it takes)."""
    head = zf.head(info, 1024)
    if not _ELEMENT_START.search(head) and len(head) == 1024:
        head = zf.head(info, 1024 + _PROLOG_MAX)
    return _head_has_doctype(head)


def _head_has_doctype(head: bytes) -> bool:
    """A DOCTYPE can only stand in the prolog, before the root element. Office suites write a
    one-line prolog; a prolog longer than 64 KiB is treated as hostile too."""
    start = _ELEMENT_START.search(head, 0, _PROLOG_MAX)
    prolog = head[: start.start()] if start else head[:_PROLOG_MAX]
    if any(pattern in prolog for pattern in _DOCTYPES):
        return True
    return start is None and bool(head.strip())


_PARSER: list[Any] = []


def _safe_parser() -> Any:
    """lxml parser that never resolves entities, never touches the network, keeps libxml2's
    size limits (no ``huge_tree``) and loads no DTD. One per process (workers are
    single-threaded)."""
    if not _PARSER:
        from lxml import etree

        _PARSER.append(
            etree.XMLParser(
                resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False
            )
        )
    return _PARSER[0]


def _parse_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo):  # type: ignore[no-untyped-def]
    return _parse_xml(zf.read(info), info.filename)


def _parse_xml(data: bytes, part: str):  # type: ignore[no-untyped-def]
    from lxml import etree

    root = etree.fromstring(data, _safe_parser())
    if root.getroottree().docinfo.doctype:
        raise _UnsafeXml(part)
    return root


@dataclass(frozen=True)
class _BookParts:
    """What the XML pass needs from ``workbook.xml`` and its relationships."""

    sheets: tuple[tuple[str, str], ...]  # (sheet name, part) of the worksheets, in order
    date1904: bool


# Every form a run collects shares its workbook.xml and relationships byte for byte: parsed
# once, looked up by those exact bytes (bounded, for many distinct hostile files).
_BOOKS: dict[tuple[bytes, bytes], _BookParts] = {}
_BOOKS_MAX = 64


def _book_parts(zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo]) -> _BookParts:
    workbook_info = parts["xl/workbook.xml"]
    rels_info = parts.get("xl/_rels/workbook.xml.rels")
    key = (zf.read(workbook_info), zf.read(rels_info) if rels_info is not None else b"")
    found = _BOOKS.get(key)
    if found is not None:
        return found
    workbook = _parse_xml(key[0], workbook_info.filename)
    ns = workbook.nsmap.get(None) or _MAIN_NS[0]
    targets: dict[str, str] = {}
    worksheet_rels: set[str] = set()
    if rels_info is not None:
        rels = _parse_xml(key[1], rels_info.filename)
        for rel in rels.iter(f"{{{_PKG_REL_NS}}}Relationship"):
            target = rel.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            targets[rel.get("Id", "")] = posixpath.normpath(target).lower()
            # calamine reads a sheet as a worksheet by its relationship's type, wherever the
            # part lies (xl/worksheets/ is only the usual place)
            if rel.get("Type", "").lower().endswith("worksheet"):
                worksheet_rels.add(rel.get("Id", ""))
    sheets: list[tuple[str, str]] = []
    for sheet in workbook.iter(f"{{{ns}}}sheet"):
        rid = next((sheet.get(f"{{{r}}}id") for r in _REL_NS if sheet.get(f"{{{r}}}id")), None)
        part = targets.get(rid or "", "")
        if rid in worksheet_rels or "/worksheets/" in f"/{part}":  # not chart or dialog sheets
            sheets.append((sheet.get("name", ""), part))
    pr = workbook.find(f"{{{ns}}}workbookPr")
    date1904 = pr is not None and pr.get("date1904", "0").lower() in ("1", "true")
    found = _BookParts(tuple(sheets), date1904)
    if len(_BOOKS) >= _BOOKS_MAX:
        _BOOKS.clear()
    _BOOKS[key] = found
    return found


def _scan_parts(
    zf: zipfile.ZipFile,
    parts: dict[str, zipfile.ZipInfo],
    limits: Limits,
    own: frozenset[str] = frozenset(),
    keep: dict[str, bytes] | None = None,
) -> dict[str, _SheetScan]:
    book = _book_parts(zf, parts)
    scans: dict[str, _SheetScan] = {}
    for name, part in book.sheets:
        info = parts.get(part)
        if info is None:
            continue  # a missing part is calamine's to report
        scan = _SheetScan(name)
        _scan_sheet(zf, info, scan, limits, cells=scan.name not in own, keep=keep)
        scans.setdefault(scan.name, scan)
    if any(scan.raw_rows for scan in scans.values()):
        _decode_raw_rows(zf, parts, scans.values(), book.date1904)
    return scans


_DIMENSION = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?dimension\s+ref\s*=\s*[\"']([^\"']*)[\"']")
_VALUE_TAIL = rb"\s*(?:<(?:\w+:)?v\s*/>\s*|<(?:\w+:)?v>\s*</(?:\w+:)?v>\s*)?</(?:\w+:)?c>"
# A formula element followed by the end of its cell (or an empty <v>): no cached value.
_FORMULA_END_NO_VALUE = re.compile(rb"</(?:\w+:)?f>" + _VALUE_TAIL)
_EMPTY_FORMULA_NO_VALUE = re.compile(rb"<(?:\w+:)?f\s[^>]*/>" + _VALUE_TAIL)
_ERROR_CELL = re.compile(rb"\st\s*=\s*[\"']e[\"']")


def _scan_sheet(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    scan: _SheetScan,
    limits: Limits,
    *,
    cells: bool = True,
    keep: dict[str, bytes] | None = None,
) -> None:
    """Triage a worksheet cheaply, and parse it only when something needs it.

    * Extent: the ``<dimension>`` element every office suite writes is trusted when it is
      within the limits (a file that lies about it can still kill calamine: the sandbox
      catches that). When it is missing or too large, the real cells are measured.
    * Formulas without a cached value and error cells (only when ``cells``): byte patterns
      first (C speed, no tree); only a sheet that has some is parsed with lxml to find exactly
      which cells.
    """
    if info.file_size > limits.fast_scan_max_bytes:
        with zf.open(info) as fh:
            _scan_sheet_streaming(fh, info.filename, scan, limits)
        if not cells:
            scan.forget_cells()
        return
    data = zf.read(info)
    if _head_has_doctype(data):
        raise _UnsafeXml(info.filename)
    if keep is not None:
        keep[info.filename] = data
    dimension = _DIMENSION.search(data, 0, 4096)
    extent = _parse_dimension(dimension.group(1)) if dimension else None
    trusted = extent is not None and not _too_large(*extent, limits)
    if cells:
        area = _cell_area(data)
        needs_cells = _may_have_formula_without_value(area) or _may_have_error_cell(area)
    else:
        needs_cells = False
    if trusted and (not needs_cells or _scan_sheet_tree(data, info.filename, scan)):
        return
    _scan_sheet_streaming(io.BytesIO(data), info.filename, scan, limits)
    if not cells:
        scan.forget_cells()


def _cell_area(data: bytes) -> bytes:
    """Where a worksheet's cells are, for the byte searches below: from the first
    ``<sheetData`` to the last ``</sheetData>`` (formulas and error values are cells; the
    conditional formats and validations after them are more than half of a form's sheet).
    The last end tag, not the first: a cell's CDATA text or an XML comment may hold a literal
    ``</sheetData>``, and the cells after it must still be searched. A stray tag in a comment
    before or after the element only makes the area larger. The whole sheet when either tag
    is not there as office suites write it (a namespace prefix, ``<sheetData/>``)."""
    start = data.find(b"<sheetData")
    if start < 0:
        return data
    end = data.rfind(b"</sheetData>", start)
    return data if end < 0 else data[start:end]


def _may_have_formula_without_value(data: bytes) -> bool:
    # ``in`` is a C memory search; the regexes run only on sheets that have formulas at all.
    # Each search costs about 1 ns a byte (CPython's search is slow for short needles whose
    # last byte is common in XML): two cover all four needles below on a sheet without any.
    if b"f>" not in data and b"f " not in data:
        return False
    if (b"</f>" in data or b":f>" in data) and _FORMULA_END_NO_VALUE.search(data):
        return True
    return (b"<f " in data or b":f " in data) and bool(_EMPTY_FORMULA_NO_VALUE.search(data))


def _may_have_error_cell(data: bytes) -> bool:
    return (b'"e"' in data or b"'e'" in data) and bool(_ERROR_CELL.search(data))


def _parse_dimension(ref: bytes) -> tuple[int, int] | None:
    try:
        return split_ref(ref.decode("ascii").split(":")[-1])
    except (UnicodeDecodeError, ValueError):
        return None


def _too_large(max_row: int, max_col: int, limits: Limits) -> bool:
    return (
        max_row > limits.max_rows
        or max_col > limits.max_cols
        or max_row * max_col > limits.max_cells
    )


def _scan_sheet_tree(data: bytes, part: str, scan: _SheetScan) -> bool:
    """The worksheet parsed whole by lxml and queried with XPath. Returns ``False`` (nothing
    recorded) when a cell has no ``r`` attribute: positions must then be counted."""
    from lxml import etree

    root = etree.fromstring(data, _safe_parser())
    if root.getroottree().docinfo.doctype:
        raise _UnsafeXml(part)
    ns = root.tag[1 : root.tag.index("}")] if root.tag.startswith("{") else ""
    xpaths = _xpaths(ns)
    if xpaths is None:
        return True  # not SpreadsheetML: calamine will say what it thinks
    if xpaths.unreferenced(root):
        return False
    rows = []
    for cell in xpaths.formulas(root):
        scan.formulas.append(cell.get("r"))
        if cell.getparent() not in rows:
            rows.append(cell.getparent())
    for cell in xpaths.errors(root):
        scan.errors.append((cell.get("r"), xpaths.value(cell) or "#N/A"))
    for row in rows:
        raw = [_raw_cell(cell) for cell in row if cell.tag in _C]
        cells = [cell for cell in raw if cell is not None]
        first = next((c for c in row if c.tag in _C), None)
        if cells and first is not None:
            scan.raw_rows[split_ref(first.get("r"))[0]] = cells
    return True


def _raw_cell(cell) -> _RawCell | None:  # type: ignore[no-untyped-def]
    try:
        col = split_ref(cell.get("r", ""))[1]
    except ValueError:
        return None
    v_text = inline = None
    for child in cell:
        if child.tag in _V:
            v_text = child.text
        elif child.tag in _IS:
            inline = _text_of(child)
    return col, cell.get("t"), cell.get("s"), v_text, inline


@dataclass(frozen=True)
class _XPaths:
    unreferenced: Any  # count of cells without an r attribute
    formulas: Any  # formula cells without a cached value
    errors: Any  # error cells
    value: Any  # a cell's <v> text


_XPATH_CACHE: dict[str, _XPaths] = {}


def _xpaths(ns: str) -> _XPaths | None:
    if ns not in _MAIN_NS:
        return None
    if ns not in _XPATH_CACHE:
        from lxml import etree

        def xp(path: str) -> Any:
            return etree.XPath(path, namespaces={"m": ns}, smart_strings=False)

        _XPATH_CACHE[ns] = _XPaths(
            unreferenced=xp("count(//m:c[not(@r)])"),
            formulas=xp('//m:c[m:f][not(m:v) or m:v=""][not(@t="e")]'),
            errors=xp('//m:c[@t="e"]'),
            value=xp("string(m:v)"),
        )
    return _XPATH_CACHE[ns]


def _scan_sheet_streaming(fh: IO[bytes], part: str, scan: _SheetScan, limits: Limits) -> None:
    """One streaming pass over a worksheet's XML that measures the real extent (stopping as
    soon as it is too large), and finds formulas without a value, error cells and positions of
    cells without ``r`` attributes. For large parts, missing dimensions and unusual files."""
    from lxml import etree

    max_row = max_col = row_no = col_no = 0
    current_row = None
    raw: list[_RawCell] = []
    row_has_missing = checked = False
    events = etree.iterparse(
        fh,
        events=("end",),
        tag=[*_C, *_ROW],
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
    )
    for _, elem in events:
        if not checked:
            if elem.getroottree().docinfo.doctype:
                raise _UnsafeXml(part)
            checked = True
        if elem.tag in _ROW:
            if current_row is not elem:  # a row without cells
                r = elem.get("r")
                row_no = int(r) if r and r.isdigit() else row_no + 1
            if row_has_missing:
                scan.raw_rows[row_no] = raw
            raw, row_has_missing, current_row = [], False, None
            elem.clear()
            parent = elem.getparent()
            while parent is not None and elem.getprevious() is not None:
                del parent[0]
            continue
        parent = elem.getparent()
        if parent is not current_row:  # first cell of a row
            current_row = parent
            r = parent.get("r") if parent is not None else None
            row_no = int(r) if r and r.isdigit() else row_no + 1
            col_no = 0
        ref = elem.get("r")
        try:
            row_no, col_no = split_ref(ref) if ref else (row_no, col_no + 1)
        except ValueError:
            col_no += 1
        t = elem.get("t")
        has_f = has_v = False
        v_text = inline = None
        for child in elem:
            tag = child.tag
            if tag in _V:
                has_v, v_text = True, child.text
            elif tag in _F:
                has_f = True
            elif tag in _IS:
                inline = _text_of(child)
        if not (has_f or has_v or inline is not None):
            continue  # an empty (styled) cell: calamine ignores it too
        if row_no > max_row or col_no > max_col:
            max_row, max_col = max(max_row, row_no), max(max_col, col_no)
            if _too_large(max_row, max_col, limits):
                raise _TooLarge(scan.name, cell_ref(row_no, col_no))
        if t == "e":
            scan.errors.append((cell_ref(row_no, col_no), v_text or "#N/A"))
        elif has_f and not v_text:
            scan.formulas.append(cell_ref(row_no, col_no))
            row_has_missing = True
        raw.append((col_no, t, elem.get("s"), v_text, inline))


def _text_of(string_item) -> str:  # type: ignore[no-untyped-def]
    """The text of an ``<si>`` or ``<is>``: its ``<t>`` and rich-text runs' ``<t>``, without
    phonetic guides (``<rPh>``)."""
    parts: list[str] = []
    for child in string_item:
        if child.tag in _T:
            parts.append(child.text or "")
        elif child.tag in _R:
            parts.extend(t.text or "" for t in child if t.tag in _T)
    return "".join(parts)


# --- decoding raw cells (only for rows holding a formula without a cached value) -------------

_DATE_FORMAT_IDS = frozenset({*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)})
_TIME_FORMAT_IDS = frozenset({18, 19, 20, 21, 45, 46, 47})
_QUOTED = re.compile(r'"[^"]*"|\\.|_.|\*.')
_BRACKETS = re.compile(r"\[[^\]]*\]")


def _format_kind(code: str) -> str:
    """'date', 'datetime', 'time', 'duration' or 'number' for a number format code."""
    first = _QUOTED.sub("", code.split(";")[0])
    if re.search(r"\[(h+|m+|s+)\]", first, re.IGNORECASE):
        return "duration"
    first = _BRACKETS.sub("", first).lower()
    has_date = any(ch in first for ch in "dy") or (
        "m" in first and "h" not in first and "s" not in first
    )
    has_time = "h" in first or "s" in first
    if has_date and has_time:
        return "datetime"
    if has_date:
        return "date"
    return "time" if has_time else "number"


def _decode_raw_rows(
    zf: zipfile.ZipFile,
    parts: dict[str, zipfile.ZipInfo],
    scans: Iterable[_SheetScan],
    date1904: bool,
) -> None:
    shared = _shared_strings(zf, parts)
    formats = _cell_formats(zf, parts)
    epoch = datetime(1904, 1, 1) if date1904 else datetime(1899, 12, 30)
    for scan in scans:
        for row, cells in scan.raw_rows.items():
            for col, t, s, v, inline in cells:
                value: Value = None
                if t == "inlineStr":
                    value = inline
                elif v is None or v == "" or t == "e":
                    value = None
                elif t == "s":
                    idx = int(v) if v.isdigit() else -1
                    value = shared[idx] if 0 <= idx < len(shared) else None
                elif t == "b":
                    value = v.strip() in ("1", "true")
                elif t in ("str", "d"):
                    value = v
                else:
                    value = _number(v, formats, s, epoch)
                if value is not None and value != "":
                    scan.recovered[(row, col)] = value


def _number(text: str, formats: list[str], style: str | None, epoch: datetime) -> Value:
    try:
        number = float(text)
    except ValueError:
        return None
    kind = formats[int(style)] if style and style.isdigit() and int(style) < len(formats) else ""
    if kind in ("", "number"):
        return number
    try:
        if kind == "duration":
            return timedelta(milliseconds=round(number * 86_400_000))
        moment = epoch + timedelta(milliseconds=round(number * 86_400_000))
    except OverflowError:
        return number
    if kind == "time" and 0 <= number < 1:
        return moment.time()
    if kind == "date" and number == int(number):
        return moment.date()
    return moment


def _shared_strings(zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo]) -> list[str]:
    info = parts.get("xl/sharedstrings.xml")
    if info is None:
        return []
    return [_text_of(si) for si in _parse_small(zf, info) if si.tag in _SI]


def _cell_formats(zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo]) -> list[str]:
    """For each cell style index: the kind of its number format (see :func:`_format_kind`)."""
    info = parts.get("xl/styles.xml")
    if info is None:
        return []
    root = _parse_small(zf, info)
    ns = root.nsmap.get(None) or _MAIN_NS[0]
    custom = {
        int(fmt.get("numFmtId", "-1")): _format_kind(fmt.get("formatCode", ""))
        for fmt in root.iter(f"{{{ns}}}numFmt")
    }
    kinds: list[str] = []
    xfs = root.find(f"{{{ns}}}cellXfs")
    for xf in xfs if xfs is not None else ():
        fid = int(xf.get("numFmtId", "0"))
        if fid in custom:
            kinds.append(custom[fid])
        elif fid in _DATE_FORMAT_IDS:
            kinds.append(
                "datetime" if fid in (22,) else "time" if fid in _TIME_FORMAT_IDS else "date"
            )
        else:
            kinds.append("number")
    return kinds


# --- calamine ----------------------------------------------------------------------------------


def _read_calamine(
    data: bytes, kind: Kind, scans: dict[str, _SheetScan] | None, name: str
) -> ReadResult:
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except (python_calamine.CalamineError, ValueError, OSError, EOFError) as exc:
        return _exception_failure(exc).result(kind, name)
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        return _panic_failure(exc).result(kind, name)
    try:
        sheets: dict[str, RawSheet] = {}
        for meta in workbook.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet or meta.name in sheets:
                continue
            rows = workbook.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
            visibility: Visibility = (
                "hidden"
                if meta.visible == python_calamine.SheetVisibleEnum.Hidden
                else "veryhidden"
                if meta.visible == python_calamine.SheetVisibleEnum.VeryHidden
                else "visible"
            )
            sheets[meta.name] = RawSheet(meta.name, visibility, _normalise(rows))
    except (python_calamine.CalamineError, ValueError, OverflowError) as exc:
        return _exception_failure(exc).result(kind, name)
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        return _panic_failure(exc).result(kind, name)
    finally:
        try:
            workbook.close()
        except BaseException as exc:
            if not _is_panic(exc):
                raise
    book_format: BookFormat = "xls" if kind in ("xls", "ole") else kind  # type: ignore[assignment]
    formulas: list[tuple[str, str]] = []
    errors: list[tuple[str, str, str]] = []
    for scan in (scans or {}).values():
        sheet = sheets.get(scan.name)
        if sheet is None:
            continue
        for ref, text in scan.errors:
            _set(sheet.rows, *split_ref(ref), None)
            errors.append((scan.name, ref, text))
        for ref in scan.formulas:
            _set(sheet.rows, *split_ref(ref), None)
            formulas.append((scan.name, ref))
        for (row, col), value in scan.recovered.items():
            if sheet.value(row, col) is None:
                _set(sheet.rows, row, col, value)
    return ReadResult(
        kind=kind,
        book=RawBook(book_format, sheets, tuple(formulas), tuple(errors)),
    )


def _is_panic(exc: BaseException) -> bool:
    """A Rust panic inside calamine (corrupt .xls records, bad offsets) reaches Python as
    ``pyo3_runtime.PanicException``, a ``BaseException``: it is bad input, not a bug here."""
    return type(exc).__name__ == "PanicException"


def _panic_failure(exc: BaseException) -> _Failure:
    return _Failure(
        "corrupt",
        f"文件内部结构已损坏，无法解析，{_RESEND}",
        f"calamine panic: {exc}"[:500],
    )


def _set(rows: list[list[Value]], row: int, col: int, value: Value) -> None:
    """Set a 1-based cell, growing the rectangle (all rows the same length) when needed."""
    if value is None and (row > len(rows) or (rows and col > len(rows[0]))):
        return  # outside the area: already empty
    width = max(len(rows[0]) if rows else 0, col)
    if rows and len(rows[0]) < width:
        for line in rows:
            line.extend([None] * (width - len(line)))
    while len(rows) < row:
        rows.append([None] * width)
    rows[row - 1][col - 1] = value


def _normalise(rows: list[list[object]]) -> list[list[Value]]:
    """calamine's values → ours: ``""`` → ``None``, whole numbers from .xls → ``float``."""
    out: list[list[Value]] = []
    for row in rows:
        out.append(
            [
                None if v == "" else float(v) if type(v) is int else v  # type: ignore[misc]
                for v in row
            ]
        )
    return out
