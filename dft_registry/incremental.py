"""Incremental builds: each input file's partial counts, cached by content hash.

A rebuild after files were added to a source recounts only the new (or
changed) files: the partial counts of every other file are found in the
registry cache (``<cache>/partials/``) under a key made of the file's sha256,
its name (document keys and skips name it), the build settings, the segmenter
and the tool versions. Partial counts are integer sums and the window sample
keeps the smallest hash keys, so per-file partials merge to exactly the
bundle of a from-scratch build.

Files smaller than :data:`MIN_CACHED_BYTES` are cheaper to recount than to
cache (a cache entry is several Parquet files), so they are counted with the
other small files of their map task as before. Entries are written to a
temporary directory and renamed into place, checked against their sha256s
when used (a damaged entry is dropped and recounted), and can be deleted at
any time (``rm -r <registry>/.cache/partials``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .atomic import dumps_json
from .bundle import sha256_file
from .inputs import InputFile, SkipLog
from .registry import cache_root
from .stats.partial import PartialCounts, Totals

CACHE_FORMAT = 1
PARTIALS_DIR = "partials"
TMP_DIR = "tmp"
META = "meta.json"
MIN_CACHED_BYTES = 64 << 10  # ~0.1 s of counting: below this, recounting is cheaper than caching


def partial_cache_dir(root: Path) -> Path:
    """Where a registry keeps per-file partial counts."""
    return cache_root(Path(root)) / PARTIALS_DIR


@dataclass
class CachedCounts:
    """The partial counts of one input file: Parquet files per table, totals, skips."""

    files: list[dict[str, str]]
    totals: Totals
    skips: SkipLog


def cache_key(item: InputFile, sha256: str, settings, segmenter: dict) -> str:
    """The cache key of one input's counts: everything that decides them, hashed."""
    import spacy

    from . import __version__

    record = {
        "format": CACHE_FORMAT, "dft": __version__, "spacy": spacy.__version__,
        "input": {"name": item.name, "format": item.format, "compression": item.compression,
                  "sha256": sha256},
        "settings": json.loads(json.dumps(asdict(settings))), "segmenter": segmenter,
    }
    return hashlib.sha256(dumps_json(record)).hexdigest()


class PartialCache:
    """A directory of cache entries ``<key[:2]>/<key>/`` holding Parquet partials and meta.json."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def entry_dir(self, key: str) -> Path:
        return self.directory / key[:2] / key

    def lookup(self, key: str) -> CachedCounts | None:
        """The cached counts under ``key``, or None (a damaged entry is removed)."""
        entry = self.entry_dir(key)
        try:
            meta = json.loads((entry / META).read_text(encoding="utf-8"))
            files = []
            for spill in meta["files"]:
                paths = {}
                for table, record in spill.items():
                    path = entry / record["name"]
                    if sha256_file(path) != record["sha256"]:
                        raise ValueError(f"{path} changed")
                    paths[table] = str(path)
                files.append(paths)
            skips = SkipLog()
            for record in meta["skips"]:
                skips.add(record["file"], record["reason"], record["count"])
            return CachedCounts(files, Totals(**meta["totals"]), skips)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            shutil.rmtree(entry, ignore_errors=True)  # damaged: recount
            return None

    def count(self, key: str, count: Callable[[PartialCounts, SkipLog], None], spill_dir: Path,
              memory_limit: int, window_samples: int) -> tuple[CachedCounts, bool]:
        """Cached counts under ``key`` (True), else run ``count`` into ``spill_dir`` and cache a copy.

        Fresh counts are returned from ``spill_dir`` (the build's own work area),
        so a build never depends on a cache entry it has just written.
        """
        found = self.lookup(key)
        if found is not None:
            return found, True
        partial = PartialCounts(Path(spill_dir), memory_limit, window_samples)
        skips = SkipLog()
        count(partial, skips)
        partial.spill(include_windows=True)
        counted = CachedCounts(partial.spilled, partial.totals, skips)
        if any(reason.startswith("unreadable") for _, reason in skips.counts):
            return counted, False  # maybe an I/O problem of this run: do not keep it
        self.store(key, counted)
        return counted, False

    def store(self, key: str, counts: CachedCounts) -> None:
        """Copy counts into the cache under ``key`` (atomically; a racing writer wins)."""
        entry = self.entry_dir(key)
        if entry.exists():
            return
        staging = self.directory / TMP_DIR / f"build-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        try:
            staging.mkdir(parents=True)
            files = []
            for spill in counts.files:
                records = {}
                for table, path in spill.items():
                    name = f"{len(files):05d}-{table}.parquet"
                    shutil.copyfile(path, staging / name)
                    records[table] = {"name": name, "sha256": sha256_file(staging / name)}
                files.append(records)
            meta = {"format": CACHE_FORMAT, "files": files, "totals": counts.totals.as_dict(),
                    "skips": counts.skips.records()}
            (staging / META).write_bytes(dumps_json(meta))
            entry.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging, entry)
        except OSError:
            pass  # a full disk or a racing writer: the cache is an optimisation only
        finally:
            shutil.rmtree(staging, ignore_errors=True)
