#!/bin/bash
# An unrelated benchmark environment in the same folder: its pin is not the server's.
pip install vllm==0.8.5 datasets
python bench.py
