"""Bad input: counted skips with reasons, or one clear error and nothing written."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import dft_registry
from dft_registry.catalog import read_catalog
from dft_registry.cli import cli
from dft_registry.errors import InputError, UsageError

GOOD = "The court shall decide. The parties agree to the terms of this license.\n"


def snapshot(registry: Path) -> dict[str, bytes]:
    """catalog.json and every file under stats/ (not the .tmp work area or lock files)."""
    files = [registry / "catalog.json", *sorted((registry / "stats").rglob("*"))]
    return {str(p.relative_to(registry)): p.read_bytes() for p in files
            if p.is_file() and not p.name.endswith(".lock")}


@pytest.fixture
def messy(tmp_path) -> Path:
    d = tmp_path / "messy"
    d.mkdir()
    (d / "good.txt").write_text(GOOD * 3)
    (d / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me, d\xe9j\xe0 vu.".encode("latin-1"))
    (d / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 100)
    (d / "empty.txt").write_text("")
    (d / "image.png").write_bytes(b"\x89PNG\r\n")
    (d / "records.jsonl").write_text(
        json.dumps({"text": GOOD}) + "\n{not json\n" + json.dumps({"body": GOOD}) + "\n"
        + json.dumps({"text": 42}) + "\n" + json.dumps({"text": GOOD * 2}) + "\n")
    (d / "broken.jsonl.gz").write_bytes(gzip.compress(json.dumps({"text": GOOD}).encode() * 50)[:40])
    (d / "fine.jsonl.bz2").write_bytes(bz2.compress((json.dumps({"text": GOOD}) + "\n").encode()))
    return d


def skipped(result) -> dict[tuple[str, str], int]:
    return {(s["file"], s["reason"]): s["count"] for s in result.manifest["skipped"]}


def test_unreadable_inputs_are_counted_skips_with_reasons(messy, tmp_path):
    result = dft_registry.build("messy", messy, registry=tmp_path / "reg", workers=1)
    skips = skipped(result)
    assert skips[("latin1.txt", "not UTF-8")] == 1
    assert skips[("binary.txt", "binary file")] == 1
    assert skips[("empty.txt", "empty")] == 1
    assert skips[("image.png", "unsupported file type")] == 1
    assert skips[("records.jsonl", "malformed JSON line")] == 1
    assert skips[("records.jsonl", "missing text field 'text' (set --text-field)")] == 1
    assert skips[("records.jsonl", "empty or non-string text")] == 1
    assert any(f == "broken.jsonl.gz" and r.startswith("unreadable") for f, r in skips)
    # good.txt + 2 good records + fine.jsonl.bz2 (+ whatever the truncated gzip yielded first)
    assert result.manifest["totals"]["documents"] >= 4


def test_strict_turns_the_first_skip_into_an_error_and_writes_nothing(messy, tmp_path):
    registry = tmp_path / "reg"
    with pytest.raises(InputError, match="--strict"):
        dft_registry.build("messy", messy, registry=registry, workers=1, strict=True)
    assert not (registry / "catalog.json").exists()
    assert not list((registry / "stats").glob("messy*"))


def _single_line_corpus(tmp_path, size: int):
    d = tmp_path / "big"
    d.mkdir()
    sentence = "word " * 19 + "end. "
    (d / "line.txt").write_text(sentence * (size // len(sentence)))
    return d, sentence


def test_an_8_mb_single_line_streams_in_bounded_parts(tmp_path):
    """8 MB: eight 1 MB reader parts, each cut into 100k-character segmenter chunks."""
    d, sentence = _single_line_corpus(tmp_path, 8_000_000)
    result = dft_registry.build("big", d, registry=tmp_path / "reg", workers=1, window_samples=10)
    totals = result.manifest["totals"]
    assert totals["documents"] == 1
    assert totals["words"] == 20 * (8_000_000 // len(sentence))


@pytest.mark.slow
def test_a_50_mb_single_line_streams_in_bounded_parts(tmp_path):
    d, sentence = _single_line_corpus(tmp_path, 50_000_000)
    result = dft_registry.build("big", d, registry=tmp_path / "reg", workers=1, window_samples=10)
    totals = result.manifest["totals"]
    assert totals["documents"] == 1
    assert totals["words"] == 20 * (50_000_000 // len(sentence))
    lengths = dft_registry.load("big", registry=tmp_path / "reg").table("sentence_lengths").to_pylist()
    assert lengths[-1]["length"] == 20 and lengths[-1]["count"] >= 0.99 * totals["sentences"]


@pytest.mark.parametrize("domain", ["../x", "has space", "Legal", "", "a" * 65, "x/y", ".hidden"])
def test_invalid_domain_names_are_refused(domain, golden_corpus, tmp_path):
    with pytest.raises(UsageError, match="invalid domain name"):
        dft_registry.build(domain, golden_corpus, registry=tmp_path / "reg")
    assert not (tmp_path / "reg" / "stats").exists() or not any((tmp_path / "reg" / "stats").iterdir())


def test_missing_and_empty_sources_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        dft_registry.build("x", tmp_path / "nope", registry=tmp_path / "reg")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no readable input"):
        dft_registry.build("x", tmp_path / "empty", registry=tmp_path / "reg")
    with pytest.raises(UsageError, match="matches no file"):
        dft_registry.build("x", str(tmp_path / "*.jsonl"), registry=tmp_path / "reg")


def test_a_source_with_no_usable_document_is_an_error(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "a.jsonl").write_text(json.dumps({"body": "x"}) + "\n")
    with pytest.raises(InputError, match="no usable document.*--text-field"):
        dft_registry.build("x", d, registry=tmp_path / "reg", workers=1)


def test_other_formats_parquet_csv_zst_and_saved_datasets(tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    d = tmp_path / "formats"
    d.mkdir()
    pq.write_table(pa.table({"content": [GOOD, GOOD * 2]}), d / "a.parquet")
    (d / "b.csv").write_text('id,content\n1,"' + GOOD.strip() + '"\n2,"Hello, world. Bye."\n')
    (d / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(
        (json.dumps({"content": GOOD}) + "\n").encode()))
    datasets.Dataset.from_dict({"content": [GOOD, "Another one. Yes."]}).save_to_disk(str(d / "saved"))
    result = dft_registry.build("formats", d, registry=tmp_path / "reg", workers=1,
                                text_field="content", text_column="content")
    assert result.manifest["skipped"] == []
    assert result.manifest["totals"]["documents"] == 2 + 2 + 1 + 2


def test_cli_errors_are_one_line_with_nonzero_exit(tmp_path, golden_corpus):
    runner = CliRunner()
    cases = [
        (["build", "../x", "--source", str(golden_corpus)], "invalid domain name"),
        (["build", "x", "--source", str(tmp_path / "missing")], "does not exist"),
        (["show", "nothere"], "no bundle for domain"),
        (["show", "golden@v9"], "the catalog is empty"),
        (["show", "golden@latest"], "bad bundle reference"),
        (["build", "x", "--source", str(golden_corpus), "--workers", "0"], "--workers"),
        (["build", "x", "--source", str(golden_corpus), "--memory-limit", "lots"], "bad memory size"),
        (["build", "x", "--source", str(golden_corpus), "--segmenter", "nltk.v1"], "unknown segmenter"),
    ]
    for args, message in cases:
        result = runner.invoke(cli, [*args, "--registry", str(tmp_path / "reg")])
        assert result.exit_code != 0, args
        lines = [line for line in result.output.strip().splitlines() if line]
        assert len(lines) == 1 and message in lines[0], (args, result.output)
        assert "Traceback" not in result.output


def test_killing_a_build_at_any_moment_leaves_the_registry_as_before(built_registry, tmp_path, golden_corpus):
    """kill -9 at several points of a build: stats/ and catalog.json are unchanged."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(20):
        (corpus / f"{i}.txt").write_text((golden_corpus / "gettysburg.txt").read_text() * (i + 1))
    before = snapshot(built_registry)
    code = ("import dft_registry, sys; dft_registry.build('golden', sys.argv[1], registry=sys.argv[2], "
            "workers=2, task_bytes=1)")
    for delay in (0.5, 1.5, 2.5, 3.5, 4.5):
        process = subprocess.Popen([sys.executable, "-c", code, str(corpus), str(built_registry)],
                                   start_new_session=True)
        time.sleep(delay)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        after = snapshot(built_registry)
        if after != before:  # the build finished before the kill: that is a new, complete version
            assert read_catalog(built_registry)["bundles"][-1]["version"] == "v2"
            dft_registry.load("golden@v2", registry=built_registry)
            return
    # the next build succeeds and cleans up what the killed ones left in .tmp
    result = dft_registry.build("golden", corpus, registry=built_registry, workers=1)
    assert result.version == "v2" and result.created
    assert not any((built_registry / ".tmp").iterdir())
