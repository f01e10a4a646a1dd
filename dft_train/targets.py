"""From a stat bundle and a model tokenizer to training targets (DESIGN.md section 5).

* :func:`token_distribution`: the bundle's word counts projected onto the model
  vocabulary (``q``), cached as ``tokenizers/<hash>/unigrams.parquet`` in the
  bundle's cache directory, keyed by a hash of the tokenizer.
* :func:`feature_targets`: standardised window-feature samples ``Y`` at the
  window size closest to the generation length in words.
* :func:`length_targets`: the sentence-length hazard and its mean/variance.
* :func:`scalar_targets`: distinct-n and entropy headline numbers.

The bundle is only read through ``bundle.table(name)``, ``bundle.manifest`` and
``bundle.cache_dir`` (:class:`dft_registry.bundle.Bundle`).
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from dft_registry.errors import TrainError

from .losses import length_hazard

# Share of occurrences that follow a space, by token kind. Bundles count tokens
# without their spacing, so these are estimates for English-like text:
# words follow a space unless they open a line; closing punctuation hugs the
# word before it; opening brackets/quotes follow a space.
SPACE_BEFORE_WORD = 0.95
SPACE_BEFORE_PUNCT = {"Ps": 0.9, "Pi": 0.9, "Pd": 0.5}
SPACE_BEFORE_OTHER_PUNCT = 0.05


@dataclass
class TokenTargets:
    """``q`` [V]: target token distribution; ``support`` [V] bool: tokens the bundle covers.

    Whitespace-only and special tokens never appear in a bundle's unigrams, so
    they are outside the support; compare ``f`` restricted to the support and
    renormalised (:meth:`restrict`).
    """

    q: torch.Tensor
    support: torch.Tensor

    def restrict(self, f: torch.Tensor) -> torch.Tensor:
        """``f`` renormalised over the support (zero outside it)."""
        inside = f * self.support.to(f)
        return inside / inside.sum().clamp_min(1e-12)


@dataclass
class FeatureTargets:
    """Human window features at one window size (words), standardised per feature."""

    names: tuple[str, ...]
    window: int
    mean: torch.Tensor  # [F]
    std: torch.Tensor  # [F]
    samples: torch.Tensor  # [N, F], standardised

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean.to(features)) / self.std.to(features)


@dataclass
class LengthTargets:
    """Sentence-length targets (words per sentence, punctuation excluded)."""

    hazard: torch.Tensor  # [max_length], k = 1..max_length
    mean: float
    variance: float
    max_length: int


@dataclass
class Targets:
    tokens: TokenTargets
    lengths: LengthTargets
    features: FeatureTargets | None
    scalars: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------ tokens


def tokenizer_hash(tokenizer) -> str:
    """A stable sha256 (first 16 hex digits) of the tokenizer's vocabulary and merges."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        text = backend.to_str()
    else:
        text = repr(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def space_share(token: str) -> float:
    """Estimated share of a bundle token's occurrences that follow a space."""
    if not token or not all(unicodedata.category(c)[0] == "P" for c in token):
        return SPACE_BEFORE_WORD
    return SPACE_BEFORE_PUNCT.get(unicodedata.category(token[0]), SPACE_BEFORE_OTHER_PUNCT)


def project_counts(tokens: list[str], counts: np.ndarray, tokenizer, vocab_size: int) -> np.ndarray:
    """Spread each token's count over the ids of its tokenisation, with and without a space.

    Every id of a tokenisation receives the full count (a word of three
    pieces is three tokens of text), weighted by :func:`space_share`.
    Returns float64 expected id counts [vocab_size].
    """
    shares = np.array([space_share(t) for t in tokens], dtype=np.float64)
    result = np.zeros(vocab_size, dtype=np.float64)
    for prefix, weights in ((" ", shares), ("", 1.0 - shares)):
        encoded = _encode_many(tokenizer, [prefix + t for t in tokens])
        lengths = np.fromiter((len(ids) for ids in encoded), dtype=np.int64, count=len(encoded))
        flat = np.fromiter((i for ids in encoded for i in ids), dtype=np.int64, count=lengths.sum())
        np.add.at(result, flat, np.repeat(counts * weights, lengths))
    return result


def _encode_many(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids of many short texts; the Rust backend directly when there is one (2-3x faster)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return [e.ids for e in backend.encode_batch(texts, add_special_tokens=False)]
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def token_distribution(bundle, tokenizer, vocab_size: int | None = None) -> TokenTargets:
    """The bundle's token distribution ``q`` over the model vocabulary (cached per tokenizer)."""
    vocab_size = max(vocab_size or 0, len(tokenizer))
    cache = Path(bundle.cache_dir) / "tokenizers" / tokenizer_hash(tokenizer) / "unigrams.parquet"
    if cache.exists():
        table = pq.read_table(cache)
        ids = table.column("token_id").to_numpy()
        counts = np.zeros(vocab_size, dtype=np.float64)
        counts[ids[ids < vocab_size]] = table.column("count").to_numpy()[ids < vocab_size]
    else:
        unigrams = bundle.table("unigrams")
        counts = project_counts(
            unigrams.column("token").to_pylist(),
            unigrams.column("count").to_numpy().astype(np.float64),
            tokenizer,
            vocab_size,
        )
        nonzero = np.flatnonzero(counts)
        _write_atomically(
            pa.table(
                {
                    "token_id": pa.array(nonzero.astype(np.int32)),
                    "count": pa.array(counts[nonzero]),
                }
            ),
            cache,
        )
    total = counts.sum()
    if total <= 0:
        raise TrainError(
            f"bundle {bundle.domain}@{bundle.version} has no unigram counts; rebuild it from text"
        )
    q = torch.from_numpy(counts / total).float()
    return TokenTargets(q=q, support=q > 0)


def _write_atomically(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, path)


# ---------------------------------------------------------------------- features


def closest_window(available: list[int], window_words: int) -> int:
    """The largest available window size that fits in ``window_words`` (else the smallest).

    A sample shorter than the window cannot be measured, so round down.
    """
    fitting = [w for w in available if w <= window_words]
    return max(fitting) if fitting else min(available)


def feature_targets(bundle, window_words: int) -> FeatureTargets | None:
    """Standardised human feature samples at the largest window size within ``window_words``.

    Returns None when the bundle has no windows (corpus too short for any).
    """
    from dft_registry.stats.windows import FEATURES

    windows = bundle.table("windows")
    if windows.num_rows == 0:
        return None
    sizes = windows.column("window").to_numpy()
    window = closest_window(sorted(set(sizes.tolist())), window_words)
    rows = sizes == window
    matrix = np.stack([windows.column(name).to_numpy()[rows] for name in FEATURES], axis=1)
    samples = torch.from_numpy(matrix.astype(np.float32))
    mean = samples.mean(0)
    std = samples.std(0, unbiased=False).clamp_min(1e-6)
    return FeatureTargets(
        names=tuple(FEATURES),
        window=int(window),
        mean=mean,
        std=std,
        samples=(samples - mean) / std,
    )


# ----------------------------------------------------------------------- lengths


def sentence_length_counts(bundle) -> np.ndarray:
    """``counts[k]`` = number of sentences with k words (k = 0..max)."""
    table = bundle.table("sentence_lengths")
    lengths = table.column("length").to_numpy().astype(np.int64)
    counts = table.column("count").to_numpy().astype(np.float64)
    if lengths.size == 0:
        raise TrainError(
            f"bundle {bundle.domain}@{bundle.version} has no sentence lengths; rebuild it from text"
        )
    histogram = np.zeros(int(lengths.max()) + 1)
    np.add.at(histogram, lengths, counts)
    return histogram


def length_targets(bundle, max_length: int = 100) -> LengthTargets:
    """Sentence-length hazard for k = 1..max_length, and the mean/variance of lengths >= 1."""
    histogram = sentence_length_counts(bundle)
    ks = np.arange(len(histogram))
    weights = histogram * (ks >= 1)
    mean = float((weights * ks).sum() / max(weights.sum(), 1))
    variance = float((weights * (ks - mean) ** 2).sum() / max(weights.sum(), 1))
    hazard = length_hazard(torch.from_numpy(histogram), max_length).float()
    return LengthTargets(hazard=hazard, mean=mean, variance=variance, max_length=max_length)


# ----------------------------------------------------------------------- scalars


def scalar_targets(bundle) -> dict[str, float]:
    """Headline targets: corpus entropies (``entropy`` table, window 0) and feature means."""
    scalars: dict[str, float] = {}
    entropy = bundle.table("entropy").to_pylist()
    for row in entropy:
        if int(row["window"]) == 0:
            scalars[str(row["metric"])] = float(row["value"])
    windows = bundle.table("windows")
    if windows.num_rows:
        from dft_registry.stats.windows import FEATURES

        for name in FEATURES:
            scalars[f"{name}_mean"] = float(np.mean(windows.column(name).to_numpy()))
    return scalars


def build_targets(
    bundle, tokenizer, vocab_size: int | None = None, window_words: int = 48, max_length: int = 100
) -> Targets:
    """Every target the trainer needs, for one bundle and one tokenizer."""
    return Targets(
        tokens=token_distribution(bundle, tokenizer, vocab_size),
        lengths=length_targets(bundle, max_length),
        features=feature_targets(bundle, window_words),
        scalars=scalar_targets(bundle),
    )
