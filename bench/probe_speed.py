"""Wall time per 1K tokens and peak memory of the in-process probe's scoring, before and after chunking.

- before: the model's own forward with full logits, then a float32 log_softmax over the whole
  vocabulary (`ropeguard.probe.nll.full_logits_nll`, what `probe --backend transformers` did).
- after: the decoder's final hidden states, the output head applied `--chunk` positions at a time in
  float32 (`ropeguard.probe.nll.TokenScorer`, what it does now).

Models (random weights are built from a config in code; nothing is downloaded):
- tiny: the bundled model (src/ropeguard/demo/model), 3.2M parameters, vocabulary 102.
- qwen3-small: Qwen3's vocabulary (151,936) on a small body (4 layers, hidden 512): what the head costs.
- qwen3-0.6b, qwen3-8b: the shapes of Qwen/Qwen3-0.6B and Qwen/Qwen3-8B from ropeguard's model
  registry (src/ropeguard/models/registry.json, written out from their published config.json).
Device and dtype are the probe's (CUDA in bf16 when there is one, else the CPU in float32), or --device.

Peak memory is what the scoring adds on top of the loaded model: on the CPU the peak resident set
(VmHWM, reset through /proc/self/clear_refs before each run) minus the resident set before it; on CUDA
torch.cuda.max_memory_allocated minus the memory allocated before it. "before" lengths above
--before-max are skipped on the CPU (they need length x vocab x 8+ bytes); on CUDA they are tried and
an out-of-memory error is reported as such.

Usage: python bench/probe_speed.py [--models tiny,qwen3-small] [--lengths 2k,4k,8k] [--device cpu]
                                   [--before-max 8k] [--chunk 2048] [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

import torch  # noqa: E402
import transformers  # noqa: E402

from ropeguard.demo import model_dir  # noqa: E402
from ropeguard.evals.inprocess import device_and_dtype  # noqa: E402
from ropeguard.lengths import parse_token_count, parse_token_counts  # noqa: E402
from ropeguard.models.registry import registry_entry  # noqa: E402
from ropeguard.probe.nll import DEFAULT_CHUNK, TokenScorer, full_logits_nll  # noqa: E402

SMALL = {  # Qwen3's vocabulary and head layout on a body small enough for a CPU
    "vocab_size": 151936,
    "hidden_size": 512,
    "intermediate_size": 1536,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 64,
    "tie_word_embeddings": True,
}
REGISTRY = {"qwen3-0.6b": "Qwen/Qwen3-0.6B", "qwen3-8b": "Qwen/Qwen3-8B"}


def build(name: str, device: str, dtype: Any, longest: int) -> Any:
    if name == "tiny":
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir(), dtype=dtype)
        return model.to(device).eval()
    if name == "qwen3-small":
        fields: dict[str, Any] = dict(SMALL)
    elif name in REGISTRY:
        entry = registry_entry(REGISTRY[name])
        assert entry is not None, name
        fields = {k: v for k, v in entry.config.items() if k not in ("architectures", "model_type")}
    else:
        raise SystemExit(f"unknown model {name!r}: choose tiny, qwen3-small, {', '.join(REGISTRY)}")
    # RoPE needs no table for longer positions, but the config should not claim less than we score.
    fields["max_position_embeddings"] = max(int(fields.get("max_position_embeddings", 0)), longest)
    config = transformers.Qwen3Config(**fields)
    torch.manual_seed(0)
    with torch.device(device):  # initialise on the device: 8B random weights in seconds on a GPU
        model = transformers.Qwen3ForCausalLM._from_config(config, dtype=dtype)
    return model.eval()


def _rss_kb(field: str) -> int:
    match = re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(match.group(1)) if match else 0


class Meter:
    """Peak memory (MiB) a call adds, on the CPU or on CUDA."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")

    def start(self) -> None:
        gc.collect()
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.base = _rss_kb("VmRSS") * 1024

    def peak_mib(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
            return (torch.cuda.max_memory_allocated() - self.base) / 2**20
        return (_rss_kb("VmHWM") * 1024 - self.base) / 2**20


def measure(fn: Any, ids: list[int], meter: Meter) -> dict[str, Any]:
    meter.start()
    started = time.perf_counter()
    try:
        nll = fn(ids)
    except torch.OutOfMemoryError as error:
        return {"error": "out of memory: " + str(error).splitlines()[0][:160]}
    if meter.cuda:
        torch.cuda.synchronize()
    wall = time.perf_counter() - started
    return {"wall_s": wall, "s_per_1k": wall / (len(ids) / 1024), "peak_mib": meter.peak_mib(), "nll": nll}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    device, dtype = device_and_dtype(torch, args.device)
    lengths = sorted(parse_token_counts(args.lengths))
    before_max = parse_token_count(args.before_max) if args.before_max else None
    rows: list[dict[str, Any]] = []
    for name in args.models.split(","):
        model = build(name, device, dtype, max(lengths))
        params = sum(p.numel() for p in model.parameters())
        vocab = model.get_output_embeddings().weight.shape[0]
        scorer = TokenScorer(torch, model, args.chunk)
        paths = {"before": partial(full_logits_nll, torch, model), "after": scorer.nll}
        rng = random.Random(0)
        ids_all = [rng.randrange(vocab) for _ in range(max(lengths))]
        # Warm-up (kernels, allocator, the scorer's one-time head check) on a short prefix.
        for fn in paths.values():
            fn(ids_all[:256])
        meter = Meter(device)
        for length in lengths:
            ids = ids_all[:length]
            results: dict[str, dict[str, Any]] = {}
            for path, fn in paths.items():
                if path == "before" and before_max is not None and length > before_max and not meter.cuda:
                    results[path] = {"error": f"skipped (length above --before-max {before_max})"}
                else:
                    results[path] = measure(fn, ids, meter)
            both = [r["nll"][1:] for r in results.values() if "nll" in r]
            agree = max(abs(a - b) for a, b in zip(*both, strict=True)) if len(both) == 2 else None
            for path, result in results.items():
                nll = result.pop("nll", None)
                mean = sum(nll[1:]) / (len(nll) - 1) if nll else None
                rows.append(
                    {
                        "model": name,
                        "params_m": round(params / 1e6, 1),
                        "vocab": vocab,
                        "device": device if not meter.cuda else torch.cuda.get_device_name(),
                        "dtype": str(dtype).removeprefix("torch."),
                        "length": length,
                        "path": path,
                        "chunk": args.chunk if path == "after" else None,
                        "chunked": scorer.chunked if path == "after" else None,
                        # True: bf16 x bf16 -> float32 on the tensor cores; False: weight upcast.
                        "mixed_matmul": scorer.head.mixed_matmul if path == "after" and scorer.head else None,
                        "mean_nll": mean,
                        "max_abs_diff_vs_other_path": agree,
                        **result,
                    }
                )
                print(_line(rows[-1]), flush=True)
        del model, scorer, paths
        gc.collect()
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return rows


def _line(row: dict[str, Any]) -> str:
    head = f"{row['model']:>11} {row['dtype']:>8} {row['length']:>7} {row['path']:>6}"
    if "error" in row:
        return f"{head}  {row['error']}"
    diff = row["max_abs_diff_vs_other_path"]
    agree = f"  max |dNLL| {diff:.2e}" if diff is not None else ""
    return (
        f"{head}  {row['wall_s']:8.3f} s  {row['s_per_1k']:7.4f} s/1K  peak +{row['peak_mib']:9.1f} MiB  "
        f"mean NLL {row['mean_nll']:.4f}{agree}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="tiny,qwen3-small")
    parser.add_argument("--lengths", default="2k,4k,8k")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the probe's choice)")
    parser.add_argument("--before-max", default="8k", help="longest 'before' run on the CPU ('' for none)")
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK)
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON document at the end")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}", flush=True)
    rows = run(args)
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
