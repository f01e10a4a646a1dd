"""Input readers: files, globs, directories and saved HF datasets -> documents.

A *document* is one ``.txt``/``.md`` file, or one record of a ``.jsonl``/
``.json``/``.parquet``/``.csv`` file or of a dataset saved with
``datasets.save_to_disk``. Compressed files (``.gz``, ``.bz2``, ``.xz``,
``.zst``) are read as streams. Unreadable data never raises here: it becomes a
counted skip with a reason (the build decides, under ``--strict``, whether a
skip is fatal).
"""

from __future__ import annotations

import bz2
import codecs
import glob
import gzip
import hashlib
import io
import json
import lzma
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError

TEXT_FORMATS = {".txt": "text", ".md": "text", ".jsonl": "jsonl", ".json": "json",
                ".parquet": "parquet", ".csv": "csv"}
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
SUPPORTED = ", ".join([*TEXT_FORMATS, *COMPRESSIONS, "a datasets.save_to_disk directory"])
TEXT_PART_CHARS = 1 << 20  # a long text file streams as ~1 MB parts of one document


@dataclass(frozen=True)
class InputFile:
    """One input to read: a file (maybe compressed) or a saved HF dataset directory."""

    path: Path
    name: str  # stable name relative to the source root, used in doc keys and skips
    format: str  # text | jsonl | json | parquet | csv | hf-dataset
    compression: str | None = None


@dataclass
class Document:
    """One document: a stable key and its text, possibly in several parts (long files)."""

    key: str
    parts: list[str] | Iterator[str]


@dataclass
class SkipLog:
    """Counted skips: (input name, reason) -> count."""

    counts: Counter = field(default_factory=Counter)

    def add(self, name: str, reason: str, count: int = 1) -> None:
        self.counts[(name, reason)] += count

    def records(self) -> list[dict]:
        return [{"file": f, "reason": r, "count": c} for (f, r), c in sorted(self.counts.items())]

    def merge(self, other: SkipLog) -> None:
        self.counts.update(other.counts)


@dataclass(frozen=True)
class ReadOptions:
    text_field: str = "text"
    text_column: str = "text"


def _classify(path: Path) -> tuple[str | None, str | None]:
    suffixes = [s.lower() for s in path.suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    fmt = TEXT_FORMATS.get(suffixes[-1]) if suffixes else None
    return fmt, compression


def _is_hf_dataset(path: Path) -> bool:
    return path.is_dir() and (path / "dataset_info.json").exists() and (path / "state.json").exists()


def list_inputs(source: str | Path, skips: SkipLog | None = None) -> list[InputFile]:
    """Every input under a file, directory or glob, sorted by name.

    Raises UsageError when the source does not exist or holds no supported file.
    Unsupported files inside a directory become skips.
    """
    skips = skips if skips is not None else SkipLog()
    text = str(source)
    if any(ch in text for ch in "*?["):
        paths = sorted(Path(p) for p in glob.glob(text, recursive=True))
        root = Path(_glob_root(text))
        if not paths:
            raise UsageError(f"the glob {text!r} matches no file; check the pattern")
    else:
        path = Path(source)
        if not path.exists():
            raise UsageError(f"source {text!r} does not exist; pass an existing file, directory or glob")
        root = path.parent if path.is_file() else path
        if _is_hf_dataset(path):
            return [InputFile(path, path.name, "hf-dataset")]
        paths = [path] if path.is_file() else sorted(
            p for p in path.rglob("*")
            if not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    inputs: list[InputFile] = []
    dataset_dirs = [p for p in paths if _is_hf_dataset(p)]
    inputs += [InputFile(p, _relative(p, root), "hf-dataset") for p in dataset_dirs]
    for p in paths:
        if p.is_dir() or any(d in p.parents for d in dataset_dirs):
            continue  # directories are walked; files of a saved dataset are read through it
        fmt, compression = _classify(p)
        name = _relative(p, root)
        if fmt is None:
            skips.add(name, "unsupported file type")
            continue
        inputs.append(InputFile(p, name, fmt, compression))
    inputs.sort(key=lambda item: item.name)
    if not inputs:
        raise UsageError(f"no readable input in {text!r} (supported: {SUPPORTED})")
    return inputs


def _glob_root(pattern: str) -> str:
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if any(ch in part for ch in "*?["):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def open_binary(item: InputFile) -> io.BufferedIOBase:
    """The decompressed byte stream of a file."""
    if item.compression == "gzip":
        return gzip.open(item.path, "rb")
    if item.compression == "bz2":
        return bz2.open(item.path, "rb")
    if item.compression == "xz":
        return lzma.open(item.path, "rb")
    if item.compression == "zstd":
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(item.path, "rb")))
    return open(item.path, "rb")


