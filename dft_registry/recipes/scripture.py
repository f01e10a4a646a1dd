"""scripture: the King James Bible (Debian ``bible-kjv`` + ``bible-kjv-text``), one document per book.

``bible.data`` is the Bible Retrieval System's own compressed format, so the
packaged ``bible`` program is run from the extracted package (no install, no
root): ``bible -f -p <extracted>/usr/lib "Gen1:1-Rev22:21"`` prints one verse
per line, ``Ge1:1 In the beginning ...``. The verse reference is stripped and
verses are grouped by book; each chapter becomes one paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import RecipeError
from . import Recipe, Source, register
from ._obtain import debian_packages, run_tool

PACKAGES = ("bible-kjv", "bible-kjv-text")
WHOLE_BIBLE = "Gen1:1-Rev22:21"

SOURCE = Source(
    name="King James Version (Debian bible-kjv / bible-kjv-text 4.38)",
    install="apt-get download bible-kjv bible-kjv-text && dpkg-deb -x",
    license="Public domain text (Crown letters patent in the UK); GPL-2+ retrieval tooling",
    attribution="The Holy Bible, Authorized (King James) Version, 1611/1769; Bible Retrieval "
    "System by Chip Chapin (Debian bible-kjv)",
    url_hint="Debian packages bible-kjv and bible-kjv-text, usr/lib/bible.data",
)

_VERSE = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+)\s+(.*\S)\s*$")


def group_books(verse_lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``Ge1:1 text`` lines -> (book abbreviation, text), books in canonical order.

    Within a book, verses of one chapter are joined by spaces and chapters are
    separated by a blank line. Lines that are not verses are ignored.
    """
    book, chapter, chapters = None, None, []
    for line in verse_lines:
        match = _VERSE.match(line)
        if not match:
            continue
        name, number, _verse, text = match.groups()
        if name != book:
            if book is not None:
                yield book, "\n\n".join(" ".join(c) for c in chapters)
            book, chapter, chapters = name, None, []
        if number != chapter:
            chapter = number
            chapters.append([])
        chapters[-1].append(text)
    if book is not None:
        yield book, "\n\n".join(" ".join(c) for c in chapters)


def obtain(cache_dir: Path) -> Path:
    """Extract both packages into the cache; returns the extraction root."""
    return debian_packages(cache_dir, list(PACKAGES), name="bible-kjv")


def verse_lines(root: Path) -> list[str]:
    """Run the extracted ``bible`` program over the whole Bible; one verse per line."""
    binary, data_dir = root / "usr" / "bin" / "bible", root / "usr" / "lib"
    if not binary.is_file() or not (data_dir / "bible.data").is_file():
        raise RecipeError(f"bible-kjv extraction at {root} lacks usr/bin/bible or bible.data")
    proc = run_tool(
        [binary, "-f", "-p", data_dir, WHOLE_BIBLE],
        what="running the extracted bible-kjv 'bible' program (needs libreadline8)",
        timeout=300,
    )
    return proc.stdout.decode("utf-8", "replace").splitlines()


def documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """(``NN-Book``, text) for the 66 books; the number keeps canonical order when sorted."""
    books = list(group_books(verse_lines(obtain(cache_dir))))
    if len(books) != 66:
        raise RecipeError(f"expected 66 books from the bible program, got {len(books)}")
    for number, (book, text) in enumerate(books, 1):
        yield f"{number:02d}-{book}", text


RECIPE = register(
    Recipe(
        domain="scripture",
        description="The King James Bible, one document per book (66 books, 31,102 verses)",
        license="Public domain",
        sources=(SOURCE,),
        approx_words=790_000,
        documents=documents,
        build_options={"max_ngrams": 20000, "min_doc_count": 2},
    )
)
