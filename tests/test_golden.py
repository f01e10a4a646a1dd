"""Golden test: every number of every table of a bundle built from tests/data/golden.

Expected values come from an independent implementation below (spaCy called
directly, counts with plain Counters) and from a few hand-checked facts.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from itertools import chain, pairwise

import pytest
import spacy

import dft_registry
from dft_registry.stats.windows import FEATURES, WINDOW_SIZES

PUNCT_RE = re.compile(r"^[\W_]+$")


def independent_segment(text: str) -> list[list[str]]:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    sentences = []
    for paragraph in re.split(r"\n\s*\n", text):
        if paragraph.strip():
            for sent in nlp(paragraph).sents:
                tokens = [t.text for t in sent if not t.is_space]
                if tokens:
                    sentences.append(tokens)
    return sentences


def is_punct(token: str) -> bool:
    import unicodedata

    return all(unicodedata.category(c)[0] in "PS" for c in token)


@pytest.fixture(scope="module")
def documents(golden_corpus):
    docs = {}
    for path in sorted(golden_corpus.iterdir()):
        if path.suffix in (".txt", ".md"):
            docs[path.name] = path.read_text()
        elif path.suffix == ".jsonl":
            for i, line in enumerate(path.read_text().splitlines(), start=1):
                docs[f"{path.name}:{i}"] = json.loads(line)["text"]
    return {key: independent_segment(text) for key, text in docs.items()}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, golden_corpus):
    root = tmp_path_factory.mktemp("golden")
    dft_registry.build("golden", golden_corpus, registry=root, workers=1, min_doc_count=2)
    return dft_registry.load("golden", registry=root)


def rows(table, *columns):
    return [tuple(r[c] for c in columns) for r in table.to_pylist()]


def test_totals_match_an_independent_count(bundle, documents):
    sentences_of_all = list(chain.from_iterable(documents.values()))
    words = sum(1 for s in sentences_of_all for t in s if not is_punct(t))
    tokens = sum(len(s) for s in sentences_of_all)
    sentences = sum(1 for s in sentences_of_all if any(not is_punct(t) for t in s))
    totals = bundle.manifest["totals"]
    assert totals["documents"] == 5
    assert (totals["words"], totals["tokens"], totals["sentences"]) == (words, tokens, sentences)


def test_hand_checked_facts(bundle):
    con = bundle.connect()
    # "of the people, by the people, for the people": one document, so below the n-gram
    # threshold, but all three are in the unigram counts (case preserved).
    assert con.sql("SELECT count, doc_count FROM unigrams WHERE token = 'people'").fetchall() == [(3, 1)]
    assert con.sql("SELECT count FROM ngrams WHERE ngram = 'the people'").fetchall() == []
    # "We the People of the United States" / "by the People of the several States"
    assert con.sql("SELECT count, doc_count FROM ngrams WHERE ngram = 'the People of the'").fetchall() == [(2, 2)]
    # "My dear Mr. Bennet", "Mr. Bennet replied", "Mr. Bennet made no answer"
    assert con.sql("SELECT count FROM unigrams WHERE token = 'Bennet'").fetchall() == [(3,)]
    assert con.sql("SELECT is_punct FROM unigrams WHERE token = '--'").fetchall() == [(True,)]
    # The Bliss copy of the Gettysburg Address is famously 272 words ("battle-field" = 2 words).
    lengths = dict(rows(bundle.table("doc_lengths"), "words", "count"))
    assert lengths.get(272) == 1


def test_unigrams_match_an_independent_count(bundle, documents):
    counts, docs = Counter(), Counter()
    for sentences in documents.values():
        tokens = [t for s in sentences for t in s]
        counts.update(tokens)
        docs.update(set(tokens))
    expected = sorted(((t, c, docs[t], is_punct(t)) for t, c in counts.items()),
                      key=lambda r: (-r[1], r[0]))
    assert rows(bundle.table("unigrams"), "token", "count", "doc_count", "is_punct") == expected


def test_ngrams_are_thresholded_by_document_count(bundle, documents):
    counts, docs = Counter(), Counter()
    for sentences in documents.values():
        seen = set()
        for s in sentences:
            for n in (2, 3, 4):
                for i in range(len(s) - n + 1):
                    key = (n, " ".join(s[i:i + n]))
                    counts[key] += 1
                    seen.add(key)
        docs.update(seen)
    expected = sorted(((n, g, c, docs[(n, g)]) for (n, g), c in counts.items() if docs[(n, g)] >= 2),
                      key=lambda r: (r[0], -r[2], r[1]))
    assert rows(bundle.table("ngrams"), "n", "ngram", "count", "doc_count") == expected
    totals = bundle.manifest["ngram_totals"]
    for n in (2, 3, 4):
        assert totals[str(n)]["total"] == sum(c for (k, _), c in counts.items() if k == n)
        assert totals[str(n)]["distinct"] == sum(1 for (k, _) in counts if k == n)


def test_sentence_and_document_lengths(bundle, documents):
    sentence_lengths, doc_lengths = Counter(), Counter()
    for sentences in documents.values():
        lengths = [sum(not is_punct(t) for t in s) for s in sentences]
        sentence_lengths.update(x for x in lengths if x)
        doc_lengths[sum(lengths)] += 1
    assert rows(bundle.table("sentence_lengths"), "length", "count") == sorted(sentence_lengths.items())
    assert rows(bundle.table("doc_lengths"), "words", "count") == sorted(doc_lengths.items())


def test_openers_are_first_two_tokens_seen_in_two_documents(bundle, documents):
    counts, docs = Counter(), Counter()
    for sentences in documents.values():
        openers = [" ".join(s[:2]) for s in sentences if any(not is_punct(t) for t in s)]
        counts.update(openers)
        docs.update(set(openers))
    expected = sorted(((o, c) for o, c in counts.items() if docs[o] >= 2), key=lambda r: (-r[1], r[0]))
    assert rows(bundle.table("openers"), "opener", "count") == expected
    assert ("We hold", 1) not in expected  # one document only: below the threshold


def test_every_full_window_is_sampled_with_independent_features(bundle, documents):
    windows = bundle.table("windows")
    per_size = Counter(windows.column("window").to_pylist())
    for size in WINDOW_SIZES:
        expected = sum(
            sum(not is_punct(t) for s in sentences for t in s) // size for sentences in documents.values()
        )
        assert per_size.get(size, 0) == expected
    # Independent features of the first 32 words of the Gettysburg Address.
    first = [t for s in documents["gettysburg.txt"] for t in s]
    words = [t for t in first if not is_punct(t)][:32]
    expected_ttr = len(set(words)) / 32
    lowered = Counter(w.lower() for w in words)
    expected_entropy = -sum(c / 32 * math.log2(c / 32) for c in lowered.values())
    candidates = [r for r in windows.to_pylist() if r["window"] == 32]
    match = [r for r in candidates if abs(r["ttr"] - expected_ttr) < 1e-12
             and abs(r["entropy"] - expected_entropy) < 1e-12
             and r["word_length_mean"] == pytest.approx(sum(map(len, words)) / 32)]
    assert match, "the first Gettysburg window is missing or its features differ"
    assert list(windows.column_names) == ["window", "doc", *FEATURES]


def test_entropy_profile(bundle, documents):
    counts = Counter(t for s in chain.from_iterable(documents.values()) for t in s if not is_punct(t))
    total = sum(counts.values())
    expected = -sum(c / total * math.log2(c / total) for c in counts.values())
    profile = {(r["metric"], r["window"]): r["value"] for r in bundle.table("entropy").to_pylist()}
    assert profile[("unigram_entropy", 0)] == pytest.approx(expected, rel=1e-12)
    bigrams, contexts = Counter(), Counter()
    for s in chain.from_iterable(documents.values()):
        for a, b in pairwise(s):
            bigrams[(a, b)] += 1
            contexts[a] += 1
    n = sum(bigrams.values())
    conditional = -sum(c / n * math.log2(c / contexts[a]) for (a, _), c in bigrams.items())
    assert profile[("bigram_conditional_entropy", 0)] == pytest.approx(conditional, rel=1e-12)
    assert profile[("lexical_entropy_mean", 32)] > 4.0  # 32 mostly-distinct words: close to 5 bits


def test_manifest_records_hashes_segmenter_and_settings(bundle):
    from dft_registry.bundle import content_hash, sha256_file

    m = bundle.manifest
    assert m["format"] == "dft-stats-bundle" and m["format_version"] == 1
    assert m["segmenter"]["name"] == "spacy-sentencizer.v1"
    assert m["settings"]["min_doc_count"] == 2
    for name, record in m["files"].items():
        assert sha256_file(bundle.path / name) == record["sha256"]
    assert m["content_hash"] == content_hash({n: r["sha256"] for n, r in m["files"].items()})
