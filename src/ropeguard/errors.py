"""The one error tree that crosses ropeguard's API.

    RopeguardError                  anything ropeguard reports to a user (exit 2 unless said otherwise)
    ├── UsageError                  a bad option value or combination
    ├── ModelConfigError            config.json missing, not JSON, or lacking a field
    │   └── UnsupportedLayoutError  a rope layout the math does not cover (chatglm's rope_ratio, ...)
    ├── PlanRefused                 the plan would be wrong; exit 1 (a finding, not a usage error)
    ├── MissingDependencyError      an optional extra is needed (names the extra to install)
    ├── EndpointError               an OpenAI-compatible server is unreachable or answered badly
    │   └── ServerGone              it stopped answering in the middle of a run (died, restarted)
    └── ServeError                  starting / watching an engine process
        ├── ServeTimeout
        └── ServeExited

    Interrupted (a KeyboardInterrupt, not an error: Ctrl-C during a run; names the results so far)

Every error carries a one-line message and, where one helps, a `hint` saying what to do. The CLI prints
`error: <message>` and `hint: <hint>` and exits with `exit_code`; no traceback reaches a user.
"""

from __future__ import annotations

from pathlib import Path


class RopeguardError(Exception):
    """Base of every error ropeguard raises on purpose."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(RopeguardError):
    """An option value or combination that cannot work."""


class ModelConfigError(RopeguardError):
    """A model config that cannot be read: missing, not JSON, or lacking a field."""


class UnsupportedLayoutError(ModelConfigError):
    """A rope layout the math does not cover."""


class PlanRefused(RopeguardError):
    """The requested plan would silently break long context; the reason lists alternatives."""

    exit_code = 1


class MissingDependencyError(RopeguardError):
    """An optional dependency is needed; the message names the extra that installs it."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed",
            hint=f"pip install 'ropeguard[{extra}]'",
        )
        self.package = package
        self.extra = extra


class EndpointError(RopeguardError):
    """An OpenAI-compatible endpoint is unreachable, serves another model, or answered badly."""


class ServerGone(EndpointError):
    """A server that answered before stopped answering altogether (connection refused or reset).
    `results` is the run folder that holds what finished before (set by the eval runner)."""

    def __init__(self, message: str, *, hint: str | None = None, results: Path | None = None) -> None:
        super().__init__(message, hint=hint)
        self.results = results


class ServeError(RopeguardError):
    """Starting or watching an engine process failed."""


class ServeTimeout(ServeError):
    """The engine did not become ready in time."""


class ServeExited(ServeError):
    """The engine process exited before it became ready (or while serving)."""

    def __init__(self, message: str, *, returncode: int | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.returncode = returncode


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run. Still a KeyboardInterrupt (nothing catches it by accident as an error); it
    carries the folder that holds the results so far, which the CLI prints before exiting 130."""

    def __init__(self, results: Path | None, detail: str | None = None) -> None:
        self.results = results
        self.detail = detail or (f"the results so far are in {results}" if results else "nothing was kept")
        super().__init__(f"interrupted; {self.detail}")