def fingerprint(item: InputFile) -> str:
    """sha256 of the input's stored bytes (a dataset: of all its files)."""
    digest = hashlib.sha256()
    paths = sorted(item.path.rglob("*")) if item.path.is_dir() else [item.path]
    for path in paths:
        if path.is_file():
            if item.path.is_dir():
                digest.update(path.relative_to(item.path).as_posix().encode() + b"\0")
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def read_documents(item: InputFile, options: ReadOptions, skips: SkipLog) -> Iterator[Document]:
    """Documents of one input; problems become skips, never exceptions."""
    reader = {"text": _read_text, "jsonl": _read_jsonl, "json": _read_json,
              "parquet": _read_parquet, "csv": _read_csv, "hf-dataset": _read_hf_dataset}[item.format]
    try:
        yield from reader(item, options, skips)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        skips.add(item.name, f"unreadable ({type(exc).__name__}: {_short(exc)})")
    except Exception as exc:  # noqa: BLE001 - third-party readers raise anything on bad bytes
        skips.add(item.name, f"unreadable ({type(exc).__name__}: {_short(exc)})")


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:120]


def _usable_text(text: object) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    return text


def _looks_binary(chunk: bytes) -> bool:
    return b"\x00" in chunk


def _read_text(item: InputFile, options: ReadOptions, skips: SkipLog) -> Iterator[Document]:
    """One document per file, streamed in ~1 MB parts cut at line ends."""
    with open_binary(item) as handle:
        head = handle.read(TEXT_PART_CHARS)
        if _looks_binary(head[:8192]):
            skips.add(item.name, "binary file")
            return
        decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")  # drops a BOM
        try:
            first = decoder.decode(head, final=False)
        except UnicodeDecodeError:
            skips.add(item.name, "not UTF-8")
            return

        def stream(first: str) -> Iterator[str]:
            carry = first
            while True:
                block = handle.read(TEXT_PART_CHARS)
                if not block:
                    carry += decoder.decode(b"", final=True)
                    if carry.strip():
                        yield carry
                    return
                if _looks_binary(block):
                    raise UnicodeDecodeError("utf-8", block[:1], 0, 1, "NUL byte in text")
                carry += decoder.decode(block, final=False)
                cut = carry.rfind("\n")
                if cut > 0:
                    yield carry[:cut + 1]
                    carry = carry[cut + 1:]
                elif len(carry) > 4 * TEXT_PART_CHARS:
                    cut = carry.rfind(" ")
                    cut = cut if cut > 0 else len(carry)
                    yield carry[:cut]
                    carry = carry[cut:]

        # Fully read small files so "empty" and "not UTF-8" are decided before counting.
        parts: list[str] = []
        try:
            iterator = stream(first)
            for part in iterator:
                parts.append(part)
                if len(parts) > 8:  # long file: stream the rest lazily
                    break
            else:
                iterator = iter(())
        except UnicodeDecodeError:
            skips.add(item.name, "not UTF-8")
            return
        if not parts:
            skips.add(item.name, "empty")
            return
        yield Document(item.name, _chain_checked(parts, iterator, item, skips))


