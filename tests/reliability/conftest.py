"""Fixtures shared by the fault suite (plain helpers are in fault_helpers.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def real_text(golden_corpus) -> str:
    """A few pages of real English (the golden corpus's two text files)."""
    return ((golden_corpus / "pride_and_prejudice.md").read_text() + "\n\n"
            + (golden_corpus / "gettysburg.txt").read_text())
