"""The distributional loss terms, as pure functions of tensors (DESIGN.md section 6).

No model, no tokenizer, no I/O: every function takes per-position quantities
that :mod:`dft_train.sampling` computed from a re-scored sample batch, plus
targets that :mod:`dft_train.targets` computed from a bundle, and returns a
scalar tensor (or a small tuple of tensors). Probabilities are plain
probabilities (not logs) unless a name says ``log``; entropies are in nats.

Terms:

* :func:`hellinger_token_loss` / :func:`embedding_mmd_token_loss`: expected token
  frequencies ``f`` of the samples against the bundle's token distribution ``q``.
* :func:`sentence_length_recursion` + :func:`sentence_length_hazard_loss`:
  a forward recursion over per-position word-start and sentence-end
  probabilities giving the expected sentence-end hazard per word count,
  matched to the bundle's hazard (unbiased under censoring).
* :func:`entropy_calibration_loss`: mean predictive entropy of the samples
  against a target entropy rate, and the entropy of ``f`` against that of ``q``.
* :func:`witness_rewards`, :func:`leave_one_out_advantages`,
  :func:`reinforce_loss`, :class:`FeatureReplayBuffer`: the optional
  score-function feature MMD.
* :func:`kl_to_reference`: KL(model || reference) per position.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

EPS = 1e-10


# --------------------------------------------------------------------------- tokens


def masked_mean_over_positions(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values[b, t, ...]`` over the positions where ``mask[b, t]`` is true."""
    weights = mask.to(values.dtype)
    while weights.dim() < values.dim():
        weights = weights.unsqueeze(-1)
    return (values * weights).sum(dim=(0, 1)) / weights.sum().clamp_min(1.0)


