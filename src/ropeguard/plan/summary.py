"""The text a person reads for a plan: model facts, the command, memory, warnings (and the YaRN table)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ropeguard import rope  # the table (and its models) load on first use: `plan --json` never loads it
from ropeguard.engines.argv import flag_groups
from ropeguard.plan.planner import ContextPlan

if TYPE_CHECKING:
    from ropeguard.rope import DimensionTable

GIB = 1024**3


def _command_lines(command: list[str]) -> list[str]:
    groups = flag_groups(command, long_only=True)
    rendered = [" ".join(shlex.quote(part) for part in group) for group in groups]
    return [
        ("  " if index == 0 else "      ") + text + (" \\" if index < len(rendered) - 1 else "")
        for index, text in enumerate(rendered)
    ]


def render_plan(plan: ContextPlan, *, table: list[str] | None = None) -> str:
    """A plain-text report of `plan`; `table` adds the per-dimension YaRN table (already formatted)."""
    own = (
        "no scaling of its own"
        if plan.existing_rope_type == "default"
        else f"{plan.existing_rope_type} scaling"
    )
    lines = [
        f"{plan.model} ({plan.model_type}): native {plan.native_context} tokens",
        f"  native from: {plan.native_context_source}",
        f"  max_position_embeddings {plan.max_position_embeddings}, rope_theta {plan.rope_theta:g}, {own}",
    ]
    if plan.scaling == "none":
        lines.append(f"target {plan.target_context} tokens: within the native window, no rope override")
    else:
        lines.append(
            f"target {plan.target_context} tokens: factor {plan.factor:g} ({plan.scaling}), attention factor "
            f"{plan.attention_factor:.4f}, rotary cache {plan.rotary_cache_positions} positions"
        )
    version = f" {plan.engine_version}" if plan.engine_version else ""
    lines += ["", f"{plan.engine_distribution or plan.engine}{version}:"]
    lines += [f"  {key}={shlex.quote(value)}" for key, value in sorted(plan.env.items())]
    lines += _command_lines(plan.command)

    memory = plan.memory
    lines += [
        "",
        f"memory ({memory.gpu}, {memory.gpu_memory_utilization:g} utilisation):",
        (
            f"  weights   {memory.weight_bytes / GIB:.1f} GiB ({memory.parameters / 1e9:.2f} B parameters, "
            f"{memory.weight_dtype})"
            if memory.weight_bytes is not None and memory.parameters is not None
            else "  weights   unknown (the config lacks weight shapes)"
        ),
        (
            f"  KV cache  {memory.kv_bytes_per_token:,} bytes/token ({memory.kv_cache_dtype}); "
            f"{memory.kv_bytes_at_target / GIB:.1f} GiB at {memory.target_context} tokens"
            if memory.kv_bytes_per_token is not None and memory.kv_bytes_at_target is not None
            else "  KV cache  unknown (the model's size is not known)"
        ),
    ]
    if memory.kv_sliding_bytes_per_sequence:
        lines.append(
            f"            + {memory.kv_sliding_bytes_per_sequence:,} bytes a sequence for "
            "sliding/chunked layers"
        )
    if memory.tensor_parallel_size is not None:
        concurrency = (
            f"{memory.concurrency_at_target:g} full-length requests at once"
            if memory.concurrency_at_target is not None
            else "concurrency unknown"
        )
        lines.append(
            f"  GPUs      {memory.gpus_needed if memory.gpus_needed is not None else 'more than 64'} needed; "
            f"--tensor-parallel-size {memory.tensor_parallel_size}: {concurrency}"
        )
    elif memory.fits is None:
        lines.append("  GPUs      unknown (no weight count)")
    else:
        lines.append(f"  GPUs      no tensor-parallel size up to 64 of {memory.gpu} holds one request")
    layout = plan.layout
    if layout is not None and (layout.multi_node or layout.pipeline_parallel > 1 or layout.data_parallel > 1):
        lines += [
            "",
            f"layout: TP {layout.tensor_parallel} x PP {layout.pipeline_parallel} x {layout.data_parallel} "
            f"replica(s) on {layout.nodes} node(s) of {layout.gpus_per_node} GPUs"
            + (f", joined by {layout.backend}" if layout.backend else ""),
            f"  {layout.reason}",
        ]
        if layout.multi_node:
            for role in plan.node_commands:
                rank = f" (node rank {role.node_rank})" if role.node_rank is not None else ""
                count = f" x{role.count}" if role.count > 1 else ""
                lines.append(f"  {role.role}{rank}{count}: {role.note}")
                lines += [f"    {key}={value}" for key, value in sorted(role.env.items())]
                lines += ["    " + shlex.join(argv) for argv in role.commands]
    if table:
        lines += ["", *table]
    layout_notes = layout.notes if layout is not None else []
    for title, items in (("warnings", plan.warnings), ("notes", plan.notes + memory.notes + layout_notes)):
        if items:
            lines += ["", f"{title}:"] + [f"  - {item}" for item in items]
    return "\n".join(lines) + "\n"


def dimension_table_for(plan: ContextPlan) -> DimensionTable | None:
    """The per-dimension table of the rope the plan applies (None when it applies none).

    Plain math (rope/table.py, no numpy); `plan --json` leaves it out all the same.
    """
    if plan.applied_rope is None:
        return None
    return rope.dimension_table(
        plan.applied_rope,
        plan.rope_theta,
        plan.rotary_dim,
        native_context=plan.native_context,
        max_position_embeddings=plan.target_context,
    )


def render_dimension_table(plan: ContextPlan) -> list[str] | None:
    """The per-dimension table of the plan as text lines (None when it applies no rope)."""
    table = dimension_table_for(plan)
    return None if table is None else dimension_table_lines(table)


def dimension_table_lines(table: DimensionTable) -> list[str]:
    """A per-dimension table as text lines: a summary, then one line per rotary pair."""
    lines = [
        f"per-dimension table ({table.rope_type} x{table.factor:g}, rotary dim {table.rotary_dim}, "
        f"attention factor {table.attention_factor:.4f}): "
        f"{table.count('extrapolate')} pairs kept, {table.count('ramp')} ramped, "
        f"{table.count('interpolate')} interpolated",
    ]
    if table.low is not None and table.high is not None:
        lines.append(
            f"  YaRN correction range: pairs below {table.low:g} kept (>= {table.beta_fast:g} rotations in "
            f"{table.native_context} tokens), above {table.high:g} divided by the factor"
        )
    lines.append(
        f"  {'pair':>4}  {'wavelength':>12}  {'rotations':>10}  {'regime':<11}  {'ramp':>5}  {'scale':>6}"
    )
    for row in table.rows:
        lines.append(
            f"  {row.pair:>4}  {row.wavelength:>12.1f}  {row.rotations_in_native:>10.3g}  {row.regime:<11}  "
            f"{row.ramp:>5.2f}  {row.scale:>6.3g}"
        )
    return lines
