"""The bundled tiny model's character-level tokenizer and chat template.

One token per character keeps exact token counts trivial to reason about, and a real `tokenizer.json`
plus chat template makes `/v1/chat/completions` and `/tokenize` behave as with a real model.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from ropeguard.files import write_atomic

PAD = "<pad>"
UNK = "<unk>"
END = "<|end|>"  # end of a turn; also the end-of-sequence token
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (PAD, UNK, END, *ROLE_TOKENS)

# Printable ASCII plus newline: the task generators and the filler only use these.
CHARACTERS = "\n" + "".join(ch for ch in string.printable if ch not in "\t\r\x0b\x0c\n")

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}<|end|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def vocabulary() -> dict[str, int]:
    """Token -> id: the special tokens first, then one id per character."""
    tokens = [*SPECIAL_TOKENS, *CHARACTERS]
    return {token: index for index, token in enumerate(tokens)}


def tokenizer_json() -> dict[str, object]:
    """A `tokenizers` BPE model with no merges: every character is one token."""
    vocab = vocabulary()
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": vocab[token],
                "content": token,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for token in SPECIAL_TOKENS
        ],
        "normalizer": None,
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": {"type": "Fuse"},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": UNK,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [],
        },
    }


def tokenizer_config(model_max_length: int) -> dict[str, object]:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": model_max_length,
        "eos_token": END,
        "pad_token": PAD,
        "unk_token": UNK,
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }


def write_tokenizer(folder: Path, *, model_max_length: int) -> None:
    """Write tokenizer.json, tokenizer_config.json and chat_template.jinja into `folder`."""
    # Atomic like every file ropeguard writes: a killed write never leaves a tokenizer half there.
    write_atomic(folder / "tokenizer.json", json.dumps(tokenizer_json(), indent=1) + "\n")
    write_atomic(
        folder / "tokenizer_config.json", json.dumps(tokenizer_config(model_max_length), indent=1) + "\n"
    )
    write_atomic(
        folder / "special_tokens_map.json",
        json.dumps({"eos_token": END, "pad_token": PAD, "unk_token": UNK}, indent=1) + "\n",
    )
    write_atomic(folder / "chat_template.jinja", CHAT_TEMPLATE)
