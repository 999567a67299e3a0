"""Decide what a file really is from its bytes, never from its name.

Units rename files, webmail "downloads" an HTML preview under the attachment's name, a zip of
attachments and an ``.xlsx`` share the ``PK`` signature, and a real ``.xls``, a Word ``.doc`` and
a password-protected ``.xlsx`` all share the OLE signature. This module tells them apart while
reading as little as possible:

* plain files (PDF, images, HTML, CSV, text, empty): the first few KiB only;
* zip files: the central directory only (the member list), plus ``[Content_Types].xml`` when it
  is small, to tell ``.xlsm`` from ``.xlsx``: no other member is decompressed. With
  ``quick=True`` a workbook is told from its member names alone (``xl/workbook.xml``; ``.xlsm``
  when it holds ``xl/vbaProject.bin``), read straight from the directory's bytes: this is what the
  inbox scan needs (is it a workbook, an archive to expand, or something else?), at a tenth of
  the cost; the workbook reader later decides exactly;
* OLE compound files: the header, the directory sectors and the FAT sectors needed to follow
  the directory chain, to find the stream names (``EncryptedPackage``, ``Workbook``,
  ``WordDocument``...).

Nothing here raises for bad input: a file that cannot be classified is ``"unknown"`` (or
``"damaged"`` when it starts like a zip but its directory cannot be read, e.g. a download cut
short). Only :class:`OSError` from opening a path propagates (the caller decides what a missing
file means).
"""

from __future__ import annotations

import codecs
import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Final, Literal

Kind = Literal[
    "xlsx",  # Office Open XML workbook without macros
    "xlsm",  # ... with macros (vbaProject.bin or a macro-enabled content type)
    "xlsb",  # Excel binary workbook (zip with xl/workbook.bin)
    "xls",  # OLE compound file with a Workbook/Book stream (BIFF .xls, also WPS .et)
    "ole",  # OLE compound file whose streams could not be listed: maybe a workbook
    "encrypted",  # OLE compound file with EncryptedPackage: a password-protected OOXML file
    "ods",  # OpenDocument spreadsheet
    "office",  # another Office document: .docx/.pptx/.doc/.ppt/.odt...
    "zip",  # an archive that is not an Office document
    "archive",  # another archive format (rar, 7z, gzip...)
    "damaged",  # starts like a zip, but the zip directory cannot be read (truncated, corrupt)
    "pdf",
    "image",
    "html",  # also MHT ("single file web page")
    "xml",  # XML that is not a workbook part, e.g. "XML Spreadsheet 2003"
    "csv",
    "text",
    "empty",
    "unknown",
]

#: Kinds the workbook reader can parse (``ole`` is tried and may turn out unreadable).
WORKBOOK_KINDS: Final = frozenset({"xlsx", "xlsm", "xls", "ole"})
#: Kinds that are certainly not a spreadsheet: the inbox scan skips them without reading further.
NON_SPREADSHEET_KINDS: Final = frozenset({"pdf", "image", "office"})

HEAD_BYTES: Final = 8192  # enough to classify text and HTML

OLE_SIGNATURE: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_IMAGE_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF
    b"MM\x00*",
)
_ARCHIVE_SIGNATURES = (
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
    b"\x1f\x8b",  # gzip
    b"BZh",
    b"\xfd7zXZ\x00",
)
_CONTENT_TYPES_MAX = 1 << 20  # read [Content_Types].xml only when it is this small
_OLE_MAX_DIR_SECTORS = 512  # bound the directory walk (cycles in a crafted file)


