"""The bundled tiny model in process (transformers on CPU): it loads and it retrieves."""

from __future__ import annotations

import json

import pytest

from ropeguard.cli import main
from ropeguard.demo import MODEL_ID, NATIVE_CONTEXT, model_dir
from ropeguard.demo.tokenizer import END, vocabulary
from ropeguard.evals.haystack import Haystack, fit_sentences
from ropeguard.evals.prompts import TrimmedHaystack
from ropeguard.evals.tasks import Sample, TrialKey, get_task


def test_bundled_files_and_config() -> None:
    folder = model_dir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"):
        assert (folder / name).is_file(), name
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["Qwen3ForCausalLM"]
    assert config["max_position_embeddings"] == 8192  # what it claims; it was trained at NATIVE_CONTEXT
    assert NATIVE_CONTEXT == 2048
    assert config["rope_parameters"] == {"rope_type": "default", "rope_theta": 10000.0}
    assert config["eos_token_id"] == vocabulary()[END]
    assert config["vocab_size"] == len(vocabulary())
    assert MODEL_ID in (folder / "README.md").read_text()
    weight_bytes = (folder / "model.safetensors").stat().st_size
    assert 5_000_000 < weight_bytes < 8_000_000  # bf16, ~3.2 M parameters


def test_demo_where_prints_the_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--where"]) == 0
    assert capsys.readouterr().out.strip() == str(model_dir())


@pytest.mark.slow  # ~6.5 s: torch runs the model in process
def test_answers_a_passkey_at_1024_tokens_in_process() -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = model_dir()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    task = get_task("passkey")
    key = TrialKey(task="passkey", length=1024, depth=0.5, index=0)
    haystack = Haystack("natural", seed=0)

    def encode(sample: Sample) -> list[int]:
        messages = [{"role": "user", "content": sample.user_message()}]
        encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)
        return list(encoded["input_ids"])

    n = fit_sentences(lambda k: len(encode(task.build(key, haystack, k))), 1024)
    # Whole natural sentences are up to ~80 tokens here: cut the next one by characters to land
    # within the check below (what the eval's PromptBuilder does too).
    chars = len(haystack.sentences(n + 1)[-1])
    cut = max(
        c for c in range(chars) if len(encode(task.build(key, TrimmedHaystack(haystack, c), n + 1))) <= 1024
    )
    sample = task.build(key, TrimmedHaystack(haystack, cut), n + 1)
    ids = torch.tensor([encode(sample)])
    assert 1000 <= ids.shape[1] <= 1024
    with torch.no_grad():
        out = model.generate(input_ids=ids, max_new_tokens=10, do_sample=False)
    answer = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert task.score(sample, answer).correct, (answer, sample.expected)
