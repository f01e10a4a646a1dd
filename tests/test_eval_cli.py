"""dft-eval through click's CliRunner: fixed generation files with hand-checked numbers, a tiny
model end to end, and one clear line (never a traceback) for each kind of bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from train_fixtures import (  # noqa: F401
    gpt2_tokenizer,
    legal_documents,
    legal_registry,
    make_tiny_gpt2,
    tiny_model_dir,
)

from dft_train.eval_cli import main


def run(*args):
    return CliRunner(env={"COLUMNS": "160"}).invoke(main, [str(a) for a in args],
                                                     catch_exceptions=False)


@pytest.fixture(scope="module")
def human_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("heldout")
    for index, text in enumerate(legal_documents(40, seed=5)):
        (path / f"held{index:02d}.txt").write_text(text + "\n", encoding="utf-8")
    return path


def base(legal_registry, human_dir):  # noqa: F811
    return ["--domain", "legal", "--registry", legal_registry, "--human", human_dir]


def test_dft_eval_reports_hand_checked_numbers_for_a_fixed_generation_file(
        tmp_path, legal_registry, human_dir):  # noqa: F811
    generations = tmp_path / "generations.txt"
    generations.write_text("The cat sat on the mat. It was\nRun far run far. Run far run far.\n",
                           encoding="utf-8")
    result = run(*base(legal_registry, human_dir), "--generations", generations, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    metrics = report["metrics"]
    # words: "the cat sat on the mat it was" (7/8, 7/7, 6/6) and "run far run far ..." (2/8, 2/7, 2/6)
    assert metrics["distinct_1"]["model"] == pytest.approx((7 / 8 + 2 / 8) / 2)
    assert metrics["distinct_2"]["model"] == pytest.approx((1 + 2 / 7) / 2)
    assert metrics["distinct_3"]["model"] == pytest.approx((1 + 2 / 6) / 2)
    # sentences: 6 (observed), 2 (cut: censored), 4 and 4 (observed) -> KM pmf 4: 2/3, 6: 1/3
    assert metrics["sentence_length_mean"]["model"] == pytest.approx(14 / 3)
    assert metrics["sentence_length_var"]["model"] == pytest.approx(8 / 9)
    # no word shared, both 8 words long: precisions 0.1/8, 0.1/7, 0.1/6, 0.1/5 (method1), BP = 1
    assert metrics["self_bleu"]["model"] == pytest.approx((0.1**4 / (8 * 7 * 6 * 5)) ** 0.25)
    assert report["samples_per_seed"] == [2]
    assert report["resamples"] == 20
    for name in ("distinct_1", "token_js_bits", "sentence_length_mean"):
        assert metrics[name]["floor_sd"] > 0
    assert report["over_used_tokens"][0]["token"] in {"far", "run", "Run", "cat", "mat", "sat", "It", "was"}


def test_dft_eval_prints_a_table_with_the_noise_floor_and_writes_a_plot(
        tmp_path, legal_registry, human_dir):  # noqa: F811
    generations = tmp_path / "generations.jsonl"
    with open(generations, "w", encoding="utf-8") as handle:
        for seed in (0, 1):
            handle.writelines(json.dumps({"seed": seed, "text": " ".join(text.split()[:45])}) + "\n" for text in legal_documents(30, seed=20 + seed))
    plot = tmp_path / "compare.png"
    result = run(*base(legal_registry, human_dir), "--generations", generations, "--plot", plot)
    assert result.exit_code == 0, result.output
    for words in ("noise floor", "passes as human", "distinct-2", "sentence length mean (KM)",
                  "seed spread", "over-used vs bundle"):
        assert words in " ".join(result.output.split()), words
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dft_eval_reads_seeds_and_human_continuations_from_jsonl(
        tmp_path, legal_registry, human_dir):  # noqa: F811
    generations = tmp_path / "generations.jsonl"
    texts = [" ".join(t.split()[:45]) for t in legal_documents(20, seed=30)]
    humans = [" ".join(t.split()[:45]) for t in legal_documents(20, seed=31)]
    with open(generations, "w", encoding="utf-8") as handle:
        for seed in (3, 4):
            handle.writelines(json.dumps({"seed": seed, "text": text, "human": human}) + "\n" for text, human in zip(texts, humans))
    result = run(*base(legal_registry, human_dir), "--generations", generations, "--json",
                 "--resamples", 5)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["seeds"] == 2 and report["human_continuations"] == 20
    row = report["metrics"]["distinct_1"]
    assert row["model_per_seed"][0] == pytest.approx(row["model_per_seed"][1])  # same texts
    assert row["human"] != row["floor_mean"]  # the continuations, not the floor


def test_dft_eval_samples_from_a_model_with_seeds_and_perplexity(
        tmp_path, legal_registry, human_dir, tiny_model_dir):  # noqa: F811
    saved = tmp_path / "samples.jsonl"
    result = run(*base(legal_registry, human_dir), "--model", tiny_model_dir, "--prompts", 8,
                 "--seeds", "0,1", "--max-new-tokens", 16, "--perplexity-blocks", 2,
                 "--resamples", 3, "--json", "--save-generations", saved)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["samples_per_seed"] == [8, 8]
    assert report["generation"]["seeds"] == [0, 1]
    assert report["metrics"]["perplexity"]["model"] > 1000  # an untrained random model
    rows = [json.loads(line) for line in saved.read_text().splitlines()]
    assert len(rows) == 16 and {r["seed"] for r in rows} == {0, 1}
    assert all(r["prompt"] and r["human"] for r in rows)


def one_line_error(result, *words):
    assert result.exit_code != 0
    text = result.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    for word in words:
        assert word in text, text


def test_an_empty_generation_file_is_one_clear_line(tmp_path, legal_registry, human_dir):  # noqa: F811
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    one_line_error(run(*base(legal_registry, human_dir), "--generations", empty), "empty")


def test_a_binary_generation_file_is_one_clear_line(tmp_path, legal_registry, human_dir):  # noqa: F811
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x00\x01\x02PK\xff")
    one_line_error(run(*base(legal_registry, human_dir), "--generations", binary), "not a text")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9 au lait".encode("latin-1"))
    one_line_error(run(*base(legal_registry, human_dir), "--generations", latin), "not UTF-8")


def test_a_malformed_jsonl_line_names_the_line(tmp_path, legal_registry, human_dir):  # noqa: F811
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"txt": "no"}\n', encoding="utf-8")
    one_line_error(run(*base(legal_registry, human_dir), "--generations", bad), "bad.jsonl:2")


def test_human_text_shorter_than_one_window_is_one_clear_line(tmp_path, legal_registry):  # noqa: F811
    generations = tmp_path / "g.txt"
    generations.write_text("Some words that a model wrote. More of them.\n", encoding="utf-8")
    short = tmp_path / "short.txt"
    short.write_text("Only a few human words.\n", encoding="utf-8")
    result = run("--domain", "legal", "--registry", legal_registry, "--human", short,
                 "--generations", generations)
    one_line_error(result, "shorter than one window")


def test_an_unknown_domain_is_one_clear_line(tmp_path, legal_registry, human_dir):  # noqa: F811
    generations = tmp_path / "g.txt"
    generations.write_text("Some words.\n", encoding="utf-8")
    result = run("--domain", "nosuchdomain", "--registry", legal_registry, "--human", human_dir,
                 "--generations", generations)
    one_line_error(result, "nosuchdomain")


def test_model_and_generations_are_exclusive(tmp_path, legal_registry, human_dir):  # noqa: F811
    one_line_error(run(*base(legal_registry, human_dir)), "exactly one of")


def test_a_model_whose_tokenizer_cannot_decode_is_one_clear_line(
        tmp_path, legal_registry, human_dir, gpt2_tokenizer):  # noqa: F811
    from tokenizers import Tokenizer, models, pre_tokenizers
    from train_fixtures import gpt2_tokenizer_files
    from transformers import PreTrainedTokenizerFast

    data = gpt2_tokenizer_files()
    bpe = Tokenizer(models.BPE.from_file(str(data / "encoder.json"), str(data / "vocab.bpe")))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)  # and no decoder
    broken = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    model_dir = tmp_path / "broken-model"
    make_tiny_gpt2(gpt2_tokenizer).save_pretrained(model_dir)
    broken.save_pretrained(model_dir)
    result = run(*base(legal_registry, human_dir), "--model", model_dir, "--prompts", 4)
    one_line_error(result, "cannot decode")


def test_device_cuda_without_a_gpu_is_one_clear_line(
        tmp_path, legal_registry, human_dir, tiny_model_dir, monkeypatch):  # noqa: F811
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = run(*base(legal_registry, human_dir), "--model", tiny_model_dir, "--device", "cuda")
    one_line_error(result, "no CUDA device", "--device cpu")
