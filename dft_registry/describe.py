"""Plain-data summaries of bundles for ``show``/``list`` (rendered by the CLI, or as JSON)."""

from __future__ import annotations

import numpy as np

from .bundle import Bundle


def plural(count: int, noun: str) -> str:
    """``1 domain``, ``3 domains``, ``12,000 documents`` (English nouns that take an s)."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def sentence_length_summary(bundle: Bundle) -> dict:
    """Mean, variance, median and 90th percentile of words per sentence."""
    table = bundle.table("sentence_lengths")
    lengths = table.column("length").to_numpy().astype(np.float64)
    counts = table.column("count").to_numpy().astype(np.float64)
    total = counts.sum()
    if total == 0:
        return {"sentences": 0}
    mean = float((lengths * counts).sum() / total)
    cumulative = np.cumsum(counts) / total
    return {
        "sentences": int(total),
        "mean": round(mean, 3),
        "variance": round(float(((lengths - mean) ** 2 * counts).sum() / total), 3),
        "median": int(lengths[np.searchsorted(cumulative, 0.5)]),
        "p90": int(lengths[np.searchsorted(cumulative, 0.9)]),
        "max": int(lengths.max()),
    }


def top_words(bundle: Bundle, limit: int = 15, con=None) -> list[dict]:
    """The most frequent words (punctuation excluded) with counts per million words."""
    words = bundle.manifest["totals"]["words"] or 1
    rows = (con or bundle.connect()).sql(
        "SELECT token, count, doc_count FROM unigrams WHERE NOT is_punct "
        f"ORDER BY count DESC, token LIMIT {int(limit)}").fetchall()
    return [{"token": t, "count": c, "doc_count": d, "per_million": round(c * 1e6 / words, 1)}
            for t, c, d in rows]


def top_ngrams(bundle: Bundle, n: int = 2, limit: int = 10, con=None) -> list[dict]:
    rows = (con or bundle.connect()).sql(
        f"SELECT ngram, count FROM ngrams WHERE n = {int(n)} ORDER BY count DESC, ngram "
        f"LIMIT {int(limit)}").fetchall()
    return [{"ngram": g, "count": c} for g, c in rows]


def top_openers(bundle: Bundle, limit: int = 10, con=None) -> list[dict]:
    rows = (con or bundle.connect()).sql(
        f"SELECT opener, count FROM openers ORDER BY count DESC, opener LIMIT {int(limit)}").fetchall()
    return [{"opener": o, "count": c} for o, c in rows]


def corpus_entropy(bundle: Bundle) -> dict:
    return {r["metric"]: round(r["value"], 4) for r in bundle.table("entropy").to_pylist()
            if r["window"] == 0}


def describe(bundle: Bundle, top: int = 15) -> dict:
    """Everything ``dft-stats show`` displays, as plain data."""
    manifest = bundle.manifest
    con = bundle.connect()  # one connection for every top-k query (each connect costs ~50 ms)
    return {
        "ref": bundle.ref,
        "domain": bundle.domain,
        "version": bundle.version,
        "content_hash": bundle.content_hash,
        "created_at": manifest.get("created_at"),
        "description": manifest.get("description", ""),
        "license": manifest.get("license", ""),
        "segmenter": manifest["segmenter"],
        "totals": manifest["totals"],
        "sentence_length": sentence_length_summary(bundle),
        "entropy_bits": corpus_entropy(bundle),
        "top_words": top_words(bundle, top, con),
        "top_bigrams": top_ngrams(bundle, 2, max(5, top // 2), con),
        "top_trigrams": top_ngrams(bundle, 3, max(5, top // 2), con),
        "top_openers": top_openers(bundle, max(5, top // 2), con),
        "sources": manifest.get("sources", []),
        "skipped": manifest.get("skipped", []),
        "size_bytes": sum(r["bytes"] for r in manifest["files"].values()),
    }
