"""Specifications of the loss terms: value, zero at the target, gradient, direction."""

from __future__ import annotations

import math

import pytest
import torch

from dft_train import losses

torch.set_num_threads(1)


def _finite_nonzero_grad(tensor: torch.Tensor) -> None:
    assert tensor.grad is not None
    assert torch.isfinite(tensor.grad).all()
    assert tensor.grad.abs().sum() > 0


# ---------------------------------------------------------------- token frequency


def test_hellinger_matches_hand_computation():
    f = torch.tensor([0.5, 0.5, 0.0])
    q = torch.tensor([0.25, 0.25, 0.5])
    expected = 2 * (math.sqrt(0.5) - 0.5) ** 2 + 0.5
    assert losses.hellinger_token_loss(f, q).item() == pytest.approx(expected, abs=1e-4)


def test_hellinger_is_zero_at_target_and_positive_elsewhere():
    q = torch.softmax(torch.randn(50), 0)
    assert losses.hellinger_token_loss(q, q).item() == pytest.approx(0.0, abs=1e-12)
    assert losses.hellinger_token_loss(torch.softmax(torch.randn(50), 0), q) > 0


def test_hellinger_gradient_is_finite_even_where_f_is_zero():
    logits = torch.tensor([0.0, 0.0, -200.0], requires_grad=True)
    losses.hellinger_token_loss(torch.softmax(logits, 0), torch.tensor([0.2, 0.3, 0.5])).backward()
    _finite_nonzero_grad(logits)


def test_embedding_mmd_matches_hand_computation():
    embeddings = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    f = torch.tensor([0.5, 0.5, 0.0])
    q = torch.tensor([0.25, 0.25, 0.5])
    gap = 0.25 - 0.5 / math.sqrt(2)
    assert losses.embedding_mmd_token_loss(f, q, embeddings).item() == pytest.approx(
        2 * gap**2, rel=1e-5
    )


def test_embedding_mmd_is_zero_at_target_with_finite_gradient():
    embeddings = torch.randn(30, 8)
    q = torch.softmax(torch.randn(30), 0)
    assert losses.embedding_mmd_token_loss(q, q, embeddings).item() == pytest.approx(0.0, abs=1e-12)
    logits = torch.randn(30, requires_grad=True)
    losses.embedding_mmd_token_loss(torch.softmax(logits, 0), q, embeddings).backward()
    _finite_nonzero_grad(logits)


