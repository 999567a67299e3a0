"""Run LibreOffice headless as a real office client (skipped where it is not installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")

needs_soffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) 未安装")


def convert(files: list[Path], fmt: str, outdir: Path, timeout: float = 180) -> list[Path]:
    """Convert ``files`` with one soffice call; returns the converted paths in order."""
    assert SOFFICE
    outdir.mkdir(parents=True, exist_ok=True)
    profile = outdir / ".lo-profile"
    env = {**os.environ, "HOME": str(outdir)}
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            *map(str, files),
        ],
        check=True,
        capture_output=True,
        timeout=timeout,
        env=env,
    )
    ext = fmt.split(":")[0]
    out = [outdir / f"{f.stem}.{ext}" for f in files]
    missing = [p for p in out if not p.is_file()]
    assert not missing, f"LibreOffice did not produce {missing}"
    return out
