"""Build a stat bundle: map (segment + count shards) -> partial Parquet -> DuckDB reduce -> commit.

The only module that writes DuckDB SQL for merges. A build is deterministic:
the same inputs and settings give byte-identical Parquet files whatever the
number of workers or the executor, because every merge is an integer sum and
every output is explicitly ordered. Nothing becomes visible until the
finished bundle directory is renamed into ``stats/<domain>/vN`` and the
catalog is replaced, both under the catalog lock.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import __version__
from .atomic import atomic_write_json
from .bundle import (
    BUNDLE_FORMAT,
    BUNDLE_FORMAT_VERSION,
    MANIFEST,
    bundle_dir,
    content_hash,
    seal_manifest,
    write_table,
)
from .catalog import (
    catalog_entry,
    catalog_lock,
    catalog_path,
    entries_for,
    read_catalog,
    sort_entries,
)
from .errors import InputError, StorageError, UsageError
from .executors import default_workers, report_progress, run_map
from .incremental import MIN_CACHED_BYTES, CachedCounts, PartialCache, cache_key, partial_cache_dir
from .inputs import InputFile, ReadOptions, SkipLog, fingerprint, list_inputs, read_documents
from .registry import STATS_DIR, registry_root, validate_domain, version_name, version_number
from .segment import DEFAULT_SEGMENTER, get_segmenter, is_punct
from .stats.counts import NGRAM_ORDERS, OPENER_TOKENS
from .stats.partial import PARTIAL_SCHEMAS, PartialCounts, Totals
from .stats.windows import FEATURES, WINDOW_SIZES, feature_summary

TASK_TARGET_BYTES = 16 << 20  # small files are grouped into map tasks of about this size
TMP_DIR = ".tmp"


@dataclass(frozen=True)
class BuildSettings:
    """Everything that decides a bundle's numbers (recorded in the manifest)."""

    segmenter: str = DEFAULT_SEGMENTER
    segmenter_settings: tuple = ()
    min_doc_count: int = 2
    max_ngrams: int = 100_000
    max_openers: int = 5_000
    window_samples: int = 2_000
    text_field: str = "text"
    text_column: str = "text"

    def manifest_record(self) -> dict:
        record = asdict(self)
        record.pop("segmenter")
        record.pop("segmenter_settings")
        record.update(ngram_orders=list(NGRAM_ORDERS), window_sizes=list(WINDOW_SIZES),
                      opener_tokens=OPENER_TOKENS)
        return record


@dataclass(frozen=True)
class MapTask:
    index: int
    inputs: tuple[InputFile, ...]
    settings: BuildSettings
    spill_dir: str
    memory_limit: int
    cache_dir: str | None = None  # per-file partial counts cache (incremental builds)


@dataclass
class MapResult:
    files: list[dict[str, str]]
    totals: Totals
    skips: SkipLog
    fingerprints: dict[str, tuple[str, int]]  # input name -> (sha256, bytes)


@dataclass
class BuildResult:
    """What a build did: the version it made (or found up to date) and what it skipped."""

    domain: str
    version: str
    content_hash: str
    created: bool
    path: Path
    manifest: dict
    seconds: float

    @property
    def ref(self) -> str:
        return f"{self.domain}@{self.version}"


def parse_size(text: str | int | None, default: int = 2 << 30) -> int:
    """``'512MB'``, ``'2GB'``, ``'1.5G'`` or a number of bytes -> bytes."""
    if text is None:
        return default
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)i?b?\s*", str(text).lower())
    if not match:
        raise UsageError(f"bad memory size {text!r}: use e.g. 512MB or 2GB")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[match.group(2)]
    return int(float(match.group(1)) * scale)


# ---------------------------------------------------------------- map step