def sniff(source: bytes | Path | BinaryIO, *, quick: bool = False) -> Kind:
    """Classify ``source``: the whole file's bytes, a path, or a seekable binary stream.

    Given a path or a stream, only the bytes needed are read (see the module docstring). Given
    bytes, they must be the whole file (a zip's directory is at its end). ``quick``: see the
    module docstring (a workbook's ``xlsx``/``xlsm`` from its member names only).
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return _sniff_stream(io.BytesIO(source), quick)
    if isinstance(source, Path):
        with source.open("rb") as fh:
            return _sniff_stream(fh, quick)
    return _sniff_stream(source, quick)


def _sniff_stream(fh: BinaryIO, quick: bool = False) -> Kind:
    fh.seek(0)
    head = fh.read(HEAD_BYTES)
    if not head:
        return "empty"
    if head.startswith(_ZIP_SIGNATURES):
        if quick:
            names = _zip_names(fh)
            if names is not None and b"xl/workbook.xml" in names:
                return "xlsm" if b"xl/vbaproject.bin" in names else "xlsx"
        return _sniff_zip(fh)
    if head.startswith(OLE_SIGNATURE):
        return _sniff_ole(fh)
    return sniff_head(head)


def sniff_head(head: bytes) -> Kind:
    """Classify from the first bytes alone. Zip and OLE files need more than a head: for them
    this returns ``"zip"`` / ``"ole"`` (use :func:`sniff` on the whole file to decide)."""
    if not head:
        return "empty"
    if head.startswith(_ZIP_SIGNATURES):
        return "zip"
    if head.startswith(OLE_SIGNATURE):
        return "ole"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(_IMAGE_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head.startswith(_ARCHIVE_SIGNATURES):
        return "archive"
    return _sniff_text(head[:HEAD_BYTES])


# --- zip -------------------------------------------------------------------------------------


def _sniff_zip(fh: BinaryIO) -> Kind:
    fh.seek(0)
    try:
        with zipfile.ZipFile(fh) as zf:
            return zip_kind(zf)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error, NotImplementedError):
        return "damaged"


_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_CD_ENTRY = struct.Struct("<4s6H3L5H2L")  # central directory file header
_CD_LENGTHS = struct.Struct("<4s24x3H")  # ... its signature and name, extra, comment lengths
_EOCD_MAX_SEARCH = _EOCD.size + 0xFFFF  # the record and the longest comment


def _zip_names(fh: BinaryIO) -> set[bytes] | None:
    """The member names in a zip's central directory as raw bytes (cut at a NUL, ``/``
    separators, ASCII lower case), parsed without building :class:`zipfile.ZipInfo` objects.
    An ASCII name such as ``xl/workbook.xml`` is here exactly when :mod:`zipfile` lists it
    (both decodings it uses keep ASCII as is). ``None`` for anything unusual (Zip64, data
    before the archive, a comment holding the record's signature, an inconsistent directory):
    the caller then asks :mod:`zipfile`."""
    try:
        size = fh.seek(0, io.SEEK_END)
        start = max(0, size - _EOCD_MAX_SEARCH)
        fh.seek(start)
        tail = fh.read(size - start)
    except (OSError, ValueError):
        return None
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + _EOCD.size > len(tail):
        return None
    _, disk, cd_disk, on_disk, count, cd_size, cd_offset, comment = _EOCD.unpack_from(tail, pos)
    if (
        disk
        or cd_disk
        or on_disk != count
        or pos + _EOCD.size + comment != len(tail)
        or cd_offset + cd_size != start + pos  # Zip64 markers and prepended data fail here
    ):
        return None
    if cd_offset >= start:
        directory = tail[cd_offset - start : pos]
    else:
        fh.seek(cd_offset)
        directory = fh.read(cd_size)
    # Names are taken from a copy with ``/`` separators in ASCII lower case: both changes keep
    # every byte in its place, so the entries are parsed from the original and each name is
    # one slice of the copy (cut at a NUL), with no per-name conversions.
    folded = directory.replace(b"\\", b"/").lower()
    names: set[bytes] = set()
    at = 0
    end = len(directory)
    head = _CD_ENTRY.size
    lengths = _CD_LENGTHS.unpack_from
    for _ in range(count):
        if at + head > end:
            return None
        signature, name_len, extra_len, comment_len = lengths(directory, at)
        if signature != b"PK\x01\x02":
            return None
        start = at + head
        stop = start + name_len
        nul = folded.find(b"\x00", start, stop)
        names.add(folded[start : stop if nul < 0 else nul])
        at = stop + extra_len + comment_len
    return names if at == end else None


def zip_kind(zf: zipfile.ZipFile) -> Kind:
    """Classify an open zip by its member names (and a small ``[Content_Types].xml``)."""
    infos = {info.filename.replace("\\", "/").lower(): info for info in zf.infolist()}
    if "xl/workbook.xml" in infos:
        return "xlsm" if _has_macros(zf, infos) else "xlsx"
    if "xl/workbook.bin" in infos:
        return "xlsb"
    if "mimetype" in infos and "content.xml" in infos:
        mimetype = _small_member(zf, infos["mimetype"], 256)
        return "ods" if b"opendocument.spreadsheet" in mimetype else "office"
    if "[content_types].xml" in infos:
        return "office"  # word/, ppt/, visio/...: an Office document, not a workbook
    return "zip"


def _has_macros(zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> bool:
    if "xl/vbaproject.bin" in infos:
        return True
    info = infos.get("[content_types].xml")
    if info is None:
        return False
    return b"macroEnabled" in _small_member(zf, info, _CONTENT_TYPES_MAX)


def _small_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The member's bytes if it is declared small and reads cleanly, else ``b""``."""
    if info.file_size > limit or info.flag_bits & 0x1:
        return b""
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError):
        return b""


