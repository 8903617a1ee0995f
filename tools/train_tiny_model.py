"""Train (and evaluate) ropeguard's bundled tiny long-context model.

A Qwen3ForCausalLM of ~3.2 M parameters, trained from scratch at a native context of 2048 tokens on
ropeguard's own recall tasks (passkey, the four NIAH variants and, from stage 3, niah-sweep) over both
filler styles, with the char-level tokenizer of `ropeguard.demo.tokenizer`. The stages and their
arguments: the model's README.md and training.json. Its config.json says max_position_embeddings 8192
on purpose: the Qwen3 situation (trained at 32768, config says 40960), exaggerated.

    # train + evaluate (one GPU), writing the model into OUT/model
    PYTHONPATH=src python3 tools/train_tiny_model.py --out OUT --steps 2500 --eval
    # evaluate a saved model in process (transformers): recall table and NLL per 512-token bucket
    PYTHONPATH=src python3 tools/train_tiny_model.py --eval-only --model src/ropeguard/demo/model --out OUT

Every training sample is a chat-templated `Sample.user_message()` followed by its
`Sample.reference_answer()` and `<|end|>`: the exact prompt format the evals send. The loss is the
mean cross-entropy on the answer tokens plus `--filler-weight` times the mean cross-entropy on the
prompt tokens (language modelling on the filler, so position-resolved perplexity means something).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ropeguard.demo.tokenizer import CHARACTERS, END, PAD, ROLE_TOKENS, UNK, vocabulary, write_tokenizer
from ropeguard.evals.haystack import Haystack, fit_sentences
from ropeguard.evals.tasks import Sample, Task, TrialKey, get_task
from ropeguard.evals.tasks.niah_sweep import NiahSweepTask

NATIVE = 2048
ADVERTISED = 8192  # what config.json claims: the silent failure lives between the two
ROPE_THETA = 10000.0

VOCAB = vocabulary()
PAD_ID, UNK_ID, END_ID = VOCAB[PAD], VOCAB[UNK], VOCAB[END]
USER_ID, ASSISTANT_ID = VOCAB[ROLE_TOKENS[1]], VOCAB[ROLE_TOKENS[2]]
CHAR_IDS = np.full(256, UNK_ID, dtype=np.int64)
for _ch in CHARACTERS:
    CHAR_IDS[ord(_ch)] = VOCAB[_ch]
ID_CHARS = {index: token for token, index in VOCAB.items()}
TEMPLATE_TOKENS = 3  # <|user|> ... <|end|><|assistant|>

# Training mixture: weighted toward passkey; the NIAH tasks with varied needle counts.
TASK_WEIGHTS = {
    "passkey": 0.50,
    "niah-single": 0.125,
    "niah-multikey": 0.125,
    "niah-multivalue": 0.125,
    "niah-multiquery": 0.125,
}
STYLES = ("noise", "natural")

ROPE_CONFIGS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "yarn-x2": {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": NATIVE},
    "yarn-x4": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": NATIVE},
    "yarn-x8": {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": NATIVE},
    "linear-x4": {"rope_type": "linear", "factor": 4.0},
}


def encode(text: str) -> np.ndarray:
    return CHAR_IDS[np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8)]


def decode(ids: list[int]) -> str:
    out = []
    for index in ids:
        if index == END_ID:
            break
        out.append(ID_CHARS.get(index, ""))
    return "".join(out)


def prompt_ids(sample: Sample) -> np.ndarray:
    return np.concatenate([[USER_ID], encode(sample.user_message()), [END_ID, ASSISTANT_ID]])


def build_fitted(task: Task, key: TrialKey, haystack: Haystack) -> Sample:
    """The sample whose chat-templated prompt comes closest to key.length tokens (char-level)."""
    n = fit_sentences(
        lambda k: len(task.build(key, haystack, k).user_message()) + TEMPLATE_TOKENS, key.length
    )
    return task.build(key, haystack, n)


# ----------------------------------------------------------------------------------------------- data


# The evenly spaced grids a sweep is trained on (i / (n - 1)); certify's grids are of this kind.
SWEEP_GRID_SIZES = (3, 5, 7, 9, 11)


def sweep_depths(rng: random.Random) -> tuple[float, ...]:
    """A needle set for one niah-sweep example: half the time an evenly spaced grid, half the time
    2-12 distinct random depths, so the model learns to pick the labelled key wherever the needles are
    rather than the grids it is evaluated on."""
    if rng.random() < 0.5:
        n = rng.choice(SWEEP_GRID_SIZES)
        return tuple(i / (n - 1) for i in range(n))
    return tuple(d / 1000 for d in sorted(rng.sample(range(1001), rng.randint(2, 12))))


def random_task(rng: random.Random, weights: dict[str, float] = TASK_WEIGHTS) -> Task:
    name = rng.choices(list(weights), weights=list(weights.values()))[0]
    if name == "passkey":
        return get_task(name, digits=5 if rng.random() < 0.7 else rng.randint(3, 8))
    if name == "niah-sweep":
        return get_task(name, depths=sweep_depths(rng))
    if name == "niah-multikey":
        return get_task(name, keys=rng.randint(2, 12))
    if name == "niah-multivalue":
        return get_task(name, values=rng.randint(2, 4))
    if name == "niah-multiquery":
        return get_task(name, queries=rng.randint(2, 4))
    return get_task(name)


def training_example(
    rng: random.Random, length: int, weights: dict[str, float] = TASK_WEIGHTS
) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, class of each position's next token: 0 none, 1 prompt/filler, 2 answer)."""
    task = random_task(rng, weights)
    roll = rng.random()
    depth = 0.0 if roll < 0.05 else 1.0 if roll < 0.10 else rng.random()
    if isinstance(task, NiahSweepTask):
        depth = rng.choice(task.depths)  # the asked needle is one of the document's
    key = TrialKey(
        task=task.name, length=length, depth=depth, index=rng.randrange(2**31), seed=rng.randrange(2**31)
    )
    haystack = Haystack(rng.choice(STYLES), seed=rng.randrange(2**31) + 1_000_000)
    sample = build_fitted(task, key, haystack)
    prompt = prompt_ids(sample)
    answer = np.concatenate([encode(sample.reference_answer()), [END_ID]])
    ids = np.concatenate([prompt, answer])
    classes = np.zeros(len(ids), dtype=np.int8)  # classes[t] describes ids[t + 1]
    classes[: len(prompt) - 3] = 1  # predicting the user text (filler, needles, question)
    classes[len(prompt) - 1 : len(ids) - 1] = 2  # predicting the answer and its <|end|>
    return ids, classes


