"""Shipped recipes: how each vertical's corpus is obtained offline and cleaned.

A recipe is a small declarative object (one module per domain in this
package). ``prepare(cache_dir)`` installs the source package into a private
cache directory (never into the user's environment), turns it into clean
documents and writes them as JSONL shards (``{"id", "text"}`` per line) under
the cache; the normal file build then runs over those shards. The cleaned
text stays in the local cache; only counts go into a bundle.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError


@dataclass(frozen=True)
class Source:
    """One upstream corpus a recipe draws from."""

    name: str  # e.g. "ScanCode LicenseDB (licensedcode-data 32.1.0)"
    install: str  # how it is obtained, e.g. "pip download licensedcode-data==32.1.0"
    license: str  # SPDX id or the upstream wording
    attribution: str
    url_hint: str = ""  # package name/location, never a registry host


@dataclass(frozen=True)
class Recipe:
    """How to build one shipped vertical from openly licensed sources."""

    domain: str
    description: str
    license: str  # licence of the derived counts, e.g. "CC-BY-4.0"
    sources: tuple[Source, ...]
    approx_words: int
    # documents(cache_dir) yields (doc_id, clean_text); it obtains sources itself.
    documents: Callable[[Path], Iterator[tuple[str, str]]]
    build_options: dict = field(default_factory=dict)  # e.g. {"max_ngrams": 20000}


_RECIPES: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    _RECIPES[recipe.domain] = recipe
    return recipe


def all_recipes() -> dict[str, Recipe]:
    """Every shipped recipe by domain (imports each module of this package once)."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return dict(sorted(_RECIPES.items()))


def get_recipe(domain: str) -> Recipe:
    recipes = all_recipes()
    if domain not in recipes:
        names = ", ".join(recipes) or "(none)"
        raise UsageError(
            f"no shipped recipe for domain {domain!r} (recipes: {names}); "
            f"pass --source PATH to build it from your own corpus"
        )
    return recipes[domain]
