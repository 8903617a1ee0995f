"""Suite-wide test settings.

Hypothesis' default 200 ms deadline per example measures the machine, not the code: on CI's two
shared cores (with a vLLM server prefilling beside the unit tests) single examples overran it and
failed a property that holds (3,000 examples pass without a deadline). Correctness is what the
property tests check; speed lives in bench/.
"""

from __future__ import annotations

import signal

import pytest
from hypothesis import settings

settings.register_profile("ropeguard", deadline=None)
settings.load_profile("ropeguard")

# The Ctrl-C tests send SIGINT to a child `ropeguard` and expect exit 130. A suite started as a
# background job of a non-interactive shell (`bash scripts/test.sh &`, nohup) has SIGINT ignored,
# every child inherits SIG_IGN, and a Python started so never installs its KeyboardInterrupt handler:
# the child would run on to exit 0 (seen in a fresh-clone run started with `setsid ... &`). A Python
# handler here is reset to the default on exec, so the children get Ctrl-C as a user's terminal gives it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# Test tiers (docs/testing.md): `-m "not vllm and not slow"` is the unit tier. A test that asks for a
# real vLLM server (the session fixtures of tests/e2e/conftest.py) starts one, minutes on CPU, so it
# belongs to both slow tiers whether or not its module says so: marked here at collection, so that
# a new e2e test cannot land in the unit tier by a forgotten `pytestmark`.
SERVER_FIXTURES = frozenset({"vllm_unscaled", "vllm_yarn4", "smollm2_unscaled", "smollm2_yarn2"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.vllm)
            item.add_marker(pytest.mark.slow)
