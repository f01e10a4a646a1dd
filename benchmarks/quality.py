"""Quality benchmark: standard fine-tuning (CE only) vs DFT on shipped domains (issue 7).

For each domain: split the recipe's cleaned documents into CE training text and
held-out human text (by a stable hash of the document id), then for each method

* ``base``: the untouched model,
* ``ce``:   LoRA fine-tuning with cross-entropy only (the same DftTrainer with
            every distributional weight at 0: same code path, optimizer, data,
            steps and seed),
* ``dft``:  the same plus the distributional loss toward the domain bundle,

generate continuations of the same held-out prompts with every generation
seed and evaluate them with :mod:`dft_train.evaluate` against the held-out
human text. Each finished run is cached as JSON under ``benchmarks/results/``
(settings, seeds, commit, machine, seconds), so the grid can be completed
across sittings; ``--render`` rebuilds the ``## quality`` section of
``benchmarks/RESULTS.md`` from the cache without retraining.

    python benchmarks/quality.py --domains legal,fiction --steps 50 --prompts 128 --seeds 0,1
    python benchmarks/quality.py --render
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
WORK_DIR = HERE / "work"
RESULTS_MD = HERE / "RESULTS.md"
SECTION = "## quality"
METHODS = ("base", "ce", "dft")
METHOD_NAMES = {"base": "base model", "ce": "standard FT", "dft": "DFT"}


@dataclass
class Settings:
    """Everything that defines one cell of the grid (its hash names the cached result)."""

    model: str = "smollm2"
    steps: int = 50
    lora_r: int = 16
    learning_rate: float = 3e-4
    batch_size: int = 4
    max_seq_length: int = 128
    train_seed: int = 0
    train_documents: int = 400
    # DFT
    dist_every: int = 2
    dist_samples: int = 4
    dist_max_new_tokens: int = 48
    token_weight: float = 1.0
    length_weight: float = 0.5
    entropy_weight: float = 0.1
    target_grad_ratio: float = 0.5
    # evaluation
    prompts: int = 128
    generation_seeds: list[int] = field(default_factory=lambda: [0, 1])
    max_new_tokens: int = 48
    generation_batch_size: int = 16
    heldout_share: float = 0.1
    heldout_documents: int = 300
    perplexity_blocks: int = 32
    resamples: int = 20
    # where the model half runs ("cuda" on a lent GPU); runs on CPU keep their old keys
    device: str = "cpu"

    def key(self) -> str:
        text = json.dumps(_normalised(asdict(self)), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


# ------------------------------------------------------------------ data


def _normalised(settings: dict) -> dict:
    """Settings without ``device`` when it is the CPU (results cached before it existed)."""
    return {k: v for k, v in settings.items() if not (k == "device" and v == "cpu")}


def domain_documents(domain: str, registry: Path | None = None,
                     source: Path | None = None) -> list[tuple[str, str]]:
    """(id, text) of every cleaned document: a JSONL file (``{"id", "text"}`` per line, e.g. the
    file the bundle was built from) or the shipped recipe's prepared shards (prepared once)."""
    if source is not None:
        files = [Path(source)]
    else:
        from dft_registry.recipes.prepare import prepare_recipe
        from dft_registry.registry import registry_root

        files = sorted(prepare_recipe(domain, registry_root(registry)).path.glob("shard-*.jsonl"))
    documents = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    documents.append((str(record["id"]), record["text"]))
    return documents


def split_documents(documents: list[tuple[str, str]], settings: Settings):
    """``(train texts, held-out texts)``: a document is held out when the stable hash of its id
    falls in the held-out share; neither list depends on document order."""
    from dft_registry.stats.windows import stable_hash64

    scale = 2**64
    heldout, train = [], []
    for doc_id, text in sorted(documents, key=lambda d: stable_hash64(d[0])):
        share = (stable_hash64(doc_id) + 2**63) / scale
        (heldout if share < settings.heldout_share else train).append(text)
    return train[: settings.train_documents], heldout[: settings.heldout_documents]


# ------------------------------------------------------------------ one cell
#
# A cell runs in two halves, so the model half can run on a machine without spaCy (a lent GPU):
# ``produce`` (train unless base, sample continuations of the plan's prompts, perplexity on the
# held-out text; torch + transformers only) and ``score`` (segment and measure with
# dft_train.evaluate against the bundle and the human continuations). ``run_cell`` does both.


