# ruff: noqa: F811  (pytest fixtures imported from train_fixtures are used as arguments)
"""Targets from a real bundle, and the token rules checked against the segmenter."""

from __future__ import annotations

import statistics
import time

import pytest
import torch
from train_fixtures import (  # noqa: F401
    gpt2_tokenizer,
    legal_bundle,
    legal_documents,
    legal_registry,
)

from dft_registry.segment import get_segmenter, words_of
from dft_train import targets
from dft_train.token_rules import (
    AbbreviationOracle,
    TokenRules,
    end_suppression,
    hard_sentence_lengths,
)


@pytest.fixture(scope="module")
def rules(gpt2_tokenizer):
    return TokenRules.from_tokenizer(gpt2_tokenizer)


def _lengths(rules, tokenizer, texts, oracle=None):
    by_rules, by_segmenter = [], []
    segmenter = get_segmenter("spacy-sentencizer.v1")
    for text in texts:
        lengths, last = hard_sentence_lengths(rules, tokenizer(text)["input_ids"], oracle=oracle)
        by_rules += lengths + ([last.words] if last.words else [])
        by_segmenter += [len(words_of(s)) for s in segmenter.segment(text) if words_of(s)]
    return by_rules, by_segmenter


def test_token_rules_reproduce_the_segmenters_sentence_lengths_on_reference_text(
    rules,
    gpt2_tokenizer,
):
    by_rules, by_segmenter = _lengths(rules, gpt2_tokenizer, legal_documents(40))
    assert by_rules == by_segmenter


PROSE = [
    (
        "It was late when the court rose. The judge, who had listened for hours, said nothing! "
        "Was the verdict fair? Nobody in the well-known firm thought so; they'd appealed twice.\n\n"
        "A new paragraph starts here without a full stop\n\nand this one ends (as they do) here."
    ),
    (
        "Section 4(b) applies to licensees in the United States and elsewhere. Fees are $500 per "
        "year, payable in advance. The licensee's obligations survive termination."
    ),
]


def test_token_rules_agree_with_the_segmenter_on_mixed_prose(rules, gpt2_tokenizer):
    by_rules, by_segmenter = _lengths(rules, gpt2_tokenizer, PROSE)
    assert sum(by_rules) == pytest.approx(sum(by_segmenter), rel=0.05)
    assert statistics.mean(by_rules) == pytest.approx(statistics.mean(by_segmenter), rel=0.05)


DOTTED = [
    (
        "Acme Inc. grants you a license, e.g. to copy it. Version 3.5 of the U.S. rules applies. "
        "Fees rise by 2.5 percent each year!"
    ),
    "Section 1.1 defines terms. The Licensor, i.e. the owner, may revoke it. Done.",
]


def test_full_stops_in_numbers_urls_and_abbreviations_do_not_end_sentences(rules, gpt2_tokenizer):
    oracle = AbbreviationOracle(get_segmenter("spacy-sentencizer.v1"))
    by_rules, by_segmenter = _lengths(rules, gpt2_tokenizer, DOTTED, oracle)
    assert by_rules == by_segmenter
    naive, _ = _lengths(rules, gpt2_tokenizer, DOTTED)
    assert len(naive) > len(by_segmenter)  # without the oracle, "Inc." and "i.e." split


def test_a_url_does_not_end_its_sentence_but_counts_as_several_words(rules, gpt2_tokenizer):
    text = ["See http://www.apache.org/licenses/LICENSE-2.0 for details. Then stop."]
    by_rules, by_segmenter = _lengths(rules, gpt2_tokenizer, text)
    assert len(by_rules) == len(by_segmenter) == 2
    assert by_rules[0] > by_segmenter[0]  # a known limit: spaCy keeps a URL as one token


def test_end_suppression_marks_glued_and_abbreviated_full_stops(rules, gpt2_tokenizer):
    oracle = AbbreviationOracle(get_segmenter("spacy-sentencizer.v1"))
    ids = gpt2_tokenizer("rate 3.5 at Acme Inc. today. Next")["input_ids"]
    texts = [gpt2_tokenizer.decode([i]) for i in ids]
    flags = end_suppression(rules, ids, oracle=oracle)
    periods = [flag for text, flag in zip(texts, flags) if text == "."]
    assert periods == [True, True, False]  # 3.5, Inc., today.


def test_prompt_state_counts_the_unfinished_sentence(rules, gpt2_tokenizer):
    ids = gpt2_tokenizer("Done. The quick brown")["input_ids"]
    lengths, state = hard_sentence_lengths(rules, ids)
    assert lengths == [1]
    assert state.words == 3


def test_token_distribution_projects_word_counts_and_is_cached(legal_bundle, gpt2_tokenizer):
    started = time.perf_counter()
    token_targets = targets.token_distribution(legal_bundle, gpt2_tokenizer)
    assert time.perf_counter() - started < 30
    q = token_targets.q
    assert q.shape == (len(gpt2_tokenizer),)
    assert q.sum().item() == pytest.approx(1.0, abs=1e-5)
    the = gpt2_tokenizer(" the")["input_ids"][0]
    period = gpt2_tokenizer(".")["input_ids"][0]
    newline = gpt2_tokenizer("\n")["input_ids"][0]
    assert q[the] > 0.01 and q[period] > 0.01
    assert not token_targets.support[newline]
    cached = list(legal_bundle.cache_dir.glob("tokenizers/*/unigrams.parquet"))
    assert len(cached) == 1
    again = targets.token_distribution(legal_bundle, gpt2_tokenizer)
    assert torch.allclose(again.q, q)


def test_length_targets_match_the_bundle_histogram(legal_bundle):
    rows = legal_bundle.table("sentence_lengths").to_pylist()
    total = sum(r["count"] for r in rows if r["length"] > 0)
    mean = sum(r["length"] * r["count"] for r in rows if r["length"] > 0) / total
    length_targets = targets.length_targets(legal_bundle, max_length=60)
    assert length_targets.mean == pytest.approx(mean)
    first = min(r["length"] for r in rows if r["length"] > 0)
    assert length_targets.hazard[: first - 1].sum().item() == 0.0
    assert 0 < length_targets.hazard[first - 1].item() < 1


def test_feature_targets_are_standardised_at_the_closest_window(legal_bundle):
    features = targets.feature_targets(legal_bundle, window_words=50)
    assert features.window == 48
    assert features.samples.shape[1] == len(features.names)
    assert features.samples.mean(0).abs().max().item() < 1e-4


def test_scalar_targets_include_corpus_entropy(legal_bundle):
    scalars = targets.scalar_targets(legal_bundle)
    assert "unigram_entropy" in scalars
    assert 0 < scalars["distinct_1_mean"] <= 1
