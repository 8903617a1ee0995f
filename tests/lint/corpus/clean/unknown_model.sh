#!/bin/bash
# A private model ropeguard cannot resolve offline: model rules are skipped, not guessed.
vllm serve my-org/private-model --max-model-len 65536
