"""fiction: Jane Austen's six novels (one document per chapter) plus Brown corpus fiction.

* Austen: Debian ``r-cran-janeaustenr`` ships the novels as an R lazy-load
  database of character vectors (one element per printed line). Decoded with
  :mod:`._rdata` (no R needed). Title pages, ``VOLUME``/``CHAPTER`` headings,
  ``THE END``/``FINIS`` and the editors' notes after them, ``[bracketed]``
  printers' notes, ``* * *`` separators and ``_italic_`` underscores are
  removed; wrapped lines are joined into paragraphs.
* Brown K-R (general fiction, mystery, science fiction, adventure, romance,
  humour; 1961 American prose), cleaned like the news recipe.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import Recipe, Source, register
from ._brown import SOURCE as BROWN_SOURCE
from ._brown import brown_documents
from ._obtain import debian_packages
from ._rdata import read_lazyload_db
from ._text import unwrap

AUSTEN_PACKAGE = "r-cran-janeaustenr"
AUSTEN_SOURCE = Source(
    name="Jane Austen's novels (Debian r-cran-janeaustenr 1.0.0, from Project Gutenberg)",
    install=f"apt-get download {AUSTEN_PACKAGE} && dpkg-deb -x",
    license="Public domain (texts); MIT (janeaustenr package)",
    attribution="Jane Austen (1775-1817), texts via Project Gutenberg; janeaustenr R package "
    "by Julia Silge",
    url_hint=f"Debian package {AUSTEN_PACKAGE}, usr/lib/R/site-library/janeaustenr/data/Rdata.*",
)

BROWN_CATEGORIES = ("fiction", "mystery", "science_fiction", "adventure", "romance", "humor")
NOVELS = (
    "emma", "mansfieldpark", "northangerabbey", "persuasion", "prideprejudice",
    "sensesensibility",
)

_CHAPTER = re.compile(r"^\s*chapter\s+([0-9]+|[ivxlc]+)\.?\s*$", re.IGNORECASE)
_VOLUME = re.compile(r"^\s*volume\s+([0-9]+|[ivxlc]+|one|two|three)\.?\s*$", re.IGNORECASE)
_BOOK_END = re.compile(r"^\s*(the end|finis|a note on the text)\.?\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(r"^[\s*]+$")
_BRACKET_NOTE = re.compile(r"\[[^\]]*\]")
_FOOTNOTE_LINE = re.compile(r"^\s*\*\S")


def split_austen_chapters(lines: Sequence[str | None]) -> list[str]:
    """One novel's printed lines -> clean chapters (title page and end matter dropped).

    Each chapter is plain text with one paragraph per line-joined block,
    paragraphs separated by a blank line.
    """
    chapters: list[list[str]] = []
    for raw in lines:
        line = raw or ""
        if _CHAPTER.match(line):
            chapters.append([])
            continue
        if _BOOK_END.match(line):
            break
        if not chapters or _VOLUME.match(line):
            continue  # title page, or a volume heading between chapters
        if _SEPARATOR.match(line) and line.strip() or _FOOTNOTE_LINE.match(line):
            line = ""
        chapters[-1].append(line)
    return [text for text in (clean_austen_chapter("\n".join(c)) for c in chapters) if text]


def clean_austen_chapter(text: str) -> str:
    """Remove printers' notes, italics underscores and footnote stars; join wrapped lines."""
    text = _BRACKET_NOTE.sub("", text)
    text = text.replace("_", "")
    text = re.sub(r"(?<=\S)\*", "", text)
    return unwrap(text, keep_list_items=False)


def obtain_austen(cache_dir: Path) -> Path:
    """Extract the Debian package into the cache; returns the folder with ``Rdata.rdx``."""
    root = debian_packages(cache_dir, [AUSTEN_PACKAGE], name=AUSTEN_PACKAGE)
    return root / "usr" / "lib" / "R" / "site-library" / "janeaustenr" / "data"


def austen_documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """(``austen/<novel>/chNNN``, chapter text) in novel and chapter order."""
    data = obtain_austen(cache_dir)
    novels = read_lazyload_db(data / "Rdata.rdx", data / "Rdata.rdb")
    for novel in NOVELS:
        for number, chapter in enumerate(split_austen_chapters(novels[novel].values), 1):
            yield f"austen/{novel}/ch{number:03d}", chapter


def documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """Austen chapters, then Brown fiction files (``brown/ck01`` ...), each sorted."""
    yield from austen_documents(cache_dir)
    yield from brown_documents(cache_dir, BROWN_CATEGORIES, prefix="brown/")


RECIPE = register(
    Recipe(
        domain="fiction",
        description="Novels and short fiction: Jane Austen's six novels by chapter, and 1961 "
        "American fiction (Brown corpus K-R: general, mystery, science fiction, adventure, "
        "romance, humour)",
        license="Public domain (Austen) + Brown Corpus terms (redistribution permitted)",
        sources=(AUSTEN_SOURCE, BROWN_SOURCE),
        approx_words=970_000,
        documents=documents,
        build_options={"max_ngrams": 20000, "min_doc_count": 2},
    )
)
