"""Writing ropeguard's own files: atomically, and into run folders named one way.

`write_atomic` writes a temporary file next to the target, fsyncs it and renames it over the target,
so a reader (or a resumed run) sees the old file or the new one, never half of one. `run_folder`
names the folder a command writes when the user gives none: `ropeguard-runs/<kind>-<UTC stamp>`.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

RUNS_ROOT = Path("ropeguard-runs")
STAMP_FORMAT = "%Y%m%d-%H%M%S"


def write_atomic(path: Path, text: str, *, encoding: str = "utf-8") -> None:
    """Replace `path` by `text` in one rename (the folder must exist)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding=encoding) as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def utc_stamp(moment: datetime | None = None) -> str:
    """`20261201-104500` for now (UTC), or for `moment`."""
    return (moment or datetime.now(timezone.utc)).strftime(STAMP_FORMAT)


def run_folder(kind: str | None, *, root: Path = RUNS_ROOT) -> Path:
    """`root/<kind>-<stamp>` (`root/<stamp>` without a kind): a new folder name, not created."""
    stamp = utc_stamp()
    return root / (f"{kind}-{stamp}" if kind else stamp)