def train_model(method: str, domain: str, registry: Path, train_file: Path, settings: Settings,
                output_dir: Path):
    """Fine-tune with CE only (``ce``) or CE + D (``dft``); returns (model, tokenizer, info)."""
    from dft_train.config import DftConfig
    from dft_train.runner import prepare_trainer, train

    distributional = method == "dft"
    config = DftConfig(
        output_dir=str(output_dir),
        domain=domain,
        registry=str(registry),
        max_steps=settings.steps,
        per_device_train_batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        max_seq_length=settings.max_seq_length,
        # CE only: D is never applied after step 0 and has no terms there (no cost, no effect)
        dist_every=settings.dist_every if distributional else 10**9,
        dist_weight=1.0 if distributional else 0.0,
        token_weight=settings.token_weight if distributional else 0.0,
        length_weight=settings.length_weight if distributional else 0.0,
        entropy_weight=settings.entropy_weight if distributional else 0.0,
        feature_weight=0.0,
        calibrate_weights=distributional,
        target_grad_ratio=settings.target_grad_ratio,
        sample_batch_size=settings.dist_samples,
        max_new_tokens=settings.dist_max_new_tokens,
        seed=settings.train_seed,
        logging_steps=1 if settings.steps < 10 else 5,
        save_strategy="no",
        disable_tqdm=True,
        use_cpu=settings.device == "cpu",
        report_to="none",
    )
    trainer = prepare_trainer(config, settings.model, data=[str(train_file)],
                              lora_r=settings.lora_r)
    started = time.time()
    result = train(trainer, resume_from_checkpoint=None)
    seconds = time.time() - started
    history = [h for h in result.log_history if "loss" in h or "train_runtime" in h]
    model, tokenizer = trainer.model, trainer.processing_class
    del trainer
    return model, tokenizer, {"train_seconds": seconds, "global_step": result.global_step,
                              "log_history": history}


@dataclass
class Plan:
    """What every cell of one domain shares: CE training text, held-out text, prompts."""

    domain: str
    train_file: Path
    heldout: list[str]
    prompts: list[str]
    continuations: list[str]


def cell_name(domain: str, method: str, settings: Settings) -> str:
    return f"{domain}-{method}-t{settings.train_seed}-{settings.key()}"


def produce(method: str, plan: Plan, settings: Settings, registry: Path, work_dir: Path,
            log=print) -> dict:
    """Train (unless ``base``), sample one continuation per prompt and generation seed, and
    measure perplexity on the held-out text: everything that needs the model, nothing else."""
    from dft_train import evaluate as ev
    from dft_train.models import load_model_and_tokenizer

    started = time.time()
    if method == "base":
        model, tokenizer = load_model_and_tokenizer(settings.model)
        model.to(settings.device)
        train_info = {"train_seconds": 0.0, "global_step": 0, "log_history": []}
    else:
        output = work_dir / "runs" / cell_name(plan.domain, method, settings)
        model, tokenizer, train_info = train_model(method, plan.domain, registry,
                                                   plan.train_file, settings, output)
        log(f"[{plan.domain}/{method}] trained {train_info['global_step']} steps in "
            f"{train_info['train_seconds']:.0f} s; generating ...")
    ev.check_tokenizer_decodes(tokenizer)
    generating = time.time()
    generations = [ev.generate_continuations(model, tokenizer, plan.prompts,
                                             settings.max_new_tokens, seed,
                                             batch_size=settings.generation_batch_size)
                   for seed in settings.generation_seeds]
    generation_seconds = time.time() - generating
    ppl = ev.perplexity(model, tokenizer, plan.heldout, max_blocks=settings.perplexity_blocks)
    del model
    gc.collect()
    return {
        "format": "dft-quality-generations",
        "domain": plan.domain,
        "method": method,
        "settings": asdict(settings),
        "commit": _commit(),
        "machine": _machine(),
        "command": "python benchmarks/quality.py " + " ".join(sys.argv[1:]),
        "seconds": {"produce": time.time() - started, "generation_seconds": generation_seconds,
                    **{k: v for k, v in train_info.items() if k.endswith("seconds")}},
        "global_step": train_info["global_step"],
        "log_history": train_info["log_history"],
        "prompts_digest": _digest("\x00".join(plan.prompts).encode()),
        "generations": generations,
        "perplexity": ppl,
    }


