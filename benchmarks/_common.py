"""Shared by the ingest, datatrove and scaling benchmarks: corpora, child runs, peak memory.

Corpora:

* ``python_docs_corpus`` — the Python 3.11 documentation reST sources
  (Debian ``python3.11-doc``), paragraphs grouped into ~1000-word JSONL
  documents, cycled until 5,000,000 whitespace words, split round-robin into
  4 shards (the corpus of ``../shared/MODELS.md`` section 4).
* ``zipf_corpus`` — synthetic text whose vocabulary keeps growing with the
  corpus (Zipf's law for frequencies, Heaps' law for vocabulary), for the
  memory benchmark, where real text repeated would stop adding new words.

Peak memory of a build is measured as the peak of the summed RSS of the
child process and all its descendants (the spawned map workers), sampled
every 50 ms with psutil.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from typing_extensions import Self

WORK = Path(__file__).parent / "work"
DOC_SOURCES = ["/usr/share/doc/python3.11/html/_sources",
               "/tmp/pydoc/x/usr/share/doc/python3.11/html/_sources"]
HOW_TO_GET_DOCS = ("apt-get download python3.11-doc && dpkg-deb -x python3.11-doc_*.deb /tmp/pydoc/x")


def load() -> str:
    """``uptime``-style load averages, recorded next to every timing (the cores are shared)."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}, {os.cpu_count()} CPUs"


def python_docs_corpus(out: Path = WORK / "pydocs", words: int = 5_000_000, shards: int = 4) -> Path:
    """Build (once) the MODELS.md section 4 corpus; returns the directory of shard_*.jsonl files."""
    done = out / "DONE"
    if done.exists():
        return out
    source = next((s for s in DOC_SOURCES if Path(s).is_dir()), None)
    if source is None:
        raise SystemExit(f"Python docs not found; get them with: {HOW_TO_GET_DOCS}")
    files = sorted(glob.glob(f"{source}/**/*.txt", recursive=True))
    docs: list[dict] = []
    total = 0
    index = 0
    while total < words:
        text = Path(files[index % len(files)]).read_text(encoding="utf-8", errors="replace")
        index += 1
        gathered: list[str] = []
        count = 0
        for paragraph in text.split("\n\n"):
            n = len(paragraph.split())
            if n == 0:
                continue
            gathered.append(paragraph)
            count += n
            if count >= 1000:
                docs.append({"id": str(len(docs)), "text": "\n\n".join(gathered)})
                total += count
                gathered, count = [], 0
                if total >= words:
                    break
        if gathered and total < words:
            docs.append({"id": str(len(docs)), "text": "\n\n".join(gathered)})
            total += count
    out.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        with open(out / f"shard_{shard}.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(doc) + "\n" for doc in docs[shard::shards])
    (out / "meta.json").write_text(json.dumps({"documents": len(docs), "words": total,
                                               "source": source}))
    done.write_text("")
    return out


def corpus_meta(path: Path) -> dict:
    return json.loads((path / "meta.json").read_text())


def corpus_texts(path: Path) -> list[str]:
    texts = []
    for shard in sorted(path.glob("shard_*.jsonl")):
        with open(shard, encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle]
    return texts


def zipf_corpus(out: Path, words: int, seed: int = 0, doc_words: int = 1000,
                files: int = 8) -> Path:
    """Synthetic English-like text with a vocabulary that grows like Heaps' law (30 * n^0.55).

    Word ranks follow Zipf (s = 1.07) over a lexicon that is extended as the
    corpus grows, so counts tables keep growing: the hard case for memory.
    Sentences of 5-40 words end with '.', documents of ``doc_words`` words.
    """
    done = out / "DONE"
    if done.exists():
        return out
    import numpy as np

    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    weights = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4,
                        2.4, 2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.2, 0.2, 0.1, 0.1])
    weights /= weights.sum()
    out.mkdir(parents=True, exist_ok=True)
    stack = contextlib.ExitStack()
    handles = [stack.enter_context((out / f"part_{i:03d}.jsonl").open("w", encoding="utf-8"))
               for i in range(files)]
    lexicon: list[str] = []
    seen = set()
    written = 0
    doc_id = 0
    chunk = 200_000
    while written < words:
        n = min(chunk, words - written)
        # Heaps' law: the vocabulary needed by the corpus so far
        target = int(30 * (written + n) ** 0.55)
        while len(lexicon) < target:
            length = int(rng.integers(2, 12))
            word = "".join(rng.choice(letters, size=length, p=weights))
            if word not in seen:
                seen.add(word)
                lexicon.append(word)
        ranks = rng.zipf(1.07, size=n * 2)
        ranks = ranks[ranks <= len(lexicon)][:n] - 1
        tokens = [lexicon[r] for r in ranks]
        position = 0
        while position < len(tokens):
            doc_tokens = tokens[position:position + doc_words]
            position += doc_words
            sentences, i = [], 0
            while i < len(doc_tokens):
                length = int(rng.integers(5, 41))
                sentence = doc_tokens[i:i + length]
                sentences.append(" ".join(sentence).capitalize() + ".")
                i += length
            handles[doc_id % files].write(json.dumps({"text": " ".join(sentences)}) + "\n")
            doc_id += 1
        written += len(tokens)
    stack.close()
    (out / "meta.json").write_text(json.dumps({"documents": doc_id, "words": written,
                                               "vocabulary": len(lexicon)}))
    done.write_text("")
    return out


class PeakTreeRSS:
    """Sample the summed RSS of a process and its descendants; ``peak`` in bytes."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                processes = [self.process, *self.process.children(recursive=True)]
            except psutil.Error:
                return
            for process in processes:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)


def run_child(code: str, *args: str) -> tuple[dict, float, int]:
    """Run ``python -c code args`` (code prints one JSON line last); (result, seconds, peak RSS bytes).

    ``result["cpu_seconds"]`` is added: user + system CPU of the child and its waited-for children.
    """
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                               text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    with PeakTreeRSS(process.pid) as sampler:
        output, _ = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"child failed ({process.returncode}): {code[:200]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the last JSON object printed (anything else on stdout, e.g. a progress bar, is ignored)
    result = json.loads(output[output.rindex('{"seconds"'):].splitlines()[0])
    # CPU seconds of the child and the descendants it waited for (pool workers): on a shared
    # machine this is steadier than wall time
    result["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result, seconds, sampler.peak


BUILD_CODE = """
import json, sys, time
import dft_registry
started = time.perf_counter()
kwargs = json.loads(sys.argv[3])
r = dft_registry.build("bench", sys.argv[1], registry=sys.argv[2], **kwargs)
seconds = time.perf_counter() - started
h = r.manifest["headline"]
print(json.dumps({"seconds": seconds, "totals": r.manifest["totals"], "headline": h}))
"""


def run_build(source: Path, registry: Path, **kwargs) -> tuple[dict, float, int]:
    """One ``dft_registry.build`` in a fresh child process; (result, wall seconds, peak RSS)."""
    import shutil

    shutil.rmtree(registry, ignore_errors=True)
    return run_child(BUILD_CODE, str(source), str(registry), json.dumps(kwargs))


def rng_for(seed: int) -> random.Random:
    return random.Random(seed)


def publish_results(text: str, section: str, record: bool) -> None:
    """Print a benchmark's table and, with ``--record``, append it to RESULTS.md under ``section``."""
    print(text)
    if record:
        with open(Path(__file__).parent / "RESULTS.md", "a", encoding="utf-8") as handle:
            handle.write(f"\n\n## {section}\n\n" + text + "\n")
