"""DftTrainer: ``transformers.Trainer`` with the distributional loss (DESIGN.md sections 6-7).

``compute_loss`` adds, every ``dist_every`` optimizer steps, the distributional
terms computed on one shared batch of the model's own samples (generated
without gradients, re-scored with gradients in one forward pass). With text
data, CE runs every step; without it, CE is replaced by KL(model ||
reference) on the samples, and samples are refreshed every ``dist_every``
steps and reused in between. Every loss part is logged. Checkpoints carry the
calibration state (``dft_state.json``) so a resumed run continues the same
way; every saved model carries ``dft_config.json`` (bundle + settings).
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import Trainer
from transformers.trainer_callback import PrinterCallback

from . import losses
from .config import DftConfig
from .data import PromptSampler
from .sampling import (
    SampleBatch,
    SamplingSettings,
    chunked_kl_to_reference,
    completion_logits,
    generate_samples,
    position_statistics,
)
from .targets import Targets
from .token_rules import AbbreviationOracle, TokenRules

DFT_CONFIG_FILE = "dft_config.json"
DFT_STATE_FILE = "dft_state.json"
TERMS = ("token", "length", "entropy", "feature")


@dataclass
class CalibrationState:
    """Running averages of ``|grad term| / |grad CE|`` per term (None until measured)."""

    ratios: dict[str, float] = field(default_factory=dict)
    applications: int = 0
    ce_mean: float | None = None  # running mean per-token CE on text data (nats)

    def scale(self, term: str, config: DftConfig) -> float:
        ratio = self.ratios.get(term)
        if not config.calibrate_weights or ratio is None or ratio <= 0:
            return 1.0
        scale = config.target_grad_ratio / ratio
        return min(max(scale, 1.0 / config.max_weight_scale), config.max_weight_scale)


class DftTrainer(Trainer):
    """Trainer whose loss is ``ce_weight * CE + dist_weight * D + kl_weight * KL``."""

    loss_is_scaled_for_ga = False  # compute_loss returns per-micro-batch means

    def __init__(
        self,
        model,
        args: DftConfig,
        targets: Targets,
        prompts: PromptSampler,
        processing_class,
        bundle_info: dict | None = None,
        reference_model=None,
        has_text_data: bool = True,
        **kwargs,
    ):
        super().__init__(model=model, args=args, processing_class=processing_class, **kwargs)
        self.remove_callback(PrinterCallback)  # the library never prints; the CLI renders logs
        self.targets = targets
        self.prompts = prompts
        self.bundle_info = bundle_info or {}
        self.has_text_data = has_text_data
        self.kl_weight = args.resolved_kl_weight(has_text_data)
        self.rules = TokenRules.from_tokenizer(processing_class, self._vocab_size())
        self.sampling = SamplingSettings(
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            top_k=0,
            max_prompt_tokens=args.max_prompt_tokens,
        )
        self.calibration = CalibrationState()
        self.replay = losses.FeatureReplayBuffer(args.replay_buffer_size)
        self.reference_model = reference_model
        if self.kl_weight > 0 and reference_model is None and not _is_peft(model):
            self.reference_model = _frozen_copy(model)
        self._samples: SampleBatch | None = None
        self._samples_step: int | None = None
        self._dist_applied_step: int | None = None
        self._logged: dict[str, list[float]] = defaultdict(list)
        self._segmenter = None
        self.oracle = (
            AbbreviationOracle(self.segmenter) if "segmenter" in self.bundle_info else None
        )

    # ------------------------------------------------------------------ loss

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        config: DftConfig = self.args
        step = self.state.global_step
        loss = torch.zeros((), device=self.args.device)
        ce = None
        if "input_ids" in inputs:
            outputs = model(
                input_ids=inputs["input_ids"],
                attention_mask=inputs.get("attention_mask"),
                labels=inputs["labels"],
            )
            ce = outputs.loss
            loss = loss + config.ce_weight * ce
            self._record("ce", ce.item())
            self._update_ce_mean(ce.item())
        if not model.training:
            return (loss, None) if return_outputs else loss

        if self.has_text_data:
            apply = step % config.dist_every == 0 and self._dist_applied_step != step
            repeat = self.current_gradient_accumulation_steps  # D once per optimizer step
        else:
            apply, repeat = True, 1
        if apply:
            self._dist_applied_step = step
            dist, kl, measured = self._distribution_loss(model, step)
            if ce is not None and self._should_calibrate():
                self._calibrate(model, ce, measured)
            loss = loss + repeat * (config.dist_weight * dist + self.kl_weight * kl)
        return (loss, None) if return_outputs else loss

    def _distribution_loss(self, model, step: int):
        """``(D, KL, unweighted terms)`` on the current sample batch."""
        config: DftConfig = self.args
        samples = self._current_samples(model, step)
        logits = self._rescore(model, samples)
        stats = position_statistics(logits, samples, self.rules, config.logit_chunk)
        terms = self.distribution_terms(model, samples, stats)
        dist = torch.zeros((), device=logits.device)
        for name, value in terms.items():
            weight = getattr(config, f"{name}_weight") * self.calibration.scale(name, config)
            dist = dist + weight * value
            self._record(name, value.item())
            self._record(f"weight_{name}", weight)
        self._record(
            "dist", sum(getattr(config, f"{n}_weight") * v.item() for n, v in terms.items())
        )
        kl = torch.zeros((), device=logits.device)
        if self.kl_weight > 0:
            kl = chunked_kl_to_reference(
                logits,
                self._reference_logits(model, samples),
                samples.completion_mask,
                config.logit_chunk,
            )
            self._record("kl", kl.item())
        return dist, kl, terms

    def distribution_terms(self, model, samples: SampleBatch, stats) -> dict[str, torch.Tensor]:
        """The unweighted terms with a non-zero weight, as scalar tensors."""
        config: DftConfig = self.args
        q = self.targets.tokens.q.to(stats.frequency_sum.device)
        f = self.targets.tokens.restrict(stats.frequencies)
        terms: dict[str, torch.Tensor] = {}
        if config.token_weight:
            if config.token_distance == "embedding_mmd":
                embeddings = model.get_input_embeddings().weight.detach()[: len(q)]
                terms["token"] = losses.embedding_mmd_token_loss(
                    f[: len(embeddings)], q, embeddings
                )
            else:
                terms["token"] = losses.hellinger_token_loss(f, q)
            self._record("token_js", losses.js_divergence(f.detach(), q).item())
        if config.length_weight:
            initial = torch.tensor([s.words for s in samples.prompt_states], device=f.device)
            counts = losses.sentence_length_recursion(
                stats.end_probs,
                stats.start_probs,
                samples.completion_mask,
                initial,
                self.targets.lengths.max_length,
            )
            terms["length"] = losses.sentence_length_hazard_loss(
                counts, self.targets.lengths.hazard.to(f.device)
            )
            self._record("sentence_mean_completed", _mean_length(counts))
        if config.entropy_weight:
            terms["entropy"] = losses.entropy_calibration_loss(
                stats.entropy, samples.completion_mask, self.calibration.ce_mean, f, q
            )
        if config.feature_weight and self.targets.features is not None:
            feature_loss = self._feature_term(samples, stats)
            if feature_loss is not None:
                terms["feature"] = feature_loss
        return terms

    def _feature_term(self, samples: SampleBatch, stats) -> torch.Tensor | None:
        """REINFORCE with MMD-witness rewards on window features of the decoded samples."""
        from dft_registry.stats.windows import split_windows, window_features

        targets = self.targets.features
        rows, kept = [], []
        for index, sentences in enumerate(self.segmenter.pipe(samples.texts)):
            windows = split_windows(sentences, targets.window)
            if windows:
                values = window_features(windows[0])
                rows.append([values[name] for name in targets.names])
                kept.append(index)
        self._record("feature_samples", len(kept))
        if len(kept) < 2:  # samples shorter than the window cannot be measured
            return None
        device = stats.token_logprob.device
        features = targets.standardise(torch.tensor(rows, dtype=torch.float32, device=device))
        human = targets.samples.to(device)
        bandwidth = losses.median_bandwidth(torch.cat([features, human[:256]]))
        rewards = losses.witness_rewards(features, human, bandwidth, self.replay.tensor(features))
        self.replay.add(features)
        mask = samples.completion_mask[kept].float()
        mean_logprob = (stats.token_logprob[kept] * mask).sum(1) / mask.sum(1).clamp_min(1)
        self._record("feature_reward", rewards.mean().item())
        return losses.reinforce_loss(losses.leave_one_out_advantages(rewards), mean_logprob)

    @property
    def segmenter(self):
        """The bundle's own segmenter (same name and settings as its manifest)."""
        if self._segmenter is None:
            from dft_registry.segment import segmenter_from_manifest

            self._segmenter = segmenter_from_manifest(self.bundle_info["segmenter"])
        return self._segmenter

    def _current_samples(self, model, step: int) -> SampleBatch:
        config: DftConfig = self.args
        refresh_step = step - step % config.dist_every
        if self._samples is None or self._samples_step != refresh_step:
            prompts = self.prompts.draw(config.sample_batch_size, refresh_step)
            self._samples = generate_samples(
                model,
                self.processing_class,
                prompts,
                self.sampling,
                self.rules,
                seed=config.seed * 7919 + refresh_step,
                oracle=self.oracle,
            )
            self._samples_step = refresh_step
        return self._samples

    @staticmethod
    def _rescore(model, samples: SampleBatch) -> torch.Tensor:
        """Re-score the samples with gradients, in eval mode (no dropout), like generation and
        the reference: the statistics are those of the distribution that was sampled."""
        was_training = model.training
        model.eval()
        try:
            return completion_logits(model, samples)
        finally:
            model.train(was_training)

    @torch.no_grad()
    def _reference_logits(self, model, samples: SampleBatch) -> torch.Tensor:
        if self.reference_model is not None:
            return completion_logits(self.reference_model, samples)
        unwrapped = self.accelerator.unwrap_model(model)
        with unwrapped.disable_adapter():  # PEFT: the base model is the reference
            return completion_logits(unwrapped, samples)

    # ------------------------------------------------------------ calibration

    def _should_calibrate(self) -> bool:
        config: DftConfig = self.args
        due = self.calibration.applications % config.calibrate_every == 0
        self.calibration.applications += 1
        return config.calibrate_weights and due

    def _calibrate(self, model, ce: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
        """Update the running ``|grad term| / |grad CE|`` ratios (extra backward passes)."""
        config: DftConfig = self.args
        params = [p for p in model.parameters() if p.requires_grad]
        ce_norm = _grad_norm(ce, params)
        if not ce_norm > 0:
            return
        for name, value in terms.items():
            if not value.requires_grad:
                continue
            ratio = _grad_norm(value, params) / ce_norm
            if not math.isfinite(ratio) or ratio <= 0:
                continue
            old = self.calibration.ratios.get(name)
            momentum = config.calibration_momentum
            self.calibration.ratios[name] = (
                ratio if old is None else momentum * old + (1 - momentum) * ratio
            )
            self._record(f"grad_ratio_{name}", ratio)

    def _update_ce_mean(self, value: float, momentum: float = 0.9) -> None:
        old = self.calibration.ce_mean
        self.calibration.ce_mean = value if old is None else momentum * old + (1 - momentum) * value

    # ---------------------------------------------------------------- logging

    def _record(self, name: str, value: float) -> None:
        self._logged[name].append(float(value))

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        """Add the mean of every recorded part since the last log: ``loss_<term>`` for the
        loss parts (ce, kl, dist and each term), the other records under their own names."""
        if self._logged and "loss" in logs:
            for name, values in self._logged.items():
                key = f"loss_{name}" if name in (*TERMS, "ce", "kl", "dist") else name
                logs[key] = sum(values) / len(values)
            self._logged.clear()
        super().log(logs, *args, **kwargs)

    # ----------------------------------------------------------------- saving

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        super().save_model(output_dir, _internal_call)
        output_dir = output_dir or self.args.output_dir
        if self.args.should_save:
            write_dft_config(Path(output_dir), self.bundle_info, self.args, self.kl_weight)

    def _save_checkpoint(self, model, trial) -> None:
        super()._save_checkpoint(model, trial)
        checkpoint = Path(self._get_output_dir(trial)) / f"checkpoint-{self.state.global_step}"
        if self.args.should_save and checkpoint.exists():
            state = {
                "ratios": self.calibration.ratios,
                "applications": self.calibration.applications,
                "ce_mean": self.calibration.ce_mean,
            }
            (checkpoint / DFT_STATE_FILE).write_text(json.dumps(state, indent=2))

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None) -> None:
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        path = Path(resume_from_checkpoint) / DFT_STATE_FILE
        if path.exists():
            state = json.loads(path.read_text())
            self.calibration = CalibrationState(
                ratios=state["ratios"], applications=state["applications"], ce_mean=state["ce_mean"]
            )

    def _vocab_size(self) -> int:
        embeddings = self.model.get_output_embeddings()
        return (
            embeddings.weight.shape[0] if embeddings is not None else self.model.config.vocab_size
        )


