"""academic: Brown corpus category J ("learned"): scientific and scholarly writing, 1961.

About 162k words in 80 documents (natural sciences, medicine, social and
political science, humanities, technology and engineering).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from . import Recipe, register
from ._brown import DERIVED_LICENSE, SOURCE, brown_documents

CATEGORIES = ("learned",)


def documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """(Brown file id, clean text) for the "learned" files, sorted."""
    yield from brown_documents(cache_dir, CATEGORIES)


RECIPE = register(
    Recipe(
        domain="academic",
        description="Scientific and scholarly prose from 1961 (Brown corpus J, 'learned')",
        license=DERIVED_LICENSE,
        sources=(SOURCE,),
        approx_words=162_000,
        documents=documents,
        build_options={"max_ngrams": 10000, "min_doc_count": 2},
    )
)
