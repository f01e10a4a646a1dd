"""DftConfig: every training setting, a ``transformers.TrainingArguments`` with DFT fields.

The loss is ``ce_weight * CE + dist_weight * D + kl_weight * KL`` (DESIGN.md
section 6), where ``D = sum_i term_weight_i * scale_i * term_i`` over the
pathwise terms (token, length, entropy) and the optional feature MMD, and
``scale_i`` is 1 or, with ``calibrate_weights``, a running estimate of
``target_grad_ratio * |grad CE| / |grad term_i|``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from transformers import TrainingArguments

from dft_registry.errors import TrainError

TOKEN_DISTANCES = ("hellinger", "embedding_mmd")


def _help(text: str) -> dict:
    return {"help": text}


@dataclass
class DftConfig(TrainingArguments):
    """Training arguments plus the distributional loss, sampling and calibration settings."""

    # --- what to match
    domain: str = field(
        default="", metadata=_help("Bundle reference: `legal`, `legal@v2`, `legal@sha256:1a2b`.")
    )
    registry: str | None = field(
        default=None,
        metadata=_help(
            "Registry directory holding the bundle (default: DFT_REGISTRY or the project)."
        ),
    )
    # --- loss weights
    ce_weight: float = field(
        default=1.0, metadata=_help("Weight of next-token cross-entropy on the text data.")
    )
    dist_weight: float = field(
        default=1.0, metadata=_help("Weight of the distributional loss D (sum of the terms below).")
    )
    kl_weight: float | None = field(
        default=None,
        metadata=_help(
            "Weight of KL(model || reference) on the samples; default 0 with --data, 1 without "
            "(then it replaces CE so the model does not drift)."
        ),
    )
    dist_every: int = field(
        default=4,
        metadata=_help(
            "Apply D every N optimizer steps (the alternation); CE runs every step. "
            "Without text data, samples are refreshed every N steps and reused in between."
        ),
    )
    token_weight: float = field(
        default=1.0, metadata=_help("Weight of the token-frequency term (inside D).")
    )
    length_weight: float = field(
        default=0.5,
        metadata=_help(
            "Weight of the sentence-length hazard term (inside D); 0.3-0.5x CE's gradient."
        ),
    )
    entropy_weight: float = field(
        default=0.1, metadata=_help("Weight of the entropy-calibration term (inside D).")
    )
    feature_weight: float = field(
        default=0.0,
        metadata=_help(
            "Weight of the REINFORCE window-feature MMD (inside D; 0 = off: noisy below 16-32 samples)."
        ),
    )
    token_distance: str = field(
        default="hellinger",
        metadata=_help(
            "Token-frequency distance: `hellinger` (sqrt f vs sqrt q) or `embedding_mmd` "
            "(kernel of normalised input embeddings)."
        ),
    )
    # --- weight calibration
    calibrate_weights: bool = field(
        default=True,
        metadata=_help(
            "Scale each term so its gradient norm is target_grad_ratio x CE's (running average). "
            "Needs text data; ignored without it."
        ),
    )
    target_grad_ratio: float = field(
        default=0.5,
        metadata=_help("Target ratio |grad term| / |grad CE| for calibration (0.5-1 recommended)."),
    )
    calibration_momentum: float = field(
        default=0.9,
        metadata=_help("Running-average momentum of the measured gradient-norm ratios."),
    )
    calibrate_every: int = field(
        default=5,
        metadata=_help(
            "Measure gradient norms on every Nth application of D (costs extra backward passes)."
        ),
    )
    max_weight_scale: float = field(
        default=100.0,
        metadata=_help("Clamp of the calibrated scale of any term, both ways (1/x .. x)."),
    )
    # --- sampling
    sample_batch_size: int = field(
        default=4, metadata=_help("Continuations sampled per application of D.")
    )
    max_new_tokens: int = field(default=64, metadata=_help("Tokens generated per continuation."))
    temperature: float = field(default=1.0, metadata=_help("Sampling temperature."))
    top_p: float = field(
        default=1.0, metadata=_help("Nucleus sampling mass (top_k is always 0: off).")
    )
    max_prompt_tokens: int = field(
        default=32, metadata=_help("Prompts are cut to their last N tokens.")
    )
    prompts_file: str | None = field(
        default=None,
        metadata=_help(
            "Text file with one prompt per line (default: the bundle's sentence openers)."
        ),
    )
    logit_chunk: int = field(
        default=16,
        metadata=_help(
            "Positions per chunk when reducing full-vocabulary softmaxes (memory bound)."
        ),
    )
    # --- targets
    max_sentence_length: int = field(
        default=100,
        metadata=_help(
            "Longest sentence (words) whose hazard is matched; longer ones share a bin."
        ),
    )
    feature_window: int = field(
        default=0,
        metadata=_help(
            "Window (words) for the feature MMD; 0 = the bundle window closest to the words "
            "a sample holds (about 0.7 x max_new_tokens)."
        ),
    )
    replay_buffer_size: int = field(
        default=64, metadata=_help("Recent sample features kept for the feature MMD's model side.")
    )
    # --- text data
    max_seq_length: int = field(
        default=128, metadata=_help("Tokens per CE training block from --data.")
    )
    # --- TrainingArguments defaults that DFT needs
    remove_unused_columns: bool = field(
        default=False,
        metadata=_help("Kept False: DFT batches carry fields the model does not take."),
    )
    report_to: str | list[str] | None = field(
        default="none", metadata=_help("Logging integrations (default none).")
    )

    def __post_init__(self):
        super().__post_init__()
        if self.token_distance not in TOKEN_DISTANCES:
            raise TrainError(
                f"unknown token distance {self.token_distance!r}; choose one of {', '.join(TOKEN_DISTANCES)}"
            )
        if self.dist_every < 1:
            raise TrainError("dist_every must be at least 1")
        if self.sample_batch_size < 1 or self.max_new_tokens < 1:
            raise TrainError("sample_batch_size and max_new_tokens must be at least 1")

    def resolved_kl_weight(self, has_text_data: bool) -> float:
        """``kl_weight``, or its default: 0 with text data, 1 without."""
        if self.kl_weight is not None:
            return self.kl_weight
        return 0.0 if has_text_data else 1.0

    def dft_settings(self) -> dict:
        """The DFT-specific fields (what ``dft_config.json`` records besides the bundle)."""
        base = {f.name for f in dataclasses.fields(TrainingArguments)}
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in base
            or f.name
            in (
                "learning_rate",
                "max_steps",
                "seed",
                "per_device_train_batch_size",
                "gradient_accumulation_steps",
            )
        }