def hellinger_token_loss(f: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Squared Hellinger distance ``sum_v (sqrt f_v - sqrt q_v)^2`` (in [0, 2]).

    ``f`` [V]: expected token frequencies of the samples (mean of the softmax over
    sampled positions); ``q`` [V]: the bundle's token distribution. A tiny
    ``EPS`` inside both roots keeps the gradient finite where ``f_v = 0`` and
    the value exactly zero at ``f = q``.
    """
    return (torch.sqrt(f + EPS) - torch.sqrt(q + EPS)).pow(2).sum()


def embedding_mmd_token_loss(
    f: torch.Tensor, q: torch.Tensor, embeddings: torch.Tensor
) -> torch.Tensor:
    """MMD between ``f`` and ``q`` with the kernel ``k(u, v) = <e_u, e_v>`` of unit embeddings.

    Equals ``||E^T (f - q)||^2`` with ``E`` [V, d] the row-normalised
    ``embeddings``; computed as a d-vector, never a V x V matrix. Pass the
    embeddings detached: the kernel is fixed, only ``f`` should move.
    """
    unit = F.normalize(embeddings, dim=-1)
    return (unit.T @ (f - q)).pow(2).sum()


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon divergence between two distributions over the same support (nats)."""
    m = 0.5 * (p + q)

    def kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(
            a > 0, a * (torch.log(a.clamp_min(EPS)) - torch.log(b.clamp_min(EPS))), 0.0
        ).sum()

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


# ------------------------------------------------------------------ sentence length


@dataclass
class SentenceLengthCounts:
    """Expected sentence events per word count ``k = 0..max_length+1`` (index = k).

    ``reached[k]``: expected number of sentences that reached ``k`` words;
    ``ended[k]``: expected number that ended with exactly ``k`` words. The last
    index collects every count above ``max_length`` (an overflow bin).
    """

    reached: torch.Tensor
    ended: torch.Tensor

    @property
    def max_length(self) -> int:
        return self.reached.shape[-1] - 2

    def hazard(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Model hazard ``h(k)`` and its risk set for ``k = 1..max_length`` (index 0 = k 1).

        The risk set at ``k`` counts only sentences whose fate at ``k`` was
        observed inside the sample (they ended at ``k`` or reached ``k + 1``),
        so a sentence cut off by the end of the sample is not mistaken for one
        that continued: ``h(k) = ended[k] / (ended[k] + reached[k + 1])``.
        """
        ended = self.ended[..., 1:-1]
        at_risk = ended + self.reached[..., 2:]
        return ended / at_risk.clamp_min(EPS), at_risk


def sentence_length_recursion(
    end_probs: torch.Tensor,
    start_probs: torch.Tensor,
    mask: torch.Tensor | None = None,
    initial_words: torch.Tensor | None = None,
    max_length: int = 100,
) -> SentenceLengthCounts:
    """Forward recursion over positions for the expected sentence-length events.

    ``end_probs`` [B, T]: per sample position, the probability mass on tokens
    that end a sentence (``e_t``); ``start_probs`` [B, T]: mass on tokens that
    start a word (``w_t``). Both come from the model's softmax, so the result is
    differentiable through them. ``mask`` [B, T] marks the positions that count
    (padding after EOS excluded). ``initial_words`` [B] (int): words already in
    the prompt's unfinished last sentence. Lengths above ``max_length`` words
    go to an overflow bin.

    State ``pi_t(k)``: probability that the current sentence has ``k`` words
    after position ``t``. A word start and a sentence end are different tokens,
    so at one position they are exclusive, and the end applies to the count
    reached *before* this position's word start (else lengths come out one word
    long). An end at ``k = 0`` (e.g. a second full stop) ends nothing::

        ended[k]   += pi_{t-1}(k) e_t                   (k >= 1)
        reached[k] += pi_{t-1}(k-1) w_t
        pi_t(k)     = pi_{t-1}(k) (1 - w_t - e_t [k>=1]) + pi_{t-1}(k-1) w_t
                      + [k = 0] e_t sum_{j>=1} pi_{t-1}(j)

    O(T * max_length) time; returns totals summed over the batch.
    """
    batch, length = end_probs.shape
    size = max_length + 2
    dtype, device = end_probs.dtype, end_probs.device
    if mask is None:
        mask = torch.ones(batch, length, dtype=torch.bool, device=device)
    gate = mask.to(dtype)
    end_probs = end_probs * gate
    start_probs = start_probs * gate
    start = torch.zeros(batch, dtype=torch.long, device=device)
    if initial_words is not None:
        start = initial_words.to(device).long().clamp(0, size - 1)
    state = F.one_hot(start, size).to(dtype)  # [B, K]
    is_word_count = torch.ones(size, dtype=dtype, device=device)
    is_word_count[0] = 0.0
    reached = torch.zeros(size, dtype=dtype, device=device)
    ended = torch.zeros(size, dtype=dtype, device=device)
    for t in range(length):
        e = end_probs[:, t : t + 1]
        w = start_probs[:, t : t + 1]
        ending = state * is_word_count * e  # [B, K]
        shifted = torch.cat([state.new_zeros(batch, 1), state[:, :-1]], dim=1)
        # the overflow bin keeps its mass when a word starts there
        shifted = shifted + F.pad(state[:, -1:], (size - 1, 0))
        starting = shifted * w
        reached = reached + F.pad((state[:, :-1] * w).sum(0), (1, 0))
        ended = ended + ending.sum(0)
        restarted = F.pad(ending.sum(1, keepdim=True), (0, size - 1))  # mass back at k = 0
        state = state * (1.0 - w) - ending + starting + restarted
    return SentenceLengthCounts(reached=reached, ended=ended)


def length_hazard(length_counts: torch.Tensor, max_length: int) -> torch.Tensor:
    """Target hazard ``h(k) = count(len = k) / count(len >= k)`` for ``k = 1..max_length``.

    ``length_counts`` [L]: number of sentences with ``index`` words (index 0 =
    zero-word sentences, which are ignored). Counts at or above ``max_length``
    words are summed into the survival of the last bins. Where nothing reaches
    ``k`` the hazard is 1.
    """
    counts = length_counts.to(torch.float64)
    counts = counts[1:] if counts.numel() > 1 else counts.new_zeros(1)
    survival = counts.flip(0).cumsum(0).flip(0)  # count(len >= k), k = 1..
    hazard = torch.ones(max_length, dtype=torch.float64)
    n = min(max_length, counts.numel())
    hazard[:n] = torch.where(survival[:n] > 0, counts[:n] / survival[:n].clamp_min(1e-300), 1.0)
    return hazard


def sentence_length_hazard_loss(
    counts: SentenceLengthCounts, target_hazard: torch.Tensor, min_risk: float = 1e-3
) -> torch.Tensor:
    """Risk-weighted Bernoulli KL between the target hazard and the model's, per word count.

    ``sum_k r_k KL(h*(k) || h(k)) / sum_k r_k`` with ``r_k`` the (detached) risk
    set of :meth:`SentenceLengthCounts.hazard`: the binary cross-entropy of the
    design minus its value at the target, so it is zero when the model's
    hazard equals ``target_hazard`` [max_length] wherever the samples observe
    it. Counts with a risk set under ``min_risk`` expected sentences are ignored.
    """
    hazard, at_risk = counts.hazard()
    target = target_hazard.to(hazard)
    weights = at_risk.detach() * (at_risk.detach() > min_risk)
    h = hazard.clamp(1e-6, 1 - 1e-6)
    t = target.clamp(1e-6, 1 - 1e-6)
    kl = t * (torch.log(t) - torch.log(h)) + (1 - t) * (torch.log1p(-t) - torch.log1p(-h))
    return (weights * kl).sum() / weights.sum().clamp_min(EPS)


def hazard_to_length_distribution(hazard: torch.Tensor) -> torch.Tensor:
    """Sentence-length probabilities ``P(len = k)``, ``k = 1..len(hazard)``, from a hazard."""
    survival = torch.cumprod(torch.cat([hazard.new_ones(1), 1 - hazard[:-1]]), 0)
    return survival * hazard


# ------------------------------------------------------------------------ entropy


def entropy_calibration_loss(
    position_entropy: torch.Tensor,
    mask: torch.Tensor,
    target_entropy: torch.Tensor | float | None,
    f: torch.Tensor | None = None,
    q: torch.Tensor | None = None,
) -> torch.Tensor:
    """Squared gaps in entropy (nats^2) between the model's samples and the targets.

    ``position_entropy`` [B, T]: entropy of the predictive distribution at each
    sampled position. With ``target_entropy`` (the running mean per-token
    cross-entropy on human text), adds ``(mean H_t - target)^2``: a calibrated
    model's entropy on its own samples equals its cross-entropy on human text.
    With ``f`` and ``q``, adds ``(H(f) - H(q))^2``, the unigram entropy gap.
    """
    loss = position_entropy.new_zeros(())
    if target_entropy is not None:
        mean_entropy = masked_mean_over_positions(position_entropy, mask)
        loss = loss + (mean_entropy - torch.as_tensor(target_entropy).to(mean_entropy)).pow(2)
    if f is not None and q is not None:
        loss = loss + (distribution_entropy(f) - distribution_entropy(q).to(f)).pow(2)
    return loss


def distribution_entropy(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy of a distribution over the last dimension (nats)."""
    return -(p * torch.log(p.clamp_min(EPS))).sum(-1)


# ---------------------------------------------------------- score-function feature MMD


def median_bandwidth(points: torch.Tensor) -> torch.Tensor:
    """Median pairwise Euclidean distance of ``points`` [N, d] (the median heuristic)."""
    distances = torch.cdist(points, points)
    off_diagonal = distances[~torch.eye(len(points), dtype=torch.bool, device=points.device)]
    return off_diagonal.median().clamp_min(1e-6) if off_diagonal.numel() else points.new_ones(())


def gaussian_kernel(
    x: torch.Tensor, y: torch.Tensor, bandwidth: torch.Tensor | float
) -> torch.Tensor:
    """``exp(-||x_i - y_j||^2 / (2 bandwidth^2))`` for ``x`` [N, d], ``y`` [M, d] -> [N, M]."""
    return torch.exp(-torch.cdist(x, y).pow(2) / (2 * torch.as_tensor(bandwidth) ** 2))


def mmd_squared(x: torch.Tensor, y: torch.Tensor, bandwidth: torch.Tensor | float) -> torch.Tensor:
    """Biased (V-statistic) squared MMD between samples ``x`` [N, d] and ``y`` [M, d]."""
    return (
        gaussian_kernel(x, x, bandwidth).mean()
        + gaussian_kernel(y, y, bandwidth).mean()
        - 2 * gaussian_kernel(x, y, bandwidth).mean()
    )


def witness_rewards(
    samples: torch.Tensor,
    targets: torch.Tensor,
    bandwidth: torch.Tensor | float,
    replay: torch.Tensor | None = None,
) -> torch.Tensor:
    """Reward of each sample: the MMD witness ``mean_j k(x_i, y_j) - mean_{j != i} k(x_i, x_j)``.

    ``samples`` [N, d]: features of this step's samples; ``targets`` [M, d]:
    human feature samples; ``replay`` [R, d]: features of recent samples from
    a :class:`FeatureReplayBuffer`, which join the model side of the estimate.
    High reward = looks like human text and unlike the model's other samples.
    """
    toward_human = gaussian_kernel(samples, targets, bandwidth).mean(1)
    among_samples = gaussian_kernel(samples, samples, bandwidth)
    n = len(samples)
    total = among_samples.sum(1) - among_samples.diagonal()
    others = n - 1
    if replay is not None and len(replay):
        total = total + gaussian_kernel(samples, replay, bandwidth).sum(1)
        others += len(replay)
    return toward_human - total / max(others, 1)


def leave_one_out_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """``r_i - mean_{j != i} r_j``: each sample's reward against the others' (zero-mean baseline)."""
    n = len(rewards)
    if n < 2:
        return torch.zeros_like(rewards)
    return rewards - (rewards.sum() - rewards) / (n - 1)


def reinforce_loss(advantages: torch.Tensor, mean_token_logprob: torch.Tensor) -> torch.Tensor:
    """Score-function loss ``-mean_i a_i * mean_t log p(x_i,t)``; ``a_i`` is detached.

    ``mean_token_logprob`` [N]: each sample's *mean* token log-probability
    (nats per token), with gradients.
    """
    return -(advantages.detach() * mean_token_logprob).mean()


@dataclass
class FeatureReplayBuffer:
    """The feature vectors of the most recent model samples (``capacity`` rows)."""

    capacity: int = 64
    _rows: deque = field(default_factory=deque)

    def add(self, features: torch.Tensor) -> None:
        for row in features.detach():
            self._rows.append(row.clone())
            while len(self._rows) > self.capacity:
                self._rows.popleft()

    def tensor(self, like: torch.Tensor) -> torch.Tensor:
        if not self._rows:
            return like.new_zeros(0, like.shape[-1])
        return torch.stack(list(self._rows)).to(like)

    def __len__(self) -> int:
        return len(self._rows)


# ------------------------------------------------------------------------- reference


def kl_to_reference(
    logits: torch.Tensor, reference_logits: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Mean over masked positions of ``KL(p_model || p_reference)`` (nats per token).

    ``logits``, ``reference_logits`` [B, T, V]; the reference is detached.
    """
    log_p = torch.log_softmax(logits.float(), -1)
    log_r = torch.log_softmax(reference_logits.detach().float(), -1)
    per_position = (log_p.exp() * (log_p - log_r)).sum(-1)
    return masked_mean_over_positions(per_position, mask)