def score(produced: dict, reference, pairs, heldout: list[str], train_file: Path) -> dict:
    """The cached result record of one produced cell (the format ``render`` reads)."""
    from dft_train import evaluate as ev

    prompts = [pair.prompt for pair in pairs]
    if produced["prompts_digest"] != _digest("\x00".join(prompts).encode()):
        raise SystemExit(f"{produced['domain']}/{produced['method']}: the generations answer "
                         "other prompts than this plan's (different documents or settings)")
    started = time.time()
    metrics = ev.evaluate(produced["generations"], reference,
                          human_continuations=[p.continuation for p in pairs],
                          perplexity=produced["perplexity"],
                          resamples=produced["settings"]["resamples"])
    metrics.pop("distributions", None)
    metrics["examples"] = [{"prompt": pairs[i].prompt[-160:], "model": produced["generations"][0][i],
                            "human": pairs[i].continuation} for i in range(min(3, len(pairs)))]
    seconds = dict(produced["seconds"])
    seconds["eval_seconds"] = time.time() - started
    seconds["total"] = seconds.pop("produce") + seconds["eval_seconds"]
    settings = Settings(**produced["settings"])
    return {
        "format": "dft-quality-result",
        "domain": produced["domain"],
        "method": produced["method"],
        "settings": produced["settings"],
        "settings_key": settings.key(),
        "commit": produced["commit"],
        "machine": produced["machine"],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": produced["command"],
        "seconds": seconds,
        "global_step": produced["global_step"],
        "log_history": produced["log_history"],
        "bundle": metrics["bundle"],
        "bundle_content_hash": getattr(reference.bundle, "content_hash", None),
        "documents": {"train": _digest(train_file.read_bytes()),
                      "heldout": _digest("\x00".join(heldout).encode())},
        "result": metrics,
    }


def result_path(domain: str, method: str, settings: Settings, results_dir: Path) -> Path:
    return results_dir / f"{cell_name(domain, method, settings)}.json"


def _write_json(path: Path, record: dict) -> None:
    from dft_registry.atomic import atomic_write_bytes

    atomic_write_bytes(path, (json.dumps(record, indent=1) + "\n").encode("utf-8"))


def run_cell(domain: str, method: str, settings: Settings, registry: Path, train_file: Path,
             reference, pairs, heldout: list[str], results_dir: Path, work_dir: Path,
             log=print) -> Path:
    """Produce and score one method on one domain; cache the JSON; return its path."""
    path = result_path(domain, method, settings, results_dir)
    if path.exists():
        log(f"[{domain}/{method}] cached: {path.name}")
        return path
    log(f"[{domain}/{method}] {'loading' if method == 'base' else 'training'} ...")
    plan = Plan(domain, train_file, heldout, [p.prompt for p in pairs],
                [p.continuation for p in pairs])
    record = score(produce(method, plan, settings, registry, work_dir, log), reference, pairs,
                   heldout, train_file)
    _write_json(path, record)
    log(f"[{domain}/{method}] done in {record['seconds']['total']:.0f} s -> {path.name}")
    return path


def prepare_domain(domain: str, settings: Settings, registry: Path, work_dir: Path,
                   documents: list[tuple[str, str]] | None = None, log=print):
    """``(plan, reference, pairs)`` of one domain: split, training file, prompts (needs spaCy)."""
    import dft_registry
    from dft_train import evaluate as ev
    from dft_train.models import load_tokenizer, resolve_model_path

    bundle = dft_registry.load(domain, registry=registry)
    documents = documents if documents is not None else domain_documents(domain)
    train, heldout = split_documents(documents, settings)
    log(f"[{domain}] {bundle.ref}: {len(train)} training documents, {len(heldout)} held out")
    data_dir = work_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    train_file = data_dir / f"{domain}-train-{settings.key()}.jsonl"
    with open(train_file, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps({"text": text}) + "\n" for text in train)
    reference = ev.Reference.from_bundle(bundle, heldout)
    tokenizer = load_tokenizer(resolve_model_path(settings.model))
    # the same prompts for every training seed, so base, FT and DFT runs all answer the same ones
    pairs = ev.make_prompt_pairs(heldout, reference, tokenizer, settings.prompts,
                                 settings.max_new_tokens, seed=0)
    plan = Plan(domain, train_file, heldout, [p.prompt for p in pairs],
                [p.continuation for p in pairs])
    return plan, reference, pairs


def run_domain(domain: str, methods: list[str], settings: Settings, registry: Path,
               results_dir: Path = RESULTS_DIR, work_dir: Path = WORK_DIR,
               documents: list[tuple[str, str]] | None = None, log=print) -> list[Path]:
    """Every method on one domain (documents default to the shipped recipe's prepared shards)."""
    plan, reference, pairs = prepare_domain(domain, settings, registry, work_dir, documents, log)
    return [run_cell(domain, method, settings, registry, plan.train_file, reference, pairs,
                     plan.heldout, results_dir, work_dir, log) for method in methods]


# ------------------------------------------------------------------ split runs (e.g. a lent GPU)


def export_plan(plan: Plan, plan_dir: Path) -> Path:
    """Write a domain's plan (training JSONL + prompts + held-out text) for ``--produce-to``."""
    plan_dir.mkdir(parents=True, exist_ok=True)
    train_copy = plan_dir / f"{plan.domain}-train.jsonl"
    train_copy.write_bytes(plan.train_file.read_bytes())
    path = plan_dir / f"{plan.domain}-plan.json"
    _write_json(path, {"domain": plan.domain, "heldout": plan.heldout, "prompts": plan.prompts,
                       "continuations": plan.continuations})
    return path


