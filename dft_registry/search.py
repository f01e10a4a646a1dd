"""Search the catalog: names, descriptions and sources, and which bundle uses a word most.

``search(text)`` answers two questions at once:

- *catalog matches*: domains whose name, description, license or sources
  contain the text (or whose name is close to it);
- *usage*: for a word (or a phrase of 2-4 words), its frequency per million
  words in the latest bundle of every domain, highest first, read with one
  DuckDB query over all the bundles' ``unigrams`` (or ``ngrams``) files.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import duckdb

from .catalog import latest_entries, read_catalog
from .errors import UsageError
from .registry import registry_root

MAX_PHRASE_WORDS = 4


def catalog_matches(entries: list[dict], text: str) -> list[dict[str, Any]]:
    """Entries whose domain, description, license or sources mention ``text`` (case-insensitive).

    Each hit names the fields that matched. When nothing contains the text,
    up to three domain names close to it (a typo) are returned as
    ``domain (close)`` matches.
    """
    needle = text.lower()
    hits = []
    for entry in entries:
        fields = {
            "domain": entry["domain"],
            "description": entry.get("description", ""),
            "license": entry.get("license", ""),
            "sources": " ".join(" ".join(str(v) for v in s.values())
                                for s in entry.get("sources", [])),
        }
        matched = [name for name, value in fields.items() if needle in str(value).lower()]
        if matched:
            hits.append(_hit(entry, matched, 3.0 if needle == entry["domain"] else float(len(matched))))
    if not hits:
        by_domain = {e["domain"]: e for e in entries}
        for domain in difflib.get_close_matches(needle, list(by_domain), n=3, cutoff=0.75):
            hits.append(_hit(by_domain[domain], ["domain (close)"], 0.5))
    return sorted(hits, key=lambda h: (-h["score"], h["domain"]))


def _hit(entry: dict, matched: list[str], score: float) -> dict[str, Any]:
    return {"domain": entry["domain"], "version": entry["version"], "matched": matched, "score": score,
            "description": entry.get("description", ""), "license": entry.get("license", "")}


def _quote(path: Path) -> str:
    return "'" + path.as_posix().replace("'", "''") + "'"


def word_usage(root: Path, entries: list[dict], text: str, case_sensitive: bool = False
               ) -> list[dict[str, Any]]:
    """Per-million-word frequency of a word or 2-4 word phrase in each bundle, highest first.

    A single word is looked up in ``unigrams``; a phrase in ``ngrams`` of the
    same order (only n-grams above the bundle's document threshold are kept,
    so rare phrases read as 0). Unless ``case_sensitive``, the counts of the
    text as typed, lowercased, UPPERCASED, Capitalized and Title Cased are
    added up. Bundles that never use it are left out.
    """
    words = text.split()
    if not words or len(words) > MAX_PHRASE_WORDS or not entries:
        return []
    by_dir = {(Path(root) / e["path"]).resolve().as_posix(): e for e in entries}
    table = "unigrams" if len(words) == 1 else "ngrams"
    column = "token" if len(words) == 1 else "ngram"
    files = ", ".join(_quote(Path(d) / f"{table}.parquet") for d in by_dir)
    phrase = " ".join(words)
    # Equality on a few case variants is much cheaper than lower() on every row. Document counts
    # of variants overlap (a document may hold "shall" and "Shall"), so the largest is reported:
    # a lower bound on the documents that use the word in any of its forms.
    variants = [phrase] if case_sensitive else sorted(
        {phrase, phrase.lower(), phrase.upper(), phrase.capitalize(), phrase.title()})
    order = "" if len(words) == 1 else f" AND n = {len(words)}"
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT parse_dirpath(filename) AS dir, sum(count) AS count, max(doc_count) AS docs "
            f"FROM read_parquet([{files}], filename = true) WHERE {column} IN "
            f"({', '.join('?' * len(variants))}){order} GROUP BY dir", variants).fetchall()
    finally:
        con.close()
    results = []
    for directory, count, docs in rows:
        entry = by_dir.get(directory)
        if entry is None:
            continue
        total = entry["totals"].get("words") or 1
        results.append({"domain": entry["domain"], "version": entry["version"], "count": int(count),
                        "doc_count": int(docs), "per_million": round(count * 1e6 / total, 2)})
    return sorted(results, key=lambda r: (-r["per_million"], r["domain"]))


def search(text: str, registry: str | Path | None = None, limit: int = 20) -> dict[str, Any]:
    """Catalog matches and word usage for ``text`` across the latest bundle of every domain."""
    text = " ".join(str(text).split())
    if not text:
        raise UsageError("nothing to search for: give a word, a phrase or part of a domain name")
    root = registry_root(registry, must_exist=True)
    entries = latest_entries(read_catalog(root))
    return {"query": text,
            "catalog": catalog_matches(entries, text)[:limit],
            "usage": word_usage(root, entries, text)[:limit]}
