"""ropeguard: serve LLMs past their native context window correctly, and prove that it works.

The library is the product; the CLI is a thin adapter over it. Public entry points are imported
lazily so that `import ropeguard` stays light (no torch, transformers or vLLM).
"""

from __future__ import annotations

__version__ = "0.1.0"
