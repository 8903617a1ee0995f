"""Lint a generated tree of small deployment files and print files per second.

    PYTHONPATH=src python bench/lint_speed.py [--files 10000] [--keep DIR]

The tree mixes what a real deploy repo holds: serve scripts, Kubernetes manifests, Compose files,
Dockerfiles, Helm values, Python launchers, requirements, Markdown and unrelated files, about a third
of them with a finding. Models resolve offline from ropeguard's registry (once per model, cached).
Target: >= 2,000 files/s on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

MODELS = ["Qwen/Qwen3-8B", "meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "my-org/private"]

TEMPLATES: dict[str, str] = {
    "serve{i}.sh": (
        "#!/bin/bash\nset -e\nexport HF_HOME=/data\nvllm serve {model} \\\n  --max-model-len {length} \\\n"
        '  --hf-overrides \'{{"rope_parameters": {{"rope_type": "yarn", "factor": {factor}, '
        '"original_max_position_embeddings": 32768, "rope_theta": 1000000}}, '
        '"max_position_embeddings": {length}}}\'\n'
    ),
    "deploy{i}.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: m{i}\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: vllm\n          image: vllm/vllm-openai:v0.33.0\n"
        '          args: ["--model", "{model}", "--max-model-len", "{length}"]\n'
    ),
    "compose{i}.yml": (
        "services:\n  s{i}:\n    image: vllm/vllm-openai:v0.12.0\n"
        "    command: --model {model} --max-model-len {length}\n"
    ),
    "Dockerfile.{i}": (
        'FROM vllm/vllm-openai:v0.8.5\nRUN pip install torch==2.4.0\nCMD ["--model", "{model}"]\n'
    ),
    "values{i}.yaml": "vllm:\n  model: {model}\n  maxModelLen: {length}\nreplicaCount: 2\n",
    "run{i}.py": 'from vllm import LLM\nllm = LLM(model="{model}", max_model_len={length})\n',
    "requirements{i}.txt": "vllm==0.33.0\ntorch==2.14.0\nnumpy\n",
    "notes{i}.md": "Run `vllm serve {model} --max-model-len {length} --rope-scaling ...` (old guide).\n",
    "app{i}.py": "import json\n\ndef main() -> None:\n    print(json.dumps({{'i': {i}}}))\n",
    "nginx{i}.yaml": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web{i}\nspec:\n  ports: [{{port: 80}}]\n"
    ),
    "data{i}.csv": "a,b,c\n1,2,3\n",
}


def generate(root: Path, count: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    names = list(TEMPLATES)
    for i in range(count):
        folder = root / f"team{i % 50}" / f"svc{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        name = names[i % len(names)]
        text = TEMPLATES[name].format(
            i=i,
            model=rng.choice(MODELS),
            length=rng.choice([32768, 40960, 65536, 131072]),
            factor=rng.choice([2.0, 4.0]),
        )
        (folder / name.format(i=i)).write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--keep", help="write the tree here and keep it")
    args = parser.parse_args()

    from ropeguard.lint import lint_report

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ropeguard-lint-bench-"))
    try:
        generate(root, args.files)
        lint_report([str(root / "team0")], offline=True)  # warm imports and the model cache's code paths
        start, cpu_start = time.perf_counter(), time.process_time()
        report = lint_report([str(root)], offline=True)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"linted {args.files} files ({report.files_read} read, {len(report.findings)} findings) "
            f"in {seconds:.2f} s: {args.files / seconds:,.0f} files/s "
            f"({args.files / cpu:,.0f} files per CPU second; load average {load:.1f})"
        )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
