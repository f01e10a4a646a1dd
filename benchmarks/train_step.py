"""Seconds per optimizer step: plain CE (transformers.Trainer) vs DFT (DftTrainer), same batch.

Each mode runs in its own subprocess (so peak memory is per mode) on the same
fixed CE batch, one after the other in one invocation. DFT is averaged over
whole alternation cycles (``--dist-every`` steps: one with sampling + the
distributional terms, the rest CE only). Warm-up steps (one full cycle, which
includes the first gradient-norm calibration) are excluded.

    python benchmarks/train_step.py --model tiny
    python benchmarks/train_step.py --model smollm2 --lora-r 16 --cycles 1

Prints a Markdown row per mode and the DFT/CE ratio; ``--json`` for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# the options each mode's subprocess receives and the summary records
SETTINGS = ("lora_r", "batch_size", "seq_len", "samples", "max_new_tokens", "dist_every", "cycles",
            "threads")


def _tiny_model_dir(work: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from train_fixtures import make_gpt2_tokenizer, make_tiny_gpt2

    path = work / "tiny-gpt2"
    if not (path / "config.json").exists():
        tokenizer = make_gpt2_tokenizer()
        make_tiny_gpt2(tokenizer).save_pretrained(path)
        tokenizer.save_pretrained(path)
    return path


def _registry_and_text(work: Path) -> tuple[Path, Path]:
    """A registry with ``legal@v1`` built from the test corpus, and a text file for CE."""
    sys.path.insert(0, str(ROOT / "tests"))
    from train_fixtures import legal_documents, write_legal_corpus

    import dft_registry

    registry = work / "registry"
    if not (registry / "catalog.json").exists():
        corpus = write_legal_corpus(work / "corpus")
        dft_registry.build("legal", corpus, registry=registry, workers=1)
    text = work / "ce.txt"
    text.write_text("\n\n".join(legal_documents(40, seed=11)))
    return registry, text


class _StepTimer:
    def __init__(self):
        from transformers import TrainerCallback

        self.durations: list[float] = []
        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                timer.started = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                timer.durations.append(time.perf_counter() - timer.started)

        self.callback = Callback()


def step_config(options, mode: str, max_steps: int, **extra):
    """The DftConfig both timing modes share: same data, batch, sampling and seed."""
    import torch

    from dft_train.config import DftConfig

    return DftConfig(
        output_dir=str(Path(options.work) / f"out-{mode}"),
        domain="legal",
        registry=options.registry,
        max_steps=max_steps,
        per_device_train_batch_size=options.batch_size,
        learning_rate=1e-4,
        save_strategy="no",
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
        dist_every=options.dist_every,
        sample_batch_size=options.samples,
        max_new_tokens=options.max_new_tokens,
        max_seq_length=options.seq_len,
        seed=0,
        **extra,
    )


def run_mode(options) -> dict:
    """One mode in this process: returns per-step seconds and peak memory."""
    import torch

    torch.set_num_threads(options.threads)
    torch.manual_seed(0)
    from transformers import Trainer, default_data_collator

    from dft_train.runner import prepare_trainer

    warmup = options.dist_every
    measured = options.cycles * options.dist_every
    steps = warmup + measured
    timer = _StepTimer()
    config = step_config(options, options.mode, steps, logging_steps=1000)
    trainer = prepare_trainer(config, options.model, data=[options.text], lora_r=options.lora_r)
    # the same batch every step: one fixed block batch
    dataset = trainer.train_dataset
    dataset.blocks = dataset.blocks[: options.batch_size].repeat(steps, 1)
    if options.mode == "ce":
        trainer = Trainer(
            model=trainer.model,
            args=config,
            train_dataset=dataset,
            data_collator=default_data_collator,
            callbacks=[timer.callback],
        )
    else:
        trainer.add_callback(timer.callback)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    durations = timer.durations[warmup:]
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "mode": options.mode,
        "seconds_per_step": sum(durations) / len(durations),
        "step_seconds": [round(d, 3) for d in durations],
        "peak_rss_mib": round(peak_rss_mib),
        "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20)
        if torch.cuda.is_available()
        else None,
    }


def run_interleaved(options) -> dict:
    """Both modes in one process, alternating whole cycles, so both see the same machine load.

    Drives ``training_step`` + the optimizer by hand (the Trainer's inner step),
    one fixed batch; a CE model and a DFT model are separate copies.
    """
    import torch

    torch.set_num_threads(options.threads)
    from transformers import Trainer, default_data_collator

    from dft_train.runner import prepare_trainer

    cycles = options.cycles + 1  # the first cycle is warm-up
    trainers = {}
    for mode in ("ce", "dft"):
        config = step_config(options, mode, cycles * options.dist_every)
        trainer = prepare_trainer(config, options.model, data=[options.text], lora_r=options.lora_r)
        if mode == "ce":
            trainer = Trainer(
                model=trainer.model,
                args=config,
                train_dataset=trainer.train_dataset,
                data_collator=default_data_collator,
            )
        trainer.create_optimizer_and_scheduler(num_training_steps=config.max_steps)
        trainer.current_gradient_accumulation_steps = 1
        batch = default_data_collator([trainer.train_dataset[i] for i in range(options.batch_size)])
        trainers[mode] = (trainer, batch)
    durations = {"ce": [], "dft": []}
    for cycle in range(cycles):
        for mode in ("ce", "dft"):
            trainer, batch = trainers[mode]
            for _ in range(options.dist_every):
                started = time.perf_counter()
                trainer.training_step(trainer.model, dict(batch))
                trainer.optimizer.step()
                trainer.lr_scheduler.step()
                trainer.model.zero_grad()
                trainer.state.global_step += 1
                if cycle > 0:
                    durations[mode].append(time.perf_counter() - started)
    result = {
        mode: {
            "mode": mode,
            "seconds_per_step": sum(d) / len(d),
            "step_seconds": [round(x, 3) for x in d],
        }
        for mode, d in durations.items()
    }
    result["ratio"] = result["dft"]["seconds_per_step"] / result["ce"]["seconds_per_step"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="tiny", help="tiny, smollm2, or a model path")
    parser.add_argument("--lora-r", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--dist-every", type=int, default=4)
    parser.add_argument("--cycles", type=int, default=2, help="measured alternation cycles")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: best on shared cores)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="time both modes in one process, alternating cycles (fair under load); "
        "no per-mode peak memory",
    )
    parser.add_argument("--mode", choices=["ce", "dft"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--registry", help=argparse.SUPPRESS)
    parser.add_argument("--text", help=argparse.SUPPRESS)
    options = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    if options.mode:  # child process
        print(json.dumps(run_mode(options)))
        return

    work = Path(tempfile.mkdtemp(prefix="dft-bench-"))
    try:
        _compare(options, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _compare(options, work: Path) -> None:
    """Build the inputs in ``work``, then time both modes (interleaved or in subprocesses)."""
    registry, text = _registry_and_text(work)
    model = options.model
    if model == "tiny":
        model = str(_tiny_model_dir(work))
    elif model == "smollm2":
        from dft_train.models import resolve_model_path

        model = resolve_model_path("smollm2")  # convert the GGUF once, outside the timing
    if options.interleave:
        name = options.model
        options.work, options.registry, options.text, options.model = (
            str(work),
            str(registry),
            str(text),
            model,
        )
        result = run_interleaved(options)
        result["load_average"] = os.getloadavg()
        if options.json:
            print(json.dumps(result, indent=2))
        else:
            for mode in ("ce", "dft"):
                row = result[mode]
                print(
                    f"| {name} | {mode} | {row['seconds_per_step']:.3f} | "
                    f"{', '.join(map(str, row['step_seconds']))} |"
                )
            print(
                f"\nDFT / CE = {result['ratio']:.2f}x (interleaved); load average {result['load_average']}"
            )
        return
    results = []
    for mode in ("ce", "dft"):
        command = [
            sys.executable,
            "-W",
            "ignore",
            __file__,
            "--mode",
            mode,
            "--work",
            str(work),
            "--registry",
            str(registry),
            "--text",
            str(text),
            "--model",
            model,
        ]
        for name in SETTINGS:
            command += [f"--{name.replace('_', '-')}", str(getattr(options, name))]
        child = subprocess.run(command, check=False, capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(f"{mode} run failed:\n{child.stderr[-3000:]}")
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    ce, dft = results
    summary = {
        "model": options.model,
        "settings": {
            k: getattr(options, k) for k in SETTINGS
        },
        "ce": ce,
        "dft": dft,
        "ratio": dft["seconds_per_step"] / ce["seconds_per_step"],
        "load_average": os.getloadavg(),
    }
    if options.json:
        print(json.dumps(summary, indent=2))
        return
    print("| model | mode | s/step | peak RSS MiB | step seconds |")
    print("|---|---|---:|---:|---|")
    for row in (ce, dft):
        print(
            f"| {options.model} | {row['mode']} | {row['seconds_per_step']:.3f} | {row['peak_rss_mib']} | "
            f"{', '.join(map(str, row['step_seconds']))} |"
        )
    print(f"\nDFT / CE = {summary['ratio']:.2f}x; load average {summary['load_average']}")


if __name__ == "__main__":
    main()
