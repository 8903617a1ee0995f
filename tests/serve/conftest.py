from __future__ import annotations

import os

import pytest


@pytest.fixture
def update_golden() -> bool:
    """Set ROPEGUARD_UPDATE_GOLDEN=1 to rewrite the golden files from the current output."""
    return os.environ.get("ROPEGUARD_UPDATE_GOLDEN") == "1"
