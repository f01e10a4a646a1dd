"""Run a shipped recipe into the local cache: clean JSONL shards the normal build reads.

The shards live in ``<cache>/recipes/<domain>/documents`` and are reused while
the recipe module is unchanged (its source hash is in ``.prepared.json``); a
half-written preparation is never reused, because the directory is renamed
into place only when complete.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_write_json
from ..registry import cache_root
from . import get_recipe

SHARD_BYTES = 8 << 20


@dataclass(frozen=True)
class PreparedRecipe:
    path: Path
    description: str
    license: str
    sources: list[dict]
    build_options: dict
    documents: int


def recipe_fingerprint(recipe) -> str:
    """sha256 of the recipe's module and of the shared helpers (``_*.py``) it may use."""
    module = inspect.getmodule(recipe.documents)
    digest = hashlib.sha256(inspect.getsource(module).encode() if module else repr(recipe).encode())
    for helper in sorted(Path(__file__).parent.glob("_*.py")):
        digest.update(helper.name.encode() + b"\0" + helper.read_bytes())
    return digest.hexdigest()


def prepare_recipe(domain: str, root: Path, on_progress=None) -> PreparedRecipe:
    """Obtain and clean the domain's corpus (or reuse the cached shards)."""
    recipe = get_recipe(domain)
    base = cache_root(Path(root)) / "recipes" / domain
    documents_dir = base / "documents"
    marker = documents_dir / ".prepared.json"
    fingerprint = recipe_fingerprint(recipe)
    count = None
    if marker.exists():
        try:
            info = json.loads(marker.read_text())
            if info.get("recipe_sha256") == fingerprint:
                count = int(info["documents"])
        except (ValueError, KeyError, TypeError):
            count = None
    if count is None:
        if on_progress:
            on_progress({"stage": "prepare", "domain": domain})
        count = _write_shards(recipe, base, documents_dir, fingerprint)
    sources = [
        {"name": s.name, "license": s.license, "attribution": s.attribution, "install": s.install}
        for s in recipe.sources
    ]
    return PreparedRecipe(documents_dir, recipe.description, recipe.license, sources,
                          dict(recipe.build_options), count)


def _write_shards(recipe, base: Path, documents_dir: Path, fingerprint: str) -> int:
    sources_dir = base.parent.parent / "sources"
    sources_dir.mkdir(parents=True, exist_ok=True)
    staging = base / f".staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        shard, size, count = 0, 0, 0
        # one handle at a time, rotated by size; closed on every path below
        handle = open(staging / f"shard-{shard:04d}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        for doc_id, text in recipe.documents(sources_dir):
            line = json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n"
            if size and size + len(line) > SHARD_BYTES:
                handle.close()
                shard, size = shard + 1, 0
                handle = open(staging / f"shard-{shard:04d}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
            handle.write(line)
            size += len(line)
            count += 1
        handle.close()
        atomic_write_json(staging / ".prepared.json", {"recipe_sha256": fingerprint, "documents": count})
        if documents_dir.exists():
            shutil.rmtree(documents_dir)
        os.replace(staging, documents_dir)
        return count
    finally:
        if "handle" in locals():
            handle.close()
        shutil.rmtree(staging, ignore_errors=True)
