"""Faults: kill -9 at random points, concurrent writers, damaged bundles and catalogs, full disks.

Every test checks the same promise: whatever happens, the registry holds only
complete, verified versions, its catalog lists exactly those, and the next
build succeeds. Nothing is lost.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fault_helpers import build_and_publish, parquet_bytes, snapshot

import dft_registry
from dft_registry import pipeline
from dft_registry.bundle import verify_bundle
from dft_registry.catalog import read_catalog
from dft_registry.cli import cli
from dft_registry.errors import BundleCorrupt, CatalogError, DftError
from dft_registry.incremental import partial_cache_dir

BUILD = ("import dft_registry, sys; dft_registry.build('faulty', sys.argv[1], registry=sys.argv[2], "
         "workers=2, task_bytes=1 << 17)")


def write_kill_corpus(root: Path, text: str, variant: int) -> Path:
    """Four files above the cache threshold, twelve small ones; ``variant`` changes one small file."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        (root / f"big{i}.txt").write_text("\n\n".join(f"Chapter {i}.{j}. {text}" for j in range(1 + (80 << 10) // len(text))))
    for i in range(12):
        (root / f"small{i:02d}.txt").write_text(f"Note {i}. " + text[: 500 * (i + 1)])
    (root / "variant.txt").write_text(f"This is variant number {variant}. It changes the counts.")
    return root


def assert_registry_consistent(registry: Path) -> list[str]:
    """Catalog entries == version directories on disk, and every one verifies. Returns refs."""
    catalog = read_catalog(registry)
    listed = sorted(f"{e['domain']}/{e['version']}" for e in catalog["bundles"])
    on_disk = sorted(p.relative_to(registry / "stats").as_posix()
                     for p in (registry / "stats").glob("*/v*") if p.is_dir())
    assert listed == on_disk
    for entry in catalog["bundles"]:
        dft_registry.load(f"{entry['domain']}@{entry['version']}", registry=registry)
    return listed


def kill_trials(tmp_path: Path, text: str, trials: int, seed: int, min_killed: int = 0) -> dict:
    """Run ``trials`` builds, each killed with SIGKILL (whole process group) at a random moment."""
    registry, corpus = tmp_path / "registry", tmp_path / "corpus"
    write_kill_corpus(corpus, text, variant=0)
    durations = []
    for variant in (-1, -2):  # a cold build, then a warm one (the cache holds the big files)
        write_kill_corpus(corpus, text, variant=variant)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", BUILD, str(corpus), str(registry)], check=True)
        durations.append(time.perf_counter() - started)
    assert len(list(partial_cache_dir(registry).glob("*/*/meta.json"))) == 4
    rng = random.Random(seed)
    outcome = {"trials": trials, "killed": 0, "completed": 0, "lost": 0, "seed": seed,
               "build_seconds_cold_warm": [round(d, 1) for d in durations]}
    trial = 0
    while trial < trials or (outcome["killed"] < min_killed and trial < 40):
        trial += 1
        before = snapshot(registry)
        write_kill_corpus(corpus, text, variant=trial)
        cold = trial % 3 == 1  # every third trial starts without a cache: kills hit cache writes
        if cold:
            shutil.rmtree(partial_cache_dir(registry), ignore_errors=True)
        process = subprocess.Popen([sys.executable, "-c", BUILD, str(corpus), str(registry)],
                                   start_new_session=True, stderr=subprocess.DEVNULL)
        # kill moments spread over the build, imports included (on a busy machine builds
        # vary in length, so some still finish first: those must be complete versions)
        time.sleep(rng.uniform(0.1, 0.9 * min(durations)))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            outcome["killed"] += 1
        process.wait()
        after = snapshot(registry)
        # nothing that was there changed or vanished ...
        outcome["lost"] += sum(1 for name, data in before.items() if after.get(name) != data
                               and name != "catalog.json")
        assert {k: v for k, v in after.items() if k in before and k != "catalog.json"} == {
            k: v for k, v in before.items() if k != "catalog.json"}
        # ... and what is there now is complete and catalogued
        refs = assert_registry_consistent(registry)
        outcome["completed"] += len(refs) - len(set(before) & {f"stats/{r}/manifest.json" for r in refs})
        print(f"trial {trial}: {json.dumps(outcome)}", flush=True)
    # the next build succeeds, leaves no temp files and matches a cache-free build
    result = dft_registry.build("faulty", corpus, registry=registry, workers=1)
    assert not any((registry / ".tmp").iterdir())
    assert not any((partial_cache_dir(registry) / "tmp").glob("*"))
    fresh = dft_registry.build("faulty", corpus, registry=tmp_path / "fresh", workers=1,
                               incremental=False)
    assert parquet_bytes(result.path) == parquet_bytes(fresh.path)
    assert_registry_consistent(registry)
    outcome["versions"] = len(read_catalog(registry)["bundles"])
    outcome["trials"] = trial
    return outcome


