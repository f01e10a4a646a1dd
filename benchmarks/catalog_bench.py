"""How fast do list, show, search and query answer on a registry of 100 bundles?

Builds a few bundles with the real pipeline from synthetic Zipfian corpora,
derives the rest by perturbing their counts (re-written, re-hashed and
committed like a real build, so every bundle verifies), then times each
command against a bare DuckDB query of one Parquet file in the same run:

- in-process: the click command through CliRunner (argument parsing, catalog
  read, bundle verification, rendering) vs ``duckdb.sql(...)`` on a fresh
  connection, median of --repeat runs;
- cold: ``dft-stats ...`` in a subprocess (Python start-up and imports
  included) vs ``python -c "import duckdb; ..."``, median of --cold-repeat runs.

    python benchmarks/catalog_bench.py --bundles 100 --results benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

import dft_registry
from dft_registry.atomic import atomic_write_json
from dft_registry.bundle import MANIFEST, TABLES, content_hash, read_manifest, write_table
from dft_registry.catalog import read_catalog
from dft_registry.pipeline import commit_bundle, headline

VOCABULARY = 20_000


def zipf_corpus(directory: Path, seed: int, documents: int = 40, words_per_doc: int = 800) -> Path:
    """Documents of Zipf-distributed words (s ~ 1.1) in sentences of 5-40 words."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{seed}x{i}" if i > 200 else f"common{i}" for i in range(VOCABULARY)]
    ranks = np.arange(1, VOCABULARY + 1)
    p = 1.0 / ranks ** 1.1
    p /= p.sum()
    directory.mkdir(parents=True, exist_ok=True)
    for d in range(documents):
        words = rng.choice(VOCABULARY, size=words_per_doc, p=p)
        sentences, i = [], 0
        while i < len(words):
            n = int(rng.integers(5, 40))
            sentence = " ".join(vocabulary[w] for w in words[i:i + n])
            sentences.append(sentence[:1].upper() + sentence[1:] + ".")
            i += n
        (directory / f"doc{d:03d}.txt").write_text(" ".join(sentences) + "\n", encoding="utf-8")
    return directory


