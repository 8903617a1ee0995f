"""Session fixtures for tests with a real vLLM (CPU build): the tiny model and two servers of it.

Every server here is started through ropeguard.serve (one launcher for all e2e tests), once per
session, and stopped by process group when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ropeguard.serve import LaunchSpec, Server, free_port, spec_from_plan, start_server

# The tiny model gains nothing from torch.compile, which costs about a minute of each start on CPU.
EAGER = ["--enforce-eager"]


def _random_tiny_model(folder: Path) -> Path:
    """A random Qwen3 of the bundled model's shape family (used until the trained one is bundled)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from ropeguard.demo.tokenizer import write_tokenizer

    config = transformers.Qwen3Config(
        vocab_size=102,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    transformers.Qwen3ForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
    write_tokenizer(folder, model_max_length=8192)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        from ropeguard.demo import model_dir  # type: ignore[attr-defined]

        bundled = Path(model_dir())
        if (bundled / "model.safetensors").exists():
            return bundled
    except ImportError:
        pass
    return _random_tiny_model(tmp_path_factory.mktemp("tiny-model"))


def _serve(spec: LaunchSpec, run_dir: Path) -> Iterator[Server]:
    server = start_server(spec, run_dir, echo=None)
    with server:
        yield server


@pytest.fixture(scope="session")
def vllm_unscaled(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tiny model served as its config invites: max length 8192, no rope scaling."""
    spec = LaunchSpec(model=str(tiny_model_dir), max_model_len=8192, port=free_port(), extra_args=EAGER)
    for server in _serve(spec, tmp_path_factory.mktemp("vllm-unscaled")):
        yield server.base_url


@pytest.fixture(scope="session")
def vllm_yarn4(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tiny model served as `ropeguard plan --native 2048 --target 8192` says: YaRN x4."""
    from ropeguard.plan import plan_model

    plan = plan_model(str(tiny_model_dir), 8192, native=2048)
    spec = spec_from_plan(plan, port=free_port(), extra_args=EAGER)
    for server in _serve(spec, tmp_path_factory.mktemp("vllm-yarn4")):
        yield server.base_url