class _BigramModel(torch.nn.Module):
    """Toy LM: the next-token logits depend on the previous token only."""

    def __init__(self, vocab: int):
        super().__init__()
        self.table = torch.nn.Parameter(torch.randn(vocab, vocab) * 2.0)

    def sample(self, batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
        tokens = torch.zeros(batch, length + 1, dtype=torch.long)
        with torch.no_grad():
            for t in range(length):
                probs = torch.softmax(self.table[tokens[:, t]], -1)
                tokens[:, t + 1] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        return tokens

    def expected_frequencies(self, tokens: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(self.table[tokens[:, :-1]], -1)
        return probs.mean(dim=(0, 1))


def _optimise_token_term(term, steps: int = 150) -> tuple[float, float]:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    vocab = 20
    q = torch.distributions.Dirichlet(torch.ones(vocab)).sample()
    model = _BigramModel(vocab)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)

    def js_now() -> float:
        with torch.no_grad():
            f = model.expected_frequencies(model.sample(64, 32, generator))
        return losses.js_divergence(f, q).item()

    before = js_now()
    for _ in range(steps):
        tokens = model.sample(8, 32, generator)
        loss = term(model.expected_frequencies(tokens), q)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return before, js_now()


def test_hellinger_alone_moves_token_distribution_toward_target():
    before, after = _optimise_token_term(losses.hellinger_token_loss)
    assert after < 0.5 * before


def test_embedding_mmd_alone_moves_token_distribution_toward_target():
    embeddings = torch.randn(20, 20, generator=torch.Generator().manual_seed(1))
    before, after = _optimise_token_term(
        lambda f, q: losses.embedding_mmd_token_loss(f, q, embeddings), steps=200
    )
    assert after < 0.5 * before


def test_js_divergence_is_zero_for_equal_and_log2_for_disjoint():
    p = torch.tensor([1.0, 0.0])
    assert losses.js_divergence(p, p).item() == pytest.approx(0.0)
    assert losses.js_divergence(p, torch.tensor([0.0, 1.0])).item() == pytest.approx(math.log(2))


# ---------------------------------------------------------------- sentence length


def test_recursion_matches_hand_computation():
    end = torch.tensor([[0.0, 0.5, 0.0]])
    start = torch.tensor([[1.0, 0.5, 1.0]])
    counts = losses.sentence_length_recursion(end, start, max_length=5)
    assert counts.reached.tolist()[:5] == pytest.approx([0.0, 1.5, 0.5, 0.5, 0.0])
    assert counts.ended.tolist()[:5] == pytest.approx([0.0, 0.5, 0.0, 0.0, 0.0])
    hazard, at_risk = counts.hazard()
    assert hazard[:2].tolist() == pytest.approx([0.5, 0.0])
    assert at_risk[:3].tolist() == pytest.approx([1.0, 0.5, 0.0])


def test_end_applies_to_count_before_this_positions_word_start():
    # "w w ." : two words then an end -> one sentence of exactly two words
    end = torch.tensor([[0.0, 0.0, 1.0]])
    start = torch.tensor([[1.0, 1.0, 0.0]])
    counts = losses.sentence_length_recursion(end, start, max_length=5)
    assert counts.ended.tolist()[:4] == pytest.approx([0.0, 0.0, 1.0, 0.0])


def test_an_end_with_no_words_ends_nothing():
    end = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    start = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    counts = losses.sentence_length_recursion(end, start, max_length=5)
    assert counts.ended.sum().item() == pytest.approx(1.0)
    assert counts.ended[1].item() == pytest.approx(1.0)


def test_prompt_state_initialises_the_word_count():
    end = torch.tensor([[0.0, 1.0]])
    start = torch.tensor([[1.0, 0.0]])
    counts = losses.sentence_length_recursion(
        end, start, initial_words=torch.tensor([3]), max_length=8
    )
    assert counts.ended[4].item() == pytest.approx(1.0)
    assert counts.reached[:4].sum().item() == pytest.approx(0.0)


def test_masked_positions_do_nothing():
    end = torch.tensor([[0.0, 1.0, 1.0]])
    start = torch.tensor([[1.0, 0.0, 0.0]])
    mask = torch.tensor([[True, False, False]])
    counts = losses.sentence_length_recursion(end, start, mask=mask, max_length=4)
    assert counts.ended.sum().item() == 0.0
    assert counts.reached[1].item() == pytest.approx(1.0)


def _simulate(end: torch.Tensor, start: torch.Tensor, initial: int, max_length: int, runs: int):
    """Monte-Carlo of the same Bernoulli process: expected reached/ended counts."""
    generator = torch.Generator().manual_seed(0)
    size = max_length + 2
    reached = torch.zeros(size, dtype=torch.float64)
    ended = torch.zeros(size, dtype=torch.float64)
    batch, length = end.shape
    for b in range(batch):
        u = torch.rand(runs, length, generator=generator, dtype=torch.float64)
        k = torch.full((runs,), initial, dtype=torch.long)
        for t in range(length):
            is_end = u[:, t] < end[b, t]
            is_start = (~is_end) & (u[:, t] < end[b, t] + start[b, t])
            closing = is_end & (k > 0)
            ended += torch.bincount(k[closing], minlength=size).double()
            k = torch.where(closing, 0, k)
            k = torch.where(is_start, (k + 1).clamp(max=size - 1), k)
            reached += torch.bincount(k[is_start & (k <= size - 1)], minlength=size).double()
    return reached / runs, ended / runs


def test_recursion_matches_monte_carlo_simulation_of_the_same_process():
    generator = torch.Generator().manual_seed(3)
    batch, length, max_length = 3, 40, 12
    end = torch.rand(batch, length, generator=generator, dtype=torch.float64) * 0.25
    start = (1 - end) * torch.rand(batch, length, generator=generator, dtype=torch.float64)
    counts = losses.sentence_length_recursion(
        end, start, initial_words=torch.full((batch,), 2), max_length=max_length
    )
    reached, ended = _simulate(end, start, initial=2, max_length=max_length, runs=20000)
    # mean completed-sentence length, in words
    ks = torch.arange(max_length + 2, dtype=torch.float64)
    exact_mean = (counts.ended * ks).sum() / counts.ended.sum()
    simulated_mean = (ended * ks).sum() / ended.sum()
    assert exact_mean.item() == pytest.approx(simulated_mean.item(), abs=0.02)
    assert torch.allclose(counts.ended, ended, rtol=0.01, atol=0.01)
    assert torch.allclose(counts.reached[:-1], reached[:-1], rtol=0.01, atol=0.01)


def test_length_hazard_from_counts():
    # lengths: 1 x1, 2 x2, 3 x1 (and one zero-word sentence, ignored)
    hazard = losses.length_hazard(torch.tensor([1, 1, 2, 1]), max_length=4)
    assert hazard.tolist() == pytest.approx([0.25, 2 / 3, 1.0, 1.0])
    distribution = losses.hazard_to_length_distribution(hazard)
    assert distribution[:3].tolist() == pytest.approx([0.25, 0.5, 0.25])


def test_hazard_loss_is_zero_at_target_and_positive_elsewhere():
    end = torch.tensor([[0.0, 0.5, 0.0, 0.3, 0.0]])
    start = torch.tensor([[1.0, 0.5, 1.0, 0.7, 1.0]])
    counts = losses.sentence_length_recursion(end, start, max_length=6)
    hazard, _ = counts.hazard()
    assert losses.sentence_length_hazard_loss(counts, hazard.detach()).item() == pytest.approx(
        0.0, abs=1e-9
    )
    assert losses.sentence_length_hazard_loss(counts, torch.full((6,), 0.9)).item() > 0.1


def test_hazard_loss_matches_hand_computation():
    end = torch.tensor([[0.0, 0.5, 0.0]])
    start = torch.tensor([[1.0, 0.5, 1.0]])
    counts = losses.sentence_length_recursion(end, start, max_length=3)
    # risk sets: k=1 -> 1.0 (h=.5), k=2 -> .5 (h=0 clamped); target .25 everywhere
    t = 0.25
    kl1 = t * math.log(t / 0.5) + (1 - t) * math.log((1 - t) / 0.5)
    kl2 = t * math.log(t / 1e-6) + (1 - t) * math.log((1 - t) / (1 - 1e-6))
    expected = (1.0 * kl1 + 0.5 * kl2) / 1.5
    value = losses.sentence_length_hazard_loss(counts, torch.full((3,), t)).item()
    assert value == pytest.approx(expected, rel=1e-4)


def test_hazard_loss_gradient_reaches_end_and_start_probabilities():
    logits = torch.randn(2, 30, 3, requires_grad=True)
    probs = torch.softmax(logits, -1)
    counts = losses.sentence_length_recursion(probs[..., 0], probs[..., 1], max_length=20)
    losses.sentence_length_hazard_loss(counts, torch.full((20,), 0.05)).backward()
    _finite_nonzero_grad(logits)


def _sample_sentences(end_logits: torch.Tensor, batch: int, length: int, generator):
    """Toy LM over {word, end}: P(end | k words so far) = sigmoid(end_logits[k]); k = 0 never ends."""
    with torch.no_grad():
        k = torch.zeros(batch, dtype=torch.long)
        counts = torch.zeros(batch, length, dtype=torch.long)
        is_end = torch.zeros(batch, length, dtype=torch.bool)
        for t in range(length):
            counts[:, t] = k
            p_end = torch.sigmoid(end_logits[k.clamp(max=len(end_logits) - 1)]) * (k > 0)
            ends = torch.rand(batch, generator=generator) < p_end
            is_end[:, t] = ends
            k = torch.where(ends, 0, k + 1)
    return counts, is_end


def _completed_length_variance(end_logits, generator) -> float:
    counts, is_end = _sample_sentences(end_logits, 200, 200, generator)
    lengths = counts[is_end].double()
    return lengths.var().item()


def test_hazard_term_alone_moves_sampled_sentence_length_variance_toward_target():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    max_length = 30
    target_counts = torch.zeros(max_length + 1)
    target_counts[6:9] = 1.0  # lengths 6, 7, 8: variance 2/3
    target_variance = 2 / 3
    target_hazard = losses.length_hazard(target_counts, max_length)
    end_logits = torch.nn.Parameter(torch.full((max_length + 1,), math.log(0.15 / 0.85)))
    optimiser = torch.optim.Adam([end_logits], lr=0.1)
    before = _completed_length_variance(end_logits, generator)
    for _ in range(120):
        counts, _ = _sample_sentences(end_logits, 16, 40, generator)
        p_end = torch.sigmoid(end_logits[counts.clamp(max=max_length)]) * (counts > 0)
        recursion = losses.sentence_length_recursion(p_end, 1 - p_end, max_length=max_length)
        loss = losses.sentence_length_hazard_loss(recursion, target_hazard)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = _completed_length_variance(end_logits, generator)
    assert abs(after - target_variance) < 0.5 * abs(before - target_variance)


# ------------------------------------------------------------------------- entropy


def test_entropy_calibration_matches_hand_computation():
    entropy = torch.tensor([[1.0, 2.0, 9.0]])
    mask = torch.tensor([[True, True, False]])
    assert losses.entropy_calibration_loss(entropy, mask, 1.0).item() == pytest.approx(0.25)
    f = torch.tensor([0.5, 0.5])
    q = torch.tensor([1.0, 0.0])
    value = losses.entropy_calibration_loss(entropy, mask, None, f, q).item()
    assert value == pytest.approx(math.log(2) ** 2)


def test_entropy_calibration_zero_at_target_and_gradient_direction():
    logits = torch.zeros(1, 4, 10, requires_grad=True)
    probs = torch.softmax(logits, -1)
    entropy = losses.distribution_entropy(probs)
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert losses.entropy_calibration_loss(entropy, mask, math.log(10)).item() == pytest.approx(0.0)
    # a toy model optimised on the term alone reaches a lower target entropy
    logits = torch.randn(2, 8, 10, requires_grad=True)
    optimiser = torch.optim.Adam([logits], lr=0.1)
    for _ in range(100):
        entropy = losses.distribution_entropy(torch.softmax(logits, -1))
        loss = losses.entropy_calibration_loss(entropy, torch.ones(2, 8, dtype=torch.bool), 0.5)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    final = losses.distribution_entropy(torch.softmax(logits, -1)).mean().item()
    assert final == pytest.approx(0.5, abs=0.05)


# -------------------------------------------------------------------- REINFORCE MMD


def test_witness_rewards_and_leave_one_out_match_hand_computation():
    samples = torch.tensor([[0.0], [1.0]])
    targets = torch.tensor([[0.0]])
    rewards = losses.witness_rewards(samples, targets, bandwidth=1.0)
    k01 = math.exp(-0.5)
    assert rewards.tolist() == pytest.approx([1 - k01, 0.0], abs=1e-6)
    assert losses.leave_one_out_advantages(rewards).tolist() == pytest.approx(
        [1 - k01, k01 - 1], abs=1e-6
    )


def test_replay_buffer_joins_the_model_side_and_keeps_capacity():
    buffer = losses.FeatureReplayBuffer(capacity=3)
    buffer.add(torch.arange(10.0).reshape(5, 2))
    assert len(buffer) == 3
    assert buffer.tensor(torch.zeros(1, 2))[0].tolist() == [4.0, 5.0]
    samples = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    with_replay = losses.witness_rewards(samples, samples, 1.0, replay=buffer.tensor(samples))
    without = losses.witness_rewards(samples, samples, 1.0)
    assert (with_replay > without).all()


def test_reinforce_loss_is_zero_when_all_rewards_are_equal_and_has_gradient_otherwise():
    logprob = torch.randn(4, requires_grad=True)
    zero = losses.reinforce_loss(losses.leave_one_out_advantages(torch.ones(4)), logprob)
    assert zero.item() == pytest.approx(0.0)
    losses.reinforce_loss(torch.tensor([1.0, -1.0, 0.5, -0.5]), logprob).backward()
    _finite_nonzero_grad(logprob)


def test_reinforce_witness_alone_moves_sample_features_toward_human_features():
    torch.manual_seed(0)
    features = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    human = torch.tensor([[3.0], [2.9], [3.1], [3.0], [2.8]])
    logits = torch.zeros(4, requires_grad=True)
    optimiser = torch.optim.Adam([logits], lr=0.1)
    buffer = losses.FeatureReplayBuffer(capacity=32)

    def mmd_now() -> float:
        picks = torch.multinomial(torch.softmax(logits, 0).detach(), 256, replacement=True)
        return losses.mmd_squared(features[picks], human, 1.0).item()

    before = mmd_now()
    for _ in range(150):
        picks = torch.multinomial(torch.softmax(logits, 0).detach(), 16, replacement=True)
        x = features[picks]
        rewards = losses.witness_rewards(
            x, human, losses.median_bandwidth(torch.cat([x, human])), replay=buffer.tensor(x)
        )
        buffer.add(x)
        loss = losses.reinforce_loss(
            losses.leave_one_out_advantages(rewards), torch.log_softmax(logits, 0)[picks]
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert mmd_now() < 0.5 * before


# ----------------------------------------------------------------------- reference


def test_kl_to_reference_matches_hand_computation_and_is_zero_at_reference():
    logits = torch.zeros(1, 1, 2, requires_grad=True)
    reference = torch.log(torch.tensor([[[0.75, 0.25]]]))
    mask = torch.ones(1, 1, dtype=torch.bool)
    expected = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    value = losses.kl_to_reference(logits, reference, mask)
    assert value.item() == pytest.approx(expected, rel=1e-5)
    value.backward()
    _finite_nonzero_grad(logits)
    assert losses.kl_to_reference(reference, reference, mask).item() == pytest.approx(0.0, abs=1e-7)


def _censored_windows(lengths: torch.Tensor, window: int, count: int, generator):
    """Hard 0/1 end/start sequences of ``window`` tokens cut from a stream of sentences
    ("w w ... w ." per sentence), each window starting at a sentence start."""
    end = torch.zeros(count, window, dtype=torch.float64)
    start = torch.zeros(count, window, dtype=torch.float64)
    for row in range(count):
        t = 0
        while t < window:
            length = int(lengths[torch.randint(len(lengths), (1,), generator=generator)])
            for _ in range(length):
                if t < window:
                    start[row, t] = 1.0
                t += 1
            if t < window:
                end[row, t] = 1.0
            t += 1
    return end, start


def test_hazard_estimate_is_unbiased_under_censoring_where_completed_sentences_are_not():
    generator = torch.Generator().manual_seed(0)
    lengths = torch.arange(5, 41)  # uniform 5..40 words: mean 22.5
    end, start = _censored_windows(lengths, window=48, count=400, generator=generator)
    counts = losses.sentence_length_recursion(end, start, max_length=60)
    ks = torch.arange(62, dtype=torch.float64)
    completed_mean = ((counts.ended * ks).sum() / counts.ended.sum()).item()
    hazard, _ = counts.hazard()
    distribution = losses.hazard_to_length_distribution(hazard)
    hazard_mean = (distribution * ks[1:61]).sum().item()
    assert completed_mean < 20.0  # short sentences fit in a window more often
    assert hazard_mean == pytest.approx(22.5, abs=1.0)
