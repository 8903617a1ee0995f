"""transformers: the config edit (rope dict + max_position_embeddings) applied before the model is built.

transformers 5 reads `rope_parameters` with `rope_theta` inside; transformers 4 reads `rope_scaling`
with `rope_theta` at the top level, and up to 4.55 replaced a YaRN `factor` by
max_position_embeddings / original (transformers issue 38224), which is why the edit always sets
max_position_embeddings to the target as well: then both readings give the same factor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from packaging.version import InvalidVersion, Version

from ropeguard.engines.engine import EngineRequest, EngineSettings, nest, rope_fields

# transformers 5 moved rope settings to `rope_parameters` (with rope_theta inside).
ROPE_PARAMETERS_FROM = Version("5.0.0")
NEWEST_KNOWN = "5.19.0"

# Loads the model with the config edit applied (nested `*_config` dicts go into that sub-config) and
# prints the rope the built model ended up with, so a run shows what transformers really used.
_SNIPPET = (
    "import json, sys\n"
    "from transformers import AutoConfig, AutoModelForCausalLM\n"
    "model, edit = sys.argv[1], json.loads(sys.argv[2])\n"
    "config = AutoConfig.from_pretrained(model)\n"
    "for key, value in edit.items():\n"
    '    nested = isinstance(value, dict) and key.endswith("_config")\n'
    "    for name, item in (value.items() if nested else [(key, value)]):\n"
    "        setattr(getattr(config, key) if nested else config, name, item)\n"
    "llm = AutoModelForCausalLM.from_pretrained(model, config=config)\n"
    "text = llm.config.get_text_config()\n"
    'print(json.dumps({"rope_parameters": text.rope_parameters, '
    '"max_position_embeddings": text.max_position_embeddings}))\n'
)


class TransformersEngine:
    name = "transformers"
    aliases: tuple[str, ...] = ("hf",)

    def default_version(self, installed: Mapping[str, str]) -> str:
        return installed.get("transformers", NEWEST_KNOWN)

    def settings(self, request: EngineRequest) -> EngineSettings:
        version = request.engine_version or self.default_version({})
        try:
            modern = Version(version) >= ROPE_PARAMETERS_FROM
        except InvalidVersion:
            modern = True
        rope_dict, edit = rope_fields(request, rope_parameters=modern)
        if request.rope is not None:
            edit["max_position_embeddings"] = request.target
        elif request.max_position_embeddings is not None:
            edit["max_position_embeddings"] = request.max_position_embeddings
        overrides = nest(request.spec, edit) if edit else None
        command = ["python", "-c", _SNIPPET, request.spec.serve_model, json.dumps(overrides or {})]
        return EngineSettings(
            engine=self.name,
            engine_version=version,
            rope_parameters=rope_dict,
            hf_overrides=overrides,
            command=command,
            notes=[
                "the same object works as `ropeguard eval --backend transformers --hf-overrides JSON`",
            ],
        )


ENGINE = TransformersEngine()
