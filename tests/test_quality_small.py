"""The quality benchmark's pipeline, small: tiny GPT-2, a few steps, the tiny legal bundle.

Slow suite only (``pytest -m slow``): it trains two LoRA models and evaluates three.
"""

from __future__ import annotations

import json

import pytest
from train_fixtures import (  # noqa: F401
    gpt2_tokenizer,
    legal_documents,
    legal_registry,
    load_quality_benchmark,
    tiny_model_dir,
)

pytestmark = pytest.mark.slow

load_quality = load_quality_benchmark


def small_settings(quality, model, **changes):
    """A grid cell small enough for the slow suite: tiny model, a few steps and prompts."""
    values = {"model": str(model), "steps": 3, "lora_r": 4, "learning_rate": 1e-3,
              "batch_size": 2, "max_seq_length": 64, "train_documents": 60, "dist_every": 1,
              "dist_samples": 2, "dist_max_new_tokens": 16, "prompts": 8,
              "generation_seeds": [0, 1], "max_new_tokens": 48, "generation_batch_size": 8,
              "heldout_share": 0.3, "heldout_documents": 40, "perplexity_blocks": 2,
              "resamples": 3}
    return quality.Settings(**{**values, **changes})


def test_small_quality_grid_trains_evaluates_caches_and_renders(
    tmp_path,
    legal_registry,  # noqa: F811
    tiny_model_dir,  # noqa: F811
):
    quality = load_quality()
    settings = small_settings(quality, tiny_model_dir)
    documents = [(f"doc{i:03d}", text) for i, text in enumerate(legal_documents(120, seed=3))]
    results = tmp_path / "results"
    paths = quality.run_domain(
        "legal",
        list(quality.METHODS),
        settings,
        legal_registry,
        results_dir=results,
        work_dir=tmp_path / "work",
        documents=documents,
        log=lambda message: None,
    )
    assert [p.name.split("-")[1] for p in paths] == ["base", "ce", "dft"]
    records = {json.loads(p.read_text())["method"]: json.loads(p.read_text()) for p in paths}
    assert records["ce"]["global_step"] == records["dft"]["global_step"] == 3
    assert records["base"]["global_step"] == 0
    for record in records.values():
        assert record["commit"] and record["machine"]["cpus"]
        assert record["result"]["samples_per_seed"] == [8, 8]
        assert record["result"]["metrics"]["perplexity"]["model"] > 0
    dft_losses = [h for h in records["dft"]["log_history"] if "loss_token" in h]
    assert dft_losses, "DFT ran its distributional terms"
    assert not [h for h in records["ce"]["log_history"] if h.get("loss_token")]

    # a second sitting reuses the cache (no retraining)
    again = quality.run_domain(
        "legal",
        ["ce"],
        settings,
        legal_registry,
        results_dir=results,
        work_dir=tmp_path / "work",
        documents=documents,
        log=lambda message: None,
    )
    assert again[0].stat().st_mtime == paths[1].stat().st_mtime

    markdown = tmp_path / "RESULTS.md"
    markdown.write_text("# Benchmark results\n\n## speed\n\nkept\n", encoding="utf-8")
    section = quality.render(results, markdown)
    text = markdown.read_text(encoding="utf-8")
    assert "## speed\n\nkept" in text and "## quality" in text
    assert (
        "| metric | standard FT | DFT | human (± noise floor) | improvement | base model |"
        in section
    )
    assert "| perplexity |" in section and "distinct_2" in section
    quality.render(results, markdown)  # re-rendering replaces the section, never duplicates it
    assert markdown.read_text(encoding="utf-8").count("## quality") == 1


def test_documents_are_split_by_a_stable_hash_of_their_id():
    quality = load_quality()
    documents = [(f"doc{i}", f"text {i}") for i in range(200)]
    settings = quality.Settings(heldout_share=0.2, train_documents=1000, heldout_documents=1000)
    train, heldout = quality.split_documents(documents, settings)
    assert not set(train) & set(heldout) and len(train) + len(heldout) == 200
    assert 20 <= len(heldout) <= 60
    assert quality.split_documents(list(reversed(documents)), settings) == (train, heldout)


def test_split_run_gives_the_same_results_as_one_process(
    tmp_path,
    legal_registry,  # noqa: F811
    tiny_model_dir,  # noqa: F811
):
    """--export-plan / --produce-to / --score-from (the lent-GPU route) == run_domain."""
    quality = load_quality()
    settings = small_settings(quality, tiny_model_dir, steps=2, prompts=6, generation_seeds=[0],
                              max_new_tokens=32, generation_batch_size=6)
    documents = [(f"doc{i:03d}", text) for i, text in enumerate(legal_documents(120, seed=3))]
    source = tmp_path / "legal.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in documents))
    quiet = {"log": lambda message: None}

    together = quality.run_domain("legal", ["base", "dft"], settings, legal_registry,
                                  results_dir=tmp_path / "one", work_dir=tmp_path / "w1",
                                  documents=documents, **quiet)

    plan, _, _ = quality.prepare_domain("legal", settings, legal_registry, tmp_path / "w2",
                                        documents, **quiet)
    quality.export_plan(plan, tmp_path / "plans")
    produced = quality.produce_to(tmp_path / "gen", "legal", ["base", "dft"], settings,
                                  legal_registry, tmp_path / "plans", tmp_path / "w3", **quiet)
    assert [p.name.split("-")[1] for p in produced] == ["base", "dft"]
    scored = quality.score_from(tmp_path / "gen", legal_registry, {"legal": source},
                                tmp_path / "two", tmp_path / "w4", **quiet)
    assert sorted(p.name for p in scored) == sorted(p.name for p in together)
    for one in together:
        a = json.loads(one.read_text())
        b = json.loads((tmp_path / "two" / one.name).read_text())
        assert a["result"]["metrics"] == b["result"]["metrics"], one.name
        assert a["documents"] == b["documents"]
    # produced cells are not produced twice
    assert quality.produce_to(tmp_path / "gen", "legal", ["dft"], settings, legal_registry,
                              tmp_path / "plans", tmp_path / "w3", **quiet) == []
