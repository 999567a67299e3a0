"""Reporting periods (月报周期) and their deadlines."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from reporting.errors import UsageError

_PERIOD = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*$")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month, written ``YYYY-MM``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        m = _PERIOD.match(text or "")
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise UsageError(f"报送期“{text}”格式不对，应写成 年-月，例如 2014-05")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def canonical(cls, text: str | None) -> str | None:
        """``text`` written as a period (``YYYY-MM``), or ``None`` when it is not one: for a
        period read from a returned file, which may be anything (even ``../..``)."""
        try:
            return str(cls.parse(text or ""))
        except UsageError:
            return None

    @property
    def label(self) -> str:
        """Chinese label, e.g. ``2014年5月``."""
        return f"{self.year}年{self.month}月"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @cached_property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def deadline(self, day: int) -> date:
        """Return deadline: day ``day`` of the following month, clamped to that month's length."""
        nxt = self.next()
        return date(nxt.year, nxt.month, min(day, calendar.monthrange(nxt.year, nxt.month)[1]))


def months_between(start: date, end: date) -> list[Period]:
    """Every period from the month of ``start`` to the month of ``end`` inclusive."""
    out: list[Period] = []
    p, last = Period(start.year, start.month), Period(end.year, end.month)
    while p <= last:
        out.append(p)
        p = p.next()
    return out