def load_plan(domain: str, plan_dir: Path) -> Plan:
    path = plan_dir / f"{domain}-plan.json"
    if not path.exists():
        raise SystemExit(f"no plan for {domain} in {plan_dir}: write it with --export-plan")
    data = json.loads(path.read_text(encoding="utf-8"))
    return Plan(domain, plan_dir / f"{domain}-train.jsonl", data["heldout"], data["prompts"],
                data["continuations"])


def produce_to(out_dir: Path, domain: str, methods: list[str], settings: Settings,
               registry: Path, plan_dir: Path, work_dir: Path = WORK_DIR, log=print) -> list[Path]:
    """Produce every method of one domain from an exported plan into ``out_dir`` (*.gen.json);
    a failing cell is logged with its error and the next one runs."""
    import traceback

    plan = load_plan(domain, plan_dir)
    paths = []
    for method in methods:
        path = out_dir / f"{cell_name(domain, method, settings)}.gen.json"
        if path.exists():
            log(f"[{domain}/{method}] already produced: {path.name}")
            continue
        try:
            _write_json(path, produce(method, plan, settings, registry, work_dir, log))
        except Exception:  # noqa: BLE001 - keep the other cells of a one-shot run going
            log(f"[{domain}/{method}] FAILED\n{traceback.format_exc()}")
            continue
        log(f"[{domain}/{method}] produced -> {path.name}")
        paths.append(path)
    return paths


def score_from(gen_dir: Path, registry: Path, sources: dict[str, Path], results_dir: Path,
               work_dir: Path = WORK_DIR, log=print) -> list[Path]:
    """Score every ``*.gen.json`` under ``gen_dir`` into cached results (skips cached ones)."""
    generated = sorted(gen_dir.glob("*.gen.json"))
    if not generated:
        raise SystemExit(f"no *.gen.json files in {gen_dir} (made by --produce-to); check the path")
    prepared: dict[tuple, tuple] = {}
    paths = []
    for gen in generated:
        produced = json.loads(gen.read_text(encoding="utf-8"))
        settings = Settings(**produced["settings"])
        domain, method = produced["domain"], produced["method"]
        path = result_path(domain, method, settings, results_dir)
        if path.exists():
            log(f"[{domain}/{method}] cached: {path.name}")
            continue
        # prompts depend on the split and evaluation settings, not on training or DFT ones
        key = (domain, _key(produced["settings"], DFT_ONLY + SAME_PROMPTS))
        if key not in prepared:
            documents = domain_documents(domain, source=sources.get(domain))
            prepared[key] = prepare_domain(domain, settings, registry, work_dir, documents, log)
        plan, reference, pairs = prepared[key]
        _write_json(path, score(produced, reference, pairs, plan.heldout, plan.train_file))
        log(f"[{domain}/{method}] scored -> {path.name}")
        paths.append(path)
    return paths


# ------------------------------------------------------------------ rendering


def load_results(results_dir: Path) -> list[dict]:
    records = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if record.get("format") == "dft-quality-result":
            record["_file"] = path.name
            records.append(record)
    return records


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.{digits}g}"


def _cell(row: dict | None) -> str:
    if row is None or row.get("model") is None:
        return "—"
    seeds = [v for v in row.get("model_per_seed") or [] if v is not None]
    spread = f" ({' / '.join(_fmt(v) for v in seeds)})" if len(seeds) > 1 else ""
    return _fmt(row["model"]) + spread


def noise_level(*rows: dict) -> float:
    """The larger of the human noise floor's sd and each run's sd over generation seeds."""
    levels = [row.get("floor_sd") or 0.0 for row in rows]
    for row in rows:
        seeds = [v for v in row.get("model_per_seed") or [] if v is not None]
        if len(seeds) > 1:
            mean = sum(seeds) / len(seeds)
            levels.append((sum((v - mean) ** 2 for v in seeds) / (len(seeds) - 1)) ** 0.5)
    return max(levels)


def improvement(name: str, ce: dict, dft: dict) -> tuple[float | None, str | None]:
    """(relative change of DFT vs standard FT, verdict).

    The change is ``(DFT - FT) / |FT|``. The verdict is ``noise`` when ``|DFT - FT|`` is not
    larger than :func:`noise_level` (floor sd or, for perplexity, bootstrap sd; or the
    generation-seed sd when that is larger), else
    ``better``/``worse`` by the metric's direction (lower, higher, or closer to the human value).
    """
    a, b = ce.get("model"), dft.get("model")
    if a is None or b is None:
        return None, None
    change = (b - a) / abs(a) if a else None
    if abs(b - a) <= noise_level(ce, dft):
        return change, "noise"
    better = ce.get("better")
    if better == "human":
        human = ce.get("human")
        if human is None:
            return change, None
        improved = abs(b - human) < abs(a - human)
    else:
        improved = b < a if better == "lower" else b > a
    return change, "better" if improved else "worse"