def test_kill_9_at_5_random_points_loses_nothing(tmp_path, real_text):
    outcome = kill_trials(tmp_path, real_text, trials=5, seed=8)
    assert outcome["lost"] == 0
    print(json.dumps(outcome))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_kill_9_at_25_random_points_loses_nothing(tmp_path, real_text):
    """At least 20 builds killed; trials go on until then (at most 40)."""
    outcome = kill_trials(tmp_path, real_text, trials=25, min_killed=20, seed=int(os.environ.get("DFT_SEED", "2026")))
    assert outcome["lost"] == 0 and outcome["killed"] >= 20
    print(json.dumps(outcome))


# ---------------------------------------------------------------- concurrency

def test_eight_concurrent_builds_and_publishes_lose_no_entry(tmp_path, real_text):
    registry, remote = tmp_path / "registry", tmp_path / "remote"
    corpora = []
    for i in range(8):
        corpus = tmp_path / f"corpus{i}"
        corpus.mkdir()
        (corpus / "a.txt").write_text(f"Writer {i} was here. " + real_text[: 3000 + 500 * i])
        corpora.append(corpus)
    context = multiprocessing.get_context("spawn")
    with context.Pool(8) as pool:
        done = pool.map(build_and_publish,
                        [(i, str(corpora[i]), str(registry), str(remote)) for i in range(8)])
    # two writers per domain: each domain has v1 and v2, whoever came first
    assert sorted(ref for ref, _, _ in done) == sorted(f"d{d}@v{v}" for d in range(4) for v in (1, 2))
    assert all(created for _, _, created in done)
    catalog = json.loads((registry / "catalog.json").read_text())  # valid JSON
    assert {(e["domain"], e["version"], e["content_hash"]) for e in catalog["bundles"]} == {
        (*ref.split("@"), digest) for ref, digest, _ in done}
    assert_registry_consistent(registry)
    remote_catalog = json.loads((remote / "catalog.json").read_text())
    assert len(remote_catalog["bundles"]) == 8
    from dft_registry.remote import pull

    for ref, digest, _ in done:
        pulled = pull(ref, str(remote), registry=tmp_path / "puller")
        assert pulled.content_hash == digest
    assert_registry_consistent(tmp_path / "puller")


# ---------------------------------------------------------------- damaged bundles

