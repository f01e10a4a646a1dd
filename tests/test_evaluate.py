"""dft_train.evaluate: each metric against a hand computation or a known extreme."""

from __future__ import annotations

import math

import numpy as np
import pytest
from train_fixtures import (  # noqa: F401
    gpt2_tokenizer,
    legal_bundle,
    legal_documents,
    legal_registry,
)

from dft_registry import distances
from dft_registry.errors import EvalError
from dft_registry.stats.windows import FEATURES
from dft_train import evaluate as ev

NONSENSE = "the the the cat cat sat on on the mat mat mat and the mat sat on the cat " * 3


@pytest.fixture(scope="module")
def reference(legal_bundle):  # noqa: F811
    return ev.Reference.from_bundle(legal_bundle, legal_documents(40, seed=5))


def test_kaplan_meier_matches_a_hand_computation_with_censoring():
    # observed 2, 3, 5; cut (censored) after 3 and after 4 words
    km = ev.kaplan_meier([(2, True), (3, True), (3, False), (5, True), (4, False)])
    # n_2 = 3 + 2 = 5, d_2 = 1; n_3 = 2 + 1 = 3, d_3 = 1; n_5 = 1, d_5 = 1
    assert km.pmf[2] == pytest.approx(1 / 5)
    assert km.pmf[3] == pytest.approx(4 / 5 * 1 / 3)
    assert km.pmf[4] == pytest.approx(0.0)
    assert km.pmf[5] == pytest.approx(8 / 15)
    assert km.mean == pytest.approx(58 / 15)
    assert km.variance == pytest.approx(4 * 3 / 15 + 9 * 4 / 15 + 25 * 8 / 15 - (58 / 15) ** 2)
    assert (km.events, km.censored) == (3, 2)
    # dropping or counting the cut sentences as complete both bias the mean down
    assert km.mean > (2 + 3 + 5) / 3 > (2 + 3 + 3 + 5 + 4) / 5 - 0.1


def test_kaplan_meier_without_censoring_is_the_plain_histogram():
    km = ev.kaplan_meier([(4, True), (4, True), (10, True), (7, True)])
    assert km.mean == pytest.approx(25 / 4)
    assert km.variance == pytest.approx(np.var([4, 4, 10, 7]))


def test_kaplan_meier_puts_the_unresolved_tail_at_the_longest_length():
    km = ev.kaplan_meier([(3, True), (6, False)])
    assert km.pmf[3] == pytest.approx(0.5)
    assert km.pmf[6] == pytest.approx(0.5)  # restricted mean: 4.5


def test_only_an_unfinished_last_sentence_is_censored(reference):
    finished, open_, quoted = reference.segment(
        ["One two three. Four five!", "One two three. Four five", 'He said "stop now."'])
    assert ev.sentence_observations(finished) == [(3, True), (2, True)]
    assert ev.sentence_observations(open_) == [(3, True), (2, False)]
    assert ev.sentence_observations(quoted) == [(4, True)]


def test_self_bleu_is_one_for_identical_samples_and_matches_a_hand_computation():
    same = [["a", "b", "c", "d", "e"]] * 3
    assert ev.self_bleu(same) == pytest.approx(1.0)
    # "a b c d" vs "a b c e": p1 = 3/4, p2 = 2/3, p3 = 1/2, p4 = 0 -> 0.1/1 (method1), BP = 1
    expected = (3 / 4 * 2 / 3 * 1 / 2 * 0.1) ** 0.25
    assert ev.self_bleu([["a", "b", "c", "d"], ["a", "b", "c", "e"]]) == pytest.approx(expected)
    disjoint = ev.self_bleu([["a", "b", "c", "d"], ["e", "f", "g", "h"]])
    assert disjoint == pytest.approx((0.1 / 4 * 0.1 / 3 * 0.1 / 2 * 0.1 / 1) ** 0.25)


def test_self_bleu_clips_by_the_best_other_reference_and_applies_the_brevity_penalty():
    hypothesis = ["x", "x", "x", "x"]
    # the hypothesis is scored against the other list only: 2 of its 4 x's match
    score = ev.self_bleu([hypothesis, ["x", "x", "y", "y", "y", "y", "y", "y"]])
    first = (2 / 4 * 1 / 3 * 0.1 / 2 * 0.1 / 1) ** 0.25 * math.exp(1 - 8 / 4)
    second = (2 / 8 * 1 / 7 * 0.1 / 6 * 0.1 / 5) ** 0.25
    assert score == pytest.approx((first + second) / 2)


def test_distinct_n_and_repetition_are_the_window_features_of_each_sample(reference):
    samples = reference.segment(["the cat sat on the mat", "a b a b a b a b"])
    metrics = ev.set_metrics(samples, reference, 32)
    # sample 1: 5/6, 5/5, 4/4 distinct; sample 2: 2/8, 2/7, 2/6
    assert metrics["distinct_1"] == pytest.approx((5 / 6 + 2 / 8) / 2)
    assert metrics["distinct_2"] == pytest.approx((1 + 2 / 7) / 2)
    assert metrics["distinct_3"] == pytest.approx((1 + 2 / 6) / 2)
    # 4-grams of "a b a b a b a b": 5, of which 2 distinct -> 3/5 repeated; sample 1: 0/3
    assert metrics["repetition_rate"] == pytest.approx((0 + 3 / 5) / 2)


