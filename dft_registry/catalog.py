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
from .errors import BundleCorrupt, BundleNotFound, CatalogError
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
        close = difflib.get_close_matches(ref.domain, known, n=3, cutoff=0.6)
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


def catalog_entry(manifest: dict, path: Path, root: Path) -> dict:
    """The catalog record of a bundle, derived from its manifest."""
    size = sum(r["bytes"] for r in manifest["files"].values()) + (path / "manifest.json").stat().st_size
    return {
        "domain": manifest["domain"],
        "version": manifest["version"],
        "content_hash": manifest["content_hash"],
        "created_at": manifest["created_at"],
        "path": path.relative_to(root).as_posix(),
        "size_bytes": size,
        "description": manifest.get("description", ""),
        "license": manifest.get("license", ""),
        "sources": [{k: s.get(k) for k in ("name", "license", "attribution") if s.get(k)}
                    for s in manifest.get("sources", [])],
        "totals": manifest["totals"],
        "headline": manifest.get("headline", {}),
        "segmenter": manifest["segmenter"]["name"],
    }


def rebuild_catalog(root: Path, dry_run: bool = False) -> dict:
    """Reconstruct catalog.json from the verified bundles under ``stats/``.

    Bundles that fail verification are left out and reported. The previous
    catalog, if any, is kept as ``catalog.json.bak`` (it may be the only copy
    of something). Returns ``{"entries", "skipped", "backup"}``.
    """
    from .atomic import atomic_write_bytes
    from .bundle import check_bundle
    from .registry import DOMAIN_PATTERN, STATS_DIR, VERSION_PATTERN

    entries, skipped = [], []
    stats = root / STATS_DIR
    for domain_dir in sorted(stats.iterdir()) if stats.is_dir() else []:
        if not domain_dir.is_dir() or not DOMAIN_PATTERN.match(domain_dir.name):
            continue
        for version_dir in sorted(domain_dir.iterdir()):
            if not version_dir.is_dir() or not VERSION_PATTERN.match(version_dir.name):
                continue
            label = f"{domain_dir.name}@{version_dir.name}"
            try:
                manifest = check_bundle(version_dir, label)
                if (manifest.get("domain"), manifest.get("version")) != (domain_dir.name,
                                                                          version_dir.name):
                    raise BundleCorrupt(f"{label}: its manifest says {manifest.get('domain')}@"
                                        f"{manifest.get('version')}")
                entries.append(catalog_entry(manifest, version_dir, root))
            except BundleCorrupt as exc:
                skipped.append({"ref": label, "problem": str(exc)})
    backup = None
    if not dry_run:
        with catalog_lock(root):
            path = catalog_path(root)
            if path.exists():
                backup = path.with_name(path.name + ".bak")
                atomic_write_bytes(backup, path.read_bytes())
            catalog = empty_catalog()
            catalog["bundles"] = sort_entries(entries)
            atomic_write_json(path, catalog)
    return {"entries": sort_entries(entries), "skipped": skipped,
            "backup": str(backup) if backup else None}