def write_dft_config(
    directory: Path, bundle_info: dict, config: DftConfig, kl_weight: float | None = None
) -> Path:
    """Write ``dft_config.json``: the bundle reference and the DFT settings (atomic replace).

    ``kl_weight``: the resolved KL weight (the config may hold None = default).
    """
    directory.mkdir(parents=True, exist_ok=True)
    settings = config.dft_settings()
    if kl_weight is not None:
        settings["kl_weight"] = kl_weight
    record = {
        "format": "dft-train-config",
        "format_version": 1,
        "bundle": {
            k: bundle_info.get(k) for k in ("domain", "version", "content_hash", "segmenter")
        },
        "config": _jsonable(settings),
    }
    target = directory / DFT_CONFIG_FILE
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, target)
    return target


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _grad_norm(value: torch.Tensor, params: list[torch.Tensor]) -> float:
    grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
    return math.sqrt(sum(float(g.pow(2).sum()) for g in grads if g is not None))


def _mean_length(counts: losses.SentenceLengthCounts) -> float:
    ended = counts.ended.detach()
    ks = torch.arange(len(ended), dtype=ended.dtype, device=ended.device)
    total = ended.sum().item()
    return float((ended * ks).sum().item() / total) if total > 0 else float("nan")


def _is_peft(model) -> bool:
    return hasattr(model, "disable_adapter") and hasattr(model, "peft_config")


def _frozen_copy(model):
    reference = copy.deepcopy(model)
    reference.eval()
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    return reference
