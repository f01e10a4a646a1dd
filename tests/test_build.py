"""Build pipeline: determinism, merging, spilling, versions and the catalog."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path

import pyarrow.parquet as pq

import dft_registry
from dft_registry.catalog import read_catalog
from dft_registry.segment import get_segmenter
from dft_registry.stats.partial import PartialCounts


def parquet_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.glob("*.parquet"))}


def make_corpus(root: Path, golden: Path, copies: int = 6) -> Path:
    """Several files (so a build has several map tasks) of real text."""
    root.mkdir(parents=True, exist_ok=True)
    texts = [p.read_text() for p in sorted(golden.glob("*.txt")) + sorted(golden.glob("*.md"))]
    for i in range(copies):
        # vary the documents so counts differ per file
        (root / f"doc{i:02d}.txt").write_text("\n\n".join(texts[: 1 + i % len(texts)]) + f"\n\nCopy {i}.")
    shutil.copy(golden / "documents.jsonl", root / "records.jsonl")
    return root


def test_same_inputs_give_byte_identical_bundles_for_1_and_2_workers(tmp_path, golden_corpus):
    corpus = make_corpus(tmp_path / "corpus", golden_corpus)
    one = dft_registry.build("d", corpus, registry=tmp_path / "r1", workers=1, task_bytes=1)
    two = dft_registry.build("d", corpus, registry=tmp_path / "r2", workers=2, task_bytes=1)
    assert one.content_hash == two.content_hash
    assert parquet_bytes(one.path) == parquet_bytes(two.path)
    assert one.manifest["totals"] == two.manifest["totals"]


def test_rebuild_with_same_inputs_creates_no_new_version(built_registry, golden_corpus):
    before = read_catalog(built_registry)
    again = dft_registry.build("golden", golden_corpus, registry=built_registry, workers=1)
    assert (again.version, again.created) == ("v1", False)
    assert read_catalog(built_registry) == before
    assert sorted(p.name for p in (built_registry / "stats" / "golden").iterdir()) == ["v1"]


def test_changed_inputs_create_the_next_version(built_registry, golden_corpus, tmp_path):
    corpus = tmp_path / "more"
    shutil.copytree(golden_corpus, corpus)
    (corpus / "extra.txt").write_text("A new document about the Union. It has two sentences.")
    result = dft_registry.build("golden", corpus, registry=built_registry, workers=1)
    assert (result.version, result.created) == ("v2", True)
    versions = [e["version"] for e in read_catalog(built_registry)["bundles"]]
    assert versions == ["v1", "v2"]
    assert dft_registry.load("golden", registry=built_registry).version == "v2"
    assert dft_registry.load("golden@v1", registry=built_registry).version == "v1"
    prefix = result.content_hash[:8]
    assert dft_registry.load(f"golden@sha256:{prefix}", registry=built_registry).version == "v2"


def test_spilling_partials_gives_the_same_bundle(tmp_path, golden_corpus):
    corpus = make_corpus(tmp_path / "corpus", golden_corpus)
    normal = dft_registry.build("d", corpus, registry=tmp_path / "a", workers=1)
    spilled = dft_registry.build("d", corpus, registry=tmp_path / "b", workers=1, memory_limit=1)
    assert spilled.content_hash == normal.content_hash


def test_merge_of_partials_equals_a_single_pass(golden_corpus):
    segmenter = get_segmenter()
    texts = [p.read_text() for p in sorted(golden_corpus.glob("*.*")) if p.suffix in (".txt", ".md")]
    texts += [json.loads(line)["text"] for line in (golden_corpus / "documents.jsonl").read_text().splitlines()]
    single, first, second = PartialCounts(), PartialCounts(), PartialCounts()
    for i, text in enumerate(texts):
        sentences = segmenter.segment(text)
        single.add_document(f"doc{i}", [sentences], len(text))
        (first if i % 2 else second).add_document(f"doc{i}", [sentences], len(text))
    first.merge(second)
    for name in ("unigrams", "unigram_docs", "ngrams", "ngram_docs", "sentence_lengths",
                 "doc_lengths", "openers", "opener_docs"):
        assert getattr(first, name) == getattr(single, name), name
    assert first.totals == single.totals
    assert first.windows.rows() == single.windows.rows()


def _build_in_process(args):
    domain, corpus, registry = args
    import dft_registry

    return dft_registry.build(domain, corpus, registry=registry, workers=1).ref


def test_concurrent_builds_of_two_domains_keep_both_catalog_entries(tmp_path, golden_corpus):
    registry = tmp_path / "shared"
    context = multiprocessing.get_context("spawn")
    domains = ["alpha", "beta", "gamma", "delta"]
    with context.Pool(4) as pool:
        refs = pool.map(_build_in_process, [(d, str(golden_corpus), str(registry)) for d in domains])
    assert sorted(refs) == sorted(f"{d}@v1" for d in domains)
    catalog = read_catalog(registry)
    assert sorted(e["domain"] for e in catalog["bundles"]) == sorted(domains)
    for d in domains:
        dft_registry.load(d, registry=registry)  # every bundle verifies


def test_bundle_tables_have_the_format_v1_schema(built_registry):
    bundle = dft_registry.load("golden", registry=built_registry)
    schemas = {name: pq.read_schema(bundle.path / f"{name}.parquet") for name in bundle.tables}
    assert [(f.name, str(f.type)) for f in schemas["unigrams"]] == [
        ("token", "string"), ("count", "int64"), ("doc_count", "int64"), ("is_punct", "bool")]
    assert [(f.name, str(f.type)) for f in schemas["ngrams"]] == [
        ("n", "int8"), ("ngram", "string"), ("count", "int64"), ("doc_count", "int64")]
    assert [(f.name, str(f.type)) for f in schemas["sentence_lengths"]] == [("length", "int32"), ("count", "int64")]
    assert [(f.name, str(f.type)) for f in schemas["doc_lengths"]] == [("words", "int64"), ("count", "int64")]
    assert [(f.name, str(f.type)) for f in schemas["openers"]] == [("opener", "string"), ("count", "int64")]
    assert [(f.name, str(f.type)) for f in schemas["entropy"]] == [
        ("metric", "string"), ("window", "int32"), ("value", "double")]
    views = bundle.connect().sql("SELECT COUNT(*) FROM sentence_lengths").fetchall()[0][0]
    assert views == bundle.table("sentence_lengths").num_rows
