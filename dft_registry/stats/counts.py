"""Token, n-gram, sentence-length and opener counts of one document."""

from __future__ import annotations

from collections import Counter

from ..segment import Sentence, is_punct

NGRAM_ORDERS = (2, 3, 4)
OPENER_TOKENS = 2  # an opener is the first two tokens of a sentence ('" I', 'The court')


def unigram_counts(sentences: list[Sentence]) -> Counter:
    """token -> occurrences (punctuation included, case preserved)."""
    counts: Counter = Counter()
    for sentence in sentences:
        counts.update(sentence)
    return counts


def ngrams_of(sentences: list[Sentence], orders: tuple[int, ...] = NGRAM_ORDERS) -> list[tuple[str, ...]]:
    """Every n-gram occurrence as a token tuple (n = its length), never crossing a sentence end."""
    grams: list[tuple[str, ...]] = []
    for sentence in sentences:
        for n in orders:
            if len(sentence) >= n:
                grams += zip(*(sentence[i:] for i in range(n)))
    return grams


def ngram_counts(sentences: list[Sentence], orders: tuple[int, ...] = NGRAM_ORDERS) -> Counter:
    """(tok1, ..., tokn) -> occurrences; :func:`ngram_text` joins a key for output."""
    return Counter(ngrams_of(sentences, orders))


def ngram_text(ngram: tuple[str, ...]) -> str:
    """The stored form of an n-gram: its tokens joined by one space."""
    return " ".join(ngram)


def sentence_word_counts(sentences: list[Sentence]) -> list[int]:
    """Words (non-punctuation tokens) per sentence; punctuation-only sentences are dropped."""
    lengths = [len(sentence) - sum(map(is_punct, sentence)) for sentence in sentences]
    return [length for length in lengths if length > 0]


def sentence_openers(sentences: list[Sentence], tokens: int = OPENER_TOKENS) -> list[str]:
    """The first ``tokens`` tokens of each sentence that has at least one word."""
    return [
        " ".join(sentence[:tokens])
        for sentence in sentences
        if any(not is_punct(token) for token in sentence)
    ]
