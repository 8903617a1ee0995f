"""Writing files so that a crash never leaves half of one, and one writer per run folder.

- `write_atomic(path, data)`: the new content goes to a temporary file in the same folder, is fsynced,
  and replaces the old file with one `os.replace` (atomic on POSIX and Windows): a reader, or the
  next run after a kill -9 or a full disk, sees the old file or the new one, never a truncated mix.
  An existing file keeps its permission bits (a fixed `serve.sh` stays executable); a symlink is
  written through to its target.
- `RunLock(folder)`: an exclusive `flock` on FOLDER/.ropeguard.lock for as long as a run writes
  there. The kernel drops the lock when the process ends, however it ends, so a lock file left by a
  dead run is never stale; the pid inside only names the holder in the refusal message. (Without
  fcntl, on Windows, an O_EXCL lock file whose pid is no longer alive counts as stale.) A folder the
  lock created and nothing else wrote to is removed again on release.
- `results_on_interrupt(folder)`: turns Ctrl-C into `Interrupted`, which still is a KeyboardInterrupt
  but says where the results so far are (the CLI prints it and exits 130).
- `run_folder(kind)`: the folder a command writes when the user gives none,
  `ropeguard-runs/<kind>-<UTC stamp>` (one naming rule for eval, probe, serve, certify and demo).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from ropeguard.errors import Interrupted, UsageError

LOCK_FILE = ".ropeguard.lock"
RUNS_ROOT = Path("ropeguard-runs")
STAMP_FORMAT = "%Y%m%d-%H%M%S"
_DEFAULT_UMASK = 0o022

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: O_EXCL lock file with a pid, see RunLock
    fcntl = None  # type: ignore[assignment]


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _DEFAULT_UMASK


def write_atomic(path: Path | str, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Replace `path` with `data` atomically (temp file in the same folder + fsync + os.replace)."""
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    payload = data.encode(encoding) if isinstance(data, str) else data
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)
    return target


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


class RunLocked(UsageError):
    """Another ropeguard run is writing to this folder."""


class RunLock:
    """Exclusive use of a run folder: `with RunLock(folder): ...` (refuses with RunLocked, exit 2)."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._descriptor: int | None = None
        self._created = False

    def _refuse(self, holder: str) -> RunLocked:
        who = f" (pid {holder})" if holder.isdigit() else ""
        return RunLocked(
            f"{self.folder} is in use by another ropeguard run{who}",
            hint="wait for that run to finish, or pass another --out",
        )

    def acquire(self) -> RunLock:
        if self.folder.exists() and not self.folder.is_dir():
            raise UsageError(f"--out {self.folder} is a file, not a folder", hint="pass a folder")
        self._created = not self.folder.exists()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if fcntl is None:  # pragma: no cover - Windows
                return self._acquire_exclusive()
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise UsageError(
                f"cannot write to {self.folder}: {error.strerror or error}", hint="pass another --out"
            ) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
            os.close(descriptor)
            raise self._refuse(holder) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        self._descriptor = descriptor
        return self

    def _acquire_exclusive(self) -> RunLock:  # pragma: no cover - Windows
        for _ in range(2):
            try:
                descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self.path.read_text(errors="replace").strip()
                if holder.isdigit() and _alive(int(holder)):
                    raise self._refuse(holder) from None
                with contextlib.suppress(OSError):
                    self.path.unlink()  # stale: its writer is gone
                continue
            os.write(descriptor, f"{os.getpid()}\n".encode())
            self._descriptor = descriptor
            return self
        raise self._refuse("")

    def release(self) -> None:
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is None:
            return
        if self._created and [entry.name for entry in self.folder.iterdir()] == [LOCK_FILE]:
            # The run failed before writing anything (an unreachable server): leave no empty folder.
            with contextlib.suppress(OSError):
                self.path.unlink()
                self.folder.rmdir()
        if fcntl is None:  # pragma: no cover - Windows
            os.close(descriptor)
            with contextlib.suppress(OSError):
                self.path.unlink()
            return
        # The file stays (deleting it would let two later runs lock two different files).
        with contextlib.suppress(OSError):
            os.ftruncate(descriptor, 0)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _alive(pid: int) -> bool:  # pragma: no cover - Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


@contextlib.contextmanager
def results_on_interrupt(folder: Path | str) -> Iterator[None]:
    """Re-raise Ctrl-C as `Interrupted(folder)` (the innermost folder wins: it is the most precise)."""
    try:
        yield
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(Path(folder)) from None


def utc_stamp(moment: datetime | None = None) -> str:
    """`20261201-104500` for now (UTC), or for `moment`."""
    return (moment or datetime.now(timezone.utc)).strftime(STAMP_FORMAT)


def run_folder(kind: str | None, *, root: Path = RUNS_ROOT) -> Path:
    """`root/<kind>-<stamp>` (`root/<stamp>` without a kind): a new folder name, not created."""
    stamp = utc_stamp()
    return root / (f"{kind}-{stamp}" if kind else stamp)
