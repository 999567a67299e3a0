"""One answer to "is this the same tool?" for everything kept between runs.

Workbooks recorded as current (:mod:`reporting.outputs`), the month's facts
(:mod:`reporting.factcache`) and the inbox files already read (:mod:`reporting.intake.seen`)
are only reused when made by exactly this code: a hash of every module of the ``reporting``
package and of the Python version. An upgrade only costs the next run the time to remake them.
"""

from __future__ import annotations

import hashlib
import sys
from functools import cache
from pathlib import Path


@cache
def tool_version() -> str:
    """A hash of every module of the ``reporting`` package and of the Python version."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256(sys.version.encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
