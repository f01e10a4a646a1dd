"""The Ray executor: byte-identical bundles, retries, isolation of failing inputs, no stalls."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

import dft_registry
from dft_registry.errors import UsageError
from dft_registry.pipeline import BuildSettings, count_task, plan_tasks

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install 'dft[ray]'")

import ray_tasks  # (tests/reliability is on sys.path under pytest)
from ray import cloudpickle  # (Ray's own copy is the one that pickles tasks)

cloudpickle.register_pickle_by_value(ray_tasks)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray with 2 CPUs for the whole module (start-up costs seconds)."""
    import os

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
             object_store_memory=256 * 1024**2, configure_logging=False)
    yield
    ray.shutdown()


def parquet_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.glob("*.parquet"))}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, golden_corpus) -> Path:
    root = tmp_path_factory.mktemp("ray-corpus")
    texts = [p.read_text() for p in sorted(golden_corpus.glob("*.txt")) + sorted(golden_corpus.glob("*.md"))]
    for i in range(6):
        (root / f"doc{i:02d}.txt").write_text("\n\n".join(texts[: 1 + i % len(texts)]) + f"\n\nCopy {i}.")
    shutil.copy(golden_corpus / "documents.jsonl", root / "records.jsonl")
    return root


@pytest.fixture(scope="module")
def local_bundle(tmp_path_factory, corpus):
    return dft_registry.build("d", corpus, registry=tmp_path_factory.mktemp("local"), workers=1)


def test_ray_build_is_byte_identical_to_the_local_build(local_ray, local_bundle, corpus, tmp_path):
    events: list[dict] = []
    on_ray = dft_registry.build("d", corpus, registry=tmp_path / "r", workers=2, task_bytes=1,
                                executor="ray", on_progress=events.append)
    assert on_ray.content_hash == local_bundle.content_hash
    assert parquet_bytes(on_ray.path) == parquet_bytes(local_bundle.path)
    assert on_ray.manifest["totals"] == local_bundle.manifest["totals"]
    assert sum(e.get("files", 0) for e in events) == 7  # progress came back from the workers
    assert sum(e.get("words", 0) for e in events) == on_ray.manifest["totals"]["words"]


def test_partials_shipped_from_another_node_give_the_same_bundle(local_ray, local_bundle, corpus,
                                                                  tmp_path):
    shipped = dft_registry.build("d", corpus, registry=tmp_path / "r", workers=2, task_bytes=1,
                                 executor="ray", executor_options={"ship_files": True})
    assert parquet_bytes(shipped.path) == parquet_bytes(local_bundle.path)


def _tasks(corpus: Path, tmp_path: Path, task_bytes: int):
    inputs = dft_registry.inputs.list_inputs(corpus)
    return plan_tasks(inputs, BuildSettings(), tmp_path / "partials", 1 << 30, task_bytes)


def test_a_transient_error_is_retried(local_ray, corpus, tmp_path):
    from dft_registry.ray_executor import run_ray

    tasks = _tasks(corpus, tmp_path, task_bytes=1)
    results = run_ray(ray_tasks.fail_once_then_count, tasks, workers=2)
    expected = [count_task(t) for t in _tasks(corpus, tmp_path / "again", task_bytes=1)]
    assert [r.totals for r in results] == [r.totals for r in expected]
    assert all(Path(t.spill_dir + ".tried").exists() for t in tasks)  # each failed once


def test_an_input_that_keeps_crashing_its_worker_becomes_a_counted_skip(local_ray, corpus, tmp_path):
    from dft_registry.ray_executor import run_ray

    source = tmp_path / "src"
    shutil.copytree(corpus, source)
    shutil.copy(source / "doc00.txt", source / "poison.txt")
    tasks = _tasks(source, tmp_path, task_bytes=1 << 30)  # one task holds every input
    assert len(tasks) == 1
    [result] = run_ray(ray_tasks.crash_on_poison, tasks, workers=2, max_retries=1)
    assert [(r["file"], r["count"]) for r in result.skips.records()] == [("poison.txt", 1)]
    assert "map task failed on every try" in result.skips.records()[0]["reason"]
    clean = count_task(_tasks(corpus, tmp_path / "clean", task_bytes=1 << 30)[0])
    assert result.totals == clean.totals  # every other input was counted once
    assert "poison.txt" in result.fingerprints


def test_a_bug_in_a_task_is_an_error_not_a_skip(local_ray, corpus, tmp_path):
    from dft_registry.ray_executor import MapTaskFailed, run_ray

    with pytest.raises(MapTaskFailed, match="ValueError: a bug"):
        run_ray(ray_tasks.buggy, _tasks(corpus, tmp_path, task_bytes=1 << 30), workers=2,
                max_retries=0)


def test_one_slow_task_does_not_stall_the_others(local_ray):
    from dft_registry.ray_executor import run_ray

    run_ray(ray_tasks.sleepy, [1.0, 1.0], workers=2)  # both workers started (slow on busy hosts)
    events: list[dict] = []
    tasks = [6.0, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]
    assert run_ray(ray_tasks.sleepy, tasks, workers=2, on_progress=events.append) == tasks
    finished = [e["done"] for e in sorted(events, key=lambda e: e["at"])]
    assert finished[-1] == 6.0 and len(finished) == len(tasks)  # the fast ones did not wait


def test_a_missing_ray_says_how_to_install_it(monkeypatch, corpus, tmp_path):
    from dft_registry.ray_executor import run_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(UsageError, match=r"pip install 'dft\[ray\]'"):
        run_ray(count_task, [object()], workers=1)
    with pytest.raises(UsageError, match="Ray is not installed"):
        dft_registry.build("d", corpus, registry=tmp_path / "r", workers=1, executor="ray")
