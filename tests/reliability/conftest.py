"""Helpers shared by the fault suite."""

from __future__ import annotations

from pathlib import Path

import pytest


def snapshot(registry: Path) -> dict[str, bytes]:
    """catalog.json and every file under stats/ (not temp areas, caches or lock files)."""
    files = [registry / "catalog.json", *sorted((registry / "stats").rglob("*"))]
    return {str(p.relative_to(registry)): p.read_bytes() for p in files
            if p.is_file() and not p.name.endswith(".lock") and ".tmp" not in p.parts}


def parquet_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.glob("*.parquet"))}


@pytest.fixture
def real_text(golden_corpus) -> str:
    """A few pages of real English (the golden corpus's two text files)."""
    return ((golden_corpus / "pride_and_prejudice.md").read_text() + "\n\n"
            + (golden_corpus / "gettysburg.txt").read_text())