def plan_tasks(inputs: list[InputFile], settings: BuildSettings, spill_root: Path,
               memory_limit: int, task_bytes: int = TASK_TARGET_BYTES,
               cache_dir: Path | None = None) -> list[MapTask]:
    """Group inputs (in name order) into map tasks of about ``task_bytes`` each."""
    groups: list[list[InputFile]] = []
    current: list[InputFile] = []
    size = 0
    for item in inputs:
        item_size = item.path.stat().st_size if item.path.is_file() else task_bytes
        if current and (size + item_size > task_bytes or len(current) >= 512):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        groups.append(current)
    cache = str(cache_dir) if cache_dir is not None else None
    return [MapTask(i, tuple(group), settings, str(spill_root / f"task-{i:05d}"), memory_limit, cache)
            for i, group in enumerate(groups)]


def count_task(task: MapTask) -> MapResult:
    """Map: stream the task's documents through the segmenter and count; spill to Parquet."""
    settings = task.settings
    segmenter = get_segmenter(settings.segmenter, **dict(settings.segmenter_settings))
    options = ReadOptions(settings.text_field, settings.text_column)
    skips = SkipLog()
    partial = PartialCounts(Path(task.spill_dir), task.memory_limit, settings.window_samples)
    fingerprints: dict[str, tuple[str, int]] = {}
    cache = PartialCache(Path(task.cache_dir)) if task.cache_dir else None
    cached = CachedCounts([], Totals(), skips)  # counts of files counted (or found) on their own
    for number, item in enumerate(task.inputs):
        fingerprints[item.name] = (fingerprint(item), _stored_bytes(item))
        if cache is not None and fingerprints[item.name][1] >= MIN_CACHED_BYTES:
            key = cache_key(item, fingerprints[item.name][0], settings, segmenter.describe())
            counts, _ = cache.count(
                key, functools.partial(_count_documents, item, options, segmenter),
                Path(task.spill_dir) / f"file-{number:05d}", task.memory_limit,
                settings.window_samples)
            cached.files.extend(counts.files)
            cached.totals.add(counts.totals)
            skips.merge(counts.skips)
            report_progress({"files": 1, "words": counts.totals.words,
                             "documents": counts.totals.documents, "bytes": counts.totals.bytes})
            continue
        words_before, docs_before, bytes_before = (partial.totals.words, partial.totals.documents,
                                                   partial.totals.bytes)
        _count_documents(item, options, segmenter, partial, skips)
        report_progress({"files": 1, "words": partial.totals.words - words_before,
                         "documents": partial.totals.documents - docs_before,
                         "bytes": partial.totals.bytes - bytes_before})
    partial.spill(include_windows=True)
    partial.totals.add(cached.totals)
    return MapResult(cached.files + partial.spilled, partial.totals, skips, fingerprints)


def _stored_bytes(item: InputFile) -> int:
    if item.path.is_file():
        return item.path.stat().st_size
    return sum(p.stat().st_size for p in item.path.rglob("*") if p.is_file())


def _count_documents(item, options, segmenter, partial: PartialCounts, skips: SkipLog) -> None:
    """Segment every document of one input in one spaCy stream, counting part by part."""
    from collections import deque

    tags: deque = deque()  # (document key, byte count) for each text handed to the segmenter

    def texts():
        for document in read_documents(item, options, skips):
            for part in document.parts:
                try:
                    tags.append((document.key, len(part.encode("utf-8"))))
                except UnicodeEncodeError:  # a lone surrogate from a JSON "\ud800" escape
                    tags.append((document.key, len(part.encode("utf-8", "surrogatepass"))))
                    part = part.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
                yield part

    document = None
    n_bytes = 0
    for sentences in segmenter.pipe(texts()):
        key, part_bytes = tags.popleft()
        if document is None or key != document.key:
            if document is not None:
                partial.finish_document(document, n_bytes)
            document, n_bytes = partial.start_document(key), 0
        partial.add_part(document, sentences)
        n_bytes += part_bytes
    if document is not None:
        partial.finish_document(document, n_bytes)


# ---------------------------------------------------------------- reduce step

def _parquet_list(results: list[MapResult], table: str) -> str:
    files = [f[table] for r in results for f in r.files if table in f]
    if not files:
        return ""
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in sorted(files)) + "]"


