"""Text as Excel and Word count and accept it: UTF-16 lengths, cuts, characters XML forbids."""

from __future__ import annotations

import re

# Characters XML 1.0 cannot hold (a unit's or a plan's text may carry them; a Word line break
# pasted into Excel is \x0b): XlsxWriter writes attributes such as validation prompts as they
# are, and the file then does not open.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# What Windows does not allow in a file name, and control characters.
_UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def safe_name(text: str) -> str:
    """A file-name-safe version of a unit's code or name (Windows forbids \\ / : * ? " < > |)."""
    return _UNSAFE_IN_NAME.sub("_", text).strip(" .") or "_"


def xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def utf16_len(text: str) -> int:
    """Length as Excel counts it: a character beyond the BMP (an emoji) is two."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` UTF-16 units, ending in "…" when cut: a validation prompt
    title one unit over Excel's 32 made XlsxWriter drop the whole validation."""
    if len(text) <= limit // 2 or utf16_len(text) <= limit:
        return text
    kept, units = [], 0
    for ch in text:
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit - 1:
            break
        kept.append(ch)
    return "".join(kept) + "…"


def header_footer_text(text: str) -> str:
    """Text shown as it is in an Excel page header or footer, where ``&`` starts a code
    (``&B`` bold, ``&P`` page number): "A&B卫生院" must not print as "A卫生院" in bold."""
    return text.replace("&", "&&")
