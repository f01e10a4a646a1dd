"""Distances between statistics: values checked against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from dft_registry.bundle import load
from dft_registry.distances import (
    compare,
    entropy_bits,
    entropy_differences,
    jensen_shannon_bits,
    log_ratio,
    log_ratio_words,
    ngram_overlap,
    sentence_length_wasserstein,
    unigram_js_bits,
    wasserstein1,
)


def unigrams(counts: dict[str, int], punct: tuple[str, ...] = (".", ",")) -> pa.Table:
    tokens = list(counts)
    return pa.table({"token": tokens, "count": pa.array([counts[t] for t in tokens], pa.int64()),
                     "doc_count": pa.array([1] * len(tokens), pa.int64()),
                     "is_punct": [t in punct for t in tokens]})


def lengths(counts: dict[int, int]) -> pa.Table:
    return pa.table({"length": pa.array(list(counts), pa.int32()),
                     "count": pa.array(list(counts.values()), pa.int64())})


def ngrams(rows: list[tuple[int, str, int]]) -> pa.Table:
    return pa.table({"n": pa.array([r[0] for r in rows], pa.int8()), "ngram": [r[1] for r in rows],
                     "count": pa.array([r[2] for r in rows], pa.int64()),
                     "doc_count": pa.array([2] * len(rows), pa.int64())})


def test_entropy_of_a_uniform_distribution_is_log2_of_its_size():
    assert entropy_bits(np.ones(8)) == pytest.approx(3.0)


def test_jensen_shannon_is_zero_for_equal_and_one_for_disjoint_distributions():
    assert jensen_shannon_bits([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon_bits([1, 0], [0, 1]) == pytest.approx(1.0)


def test_jensen_shannon_matches_a_hand_computation_and_is_symmetric():
    p, q = np.array([0.5, 0.5]), np.array([1.0, 0.0])
    m = (p + q) / 2
    def kl(a, b):
        return sum(x * math.log2(x / y) for x, y in zip(a, b) if x > 0)

    expected = (kl(p, m) + kl(q, m)) / 2
    assert jensen_shannon_bits(p, q) == pytest.approx(expected)
    assert jensen_shannon_bits(q, p) == pytest.approx(expected)


def test_wasserstein_of_a_shifted_histogram_is_the_shift():
    assert wasserstein1([1, 2, 3], [1, 1, 1], [4, 5, 6], [5, 5, 5]) == pytest.approx(3.0)
    assert wasserstein1([10], [1], [10], [7]) == 0.0


def test_wasserstein_matches_a_hand_computation():
    # a: half at 0, half at 10; b: all at 5 -> every unit moves 5
    assert wasserstein1([0, 10], [1, 1], [5], [1]) == pytest.approx(5.0)


def test_unigram_js_aligns_tokens_by_name_not_position():
    a = unigrams({"the": 2, "cat": 1})
    b = unigrams({"cat": 1, "the": 2})
    assert unigram_js_bits(a, b) == pytest.approx(0.0, abs=1e-12)


def test_words_only_js_ignores_punctuation():
    a = unigrams({"the": 2, ".": 5})
    b = unigrams({"the": 4, ",": 9})
    assert unigram_js_bits(a, b) > 0
    assert unigram_js_bits(a, b, words_only=True) == pytest.approx(0.0, abs=1e-12)


def test_sentence_length_wasserstein_reads_the_table_columns():
    assert sentence_length_wasserstein(lengths({10: 3}), lengths({12: 1})) == pytest.approx(2.0)


def test_ngram_overlap_per_order():
    a = ngrams([(2, "of the", 3), (2, "in the", 1), (3, "one of the", 2)])
    b = ngrams([(2, "of the", 1), (2, "to the", 1)])
    overlap = ngram_overlap(a, b)
    assert overlap[2]["jaccard"] == pytest.approx(1 / 3)
    assert overlap[2]["weighted"] == pytest.approx(min(3 / 4, 1 / 2))  # only "of the" is shared
    assert overlap[3] == {"jaccard": 0.0, "weighted": 0.0, "types_a": 1, "types_b": 0}


def test_entropy_differences_are_b_minus_a():
    a = pa.table({"metric": ["unigram_entropy"], "window": pa.array([0], pa.int32()), "value": [7.0]})
    b = pa.table({"metric": ["unigram_entropy"], "window": pa.array([0], pa.int32()), "value": [7.5]})
    assert entropy_differences(a, b) == [{"metric": "unigram_entropy", "window": 0, "a": 7.0, "b": 7.5,
                                          "difference": 0.5}]


def test_log_ratio_uses_smoothed_per_million_frequencies():
    ratio = log_ratio(np.array([10.0]), 1_000_000, np.array([0.0]), 1_000_000, smoothing=10)
    assert ratio[0] == pytest.approx(math.log2(20 / 10))


def test_over_and_under_represented_words_are_ranked_by_log_ratio():
    a = unigrams({"court": 50, "the": 100, "ship": 10, ".": 40})
    b = unigrams({"court": 10, "the": 100, "ship": 50, ".": 7})  # same word total
    words = log_ratio_words(a, b, limit=2)
    assert [w["token"] for w in words["over"]] == ["court"]
    assert [w["token"] for w in words["under"]] == ["ship"]
    assert all(w["token"] != "." for w in words["over"] + words["under"])


def test_compare_accepts_plain_tables():
    tables = {"unigrams": unigrams({"a": 3, "b": 1}), "sentence_lengths": lengths({5: 2}),
              "ngrams": ngrams([(2, "a b", 2)]),
              "entropy": pa.table({"metric": ["unigram_entropy"], "window": pa.array([0], pa.int32()),
                                   "value": [0.81]})}
    result = compare(tables, tables)
    assert result["unigram_js_bits"] == 0
    assert result["sentence_length"]["wasserstein1_words"] == 0
    assert result["ngram_overlap"][2]["weighted"] == pytest.approx(1.0)
    assert result["entropy"][0]["difference"] == 0


def test_compare_accepts_bundles(_golden_registry_template):
    bundle = load("golden", registry=_golden_registry_template)
    result = compare(bundle, bundle.tables)
    assert result["unigram_js_bits"] == pytest.approx(0.0, abs=1e-12)
    assert result["sentence_length"]["mean_a"] == pytest.approx(
        bundle.manifest["headline"]["sentence_length_mean"], abs=1e-3)
