"""``dft-stats`` commands for browsing and sharing bundles: search, query, diff, plot,
verify, html, publish, pull and ``catalog rebuild``.

Each command is a thin layer over a library module (query, search, distances,
plot, html, remote, hub); it only parses arguments and renders what comes back.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import click
from rich.table import Table

from .catalog import rebuild_catalog
from .cli import cli, console, echo_json, err_console, json_option, registry_option
from .errors import BundleCorrupt, UsageError

TABLE_MAX_ROWS = 100


# ---------------------------------------------------------------- search

@cli.command()
@click.argument("text")
@registry_option
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="At most this many rows per list.")
@json_option
def search(text, registry, limit, as_json):
    """Find bundles by name, description or source, and which bundles use a word most.

    TEXT matches domain names, descriptions, licenses and sources; a word (or
    a phrase of 2-4 words) is also looked up in every bundle and ranked by
    frequency per million words.

    \b
    Examples:
      dft-stats search court
      dft-stats search "the defendant" --json
    """
    from .search import search as run_search

    result = run_search(text, registry=registry, limit=limit)
    if as_json:
        echo_json(result)
        return
    if not result["catalog"] and not result["usage"]:
        console.print(f"Nothing matches {result['query']!r}: try another word or `dft-stats list`.")
        return
    if result["catalog"]:
        table = Table(title=f"bundles matching {result['query']!r}")
        for column in ("domain", "version", "matched", "license", "description"):
            table.add_column(column)
        for hit in result["catalog"]:
            table.add_row(hit["domain"], hit["version"], ", ".join(hit["matched"]), hit["license"],
                          hit["description"])
        console.print(table)
    if result["usage"]:
        table = Table(title=f"bundles using {result['query']!r} most")
        for column in ("domain", "version", "per million words", "count", "documents (at least)"):
            table.add_column(column, justify="left" if column in ("domain", "version") else "right")
        for row in result["usage"]:
            table.add_row(row["domain"], row["version"], f"{row['per_million']:,.1f}",
                          f"{row['count']:,}", f"{row['doc_count']:,}")
        console.print(table)


# ---------------------------------------------------------------- query

@cli.command()
@click.argument("args", nargs=-1, required=True, metavar="[REF] SQL")
@click.option("--all", "all_domains", is_flag=True,
              help="Query the latest bundle of every domain; each view gains `domain` and `version` "
                   "columns, and a `bundles` view lists the catalog.")
@registry_option
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--max-rows", type=int, default=TABLE_MAX_ROWS, show_default=True,
              help="Rows shown in table output (--json and --csv print all).")
def query(args, all_domains, registry, as_json, as_csv, max_rows):
    """Run read-only DuckDB SQL over a bundle's tables (views named after its files).

    Views: unigrams, ngrams, sentence_lengths, doc_lengths, windows, entropy,
    openers. Only SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE and EXPLAIN
    statements run; anything that writes is refused.

    \b
    Examples:
      dft-stats query legal "SELECT token, count FROM unigrams ORDER BY count DESC LIMIT 10"
      dft-stats query legal@v1 "SUMMARIZE sentence_lengths" --csv
      dft-stats query --all "SELECT domain, sum(count) AS words FROM unigrams
                             WHERE NOT is_punct GROUP BY domain ORDER BY words DESC"
    """
    from .bundle import load
    from .query import query_bundle, query_catalog

    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    if all_domains:
        if len(args) != 1:
            raise UsageError("with --all give only the SQL: dft-stats query --all \"SELECT ...\"")
        result = query_catalog(args[0], registry=registry)
    else:
        if len(args) != 2:
            raise UsageError("give a bundle and the SQL: dft-stats query REF \"SELECT ...\" "
                             "(or --all \"SELECT ...\" for every domain)")
        ref, sql = args
        from .query import check_read_only

        check_read_only(sql)  # refuse bad SQL before touching the bundle
        result = query_bundle(load(ref, registry=registry), sql)
    if as_json:
        echo_json(result.records())
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    else:
        table = Table()
        for column in result.columns:
            table.add_column(column)
        for row in result.rows[:max_rows]:
            table.add_row(*("" if value is None else str(value) for value in row))
        console.print(table)
        hidden = len(result.rows) - max_rows
        if hidden > 0:
            console.print(f"... {hidden:,} more rows (raise --max-rows, or use --csv/--json)")


# ---------------------------------------------------------------- diff

@cli.command()
@click.argument("ref_a")
@click.argument("ref_b")
@registry_option
@click.option("--top", type=click.IntRange(1), default=15, show_default=True,
              help="How many over- and under-represented words to show.")
@click.option("--smoothing", type=float, default=10.0, show_default=True,
              help="Per-million smoothing of the word log-ratios (larger favours common words).")
@json_option
def diff(ref_a, ref_b, registry, top, smoothing, as_json):
    """Compare two bundles: distances per statistic and the words that differ most.

    Jensen-Shannon divergence of unigrams (bits), Wasserstein-1 distance of
    sentence lengths (words), n-gram overlap, entropy differences (B - A),
    and the words most over- and under-represented in A relative to B.

    \b
    Examples:
      dft-stats diff legal news
      dft-stats diff legal@v1 legal@v2 --json
    """
    from .bundle import load
    from .distances import compare

    a, b = load(ref_a, registry=registry), load(ref_b, registry=registry)
    result = compare(a, b, top=top, smoothing=smoothing)
    result = {"a": a.ref, "b": b.ref, **result}
    if as_json:
        echo_json(result)
        return
    summary = Table(title=f"{a.ref} vs {b.ref}")
    summary.add_column("statistic")
    summary.add_column("value", justify="right")
    summary.add_row("unigram Jensen-Shannon (bits)", f"{result['unigram_js_bits']:.4f}")
    summary.add_row("word Jensen-Shannon, no punctuation (bits)", f"{result['word_js_bits']:.4f}")
    sl = result["sentence_length"]
    summary.add_row("sentence length Wasserstein-1 (words)", f"{sl['wasserstein1_words']:.3f}")
    summary.add_row("sentence length mean A / B (words)", f"{sl['mean_a']:.2f} / {sl['mean_b']:.2f}")
    for n, overlap in sorted(result["ngram_overlap"].items()):
        summary.add_row(f"{n}-gram overlap: Jaccard / shared mass",
                        f"{overlap['jaccard']:.3f} / {overlap['weighted']:.3f}")
    for row in result["entropy"]:
        if row["window"] == 0 or row["metric"] == "lexical_entropy_mean":
            label = row["metric"] + (f" @{row['window']} words" if row["window"] else "")
            summary.add_row(f"{label}: B - A (bits)", f"{row['difference']:+.4f}")
    console.print(summary)
    for key, title in (("over_represented", f"more frequent in {a.ref}"),
                       ("under_represented", f"more frequent in {b.ref}")):
        words = Table(title=title)
        for column in ("word", f"per million {a.ref}", f"per million {b.ref}", "log2 ratio"):
            words.add_column(column, justify="left" if column == "word" else "right")
        for w in result[key]:
            words.add_row(w["token"], f"{w['per_million_a']:,.1f}", f"{w['per_million_b']:,.1f}",
                          f"{w['log2_ratio']:+.2f}")
        console.print(words)


# ---------------------------------------------------------------- plot

@cli.command()
@click.argument("refs", nargs=-1, required=True)
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False),
              help="Image to write (.png, .svg or .pdf).")
@click.option("--panel", "panels", multiple=True,
              type=click.Choice(["sentence_lengths", "zipf", "entropy"]),
              help="Only these panels (repeatable; default: all three).")
@click.option("--title", default=None, help="Figure title (default: the references).")
@registry_option
def plot(refs, output, panels, title, registry):
    """Plot sentence lengths, rank-frequency curves and entropy profiles of bundles.

    Every REF is drawn on each panel, so several bundles compare at a glance.

    \b
    Examples:
      dft-stats plot legal -o legal.png
      dft-stats plot legal news fiction -o compare.png --panel zipf
    """
    from .bundle import load
    from .plot import PANELS, save_plot

    if Path(output).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"--output {output!r}: use a .png, .svg or .pdf file name")
    bundles = [load(ref, registry=registry) for ref in refs]
    path = save_plot(bundles, output, panels or PANELS, title)
    console.print(f"Wrote {path} ({', '.join(b.ref for b in bundles)})")


# ---------------------------------------------------------------- verify

def verify_entry(root: Path, entry: dict) -> list[str]:
    """Every problem with one catalogued bundle: its files, manifest and catalog entry."""
    from .bundle import bundle_dir, read_manifest, verify_bundle

    path = bundle_dir(root, entry["domain"], entry["version"])
    if not path.exists():
        return [f"{path.relative_to(root).as_posix()} is missing"]
    problems = verify_bundle(path)
    if not problems and read_manifest(path).get("content_hash") != entry.get("content_hash"):
        problems.append("the manifest's content hash differs from the catalog entry")
    return problems


@cli.command()
@click.argument("ref", required=False)
@click.option("--all", "all_bundles", is_flag=True, help="Verify every version in the catalog.")
@registry_option
@json_option
def verify(ref, all_bundles, registry, as_json):
    """Recompute every sha256 and the content hash of a bundle; exit 1 on any mismatch.

    \b
    Examples:
      dft-stats verify legal@v2
      dft-stats verify --all
    """
    from .catalog import read_catalog, resolve, sort_entries
    from .registry import BundleRef, registry_root

    if bool(ref) == bool(all_bundles):
        raise UsageError("give one REF to verify, or --all")
    root = registry_root(registry, must_exist=True)
    catalog = read_catalog(root)
    entries = sort_entries(catalog["bundles"]) if all_bundles else [resolve(catalog, BundleRef.parse(ref))]
    report = [{"ref": f"{e['domain']}@{e['version']}", "content_hash": e["content_hash"],
               "problems": verify_entry(root, e)} for e in entries]
    bad = [r for r in report if r["problems"]]
    if as_json:
        echo_json({"ok": not bad, "bundles": report})
        if bad:
            sys.exit(BundleCorrupt.exit_code)
        return
    for r in report:
        if r["problems"]:
            console.print(f"[red]FAIL[/] {r['ref']}: " + "; ".join(r["problems"]))
        else:
            console.print(f"[green]ok[/]   {r['ref']}  sha256:{r['content_hash'][:16]}")
    if bad:
        raise BundleCorrupt(f"{len(bad)} of {len(report)} bundle(s) failed verification "
                            f"({', '.join(r['ref'] for r in bad)}): pull or rebuild them")


# ---------------------------------------------------------------- html

@cli.command()
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False),
              help="Directory for index.html and the bundle pages.")
@click.option("--no-plots", is_flag=True, help="Skip the plots (faster for large catalogs).")
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="Top words/n-grams per page.")
@registry_option
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def html(output, no_plots, top, registry, quiet):
    """Write a static HTML catalog: a sortable index and one page per bundle.

    No server needed: open OUTPUT/index.html in a browser, or upload the
    directory to any static host.

    \b
    Example:
      dft-stats html -o site/ && xdg-open site/index.html
    """
    from .html import write_site

    started = time.perf_counter()

    def progress(page):
        if not quiet:
            err_console.print(f"wrote {page}")

    pages = write_site(output, registry=registry, plots=not no_plots, top=top, on_page=progress)
    console.print(f"Wrote {len(pages) - 1} bundle page(s) and {pages[0]} in "
                  f"{time.perf_counter() - started:.1f} s")


# ---------------------------------------------------------------- publish / pull

@cli.command()
@click.argument("ref")
@click.option("--to", "dest", required=True,
              help="Remote: a directory, an fsspec URL (s3://..., memory://...) or hf://datasets/ORG/NAME.")
@click.option("--token", envvar="HF_TOKEN", default=None, help="Hub token (default: $HF_TOKEN or login).")
@registry_option
@json_option
def publish(ref, dest, token, registry, as_json):
    """Publish a bundle version (files + catalog entry) to a remote registry.

    Versions are immutable: publishing a version the remote already holds with
    a different content hash is refused.

    \b
    Examples:
      dft-stats publish legal --to /shared/dft-registry
      dft-stats publish legal@v2 --to s3://team-bucket/dft
      dft-stats publish legal --to hf://datasets/my-org/dft-legal
    """
    from .describe import plural
    from .remote import publish as run_publish

    result = run_publish(ref, dest, registry=registry, token=token)
    if as_json:
        echo_json(vars(result))
    elif result.created:
        console.print(f"Published [bold]{result.ref}[/] (sha256:{result.content_hash[:12]}, "
                      f"{plural(result.files, 'file')}) to {dest}")
    else:
        console.print(f"{dest} already has [bold]{result.ref}[/] (same content hash); nothing to do.")


@cli.command()
@click.argument("name")
@click.option("--from", "src", required=True,
              help="Remote: a directory, an fsspec URL or hf://datasets/ORG/NAME.")
@click.option("--token", envvar="HF_TOKEN", default=None, help="Hub token (default: $HF_TOKEN or login).")
@registry_option
@json_option
def pull(name, src, token, registry, as_json):
    """Download NAME[@vN] from a remote, verify every sha256, and add it to the catalog.

    Nothing becomes visible unless every file matches the manifest and the
    remote's catalog entry.

    \b
    Examples:
      dft-stats pull legal --from /shared/dft-registry
      dft-stats pull legal@v2 --from hf://datasets/my-org/dft-legal
    """
    from .remote import pull as run_pull

    result = run_pull(name, src, registry=registry, token=token)
    if as_json:
        echo_json(vars(result))
    elif result.created:
        console.print(f"Pulled [bold]{result.ref}[/] (sha256:{result.content_hash[:12]}, verified) "
                      f"into {result.location}")
    else:
        console.print(f"[bold]{result.ref}[/] is already here (same content hash); nothing to do.")


# ---------------------------------------------------------------- catalog rebuild

@cli.group()
def catalog():
    """Maintain the registry's catalog.json.

    \b
    Example:
      dft-stats catalog rebuild
    """


@catalog.command()
@registry_option
@click.option("--dry-run", is_flag=True, help="Only report what the new catalog would hold.")
@json_option
def rebuild(registry, dry_run, as_json):
    """Reconstruct catalog.json from the bundles on disk, verifying each one.

    The only way to replace a corrupt catalog.json: the old file is kept as
    catalog.json.bak; bundles that fail verification are left out and listed.

    \b
    Example:
      dft-stats catalog rebuild --dry-run
    """
    from .registry import registry_root

    result = rebuild_catalog(registry_root(registry), dry_run=dry_run)
    if as_json:
        echo_json({"bundles": [f"{e['domain']}@{e['version']}" for e in result["entries"]],
                   "skipped": result["skipped"], "backup": result["backup"], "dry_run": dry_run})
        return
    verb = "Would write" if dry_run else "Rebuilt"
    console.print(f"{verb} catalog.json with {len(result['entries'])} bundle(s)"
                  + (f"; the old one is kept as {result['backup']}" if result["backup"] else ""))
    for skip in result["skipped"]:
        console.print(f"[yellow]left out[/] {skip['ref']}: {skip['problem']}")
