"""Per-window feature vectors: the samples of the human distribution that MMD uses.

A *window* is a run of exactly ``W`` consecutive words of one document (with
the punctuation between them), for W in :data:`WINDOW_SIZES`. Generated
samples are short, so features are always compared at the same window length
in words: TTR, distinct-n and sentence statistics all depend on it.

The same two functions, :func:`split_windows` and :func:`window_features`,
measure human text at build time and model samples at training/eval time.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import statistics
from collections import Counter

from ..segment import Sentence, is_punct
from .entropy import shannon_entropy

WINDOW_SIZES = (32, 48, 64, 128, 256, 512)
FEATURES = (
    "ttr",  # distinct words / words (case preserved)
    "entropy",  # Shannon entropy of lowercased words, bits
    "distinct_1",  # distinct lowercased word n-grams / n-grams, n = 1, 2, 3
    "distinct_2",
    "distinct_3",
    "repetition_rate",  # share of word 4-grams that already occurred in the window
    "sentence_length_mean",  # words per sentence piece inside the window
    "sentence_length_std",
    "word_length_mean",  # characters per word
    "punct_rate",  # punctuation tokens / tokens
)
DEFAULT_SAMPLES_PER_WINDOW = 2000


def split_windows(sentences: list[Sentence], window_words: int) -> list[list[Sentence]]:
    """Cut a document into consecutive windows of exactly ``window_words`` words.

    Each window is a list of sentence pieces (sentences cut at window edges);
    the incomplete tail is dropped.
    """
    windows: list[list[Sentence]] = []
    current: list[Sentence] = []
    piece: Sentence = []
    words = 0
    for sentence in sentences:
        for token in sentence:
            punct = is_punct(token)
            if not punct and words == window_words:
                if piece:
                    current.append(piece)
                windows.append(current)
                current, piece, words = [], [], 0
            piece.append(token)
            words += not punct
        if piece:
            current.append(piece)
            piece = []
    if words == window_words:
        windows.append(current)
    return windows


def _distinct(words: list[str], n: int) -> float:
    """Distinct n-grams / n-grams of a word sequence (0.0 when shorter than n)."""
    total = len(words) - n + 1
    if total <= 0:
        return 0.0
    return len(set(zip(*(words[i:] for i in range(n))))) / total


def window_features(window: list[Sentence]) -> dict[str, float]:
    """The :data:`FEATURES` of one window given as sentences (or pieces) of tokens."""
    lengths = []
    words: list[str] = []
    n_tokens = 0
    for sentence in window:
        sentence_words = [token for token in sentence if not is_punct(token)]
        n_tokens += len(sentence)
        if sentence_words:
            lengths.append(len(sentence_words))
            words += sentence_words
    if not words:
        return dict.fromkeys(FEATURES, 0.0)
    lowered = [word.lower() for word in words]
    return {
        "ttr": len(set(words)) / len(words),
        "entropy": shannon_entropy(Counter(lowered).values()),
        "distinct_1": _distinct(lowered, 1),
        "distinct_2": _distinct(lowered, 2),
        "distinct_3": _distinct(lowered, 3),
        "repetition_rate": 1.0 - _distinct(lowered, 4) if len(lowered) > 3 else 0.0,
        "sentence_length_mean": statistics.fmean(lengths),
        "sentence_length_std": statistics.pstdev(lengths),
        "word_length_mean": sum(map(len, words)) / len(words),
        "punct_rate": (n_tokens - len(words)) / n_tokens,
    }


def stable_hash64(text: str) -> int:
    """A signed 64-bit hash of ``text`` that is the same on every machine and run."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class WindowSampler:
    """A deterministic, mergeable sample of windows: the ``k`` smallest hash keys per size.

    Keys hash (document key, window size, window index), so which windows are
    kept does not depend on document order or on how documents are sharded
    across workers; merging two samplers keeps the ``k`` smallest of both.
    """

    def __init__(self, k: int = DEFAULT_SAMPLES_PER_WINDOW, sizes: tuple[int, ...] = WINDOW_SIZES):
        self.k = k
        self.sizes = sizes
        # per size: max-heap (negated key) of (neg_key, doc, features tuple)
        self.heaps: dict[int, list[tuple[int, int, tuple[float, ...]]]] = {w: [] for w in sizes}

    def add_document(self, doc_key: str, sentences: list[Sentence], part: int = 0) -> None:
        """Offer every full window of one document (or of one part of a long document)."""
        doc = stable_hash64(doc_key)
        n_words = sum(len(sentence) - sum(map(is_punct, sentence)) for sentence in sentences)
        window_prefix = doc_key if part == 0 else f"{doc_key}\x00part{part}"
        for size in self.sizes:
            heap = self.heaps[size]
            windows = None
            for index in range(n_words // size):
                key = stable_hash64(f"{window_prefix}\x00{size}\x00{index}")
                if len(heap) >= self.k and -heap[0][0] <= key:
                    continue
                if windows is None:
                    windows = split_windows(sentences, size)
                features = window_features(windows[index])
                entry = (-key, doc, tuple(features[name] for name in FEATURES))
                if len(heap) < self.k:
                    heapq.heappush(heap, entry)
                else:
                    heapq.heapreplace(heap, entry)

    def rows(self) -> list[tuple[int, int, int, tuple[float, ...]]]:
        """(window, key, doc, features) rows, sorted by window then key."""
        return sorted(
            (size, -neg_key, doc, features)
            for size, heap in self.heaps.items()
            for neg_key, doc, features in heap
        )

    def merge(self, other: WindowSampler) -> None:
        for size, heap in other.heaps.items():
            for entry in heap:
                target = self.heaps[size]
                if len(target) < self.k:
                    heapq.heappush(target, entry)
                elif entry[0] > target[0][0]:
                    heapq.heapreplace(target, entry)


def feature_summary(values: list[float]) -> dict[str, float]:
    """mean, std and the 10/50/90 % quantiles of a feature's samples."""
    if not values:
        return {}
    ordered = sorted(values)

    def quantile(q: float) -> float:
        position = q * (len(ordered) - 1)
        low = math.floor(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return {
        "mean": statistics.fmean(ordered),
        "std": statistics.pstdev(ordered),
        "p10": quantile(0.1),
        "p50": quantile(0.5),
        "p90": quantile(0.9),
    }
