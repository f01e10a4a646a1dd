"""``dft-eval``: how close generated text is to a domain, each number with its human noise floor.

A thin layer over :mod:`dft_train.evaluate`: read or generate continuations,
read held-out human text, print a table (or ``--json``), draw ``--plot``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click

from dft_registry.errors import DftError, EvalError

from .cli import fail as _fail
from .cli import quiet_libraries as _quiet_libraries

EXAMPLE = """\b
Examples:
  dft-eval --domain legal --generations samples.jsonl --human heldout/
  dft-eval --domain legal@v1 --model runs/legal-dft --human 'heldout/*.txt' \\
           --prompts 128 --seeds 0,1 --max-new-tokens 64 --plot legal.png
\b
--generations: .jsonl with a "text" field per line (optional "seed" groups
lines into generation seeds; optional "human" holds the human continuation of
the same prompt), or any other text file with one generation per line.
"""

LABELS = {
    "perplexity": "perplexity (held-out)",
    "distinct_1": "distinct-1",
    "distinct_2": "distinct-2",
    "distinct_3": "distinct-3",
    "self_bleu": "self-BLEU-4",
    "sentence_length_mean": "sentence length mean (KM)",
    "sentence_length_var": "sentence length variance (KM)",
    "sentence_length_w1_bundle": "sentence length W1 to bundle",
    "token_js_bits": "token JS to bundle (bits)",
    "feature_mmd2": "feature MMD² to bundle",
    "repetition_rate": "repetition rate (4-grams)",
    "passes_as_human": "passes as human (%)",
    "discriminator_accuracy": "discriminator accuracy (%)",
}


@click.command(help="Evaluate a model (or a file of generated text) against a domain bundle and "
                    "held-out human text; every metric comes with the human noise floor "
                    "(mean ± sd over resampled human spans of the same count and length).\n\n"
               + EXAMPLE,
               context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--domain", required=True, help="Bundle reference: legal, legal@v2, legal@sha256:1a2b.")
@click.option("--model", "model_name", help="Model to sample from: saved directory, .gguf, "
                                            "`smollm2` or hub name.")
@click.option("--generations", "generations_file", type=click.Path(dir_okay=False),
              help="File of generated continuations instead of --model.")
@click.option("--human", multiple=True, required=True,
              help="Held-out human text: .txt/.md/.jsonl files, directories or globs (repeatable).")
@click.option("--prompts", "prompt_count", type=click.IntRange(2), default=128, show_default=True,
              help="Prompts cut from the human text (with --model).")
@click.option("--seeds", default="0,1", show_default=True,
              help="Generation seeds, comma-separated (with --model).")
@click.option("--max-new-tokens", type=click.IntRange(1), default=64, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True)
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True,
              help="Prompts per generate() call.")
@click.option("--perplexity-blocks", type=click.IntRange(0), default=64, show_default=True,
              help="Blocks of 128 held-out tokens for perplexity (0 = skip).")
@click.option("--resamples", type=click.IntRange(2), default=20, show_default=True,
              help="Human resamples behind each noise-floor band.")
@click.option("--threads", type=click.IntRange(1), default=None,
              help="torch CPU threads (default: torch's choice; 1 is fastest on busy shared cores).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where to generate: auto = the GPU when one is visible.")
@click.option("--registry", envvar="DFT_REGISTRY", help="Registry directory [env DFT_REGISTRY].")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Write a PNG comparing model and human distributions.")
@click.option("--save-generations", type=click.Path(dir_okay=False),
              help="With --model: write the prompts, samples and human continuations as JSONL.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def main(**options) -> None:
    _quiet_libraries()
    try:
        result = run(options)
    except DftError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except MemoryError:
        _fail("out of memory; lower --batch-size or --prompts", 1)
    except Exception as exc:  # noqa: BLE001 - never a traceback: say what happened, what to try
        _fail(f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
              "(rerun under `python -X dev -m dft_train.eval_cli` to debug)", 1)
    if options["as_json"]:
        click.echo(json.dumps({k: v for k, v in result.items() if k != "distributions"},
                              indent=2))
    else:
        print_table(result)


def run(options: dict) -> dict:
    from . import evaluate as ev
    from .runner import load_bundle

    if bool(options["model_name"]) == bool(options["generations_file"]):
        raise EvalError("pass exactly one of --model PATH or --generations FILE")
    bundle = load_bundle(options["domain"], options["registry"])
    human_texts = read_human(options["human"])
    reference = ev.Reference.from_bundle(bundle, human_texts)
    if options["generations_file"]:
        sets, continuations = read_generations(options["generations_file"])
        result = ev.evaluate(sets, reference, human_continuations=continuations or None,
                             resamples=options["resamples"])
    else:
        result = evaluate_model(options, reference, human_texts)
    result["inputs"] = {
        "domain": options["domain"], "model": options["model_name"],
        "generations": options["generations_file"], "human": list(options["human"]),
    }
    if options["plot"]:
        plot_comparison(result, options["plot"])
    return result


def evaluate_model(options: dict, reference, human_texts: list[str]) -> dict:
    from . import evaluate as ev
    from .models import load_model_and_tokenizer, resolve_device

    seeds = parse_seeds(options["seeds"])
    device = resolve_device(options["device"])
    if options["threads"]:
        import torch

        torch.set_num_threads(options["threads"])
    model, tokenizer = load_model_and_tokenizer(options["model_name"])
    model.to(device)
    ev.check_tokenizer_decodes(tokenizer)
    pairs = ev.make_prompt_pairs(human_texts, reference, tokenizer, options["prompt_count"],
                                 options["max_new_tokens"])
    prompts = [pair.prompt for pair in pairs]
    sets = []
    for seed in seeds:
        sets.append(ev.generate_continuations(
            model, tokenizer, prompts, options["max_new_tokens"], seed,
            batch_size=options["batch_size"], temperature=options["temperature"],
            top_p=options["top_p"], on_batch=_progress(options, f"seed {seed}", len(prompts))))
    if options["save_generations"]:
        with open(options["save_generations"], "w", encoding="utf-8") as handle:
            handle.writelines(
                json.dumps({"seed": seed, "prompt": pair.prompt, "text": text,
                            "human": pair.continuation}) + "\n"
                for seed, texts in zip(seeds, sets) for pair, text in zip(pairs, texts))
    ppl = None
    if options["perplexity_blocks"]:
        ppl = ev.perplexity(model, tokenizer, human_texts, max_blocks=options["perplexity_blocks"])
    result = ev.evaluate(sets, reference, human_continuations=[p.continuation for p in pairs],
                         perplexity=ppl, resamples=options["resamples"])
    result["generation"] = {"seeds": seeds, "prompts": len(prompts),
                            "max_new_tokens": options["max_new_tokens"],
                            "temperature": options["temperature"], "top_p": options["top_p"]}
    return result


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise EvalError(f"--seeds {text!r}: use comma-separated integers, e.g. 0,1") from None
    if not seeds:
        raise EvalError("--seeds: give at least one seed, e.g. 0,1")
    return seeds


def read_human(patterns) -> list[str]:
    from dft_registry.errors import TrainError

    from .data import expand_inputs, read_documents

    try:
        texts = read_documents(expand_inputs(list(patterns)))
    except TrainError as exc:  # same reader as dft-train --data; name our option
        raise EvalError(str(exc).replace("--data", "--human")) from None
    if not texts:
        raise EvalError(f"--human {' '.join(patterns)}: no text found")
    return texts


def read_generations(path: str) -> tuple[list[list[str]], list[str]]:
    """``(sets of generations, one per seed; human continuations)`` from a generation file."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise EvalError(f"--generations {path}: {exc.strerror or exc}") from None
    if b"\x00" in raw:
        raise EvalError(f"--generations {path} is not a text file (it holds NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EvalError(f"--generations {path} is not UTF-8 text") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise EvalError(f"--generations {path} holds no generations (the file is empty)")
    if not path.endswith(".jsonl"):
        return [[line.strip() for _, line in lines]], []
    groups: dict = {}
    human: list[str] = []
    for number, line in lines:
        try:
            record = json.loads(line)
            sample = record["text"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise EvalError(f"--generations {path}:{number}: expected a JSON object with a "
                            "'text' field") from None
        if not isinstance(sample, str):
            raise EvalError(f"--generations {path}:{number}: 'text' is not a string")
        seed = record.get("seed", 0)
        groups.setdefault(seed, []).append(sample)
        if seed == next(iter(groups)) and isinstance(record.get("human"), str):
            human.append(record["human"])
    sets = list(groups.values())
    if not any(s.strip() for group in sets for s in group):
        raise EvalError(f"--generations {path} holds only empty generations")
    return sets, human


# ----------------------------------------------------------------------- output


def _number(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.{digits}g}"


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    # piped output has no terminal width: use one wide enough for the table
    console = Console() if sys.stdout.isatty() else Console(width=130)
    seeds = result["seeds"]
    title = (f"dft-eval: {result['bundle']}, {result['samples_per_seed'][0]} samples × {seeds} "
             f"seed(s), windows of {result['window_words']} words; noise floor = mean ± sd over "
             f"{result['resamples']} human resamples")
    table = Table(title=title, title_justify="left")
    table.add_column("metric", no_wrap=True)
    for column in ("model", "seed spread", "human", "noise floor", "bundle", "in floor"):
        table.add_column(column, justify="right")
    for name, row in result["metrics"].items():
        per_seed = [v for v in row.get("model_per_seed") or [] if v is not None]
        spread = _number(max(per_seed) - min(per_seed), 2) if len(per_seed) > 1 else "—"
        floor = ("—" if row["floor_mean"] is None
                 else f"{_number(row['floor_mean'])} ± {_number(row['floor_sd'], 2)}")
        if name == "perplexity":
            floor = f"± {_number(row['floor_sd'], 2)} (bootstrap)" if row["floor_sd"] else "—"
        within = {True: "[green]yes[/green]", False: "[red]no[/red]", None: ""}[row["within_floor"]]
        table.add_row(LABELS.get(name, name), _number(row["model"]), spread,
                      _number(row["human"]), floor, _number(row["bundle"]), within)
    console.print(table)
    over = ", ".join(f"{t['token']} ({t['log2_ratio']:+.1f})" for t in result["over_used_tokens"])
    if over:
        console.print(f"over-used vs bundle (log2 ratio): {over}", highlight=False)
    used = result["samples_with_full_window"]
    if not any(used):
        console.print(f"no sample holds a full {result['window_words']}-word window, so feature "
                      "MMD and the discriminator are missing: raise --max-new-tokens",
                      highlight=False)
    console.print(f"samples with a full {result['window_words']}-word window (MMD, discriminator):"
                  f" {', '.join(map(str, used))}; passes as human: 50% = indistinguishable",
                  highlight=False)


def plot_comparison(result: dict, path: str) -> None:
    """PNG: sentence-length survival (model, human, bundle) and window-feature histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    distributions = result["distributions"]
    features = distributions["window_features"]
    shown = ["ttr", "distinct_2", "repetition_rate", "sentence_length_mean", "word_length_mean"]
    figure, axes = plt.subplots(2, 3, figsize=(13, 7))
    axis = axes[0][0]
    for label, style in (("model", "-"), ("human", "--"), ("bundle", ":")):
        pmf = np.array(distributions["sentence_length_pmf"][label] or [0.0], dtype=float)
        survival = 1.0 - np.cumsum(pmf)
        axis.step(np.arange(len(pmf)), survival, style, where="post", label=label)
    axis.set_xlim(0, 80)
    axis.set_xlabel("sentence length (words)")
    axis.set_ylabel("P(length > k)  (Kaplan–Meier)")
    axis.legend()
    names = features["names"]
    model = np.array(features["model"], dtype=float).reshape(-1, len(names))
    human = np.array(features["human"], dtype=float).reshape(-1, len(names))
    for axis, name in zip([a for row in axes for a in row][1:], shown):
        column = names.index(name)
        values = np.concatenate([model[:, column], human[:, column]])
        bins = np.linspace(values.min(), values.max() + 1e-9, 25) if len(values) else 10
        axis.hist(human[:, column], bins=bins, alpha=0.5, density=True, label="human")
        axis.hist(model[:, column], bins=bins, alpha=0.5, density=True, label="model")
        axis.set_title(f"{name} ({result['window_words']}-word windows)")
        axis.legend()
    figure.suptitle(f"dft-eval {result['bundle']}: model vs human")
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=100)
    except OSError as exc:
        raise EvalError(f"--plot {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(figure)


def _progress(options: dict, label: str, total: int):
    if options["quiet"] or options["as_json"]:
        return None

    def report(done: int) -> None:
        click.echo(f"generating {label}: {done}/{total}", err=True)

    return report


if __name__ == "__main__":  # pragma: no cover
    main()