# --- OLE compound files ----------------------------------------------------------------------

_FREE_OR_END = frozenset({0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC})


def ole_stream_names(fh: BinaryIO) -> set[str] | None:
    """Names of the entries in an OLE compound file's directory, or ``None`` when the directory
    cannot be walked (truncated file, or a FAT too large for the header's DIFAT)."""
    fh.seek(0)
    header = fh.read(512)
    if len(header) < 512 or not header.startswith(OLE_SIGNATURE):
        return None
    shift = struct.unpack_from("<H", header, 0x1E)[0]
    if shift not in (9, 12):
        return None
    size = 1 << shift
    per_fat_sector = size // 4
    difat = struct.unpack_from("<109I", header, 0x4C)
    sid = struct.unpack_from("<I", header, 0x30)[0]
    names: set[str] = set()
    seen: set[int] = set()
    while sid not in _FREE_OR_END:
        if sid in seen or len(seen) >= _OLE_MAX_DIR_SECTORS:
            return None
        seen.add(sid)
        fh.seek((sid + 1) * size)
        sector = fh.read(size)
        if len(sector) < size:
            return names or None  # truncated: what was read is still informative
        for pos in range(0, size, 128):
            length = struct.unpack_from("<H", sector, pos + 0x40)[0]
            if 2 <= length <= 64 and sector[pos + 0x42] in (1, 2, 5):
                name = sector[pos : pos + length - 2].decode("utf-16-le", "replace")
                names.add(name)
        fat_index, slot = divmod(sid, per_fat_sector)
        if fat_index >= len(difat) or difat[fat_index] in _FREE_OR_END:
            return names or None
        fh.seek((difat[fat_index] + 1) * size + slot * 4)
        raw = fh.read(4)
        if len(raw) < 4:
            return names or None
        sid = struct.unpack("<I", raw)[0]
    return names


def _sniff_ole(fh: BinaryIO) -> Kind:
    names = ole_stream_names(fh)
    if names is None:
        return "ole"
    if "EncryptedPackage" in names or "EncryptionInfo" in names:
        return "encrypted"
    if "Workbook" in names or "Book" in names:
        return "xls"
    if {"WordDocument", "PowerPoint Document"} & names:
        return "office"
    return "ole"


# --- text ------------------------------------------------------------------------------------

_ALLOWED_CONTROLS = frozenset("\t\n\r\x0c")


def _decode_head(head: bytes) -> str | None:
    """Decode a file's head as text (UTF-8/UTF-16 with BOM, UTF-8, then GB18030), tolerating a
    multi-byte character cut at the end of the head. ``None`` if it is not text."""
    candidates: list[tuple[str, bytes]]
    if head.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8", head[3:])]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [("utf-16", head)]
    else:
        candidates = [("utf-8", head), ("gb18030", head)]
    for encoding, raw in candidates:
        try:
            text = codecs.getincrementaldecoder(encoding)("strict").decode(raw, final=False)
        except UnicodeDecodeError:
            continue
        if any(ch < " " and ch not in _ALLOWED_CONTROLS for ch in text):
            return None
        return text
    return None


def _sniff_text(head: bytes) -> Kind:
    text = _decode_head(head)
    if text is None:
        return "unknown"
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    start = lowered[:4096]
    if lowered.startswith(("<!doctype html", "<html", "<table", "<head", "<body", "<meta")):
        return "html"
    if lowered.startswith("mime-version:") or "content-type: multipart/related" in start:
        return "html"  # MHT: Excel's or a browser's "single file web page"
    if lowered.startswith("<?xml") or lowered.startswith("<"):
        return "html" if "<html" in start else "xml"
    lines = text.splitlines()
    if len(head) >= HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the head may end in the middle of a line
    lines = [line for line in lines[:20] if line.strip()]
    if lines and all(("," in line or "\t" in line or ";" in line) for line in lines):
        return "csv"
    return "text"