def target_checks(metrics: dict[str, dict[str, dict]]) -> list[tuple[str, str]]:
    """The issue's targets for DFT vs standard FT: (target, verdict with numbers)."""
    ce, dft = metrics.get("ce", {}), metrics.get("dft", {})
    rows = []

    def value(group, name, key="model"):
        return (group.get(name) or {}).get(key)

    def noise(name):
        return noise_level(ce.get(name) or {}, dft.get(name) or {})

    var_d, var_h = value(dft, "sentence_length_var"), value(dft, "sentence_length_var", "human")
    if var_d is not None and var_h:
        gap = abs(var_d - var_h) / var_h
        var_c = value(ce, "sentence_length_var")
        ce_gap = f"; standard FT {var_c:.1f}, {abs(var_c - var_h) / var_h:.0%} off" if var_c else ""
        rows.append(("sentence-length variance within 10% of human",
                     (f"{'met' if gap <= 0.1 else 'not met'}: DFT {var_d:.1f} vs human "
                     f"{var_h:.1f} ({gap:.0%} off{ce_gap})")))
    for name, label, threshold in (("distinct_2", "distinct-2 ≥ +10% relative to standard FT", 0.10),
                                   ("feature_mmd2", "feature MMD ≥ 30% lower than standard FT", 0.30)):
        a, b = value(ce, name), value(dft, name)
        if a is None or b is None or a == 0:
            continue
        change = (b - a) / abs(a) if name.startswith("distinct") else (a - b) / abs(a)
        met = change >= threshold and abs(b - a) > (noise(name) or 0)
        rows.append((label, (f"{'met' if met else 'not met'}: {a:.4g} → {b:.4g} "
                            f"({'+' if name.startswith('distinct') else '-'}{abs(change):.0%}"
                            f"{'' if change >= 0 else ', wrong direction'}; noise sd "
                            f"{_fmt(noise(name))})")))
    a, b = value(ce, "perplexity"), value(dft, "perplexity")
    if a and b:
        change = b / a - 1
        rows.append(("perplexity no worse than +2% of standard FT",
                     f"{'met' if change <= 0.02 else 'not met'}: {a:.2f} → {b:.2f} ({change:+.1%})"))
    a, b = value(ce, "passes_as_human"), value(dft, "passes_as_human")
    if a is not None and b is not None:
        met = b > a and abs(b - a) > (noise("passes_as_human") or 0)
        rows.append(("higher 'passes as human' than standard FT, beyond the noise floor",
                     (f"{'met' if met else 'not met'}: {a:.1f}% → {b:.1f}% (noise sd "
                     f"{_fmt(noise('passes_as_human'))} points)")))
    return rows