class Batches(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
    """Endless batches of about `tokens` tokens; each batch has one target length (min_len..max_len)."""

    def __init__(self, seed: int, tokens: int, min_len: int, max_len: int, weights: dict[str, float]) -> None:
        self.seed, self.tokens, self.min_len, self.max_len = seed, tokens, min_len, max_len
        self.weights = weights

    def __iter__(self):  # type: ignore[no-untyped-def]
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        rng = random.Random(f"tiny-train-{self.seed}-{worker}")
        while True:
            # Half uniform, half log-uniform: every length up to the native one is trained, and the
            # shorter batches carry more answers per step.
            if rng.random() < 0.5:
                length = rng.randint(self.min_len, self.max_len)
            else:
                length = round(math.exp(rng.uniform(math.log(self.min_len), math.log(self.max_len))))
            rows: list[tuple[np.ndarray, np.ndarray]] = []
            total = 0
            while total < self.tokens:
                ids, classes = training_example(rng, length, self.weights)
                rows.append((ids, classes))
                total += len(ids)
            width = max(len(ids) for ids, _ in rows)
            batch = np.full((len(rows), width), PAD_ID, dtype=np.int64)
            cls = np.zeros((len(rows), width), dtype=np.int8)
            for i, (ids, classes) in enumerate(rows):
                batch[i, : len(ids)] = ids
                cls[i, : len(ids)] = classes
            yield torch.from_numpy(batch), torch.from_numpy(cls)


# ---------------------------------------------------------------------------------------------- model


def model_config(max_position_embeddings: int = ADVERTISED) -> Any:
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=len(VOCAB),
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=64,
        max_position_embeddings=max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA},
        tie_word_embeddings=True,
        rms_norm_eps=1e-6,
        pad_token_id=PAD_ID,
        eos_token_id=END_ID,
        bos_token_id=None,
        use_cache=True,
    )


