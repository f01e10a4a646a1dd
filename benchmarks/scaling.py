"""Peak memory of a build as the corpus grows, and a build whose counts exceed --memory-limit.

    python benchmarks/scaling.py [--words 2000000 10000000 20000000] [--memory-limit 512MB]
                                 [--workers 2] [--segmenter spacy-sentencizer.v1] [--record]

Corpora: synthetic Zipfian text whose vocabulary keeps growing (Heaps' law,
see _common.zipf_corpus), so every larger corpus has more distinct words and
n-grams: counts grow without bound, unlike real text repeated. Each build
runs in a fresh child process from a fresh registry with ``--memory-limit``;
peak RSS is the peak of the summed RSS of the build process and its map
workers (sampled every 50 ms). "counts in memory" is what the map step would
hold without spilling: distinct unigrams + n-grams (from the manifest) at the
2 x 180 bytes per entry that ``PartialCounts`` budgets for a Counter entry.
"""

from __future__ import annotations

import argparse
import json
import time

from _common import WORK, load, publish_results, run_build, zipf_corpus

BYTES_PER_ENTRY = 2 * 180  # count + doc count, as stats/partial.py estimates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, nargs="+", default=[2_000_000, 10_000_000, 20_000_000])
    parser.add_argument("--memory-limit", default="512MB")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--segmenter", default="spacy-sentencizer.v1")
    parser.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = parser.parse_args()
    rows = []
    for words in args.words:
        corpus = zipf_corpus(WORK / f"zipf-{words}", words)
        meta = json.loads((corpus / "meta.json").read_text())
        before = load()
        built, wall, peak = run_build(corpus, WORK / "scaling-registry", workers=args.workers,
                                      memory_limit=args.memory_limit, segmenter=args.segmenter,
                                      incremental=False)
        manifest = json.loads(next((WORK / "scaling-registry" / "stats" / "bench").glob(
            "v*/manifest.json")).read_text())
        distinct = manifest["totals"]["vocabulary"] + sum(
            t["distinct"] for t in manifest["ngram_totals"].values())
        rows.append({"words": words, "meta": meta, "seconds": built["seconds"], "wall": wall,
                     "peak": peak, "distinct": distinct, "load": before + " -> " + load(),
                     "corpus_bytes": sum(p.stat().st_size for p in corpus.glob("*.jsonl"))})
        print(json.dumps(rows[-1]), flush=True)
    lines = [
        (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `python benchmarks/scaling.py "
        f"--words {' '.join(map(str, args.words))} --memory-limit {args.memory_limit} --workers "
        f"{args.workers} --segmenter {args.segmenter}`: synthetic Zipfian corpora (vocabulary "
        "grows with the corpus), fresh registry, no partials cache."),
        "",
        ("| words | corpus MB | vocabulary | distinct n-grams + words | counts in memory (est.) | "
        "build s | words/s | peak RSS (all processes) | load |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['words']:,} | {r['corpus_bytes'] / 2**20:,.0f} | {r['meta']['vocabulary']:,} | "
            f"{r['distinct']:,} | {r['distinct'] * BYTES_PER_ENTRY / 2**30:,.2f} GiB | "
            f"{r['seconds']:.0f} | {r['words'] / r['seconds']:,.0f} | {r['peak'] / 2**20:,.0f} MiB | "
            f"{r['load']} |")
    text = "\n".join(lines)
    publish_results(text, "scaling: peak memory vs corpus size (issue 8)", args.record)


if __name__ == "__main__":
    main()