def render(results_dir: Path = RESULTS_DIR, results_md: Path = RESULTS_MD) -> str:
    """Rebuild the ``## quality`` section of RESULTS.md from the cached results; returns it."""
    records = load_results(results_dir)
    lines = [SECTION, ""]
    lines += [
        ("Standard fine-tuning (CE only) vs DFT (CE + distributional loss), same data, steps, "
        "seed and LoRA settings, evaluated by `dft_train.evaluate` against held-out human text "
        "of the domain (documents held out from CE training by a stable hash of their id). "
        "Cells are the mean over generation seeds, with the per-seed values in brackets. "
        "*human* is the same metric on the human continuations of the same prompts (same "
        "length in tokens); ± is the human noise floor (sd over resampled human span sets of "
        "the same count and word lengths). *improvement*: DFT relative to standard FT "
        "as (DFT − FT) / FT, then *better*/*worse* (lower, higher or closer to the human value, "
        "by metric) when the difference exceeds both the noise floor's sd and the sd over "
        "generation seeds, else *noise*. "
        "Regenerate with `python benchmarks/quality.py --render`."),
        "",
    ]
    if not records:
        lines += ["No runs have finished yet: nothing measured.", ""]
    groups = pair_runs(records)
    from dft_train.evaluate import METRICS

    lines += _seed_spread(groups, METRICS)
    for (domain, settings_key, train_seed), runs in sorted(groups.items(), key=_run_order):
        if not runs:
            continue
        any_run = runs.get("dft") or runs.get("ce") or next(iter(runs.values()))
        settings = any_run["settings"]
        metrics = {m: r["result"]["metrics"] for m, r in runs.items()}
        lines.append(f"### {domain} ({any_run['bundle']}), {settings['steps']} steps, training "
                     f"seed {train_seed}, {_where(any_run['machine'])}, settings `{settings_key}`")
        lines.append("")
        lines.append(_dft_settings_line(any_run["settings"]) if "dft" in runs else
                     "No DFT run finished with these settings: standard FT (and base) only.")
        lines.append("")
        lines.append("| metric | standard FT | DFT | human (± noise floor) | improvement | "
                     "base model |")
        lines.append("|---|---|---|---|---|---|")
        for name in METRICS:
            rows = {m: metrics[m].get(name) for m in metrics}
            if not any(rows.values()):
                continue
            reference_row = rows.get("ce") or next(r for r in rows.values() if r)
            human = reference_row.get("human")
            sd = reference_row.get("floor_sd")
            if name == "perplexity":
                human_cell = "—"
            else:
                human_cell = f"{_fmt(human)} ± {_fmt(sd, 2)}"
            change, verdict = (improvement(name, rows["ce"], rows["dft"])
                               if rows.get("ce") and rows.get("dft") else (None, None))
            change_cell = "—" if change is None else f"{change:+.1%}" + (
                f" ({verdict})" if verdict else "")
            unit = METRICS[name][0]
            label = f"{name} ({unit})" if unit and unit != "share" else name
            lines.append(f"| {label} | {_cell(rows.get('ce'))} | {_cell(rows.get('dft'))} | "
                         f"{human_cell} | {change_cell} | {_cell(rows.get('base'))} |")
        lines.append("")
        over = {m: ", ".join(t["token"] for t in r["result"].get("over_used_tokens", [])[:6])
                for m, r in runs.items()}
        for method in METHODS:
            if method in over:
                lines.append(f"- most over-used words vs the bundle, {METHOD_NAMES[method]}: "
                             f"{over[method] or '—'}")
        lines.append("")
        checks = target_checks(metrics)
        if checks:
            lines.append("Targets (DFT vs standard FT):")
            lines.append("")
            lines += [f"- {target}: {verdict}" for target, verdict in checks]
            lines.append("")
        lines.append("Runs:")
        lines.append("")
        lines.append("| method | steps | train s | generate s | eval s | commit | machine | "
                     "finished | file |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for method in METHODS:
            record = runs.get(method)
            if record is None:
                lines.append(f"| {METHOD_NAMES[method]} | not run | | | | | | | |")
                continue
            seconds = record["seconds"]
            machine = record["machine"]
            lines.append(
                f"| {METHOD_NAMES[method]} | {record['global_step']} | "
                f"{seconds.get('train_seconds', 0):.0f} | {seconds.get('generation_seconds', 0):.0f} | "
                f"{seconds.get('eval_seconds', 0):.0f} | {record['commit'][:10]} | "
                f"{_machine_cell(machine)} | {record['finished']} | "
                f"`{record['_file']}` |")
        lines.append("")
        lines.append(
            f"Settings: model `{settings['model']}`, LoRA r={settings['lora_r']}, lr "
            f"{settings['learning_rate']}, {settings['steps']} steps × {settings['batch_size']} "
            f"blocks × {settings['max_seq_length']} tokens, {settings['train_documents']} training "
            f"documents at most; DFT: D every {settings['dist_every']} steps on "
            f"{settings['dist_samples']} samples × {settings['dist_max_new_tokens']} tokens, "
            f"weights token {settings['token_weight']} / length {settings['length_weight']} / "
            f"entropy {settings['entropy_weight']}, gradient-norm calibration to "
            f"{settings['target_grad_ratio']}× CE; evaluation: {settings['prompts']} prompts × "
            f"generation seeds {settings['generation_seeds']} × {settings['max_new_tokens']} new "
            f"tokens (ancestral sampling, top_k off, top_p 1), {settings['resamples']} human "
            f"resamples, perplexity on {settings['perplexity_blocks']} blocks of 128 held-out "
            f"tokens.")
        lines.append("")
        commands = dict.fromkeys(r.get("command") for m in METHODS if (r := runs.get(m)))
        commands = [c for c in commands if c] or [
            f"python benchmarks/quality.py --domains {domain} {_settings_flags(settings)}"]
        lines.append("Commands: " + "; ".join(f"`{c}`" for c in commands))
        lines.append("")
    notes = results_dir / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text(encoding="utf-8").strip(), ""]
    section = "\n".join(lines).rstrip() + "\n"
    _write_section(results_md, section)
    return section


DFT_ONLY = ("dist_every", "dist_samples", "dist_max_new_tokens", "token_weight",
            "length_weight", "entropy_weight", "target_grad_ratio")
TRAINING = ("steps", "lora_r", "learning_rate", "batch_size", "max_seq_length", "train_seed",
            "train_documents", "device")
# a base run pairs with FT/DFT runs of the same evaluation settings on the same device
BASE_IGNORES = DFT_ONLY + tuple(name for name in TRAINING if name != "device")
SAME_PROMPTS = tuple(name for name in TRAINING if name != "train_documents")


def _key(settings: dict, ignore: tuple[str, ...]) -> str:
    rest = {k: v for k, v in _normalised(settings).items() if k not in ignore}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:10]


