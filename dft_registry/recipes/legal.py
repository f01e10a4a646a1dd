"""legal: software licence texts from the ScanCode LicenseDB (``licensedcode-data``).

Each ``*.LICENSE`` file is YAML front matter between ``---`` lines followed by
the licence text. Kept: English (no ``language:`` key, or ``language: en``),
non-empty, not deprecated (deprecated entries often duplicate a current one).
The front matter is dropped, hard-wrapped lines are joined into paragraphs
(numbered clauses keep their own line, without the ``2.1.`` number), and
comment-box prefixes, markdown marks, rule lines, form blanks, URLs and e-mail
addresses are removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from . import Recipe, Source, register
from ._obtain import pip_package
from ._text import unwrap

PACKAGE = "licensedcode-data"
VERSION = "32.1.0"

SOURCE = Source(
    name=f"ScanCode LicenseDB ({PACKAGE} {VERSION})",
    install=f"pip install --no-deps --target CACHE {PACKAGE}=={VERSION}",
    license="CC-BY-4.0",
    attribution="ScanCode LicenseDB, nexB Inc. and others, CC-BY-4.0",
    url_hint=f"PyPI package {PACKAGE}, licensedcode/data/licenses/*.LICENSE",
)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)(.*)\Z", re.DOTALL)
_KEY_VALUE = re.compile(r"^([A-Za-z_][\w-]*):[ \t]*(.*?)[ \t]*$", re.MULTILINE)
# Comment-box and markdown line prefixes ("/*", " * ", "#", "##"), rule lines, form blanks.
_LINE_PREFIX = re.compile(r"^\s*(?:/\*+|\*+/|\*(?!\*)|#{1,6}(?=\s)|//)\s?")
# "1.", "2.1." and "iv." clause numbers at the start of a line: the segmenter would
# count each as a one-word sentence.
_CLAUSE_NUMBER = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2})*|[ivx]{1,5}|[IVX]{1,5})\.\s+(?=\S)", re.MULTILINE
)
_RULE_LINE = re.compile(r"^[\s=*_\-#~+|/\\.]+$")
_INLINE_RULE = re.compile(r"_{3,}|={3,}|\*{3,}|-{4,}|~{3,}")
_STRONG = re.compile(r"\*\*(\S(?:.*?\S)?)\*\*")
_URL_OR_EMAIL = re.compile(r"\S*(?:://|@)\S*|\bwww\.\S+")


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """``(top-level scalar keys, body)`` of a ``---``-delimited file; no front matter: ``({}, text)``.

    Only top-level ``key: value`` lines are read (list items and nested keys
    are ignored), which is all the filter needs; no YAML library required.
    """
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    front, body = match.groups()
    keys = {k: v.strip("'\"") for k, v in _KEY_VALUE.findall(front)}
    return keys, body


def clean_license(text: str) -> str | None:
    """Clean licence text from one ``*.LICENSE`` file, or None when it is to be skipped.

    Skipped: non-English (``language:`` other than ``en``), deprecated
    (``is_deprecated: yes``), and empty bodies.
    """
    keys, body = split_front_matter(text)
    if keys.get("language", "en").lower() not in ("en", "en-us", "en-gb"):
        return None
    if keys.get("is_deprecated", "no").lower() in ("yes", "true"):
        return None
    # Numbers are removed after unwrapping, which keeps each numbered clause on its own line.
    cleaned = _CLAUSE_NUMBER.sub("", unwrap(strip_markup(body)))
    return cleaned or None


def strip_markup(body: str) -> str:
    """Remove comment-box prefixes, markdown emphasis/headings, rule lines, form blanks,
    URLs and e-mail addresses; TeX-style quotes (two backticks ... two apostrophes) become ``"``.
    """
    lines = []
    for line in body.split("\n"):
        line = _LINE_PREFIX.sub("", line)
        if _RULE_LINE.match(line):
            line = ""
        line = _STRONG.sub(r"\1", line)
        line = _INLINE_RULE.sub(" ", line)
        line = _URL_OR_EMAIL.sub("", line)
        line = line.replace("``", '"').replace("''", '"')
        lines.append(re.sub(r"`(\w[^`']*)'", r"'\1'", line))
    return "\n".join(lines)


def obtain(cache_dir: Path) -> Path:
    """Install the package into the cache; returns the ``licenses/`` directory."""
    root = pip_package(cache_dir, f"{PACKAGE}=={VERSION}", name=f"{PACKAGE}-{VERSION}")
    return root / "licensedcode" / "data" / "licenses"


def documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """(licence key, clean text) for every kept licence, sorted by file name."""
    for path in sorted(obtain(cache_dir).glob("*.LICENSE")):
        text = clean_license(path.read_text(encoding="utf-8", errors="replace"))
        if text:
            yield path.stem, text


RECIPE = register(
    Recipe(
        domain="legal",
        description="Software licence texts (permissive, copyleft, proprietary EULAs, "
        "public licences) from the ScanCode LicenseDB; English, current entries only",
        license="CC-BY-4.0",
        sources=(SOURCE,),
        approx_words=2_150_000,
        documents=documents,
        build_options={"max_ngrams": 20000, "min_doc_count": 3},
    )
)
