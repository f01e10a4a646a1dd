"""Evaluate generated text against a domain bundle and held-out human text (DESIGN.md section 7).

Inputs are plain data: generated continuations (strings, one list per
generation seed), a :class:`Reference` (the bundle's tables plus segmented
held-out human documents) and, optionally, human continuations of the same
prompts and the same length. Out comes a dict of metrics; each metric carries
the model's value (mean over seeds, and per seed), the human continuations'
value, the bundle's value where one exists, and a **noise-floor band**: mean
and sd of the same metric over ``resamples`` sets of human spans with the same
count and the same lengths in words as the generations.

Every statistic is the registry's own (``window_features``, ``unigram_counts``,
``dft_registry.distances``, ``dft_train.losses.mmd_squared``); this module adds
only what has no other home: Kaplan-Meier sentence lengths, self-BLEU, the
discriminator and the resampling. Model code (generation, perplexity) sits at
the end and is the only part that needs torch models.

Definitions (units in brackets):

* ``distinct_n`` [share]: distinct lowercased word n-grams / n-grams, per
  sample (``window_features``), mean over samples.
* ``self_bleu`` [0-1]: BLEU-4 of each sample against all the others as
  references (uniform weights, NLTK "method1" smoothing: a zero n-gram match
  count becomes 0.1), mean over samples; higher = less diverse.
* ``sentence_length_mean``/``_var`` [words]: mean and variance of the
  Kaplan-Meier sentence-length distribution. Every sentence but a sample's
  last is an observed length; the last is observed only if it ends with
  ``.``, ``!``, ``?`` or ``…`` (closing quotes/brackets allowed after it),
  else it is *censored*: a sentence cut after c words is known to be longer
  than c-1 words, so it stays at risk for k < c. Mass the estimate leaves
  beyond the longest observed length is put at that length (restricted mean).
* ``sentence_length_w1_bundle`` [words]: Wasserstein-1 between that
  distribution and the bundle's sentence lengths (whole documents).
* ``token_js_bits`` [bits]: Jensen-Shannon divergence between the samples'
  token counts and the bundle's unigrams (``distances.unigram_js_bits``).
* ``feature_mmd2`` [unitless]: biased squared MMD between the window features
  of each sample's first window of W words and the bundle's windows of the same
  W (features standardised by the bundle's mean/sd; Gaussian kernel, bandwidth
  = median pairwise distance of the bundle's windows).
* ``repetition_rate`` [share]: word 4-grams already seen in the same sample.
* ``passes_as_human`` [%]: a logistic regression on the window features, human
  vs model, 5-fold cross-validated on balanced classes: the share of model
  samples the held-out classifier labels human. 50 % = indistinguishable, 0 % =
  always caught. ``discriminator_accuracy`` [%] is its accuracy (50 % = chance).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from dft_registry import distances
from dft_registry.errors import EvalError
from dft_registry.segment import Sentence, is_punct, segmenter_from_manifest
from dft_registry.stats.counts import unigram_counts
from dft_registry.stats.windows import FEATURES, split_windows, window_features

Sample = list[Sentence]
"""One text as sentences of tokens (the bundle's segmenter)."""

DEFAULT_RESAMPLES = 20
DEFAULT_FOLDS = 5
BUNDLE_WINDOW_ROWS = 512  # bundle windows used as the MMD's human side (fixed subset)
SENTENCE_FINAL = (".", "!", "?", "…")
CLOSERS = set("\"'”’)]}»")
SMOOTHING_EPSILON = 0.1  # NLTK SmoothingFunction().method1

# name -> (unit, which direction is better: "higher", "lower" or "human" = closer to human)
METRICS: dict[str, tuple[str, str]] = {
    "perplexity": ("", "lower"),
    "distinct_1": ("share", "human"),
    "distinct_2": ("share", "human"),
    "distinct_3": ("share", "human"),
    "self_bleu": ("BLEU-4", "human"),
    "sentence_length_mean": ("words", "human"),
    "sentence_length_var": ("words²", "human"),
    "sentence_length_w1_bundle": ("words", "lower"),
    "token_js_bits": ("bits", "lower"),
    "feature_mmd2": ("MMD²", "lower"),
    "repetition_rate": ("share", "human"),
    "passes_as_human": ("%", "higher"),
    "discriminator_accuracy": ("%", "lower"),
}


# ------------------------------------------------------------------- sentences


def ends_sentence(sentence: Sentence) -> bool:
    """True when a sentence's last token (after closing quotes/brackets) ends with . ! ? or …"""
    index = len(sentence) - 1
    while index >= 0 and all(ch in CLOSERS for ch in sentence[index]):
        index -= 1
    return index >= 0 and sentence[index].endswith(SENTENCE_FINAL)


def sentence_observations(sample: Sample) -> list[tuple[int, bool]]:
    """``(words, observed)`` per sentence with at least one word; only the last can be censored."""
    rows = []
    for index, sentence in enumerate(sample):
        words = sum(1 for token in sentence if not is_punct(token))
        if words:
            last = index == len(sample) - 1
            rows.append((words, not last or ends_sentence(sentence)))
    return rows


@dataclass
class LengthDistribution:
    """A Kaplan-Meier sentence-length distribution: ``pmf[k]`` for k = 0..len(pmf)-1 words."""

    pmf: np.ndarray
    events: int
    censored: int

    @property
    def lengths(self) -> np.ndarray:
        return np.arange(len(self.pmf))

    @property
    def mean(self) -> float:
        return float((self.lengths * self.pmf).sum()) if self.pmf.sum() else float("nan")

    @property
    def variance(self) -> float:
        if not self.pmf.sum():
            return float("nan")
        return float((self.pmf * (self.lengths - self.mean) ** 2).sum())

    @property
    def survival(self) -> np.ndarray:
        """``S[k]`` = P(length > k)."""
        return 1.0 - np.cumsum(self.pmf)


def kaplan_meier(observations: Sequence[tuple[int, bool]]) -> LengthDistribution:
    """Kaplan-Meier estimate from ``(length, observed)`` pairs (lengths in words, >= 1).

    Hazard ``h(k) = d_k / n_k`` with ``d_k`` the observed lengths equal to k and
    ``n_k`` the observed lengths >= k plus the censored ones > k (a sentence cut
    after c words has not shown whether it ends at c). The mass left after the
    longest length goes to that length.
    """
    if not observations:
        return LengthDistribution(np.zeros(1), 0, 0)
    longest = max(length for length, _ in observations)
    events = np.zeros(longest + 2)
    censored = np.zeros(longest + 2)
    for length, observed in observations:
        (events if observed else censored)[length] += 1
    # n_k = sum_{j>=k} events_j + sum_{j>k} censored_j
    events_at_least = np.cumsum(events[::-1])[::-1]
    censored_above = np.concatenate([np.cumsum(censored[::-1])[::-1][1:], [0.0]])
    at_risk = events_at_least + censored_above
    pmf = np.zeros(longest + 1)
    surviving = 1.0
    for k in range(1, longest + 1):
        if at_risk[k] > 0:
            hazard = events[k] / at_risk[k]
            pmf[k] = surviving * hazard
            surviving *= 1.0 - hazard
    pmf[longest] += surviving  # restricted: the unresolved tail sits at the longest length
    return LengthDistribution(pmf, int(events.sum()), int(censored.sum()))


def sample_length_distribution(samples: Sequence[Sample]) -> LengthDistribution:
    return kaplan_meier([obs for sample in samples for obs in sentence_observations(sample)])


# ------------------------------------------------------------------- diversity


def sample_words(sample: Sample) -> list[str]:
    """Lowercased words of a sample (punctuation left out), as ``window_features`` counts them."""
    return [token.lower() for sentence in sample for token in sentence if not is_punct(token)]


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def self_bleu(word_lists: Sequence[list[str]], max_order: int = 4) -> float:
    """Mean BLEU-``max_order`` of each word list against all the others (see module docstring).

    Lists shorter than ``max_order`` words are not scored (they still serve as
    references). NaN when fewer than two lists can take part.
    """
    if len(word_lists) < 2:
        return float("nan")
    counts = [[_ngrams(words, n) for n in range(1, max_order + 1)] for words in word_lists]
    # per order and n-gram: the largest count, its owner, and the second-largest count
    best: list[dict[tuple, list]] = [{} for _ in range(max_order)]
    for owner, per_order in enumerate(counts):
        for order, counter in enumerate(per_order):
            table = best[order]
            for gram, count in counter.items():
                entry = table.get(gram)
                if entry is None:
                    table[gram] = [count, owner, 0]
                elif count > entry[0]:
                    entry[2], entry[0], entry[1] = entry[0], count, owner
                elif count > entry[2]:
                    entry[2] = count
    lengths = np.array([len(words) for words in word_lists])
    scores = []
    for index, words in enumerate(word_lists):
        if len(words) < max_order:
            continue
        log_precision = 0.0
        for order, counter in enumerate(counts[index]):
            table = best[order]
            matched = 0
            for gram, count in counter.items():
                top, owner, second = table[gram]
                matched += min(count, second if owner == index else top)
            total = sum(counter.values())
            precision = (matched or SMOOTHING_EPSILON) / total
            log_precision += math.log(precision) / max_order
        others = np.delete(lengths, index)
        closest = others[np.lexsort((others, np.abs(others - len(words))))[0]]
        brevity = 1.0 if len(words) > closest else math.exp(1 - closest / len(words))
        scores.append(brevity * math.exp(log_precision))
    return float(np.mean(scores)) if scores else float("nan")


def unigram_table(samples: Sequence[Sample]) -> pa.Table:
    """Token counts of samples as a bundle-shaped ``unigrams`` table (token, count, is_punct)."""
    counts: Counter = Counter()
    for sample in samples:
        counts.update(unigram_counts(sample))
    tokens = sorted(counts)
    return pa.table({
        "token": pa.array(tokens, pa.string()),
        "count": pa.array([counts[t] for t in tokens], pa.int64()),
        "is_punct": pa.array([is_punct(t) for t in tokens], pa.bool_()),
    })


# ------------------------------------------------------------------- human text


class HumanText:
    """Segmented held-out human documents from which spans of a given word count are drawn.

    A span starts at a sentence start and holds exactly ``words`` words (the
    pieces ``split_windows`` cuts), so its last sentence is censored like a
    sample's.
    """

    def __init__(self, documents: Sequence[Sample]):
        self.documents = [list(doc) for doc in documents if doc]
        starts_doc, starts_sentence, remaining = [], [], []
        for d, doc in enumerate(self.documents):
            words = [sum(1 for t in s if not is_punct(t)) for s in doc]
            suffix = np.cumsum(words[::-1])[::-1]
            for s, left in enumerate(suffix):
                if words[s]:
                    starts_doc.append(d)
                    starts_sentence.append(s)
                    remaining.append(int(left))
        self._doc = np.array(starts_doc, dtype=np.int64)
        self._sentence = np.array(starts_sentence, dtype=np.int64)
        self._remaining = np.array(remaining, dtype=np.int64)

    @property
    def longest_span(self) -> int:
        """The most words a span can hold (the longest document, from its first sentence)."""
        return int(self._remaining.max()) if len(self._remaining) else 0

    @property
    def total_words(self) -> int:
        return int(sum(self._remaining[self._sentence == 0])) if len(self._remaining) else 0

    def span(self, words: int, rng: np.random.Generator, avoid: set[int] | None = None) -> Sample:
        """A random span of exactly ``words`` words starting at a sentence start.

        Documents in ``avoid`` are skipped while another document can hold the span.
        """
        fits = self._remaining >= words
        valid = np.flatnonzero(fits)
        if avoid and len(valid):
            fresh = valid[~np.isin(self._doc[valid], list(avoid))]
            valid = fresh if len(fresh) else valid
        if words < 1 or not len(valid):
            raise EvalError(
                f"human text has no span of {words} words (longest: {self.longest_span}); "
                "pass longer held-out documents with --human"
            )
        pick = valid[rng.integers(len(valid))]
        if avoid is not None:
            avoid.add(int(self._doc[pick]))
        doc, start = self.documents[self._doc[pick]], self._sentence[pick]
        needed, end = 0, start
        while needed < words:
            needed += sum(1 for t in doc[end] if not is_punct(t))
            end += 1
        return split_windows(doc[start:end], words)[0]

    def spans(self, word_counts: Sequence[int], rng: np.random.Generator) -> list[Sample]:
        """One span per word count, each from a different document while documents last."""
        used: set[int] = set()
        spans = []
        for words in word_counts:
            if len(used) >= len(self.documents):
                used.clear()
            spans.append(self.span(int(words), rng, used) if words > 0 else [])
        return spans


def word_count(sample: Sample) -> int:
    return sum(1 for sentence in sample for token in sentence if not is_punct(token))


# ------------------------------------------------------------------- reference


@dataclass
class WindowReference:
    """The bundle's windows at one size, standardised, with the kernel bandwidth."""

    window: int
    mean: np.ndarray
    std: np.ndarray
    samples: np.ndarray  # [N, F] standardised
    bandwidth: float


@dataclass
class Reference:
    """What generations are compared with: one bundle and held-out human documents."""

    bundle: object
    segmenter: object
    human: HumanText
    _windows: dict[int, WindowReference] = field(default_factory=dict, repr=False)

    @classmethod
    def from_bundle(cls, bundle, human_texts: Sequence[str]) -> Reference:
        """Segment ``human_texts`` with the bundle's segmenter (the same rules as the bundle)."""
        segmenter = segmenter_from_manifest(bundle.segmenter)
        texts = [t for t in human_texts if t and t.strip()]
        return cls(bundle, segmenter, HumanText(list(segmenter.pipe(texts))))

    @property
    def name(self) -> str:
        return getattr(self.bundle, "ref", "bundle")

    def segment(self, texts: Sequence[str]) -> list[Sample]:
        return list(self.segmenter.pipe([t or "" for t in texts]))

    def available_windows(self) -> list[int]:
        windows = self.bundle.table("windows")
        return sorted(set(windows.column("window").to_pylist()))

    def choose_window(self, word_counts: Sequence[int]) -> int:
        """The largest bundle window that the median sample fills (else the smallest window)."""
        available = self.available_windows()
        if not available:
            raise EvalError(f"bundle {self.name} has no windows (corpus too short); rebuild it")
        median = float(np.median(word_counts)) if len(word_counts) else 0.0
        fitting = [w for w in available if w <= median]
        return fitting[-1] if fitting else available[0]

    def windows(self, window: int) -> WindowReference:
        if window not in self._windows:
            from .losses import median_bandwidth
            from .targets import feature_targets

            targets = feature_targets(self.bundle, window)
            if targets is None or targets.window != window:
                raise EvalError(f"bundle {self.name} has no windows of {window} words")
            samples = targets.samples[:BUNDLE_WINDOW_ROWS]
            bandwidth = float(median_bandwidth(samples.double()))
            self._windows[window] = WindowReference(
                window, targets.mean.numpy().astype(np.float64),
                targets.std.numpy().astype(np.float64), samples.numpy().astype(np.float64),
                bandwidth)
        return self._windows[window]

    def check_human(self, window: int) -> None:
        if self.human.longest_span < window:
            raise EvalError(
                f"human text is shorter than one window ({self.human.longest_span} words in the "
                f"longest document, a window holds {window}); pass more held-out text with --human"
            )


# ------------------------------------------------------------------- metrics


def first_window_features(samples: Sequence[Sample], window: int) -> np.ndarray:
    """[n, F] :data:`FEATURES` of each sample's first ``window``-word window (shorter: left out)."""
    rows = []
    for sample in samples:
        windows = split_windows(sample, window)
        if windows:
            values = window_features(windows[0])
            rows.append([values[name] for name in FEATURES])
    return np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))


