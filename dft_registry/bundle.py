"""The stat bundle (format v1): one reader, one verifier, one place that hashes files.

A bundle is an immutable directory holding ``manifest.json`` and one Parquet
file per table. The manifest records the sha256 and row count of every file;
the content hash is the sha256 of the sorted ``"<file> <sha256>\\n"`` lines, so
it identifies the numbers, not the build time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import BundleCorrupt
from .registry import STATS_DIR, BundleRef, cache_root, registry_root

BUNDLE_FORMAT = "dft-stats-bundle"
BUNDLE_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TABLES = ("unigrams", "ngrams", "sentence_lengths", "doc_lengths", "windows", "entropy", "openers")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(file_hashes: dict[str, str]) -> str:
    """sha256 over the sorted ``"<name> <sha256>\\n"`` lines of the data files."""
    lines = "".join(f"{name} {digest}\n" for name, digest in sorted(file_hashes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


MANIFEST_DIGEST = "manifest_sha256"


def manifest_digest(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON without its own digest field.

    The content hash identifies the numbers; this digest makes any edit of the
    manifest itself (totals, sources, license) detectable too.
    """
    from .atomic import dumps_json

    return hashlib.sha256(dumps_json({k: v for k, v in manifest.items() if k != MANIFEST_DIGEST})).hexdigest()


def seal_manifest(manifest: dict) -> dict:
    """Set the manifest's ``manifest_sha256`` (call last, once every field is final)."""
    manifest[MANIFEST_DIGEST] = manifest_digest(manifest)
    return manifest


def write_table(table: pa.Table, path: Path) -> dict:
    """Write one bundle table deterministically; returns its manifest record."""
    pq.write_table(table, path, compression="zstd", compression_level=9, row_group_size=1 << 20)
    return {"sha256": sha256_file(path), "rows": table.num_rows, "bytes": path.stat().st_size}


def read_manifest(path: Path) -> dict:
    manifest_path = Path(path) / MANIFEST
    if not manifest_path.exists():
        raise BundleCorrupt(f"{path} has no {MANIFEST}: not a bundle, or an incomplete copy; pull it again")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BundleCorrupt(f"{manifest_path} is not valid JSON: the bundle is corrupt; pull or rebuild it") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleCorrupt(f"{manifest_path} is not a {BUNDLE_FORMAT} manifest")
    if manifest.get("format_version", 0) > BUNDLE_FORMAT_VERSION:
        raise BundleCorrupt(f"{path} uses bundle format {manifest['format_version']}; upgrade dft to read it")
    return manifest


def verify_bundle(path: Path) -> list[str]:
    """Every problem with a bundle directory (empty when its files match its manifest)."""
    try:
        manifest = read_manifest(path)
    except BundleCorrupt as exc:
        return [str(exc)]
    problems = []
    files = manifest.get("files") or {}
    for name in sorted(files):
        file_path = Path(path) / name
        if not file_path.exists():
            problems.append(f"{name} is missing")
            continue
        if sha256_file(file_path) != files[name].get("sha256"):
            problems.append(f"{name} does not match its sha256 (changed or truncated)")
    expected = {f"{t}.parquet" for t in TABLES}
    for missing in sorted(expected - set(files)):
        problems.append(f"manifest lists no {missing}")
    hashes = {name: record.get("sha256", "") for name, record in files.items()}
    if content_hash(hashes) != manifest.get("content_hash"):
        problems.append("content_hash does not match the file hashes (manifest edited)")
    if manifest.get(MANIFEST_DIGEST) != manifest_digest(manifest):
        problems.append("manifest.json was edited (its manifest_sha256 does not match)")
    return problems


def check_bundle(path: Path, label: str) -> dict:
    """The manifest of a verified bundle; BundleCorrupt naming the first problems otherwise."""
    problems = verify_bundle(path)
    if problems:
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        raise BundleCorrupt(f"bundle {label} is corrupt ({shown}): refusing it; pull or rebuild it")
    return read_manifest(path)


@dataclass
class Bundle:
    """A verified, loaded stat bundle. Tables are read lazily as pyarrow tables."""

    path: Path
    manifest: dict
    registry: Path | None = None
    _tables: dict[str, pa.Table] = field(default_factory=dict, repr=False)

    @property
    def domain(self) -> str:
        return self.manifest["domain"]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def content_hash(self) -> str:
        return self.manifest["content_hash"]

    @property
    def ref(self) -> str:
        return f"{self.domain}@{self.version}"

    @property
    def segmenter(self) -> dict:
        return self.manifest["segmenter"]

    def table(self, name: str) -> pa.Table:
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; tables: {', '.join(TABLES)}")
        if name not in self._tables:
            self._tables[name] = pq.read_table(self.path / f"{name}.parquet")
        return self._tables[name]

    @property
    def tables(self) -> dict[str, pa.Table]:
        return {name: self.table(name) for name in TABLES}

    @cached_property
    def cache_dir(self) -> Path:
        """A writable directory for data derived from this bundle (keyed by content hash)."""
        base = cache_root(self.registry) if self.registry else self.path / ".." / ".cache"
        path = Path(base) / "bundles" / self.domain / self.content_hash[:16]
        path.mkdir(parents=True, exist_ok=True)
        return path

    def connect(self):
        """A DuckDB connection with one view per table (``unigrams``, ``ngrams``, ...)."""
        import duckdb

        con = duckdb.connect()
        for name in TABLES:
            file = str(self.path / f"{name}.parquet").replace("'", "''")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{file}')")
        return con


def bundle_dir(root: Path, domain: str, version: str) -> Path:
    return Path(root) / STATS_DIR / domain / version


def load(ref: str | BundleRef, registry: str | Path | None = None, verify: bool = True) -> Bundle:
    """Load a bundle by reference (``legal``, ``legal@v2``, ``legal@sha256:1a2b``).

    Every file is checked against the manifest's sha256 first (``verify=False``
    skips that); a tampered or truncated bundle raises BundleCorrupt.
    """
    from .catalog import read_catalog, resolve

    root = registry_root(registry, must_exist=True)
    parsed = ref if isinstance(ref, BundleRef) else BundleRef.parse(ref)
    entry = resolve(read_catalog(root), parsed)
    path = bundle_dir(root, entry["domain"], entry["version"])
    label = f"{entry['domain']}@{entry['version']}"
    manifest = check_bundle(path, label) if verify else read_manifest(path)
    if manifest.get("content_hash") != entry["content_hash"]:
        raise BundleCorrupt(f"bundle {label} does not match its catalog entry (content hash differs); "
                            "run `dft-stats verify` or rebuild the catalog")
    return Bundle(path, manifest, root)
