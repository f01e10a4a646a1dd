"""Incremental builds: unchanged files' partial counts are reused, the bundle is unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import dft_registry
from dft_registry import pipeline
from dft_registry.incremental import MIN_CACHED_BYTES, partial_cache_dir


def parquet_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.glob("*.parquet"))}


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """Names of the inputs the map step actually segments (builds run in-process, workers=1)."""
    names: list[str] = []
    original = pipeline._count_documents

    def spy(item, *args, **kwargs):
        names.append(item.name)
        return original(item, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_count_documents", spy)
    return names


def write_corpus(root: Path, golden: Path, names: list[str]) -> Path:
    """Files of real text above the caching threshold, each different, plus one small file."""
    root.mkdir(parents=True, exist_ok=True)
    text = (golden / "pride_and_prejudice.md").read_text() + (golden / "gettysburg.txt").read_text()
    for i, name in enumerate(names):
        body = "\n\n".join(f"Part {i}.{j}. " + text for j in range(1 + MIN_CACHED_BYTES // len(text)))
        (root / name).write_text(body)
    (root / "small.txt").write_text("A small file is recounted every time. It is cheap.")
    return root


def test_adding_files_recounts_only_the_new_ones_and_matches_a_fresh_build(tmp_path, golden_corpus,
                                                                            counted):
    corpus = write_corpus(tmp_path / "corpus", golden_corpus, ["a.txt", "b.txt", "c.txt"])
    registry = tmp_path / "reg"
    first = dft_registry.build("inc", corpus, registry=registry, workers=1)
    assert sorted(counted) == ["a.txt", "b.txt", "c.txt", "small.txt"]

    write_corpus(corpus, golden_corpus, ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"])
    counted.clear()
    second = dft_registry.build("inc", corpus, registry=registry, workers=1)
    assert sorted(counted) == ["d.txt", "e.txt", "small.txt"]  # a, b, c came from the cache
    assert (first.version, second.version) == ("v1", "v2")

    fresh = dft_registry.build("inc", corpus, registry=tmp_path / "fresh", workers=2, task_bytes=1,
                               incremental=False)
    assert parquet_bytes(second.path) == parquet_bytes(fresh.path)
    assert second.content_hash == fresh.content_hash
    assert second.manifest["totals"] == fresh.manifest["totals"]
    assert second.manifest["skipped"] == fresh.manifest["skipped"]


def test_a_changed_file_or_changed_settings_are_recounted(tmp_path, golden_corpus, counted):
    corpus = write_corpus(tmp_path / "corpus", golden_corpus, ["a.txt", "b.txt"])
    registry = tmp_path / "reg"
    dft_registry.build("inc", corpus, registry=registry, workers=1)
    (corpus / "b.txt").write_text((corpus / "b.txt").read_text() + "\n\nOne more sentence.")
    counted.clear()
    dft_registry.build("inc", corpus, registry=registry, workers=1)
    assert sorted(counted) == ["b.txt", "small.txt"]
    counted.clear()
    dft_registry.build("inc", corpus, registry=registry, workers=1, window_samples=50)
    assert sorted(counted) == ["a.txt", "b.txt", "small.txt"]


def test_a_damaged_cache_entry_is_recounted_not_trusted(tmp_path, golden_corpus, counted):
    corpus = write_corpus(tmp_path / "corpus", golden_corpus, ["a.txt", "b.txt"])
    registry = tmp_path / "reg"
    first = dft_registry.build("inc", corpus, registry=registry, workers=1)
    cached = sorted(partial_cache_dir(registry).glob("*/*/*unigrams.parquet"))
    assert len(cached) == 2
    data = bytearray(cached[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    cached[0].write_bytes(bytes(data))
    (cached[1].parent / "meta.json").write_text("{")
    shutil.rmtree(registry / "stats")
    (registry / "catalog.json").unlink()
    counted.clear()
    again = dft_registry.build("inc", corpus, registry=registry, workers=1)
    assert len(counted) == 3  # both damaged entries and the small file were counted again
    assert parquet_bytes(again.path) == parquet_bytes(first.path)


def test_incremental_false_writes_no_cache(tmp_path, golden_corpus):
    corpus = write_corpus(tmp_path / "corpus", golden_corpus, ["a.txt"])
    dft_registry.build("inc", corpus, registry=tmp_path / "reg", workers=1, incremental=False)
    assert not partial_cache_dir(tmp_path / "reg").exists()
