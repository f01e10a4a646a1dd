"""Sample continuations without gradients, then re-score them with gradients in one pass.

Pitfalls this module handles (DESIGN.md section 6):

* ``generate()`` runs under ``no_grad`` and in eval mode (no dropout), with
  ``top_k=0`` set explicitly (its default is 50) and an explicit ``top_p`` and
  temperature.
* Prompts are left-padded with an attention mask, and the re-scoring forward
  pass passes the same mask and position ids, so padded rows see the
  positions that generation used.
* Logits at positions ``[P-1:-1]`` predict the sampled tokens ``[P:]`` (P =
  padded prompt length): an off-by-one silently scores the wrong tokens.
* Positions after a sample's first EOS are masked out; the EOS itself counts.
* Full-vocabulary softmaxes are reduced chunk by chunk under activation
  checkpointing, so memory holds one chunk of probabilities, not B x T x V.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.checkpoint import checkpoint

from .token_rules import (
    SPACE,
    AbbreviationOracle,
    PrefixState,
    TokenRules,
    end_suppression,
    hard_sentence_lengths,
)


@dataclass
class SamplingSettings:
    """How continuations are drawn: ``max_new_tokens`` tokens per sample, nucleus sampling."""

    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_prompt_tokens: int = 32


@dataclass
class SampleBatch:
    """Prompts + sampled continuations, ready to re-score.

    ``sequences`` [B, P+N] (left-padded prompts, then N sampled tokens);
    ``attention_mask`` [B, P+N]; ``completion_mask`` [B, N]: sampled positions
    that count (up to and including the first EOS); ``prompt_states``: the
    sentence-length state each prompt leaves (words so far, char class);
    ``end_suppressed`` [B, N]: positions where an open sentence end (a full
    stop) would not end the sentence (glued next token, abbreviation).
    """

    sequences: torch.Tensor
    attention_mask: torch.Tensor
    prompt_length: int
    completion_mask: torch.Tensor
    prompt_states: list[PrefixState]
    texts: list[str]
    end_suppressed: torch.Tensor | None = None

    @property
    def completion_ids(self) -> torch.Tensor:
        return self.sequences[:, self.prompt_length :]

    @property
    def position_ids(self) -> torch.Tensor:
        return (self.attention_mask.long().cumsum(-1) - 1).clamp_min(0)


def encode_prompts(
    tokenizer, prompts: list[str], max_prompt_tokens: int
) -> dict[str, torch.Tensor]:
    """Left-padded ``input_ids`` and ``attention_mask`` for ``prompts`` (each cut to its last
    ``max_prompt_tokens`` tokens; an empty prompt becomes the BOS/EOS token)."""
    rows = []
    for prompt in prompts:
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"][-max_prompt_tokens:]
        if not ids:
            ids = [
                tokenizer.bos_token_id
                if tokenizer.bos_token_id is not None
                else tokenizer.eos_token_id
            ]
        rows.append(ids)
    width = max(len(ids) for ids in rows)
    pad = pad_token_id(tokenizer)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, ids in enumerate(rows):
        input_ids[i, width - len(ids) :] = torch.tensor(ids)
        attention_mask[i, width - len(ids) :] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def pad_token_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def completion_mask_after_eos(completion: torch.Tensor, eos_ids: list[int]) -> torch.Tensor:
    """True for sampled positions up to and including each row's first EOS."""
    is_eos = torch.zeros_like(completion, dtype=torch.bool)
    for eos in eos_ids:
        is_eos |= completion == eos
    seen_before = (is_eos.long().cumsum(-1) - is_eos.long()) > 0
    return ~seen_before


def eos_token_ids(model, tokenizer) -> list[int]:
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = ids if isinstance(ids, list) else [ids] if ids is not None else []
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return sorted({int(i) for i in ids})


@torch.no_grad()
def generate_samples(
    model,
    tokenizer,
    prompts: list[str],
    settings: SamplingSettings,
    rules: TokenRules | None = None,
    seed: int | None = None,
    oracle: AbbreviationOracle | None = None,
) -> SampleBatch:
    """Sample one continuation per prompt (no gradients, eval mode; the mode is restored)."""
    encoded = encode_prompts(tokenizer, prompts, settings.max_prompt_tokens)
    device = next(model.parameters()).device
    encoded = {k: v.to(device) for k, v in encoded.items()}
    was_training = model.training
    model.eval()
    eos = eos_token_ids(model, tokenizer)
    try:
        if seed is not None:
            torch.manual_seed(seed)
        sequences = model.generate(
            **encoded,
            do_sample=True,
            top_k=settings.top_k,
            top_p=settings.top_p,
            temperature=settings.temperature,
            max_new_tokens=settings.max_new_tokens,
            pad_token_id=pad_token_id(tokenizer),
            eos_token_id=eos or None,
        )
    finally:
        model.train(was_training)
    prompt_length = encoded["input_ids"].shape[1]
    completion = sequences[:, prompt_length:]
    if completion.shape[1] < settings.max_new_tokens:  # every row stopped early
        filler = torch.full(
            (len(prompts), settings.max_new_tokens - completion.shape[1]),
            pad_token_id(tokenizer),
            dtype=completion.dtype,
            device=completion.device,
        )
        completion = torch.cat([completion, filler], 1)
        sequences = torch.cat([sequences[:, :prompt_length], completion], 1)
    completion_mask = completion_mask_after_eos(completion, eos)
    attention_mask = torch.cat([encoded["attention_mask"], completion_mask.long()], 1)
    states = []
    suppressed = torch.zeros_like(completion_mask)
    for row in range(len(prompts)):
        ids = encoded["input_ids"][row][encoded["attention_mask"][row].bool()].tolist()
        if rules is None:
            states.append(PrefixState(words=0, state=SPACE))
            continue
        states.append(hard_sentence_lengths(rules, ids, oracle=oracle)[1])
        prompt_text = tokenizer.decode(ids, skip_special_tokens=True)
        flags = end_suppression(rules, completion[row].tolist(), prompt_text, oracle)
        suppressed[row] = torch.tensor(flags, dtype=torch.bool)
    texts = tokenizer.batch_decode(
        [ids[mask].tolist() for ids, mask in zip(completion, completion_mask)],
        skip_special_tokens=True,
    )
    return SampleBatch(
        sequences=sequences,
        attention_mask=attention_mask,
        prompt_length=prompt_length,
        completion_mask=completion_mask,
        prompt_states=states,
        texts=texts,
        end_suppressed=suppressed,
    )