def feature_mmd2(features: np.ndarray, reference: WindowReference) -> float:
    """Biased squared MMD between raw window features [n, F] and the bundle's windows."""
    if len(features) < 2:
        return float("nan")
    import torch

    from .losses import mmd_squared

    x = torch.from_numpy((features - reference.mean) / reference.std)
    y = torch.from_numpy(reference.samples)
    return float(mmd_squared(x, y, reference.bandwidth))


def discriminate(model_features: np.ndarray, human_features: np.ndarray,
                 folds: int = DEFAULT_FOLDS, seed: int = 0) -> dict[str, float]:
    """Cross-validated logistic regression human vs model on window features (balanced classes).

    Returns ``passes_as_human`` (% of model rows labelled human by the held-out
    classifier), ``discriminator_accuracy`` (%) and ``n`` (rows per class).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    n = min(len(model_features), len(human_features))
    if n < folds:
        return {"passes_as_human": float("nan"), "discriminator_accuracy": float("nan"), "n": n}
    model = model_features[rng.permutation(len(model_features))[:n]]
    human = human_features[rng.permutation(len(human_features))[:n]]
    x = np.concatenate([model, human])
    y = np.concatenate([np.zeros(n), np.ones(n)])
    classifier = make_pipeline(StandardScaler(), LogisticRegression(solver="liblinear"))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    predicted = cross_val_predict(classifier, x, y, cv=splitter)
    return {
        "passes_as_human": 100.0 * float((predicted[:n] == 1).mean()),
        "discriminator_accuracy": 100.0 * float((predicted == y).mean()),
        "n": n,
    }


def set_metrics(samples: Sequence[Sample], reference: Reference, window: int) -> dict:
    """Every single-set metric of one set of samples (the discriminator needs two sets)."""
    features = [window_features(sample) for sample in samples if word_count(sample)]
    lengths = sample_length_distribution(samples)
    bundle_lengths = reference.bundle.table("sentence_lengths")
    first_windows = first_window_features(samples, window)

    def mean_of(name: str) -> float:
        return float(np.mean([f[name] for f in features])) if features else float("nan")

    return {
        "distinct_1": mean_of("distinct_1"),
        "distinct_2": mean_of("distinct_2"),
        "distinct_3": mean_of("distinct_3"),
        "self_bleu": self_bleu([sample_words(s) for s in samples]),
        "sentence_length_mean": lengths.mean,
        "sentence_length_var": lengths.variance,
        "sentence_length_w1_bundle": distances.wasserstein1(
            lengths.lengths, lengths.pmf,
            bundle_lengths.column("length").to_numpy(), bundle_lengths.column("count").to_numpy())
        if lengths.pmf.sum() else float("nan"),
        "token_js_bits": distances.unigram_js_bits(unigram_table(samples),
                                                   reference.bundle.table("unigrams")),
        "feature_mmd2": feature_mmd2(first_windows, reference.windows(window)),
        "repetition_rate": mean_of("repetition_rate"),
        "_window_features": first_windows,
        "_lengths": lengths,
    }


def _public(metrics: dict) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not k.startswith("_")}


def _bundle_values(reference: Reference, window: int) -> dict[str, float]:
    from .targets import length_targets

    targets = length_targets(reference.bundle)
    return {"sentence_length_mean": targets.mean, "sentence_length_var": targets.variance}


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return float("nan"), float("nan")
    return float(np.mean(finite)), float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0


def evaluate(
    generations: Sequence[str] | Sequence[Sequence[str]],
    reference: Reference,
    human_continuations: Sequence[str] | None = None,
    perplexity: dict | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    top_tokens: int = 10,
) -> dict:
    """Metrics of generated text with human noise-floor bands (see the module docstring).

    ``generations``: continuations as strings, or one list per generation seed
    (each list is evaluated alone; ``model`` is the mean over seeds).
    ``human_continuations``: human text continuing the same prompts to the same
    length (optional; without it the human value is the floor's mean).
    ``perplexity``: the result of :func:`perplexity` (optional).
    Returns plain data (JSON-serialisable).
    """
    sets = [list(generations)] if generations and isinstance(generations[0], str) else [
        list(g) for g in generations]
    if not sets or not any(sets):
        raise EvalError("no generations to evaluate")
    if resamples < 2:
        raise EvalError("resamples must be at least 2 for a noise-floor band")
    segmented = [reference.segment(texts) for texts in sets]
    counts = [[word_count(s) for s in samples] for samples in segmented]
    all_counts = [c for per_seed in counts for c in per_seed]
    if not any(all_counts):
        raise EvalError("the generations hold no words; check the generation file or the model")
    window = reference.choose_window(all_counts)
    reference.check_human(window)
    if max(all_counts) > reference.human.longest_span:
        raise EvalError(
            f"generations hold up to {max(all_counts)} words but the longest human document only "
            f"{reference.human.longest_span}; pass longer held-out text with --human")
    rng = np.random.default_rng(seed)

    per_seed = []
    for samples in segmented:
        metrics = set_metrics(samples, reference, window)
        per_seed.append(metrics)

    human_samples = reference.segment(human_continuations) if human_continuations else None
    human_metrics = set_metrics(human_samples, reference, window) if human_samples else None

    # the noise floor: sets of human spans with the first seed's count and word lengths
    floor_runs = []
    floor_windows = []
    for _ in range(resamples):
        spans = reference.human.spans(counts[0], rng)
        run = set_metrics(spans, reference, window)
        floor_runs.append(run)
        floor_windows.append(run["_window_features"])
    # discriminator: model vs human continuations (or a held-aside resample); floor: human vs human
    if human_metrics is not None:
        human_side = human_metrics["_window_features"]
    else:
        human_side = first_window_features(reference.human.spans(counts[0], rng), window)
    for index, metrics in enumerate(per_seed):
        metrics.update(_strip_n(discriminate(metrics["_window_features"], human_side,
                                             seed=seed + index)))
    for index, run in enumerate(floor_runs):
        other = floor_windows[(index + 1) % len(floor_windows)]
        run.update(_strip_n(discriminate(run["_window_features"], other, seed=seed + index)))
    if human_metrics is not None:
        human_metrics.update(_strip_n(discriminate(
            first_window_features(reference.human.spans(counts[0], rng), window), human_side,
            seed=seed)))

    bundle_values = _bundle_values(reference, window)
    results: dict[str, dict] = {}
    if perplexity is not None:
        results["perplexity"] = {
            "model": perplexity["perplexity"], "model_per_seed": [perplexity["perplexity"]],
            "human": None, "floor_mean": None, "floor_sd": perplexity.get("bootstrap_sd"),
            "bundle": None,
        }
    for name in METRICS:
        if name == "perplexity":
            continue
        values = [m[name] for m in per_seed]
        floor_mean, floor_sd = _mean_sd([run[name] for run in floor_runs])
        model_mean = _mean_sd(values)[0]
        results[name] = {
            "model": model_mean,
            "model_per_seed": values,
            "human": human_metrics[name] if human_metrics else floor_mean,
            "floor_mean": floor_mean,
            "floor_sd": floor_sd,
            "bundle": bundle_values.get(name),
        }
    for name, row in results.items():
        unit, better = METRICS[name]
        row["unit"], row["better"] = unit, better
        row["within_floor"] = _within(row)

    model_unigrams = unigram_table([s for samples in segmented for s in samples])
    over = distances.log_ratio_words(model_unigrams, reference.bundle.table("unigrams"),
                                     limit=top_tokens)
    lengths = [m["_lengths"] for m in per_seed]
    return _clean({
        "bundle": reference.name,
        "samples_per_seed": [len(s) for s in sets],
        "seeds": len(sets),
        "window_words": window,
        "samples_with_full_window": [len(m["_window_features"]) for m in per_seed],
        "resamples": resamples,
        "human_continuations": len(human_continuations or []),
        "human_documents": len(reference.human.documents),
        "metrics": results,
        "over_used_tokens": over["over"],
        "under_used_tokens": over["under"],
        "distributions": {
            "sentence_length_pmf": {
                "model": _pooled_pmf(lengths),
                "human": human_metrics["_lengths"].pmf.tolist() if human_metrics else
                _pooled_pmf([run["_lengths"] for run in floor_runs]),
                "bundle": _bundle_pmf(reference.bundle),
            },
            "window_features": {
                "names": list(FEATURES),
                "model": np.concatenate([m["_window_features"] for m in per_seed]).tolist(),
                "human": (human_side if len(human_side) else floor_windows[0]).tolist(),
            },
        },
    })


def _strip_n(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "n"}


def _within(row: dict) -> bool | None:
    """Whether the model's value lies within floor mean ± 2 sd."""
    model, mean, sd = row.get("model"), row.get("floor_mean"), row.get("floor_sd")
    if any(v is None or not math.isfinite(v) for v in (model, mean, sd)):
        return None
    return abs(model - mean) <= 2 * sd


def _pooled_pmf(distributions: Sequence[LengthDistribution]) -> list[float]:
    width = max(len(d.pmf) for d in distributions)
    total = np.zeros(width)
    for d in distributions:
        total[: len(d.pmf)] += d.pmf
    return (total / max(len(distributions), 1)).tolist()


def _bundle_pmf(bundle) -> list[float]:
    from .targets import sentence_length_counts

    counts = sentence_length_counts(bundle)
    counts[0] = 0
    return (counts / counts.sum()).tolist() if counts.sum() else counts.tolist()


def _clean(value):
    """NaN -> None and numpy scalars -> Python, so the result is valid JSON."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# ------------------------------------------------------------------- prompts and models


@dataclass
class PromptPair:
    """A prompt (human text up to a sentence start) and the human continuation after it."""

    prompt: str
    continuation: str
    document: int


def sentence_offsets(text: str, sample: Sample) -> list[int]:
    """Character offset of each sentence's first token in ``text`` (tokens appear in order)."""
    offsets, position = [], 0
    for sentence in sample:
        found = text.find(sentence[0], position) if sentence else -1
        offsets.append(found if found >= 0 else position)
        for token in sentence:
            at = text.find(token, position)
            if at >= 0:
                position = at + len(token)
    return offsets


def make_prompt_pairs(
    texts: Sequence[str],
    reference: Reference,
    tokenizer,
    count: int,
    continuation_tokens: int,
    seed: int = 0,
    prompt_chars: int = 400,
) -> list[PromptPair]:
    """``count`` prompts cut at sentence starts of held-out documents, with the next
    ``continuation_tokens`` tokens of human text (same tokenizer as the model) as continuation.

    Documents are used round-robin in a seeded order, so prompts spread over documents.
    """
    rng = random.Random(seed)
    texts = [t for t in texts if t and t.strip()]
    segmented = reference.segment(texts)
    candidates: list[list[int]] = []
    for text, sample in zip(texts, segmented):
        offsets = sentence_offsets(text, sample)[1:]  # at least one sentence of context
        rng.shuffle(offsets)
        candidates.append(offsets)
    order = list(range(len(texts)))
    rng.shuffle(order)
    pairs: list[PromptPair] = []
    while len(pairs) < count and any(candidates[d] for d in order):
        for d in order:
            while candidates[d] and len(pairs) < count:
                offset = candidates[d].pop()
                prompt = texts[d][:offset].rstrip()
                ids = tokenizer(texts[d][len(prompt):], add_special_tokens=False)["input_ids"]
                if len(ids) < continuation_tokens or not prompt:
                    continue
                continuation = tokenizer.decode(ids[:continuation_tokens], skip_special_tokens=True)
                pairs.append(PromptPair(prompt[-prompt_chars:], continuation, d))
                break
    if len(pairs) < count:
        raise EvalError(
            f"held-out human text yields only {len(pairs)} prompts with {continuation_tokens} "
            f"tokens of continuation, {count} requested; pass more text or lower --prompts")
    return pairs


def check_tokenizer_decodes(tokenizer) -> None:
    """EvalError unless the tokenizer round-trips plain English text."""
    probe = "The court held that the agreement was void."
    try:
        decoded = tokenizer.decode(tokenizer(probe, add_special_tokens=False)["input_ids"],
                                   skip_special_tokens=True)
    except Exception as exc:  # noqa: BLE001 - any failure means it cannot decode
        raise EvalError(f"the model's tokenizer cannot decode ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:120]}); pass a model with a working "
                        "tokenizer") from None
    if decoded.strip() != probe:
        raise EvalError(f"the model's tokenizer cannot decode text: {probe!r} came back as "
                        f"{decoded[:60]!r}; pass a model with a working tokenizer")


def generate_continuations(model, tokenizer, prompts: Sequence[str], max_new_tokens: int,
                           seed: int, batch_size: int = 16, temperature: float = 1.0,
                           top_p: float = 1.0, max_prompt_tokens: int = 32,
                           on_batch=None) -> list[str]:
    """One sampled continuation per prompt (ancestral sampling by default: top_k off, top_p 1)."""
    from .sampling import SamplingSettings, generate_samples

    settings = SamplingSettings(max_new_tokens=max_new_tokens, temperature=temperature,
                                top_p=top_p, top_k=0, max_prompt_tokens=max_prompt_tokens)
    texts: list[str] = []
    for start in range(0, len(prompts), batch_size):
        batch = list(prompts[start:start + batch_size])
        result = generate_samples(model, tokenizer, batch, settings,
                                  seed=seed * 1_000_003 + start)
        texts += result.texts
        if on_batch:
            on_batch(len(texts))
    return texts


def perplexity(model, tokenizer, texts: Sequence[str], block_tokens: int = 128,
               max_blocks: int = 64, batch_size: int = 8, seed: int = 0) -> dict:
    """Perplexity (exp of mean token NLL, nats) on blocks of held-out human text.

    Documents are tokenised, joined with EOS and cut into ``block_tokens``
    blocks; at most ``max_blocks`` are used. ``bootstrap_sd``: sd of the
    perplexity over 200 resamples of the blocks (its sampling noise).
    """
    import torch

    ids: list[int] = []
    for encoded in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        ids += encoded + [tokenizer.eos_token_id]
    count = min(len(ids) // block_tokens, max_blocks)
    if count == 0:
        raise EvalError(f"held-out text has {len(ids)} tokens, fewer than one block of "
                        f"{block_tokens}; pass more text with --human")
    blocks = torch.tensor(ids[: count * block_tokens]).view(count, block_tokens)
    was_training = model.training
    model.eval()
    losses = []
    try:
        with torch.no_grad():
            for start in range(0, count, batch_size):
                batch = blocks[start:start + batch_size].to(next(model.parameters()).device)
                logits = model(input_ids=batch).logits[:, :-1].float()
                nll = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1),
                    reduction="none").view(len(batch), -1).mean(1)
                losses += nll.tolist()
    finally:
        model.train(was_training)
    values = np.array(losses)
    rng = np.random.default_rng(seed)
    boot = [math.exp(values[rng.integers(len(values), size=len(values))].mean())
            for _ in range(200)]
    return {"perplexity": math.exp(values.mean()), "bootstrap_sd": float(np.std(boot)),
            "blocks": count, "tokens": count * block_tokens}