def pair_runs(records: list[dict]) -> dict[tuple, dict[str, dict]]:
    """``(domain, settings key, training seed) -> {method: record}``: each DFT run with the
    standard-FT run that shares every non-DFT setting and the base run that shares the
    evaluation settings (so a DFT variant reuses the cached FT and base runs)."""
    def find(method: str, domain: str, settings: dict, ignore: tuple[str, ...]):
        key = _key(settings, ignore)
        return next((r for r in records if r["method"] == method and r["domain"] == domain
                     and _key(r["settings"], ignore) == key), None)

    groups: dict[tuple, dict[str, dict]] = {}
    paired_ce = set()
    for record in records:
        if record["method"] != "dft":
            continue
        domain, settings = record["domain"], record["settings"]
        runs = {"dft": record}
        ce = find("ce", domain, settings, DFT_ONLY)
        base = find("base", domain, settings, BASE_IGNORES)
        if ce:
            runs["ce"] = ce
            paired_ce.add(id(ce))
        if base:
            runs["base"] = base
        groups[(domain, record["settings_key"], settings["train_seed"])] = runs
    for record in records:
        if record["method"] == "ce" and id(record) not in paired_ce:
            runs = {"ce": record}
            base = find("base", record["domain"], record["settings"], BASE_IGNORES)
            if base:
                runs["base"] = base
            groups[(record["domain"], record["settings_key"],
                    record["settings"]["train_seed"])] = runs
    if not groups:
        for record in records:
            groups[(record["domain"], record["settings_key"], 0)] = {"base": record}
    return groups


def _group_key(settings: dict) -> str:
    """Hash of the settings without the training seed (runs that differ only by seed)."""
    rest = {k: v for k, v in _normalised(settings).items() if k != "train_seed"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:10]


def across_seeds(rows: list[dict]) -> dict:
    """One metric row over training seeds: the mean, the per-seed values (their spread is the
    noise :func:`improvement` compares against, with the human floor), human and floor of the
    first."""
    values = [r["model"] for r in rows]
    return {**rows[0], "model": sum(values) / len(values), "model_per_seed": values}


def _seed_spread(groups: dict, metrics_order) -> list[str]:
    """Per (domain, settings) with >= 2 training seeds: FT and DFT as the mean over training
    seeds (per-seed values in brackets), and the improvement judged against that spread."""
    lines: list[str] = []
    by_group: dict[tuple, dict[int, dict]] = {}
    for (domain, _, seed), runs in groups.items():
        if "ce" in runs and "dft" in runs:
            group = _group_key(runs["dft"]["settings"])
            by_group.setdefault((domain, group), {})[seed] = runs
    for (domain, group), seeds in sorted(by_group.items(), key=lambda item: (
            item[0][0], bool(next(iter(item[1].values()))["dft"]["machine"].get("cuda")),
            item[0][1])):
        if len(seeds) < 2:
            continue
        order = sorted(seeds)
        first = seeds[order[0]]["dft"]
        lines += [(f"### {domain}: across training seeds {order}, "
                   f"{first['settings']['steps']} steps, {_where(first['machine'])} "
                   f"(settings `{group}`)"), "", _dft_settings_line(first["settings"]), "",
                  ("Mean over training seeds (per-seed values in brackets, each the mean over "
                   "generation seeds); *improvement* is judged against the larger of the human "
                   "noise floor and the spread across training seeds."), "",
                  "| metric | standard FT | DFT | human (± noise floor) | improvement |",
                  "|---|---|---|---|---|"]
        for name in metrics_order:
            ce = [seeds[s]["ce"]["result"]["metrics"].get(name) for s in order]
            dft = [seeds[s]["dft"]["result"]["metrics"].get(name) for s in order]
            if not all(ce) or not all(dft) or any(r.get("model") is None for r in ce + dft):
                continue
            ce_row, dft_row = across_seeds(ce), across_seeds(dft)
            change, verdict = improvement(name, ce_row, dft_row)
            human = "—" if name == "perplexity" else (
                f"{_fmt(ce_row.get('human'))} ± {_fmt(ce_row.get('floor_sd'), 2)}")
            change_cell = "—" if change is None else f"{change:+.1%}" + (
                f" ({verdict})" if verdict else "")
            lines.append(f"| {name} | {_cell(ce_row)} | {_cell(dft_row)} | {human} | "
                         f"{change_cell} |")
        lines.append("")
    return lines


def _run_order(item) -> tuple:
    """Per-run tables by domain, machine, steps, settings, then training seed."""
    (domain, _, train_seed), runs = item
    run = runs.get("dft") or runs.get("ce") or next(iter(runs.values()))
    return (domain, bool(run["machine"].get("cuda")), run["settings"]["steps"],
            _group_key(run["settings"]), train_seed)


