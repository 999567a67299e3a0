"""Write .xlsx/.docx packages from parts, some of them compressed once and reused.

An Office file is a zip of XML parts. When thousands of files share most of their parts
(styles, theme, settings), compressing those once per process and copying the compressed bytes
into every file is much cheaper than :mod:`zipfile`, which compresses every part again.
Entries are plain deflate, no zip64 (parts stay far below 4 GiB), dated 1980-01-01 like
XlsxWriter's, so the same parts always give the same bytes. Parts made once are compressed at
zlib's default level; parts made for every file at :data:`FAST` (a third of the time; an
inspector sheet's .xlsx comes out ~7% larger, its .docx ~2%).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")
_DOS_TIME, _DOS_DATE = 0, (1 << 5) | 1  # 1980-01-01 00:00:00
_VERSION = 20  # 2.0: deflate
_MADE_BY = (3 << 8) | _VERSION  # Unix
_MODE = (0o100600 & 0xFFFF) << 16  # a regular file, rw-------
XLSXWRITER_MODE = 0o600 << 16  # what zipfile records for XlsxWriter's parts (no file-type bits)
_UTF8_NAME = 1 << 11
_LIMIT = 0xFFFFFFFF
FAST = 1  # compression level for the parts written anew in every file


@dataclass(frozen=True)
class Part:
    """One compressed member of a package."""

    name: str
    crc: int
    size: int
    data: bytes  # raw deflate stream (or the part itself when stored)
    method: int = zlib.DEFLATED  # or 0: stored


def deflate(name: str, data: bytes, level: int = 6) -> Part:
    if len(data) >= _LIMIT:
        raise ValueError(f"{name}: part too large for a zip without zip64")
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    return Part(name, zlib.crc32(data), len(data), packer.compress(data) + packer.flush())


def pack(parts: Iterable[Part], *, mode: int = _MODE) -> bytes:
    """The zip file holding ``parts`` in the order given (``mode``: the entries' external
    attributes; :data:`XLSXWRITER_MODE` gives XlsxWriter's archive byte for byte)."""
    out: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    count = 0
    for part in parts:
        name = part.name.encode()
        flags = 0 if part.name.isascii() else _UTF8_NAME
        head = _LOCAL.pack(
            b"PK\x03\x04",
            _VERSION,
            flags,
            part.method,
            _DOS_TIME,
            _DOS_DATE,
            part.crc,
            len(part.data),
            part.size,
            len(name),
            0,
        )
        central.append(
            _CENTRAL.pack(
                b"PK\x01\x02",
                _MADE_BY,
                _VERSION,
                flags,
                part.method,
                _DOS_TIME,
                _DOS_DATE,
                part.crc,
                len(part.data),
                part.size,
                len(name),
                0,
                0,
                0,
                0,
                mode,
                offset,
            )
            + name
        )
        out += (head, name, part.data)
        offset += len(head) + len(name) + len(part.data)
        count += 1
    directory = b"".join(central)
    if offset + len(directory) >= _LIMIT or count >= 0xFFFF:
        raise ValueError("package too large for a zip without zip64")
    end = _END.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), offset, 0)
    return b"".join([*out, directory, end])
