"""datatrove's word + sentence stats and ``dft-stats build``, side by side on one corpus.

    pip install datatrove orjson tldextract      # into the venv
    python benchmarks/vs_datatrove.py [--workers 2] [--record]

Corpus: the 5.0M-word Python docs corpus in 4 JSONL shards (_common.py,
../shared/MODELS.md section 4). Both run in fresh child processes with the
same number of workers (datatrove: LocalPipelineExecutor, 4 tasks; dft:
``build(workers=W)``), then datatrove's StatsMerger. words/s = whitespace
words / seconds inside the child, imports excluded for both.

What each computes: datatrove WordStats + SentenceStats (summary and
histogram groups) tokenise every document twice with spaCy (once per block)
and keep per-document summaries (word counts, ratios, chars per sentence).
dft segments once and writes unigram/n-gram tables with document counts,
sentence- and document-length histograms, windowed feature samples, an
entropy profile and openers.

Sentence length: datatrove reports chars per sentence averaged per document;
the comparable words-per-sentence figure is total ``n_words`` / total
``n_sentences`` (its words include punctuation tokens). dft reports
non-punctuation words per sentence over the corpus; tokens / sentences is
printed too.
"""

from __future__ import annotations

import argparse
import json
import shutil
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

DATATROVE = """
import json, sys, time
from pathlib import Path

if __name__ == "__main__":   # datatrove's local executor spawns workers
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.stats import SentenceStats, StatsMerger, WordStats
    corpus, out, workers = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    groups = ["summary", "histogram"]   # no URL metadata: no fqdn/suffix groups
    started = time.perf_counter()
    LocalPipelineExecutor([JsonlReader(corpus, glob_pattern="shard_*.jsonl", doc_progress=False),
                           WordStats(str(out / "stats"), groups_to_compute=groups),
                           SentenceStats(str(out / "stats"), groups_to_compute=groups)],
                          tasks=4, workers=workers, logging_dir=str(out / "logs")).run()
    mapped = time.perf_counter() - started
    LocalPipelineExecutor([StatsMerger(str(out / "stats"), str(out / "merged"))], tasks=1,
                          logging_dir=str(out / "logs_merge")).run()
    seconds = time.perf_counter() - started
    summary = {}
    for metric in ("n_words", "n_sentences", "avg_sentence_length"):
        path = out / "merged" / "summary" / metric / "metric.json"
        summary[metric] = json.loads(path.read_text())
    print(json.dumps({"seconds": seconds, "map_seconds": mapped, "summary": summary}))
"""


def datatrove(corpus: Path, workers: int) -> tuple[dict, float, int]:
    out = WORK / "datatrove-out"
    shutil.rmtree(out, ignore_errors=True)
    script = WORK / "datatrove_stats.py"
    script.write_text(DATATROVE)
    return run_child(f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')",
                     str(corpus), str(out), str(workers))


def _total(metric: dict) -> float:
    """A merged datatrove metric.json: {"total", "n", "mean", ...} (possibly nested)."""
    if "total" in metric:
        return metric["total"]
    return next(iter(metric.values()))["total"]


def _mean(metric: dict) -> float:
    if "mean" in metric:
        return metric["mean"]
    return next(iter(metric.values()))["mean"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = parser.parse_args()
    corpus = python_docs_corpus()
    meta = corpus_meta(corpus)
    words = meta["words"]
    rows = []
    for workers in args.workers:
        before = load()
        dt, dt_wall, dt_rss = datatrove(corpus, workers)
        built, build_wall, build_rss = run_build(corpus, WORK / "vs-datatrove-registry",
                                                 workers=workers)
        rows.append({"workers": workers, "load": before + " -> " + load(), "datatrove": dt,
                     "dt_wall": dt_wall, "dt_rss": dt_rss, "build": built,
                     "build_wall": build_wall, "build_rss": build_rss})
        print(json.dumps(rows[-1]), flush=True)
    lines = [
        (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `python benchmarks/vs_datatrove.py "
        f"--workers {' '.join(map(str, args.workers))}`: Python 3.11 docs corpus, {words:,} "
        f"whitespace words, {meta['documents']:,} documents, 4 JSONL shards; datatrove "
        "WordStats + SentenceStats (4 tasks) + StatsMerger vs `dft_registry.build` (all "
        "statistics). Shared machine: load before -> after in the last column."),
        "",
        ("| W | datatrove s | datatrove w/s | dft build s | dft w/s | dft / datatrove | "
        "CPU s dft | peak RSS datatrove | peak RSS dft | load |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        dt_s, b_s = r["datatrove"]["seconds"], r["build"]["seconds"]
        lines.append(f"| {r['workers']} | {dt_s:.1f} | {words / dt_s:,.0f} | {b_s:.1f} | "
                     f"{words / b_s:,.0f} | {dt_s / b_s:.2f}x | "
                     f"{r['build']['cpu_seconds']:.0f} | {r['dt_rss'] / 2**20:,.0f} MiB | "
                     f"{r['build_rss'] / 2**20:,.0f} MiB | {r['load']} |")
    r = rows[-1]
    summary = r["datatrove"]["summary"]
    dt_words, dt_sentences = _total(summary["n_words"]), _total(summary["n_sentences"])
    totals, headline = r["build"]["totals"], r["build"]["headline"]
    lines += [
        "",
        "| sentence length | datatrove | dft |",
        "|---|---:|---:|",
        f"| sentences | {dt_sentences:,.0f} | {totals['sentences']:,} |",
        f"| tokens (punctuation included) | {dt_words:,.0f} | {totals['tokens']:,} |",
        (f"| tokens / sentence | {dt_words / dt_sentences:.2f} | "
        f"{totals['tokens'] / totals['sentences']:.2f} |"),
        f"| words (no punctuation) / sentence | - | {headline['sentence_length_mean']:.2f} |",
        (f"| chars / sentence (mean of per-doc means) | {_mean(summary['avg_sentence_length']):.1f} "
        "| - |"),
    ]
    text = "\n".join(lines)
    publish_results(text, "vs datatrove (issue 8)", args.record)


if __name__ == "__main__":
    main()
