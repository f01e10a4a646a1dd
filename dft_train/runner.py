"""Assemble a DFT run from names: bundle reference + model path + optional text -> DftTrainer.

The CLI is a thin layer over :func:`prepare_trainer` and :func:`train`; tests
and notebooks call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transformers import default_data_collator

from dft_registry.errors import DftError, TrainError

from .config import DftConfig
from .data import (
    PromptSampler,
    StepTickets,
    TextBlocks,
    expand_inputs,
    read_documents,
    read_prompts,
)
from .models import load_model_and_tokenizer
from .targets import build_targets
from .trainer import DftTrainer, write_dft_config


@dataclass
class TrainResult:
    output_dir: Path
    global_step: int
    log_history: list[dict]


def load_bundle(reference: str, registry: str | None):
    import dft_registry

    try:
        return dft_registry.load(reference, registry=registry)
    except DftError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise TrainError(f"cannot load bundle {reference!r}: {exc}") from None


def apply_lora(model, rank: int, alpha: int | None = None, dropout: float = 0.0):
    """Wrap ``model`` with LoRA adapters on every linear layer (only adapters train and save)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=rank,
        lora_alpha=alpha or 2 * rank,
        lora_dropout=dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def prepare_trainer(
    config: DftConfig,
    model_name_or_path: str,
    data: list[str] | None = None,
    lora_r: int = 0,
    model_cache_dir: Path | None = None,
    callbacks: list | None = None,
) -> DftTrainer:
    """Load bundle, model, tokenizer and data; build targets; return a ready DftTrainer."""
    if not config.domain:
        raise TrainError("no domain given; pass --domain NAME (see `dft-stats list`)")
    bundle = load_bundle(config.domain, config.registry)
    # user files first: a typo in --data or --prompts fails before the model loads
    documents = read_documents(expand_inputs(data)) if data else None
    if config.prompts_file:
        prompts = PromptSampler(read_prompts(config.prompts_file), seed=config.seed)
    else:
        prompts = PromptSampler.from_bundle(bundle, seed=config.seed)
    model, tokenizer = load_model_and_tokenizer(model_name_or_path, model_cache_dir)
    vocab = model.get_output_embeddings().weight.shape[0]
    window = config.feature_window or max(8, int(0.7 * config.max_new_tokens))
    targets = build_targets(bundle, tokenizer, vocab, window, config.max_sentence_length)
    if documents is not None:
        dataset = TextBlocks(documents, tokenizer, config.max_seq_length)
    else:
        slots = max(config.max_steps, 1) * config.per_device_train_batch_size
        dataset = StepTickets(slots * config.gradient_accumulation_steps)
    if lora_r > 0:
        model = apply_lora(model, lora_r)
    bundle_info = {
        "domain": bundle.domain,
        "version": bundle.version,
        "content_hash": bundle.content_hash,
        "segmenter": bundle.manifest["segmenter"],
    }
    return DftTrainer(
        model=model,
        args=config,
        targets=targets,
        prompts=prompts,
        processing_class=tokenizer,
        bundle_info=bundle_info,
        has_text_data=bool(data),
        train_dataset=dataset,
        data_collator=default_data_collator,
        callbacks=callbacks,
    )


def train(trainer: DftTrainer, resume_from_checkpoint: str | bool | None = None) -> TrainResult:
    """Run training, save the final model (+ tokenizer + dft_config.json) to the output dir."""
    if resume_from_checkpoint is True:
        from transformers.trainer_utils import get_last_checkpoint

        resume_from_checkpoint = get_last_checkpoint(trainer.args.output_dir)
        if resume_from_checkpoint is None:
            raise TrainError(f"--resume: no checkpoint-* directory in {trainer.args.output_dir}")
    trainer.train(resume_from_checkpoint=resume_from_checkpoint or None)
    output_dir = Path(trainer.args.output_dir)
    trainer.save_model(str(output_dir))
    write_dft_config(output_dir, trainer.bundle_info, trainer.args, trainer.kl_weight)
    return TrainResult(output_dir, trainer.state.global_step, list(trainer.state.log_history))
