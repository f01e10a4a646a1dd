"""Segmenters: text -> sentences of tokens. The only module that knows spaCy.

A segmenter has a versioned registered name (like spaCy's ``sentencizer.v1``)
that every bundle records in its manifest. ``dft_train`` and evaluation look
the same name up here to segment generated text, so model samples and human
text are always measured by identical rules.

Conventions shared by every segmenter:

* a *token* is a non-whitespace spaCy token (or regex match for ``regex.v1``);
* a token is *punctuation* when every character is Unicode punctuation or a
  symbol (categories ``P*``, ``S*``: ``.``, ``"``, ``<``, ``$``, ``*``): see
  :func:`is_punct`. "Words" are the other tokens;
* blank lines (paragraph breaks) always end a sentence, so headings and list
  items without a final full stop do not run into the next sentence;
* texts longer than ``max_chunk_chars`` are cut at paragraph, line or space
  boundaries before spaCy sees them, so a 50 MB single line streams in
  bounded memory.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from .errors import UsageError

Sentence = list[str]
"""One sentence: its tokens in order, punctuation included, whitespace excluded."""

DEFAULT_SEGMENTER = "spacy-sentencizer.v1"
MAX_CHUNK_CHARS = 100_000
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")


@lru_cache(maxsize=1 << 16)
def is_punct(token: str) -> bool:
    """True when every character of ``token`` is Unicode punctuation or a symbol (``P*``/``S*``)."""
    return bool(token) and all(unicodedata.category(ch)[0] in "PS" for ch in token)


def words_of(sentence: Sentence) -> list[str]:
    """The words (non-punctuation tokens) of a sentence."""
    return [token for token in sentence if not is_punct(token)]


def split_paragraphs(text: str, max_chunk_chars: int = MAX_CHUNK_CHARS) -> list[str]:
    """Split text at blank lines, then cut any piece longer than ``max_chunk_chars``.

    Long pieces are cut at the last newline, else the last space, before the
    limit (a hard cut only when a piece has no whitespace at all).
    """
    pieces: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        while len(paragraph) > max_chunk_chars:
            cut = paragraph.rfind("\n", 0, max_chunk_chars)
            if cut <= 0:
                cut = paragraph.rfind(" ", 0, max_chunk_chars)
            if cut <= 0:
                cut = max_chunk_chars
            pieces.append(paragraph[:cut])
            paragraph = paragraph[cut:].lstrip()
        if paragraph.strip():
            pieces.append(paragraph)
    return pieces


@dataclass
class Segmenter:
    """A named, versioned way to turn texts into sentences of tokens."""

    name: str
    settings: dict = field(default_factory=dict)
    _segment_pieces: Callable[[Iterable[str]], Iterator[list[Sentence]]] | None = None

    def segment(self, text: str) -> list[Sentence]:
        """Sentences of one text."""
        return next(self.pipe([text]))

    def pipe(self, texts: Iterable[str]) -> Iterator[list[Sentence]]:
        """Sentences of each text, in order; streams (bounded memory)."""
        max_chunk = int(self.settings.get("max_chunk_chars", MAX_CHUNK_CHARS))
        last_piece_flags: deque[bool] = deque()  # one flag per piece: ends its text?

        def pieces() -> Iterator[str]:
            for text in texts:
                parts = split_paragraphs(text, max_chunk) or [""]
                for index, part in enumerate(parts):
                    last_piece_flags.append(index == len(parts) - 1)
                    yield part

        current: list[Sentence] = []
        for piece_sentences in self._segment_pieces(pieces()):
            current.extend(piece_sentences)
            if last_piece_flags.popleft():
                yield current
                current = []

    def describe(self) -> dict:
        """What a manifest records about this segmenter."""
        return {"name": self.name, "settings": dict(sorted(self.settings.items()))}


_REGISTRY: dict[str, Callable[..., Segmenter]] = {}


def register(name: str):
    """Register a segmenter factory under a versioned name (``family.vN``)."""

    def decorator(factory: Callable[..., Segmenter]) -> Callable[..., Segmenter]:
        _REGISTRY[name] = factory
        return factory

    return decorator


def available_segmenters() -> list[str]:
    return sorted(_REGISTRY)


def get_segmenter(name: str = DEFAULT_SEGMENTER, **settings) -> Segmenter:
    """Look up a segmenter by its registered name, e.g. ``spacy-sentencizer.v1``."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UsageError(
            f"unknown segmenter {name!r}; choose one of: {', '.join(available_segmenters())}"
        ) from None
    return factory(**settings)


