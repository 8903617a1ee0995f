"""The call forms ropeguard 0.1 documented, kept working for one release with a DeprecationWarning.

`ropeguard.plan(...)`, `ropeguard.lint(...)` and `ropeguard.doctor()` called a package or module. The
functions are now `ropeguard.plan_model`, `ropeguard.lint_paths` and `ropeguard.run_doctor`. Those three
modules stay callable, whichever comes first, `import ropeguard.plan.memory` or a call, because Python
sets `ropeguard.plan` to the package as soon as any of its submodules is imported: only a callable
module object can answer both. This file (and its one call at the end of each module) goes in 0.3.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from typing import Any

REMOVED_IN = "0.3"


class _DeprecatedCallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        replacement: str = self.__dict__["_replaced_by"]
        warnings.warn(
            f"calling {self.__name__}(...) is deprecated and stops working in ropeguard {REMOVED_IN}; "
            f"call ropeguard.{replacement}(...) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        # Imported at call time: ropeguard.api sits above the modules that install this shim.
        return getattr(importlib.import_module("ropeguard.api"), replacement)(*args, **kwargs)


def keep_callable(module_name: str, replaced_by: str) -> None:
    """Let module `module_name` be called as before, warning and forwarding to ropeguard.`replaced_by`."""
    module = sys.modules[module_name]
    module.__dict__["_replaced_by"] = replaced_by
    module.__class__ = _DeprecatedCallableModule
