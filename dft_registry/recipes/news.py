"""news: Brown corpus categories A (press: reportage) and B (press: editorial), 1961 US press.

About 143k words in 71 documents: small, so the n-gram thresholds are modest.
No larger openly licensed news corpus installs offline (see DATA.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from . import Recipe, register
from ._brown import DERIVED_LICENSE, SOURCE, brown_documents

CATEGORIES = ("news", "editorial")


def documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """(Brown file id, clean text) for the press reportage and editorial files, sorted."""
    yield from brown_documents(cache_dir, CATEGORIES)


RECIPE = register(
    Recipe(
        domain="news",
        description="US press reportage and editorials from 1961 (Brown corpus A and B)",
        license=DERIVED_LICENSE,
        sources=(SOURCE,),
        approx_words=143_000,
        documents=documents,
        build_options={"max_ngrams": 10000, "min_doc_count": 2},
    )
)