def perturbed_copy(root: Path, base: Path, domain: str, seed: int) -> None:
    """Commit a new bundle whose counts are the base bundle's times random factors."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    manifest = read_manifest(base)
    tables = {name: pq.read_table(base / f"{name}.parquet") for name in TABLES}
    for name, column in (("unigrams", "count"), ("ngrams", "count"), ("sentence_lengths", "count"),
                         ("doc_lengths", "count"), ("openers", "count")):
        table = tables[name]
        counts = table.column(column).to_numpy()
        factors = rng.lognormal(0.0, 0.5, size=counts.size)
        new = np.maximum(1, np.round(counts * factors)).astype(np.int64)
        tables[name] = table.set_column(table.schema.get_field_index(column), column, pa.array(new))
    staged = root / "stats" / ".tmp" / f"bench-{domain}"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    files = {f"{name}.parquet": write_table(table, staged / f"{name}.parquet")
             for name, table in tables.items()}
    unigrams = tables["unigrams"]
    punct = unigrams.column("is_punct").to_numpy(zero_copy_only=False)
    counts = unigrams.column("count").to_numpy()
    manifest.update(
        domain=domain, version=None, files=files, headline=headline(tables),
        content_hash=content_hash({n: r["sha256"] for n, r in files.items()}),
        description=f"Synthetic perturbed bundle {domain} (benchmark)", license="CC0-1.0",
        totals=dict(manifest["totals"], words=int(counts[~punct].sum()), tokens=int(counts.sum()),
                    sentences=int(tables["sentence_lengths"].column("count").to_numpy().sum())))
    atomic_write_json(staged / MANIFEST, manifest)
    commit_bundle(root, domain, staged, manifest)


def make_registry(root: Path, bundles: int, base_builds: int, workers: int) -> dict:
    started = time.perf_counter()
    bases = []
    for b in range(base_builds):
        corpus = zipf_corpus(root.parent / f"corpus{b}", seed=b)
        result = dft_registry.build(f"base{b}", corpus, registry=root, workers=workers,
                                    description=f"Zipfian synthetic corpus {b}", license="CC0-1.0")
        bases.append(result.path)
    build_s = time.perf_counter() - started
    for i in range(bundles - base_builds):
        perturbed_copy(root, bases[i % len(bases)], f"domain{i:03d}", seed=1000 + i)
    return {"build_s": build_s, "copy_s": time.perf_counter() - started - build_s}


def median_times(functions: dict, repeat: int) -> dict[str, float]:
    """Median seconds per function, timed round-robin so load on a shared machine hits all alike."""
    for fn in functions.values():
        fn()  # warm-up (imports, file cache)
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeat):
        for name, fn in functions.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=100)
    parser.add_argument("--base-builds", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cold-repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="Build the registry here and keep it.")
    parser.add_argument("--results", type=Path, default=None, help="Append a section to this file.")
    args = parser.parse_args(argv)

    from click.testing import CliRunner

    from dft_registry.cli import cli

    workdir = Path(tempfile.mkdtemp(prefix="dft-catalog-bench-"))
    root = (args.keep or workdir / "registry").resolve()
    try:
        if not (root / "catalog.json").exists():
            made = make_registry(root, args.bundles, args.base_builds, args.workers)
            print(f"registry: {args.bundles} bundles in {root} (real builds {made['build_s']:.1f} s, "
                  f"perturbed copies {made['copy_s']:.1f} s)")
        catalog = read_catalog(root)
        entries = catalog["bundles"]
        one = root / entries[len(entries) // 2]["path"] / "unigrams.parquet"
        sample_domain = entries[len(entries) // 2]["domain"]
        size = sum(e["size_bytes"] for e in entries)
        print(f"{len(entries)} bundles, {size / 1e6:.1f} MB; one unigrams file: {one.stat().st_size / 1e3:.0f} KB")

        import duckdb

        def bare():
            con = duckdb.connect()
            con.sql(f"SELECT token, count FROM read_parquet('{one}') ORDER BY count DESC LIMIT 10").fetchall()
            con.close()

        runner = CliRunner()
        commands = {
            "list": ["list"],
            "list --json": ["list", "--json"],
            "show": ["show", sample_domain],
            "search (name)": ["search", "domain05"],
            "search (word)": ["search", "common7"],
            "query REF": ["query", sample_domain, "SELECT token, count FROM unigrams ORDER BY count DESC LIMIT 10"],
            "query --all": ["query", "--all", ("SELECT domain, sum(count) AS n FROM unigrams "
                                              "GROUP BY domain ORDER BY n DESC LIMIT 10")],
        }

        def invoke(argv):
            def call():
                result = runner.invoke(cli, [*argv, "--registry", str(root)])
                assert result.exit_code == 0, result.output
            return call

        bare_name = "bare duckdb (one Parquet file)"
        timed = median_times({bare_name: bare, **{n: invoke(a) for n, a in commands.items()}},
                             args.repeat)
        rows = [(name, t, t / timed[bare_name]) for name, t in timed.items()]

        env = dict(os.environ, DFT_REGISTRY=str(root), COLUMNS="120")
        bare_sql = f"SELECT token, count FROM read_parquet('{one}') ORDER BY count DESC LIMIT 10"
        bare_cmd = [sys.executable, "-c", f"import duckdb; duckdb.sql({bare_sql!r}).fetchall()"]
        exe = shutil.which("dft-stats") or "dft-stats"

        def cold(cmd):
            def call():
                subprocess.run(cmd, env=env, check=True, capture_output=True)
            return call

        cold_name = "python -c 'import duckdb; one query'"
        timed = median_times({cold_name: cold(bare_cmd),
                              **{f"dft-stats {n}": cold([exe, *commands[n]])
                                 for n in ("list", "show", "search (word)", "query REF", "query --all")}},
                             args.cold_repeat)
        cold_rows = [(name, t, t / timed[cold_name]) for name, t in timed.items()]

        lines = ["| in-process (CliRunner) | median ms | × bare duckdb |", "|---|---:|---:|"]
        lines += [f"| {n} | {t * 1e3:.1f} | {r:.1f} |" for n, t, r in rows]
        lines += ["", "| cold subprocess | median ms | × python+duckdb |", "|---|---:|---:|"]
        lines += [f"| {n} | {t * 1e3:.0f} | {r:.1f} |" for n, t, r in cold_rows]
        table = "\n".join(lines)
        print(table)
        if args.results:
            header = (f"\n## catalog\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                      f"`python benchmarks/catalog_bench.py --bundles {args.bundles}`: "
                      f"{len(entries)} bundles ({args.base_builds} real builds of Zipfian corpora, "
                      f"the rest perturbed copies), {size / 1e6:.1f} MB; "
                      f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
                      "(shared machine). Median of "
                      f"{args.repeat} (in-process) and {args.cold_repeat} (cold) runs after a warm-up, "
                      "round-robin.\n\n")
            with open(args.results, "a", encoding="utf-8") as handle:
                handle.write(header + table + "\n")
        print(json.dumps({n: round(r, 2) for n, _, r in rows + cold_rows}))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
