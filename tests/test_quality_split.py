"""The quality benchmark's bookkeeping: cache keys, pairing of runs, refusing foreign generations."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import pytest
from train_fixtures import load_quality_benchmark


@pytest.fixture(scope="module")
def quality():
    return load_quality_benchmark()


def test_cpu_runs_keep_the_keys_they_had_before_the_device_setting(quality):
    legacy = {k: v for k, v in asdict(quality.Settings()).items() if k != "device"}
    expected = hashlib.sha256(json.dumps(legacy, sort_keys=True).encode()).hexdigest()[:10]
    assert quality.Settings().key() == expected
    assert quality.Settings(device="cuda").key() != expected


def record(quality, method, device="cpu", seed=0, **changes):
    settings = asdict(quality.Settings(device=device, train_seed=seed, **changes))
    if device == "cpu":
        del settings["device"]  # as cached before the setting existed
    return {"format": "dft-quality-result", "domain": "legal", "method": method,
            "settings": settings, "settings_key": quality.Settings(**settings).key()}


def test_runs_pair_only_with_runs_of_the_same_device(quality):
    records = [record(quality, m, d) for d in ("cpu", "cuda") for m in ("base", "ce", "dft")]
    groups = quality.pair_runs(records)
    assert len(groups) == 2
    for runs in groups.values():
        devices = {r["settings"].get("device", "cpu") for r in runs.values()}
        assert len(devices) == 1 and set(runs) == {"base", "ce", "dft"}


def test_a_dft_variant_reuses_the_standard_ft_and_base_runs(quality):
    records = [record(quality, "base"), record(quality, "ce"), record(quality, "dft"),
               record(quality, "dft", dist_every=1, target_grad_ratio=1.0),
               record(quality, "ce", seed=1, steps=200)]
    groups = quality.pair_runs(records)
    variants = [runs for runs in groups.values() if "dft" in runs]
    assert len(variants) == 2
    assert all(runs["ce"] is records[1] and runs["base"] is records[0] for runs in variants)
    longer = [runs for runs in groups.values() if "dft" not in runs]
    assert len(longer) == 1 and longer[0]["ce"] is records[4] and longer[0]["base"] is records[0]


def test_generations_for_other_prompts_are_refused(quality, tmp_path):
    from dft_train.evaluate import PromptPair

    pairs = [PromptPair("The court held", " that it was void.", 0)]
    produced = {"domain": "legal", "method": "dft", "settings": asdict(quality.Settings()),
                "prompts_digest": quality._digest(b"other prompts"), "generations": [["x"]]}
    with pytest.raises(SystemExit, match="other prompts than this plan"):
        quality.score(produced, reference=None, pairs=pairs, heldout=[], train_file=tmp_path)


def test_missing_generations_or_plans_are_one_clear_line(quality, tmp_path):
    with pytest.raises(SystemExit, match=r"no \*\.gen\.json files in .*--produce-to"):
        quality.score_from(tmp_path, tmp_path, {}, tmp_path / "results")
    with pytest.raises(SystemExit, match="no plan for legal .* --export-plan"):
        quality.load_plan("legal", tmp_path)
