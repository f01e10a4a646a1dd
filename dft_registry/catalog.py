"""catalog.json: every version of every domain in a registry, updated under a file lock.

Readers never lock (the file is replaced atomically, so they see the old or
the new catalog, never half of one). Writers take ``catalog.json.lock``, read,
change and atomically replace the file, so concurrent builds lose no entry.
A catalog that is not valid JSON is never overwritten silently: every write
refuses until the user restores it or runs ``dft-stats catalog rebuild``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from .atomic import atomic_write_json
from .errors import BundleNotFound, CatalogError
from .registry import CATALOG_FILE, BundleRef, version_number

CATALOG_FORMAT = "dft-catalog"
CATALOG_FORMAT_VERSION = 1
LOCK_TIMEOUT_S = 600


def empty_catalog() -> dict:
    return {"format": CATALOG_FORMAT, "format_version": CATALOG_FORMAT_VERSION, "bundles": []}


def catalog_path(root: Path) -> Path:
    return Path(root) / CATALOG_FILE


def catalog_lock(root: Path) -> FileLock:
    return FileLock(str(catalog_path(root)) + ".lock", timeout=LOCK_TIMEOUT_S)


def parse_catalog(text: str, where: str) -> dict:
    """Parse and check catalog JSON; raises CatalogError naming the problem and the fix."""
    fix = "restore it (e.g. git checkout catalog.json) or run `dft-stats catalog rebuild`"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{where} is not valid JSON (line {exc.lineno}): {fix}") from None
    if not isinstance(data, dict) or data.get("format") != CATALOG_FORMAT:
        raise CatalogError(f"{where} is not a DFT catalog (no \"format\": \"{CATALOG_FORMAT}\"): {fix}")
    if data.get("format_version", 0) > CATALOG_FORMAT_VERSION:
        raise CatalogError(f"{where} has catalog format {data['format_version']}; upgrade dft")
    if not isinstance(data.get("bundles"), list):
        raise CatalogError(f"{where} has no \"bundles\" list: {fix}")
    return data


def read_catalog(root: Path) -> dict:
    """The registry's catalog (an empty one when the file does not exist yet)."""
    path = catalog_path(root)
    if not path.exists():
        return empty_catalog()
    return parse_catalog(path.read_text(encoding="utf-8"), str(path))


def sort_entries(entries: list[dict]) -> list[dict]:
    return sorted(entries, key=lambda e: (e["domain"], version_number(e["version"])))


def update_catalog(root: Path, change: Callable[[dict], None]) -> dict:
    """Apply ``change`` to the catalog under the lock and replace the file atomically."""
    with catalog_lock(root):
        catalog = read_catalog(root)
        change(catalog)
        catalog["bundles"] = sort_entries(catalog["bundles"])
        atomic_write_json(catalog_path(root), catalog)
        return catalog


def entries_for(catalog: dict, domain: str) -> list[dict]:
    return [e for e in catalog["bundles"] if e["domain"] == domain]


def domains(catalog: dict) -> list[str]:
    return sorted({e["domain"] for e in catalog["bundles"]})


def latest_entries(catalog: dict) -> list[dict]:
    """The newest version of each domain."""
    latest: dict[str, dict] = {}
    for entry in sort_entries(catalog["bundles"]):
        latest[entry["domain"]] = entry
    return [latest[d] for d in sorted(latest)]


def resolve(catalog: dict, ref: BundleRef) -> dict:
    """The catalog entry a reference names; BundleNotFound (with suggestions) otherwise."""
    entries = entries_for(catalog, ref.domain)
    if not entries:
        known = domains(catalog)
        close = difflib.get_close_matches(ref.domain, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else (
            f"; known domains: {', '.join(known)}" if known else "; the catalog is empty")
        raise BundleNotFound(f"no bundle for domain {ref.domain!r}{hint} (see `dft-stats list`)")
    entries = sort_entries(entries)
    if ref.version is not None:
        found = [e for e in entries if version_number(e["version"]) == ref.version]
        if not found:
            versions = ", ".join(e["version"] for e in entries)
            raise BundleNotFound(f"{ref.domain} has no version v{ref.version} (versions: {versions})")
        return found[0]
    if ref.hash_prefix is not None:
        found = [e for e in entries if e["content_hash"].startswith(ref.hash_prefix)]
        if not found:
            raise BundleNotFound(f"no {ref.domain} bundle has a content hash starting {ref.hash_prefix}")
        if len({e["content_hash"] for e in found}) > 1:
            raise BundleNotFound(f"hash prefix {ref.hash_prefix} is ambiguous for {ref.domain}; give more digits")
        return found[-1]
    return entries[-1]