def _chain_checked(parts, iterator, item, skips) -> Iterator[str]:
    yield from parts
    try:
        yield from iterator
    except UnicodeDecodeError:
        skips.add(item.name, "not UTF-8 (after the first MB; the readable start was counted)")


def _read_jsonl(item: InputFile, options: ReadOptions, skips: SkipLog) -> Iterator[Document]:
    with open_binary(item) as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                skips.add(item.name, "malformed JSON line")
                continue
            yield from _record_document(item, line_number, record, options.text_field, skips)


def _read_json(item: InputFile, options: ReadOptions, skips: SkipLog) -> Iterator[Document]:
    with open_binary(item) as handle:
        head = handle.read(4096).lstrip()
    if not head.startswith(b"["):
        yield from _read_jsonl(item, options, skips)
        return
    with open_binary(item) as handle:
        try:
            records = json.load(handle)
        except (UnicodeDecodeError, json.JSONDecodeError):
            skips.add(item.name, "malformed JSON")
            return
    for index, record in enumerate(records):
        yield from _record_document(item, index, record, options.text_field, skips)


def _record_document(item, index, record, text_field, skips) -> Iterator[Document]:
    if not isinstance(record, dict):
        skips.add(item.name, "JSON record is not an object")
        return
    if text_field not in record:
        skips.add(item.name, f"missing text field {text_field!r} (set --text-field)")
        return
    text = _usable_text(record[text_field])
    if text is None:
        skips.add(item.name, "empty or non-string text")
        return
    yield Document(f"{item.name}:{index}", [text])


def _column_documents(item, column_name, available, batches, skips) -> Iterator[Document]:
    if column_name not in available:
        skips.add(item.name, f"no column {column_name!r} (columns: {', '.join(available)}; set --text-column)")
        return
    index = 0
    for batch in batches:
        for value in batch:
            text = _usable_text(value)
            if text is None:
                skips.add(item.name, "empty or non-string text")
            else:
                yield Document(f"{item.name}:{index}", [text])
            index += 1


def _read_parquet(item: InputFile, options: ReadOptions, skips: SkipLog) -> Iterator[Document]:
    import pyarrow.parquet as pq

    with open_binary(item) as handle:
        parquet = pq.ParquetFile(handle if item.compression else item.path)
        names = parquet.schema_arrow.names
        batches = (
            b.column(0).to_pylist()
            for b in parquet.iter_batches(columns=[options.text_column], batch_size=1024)
        ) if options.text_column in names else iter(())
        yield from _column_documents(item, options.text_column, names, batches, skips)


def _read_csv(item: InputFile, options: ReadOptions, skips: SkipLog) -> Iterator[Document]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open_binary(item) as handle:
        reader = pacsv.open_csv(
            handle,
            read_options=pacsv.ReadOptions(block_size=1 << 22),
            convert_options=pacsv.ConvertOptions(column_types={options.text_column: pa.string()}),
        )
        names = reader.schema.names
        batches = (
            b.column(names.index(options.text_column)).to_pylist() for b in reader
        ) if options.text_column in names else iter(())
        yield from _column_documents(item, options.text_column, names, batches, skips)


def _read_hf_dataset(item: InputFile, options: ReadOptions, skips: SkipLog) -> Iterator[Document]:
    import datasets

    dataset = datasets.load_from_disk(str(item.path))
    if isinstance(dataset, datasets.DatasetDict):
        splits = [(name, dataset[name]) for name in sorted(dataset)]
    else:
        splits = [("", dataset)]
    for split, part in splits:
        name = f"{item.name}/{split}" if split else item.name
        columns = part.column_names
        batches = (
            part[i:i + 1024][options.text_column] for i in range(0, len(part), 1024)
        ) if options.text_column in columns else iter(())
        yield from _column_documents(InputFile(item.path, name, item.format), options.text_column,
                                     columns, batches, skips)