def set_rope(model: Any, rope: dict[str, Any] | None) -> None:
    """Swap the model's rotary embedding for one built from `rope` (None: the trained default)."""
    from transformers.models.qwen3.modeling_qwen3 import Qwen3RotaryEmbedding

    config = model.config.__class__.from_dict(model.config.to_dict())
    if rope is None:
        config.rope_parameters = {"rope_type": "default", "rope_theta": ROPE_THETA}
        config.max_position_embeddings = ADVERTISED
    else:
        config.rope_parameters = {**rope, "rope_theta": ROPE_THETA}
        config.max_position_embeddings = max(ADVERTISED, int(NATIVE * rope["factor"]))
    device = next(model.parameters()).device
    model.model.rotary_emb = Qwen3RotaryEmbedding(config).to(device)


def lr_at(step: int, steps: int, peak: float, warmup: int, floor: float = 0.1) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def parse_mix(text: str | None) -> dict[str, float]:
    """'passkey=0.3,niah-multikey=0.2,...' -> task weights (default: TASK_WEIGHTS)."""
    if not text:
        return dict(TASK_WEIGHTS)
    weights = {name: float(value) for name, value in (part.split("=") for part in text.split(","))}
    for name in weights:
        get_task(name)  # fails on unknown names
    return weights


def train(args: argparse.Namespace, log: Any) -> Any:
    from transformers import AutoModelForCausalLM

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = AutoModelForCausalLM.from_config(model_config(), attn_implementation="sdpa").to(device)
    if args.init_from:
        from safetensors.torch import load_file

        # An fp32 checkpoint (--save-fp32) or a saved model's bf16 model.safetensors: both hold every
        # weight but the tied lm_head; the bf16 one is cast up so training runs on fp32 master weights.
        state = {name: tensor.float() for name, tensor in load_file(str(args.init_from)).items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or set(missing) - {"lm_head.weight"}:
            raise SystemExit(f"--init-from {args.init_from}: missing {missing}, unexpected {unexpected}")
        log(f"initialised from {args.init_from} ({len(state)} tensors, lm_head tied to the embedding)")
    params = sum(p.numel() for p in model.parameters())
    log(f"params {params:,} device {device} {torch.cuda.get_device_name() if device.type == 'cuda' else ''}")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.95),
        fused=device.type == "cuda",
    )
    loader = torch.utils.data.DataLoader(
        Batches(args.seed, args.tokens_per_step, args.min_len, args.max_len, parse_mix(args.mix)),
        batch_size=None,
        num_workers=args.workers,
        prefetch_factor=4 if args.workers else None,
        persistent_workers=bool(args.workers),
        pin_memory=device.type == "cuda",
    )
    forward = torch.compile(model, dynamic=True) if args.compile else model
    history: list[dict[str, float]] = []
    start = time.time()
    tokens_seen = 0
    model.train()
    step = 0
    wait = 0.0
    fetched = time.time()
    for step, (ids, cls) in enumerate(loader):
        wait += time.time() - fetched
        # With a time limit the schedule runs on whichever ends first, steps or time, so the
        # learning rate has always decayed when training stops.
        progress = step / args.steps
        if args.time_limit:
            progress = max(progress, (time.time() - start) / args.time_limit)
        if progress >= 1.0:
            log(f"stopping at step {step} (progress {progress:.3f})")
            break
        for group in optimizer.param_groups:
            group["lr"] = lr_at(round(progress * args.steps), args.steps, args.lr, args.warmup)
        ids = ids.to(device, non_blocking=True)
        cls = cls.to(device, non_blocking=True)[:, :-1]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = forward(input_ids=ids, use_cache=False).logits[:, :-1]
        ce = F.cross_entropy(logits.float().flatten(0, 1), ids[:, 1:].flatten(), reduction="none")
        ce = ce.view_as(cls)
        # Masked means without boolean indexing: no host sync inside the step.
        answer_mask, filler_mask = (cls == 2).float(), (cls == 1).float()
        answer_loss = (ce * answer_mask).sum() / answer_mask.sum().clamp(min=1)
        filler_loss = (ce * filler_mask).sum() / filler_mask.sum().clamp(min=1)
        loss = answer_loss + args.filler_weight * filler_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        tokens_seen += ids.numel()
        if step % args.log_every == 0 or step == args.steps - 1:
            with torch.no_grad():
                hits = (logits.argmax(-1) == ids[:, 1:]).float()
                acc = ((hits * answer_mask).sum() / answer_mask.sum().clamp(min=1)).item()
            entry = {
                "step": step,
                "loss": loss.item(),
                "answer_loss": answer_loss.item(),
                "filler_loss": filler_loss.item(),
                "answer_token_acc": acc,
                "lr": optimizer.param_groups[0]["lr"],
                "seq_len": ids.shape[1],
                "batch": ids.shape[0],
                "tokens": tokens_seen,
                "elapsed_s": time.time() - start,
                "data_wait_s": wait,
            }
            history.append(entry)
            log(
                f"step {step:5d} loss {entry['loss']:.4f} answer {entry['answer_loss']:.4f} "
                f"filler {entry['filler_loss']:.4f} acc {acc:.3f} lr {entry['lr']:.2e} "
                f"len {ids.shape[1]} x {ids.shape[0]} tok/s {tokens_seen / (time.time() - start):,.0f} "
                f"data wait {wait:.1f} s"
            )
        fetched = time.time()
    model.eval()
    info = {
        "params": params,
        "steps": step,
        "data_wait_seconds": wait,
        "tokens": tokens_seen,
        "train_seconds": time.time() - start,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "history": history,
    }
    return model, info