def _dft_settings_line(settings: dict) -> str:
    return ("DFT here: D every {dist_every} steps on {dist_samples} samples × {dist_max_new_tokens} "
            "tokens; weights token {token_weight} / length {length_weight} / entropy "
            "{entropy_weight}; calibrated to {target_grad_ratio}× CE's gradient norm.").format(
                **settings)


def _settings_flags(settings: dict) -> str:
    defaults = asdict(Settings())
    flags = []
    for name, value in settings.items():
        if value != defaults.get(name):
            if isinstance(value, list):
                value = ",".join(map(str, value))
            flags.append(f"--{name.replace('_', '-')} {value}")
    return " ".join(flags)


def _write_section(path: Path, section: str) -> None:
    """Replace the ``## quality`` section (up to the next ``## `` heading) or append it."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        new = "".join(lines[:start]) + section + ("\n" + "".join(lines[end:]) if end < len(lines)
                                                  else "")
    path.write_text(new, encoding="utf-8")


# ------------------------------------------------------------------ environment


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _where(machine: dict) -> str:
    return f"GPU ({machine['cuda']})" if machine.get("cuda") else "CPU"


def _machine_cell(machine: dict) -> str:
    if machine.get("cuda"):
        return f"{machine['cuda']} ({machine['cpus']} CPU), torch {machine['torch']}"
    return f"{machine['cpus']} CPU, torch {machine['torch']}"


def _machine() -> dict:
    import torch

    return {"platform": platform.platform(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, Settings]:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", default="legal,fiction")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--registry", default=None, help="Registry (default: the project's).")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    parser.add_argument("--results-md", default=str(RESULTS_MD))
    parser.add_argument("--render", action="store_true", help="Only re-render RESULTS.md.")
    parser.add_argument("--documents", action="append", default=[], metavar="DOMAIN=JSONL",
                        help="Cleaned documents of a domain ({id, text} per line); default: the "
                             "recipe's prepared shards.")
    parser.add_argument("--export-plan", metavar="DIR", default=None,
                        help="Only write each domain's plan (training text, prompts, held-out "
                             "text) to DIR, for --produce-to on another machine.")
    parser.add_argument("--produce-to", metavar="DIR", default=None,
                        help="Only train/generate/perplexity from the plans in --plan-dir into "
                             "DIR/*.gen.json (no spaCy needed; e.g. on a lent GPU).")
    parser.add_argument("--plan-dir", metavar="DIR", default=None)
    parser.add_argument("--score-from", metavar="DIR", default=None,
                        help="Only score DIR/*.gen.json into --results-dir, then render.")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on shared cores, 2 threads ran 13x slower).")
    for name, value in asdict(defaults).items():
        flag = f"--{name.replace('_', '-')}"
        if isinstance(value, list):
            aliases = ["--seeds"] if name == "generation_seeds" else []
            parser.add_argument(flag, *aliases, dest=name, default=",".join(map(str, value)))
        else:
            parser.add_argument(flag, type=type(value), default=value)
    args = parser.parse_args(argv)
    values = {}
    for name, value in asdict(defaults).items():
        given = getattr(args, name)
        values[name] = [int(v) for v in given.split(",") if v] if isinstance(value, list) else given
    return args, Settings(**values)


def main(argv: list[str] | None = None) -> int:
    import torch

    from dft_registry.registry import registry_root

    args, settings = parse_args(argv)
    results_dir, results_md = Path(args.results_dir), Path(args.results_md)
    domains = [d for d in args.domains.split(",") if d]
    methods = [m for m in args.methods.split(",") if m]
    sources = {name: Path(path) for name, path in
               (item.split("=", 1) for item in args.documents)}
    if args.render:
        print(render(results_dir, results_md))
        return 0
    torch.set_num_threads(args.threads)
    torch.manual_seed(settings.train_seed)
    registry = registry_root(args.registry)
    if args.score_from:
        score_from(Path(args.score_from), registry, sources, results_dir)
    elif args.produce_to:
        if not args.plan_dir:
            raise SystemExit("--produce-to needs --plan-dir (written by --export-plan)")
        for domain in domains:
            produce_to(Path(args.produce_to), domain, methods, settings, registry,
                       Path(args.plan_dir))
        return 0
    elif args.export_plan:
        for domain in domains:
            documents = domain_documents(domain, source=sources.get(domain))
            plan, _, _ = prepare_domain(domain, settings, registry, WORK_DIR, documents)
            print(export_plan(plan, Path(args.export_plan)))
        return 0
    else:
        for domain in domains:
            run_domain(domain, methods, settings, registry, results_dir,
                       documents=domain_documents(domain, source=sources.get(domain)))
            render(results_dir, results_md)
    print(render(results_dir, results_md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
