"""Small text-cleanup helpers shared by several recipes (pure functions, no I/O)."""

from __future__ import annotations

import re

_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
# A line that starts a list item keeps its own line when wrapped lines are joined.
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,3}(?:\.\d{1,3})*[.)]|[ivx]{1,5}\.|[IVX]{1,5}\.|\(?[a-zA-Z0-9]{1,4}\)|[-*\u2022])\s+")
_URL = re.compile(r"(?:https?|ftp)://\S+|\bwww\.[\w.-]+\.\w+\S*", re.IGNORECASE)


def paragraphs(text: str) -> list[str]:
    """Blocks of ``text`` separated by blank lines, stripped, empty ones dropped."""
    return [block.strip("\n") for block in _BLANK_LINES.split(text) if block.strip()]


def unwrap(text: str, *, keep_list_items: bool = True) -> str:
    """Join hard-wrapped lines into one line per paragraph; paragraphs stay blank-line separated.

    With ``keep_list_items`` a line that starts like a list item (``1.``, ``(a)``,
    ``-``) begins a new line instead of being joined to the previous one.
    """
    out = []
    for block in paragraphs(text):
        lines: list[str] = []
        for raw in block.split("\n"):
            line = _SPACES.sub(" ", raw).strip()
            if not line:
                continue
            if lines and not (keep_list_items and _LIST_ITEM.match(line)):
                lines[-1] = _join_wrapped(lines[-1], line)
            else:
                lines.append(line)
        if lines:
            out.append("\n".join(lines))
    return "\n\n".join(out)


def _join_wrapped(left: str, right: str) -> str:
    # A word hyphenated across the line break ("distri-\nbution") is rejoined.
    if left.endswith("-") and len(left) > 1 and left[-2].isalpha() and right[:1].islower():
        return left[:-1] + right
    return f"{left} {right}"


def collapse_spaces(text: str) -> str:
    """Runs of spaces/tabs become one space; lines are stripped; 3+ newlines become 2."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def remove_urls(text: str) -> str:
    """Drop http(s)/ftp URLs and bare ``www.`` host names."""
    return _URL.sub("", text)


def word_count(text: str) -> int:
    """Whitespace-separated tokens (the unit DATA.md sizes are given in)."""
    return len(text.split())