def save(model: Any, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model = model.to(torch.bfloat16)
    model.config.architectures = ["Qwen3ForCausalLM"]
    model.save_pretrained(out, safe_serialization=True)
    config = json.loads((out / "config.json").read_text())
    config.update(
        {
            "architectures": ["Qwen3ForCausalLM"],
            "max_position_embeddings": ADVERTISED,
            "rope_parameters": {"rope_type": "default", "rope_theta": ROPE_THETA},
            "eos_token_id": END_ID,
            "pad_token_id": PAD_ID,
            "bos_token_id": None,
            "tie_word_embeddings": True,
            "dtype": "bfloat16",
        }
    )
    config.pop("rope_scaling", None)
    config.pop("torch_dtype", None)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    generation = {"eos_token_id": END_ID, "pad_token_id": PAD_ID, "do_sample": False, "max_new_tokens": 64}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    write_tokenizer(out, model_max_length=ADVERTISED)


# ----------------------------------------------------------------------------------------------- eval


@torch.no_grad()
def greedy(model: Any, prompts: list[np.ndarray], max_new: int, batch_tokens: int) -> list[str]:
    """Greedy answers; prompts of equal length are batched (no padding, so no mask is needed)."""
    device = next(model.parameters()).device
    answers: dict[int, str] = {}
    by_length: dict[int, list[int]] = {}
    for i, prompt in enumerate(prompts):
        by_length.setdefault(len(prompt), []).append(i)
    for length, members in by_length.items():
        size = max(1, batch_tokens // length)
        for chunk_start in range(0, len(members), size):
            chunk = members[chunk_start : chunk_start + size]
            ids = torch.tensor(np.stack([prompts[i] for i in chunk]), device=device)
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            past = out.past_key_values
            token = out.logits[:, -1].argmax(-1)
            generated = [token]
            done = token == END_ID
            for _ in range(max_new - 1):
                if bool(done.all()):
                    break
                out = model(input_ids=token[:, None], past_key_values=past, use_cache=True)
                past = out.past_key_values
                token = out.logits[:, -1].argmax(-1)
                generated.append(token)
                done |= token == END_ID
            rows = torch.stack(generated, 1).tolist()
            for i, row in zip(chunk, rows, strict=True):
                answers[i] = decode(row)
    return [answers[i] for i in range(len(prompts))]


def recall(
    model: Any, task_name: str, lengths: list[int], depths: list[float], style: str, batch_tokens: int
) -> dict[str, float]:
    task = get_task(task_name)
    samples: list[Sample] = []
    for length in lengths:
        haystack = Haystack(style, seed=0)
        for depth in depths:
            samples.append(
                build_fitted(task, TrialKey(task=task_name, length=length, depth=depth, index=0), haystack)
            )
    max_new = max(len(s.reference_answer()) for s in samples) + 4
    answers = greedy(model, [prompt_ids(s) for s in samples], max_new, batch_tokens)
    result: dict[str, float] = {}
    for length in lengths:
        scores = [
            task.score(s, a).correct for s, a in zip(samples, answers, strict=True) if s.length == length
        ]
        result[str(length)] = sum(scores) / len(scores)
    return result


# niah-sweep grids evaluated (needles, evenly spaced) -> trial indices per length: >= 30 samples a cell.
SWEEP_EVAL_GRIDS = {5: 6, 11: 3}


def sweep_recall(
    model: Any, needles: int, trials: int, lengths: list[int], style: str, batch_tokens: int
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """niah-sweep recall per length (and per grid depth) for an evenly spaced grid of `needles`.

    As the eval runner builds it: the task is told the grid, one TrialKey per grid depth, so every depth
    of a (length, trial index) shares one document and only the question differs. `recall` uses trial
    index 0 alone; here indices 0..trials-1 (each with its own haystack seed) fill the cells.
    """
    grid = tuple(i / (needles - 1) for i in range(needles))
    task = get_task("niah-sweep", depths=grid)
    samples: list[Sample] = []
    for length in lengths:
        for index in range(trials):
            haystack = Haystack(style, seed=index)
            for depth in grid:
                key = TrialKey(task=task.name, length=length, depth=depth, index=index)
                samples.append(build_fitted(task, key, haystack))
    max_new = max(len(s.reference_answer()) for s in samples) + 4
    answers = greedy(model, [prompt_ids(s) for s in samples], max_new, batch_tokens)
    per_length: dict[str, float] = {}
    per_depth: dict[str, list[float]] = {}
    for length in lengths:
        hits = [
            (s.depth, task.score(s, a).correct)
            for s, a in zip(samples, answers, strict=True)
            if s.length == length
        ]
        per_length[str(length)] = sum(ok for _, ok in hits) / len(hits)
        per_depth[str(length)] = [
            round(sum(ok for d, ok in hits if d == depth) / trials, 3) for depth in grid
        ]
    return per_length, per_depth


@torch.no_grad()
def nll_buckets(model: Any, style: str, length: int, bucket: int, docs: int) -> list[float]:
    device = next(model.parameters()).device
    rows = []
    for seed in range(docs):
        text = " ".join(Haystack(style, seed=10_000 + seed).sentences(length // 20))
        while len(text) < length + 1:
            text += " " + text
        rows.append(encode(text[: length + 1]))
    ids = torch.tensor(np.stack(rows), device=device)
    logits = model(input_ids=ids[:, :-1]).logits.float()
    nll = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten(), reduction="none").view(docs, -1)
    return [round(v, 3) for v in nll.mean(0).view(-1, bucket).mean(-1).tolist()]


EVAL_GROUPS = (*TASK_WEIGHTS, "niah-sweep", "nll")


def evaluate(model: Any, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    model = model.to(torch.bfloat16).eval()
    start = time.time()
    groups = args.eval_tasks.split(",") if args.eval_tasks else list(EVAL_GROUPS)
    unknown = sorted(set(groups) - set(EVAL_GROUPS))
    if unknown:
        raise SystemExit(f"--eval-tasks: unknown {unknown}; choose from {', '.join(EVAL_GROUPS)}")
    lengths = [int(x) for x in args.eval_lengths.split(",")]
    depths = [i / (args.eval_depths - 1) for i in range(args.eval_depths)]
    table: dict[str, Any] = {}
    result: dict[str, Any] = {"recall": table}
    if "passkey" in groups:
        for style in ("noise", "natural"):
            for name, rope in ROPE_CONFIGS.items():
                set_rope(model, rope)
                row = recall(model, "passkey", lengths, depths, style, args.eval_batch_tokens)
                table.setdefault("passkey", {}).setdefault(style, {})[name] = row
                log(f"passkey {style:8s} {name:10s} " + " ".join(f"{k}:{v:.2f}" for k, v in row.items()))
    short = [x for x in lengths if x <= 8192]
    for task_name in TASK_WEIGHTS:
        if task_name == "passkey" or task_name not in groups:
            continue
        for style in ("noise", "natural"):
            for name in ("none", "yarn-x4"):
                set_rope(model, ROPE_CONFIGS[name])
                row = recall(
                    model, task_name, short, [i / 11 for i in range(12)], style, args.eval_batch_tokens
                )
                table.setdefault(task_name, {}).setdefault(style, {})[name] = row
                log(
                    f"{task_name:16s} {style:8s} {name:10s} "
                    + " ".join(f"{k}:{v:.2f}" for k, v in row.items())
                )
    if "niah-sweep" in groups:
        per_depth: dict[str, Any] = {}
        for needles, trials in SWEEP_EVAL_GRIDS.items():
            label = f"niah-sweep-{needles}"
            for style in ("noise", "natural"):
                for name in ("none", "yarn-x4"):
                    set_rope(model, ROPE_CONFIGS[name])
                    row, depth_row = sweep_recall(
                        model, needles, trials, short, style, args.eval_batch_tokens
                    )
                    table.setdefault(label, {}).setdefault(style, {})[name] = row
                    per_depth.setdefault(label, {}).setdefault(style, {})[name] = depth_row
                    log(
                        f"{label:16s} {style:8s} {name:10s} "
                        + " ".join(f"{k}:{v:.2f}" for k, v in row.items())
                    )
        result["niah_sweep_per_depth"] = per_depth
    if "nll" in groups:
        nll: dict[str, Any] = {}
        for name, rope in ROPE_CONFIGS.items():
            set_rope(model, rope)
            nll[name] = nll_buckets(model, "natural", 8192, 512, 4)
            log(f"nll natural {name:10s} " + " ".join(f"{v:.2f}" for v in nll[name]))
        result["nll_natural_8192_per_512"] = nll
    set_rope(model, None)
    log(f"eval took {time.time() - start:.1f} s")
    result["eval_seconds"] = time.time() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for model/, train.log, metrics.json")
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--tokens-per-step", type=int, default=65536)
    parser.add_argument("--min-len", type=int, default=128)
    parser.add_argument("--max-len", type=int, default=NATIVE)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--filler-weight", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--time-limit", type=float, default=0.0, help="stop training after this many seconds")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (dynamic shapes)")
    parser.add_argument("--eval", action="store_true", help="evaluate in process after training")
    parser.add_argument(
        "--mix", help="task weights, e.g. passkey=0.5,niah-single=0.125,... (default: built in)"
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        help="safetensors to start from (continued training): an fp32 checkpoint or a bf16 model.safetensors",
    )
    parser.add_argument("--save-fp32", action="store_true", help="also write checkpoint_fp32.safetensors")
    parser.add_argument("--eval-only", action="store_true", help="evaluate --model, no training")
    parser.add_argument("--model", type=Path, help="model folder for --eval-only")
    parser.add_argument("--eval-batch-tokens", type=int, default=262144)
    parser.add_argument("--eval-lengths", default="1024,2048,4096,8192,16384")
    parser.add_argument("--eval-depths", type=int, default=24, help="passkey depths (NIAH tasks use 12)")
    parser.add_argument(
        "--eval-tasks", help=f"comma list of what to evaluate (default all): {', '.join(EVAL_GROUPS)}"
    )
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    log_file = (args.out / "train.log").open("a")

    def log(message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    log(f"args {vars(args)}")
    metrics: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    if args.eval_only:
        from transformers import AutoModelForCausalLM

        if args.model is None:
            parser.error("--eval-only needs --model")
        device = "cuda" if torch.cuda.is_available() else "cpu"
        model = AutoModelForCausalLM.from_pretrained(
            args.model, dtype=torch.bfloat16, attn_implementation="sdpa"
        )
        model = model.to(device)
    else:
        model, info = train(args, log)
        metrics["train"] = info
        if args.save_fp32:
            from safetensors.torch import save_file

            state = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
            state.pop("lm_head.weight", None)  # tied to the embedding
            save_file(state, str(args.out / "checkpoint_fp32.safetensors"))
        save(model, args.out / "model")
        log(f"saved to {args.out / 'model'}")
    if args.eval or args.eval_only:
        metrics["eval"] = evaluate(model, args, log)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    log("done")


if __name__ == "__main__":
    main()
