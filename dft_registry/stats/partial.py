"""The mergeable per-worker accumulator: counts that spill to Parquet past a memory limit.

A map task feeds documents (as sentences) into :class:`PartialCounts`; when the
estimated size of its tables passes ``memory_limit`` bytes, it writes them to
Parquet files and starts again, so a worker's memory stays bounded however
large the corpus. Spills happen only between documents, so per-document
counts (``doc_count``) stay exact when partial files are summed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..segment import Sentence
from .counts import ngram_text, ngrams_of, sentence_openers, sentence_word_counts
from .windows import FEATURES, WindowSampler

BYTES_PER_ENTRY = 180  # measured order of magnitude for a Counter entry with a short str key

PARTIAL_SCHEMAS = {
    "unigrams": pa.schema([("token", pa.string()), ("count", pa.int64()), ("doc_count", pa.int64())]),
    "ngrams": pa.schema([("n", pa.int8()), ("ngram", pa.string()), ("count", pa.int64()),
                         ("doc_count", pa.int64())]),
    "sentence_lengths": pa.schema([("length", pa.int32()), ("count", pa.int64())]),
    "doc_lengths": pa.schema([("words", pa.int64()), ("count", pa.int64())]),
    "openers": pa.schema([("opener", pa.string()), ("count", pa.int64()), ("doc_count", pa.int64())]),
    "windows": pa.schema([("window", pa.int32()), ("key", pa.int64()), ("doc", pa.int64())]
                         + [(name, pa.float64()) for name in FEATURES]),
}


@dataclass
class Totals:
    """Corpus totals: documents, sentences (with >= 1 word), words, tokens, UTF-8 bytes."""

    documents: int = 0
    sentences: int = 0
    words: int = 0
    tokens: int = 0
    bytes: int = 0

    def add(self, other: Totals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class DocumentState:
    """What is known about the document being counted: the keys it used so far."""

    key: str
    tokens: set = field(default_factory=set)
    ngrams: set = field(default_factory=set)
    openers: set = field(default_factory=set)
    words: int = 0
    parts: int = 0


@dataclass
class PartialCounts:
    """Counts of a stream of documents; ``spill()`` writes them to ``spill_dir``."""

    spill_dir: Path | None = None
    memory_limit: int = 1 << 30
    window_samples: int = 2000
    unigrams: Counter = field(default_factory=Counter)
    unigram_docs: Counter = field(default_factory=Counter)
    ngrams: Counter = field(default_factory=Counter)
    ngram_docs: Counter = field(default_factory=Counter)
    sentence_lengths: Counter = field(default_factory=Counter)
    doc_lengths: Counter = field(default_factory=Counter)
    openers: Counter = field(default_factory=Counter)
    opener_docs: Counter = field(default_factory=Counter)
    totals: Totals = field(default_factory=Totals)
    spilled: list[dict[str, str]] = field(default_factory=list)
    windows: WindowSampler = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.windows is None:
            self.windows = WindowSampler(self.window_samples)

    def add_document(self, key: str, parts: Iterable[list[Sentence]], n_bytes: int) -> None:
        """Count one document given as parts (lists of sentences); spills when over the limit."""
        document = self.start_document(key)
        for sentences in parts:
            self.add_part(document, sentences)
        self.finish_document(document, n_bytes)

    def start_document(self, key: str) -> DocumentState:
        return DocumentState(key)

    def add_part(self, document: DocumentState, sentences: list[Sentence]) -> None:
        """Count one part (a list of sentences) of an open document."""
        # Counter.update and set.update from plain iterables run in C; keep them that way.
        tokens = list(chain.from_iterable(sentences))
        self.unigrams.update(tokens)
        document.tokens.update(tokens)
        grams = ngrams_of(sentences)
        self.ngrams.update(grams)
        document.ngrams.update(grams)
        lengths = sentence_word_counts(sentences)
        self.sentence_lengths.update(lengths)
        openers = sentence_openers(sentences)
        self.openers.update(openers)
        document.openers.update(openers)
        document.words += sum(lengths)
        self.totals.tokens += len(tokens)
        self.totals.sentences += len(lengths)
        self.windows.add_document(document.key, sentences, part=document.parts)
        document.parts += 1

    def finish_document(self, document: DocumentState, n_bytes: int) -> None:
        """Close a document: per-document counts, totals, and a spill if over the limit."""
        self.unigram_docs.update(document.tokens)
        self.ngram_docs.update(document.ngrams)
        self.opener_docs.update(document.openers)
        self.doc_lengths[document.words] += 1
        self.totals.words += document.words
        self.totals.documents += 1
        self.totals.bytes += n_bytes
        if self.spill_dir is not None and self.estimated_bytes() > self.memory_limit:
            self.spill()

    def estimated_bytes(self) -> int:
        entries = len(self.unigrams) + len(self.ngrams) + len(self.openers)
        return 2 * entries * BYTES_PER_ENTRY  # counts + doc counts

    def tables(self) -> dict[str, pa.Table]:
        """The current counts as Arrow tables with :data:`PARTIAL_SCHEMAS` (unsorted)."""
        ngram_keys = list(self.ngrams)
        ngram_texts = [ngram_text(k) for k in ngram_keys]
        window_rows = self.windows.rows()
        columns = {
            "unigrams": [list(self.unigrams), list(self.unigrams.values()),
                         [self.unigram_docs[t] for t in self.unigrams]],
            "ngrams": [[len(k) for k in ngram_keys], ngram_texts,
                       [self.ngrams[k] for k in ngram_keys], [self.ngram_docs[k] for k in ngram_keys]],
            "sentence_lengths": [list(self.sentence_lengths), list(self.sentence_lengths.values())],
            "doc_lengths": [list(self.doc_lengths), list(self.doc_lengths.values())],
            "openers": [list(self.openers), list(self.openers.values()),
                        [self.opener_docs[o] for o in self.openers]],
            "windows": [[r[0] for r in window_rows], [r[1] for r in window_rows],
                        [r[2] for r in window_rows]]
            + [[r[3][i] for r in window_rows] for i in range(len(FEATURES))],
        }
        return {
            name: pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, schema)],
                                       schema=schema)
            for (name, cols), schema in ((item, PARTIAL_SCHEMAS[item[0]]) for item in columns.items())
        }

    def spill(self, include_windows: bool = False) -> dict[str, str]:
        """Write the counts (not the window sample, unless asked) to Parquet and reset them."""
        assert self.spill_dir is not None
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        index = len(self.spilled)
        files: dict[str, str] = {}
        for name, table in self.tables().items():
            if name == "windows" and not include_windows:
                continue
            if table.num_rows == 0:
                continue
            path = self.spill_dir / f"{name}-{index:05d}.parquet"
            pq.write_table(table, path, compression="lz4")
            files[name] = str(path)
        self.spilled.append(files)
        for counter in (self.unigrams, self.unigram_docs, self.ngrams, self.ngram_docs,
                        self.sentence_lengths, self.doc_lengths, self.openers, self.opener_docs):
            counter.clear()
        return files

    def merge(self, other: PartialCounts) -> None:
        """Add another accumulator's in-memory counts to this one."""
        for mine, theirs in ((self.unigrams, other.unigrams), (self.unigram_docs, other.unigram_docs),
                             (self.ngrams, other.ngrams), (self.ngram_docs, other.ngram_docs),
                             (self.sentence_lengths, other.sentence_lengths),
                             (self.doc_lengths, other.doc_lengths), (self.openers, other.openers),
                             (self.opener_docs, other.opener_docs)):
            mine.update(theirs)
        self.totals.add(other.totals)
        self.windows.merge(other.windows)