def test_token_js_is_zero_for_the_bundles_own_text(legal_registry, legal_bundle):  # noqa: F811
    from dft_train.data import read_documents

    corpus = sorted((legal_registry.parent / "legal_corpus").glob("*.txt"))
    reference = ev.Reference.from_bundle(legal_bundle, legal_documents(10, seed=5))
    samples = reference.segment(read_documents(corpus))
    table = ev.unigram_table(samples)
    assert distances.unigram_js_bits(table, legal_bundle.table("unigrams")) == pytest.approx(0, abs=1e-9)
    assert distances.unigram_js_bits(table, table) == 0.0


def test_feature_mmd_is_zero_for_the_same_sample_and_beyond_the_floor_when_shifted(reference):
    windows = reference.windows(32)
    raw = windows.samples * windows.std + windows.mean
    assert ev.feature_mmd2(raw, windows) == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(0)
    floor = [ev.feature_mmd2(ev.first_window_features(reference.human.spans([40] * 40, rng), 32),
                             windows) for _ in range(10)]
    shifted = ev.first_window_features(reference.segment([NONSENSE] * 40), 32)
    assert ev.feature_mmd2(shifted, windows) > np.mean(floor) + 10 * np.std(floor)


def test_discriminator_is_near_chance_for_human_vs_human_and_catches_nonsense(reference):
    rng = np.random.default_rng(1)
    rates = []
    for seed in range(8):
        a = ev.first_window_features(reference.human.spans([40] * 60, rng), 32)
        b = ev.first_window_features(reference.human.spans([40] * 60, rng), 32)
        rates.append(ev.discriminate(a, b, seed=seed)["passes_as_human"])
    assert 35 <= np.mean(rates) <= 65
    human = ev.first_window_features(reference.human.spans([40] * 60, rng), 32)
    nonsense = ev.first_window_features(reference.segment([NONSENSE] * 60), 32)
    result = ev.discriminate(nonsense + rng.normal(0, 1e-3, nonsense.shape), human)
    assert result["passes_as_human"] < 5 and result["discriminator_accuracy"] > 95


def test_human_spans_hold_exactly_the_requested_words_from_a_sentence_start(reference):
    rng = np.random.default_rng(2)
    spans = reference.human.spans([5, 17, 40, 64], rng)
    assert [ev.word_count(s) for s in spans] == [5, 17, 40, 64]
    for span in spans:
        assert span[0][0][0].isupper()  # every tiny-corpus sentence starts with a capital


def test_human_spans_come_from_different_documents_while_documents_last(reference):
    spans = reference.human.spans([8] * 20, np.random.default_rng(3))
    texts = [" ".join(t for s in span for t in s) for span in spans]
    assert len(spans) == 20 and all(texts)


def test_evaluate_human_text_sits_inside_its_own_noise_floor(reference):
    held = legal_documents(40, seed=11)
    generations = [" ".join(d.split()[:45]) for d in held]
    result = ev.evaluate(generations, reference, resamples=20)
    metrics = result["metrics"]
    assert result["window_words"] == 32
    for name in ("distinct_1", "distinct_2", "token_js_bits", "feature_mmd2", "passes_as_human"):
        row = metrics[name]
        assert abs(row["model"] - row["floor_mean"]) <= 3 * row["floor_sd"], name
    assert set(ev.FEATURES) == set(FEATURES)


def test_evaluate_flags_nonsense_outside_the_floor_on_every_distribution_metric(reference):
    result = ev.evaluate([NONSENSE] * 30, reference, resamples=20)
    metrics = result["metrics"]
    for name in ("distinct_2", "token_js_bits", "feature_mmd2", "repetition_rate",
                 "passes_as_human"):
        assert metrics[name]["within_floor"] is False, name
    assert result["over_used_tokens"][0]["token"] in {"mat", "cat", "sat"}


def test_evaluate_reports_each_seed_and_their_mean(reference):
    a = [" ".join(d.split()[:45]) for d in legal_documents(20, seed=12)]
    b = [" ".join(d.split()[:45]) for d in legal_documents(20, seed=13)]
    result = ev.evaluate([a, b], reference, resamples=5)
    row = result["metrics"]["distinct_1"]
    assert len(row["model_per_seed"]) == 2
    assert row["model"] == pytest.approx(np.mean(row["model_per_seed"]))
    assert result["seeds"] == 2 and result["samples_per_seed"] == [20, 20]


def test_human_text_shorter_than_one_window_is_an_error(legal_bundle):  # noqa: F811
    reference = ev.Reference.from_bundle(legal_bundle, ["Too short to hold a window."])
    with pytest.raises(EvalError, match="shorter than one window"):
        ev.evaluate(["Some generated words here. And more words."], reference)


def test_prompt_pairs_cut_at_sentence_starts_with_a_continuation_of_n_tokens(
        reference, gpt2_tokenizer):  # noqa: F811
    texts = legal_documents(12, seed=7)
    pairs = ev.make_prompt_pairs(texts, reference, gpt2_tokenizer, 16, 24)
    assert len(pairs) == 16
    assert len({p.document for p in pairs}) == 12  # spread over documents
    for pair in pairs:
        assert pair.prompt.rstrip()[-1] in ".?"
        assert len(gpt2_tokenizer(pair.continuation)["input_ids"]) == 24
        assert pair.continuation.lstrip()[0].isupper()


def test_a_tokenizer_that_cannot_decode_is_refused(gpt2_tokenizer):  # noqa: F811
    ev.check_tokenizer_decodes(gpt2_tokenizer)

    class Broken:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [1, 2, 3]}

        def decode(self, ids, skip_special_tokens=True):
            raise KeyError("no decoder")

    with pytest.raises(EvalError, match="cannot decode"):
        ev.check_tokenizer_decodes(Broken())