def _flip_byte(path: Path) -> None:
    data = bytearray((path / "ngrams.parquet").read_bytes())
    data[len(data) // 2] ^= 0x01
    (path / "ngrams.parquet").write_bytes(bytes(data))


def _delete_file(path: Path) -> None:
    (path / "openers.parquet").unlink()


def _truncate(path: Path) -> None:
    data = (path / "unigrams.parquet").read_bytes()
    (path / "unigrams.parquet").write_bytes(data[: len(data) - 100])


def _edit_file_hash(path: Path) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["windows.parquet"]["sha256"] = "0" * 64
    (path / "manifest.json").write_text(json.dumps(manifest))


def _edit_content_hash(path: Path) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["content_hash"] = "f" * 64
    (path / "manifest.json").write_text(json.dumps(manifest))


def _garble_manifest(path: Path) -> None:
    (path / "manifest.json").write_text('{"format": "dft-stats-bundle", "files": ')


DAMAGE = {"flipped byte": _flip_byte, "missing file": _delete_file, "truncated parquet": _truncate,
          "edited file hash in manifest": _edit_file_hash,
          "edited content hash in manifest": _edit_content_hash,
          "manifest not JSON": _garble_manifest}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_bundle_is_refused_by_load_verify_and_pull(damage, built_registry, tmp_path):
    from dft_registry.remote import publish, pull

    remote = tmp_path / "remote"
    publish("golden@v1", str(remote), registry=built_registry)
    path = built_registry / "stats" / "golden" / "v1"
    DAMAGE[damage](path)
    DAMAGE[damage](remote / "stats" / "golden" / "v1")

    with pytest.raises(BundleCorrupt):
        dft_registry.load("golden", registry=built_registry)
    assert verify_bundle(path)
    result = CliRunner().invoke(cli, ["verify", "golden@v1", "--registry", str(built_registry)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    puller = tmp_path / "puller"
    with pytest.raises(DftError):
        pull("golden@v1", str(remote), registry=puller)
    assert not (puller / "stats" / "golden").exists() or not any((puller / "stats" / "golden").iterdir())
    assert read_catalog(puller)["bundles"] == []


def test_an_edited_manifest_total_is_refused(built_registry):
    path = built_registry / "stats" / "golden" / "v1"
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["totals"]["words"] += 1
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleCorrupt):
        dft_registry.load("golden", registry=built_registry)


# ---------------------------------------------------------------- corrupt catalog

def test_a_corrupt_catalog_is_a_clear_error_and_catalog_rebuild_recovers_it(built_registry,
                                                                             golden_corpus, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "a.txt").write_text("Another domain. It has words.")
    dft_registry.build("other", extra, registry=built_registry, workers=1)
    good = read_catalog(built_registry)
    before = snapshot(built_registry)
    (built_registry / "catalog.json").write_text('{"format": "dft-catalog", "bundles": [')

    with pytest.raises(CatalogError, match="catalog rebuild"):
        dft_registry.load("golden", registry=built_registry)
    with pytest.raises(CatalogError, match="catalog rebuild"):
        dft_registry.build("third", extra, registry=built_registry, workers=1)
    assert not (built_registry / "stats" / "third").exists()  # nothing half-written
    runner = CliRunner()
    for args in (["list"], ["show", "golden"], ["build", "x", "--source", str(extra)]):
        result = runner.invoke(cli, [*args, "--registry", str(built_registry)])
        assert result.exit_code != 0 and "catalog rebuild" in result.output, args
        assert "Traceback" not in result.output

    result = runner.invoke(cli, ["catalog", "rebuild", "--registry", str(built_registry)])
    assert result.exit_code == 0, result.output
    rebuilt = read_catalog(built_registry)
    assert rebuilt["bundles"] == good["bundles"]
    assert (built_registry / "catalog.json.bak").exists()  # the damaged file is kept
    assert {k: v for k, v in snapshot(built_registry).items() if k != "catalog.json"} == {
        k: v for k, v in before.items() if k != "catalog.json"}
    dft_registry.load("golden", registry=built_registry)


# ---------------------------------------------------------------- disk full

def test_disk_full_during_the_reduce_is_one_clear_error_and_leaves_nothing(built_registry,
                                                                          golden_corpus, tmp_path,
                                                                          monkeypatch):
    corpus = tmp_path / "more"
    shutil.copytree(golden_corpus, corpus)
    (corpus / "extra.txt").write_text("A new document. It changes the numbers.")
    before = snapshot(built_registry)
    written: list[str] = []
    original = pipeline.write_table

    def fills_up(table, path):
        if len(written) == 3:  # the disk fills up while the fourth bundle table is written
            path.write_bytes(b"PAR1 partial")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written.append(path.name)
        return original(table, path)

    monkeypatch.setattr(pipeline, "write_table", fills_up)
    with pytest.raises(pipeline.StorageError, match="no space left.*nothing was changed"):
        dft_registry.build("golden", corpus, registry=built_registry, workers=1)
    assert snapshot(built_registry) == before
    assert not any((built_registry / ".tmp").iterdir())
    result = CliRunner().invoke(cli, ["build", "golden", "--source", str(corpus), "--quiet",
                                      "--workers", "1", "--registry", str(built_registry)])
    assert result.exit_code != 0
    assert [line for line in result.output.splitlines() if line.strip()] == [
        line for line in result.output.splitlines() if "no space left" in line]
    monkeypatch.undo()
    assert dft_registry.build("golden", corpus, registry=built_registry, workers=1).version == "v2"


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 256 KiB tmpfs (needs root and mount rights; skipped elsewhere)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
                            check=False, capture_output=True)
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=False)


def test_a_really_full_disk_is_one_clear_error_and_leaves_nothing(tiny_tmpfs, tmp_path):
    corpus = tmp_path / "words"
    corpus.mkdir()
    rng = random.Random(0)
    vocabulary = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 8)))
                  for _ in range(20_000)]
    for f in range(3):
        (corpus / f"r{f}.txt").write_text("\n\n".join(
            " ".join(rng.choice(vocabulary) for _ in range(12)) + "." for _ in range(5000)))
    registry = tiny_tmpfs / "registry"
    with pytest.raises(pipeline.StorageError, match="no space left"):
        dft_registry.build("full", corpus, registry=registry, workers=1)
    assert not (registry / "stats" / "full").exists()
    assert not (registry / "catalog.json").exists()
    assert not any((registry / ".tmp").iterdir())
