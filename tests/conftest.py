"""Shared fixtures: the golden corpus and registries built from it (no network, small data)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def golden_corpus() -> Path:
    """A directory of five public-domain documents (two files, three JSONL records)."""
    return DATA / "golden"


@pytest.fixture(scope="session")
def _golden_registry_template(tmp_path_factory, golden_corpus) -> Path:
    import dft_registry

    root = tmp_path_factory.mktemp("golden-registry")
    dft_registry.build("golden", golden_corpus, registry=root, workers=1,
                       description="Golden test corpus", license="public-domain")
    return root


@pytest.fixture
def built_registry(_golden_registry_template, tmp_path) -> Path:
    """A fresh copy of a registry holding ``golden@v1`` (safe to modify in a test)."""
    root = tmp_path / "registry"
    shutil.copytree(_golden_registry_template, root)
    return root


@pytest.fixture
def registry(tmp_path, monkeypatch) -> Path:
    """An empty registry directory, also set as $DFT_REGISTRY."""
    root = tmp_path / "empty-registry"
    root.mkdir()
    monkeypatch.setenv("DFT_REGISTRY", str(root))
    return root