def reduce_partials(results: list[MapResult], settings: BuildSettings, out_dir: Path,
                    workers: int, memory_limit: int, temp_dir: Path) -> dict:
    """Merge partial counts with DuckDB and write the bundle tables; returns manifest parts."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {max(1, workers)}")
    con.execute(f"SET memory_limit = '{max(memory_limit // (1 << 20), 256)}MB'")
    con.execute(f"SET temp_directory = '{temp_dir!s}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # the library never prints (long reduces did)

    def source(table: str) -> str:
        files = _parquet_list(results, table)
        if files:
            return f"read_parquet({files})"
        schema = PARTIAL_SCHEMAS[table]
        cols = ", ".join(f"NULL::{_duck_type(f.type)} AS \"{f.name}\"" for f in schema)
        return f"(SELECT {cols} WHERE false)"

    tables: dict[str, pa.Table] = {}
    unigrams = _arrow(con,
        f"SELECT token, SUM(count)::BIGINT AS count, SUM(doc_count)::BIGINT AS doc_count "
        f"FROM {source('unigrams')} GROUP BY token ORDER BY count DESC, token")
    punct = pa.array([is_punct(t) for t in unigrams.column("token").to_pylist()], pa.bool_())
    tables["unigrams"] = unigrams.append_column("is_punct", punct)

    con.execute(f"CREATE TEMP TABLE grams AS SELECT n, ngram, SUM(count)::BIGINT AS count, "
                f"SUM(doc_count)::BIGINT AS doc_count FROM {source('ngrams')} GROUP BY n, ngram")
    ngram_totals = {
        str(n): {"total": int(total), "distinct": int(distinct)}
        for n, total, distinct in con.execute(
            "SELECT n, SUM(count), COUNT(*) FROM grams GROUP BY n ORDER BY n").fetchall()
    }
    tables["ngrams"] = _arrow(con,
        "SELECT n::TINYINT AS n, ngram, count, doc_count FROM grams WHERE doc_count >= ? "
        "QUALIFY row_number() OVER (PARTITION BY n ORDER BY count DESC, ngram) <= ? "
        "ORDER BY n, count DESC, ngram", [settings.min_doc_count, settings.max_ngrams])
    for n, kept in con.execute("SELECT n, COUNT(*) FROM grams WHERE doc_count >= ? GROUP BY n",
                               [settings.min_doc_count]).fetchall():
        ngram_totals[str(n)]["above_threshold"] = int(kept)
    kept_orders = tables["ngrams"].column("n").to_numpy()
    for n, record in ngram_totals.items():
        record["kept"] = int(np.sum(kept_orders == int(n)))
    # Conditional bigram entropy H(w2 | w1) over all bigrams (before thresholds).
    bigrams = con.execute(
        "SELECT g.count AS c, s.total AS context FROM grams g JOIN (SELECT split_part(ngram, ' ', 1) "
        "AS w1, SUM(count) AS total FROM grams WHERE n = 2 GROUP BY w1) s "
        "ON split_part(g.ngram, ' ', 1) = s.w1 WHERE g.n = 2 ORDER BY g.ngram").fetchnumpy()
    con.execute("DROP TABLE grams")

    tables["sentence_lengths"] = _arrow(con,
        f"SELECT length::INTEGER AS length, SUM(count)::BIGINT AS count FROM {source('sentence_lengths')} "
        "GROUP BY length ORDER BY length")
    tables["doc_lengths"] = _arrow(con,
        f"SELECT words::BIGINT AS words, SUM(count)::BIGINT AS count FROM {source('doc_lengths')} "
        "GROUP BY words HAVING SUM(count) > 0 ORDER BY words")
    tables["openers"] = _arrow(con,
        f"SELECT opener, SUM(count)::BIGINT AS count FROM {source('openers')} GROUP BY opener "
        "HAVING SUM(doc_count) >= ? ORDER BY count DESC, opener LIMIT ?",
        [settings.min_doc_count, settings.max_openers])
    feature_cols = ", ".join(FEATURES)
    tables["windows"] = _arrow(con,
        f"SELECT \"window\"::INTEGER AS \"window\", doc, {feature_cols} FROM {source('windows')} "
        "QUALIFY row_number() OVER (PARTITION BY \"window\" ORDER BY key) <= ? ORDER BY \"window\", key",
        [settings.window_samples])
    con.close()

    tables["entropy"] = entropy_profile(tables["unigrams"], tables["windows"], bigrams)
    files = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        files[f"{name}.parquet"] = write_table(table, out_dir / f"{name}.parquet")
    return {"files": files, "ngram_totals": ngram_totals, "tables": tables}


def _arrow(con, sql: str, params: list | None = None) -> pa.Table:
    return con.sql(sql, params=params).to_arrow_table()


def _duck_type(arrow_type: pa.DataType) -> str:
    return {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
            pa.int8(): "TINYINT", pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN"}[arrow_type]


def _entropy_bits(counts: np.ndarray) -> float:
    counts = counts[counts > 0].astype(np.float64)
    if counts.size == 0:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum() + 0.0)


def entropy_profile(unigrams: pa.Table, windows: pa.Table, bigrams: dict) -> pa.Table:
    """Entropy table: corpus unigram/token/conditional-bigram entropy and lexical entropy per window."""
    counts = unigrams.column("count").to_numpy()
    punct = unigrams.column("is_punct").to_numpy(zero_copy_only=False)
    rows: list[tuple[str, int, float]] = [
        ("unigram_entropy", 0, _entropy_bits(counts[~punct])),
        ("token_entropy", 0, _entropy_bits(counts)),
    ]
    c = np.asarray(bigrams["c"], dtype=np.float64)
    context = np.asarray(bigrams["context"], dtype=np.float64)
    conditional = float(-(c / c.sum() * np.log2(c / context)).sum() + 0.0) if c.size else 0.0
    rows.append(("bigram_conditional_entropy", 0, conditional))
    sizes = windows.column("window").to_numpy()
    values = windows.column("entropy").to_numpy()
    for size in WINDOW_SIZES:
        summary = feature_summary(values[sizes == size].tolist())
        rows += [(f"lexical_entropy_{stat}", size, value) for stat, value in summary.items()]
    return pa.table({"metric": pa.array([r[0] for r in rows], pa.string()),
                     "window": pa.array([r[1] for r in rows], pa.int32()),
                     "value": pa.array([r[2] for r in rows], pa.float64())})


def headline(tables: dict[str, pa.Table]) -> dict:
    """Headline numbers for the catalog and ``show``: sentence length, vocabulary, entropy."""
    lengths = tables["sentence_lengths"].column("length").to_numpy().astype(np.float64)
    counts = tables["sentence_lengths"].column("count").to_numpy().astype(np.float64)
    total = counts.sum()
    mean = float((lengths * counts).sum() / total) if total else 0.0
    variance = float(((lengths - mean) ** 2 * counts).sum() / total) if total else 0.0
    entropy = {r["metric"]: r["value"] for r in tables["entropy"].to_pylist() if r["window"] == 0}
    punct = tables["unigrams"].column("is_punct").to_numpy(zero_copy_only=False)
    return {
        "sentence_length_mean": round(mean, 4),
        "sentence_length_variance": round(variance, 4),
        "vocabulary": int((~punct).sum()),
        "unigram_entropy_bits": round(entropy.get("unigram_entropy", 0.0), 4),
    }


# ---------------------------------------------------------------- commit

def _clean_stale_tmp(tmp_root: Path) -> None:
    """Remove temp build dirs whose owning process is gone (a killed build)."""
    if not tmp_root.exists():
        return
    for child in tmp_root.iterdir():
        match = re.match(r"build-(\d+)-", child.name)
        if match and not _pid_alive(int(match.group(1))):
            shutil.rmtree(child, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def commit_bundle(root: Path, domain: str, staged: Path, manifest: dict) -> tuple[str, bool, Path]:
    """Rename a finished bundle into place as the next version, or report it up to date.

    Runs under the catalog lock: version numbering, the directory rename and
    the catalog replace are one critical section.
    """
    with catalog_lock(root):
        catalog = read_catalog(root)
        entries = sort_entries(entries_for(catalog, domain))
        if entries and entries[-1]["content_hash"] == manifest["content_hash"]:
            latest = entries[-1]
            return latest["version"], False, bundle_dir(root, domain, latest["version"])
        domain_dir = Path(root) / STATS_DIR / domain
        on_disk = [version_number(p.name) for p in domain_dir.glob("v*") if p.name[1:].isdigit()]
        in_catalog = [version_number(e["version"]) for e in entries]
        version = version_name(max(on_disk + in_catalog + [0]) + 1)
        manifest["version"] = version
        atomic_write_json(staged / MANIFEST, seal_manifest(manifest))
        target = bundle_dir(root, domain, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        entry = catalog_entry(manifest, target, root)
        catalog["bundles"] = sort_entries([*catalog["bundles"], entry])
        atomic_write_json(catalog_path(root), catalog)
        return version, True, target


# ---------------------------------------------------------------- build

def _tool_versions() -> dict:
    import platform

    import duckdb
    import spacy

    return {"dft": __version__, "python": platform.python_version(), "spacy": spacy.__version__,
            "duckdb": duckdb.__version__, "pyarrow": pa.__version__}


def build(
    domain: str,
    source: str | Path | None = None,
    *,
    registry: str | Path | None = None,
    workers: int | None = None,
    segmenter: str = DEFAULT_SEGMENTER,
    segmenter_settings: dict | None = None,
    min_doc_count: int = 2,
    max_ngrams: int = 100_000,
    max_openers: int = 5_000,
    window_samples: int = 2_000,
    text_field: str = "text",
    text_column: str = "text",
    memory_limit: str | int | None = "2GB",
    description: str = "",
    license: str = "",
    sources: list[dict] | None = None,
    strict: bool = False,
    executor: str = "local",
    executor_options: dict | None = None,
    task_bytes: int = TASK_TARGET_BYTES,
    incremental: bool = True,
    on_progress: Callable[[dict], None] | None = None,
) -> BuildResult:
    """Build (or find up to date) the bundle of ``domain`` from ``source``.

    ``source`` is a file, directory, glob or saved HF dataset; ``None`` runs the
    domain's shipped recipe. ``on_progress`` receives dict events: ``{"stage":
    "map", "files_total": N}`` once, then ``{"files", "documents", "words",
    "bytes"}`` increments, then ``{"stage": "reduce"}``. With ``incremental``
    (the default) each input's partial counts are cached by content hash, so
    a rebuild recounts only new or changed files (see :mod:`.incremental`).
    """
    started = time.perf_counter()
    validate_domain(domain)
    for name, value in (("min_doc_count", min_doc_count), ("max_ngrams", max_ngrams),
                        ("max_openers", max_openers), ("window_samples", window_samples)):
        if not isinstance(value, int) or value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
    workers = default_workers() if workers is None else workers
    if not isinstance(workers, int) or workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    memory = parse_size(memory_limit)
    root = registry_root(registry)
    get_segmenter(segmenter, **(segmenter_settings or {}))  # fail fast on a bad name
    if source is None:
        from .recipes.prepare import prepare_recipe

        prepared = prepare_recipe(domain, root, on_progress=on_progress)
        source, description = prepared.path, description or prepared.description
        license, sources = license or prepared.license, sources or prepared.sources
        max_ngrams = prepared.build_options.get("max_ngrams", max_ngrams)
        min_doc_count = prepared.build_options.get("min_doc_count", min_doc_count)
        max_openers = prepared.build_options.get("max_openers", max_openers)
    settings = BuildSettings(segmenter, tuple(sorted((segmenter_settings or {}).items())),
                             min_doc_count, max_ngrams, max_openers, window_samples,
                             text_field, text_column)
    list_skips = SkipLog()
    inputs = list_inputs(source, list_skips)
    if strict and list_skips.counts:
        (name, reason), _ = next(iter(sorted(list_skips.counts.items())))
        raise InputError(f"{name}: {reason} (--strict); remove it or drop --strict to skip it")

    tmp_root = root / TMP_DIR  # same file system as stats/, so the final rename is atomic
    _clean_stale_tmp(tmp_root)
    cache_dir = partial_cache_dir(root) if incremental else None
    if cache_dir is not None:
        _clean_stale_tmp(cache_dir / "tmp")
    work = tmp_root / f"build-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    work.mkdir(parents=True)
    try:
        tasks = plan_tasks(inputs, settings, work / "partials", max(memory // workers, 1 << 20),
                           task_bytes, cache_dir)
        if on_progress:
            on_progress({"stage": "map", "files_total": len(inputs),
                         "bytes_total": sum(_stored_bytes(i) for i in inputs)})
        results = run_map(count_task, tasks, executor=executor, workers=workers,
                          on_progress=on_progress, **(executor_options or {}))
        skips = SkipLog()
        skips.merge(list_skips)
        totals = Totals()
        for result in results:
            skips.merge(result.skips)
            totals.add(result.totals)
        if strict and skips.counts:
            (name, reason), count = next(iter(sorted(skips.counts.items())))
            raise InputError(f"{name}: {reason} ({count}x, --strict); fix the input or drop --strict")
        if totals.documents == 0:
            first = "; ".join(f"{r['file']}: {r['reason']}" for r in skips.records()[:3])
            raise InputError(f"no usable document in {str(source)!r}" + (f" ({first})" if first else "")
                             + "; check the path, --text-field or --text-column")
        if on_progress:
            on_progress({"stage": "reduce"})
        staged = work / "bundle"
        reduced = reduce_partials(results, settings, staged, workers, memory, work / "duckdb")
        fingerprints = {name: fp for r in results for name, fp in r.fingerprints.items()}
        digest = _source_digest(fingerprints)
        source_records = sources or [{"name": str(source), "license": license or "unspecified"}]
        for record in source_records:
            record.setdefault("sha256", digest)
            record.setdefault("files", len(fingerprints))
            record.setdefault("bytes", sum(b for _, b in fingerprints.values()))
        totals_record = totals.as_dict()
        totals_record["vocabulary"] = headline(reduced["tables"])["vocabulary"]
        manifest = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "domain": domain,
            "version": None,
            "content_hash": content_hash({n: r["sha256"] for n, r in reduced["files"].items()}),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "description": description,
            "license": license,
            "segmenter": get_segmenter(segmenter, **(segmenter_settings or {})).describe(),
            "settings": settings.manifest_record(),
            "totals": totals_record,
            "ngram_totals": reduced["ngram_totals"],
            "headline": headline(reduced["tables"]),
            "skipped": skips.records(),
            "sources": source_records,
            "tools": _tool_versions(),
            "files": reduced["files"],
        }
        version, created, path = commit_bundle(root, domain, staged, manifest)
        if not created:
            from .bundle import read_manifest

            manifest = read_manifest(path)
        return BuildResult(domain, version, manifest["content_hash"], created, path, manifest,
                           time.perf_counter() - started)
    except Exception as exc:
        if is_disk_full(exc):
            raise StorageError(f"no space left on the device of {root} while building {domain} "
                               "(the registry holds the build's temporary files): free some space "
                               "and build again; nothing was changed") from None
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def is_disk_full(exc: BaseException) -> bool:
    """True for 'no space left on device' / 'quota exceeded' from the OS, pyarrow or DuckDB."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return type(exc).__module__.startswith("duckdb") and ("No space left on device" in text
                                                          or "Disk quota exceeded" in text)


def _source_digest(fingerprints: dict[str, tuple[str, int]]) -> str:
    import hashlib

    lines = "".join(f"{name}\t{sha}\n" for name, (sha, _) in sorted(fingerprints.items()))
    return hashlib.sha256(lines.encode()).hexdigest()
