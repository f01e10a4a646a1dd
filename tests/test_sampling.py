# ruff: noqa: F811  (pytest fixtures imported from train_fixtures are used as arguments)
"""Sampling and re-scoring: alignment, padding, EOS, chunked reductions."""

from __future__ import annotations

import pytest
import torch
from train_fixtures import gpt2_tokenizer, make_tiny_gpt2  # noqa: F401

from dft_train import losses
from dft_train.sampling import (
    SamplingSettings,
    chunked_kl_to_reference,
    completion_logits,
    completion_mask_after_eos,
    encode_prompts,
    generate_samples,
    position_statistics,
)
from dft_train.token_rules import TokenRules

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(gpt2_tokenizer):
    return make_tiny_gpt2(gpt2_tokenizer)


@pytest.fixture(scope="module")
def rules(gpt2_tokenizer):
    return TokenRules.from_tokenizer(gpt2_tokenizer)


PROMPTS = ["The license", "Permission is hereby granted, free of charge, to any"]


def test_prompts_are_left_padded_with_a_mask(gpt2_tokenizer):
    encoded = encode_prompts(gpt2_tokenizer, PROMPTS, max_prompt_tokens=32)
    assert encoded["attention_mask"][0].tolist()[0] == 0
    assert encoded["attention_mask"][0].tolist()[-1] == 1
    assert encoded["input_ids"][0, -2:].tolist() == gpt2_tokenizer("The license")["input_ids"]


def test_rescoring_reproduces_the_logits_generation_sampled_from(tiny, gpt2_tokenizer, rules):
    settings = SamplingSettings(max_new_tokens=6)
    tiny.train()
    batch = generate_samples(tiny, gpt2_tokenizer, PROMPTS, settings, rules, seed=7)
    assert tiny.training, "generate_samples restores train mode"
    assert not batch.sequences.requires_grad
    encoded = encode_prompts(gpt2_tokenizer, PROMPTS, 32)
    tiny.eval()
    torch.manual_seed(7)
    reference = tiny.generate(
        **encoded,
        do_sample=True,
        top_k=0,
        top_p=1.0,
        temperature=1.0,
        max_new_tokens=6,
        pad_token_id=gpt2_tokenizer.eos_token_id,
        output_logits=True,
        return_dict_in_generate=True,
    )
    assert torch.equal(reference.sequences, batch.sequences)
    logits = completion_logits(tiny, batch)
    assert torch.allclose(logits, torch.stack(reference.logits, 1), atol=1e-4)
    tiny.train()


def test_positions_after_the_first_eos_are_masked():
    completion = torch.tensor([[5, 9, 0, 7], [5, 6, 7, 8]])
    mask = completion_mask_after_eos(completion, [0])
    assert mask.tolist() == [[True, True, True, False], [True, True, True, True]]


def test_chunked_statistics_equal_the_direct_computation_with_gradients(
    tiny, gpt2_tokenizer, rules
):
    batch = generate_samples(
        tiny, gpt2_tokenizer, PROMPTS, SamplingSettings(max_new_tokens=10), rules, seed=1
    )
    batch.completion_mask[1, 7:] = False
    logits = completion_logits(tiny, batch).detach().requires_grad_(True)
    stats = position_statistics(logits, batch, rules, chunk_positions=3)
    probs = torch.softmax(logits, -1)
    mask = batch.completion_mask
    states = rules.states_along(
        batch.completion_ids, torch.tensor([s.state for s in batch.prompt_states])
    )
    expected_w = (probs * rules.start[states]).sum(-1)
    suppressed = batch.end_suppressed.float()
    expected_e = (
        probs * (rules.end[states] - suppressed.unsqueeze(-1) * rules.open_end[states])
    ).sum(-1)
    expected_f = losses.masked_mean_over_positions(probs, mask)
    assert torch.allclose(stats.frequencies, expected_f, atol=1e-6)
    assert torch.allclose(stats.start_probs, expected_w, atol=1e-5)
    assert torch.allclose(stats.end_probs, expected_e, atol=1e-5)
    gradient_chunked = torch.autograd.grad(
        stats.frequencies.pow(2).sum() + stats.start_probs.sum(), logits
    )[0]
    gradient_direct = torch.autograd.grad(expected_f.pow(2).sum() + expected_w.sum(), logits)[0]
    assert torch.allclose(gradient_chunked, gradient_direct, atol=1e-6)


def test_chunked_kl_equals_the_plain_kl():
    logits = torch.randn(2, 7, 30, requires_grad=True)
    reference = torch.randn(2, 7, 30)
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[0, 5:] = False
    plain = losses.kl_to_reference(logits, reference, mask)
    chunked = chunked_kl_to_reference(logits, reference, mask, chunk_positions=2)
    assert chunked.item() == pytest.approx(plain.item(), rel=1e-5)