def segmenter_from_manifest(description: dict) -> Segmenter:
    """Rebuild the exact segmenter a bundle was built with (its manifest entry)."""
    return get_segmenter(description["name"], **description.get("settings", {}))


def _spacy_pieces(nlp, batch_size: int):
    from spacy.attrs import IDX, IS_SPACE, LENGTH, SENT_START

    def segment_pieces(pieces: Iterable[str]) -> Iterator[list[Sentence]]:
        for doc in nlp.pipe(pieces, batch_size=batch_size):
            # Reading token offsets as one array avoids creating a Token object per token.
            text = doc.text
            sentences: list[Sentence] = []
            sentence: Sentence = []
            for start, length, sent_start, space in doc.to_array(
                    [IDX, LENGTH, SENT_START, IS_SPACE]).tolist():
                if sent_start == 1 and sentence:
                    sentences.append(sentence)
                    sentence = []
                if not space:
                    sentence.append(text[start:start + length])
            if sentence:
                sentences.append(sentence)
            yield sentences

    return segment_pieces


@lru_cache(maxsize=8)
def _blank_sentencizer(lang: str):
    import spacy

    nlp = spacy.blank(lang)
    nlp.add_pipe("sentencizer")
    nlp.max_length = MAX_CHUNK_CHARS * 2
    return nlp


@register("spacy-sentencizer.v1")
def spacy_sentencizer(lang: str = "en", max_chunk_chars: int = MAX_CHUNK_CHARS) -> Segmenter:
    """``spacy.blank(lang)`` + the rule-based ``sentencizer`` (the default)."""
    try:
        nlp = _blank_sentencizer(lang)
    except (ImportError, OSError, KeyError) as exc:
        raise UsageError(f"spaCy has no blank pipeline for language {lang!r}: {exc}") from None
    return Segmenter(
        "spacy-sentencizer.v1",
        {"lang": lang, "max_chunk_chars": max_chunk_chars},
        _spacy_pieces(nlp, batch_size=256),
    )


@register("spacy-model.v1")
def spacy_model(model: str = "en_core_web_sm", max_chunk_chars: int = MAX_CHUNK_CHARS) -> Segmenter:
    """A full installed spaCy pipeline (its parser or senter decides sentences)."""
    import spacy

    try:
        nlp = spacy.load(model, exclude=["ner", "lemmatizer", "attribute_ruler"])
    except OSError:
        raise UsageError(
            f"spaCy pipeline {model!r} is not installed; install its package or use "
            f"--segmenter {DEFAULT_SEGMENTER}"
        ) from None
    nlp.max_length = max_chunk_chars * 2
    return Segmenter(
        "spacy-model.v1",
        {"model": model, "version": nlp.meta.get("version", ""), "max_chunk_chars": max_chunk_chars},
        _spacy_pieces(nlp, batch_size=64),
    )


_REGEX_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
_REGEX_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@register("regex.v1")
def regex_segmenter(max_chunk_chars: int = MAX_CHUNK_CHARS) -> Segmenter:
    """Fast rule-based segmenter: words are ``\\w+('\\w+)*``, sentences end at .!? + space."""

    def segment_pieces(pieces: Iterable[str]) -> Iterator[list[Sentence]]:
        for piece in pieces:
            sentences = [_REGEX_TOKEN.findall(s) for s in _REGEX_SENTENCE_END.split(piece)]
            yield [s for s in sentences if s]

    return Segmenter("regex.v1", {"max_chunk_chars": max_chunk_chars}, segment_pieces)
