"""Fuzzing the input readers: random bytes, truncations, odd encodings, many tiny files, big files.

The promise under test: a build never dies with a traceback on user data.
Each bad file ends as a counted skip with a reason (or, under ``--strict``, as
one clear error); the readers stream, so a big file needs bounded memory.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

import dft_registry
from dft_registry.errors import DftError, InputError
from dft_registry.inputs import ReadOptions, SkipLog, list_inputs, read_documents

SEED = 2026
GOOD = "The court shall decide. The parties agree to the terms of this license.\n"
SUFFIXES = [".txt", ".md", ".jsonl", ".json", ".parquet", ".csv"]
COMPRESSORS = {"": lambda b: b, ".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress,
               ".zst": lambda b: zstandard.ZstdCompressor().compress(b)}


def valid_bytes(suffix: str) -> bytes:
    """A small valid file of each format, holding a few good documents."""
    texts = [GOOD * (i + 1) for i in range(4)]
    if suffix in (".txt", ".md"):
        return "".join(texts).encode()
    if suffix == ".jsonl":
        return "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
    if suffix == ".json":
        return json.dumps([{"text": t} for t in texts]).encode()
    if suffix == ".csv":
        return ("id,text\n" + "".join(f'{i},"{t.strip()}"\n' for i, t in enumerate(texts))).encode()
    sink = io.BytesIO()
    pq.write_table(pa.table({"text": texts}), sink)
    return sink.getvalue()


def fuzz_files(root: Path, rng: random.Random) -> list[Path]:
    """Random bytes, random truncations and random byte flips of every format and compression."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in SUFFIXES:
        for compression, compress in COMPRESSORS.items():
            data = compress(valid_bytes(suffix))
            variants = {
                "random": rng.randbytes(rng.randint(1, 4096)),
                "truncated": data[: rng.randint(1, max(1, len(data) - 1))],
                "flipped": bytes(b ^ (0xFF if rng.random() < 0.01 else 0) for b in data),
                "empty": b"",
                "tail": data[rng.randint(1, max(1, len(data) - 1)):],
            }
            for name, payload in variants.items():
                path = root / f"{name}{suffix}{compression}"
                path.write_bytes(payload)
                paths.append(path)
    return paths


ENCODINGS = {
    "utf16-le-bom.txt": "\ufeff" + GOOD, "utf16-be.txt": GOOD, "utf32.txt": GOOD,
    "latin1.txt": "Café crème, déjà vu. Señor Müller.\n", "cp1252.txt": "“Smart quotes” — dash…\n",
    "utf8-bom.txt": "\ufeff" + GOOD, "nul-inside.txt": GOOD + "\x00" + GOOD,
    "only-spaces.txt": " \n\t\n   \n", "control-chars.txt": "a\x01b\x02c\x1b[31m red. \x7f\n",
    "emoji-and-rtl.txt": "Hello 👋🏽 world. שלום עולם. مرحبا.\n",
    "combining.txt": "Ame\u0301lie cafe\u0301. Zalgo: Z̷̢a̴l̶g̵o.\n",
}


def encoded(name: str, text: str) -> bytes:
    codec = {"utf16-le-bom.txt": "utf-16-le", "utf16-be.txt": "utf-16-be", "utf32.txt": "utf-32",
             "latin1.txt": "latin-1", "cp1252.txt": "cp1252"}.get(name, "utf-8")
    data = text.encode(codec)
    if name == "utf8-bom.txt":
        return text.encode("utf-8")  # text starts with U+FEFF: the UTF-8 BOM bytes EF BB BF
    return data


def odd_encoding_files(root: Path) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in ENCODINGS.items():
        (root / name).write_bytes(encoded(name, text))
        paths.append(root / name)
    (root / "lone-surrogate.jsonl").write_text('{"text": "bad \\ud800 surrogate. Fine words."}\n')
    (root / "overlong-utf8.txt").write_bytes(b"over \xc0\xaf long. \xed\xa0\x80 surrogate.\n")
    (root / "utf16.jsonl").write_bytes((json.dumps({"text": GOOD}) + "\n").encode("utf-16"))
    (root / "latin1.csv").write_bytes("id,text\n1,Caf\xe9 cr\xe8me.\n".encode("latin-1"))
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (root / "huge-number.jsonl").write_text('{"text": 1' + "0" * 5000 + "}\n")
    (root / "not-object.jsonl").write_text('[1, 2]\n"text"\nnull\n')
    return [*paths, *sorted(root.glob("*.*sonl")), root / "latin1.csv", root / "deep.json"]


def read_all(path: Path) -> tuple[int, SkipLog]:
    """Documents and skips of one file through the real readers (no segmenting)."""
    skips = SkipLog()
    documents = 0
    for item in list_inputs(path):
        for document in read_documents(item, ReadOptions(), skips):
            for part in document.parts:
                assert isinstance(part, str)
            documents += 1
    return documents, skips


def test_random_truncated_and_flipped_files_of_every_format_never_raise(tmp_path):
    rng = random.Random(SEED)
    paths = fuzz_files(tmp_path / "fuzz", rng)
    assert len(paths) == len(SUFFIXES) * len(COMPRESSORS) * 5
    for path in paths:
        read_all(path)  # never raises
    (tmp_path / "fuzz" / "good.txt").write_text(GOOD * 5)
    result = dft_registry.build("fuzz", tmp_path / "fuzz", registry=tmp_path / "reg", workers=1)
    assert result.manifest["skipped"], "the damaged files are reported"
    assert all(s["reason"] for s in result.manifest["skipped"])
    with pytest.raises(InputError, match="--strict"):
        dft_registry.build("fuzz", tmp_path / "fuzz", registry=tmp_path / "reg2", workers=1,
                           strict=True)


