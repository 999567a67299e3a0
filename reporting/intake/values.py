"""Turning what a cell holds into the value a form expects, the lenient way a clerk would.

Units paste from other files and type in WPS: ``"50 "``, ``"５０"``, ``"1,200"``, a date typed as
text. Clean conversions are accepted silently; anything ambiguous is left for a finding.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any

_DATE_TEXT = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
# Excel serials of 2000-01-01 … 2099-12-31: a date cell whose format was lost reads as a number.
_SERIAL_RANGE = (36526, 73050)


def clean_text(value: Any) -> str:
    """Text of a cell for display and comparison: numbers without ``.0``, dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return (
            value.date().isoformat()
            if value.time() == datetime.min.time()
            else value.isoformat(sep=" ")
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def to_number(value: Any) -> float | None:
    """A number from a numeric cell or clean numeric text (full-width digits, commas allowed).

    Never NaN or infinity: a crafted cell ``<v>NaN</v>`` or ``<v>1e999</v>`` (calamine reads
    both), or 400 typed digits, is not a number a unit can mean, and would pass every bound."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip().replace(",", "")
        if not _NUMBER_TEXT.match(text):
            return None
        number = float(text)
    else:
        return None
    return number if math.isfinite(number) else None


def to_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if _SERIAL_RANGE[0] <= value <= _SERIAL_RANGE[1] and float(value).is_integer():
            return date(1899, 12, 30) + timedelta(days=int(value))
        return None
    if isinstance(value, str) and (m := _DATE_TEXT.match(unicodedata.normalize("NFKC", value))):
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    return None


def fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
