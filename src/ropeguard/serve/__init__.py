"""Starting, watching and stopping an engine process (vLLM) with a plan's settings.

spec = spec_from_plan(plan, port=free_port())       # or LaunchSpec(model=..., max_model_len=...)
with start_server(spec, run_dir) as server:          # starts, waits, verifies against the plan
    ...server.base_url...                             # http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

from ropeguard.serve.launch import Launch, LaunchSpec, build_launch, spec_from_plan
from ropeguard.serve.runtime import Runtime
from ropeguard.serve.server import (
    Server,
    free_port,
    group_members,
    port_is_free,
    run_until_stopped,
    start_server,
)

__all__ = [
    "Launch",
    "LaunchSpec",
    "Runtime",
    "Server",
    "build_launch",
    "free_port",
    "group_members",
    "port_is_free",
    "run_until_stopped",
    "spec_from_plan",
    "start_server",
]
