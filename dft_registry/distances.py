"""Distances between two sets of corpus statistics (pure functions, no I/O).

Three layers, so evaluation code can use whichever it has:

- functions of plain arrays (``jensen_shannon_bits``, ``wasserstein1``,
  ``entropy_bits``);
- functions of bundle-shaped pyarrow tables (``unigram_js_bits``,
  ``sentence_length_wasserstein``, ``ngram_overlap``, ``log_ratio_words``),
  which is also what statistics of generated text look like;
- ``compare(a, b)`` over two bundles (anything with ``.table(name)``, or a
  mapping of table name to pyarrow table), the numbers ``dft-stats diff`` shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_SMOOTHING_PER_MILLION = 10.0


# ---------------------------------------------------------------- arrays

def normalise(counts: np.ndarray) -> np.ndarray:
    """Counts -> probabilities (all zeros stay zeros)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts / total if total > 0 else counts


def entropy_bits(counts: np.ndarray) -> float:
    """Shannon entropy (bits) of a count or probability vector."""
    p = normalise(counts)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum() + 0.0)


def jensen_shannon_bits(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence (bits, in [0, 1]) of two aligned count or probability vectors."""
    p, q = normalise(p), normalise(q)
    if p.shape != q.shape:
        raise ValueError(f"vectors are not aligned: {p.shape} vs {q.shape}")
    if p.sum() == 0 or q.sum() == 0:
        return 0.0 if p.sum() == q.sum() else 1.0
    m = (p + q) / 2
    value = entropy_bits(m) - (entropy_bits(p) + entropy_bits(q)) / 2
    return float(min(max(value, 0.0), 1.0))


def wasserstein1(values_a: np.ndarray, weights_a: np.ndarray,
                 values_b: np.ndarray, weights_b: np.ndarray) -> float:
    """Earth mover's distance between two weighted 1-D histograms (in the values' unit).

    It is the area between the two cumulative distributions: for sentence
    lengths, how many words per sentence must move on average.
    """
    values_a, values_b = np.asarray(values_a, float), np.asarray(values_b, float)
    pa_, pb_ = normalise(weights_a), normalise(weights_b)
    if pa_.sum() == 0 or pb_.sum() == 0:
        return 0.0
    support = np.union1d(values_a, values_b)
    cdf_a = np.cumsum(np.bincount(np.searchsorted(support, values_a), pa_, len(support)))
    cdf_b = np.cumsum(np.bincount(np.searchsorted(support, values_b), pb_, len(support)))
    return float((np.abs(cdf_a - cdf_b)[:-1] * np.diff(support)).sum())


def align(keys_a: list, counts_a: np.ndarray, keys_b: list, counts_b: np.ndarray):
    """Align two (key, count) lists on the union of keys: ``(keys, counts_a, counts_b)``."""
    index = {k: i for i, k in enumerate(dict.fromkeys([*keys_a, *keys_b]))}
    out_a = np.zeros(len(index))
    out_b = np.zeros(len(index))
    np.add.at(out_a, [index[k] for k in keys_a], np.asarray(counts_a, float))
    np.add.at(out_b, [index[k] for k in keys_b], np.asarray(counts_b, float))
    return list(index), out_a, out_b


def log_ratio(counts_a: np.ndarray, total_a: float, counts_b: np.ndarray, total_b: float,
              smoothing: float = DEFAULT_SMOOTHING_PER_MILLION) -> np.ndarray:
    """log2 of the smoothed per-million frequency ratio a/b for aligned counts.

    ``(pm_a + k) / (pm_b + k)`` with ``k = smoothing`` per million words
    (Kilgarriff's "simple maths"): a larger k favours common words over rare ones.
    """
    pm_a = np.asarray(counts_a, float) * 1e6 / max(total_a, 1)
    pm_b = np.asarray(counts_b, float) * 1e6 / max(total_b, 1)
    return np.log2((pm_a + smoothing) / (pm_b + smoothing))


# ---------------------------------------------------------------- tables

def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def unigram_js_bits(unigrams_a: pa.Table, unigrams_b: pa.Table, words_only: bool = False) -> float:
    """Jensen–Shannon divergence (bits) between two ``unigrams`` tables (token, count[, is_punct])."""
    a, b = (_words(t) if words_only else t for t in (unigrams_a, unigrams_b))
    _, ca, cb = align(a.column("token").to_pylist(), _column(a, "count"),
                      b.column("token").to_pylist(), _column(b, "count"))
    return jensen_shannon_bits(ca, cb)


def _words(unigrams: pa.Table) -> pa.Table:
    if "is_punct" not in unigrams.column_names:
        return unigrams
    return unigrams.filter(pc.invert(unigrams.column("is_punct")))


def sentence_length_wasserstein(lengths_a: pa.Table, lengths_b: pa.Table) -> float:
    """Wasserstein-1 distance (words) between two ``sentence_lengths`` tables (length, count)."""
    return wasserstein1(_column(lengths_a, "length"), _column(lengths_a, "count"),
                        _column(lengths_b, "length"), _column(lengths_b, "count"))


def histogram_mean(lengths: pa.Table, value: str = "length") -> float:
    values, counts = _column(lengths, value).astype(float), _column(lengths, "count").astype(float)
    return float((values * counts).sum() / counts.sum()) if counts.sum() else 0.0


def ngram_overlap(ngrams_a: pa.Table, ngrams_b: pa.Table) -> dict[int, dict[str, float]]:
    """Per order n: Jaccard overlap of the kept n-gram types and the shared probability mass.

    ``weighted`` is ``sum(min(p_a, p_b))`` over n-grams normalised within each
    table (1 = the same distribution over kept n-grams, 0 = nothing shared).
    """
    result: dict[int, dict[str, float]] = {}
    orders = sorted(set(_column(ngrams_a, "n").tolist()) | set(_column(ngrams_b, "n").tolist()))
    for n in orders:
        a = ngrams_a.filter(pc.equal(ngrams_a.column("n"), n))
        b = ngrams_b.filter(pc.equal(ngrams_b.column("n"), n))
        keys_a, keys_b = a.column("ngram").to_pylist(), b.column("ngram").to_pylist()
        _, ca, cb = align(keys_a, _column(a, "count"), keys_b, _column(b, "count"))
        union = len(set(keys_a) | set(keys_b))
        result[int(n)] = {
            "jaccard": len(set(keys_a) & set(keys_b)) / union if union else 0.0,
            "weighted": float(np.minimum(normalise(ca), normalise(cb)).sum()),
            "types_a": len(keys_a),
            "types_b": len(keys_b),
        }
    return result


def entropy_differences(entropy_a: pa.Table, entropy_b: pa.Table) -> list[dict[str, Any]]:
    """Every (metric, window) in both ``entropy`` tables with a, b and b - a (bits)."""
    a = {(r["metric"], r["window"]): r["value"] for r in entropy_a.to_pylist()}
    b = {(r["metric"], r["window"]): r["value"] for r in entropy_b.to_pylist()}
    return [{"metric": metric, "window": window, "a": a[(metric, window)], "b": b[(metric, window)],
             "difference": b[(metric, window)] - a[(metric, window)]}
            for metric, window in sorted(set(a) & set(b), key=lambda k: (k[1], k[0]))]


def log_ratio_words(unigrams_a: pa.Table, unigrams_b: pa.Table, limit: int = 15,
                    smoothing: float = DEFAULT_SMOOTHING_PER_MILLION,
                    total_a: float | None = None, total_b: float | None = None) -> dict[str, list]:
    """The words most over- and under-represented in a relative to b.

    Ranked by the smoothed log2 ratio of per-million frequencies (see
    ``log_ratio``); punctuation is left out. Totals default to the tables' word
    counts. Returns ``{"over": [...], "under": [...]}`` of dicts with token,
    per_million_a, per_million_b and log2_ratio.
    """
    a, b = _words(unigrams_a), _words(unigrams_b)
    keys, ca, cb = align(a.column("token").to_pylist(), _column(a, "count"),
                         b.column("token").to_pylist(), _column(b, "count"))
    total_a = float(total_a if total_a is not None else ca.sum())
    total_b = float(total_b if total_b is not None else cb.sum())
    ratios = log_ratio(ca, total_a, cb, total_b, smoothing)

    def row(i: int) -> dict[str, Any]:
        return {"token": keys[i], "per_million_a": round(ca[i] * 1e6 / max(total_a, 1), 2),
                "per_million_b": round(cb[i] * 1e6 / max(total_b, 1), 2),
                "log2_ratio": round(float(ratios[i]), 4)}

    order = sorted(range(len(keys)), key=lambda i: (-ratios[i], keys[i]))
    over = [row(i) for i in order[:limit] if ratios[i] > 0]
    under = [row(i) for i in reversed(order[-limit:]) if ratios[i] < 0] if limit else []
    return {"over": over, "under": under}


# ---------------------------------------------------------------- bundles

def _tables(source: Any) -> Mapping[str, pa.Table]:
    if isinstance(source, Mapping):
        return source
    return _LazyTables(source)


class _LazyTables(Mapping):
    def __init__(self, bundle):
        self.bundle = bundle

    def __getitem__(self, name):
        return self.bundle.table(name)

    def __iter__(self):
        from .bundle import TABLES

        return iter(TABLES)

    def __len__(self):
        from .bundle import TABLES

        return len(TABLES)


def compare(a: Any, b: Any, top: int = 15,
            smoothing: float = DEFAULT_SMOOTHING_PER_MILLION) -> dict[str, Any]:
    """Every distance between two bundles (or mappings of table name -> pyarrow table).

    Returns plain data: ``unigram_js_bits`` (all tokens) and
    ``word_js_bits`` (punctuation left out), ``sentence_length`` (W1 in words
    and both means), ``ngram_overlap`` per n, ``entropy`` differences (bits),
    ``over_represented`` / ``under_represented`` words of a relative to b.
    """
    ta, tb = _tables(a), _tables(b)
    words = log_ratio_words(ta["unigrams"], tb["unigrams"], limit=top, smoothing=smoothing)
    return {
        "unigram_js_bits": unigram_js_bits(ta["unigrams"], tb["unigrams"]),
        "word_js_bits": unigram_js_bits(ta["unigrams"], tb["unigrams"], words_only=True),
        "sentence_length": {
            "wasserstein1_words": sentence_length_wasserstein(ta["sentence_lengths"],
                                                              tb["sentence_lengths"]),
            "mean_a": histogram_mean(ta["sentence_lengths"]),
            "mean_b": histogram_mean(tb["sentence_lengths"]),
        },
        "ngram_overlap": ngram_overlap(ta["ngrams"], tb["ngrams"]),
        "entropy": entropy_differences(ta["entropy"], tb["entropy"]),
        "over_represented": words["over"],
        "under_represented": words["under"],
        "smoothing_per_million": smoothing,
    }
