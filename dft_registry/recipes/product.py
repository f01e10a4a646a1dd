"""product: Debian package descriptions (``*_i18n_Translation-en``), one document per package.

Obtained with ``apt-get update -o Acquire::Languages=en`` run against a
*private* lists directory in the cache (see :func:`._obtain.debian_translations`),
so the system's apt state is untouched. Records are deb822 paragraphs:
``Package``, ``Description-md5``, ``Description-en: <short>`` and
continuation lines, where `` .`` is a paragraph break and lines starting with
two spaces are verbatim.

Cleanup: one record per description (``Description-md5``) and per package;
paragraphs that already appeared in an earlier package are dropped, also when
only the package's own name differs (:func:`template_key`; the Haskell,
Node.js, Qt, Rust-crate ... boilerplate repeats ~1,000 times); URLs removed;
bullet items (``*``, ``-``, ``+``, ``o``) become their own lines; markdown
``**strong**`` and ```code``` marks are removed; ``>>>``/``$`` example lines and
ASCII-art or table lines (under 60% letters) are dropped. A document
is the short description followed by the remaining long-description
paragraphs; packages with nothing left after deduplication are skipped.

The archive changes with every point release, so the text is not pinned: the
build's input fingerprint records which snapshot was used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import Recipe, Source, register
from ._obtain import debian_translations
from ._text import collapse_spaces, remove_urls

SOURCE = Source(
    name="Debian package descriptions, English (bookworm main, i18n Translation-en)",
    install="apt-get update -o Acquire::Languages=en (private lists dir in the cache)",
    license="Each package's DFSG-free licence (descriptions are part of the packages' "
    "debian/control)",
    attribution="Debian package maintainers and the Debian Description Translation Project "
    "(DDTP)",
    url_hint="apt lists: *_main_i18n_Translation-en",
)

_MARKDOWN = re.compile(r"\*\*([^*\n]+)\*\*|`([^`\n]+)`")
_BULLET = re.compile(r"^(?:[*+\-o\u2022]|\d{1,2}[.)])\s+")


def parse_translation(text: str) -> Iterator[dict[str, str]]:
    """deb822 records -> dicts with ``package``, ``md5``, ``short`` and ``long`` (raw lines)."""
    for record in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        fields: dict[str, list[str]] = {}
        current = None
        for line in record.split("\n"):
            if line.startswith((" ", "\t")) and current:
                fields[current].append(line)
            elif ":" in line:
                current, _, value = line.partition(":")
                fields[current] = [value.strip()]
        if "Package" in fields and "Description-en" in fields:
            short, *long = fields["Description-en"]
            yield {
                "package": fields["Package"][0],
                "md5": fields.get("Description-md5", [""])[0],
                "short": short,
                "long": "\n".join(long),
            }


def long_paragraphs(long: str) -> list[str]:
    """Continuation lines of a long description -> clean paragraphs.

    `` .`` separates paragraphs; wrapped lines are joined; verbatim lines
    (two leading spaces) and bullet items stay on their own line, bullet
    markers removed; URLs are dropped.
    """
    paragraphs: list[list[str]] = [[]]
    for raw in long.split("\n"):
        line = raw[1:] if raw.startswith(" ") else raw.lstrip("\t")
        if line.strip() == ".":
            paragraphs.append([])
            continue
        text = collapse_spaces(remove_urls(line))
        if not text or text.startswith((">>>", "$ ", "# ")) or not _is_prose(text):
            continue
        text = _MARKDOWN.sub(lambda m: m.group(1) or m.group(2), text)
        lines = paragraphs[-1]
        bullet = _BULLET.match(text)
        if bullet or line.startswith(" ") or not lines:
            lines.append(_BULLET.sub("", text, count=1))
        else:
            lines[-1] = f"{lines[-1]} {text}"
    cleaned = ("\n".join(p).strip() for p in paragraphs)
    return [p for p in cleaned if p and re.search(r"[A-Za-z]{2}", p)]


def _is_prose(line: str) -> bool:
    """False for ASCII art, tables and code (lines of 8+ characters under 60% letters/spaces)."""
    if not re.search(r"\w", line):
        return False
    if len(line) < 8:
        return True
    return sum(ch.isalpha() or ch.isspace() for ch in line) / len(line) >= 0.6


def template_key(paragraph: str, package: str) -> str:
    """A paragraph with its package-specific parts masked, for boilerplate deduplication.

    Words that are parts of the package name, quoted strings and tokens with
    digits, ``_`` or ``:`` become ``X``, so "the source for the Rust foo
    crate" and "... the Rust bar crate" share one key.
    """
    name_parts = {part for part in re.split(r"[-+.]", package.lower()) if part}
    masked = re.sub(r'"[^"]*"', "X", paragraph.lower())
    words = (
        "X" if word.strip(".,;:()") in name_parts or re.search(r"[\d_:]", word) else word
        for word in masked.split()
    )
    return " ".join(words)


def clean_descriptions(records: Iterable[dict[str, str]]) -> Iterator[tuple[str, str]]:
    """Records -> (package, text), deduplicated by description, package and paragraph.

    Records are taken in sorted (package, md5) order so the result does not
    depend on file order; a paragraph is kept only the first time it, or its
    :func:`template_key`, is seen.
    """
    seen_md5: set[str] = set()
    seen_package: set[str] = set()
    seen_paragraphs: set[str] = set()
    for record in sorted(records, key=lambda r: (r["package"], r["md5"])):
        if record["package"] in seen_package or (record["md5"] and record["md5"] in seen_md5):
            continue
        seen_package.add(record["package"])
        seen_md5.add(record["md5"])
        kept = []
        for paragraph in long_paragraphs(record["long"]):
            keys = (" ".join(paragraph.lower().split()), template_key(paragraph, record["package"]))
            if not any(key in seen_paragraphs for key in keys):
                kept.append(paragraph)
            seen_paragraphs.update(keys)
        if kept:
            short = collapse_spaces(remove_urls(record["short"]))
            short = _MARKDOWN.sub(lambda m: m.group(1) or m.group(2), short)
            yield record["package"], "\n\n".join([short, *kept] if short else kept)


def obtain(cache_dir: Path) -> list[Path]:
    """Fetch the Translation-en indexes into the cache; returns their paths, sorted."""
    return sorted(debian_translations(cache_dir).glob("*_Translation-en"))


def documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """(package name, description) for every package with a non-boilerplate description."""
    records = []
    for path in obtain(cache_dir):
        records.extend(parse_translation(path.read_text(encoding="utf-8", errors="replace")))
    yield from clean_descriptions(records)


RECIPE = register(
    Recipe(
        domain="product",
        description="Product descriptions: Debian package descriptions (what the software "
        "does, features, contents), boilerplate paragraphs deduplicated",
        license="Mixed DFSG-free licences of the Debian packages",
        sources=(SOURCE,),
        approx_words=2_500_000,
        documents=documents,
        build_options={"max_ngrams": 20000, "min_doc_count": 3},
    )
)