@pytest.mark.parametrize("seed", range(3))
def test_many_random_seeds_of_damaged_files_build_or_fail_cleanly(tmp_path, seed):
    paths = fuzz_files(tmp_path / "fuzz", random.Random(SEED + 1000 + seed))
    for path in paths:
        read_all(path)
    try:
        dft_registry.build("fuzz", tmp_path / "fuzz", registry=tmp_path / "reg", workers=1)
    except DftError:
        pass  # e.g. no usable document at all: one clear error


def test_odd_encodings_are_read_or_skipped_with_a_reason(tmp_path):
    paths = odd_encoding_files(tmp_path / "odd")
    for path in paths:
        read_all(path)
    result = dft_registry.build("odd", tmp_path / "odd", registry=tmp_path / "reg", workers=1)
    reasons = {s["file"]: s["reason"] for s in result.manifest["skipped"]}
    assert reasons["latin1.txt"] == "not UTF-8"
    assert reasons["utf16-le-bom.txt"] == "binary file"  # NUL bytes: UTF-16 is not decoded
    assert reasons["only-spaces.txt"] == "empty"
    assert "emoji-and-rtl.txt" not in reasons and "combining.txt" not in reasons


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_word(tmp_path):
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    result = dft_registry.build("bom", tmp_path, registry=tmp_path / "reg", workers=1)
    tokens = dft_registry.load("bom", registry=tmp_path / "reg").table("unigrams").column("token")
    # "The court shall decide" (4) + "The parties agree to the terms of this license" (9)
    assert "The" in tokens.to_pylist() and "\ufeffThe" not in tokens.to_pylist()
    assert result.manifest["totals"]["words"] == 13


def test_ten_thousand_tiny_files_build(tmp_path):
    corpus = tmp_path / "tiny"
    rng = random.Random(SEED)
    for i in range(10_000):
        sub = corpus / f"{i // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{i:05d}.txt").write_text(rng.choice(["Yes.", "No way.", "The end.", GOOD, "x"]))
    result = dft_registry.build("tiny", corpus, registry=tmp_path / "reg", workers=2)
    assert result.manifest["totals"]["documents"] == 10_000
    assert result.manifest["sources"][0]["files"] == 10_000
    assert result.manifest["skipped"] == []


def write_big_file(path: Path, megabytes: int, rng: random.Random) -> int:
    """Real-looking text in paragraphs, ``megabytes`` MB; returns the number of words written."""
    sentences = [s.strip() + "." for s in (GOOD * 3 + "We hold these truths to be self-evident. "
                 "It is a truth universally acknowledged. Four score and seven years ago.").split(".")
                 if s.strip()]
    words = 0
    block = []
    for _ in range(2000):
        paragraph = " ".join(rng.choice(sentences) for _ in range(rng.randint(1, 8)))
        words += len(paragraph.split())
        block.append(paragraph)
    text = "\n\n".join(block) + "\n\n"
    copies = max(1, (megabytes << 20) // len(text))
    with open(path, "w") as handle:
        for _ in range(copies):
            handle.write(text)
    return words * copies


# VmHWM, not ru_maxrss: on Linux a child's ru_maxrss starts at its parent's RSS at fork time.
HWM = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
PEAK_RSS = ("import sys, dft_registry; from dft_registry.inputs import *; "
            "skips = SkipLog(); n = 0\n"
            "for item in list_inputs(sys.argv[1]):\n"
            "    for d in read_documents(item, ReadOptions(), skips):\n"
            "        for part in d.parts: n += len(part)\n"
            f"print(n, {HWM})")


@pytest.fixture(autouse=True)
def _linux_only(request):
    if "memory" in request.node.name and not Path("/proc/self/status").exists():
        pytest.skip("peak RSS is read from /proc (Linux)")


def streamed_peak_rss_kib(path: Path) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path)], check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


def test_a_big_file_is_read_in_bounded_memory(tmp_path):
    path = tmp_path / "big.txt"
    write_big_file(path, 64, random.Random(SEED))
    chars, peak_kib = streamed_peak_rss_kib(path)
    assert chars == path.stat().st_size
    assert peak_kib < 400 * 1024, f"peak RSS {peak_kib} KiB while streaming 64 MB"


@pytest.mark.slow
def test_a_1_gb_file_is_read_in_bounded_memory(tmp_path):
    path = tmp_path / "big.txt"
    write_big_file(path, 1024, random.Random(SEED))
    chars, peak_kib = streamed_peak_rss_kib(path)
    assert chars == path.stat().st_size
    assert peak_kib < 400 * 1024, f"peak RSS {peak_kib} KiB while streaming 1 GB"


@pytest.mark.slow
def test_a_128_mb_file_builds_in_bounded_memory(tmp_path):
    """The whole build of one 128 MB file (23M words; regex.v1 to keep it minutes, not hours).

    1 GB is 188M words: hours of counting on 2 cores, so the 1 GB case checks the
    reader (above), where memory could grow with the file.
    """
    path = tmp_path / "corpus" / "big.txt"
    path.parent.mkdir()
    words = write_big_file(path, 128, random.Random(SEED))
    code = ("import sys, dft_registry; r = dft_registry.build('big', sys.argv[1], "
            "registry=sys.argv[2], workers=1, segmenter='regex.v1', memory_limit='512MB'); "
            f"print(r.manifest['totals']['documents'], {HWM})")
    out = subprocess.run([sys.executable, "-c", code, str(path.parent), str(tmp_path / "reg")],
                         check=True, capture_output=True, text=True).stdout.split()
    assert int(out[0]) == 1
    assert int(out[1]) < 2 * 1024 * 1024, f"peak RSS {out[1]} KiB building a 128 MB file ({words} words)"