def completion_logits(model, batch: SampleBatch) -> torch.Tensor:
    """One forward pass with gradients; logits [B, N, V] that predicted the N sampled tokens."""
    outputs = model(
        input_ids=batch.sequences,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=False,
    )
    return outputs.logits[:, batch.prompt_length - 1 : -1]


@dataclass
class PositionStatistics:
    """Per-position reductions of the model's softmax over sampled positions.

    ``frequency_sum`` [V]: sum of ``p_t`` over counted positions (divide by
    ``positions`` for ``f``); ``end_probs``/``start_probs`` [B, N]: ``e_t``,
    ``w_t``; ``entropy`` [B, N] (nats); ``token_logprob`` [B, N]: log-prob of
    the sampled token (nats).
    """

    frequency_sum: torch.Tensor
    positions: torch.Tensor
    end_probs: torch.Tensor
    start_probs: torch.Tensor
    entropy: torch.Tensor
    token_logprob: torch.Tensor

    @property
    def frequencies(self) -> torch.Tensor:
        return self.frequency_sum / self.positions.clamp_min(1.0)


def _chunk_statistics(logits, tokens, states, mask, suppressed, end_table, open_table, start_table):
    log_probs = torch.log_softmax(logits.float(), -1)
    probs = log_probs.exp()
    frequency_sum = (probs * mask.unsqueeze(-1)).sum(dim=(0, 1))
    index = states.unsqueeze(-1)
    end_probs = (probs @ end_table.T).gather(-1, index).squeeze(-1)  # [B, c]
    open_probs = (probs @ open_table.T).gather(-1, index).squeeze(-1)
    end_probs = end_probs - suppressed * open_probs
    start_probs = (probs @ start_table.T).gather(-1, index).squeeze(-1)
    entropy = -(probs * log_probs).sum(-1)
    token_logprob = log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return frequency_sum, end_probs, start_probs, entropy, token_logprob


def position_statistics(
    logits: torch.Tensor,
    batch: SampleBatch,
    rules: TokenRules,
    chunk_positions: int = 16,
) -> PositionStatistics:
    """Reduce ``logits`` [B, N, V] chunk by chunk (recomputed in backward, not stored)."""
    tokens = batch.completion_ids
    initial = torch.tensor([s.state for s in batch.prompt_states], device=tokens.device)
    states = rules.states_along(tokens, initial)
    mask = batch.completion_mask.to(torch.float32)
    vocab = logits.shape[-1]
    end_table = rules.end[:, :vocab].to(logits.device)
    open_table = rules.open_end[:, :vocab].to(logits.device)
    start_table = rules.start[:, :vocab].to(logits.device)
    if batch.end_suppressed is None:
        suppressed = torch.zeros_like(mask)
    else:
        suppressed = batch.end_suppressed.to(mask)
    parts = []
    for begin in range(0, tokens.shape[1], chunk_positions):
        piece = slice(begin, begin + chunk_positions)
        args = (
            logits[:, piece],
            tokens[:, piece],
            states[:, piece],
            mask[:, piece],
            suppressed[:, piece],
            end_table,
            open_table,
            start_table,
        )
        if torch.is_grad_enabled() and logits.requires_grad:
            parts.append(checkpoint(_chunk_statistics, *args, use_reentrant=False))
        else:
            parts.append(_chunk_statistics(*args))
    frequency_sum = torch.stack([p[0] for p in parts]).sum(0)
    end_probs, start_probs, entropy, token_logprob = (
        torch.cat([p[i] for p in parts], 1) for i in range(1, 5)
    )
    return PositionStatistics(
        frequency_sum=frequency_sum,
        positions=mask.sum(),
        end_probs=end_probs,
        start_probs=start_probs,
        entropy=entropy,
        token_logprob=token_logprob,
    )


def chunked_kl_to_reference(
    logits: torch.Tensor,
    reference_logits: torch.Tensor,
    mask: torch.Tensor,
    chunk_positions: int = 16,
) -> torch.Tensor:
    """Mean over masked positions of KL(model || reference), nats per token, chunked."""
    total = logits.new_zeros((), dtype=torch.float32)

    def chunk_kl(model_chunk, reference_chunk, mask_chunk):
        log_p = torch.log_softmax(model_chunk.float(), -1)
        log_r = torch.log_softmax(reference_chunk.float(), -1)
        return ((log_p.exp() * (log_p - log_r)).sum(-1) * mask_chunk).sum()

    weights = mask.to(torch.float32)
    for begin in range(0, logits.shape[1], chunk_positions):
        piece = slice(begin, begin + chunk_positions)
        args = (logits[:, piece], reference_logits[:, piece].detach(), weights[:, piece])
        if torch.is_grad_enabled() and logits.requires_grad:
            total = total + checkpoint(chunk_kl, *args, use_reentrant=False)
        else:
            total = total + chunk_kl(*args)
    return total / weights.sum().clamp_min(1.0)
