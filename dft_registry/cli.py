"""``dft-stats``: a thin click layer over the registry library.

Every command renders what a library function returns; every DftError becomes
one ``Error: ...`` line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import click
from rich.console import Console
from rich.table import Table

from .errors import DftError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class DftGroup(click.Group):
    """A click group that turns library errors into one clear line and an exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DftError as exc:
            err_console.print(f"[bold red]Error:[/] {exc}", soft_wrap=True, markup=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err_console.print("Interrupted: nothing was changed.")
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - last line of defence: one line, not a traceback
            if os.environ.get("DFT_DEBUG"):
                traceback.print_exc()
            err_console.print(f"[bold red]Internal error:[/] {type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:300]} (rerun with DFT_DEBUG=1 for "
                              "the traceback and report it)", soft_wrap=True)
            sys.exit(70)


registry_option = click.option(
    "--registry", envvar="DFT_REGISTRY", type=click.Path(file_okay=False),
    help="Registry directory (default: $DFT_REGISTRY, else this checkout, else ~/.local/share/dft).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


@click.group(cls=DftGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dft")
def cli():
    """Build, browse and share corpus-statistics bundles for Distribution Fine-Tuning.

    \b
    Examples:
      dft-stats build mydomain --source corpus/      # build a bundle from your files
      dft-stats build legal                          # build a shipped vertical from its recipe
      dft-stats list                                 # what the catalog holds
      dft-stats show legal                           # headline numbers of a bundle
    """


@cli.command()
@click.argument("domain")
@click.option("--source", "-s", help="File, directory, glob or saved HF dataset "
              "(.txt .md .jsonl .json .parquet .csv, optionally .gz/.bz2/.xz/.zst). "
              "Omit it to run the domain's shipped recipe.")
@registry_option
@click.option("--workers", "-w", type=int, default=None, help="Map processes (default: all cores).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where the map step runs; ray needs `pip install 'dft[ray]'`.")
@click.option("--ray-address", default=None, help="Ray cluster address (default: a local cluster).")
@click.option("--segmenter", default="spacy-sentencizer.v1", show_default=True,
              help="Registered segmenter: spacy-sentencizer.v1, regex.v1, spacy-model.v1.")
@click.option("--min-doc-count", type=int, default=2, show_default=True,
              help="Keep n-grams and openers seen in at least this many documents.")
@click.option("--max-ngrams", type=int, default=100_000, show_default=True,
              help="Keep at most this many n-grams per order n = 2, 3, 4.")
@click.option("--window-samples", type=int, default=2_000, show_default=True,
              help="Feature windows sampled per window size.")
@click.option("--text-field", default="text", show_default=True, help="JSON field holding the text.")
@click.option("--text-column", default="text", show_default=True,
              help="Parquet/CSV/dataset column holding the text.")
@click.option("--memory-limit", default="2GB", show_default=True,
              help="Counts spill to disk past this size (all workers together).")
@click.option("--description", default="", help="One line describing the corpus.")
@click.option("--license", "license_", default="", help="License of the corpus (e.g. CC-BY-4.0).")
@click.option("--strict", is_flag=True, help="Fail on the first unreadable input instead of skipping it.")
@click.option("--no-cache", is_flag=True,
              help="Recount every file (by default unchanged files reuse their cached partial counts).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@json_option
def build(domain, source, registry, workers, executor, ray_address, segmenter, min_doc_count,
          max_ngrams, window_samples, text_field, text_column, memory_limit, description,
          license_, strict, no_cache, quiet, as_json):
    """Build a new version of DOMAIN's stat bundle (or report it up to date).

    \b
    Examples:
      dft-stats build legal
      dft-stats build mynews --source 'data/*.jsonl.gz' --text-field body --workers 4
    """
    from .pipeline import build as run_build

    progress = None if quiet or as_json else BuildProgress()
    options = {"address": ray_address} if executor == "ray" and ray_address else None
    try:
        result = run_build(
            domain, source, registry=registry, workers=workers, segmenter=segmenter,
            min_doc_count=min_doc_count, max_ngrams=max_ngrams, window_samples=window_samples,
            text_field=text_field, text_column=text_column, memory_limit=memory_limit,
            description=description, license=license_, strict=strict, executor=executor,
            executor_options=options, incremental=not no_cache, on_progress=progress)
    finally:
        if progress:
            progress.stop()
    skipped = sum(s["count"] for s in result.manifest.get("skipped", []))
    if as_json:
        echo_json({"ref": result.ref, "created": result.created, "content_hash": result.content_hash,
                   "path": str(result.path), "seconds": round(result.seconds, 3),
                   "totals": result.manifest["totals"], "skipped": result.manifest.get("skipped", [])})
        return
    from .describe import plural

    totals = result.manifest["totals"]
    if result.created:
        console.print(f"Built [bold]{result.ref}[/] ({plural(totals['documents'], 'document')}, "
                      f"{plural(totals['words'], 'word')}, {plural(totals['sentences'], 'sentence')}) in "
                      f"{result.seconds:.1f} s  sha256:{result.content_hash[:12]}")
    else:
        console.print(f"[bold]{result.ref}[/] is up to date (same content hash "
                      f"sha256:{result.content_hash[:12]}); no new version.")
    if skipped:
        console.print(f"Skipped {skipped:,} input(s): see `dft-stats show {result.ref} --json` "
                      "(\"skipped\") for files and reasons.")


class BuildProgress:
    """Renders build progress events as a rich progress bar (files, MB/s, words/s); the bar
    only on a terminal (piped output gets the messages, not an empty line where it was)."""

    def __init__(self):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total} files"),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
            console=err_console, transient=True)
        self.task = None
        self.live = err_console.is_terminal
        self.words = 0
        self.bytes = 0
        self.started = None

    def __call__(self, event: dict) -> None:
        import time

        stage = event.get("stage")
        if stage == "prepare":
            err_console.print(f"Preparing the {event['domain']} corpus from its recipe "
                              "(first run only; cached afterwards)...")
        elif stage == "map":
            if self.live:
                self.progress.start()
            self.started = time.perf_counter()
            self.task = self.progress.add_task("counting", total=event["files_total"], rate="")
        elif stage == "reduce":
            if self.task is not None:
                self.progress.update(self.task, description="merging")
        elif self.task is not None:
            self.words += event.get("words", 0)
            self.bytes += event.get("bytes", 0)
            elapsed = max(time.perf_counter() - self.started, 1e-6)
            rate = f"{self.words / elapsed:,.0f} words/s  {self.bytes / elapsed / 1e6:.1f} MB/s"
            self.progress.update(self.task, advance=event.get("files", 0), rate=rate)

    def stop(self):
        if self.live:
            self.progress.stop()


@cli.command(name="list")
@registry_option
@click.option("--all-versions", is_flag=True, help="Every version, not only the latest.")
@json_option
def list_(registry, all_versions, as_json):
    """List the bundles in the catalog (latest version of each domain).

    \b
    Example:
      dft-stats list --all-versions
    """
    from .catalog import latest_entries, read_catalog, sort_entries
    from .registry import registry_root

    catalog = read_catalog(registry_root(registry, must_exist=True))
    entries = sort_entries(catalog["bundles"]) if all_versions else latest_entries(catalog)
    if as_json:
        echo_json(entries)
        return
    if not entries:
        console.print("The catalog is empty: build one with `dft-stats build DOMAIN --source PATH`.")
        return
    from .describe import plural

    table = Table(title=plural(len({e['domain'] for e in entries}), "domain"))
    rows = [(e["domain"], e["version"], f"{e['totals']['documents']:,}", f"{e['totals']['words']:,}",
             f"{e.get('headline', {}).get('sentence_length_mean', 0):.1f}",
             human_bytes(e.get("size_bytes", 0)), e.get("license", "")) for e in entries]
    headers = ["domain", "version", "docs", "words", "sent.len", "size", "license"]
    if console.width < 110:  # licenses are long: on a narrow terminal see --json or `show`
        headers.pop()
        rows = [row[:-1] for row in rows]
    for index, header in enumerate(headers):
        table.add_column(header, no_wrap=index < 6, overflow="fold",
                         justify="left" if index < 2 or index == 6 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@cli.command()
@click.argument("ref")
@registry_option
@click.option("--top", type=click.IntRange(1), default=15, show_default=True, help="How many top words to show.")
@json_option
def show(ref, registry, top, as_json):
    """Show a bundle's headline numbers: REF is DOMAIN, DOMAIN@vN or DOMAIN@sha256:PREFIX.

    \b
    Examples:
      dft-stats show legal
      dft-stats show legal@v1 --json
    """
    from .bundle import load
    from .describe import describe

    info = describe(load(ref, registry=registry), top=top)
    if as_json:
        echo_json(info)
        return
    t = info["totals"]
    s = info["sentence_length"]
    e = info["entropy_bits"]
    console.print(f"[bold]{info['ref']}[/]  sha256:{info['content_hash'][:16]}  "
                  f"{human_bytes(info['size_bytes'])}  built {info['created_at']}")
    if info["description"]:
        console.print(info["description"])
    summary = Table(show_header=False, box=None)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("documents", f"{t['documents']:,}")
    summary.add_row("words", f"{t['words']:,} ({t['tokens']:,} tokens with punctuation)")
    summary.add_row("sentences", f"{t['sentences']:,}")
    summary.add_row("vocabulary", f"{t.get('vocabulary', 0):,} word types")
    if s.get("sentences"):
        summary.add_row("sentence length", f"mean {s['mean']:.2f}, variance {s['variance']:.1f}, "
                        f"median {s['median']}, p90 {s['p90']} words")
    summary.add_row("entropy", f"unigram {e.get('unigram_entropy', 0):.3f} bits, conditional bigram "
                    f"{e.get('bigram_conditional_entropy', 0):.3f} bits")
    summary.add_row("segmenter", info["segmenter"]["name"])
    summary.add_row("license", info["license"] or "(not recorded)")
    for source in info["sources"]:
        summary.add_row("source", f"{source.get('name')} ({source.get('license', '?')})")
    skipped = sum(x["count"] for x in info["skipped"])
    if skipped:
        summary.add_row("skipped", f"{skipped:,} inputs (see --json)")
    console.print(summary)
    words = Table(title="top words")
    for column in ("token", "count", "per million", "docs"):
        words.add_column(column, justify="left" if column == "token" else "right")
    for w in info["top_words"]:
        words.add_row(w["token"], f"{w['count']:,}", f"{w['per_million']:,.0f}", f"{w['doc_count']:,}")
    grams = Table(title="top bigrams / openers")
    grams.add_column("bigram")
    grams.add_column("count", justify="right")
    grams.add_column("opener")
    grams.add_column("count", justify="right")
    rows = max(len(info["top_bigrams"]), len(info["top_openers"]))
    for i in range(rows):
        b = info["top_bigrams"][i] if i < len(info["top_bigrams"]) else {"ngram": "", "count": ""}
        o = info["top_openers"][i] if i < len(info["top_openers"]) else {"opener": "", "count": ""}
        grams.add_row(b["ngram"], f"{b['count']:,}" if b["count"] != "" else "",
                      o["opener"], f"{o['count']:,}" if o["count"] != "" else "")
    console.print(words)
    console.print(grams)


@cli.command()
@json_option
def recipes(as_json):
    """List the shipped recipes (`dft-stats build DOMAIN` with no --source runs one).

    \b
    Example:
      dft-stats recipes
    """
    from .recipes import all_recipes

    rows = [{"domain": r.domain, "description": r.description, "license": r.license,
             "sources": [s.name for s in r.sources], "approx_words": r.approx_words}
            for r in all_recipes().values()]
    if as_json:
        echo_json(rows)
        return
    table = Table(title="shipped recipes")
    for column in ("domain", "sources", "license", "~words"):
        table.add_column(column, justify="right" if column == "~words" else "left")
    for r in rows:
        table.add_row(r["domain"], "; ".join(r["sources"]), r["license"], f"{r['approx_words']:,}")
    console.print(table)


def main():
    cli(prog_name="dft-stats")


# Commands of the catalog/marketplace live in their own module, registered on `cli`.
try:
    from . import cli_catalog  # noqa: F401
except ImportError as _exc:  # pragma: no cover - only while that module is being written
    if "cli_catalog" not in str(_exc):
        raise
