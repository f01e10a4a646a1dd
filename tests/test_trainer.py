# ruff: noqa: F811  (pytest fixtures imported from train_fixtures are used as arguments)
"""DftTrainer: alternation with CE, gradient accumulation, calibration, resume, REINFORCE term."""

from __future__ import annotations

import shutil

import pytest
import torch
from train_fixtures import (  # noqa: F401
    gpt2_tokenizer,
    legal_documents,
    legal_registry,
    tiny_model_dir,
)

from dft_train.config import DftConfig
from dft_train.runner import prepare_trainer, train

torch.set_num_threads(1)


def _config(tmp_path, registry, **overrides) -> DftConfig:
    settings = {
        "output_dir": str(tmp_path / "out"),
        "domain": "legal",
        "registry": str(registry),
        "max_steps": 4,
        "per_device_train_batch_size": 2,
        "learning_rate": 3e-3,
        "logging_steps": 1,
        "save_strategy": "no",
        "use_cpu": True,
        "disable_tqdm": True,
        "dist_every": 2,
        "sample_batch_size": 3,
        "max_new_tokens": 16,
        "max_seq_length": 32,
        "seed": 0,
    }
    settings.update(overrides)
    return DftConfig(**settings)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "legal.txt"
    path.write_text("\n\n".join(legal_documents(10, seed=3)))
    return path


def _entries(history, key):
    return {entry["step"]: entry[key] for entry in history if key in entry}


def test_with_text_ce_runs_every_step_and_dist_every_nth_once_per_optimizer_step(
    legal_registry,
    tiny_model_dir,
    text_file,
    tmp_path,
):
    config = _config(tmp_path, legal_registry, gradient_accumulation_steps=2, calibrate_every=1)
    trainer = prepare_trainer(config, str(tiny_model_dir), data=[str(text_file)])
    generations = []
    original = trainer._current_samples
    trainer._current_samples = lambda model, step: generations.append(step) or original(model, step)
    result = train(trainer)
    ce = _entries(result.log_history, "loss_ce")
    dist = _entries(result.log_history, "loss_dist")
    assert sorted(ce) == [1, 2, 3, 4]
    assert sorted(dist) == [1, 3]  # applied at global steps 0 and 2, logged after them
    assert generations == [0, 2]  # once per optimizer step despite 2 micro-batches
    # calibration measured gradient-norm ratios and rescaled the weights
    first = result.log_history[0]
    assert first["grad_ratio_token"] > 0
    assert trainer.calibration.ratios["token"] > 0
    scaled = _entries(result.log_history, "weight_token")[3]
    expected = config.token_weight * trainer.calibration.scale("token", config)
    assert scaled == pytest.approx(expected, rel=0.3)


def test_feature_term_rewards_human_like_samples_and_has_a_gradient(
    legal_registry, tiny_model_dir, tmp_path
):
    from types import SimpleNamespace

    config = _config(tmp_path, legal_registry, feature_weight=1.0, max_new_tokens=64)
    trainer = prepare_trainer(config, str(tiny_model_dir))
    assert trainer.targets.features.window == 32
    human = legal_documents(3, seed=5)
    garbage = ["the the the the " * 12, "zz qq zz qq " * 12, "a, a, a, a, " * 12]
    texts = human + garbage
    logprob = torch.zeros(len(texts), 8, requires_grad=True)
    samples = SimpleNamespace(
        texts=texts, completion_mask=torch.ones(len(texts), 8, dtype=torch.bool)
    )
    loss = trainer._feature_term(samples, SimpleNamespace(token_logprob=logprob))
    loss.backward()
    assert torch.isfinite(logprob.grad).all()
    # the gradient raises the log-prob of human-like samples and lowers that of the rest
    per_sample = -logprob.grad.sum(1)
    assert per_sample[:3].min() > per_sample[3:].max()
    assert len(trainer.replay) == len(texts)


def test_resume_from_a_checkpoint_continues_the_same_run(
    legal_registry,
    tiny_model_dir,
    tmp_path,
):
    full = _config(tmp_path / "a", legal_registry, max_steps=4, save_strategy="steps", save_steps=2)
    first = train(prepare_trainer(full, str(tiny_model_dir)))
    assert first.global_step == 4
    resumed_dir = tmp_path / "b" / "out"
    resumed_dir.mkdir(parents=True)
    shutil.copytree(tmp_path / "a" / "out" / "checkpoint-2", resumed_dir / "checkpoint-2")
    again = _config(
        tmp_path / "b", legal_registry, max_steps=4, save_strategy="steps", save_steps=2
    )
    second = train(prepare_trainer(again, str(tiny_model_dir)), resume_from_checkpoint=True)
    assert second.global_step == 4
    original = _entries(first.log_history, "loss_token")
    continued = _entries(second.log_history, "loss_token")
    assert sorted(continued) == [1, 2, 3, 4]  # history up to the checkpoint is restored
    for step in (3, 4):
        assert continued[step] == pytest.approx(original[step], rel=1e-3)
    assert (resumed_dir / "dft_config.json").exists()
    assert (resumed_dir / "checkpoint-4" / "dft_state.json").exists()


def test_config_rejects_unknown_token_distance(tmp_path):
    from dft_registry.errors import TrainError

    with pytest.raises(TrainError, match="hellinger"):
        DftConfig(output_dir=str(tmp_path), token_distance="cosine", use_cpu=True)


def test_every_config_field_has_help():
    import dataclasses

    from transformers import TrainingArguments

    base = {f.name for f in dataclasses.fields(TrainingArguments)}
    for field in dataclasses.fields(DftConfig):
        if field.name not in base:
            assert field.metadata.get("help"), field.name


def test_kl_to_reference_is_zero_before_the_first_update(legal_registry, tiny_model_dir, tmp_path):
    config = _config(tmp_path, legal_registry, max_steps=2, learning_rate=1e-2)
    result = train(prepare_trainer(config, str(tiny_model_dir)))
    kl = _entries(result.log_history, "loss_kl")
    assert kl[1] == pytest.approx(0.0, abs=1e-6)
    assert kl[2] > 1e-6


def test_embedding_mmd_token_distance_trains(legal_registry, tiny_model_dir, tmp_path):
    config = _config(tmp_path, legal_registry, max_steps=2, token_distance="embedding_mmd")
    result = train(prepare_trainer(config, str(tiny_model_dir)))
    tokens = _entries(result.log_history, "loss_token")
    assert all(value >= 0 for value in tokens.values())
    assert tokens[2] < tokens[1]
