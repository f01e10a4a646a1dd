"""End-to-end build throughput against raw spaCy, 1 vs 2 workers, peak RSS.

    python benchmarks/ingest.py [--workers 1 2] [--record]

Corpus: the Python 3.11 docs corpus of ../shared/MODELS.md section 4 (5.0M
whitespace words, 5915 ~1000-word JSONL documents in 4 shards; see
_common.py). Measured in one run, each in a fresh child process:

* raw spaCy: ``spacy.blank("en")`` + ``sentencizer``, ``nlp.pipe`` over the
  texts (batch 64), counting non-space tokens and sentences: the floor any
  spaCy-based build pays. With P=2, a ``multiprocessing`` pool of 2 runs the
  same over the 4 shards (spaCy's own ``n_process=2`` is slower: it ships
  Docs back).
* ``dft_registry.build`` with ``workers=P``: segmenting, every statistic of
  the bundle, the DuckDB reduce and the commit, from a fresh registry.

words/s = whitespace words of the corpus / seconds inside the child (imports
excluded for both); wall = the child process's whole life. Goals (issue 3):
build >= 0.85x raw spaCy, 2 workers >= 1.8x 1 worker.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import (
    WORK,
    corpus_meta,
    load,
    publish_results,
    python_docs_corpus,
    run_build,
    run_child,
)

RAW_SPACY = """
import json, sys, time
from pathlib import Path
import spacy

def count(path):
    nlp = spacy.blank("en"); nlp.add_pipe("sentencizer")
    texts = [json.loads(line)["text"] for line in open(path, encoding="utf-8")]
    nlp.max_length = max(map(len, texts)) + 1
    tokens = sentences = 0
    for doc in nlp.pipe(texts, batch_size=64):
        tokens += sum(not t.is_space for t in doc)
        sentences += sum(1 for _ in doc.sents)
    return tokens, sentences

if __name__ == "__main__":
    shards = sorted(Path(sys.argv[1]).glob("shard_*.jsonl"))
    processes = int(sys.argv[2])
    started = time.perf_counter()
    if processes == 1:
        parts = [count(s) for s in shards]
    else:
        import multiprocessing
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            parts = pool.map(count, shards, chunksize=1)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "tokens": sum(p[0] for p in parts),
                      "sentences": sum(p[1] for p in parts)}))
"""


def raw_spacy(corpus: Path, processes: int) -> tuple[dict, float, int]:
    script = WORK / "raw_spacy.py"  # a file, so spawned pool workers can import __main__
    script.write_text(RAW_SPACY)
    return run_child(f"import runpy, sys; sys.argv = sys.argv; "
                     f"runpy.run_path({str(script)!r}, run_name='__main__')",
                     str(corpus), str(processes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = parser.parse_args()
    corpus = python_docs_corpus()
    meta = corpus_meta(corpus)
    words = meta["words"]
    rows = []
    for workers in args.workers:
        before = load()
        raw, raw_wall, raw_rss = raw_spacy(corpus, workers)
        built, build_wall, build_rss = run_build(corpus, WORK / "ingest-registry", workers=workers)
        rows.append({"workers": workers, "load": before + " -> " + load(),
                     "raw_seconds": raw["seconds"], "raw_wall": raw_wall, "raw_rss": raw_rss,
                     "raw_tokens": raw["tokens"], "raw_sentences": raw["sentences"],
                     "build_seconds": built["seconds"], "build_wall": build_wall,
                     "build_rss": build_rss, "totals": built["totals"],
                     "raw_cpu": raw["cpu_seconds"], "build_cpu": built["cpu_seconds"]})
        print(json.dumps(rows[-1]), flush=True)
    lines = [
        (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `python benchmarks/ingest.py "
        f"--workers {' '.join(map(str, args.workers))}`: Python 3.11 docs corpus, "
        f"{words:,} whitespace words, {meta['documents']:,} documents, 4 JSONL shards. "
        "Shared machine: load averages before -> after each pair in the last column."),
        "",
        ("| P | raw spaCy s | raw w/s | build s | build w/s | build / raw | build wall s | "
        "CPU s raw | CPU s build | peak RSS build | peak RSS raw | load |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workers']} | {r['raw_seconds']:.1f} | {words / r['raw_seconds']:,.0f} | "
            f"{r['build_seconds']:.1f} | {words / r['build_seconds']:,.0f} | "
            f"{r['raw_seconds'] / r['build_seconds']:.2f}x | {r['build_wall']:.1f} | "
            f"{r['raw_cpu']:.0f} | {r['build_cpu']:.0f} | "
            f"{r['build_rss'] / 2**20:,.0f} MiB | {r['raw_rss'] / 2**20:,.0f} MiB | {r['load']} |")
    if len(rows) >= 2:
        one, two = rows[0], rows[1]
        lines += ["", (f"Speed-up {two['workers']} vs {one['workers']} workers: build "
                  f"{one['build_seconds'] / two['build_seconds']:.2f}x, raw spaCy "
                  f"{one['raw_seconds'] / two['raw_seconds']:.2f}x.")]
    t = rows[0]["totals"]
    lines += ["", (f"Counts: raw spaCy {rows[0]['raw_tokens']:,} tokens, {rows[0]['raw_sentences']:,} "
              f"sentences; build {t['tokens']:,} tokens, {t['words']:,} words, "
              f"{t['sentences']:,} sentences, vocabulary {t['vocabulary']:,}.")]
    text = "\n".join(lines)
    publish_results(text, "ingest (issue 3)", args.record)


if __name__ == "__main__":
    main()
