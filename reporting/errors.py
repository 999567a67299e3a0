"""The small exception tree for "the tool cannot go on".

Bad input is *not* an exception: it is a :class:`~reporting.findings.Finding`. These classes
are raised only when a command cannot continue at all; the CLI translates each into a Chinese
message on stderr and exit code 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reporting.findings import Finding


class ReportingError(Exception):
    """Base of every error the library raises on purpose. ``str(err)`` is Chinese for users."""


class WorkspaceError(ReportingError):
    """The workspace is missing, incomplete, or would be overwritten (e.g. ``init`` over a plan)."""


class PlanError(ReportingError):
    """The plan workbook cannot be used: unreadable, or it has errors (listed in ``findings``)."""

    def __init__(self, message: str, findings: Sequence[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = tuple(findings)


class UsageError(ReportingError):
    """An argument the user gave is malformed (a period like ``2014-13``, an unknown unit code)."""
