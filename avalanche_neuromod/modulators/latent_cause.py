"""Latent-cause inference: which known context (or a new one) explains the trials just seen.

Serial-reversal animals re-acquire a reversed rule in about one trial after some ten reversals,
and macaques switch by inferring the latent state rather than re-learning values (Bartolo &
Averbeck 2020). Latent-cause inference (Gershman, Blei & Niv 2010) gives the computation: when
noradrenaline signals an unexpected change (Yu & Dayan 2005), acetylcholine, which holds the
contexts already known, asks which cause explains the evidence of the latest trials best,

    log P(c | D) = log P(c) + sum_i log P(o_i | x_i, a_i, c)

with a Chinese-restaurant prior over causes, ``P(c) ∝ n_c`` for a known context (``n_c`` the
times it was entered) and ``P(new) ∝ concentration``; the current context gets ``stickiness``
extra visits (Fox et al. 2011's sticky prior: a false alarm keeps the context).

The likelihood of an outcome under context ``c`` comes from that context's own prediction,
``p_c(y | x) = softmax(f(x; g_c))`` (the network read through ``c``'s gates), mixed with a lapse
``epsilon`` of uniform guessing (``p~_c = (1 - epsilon) p_c + epsilon / C``):

- supervised (the label is seen): ``P(y | x, c) = p~_c(y | x)``;
- reward-driven (only the reward ``r`` of the action ``a`` taken is seen; ``R[y, a]`` the payoff
  matrix): ``P(r | x, a, c) = sum_y p~_c(y | x) [R[y, a] = r]``. An action whose reward is the
  same whatever the label (a No-Go when a miss and a correct rejection both pay 0) carries no
  evidence, as it should.

A new context predicts nothing: ``p_new(y | x) = 1 / C``. The decision is the maximum a
posteriori cause, taken as soon as it leads the runner-up by ``margin`` nats, else after more
steps' evidence (at most ``max_steps``; a sequential test, Wald 1945): one surprising trial does
not open a context. The test starts on NA's phasic release, or when tonic NA (a fall of reward
against its long-run mean, Aston-Jones & Cohen 2005) rises above ``tonic_trigger`` (1: never, as
tonic NA is at most 1): a change from a rule learnt only in part surprises little. Nothing
here sees a task label, a rule or a trial count: only inputs, actions
and outcomes of the last trials, and the gates of the contexts.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import check_nonnegative, check_positive, check_rate


class LatentCause(nn.Module):
    """MAP latent-cause choice among known contexts and a new one (Gershman et al. 2010)."""

    def __init__(self, *, concentration: float = 1.0, stickiness: float = 1.0,
                 lapse: float = 0.05, margin: float = 3.0, max_steps: int = 4,
                 tonic_trigger: float = 1.0, maturity: int = 0, max_contexts: int = 16):
        super().__init__()
        self.concentration = check_positive("concentration", concentration)
        self.stickiness = check_nonnegative("stickiness", stickiness)
        self.lapse = check_rate("lapse", lapse)
        if isinstance(max_contexts, bool) or not isinstance(max_contexts, int) or \
                max_contexts < 1:
            raise ValueError(f"max_contexts must be an integer >= 1, got {max_contexts!r}")
        self.margin = check_nonnegative("margin", margin)
        self.tonic_trigger = check_nonnegative("tonic_trigger", tonic_trigger)
        if isinstance(maturity, bool) or not isinstance(maturity, int) or maturity < 0:
            raise ValueError(f"maturity must be an integer >= 0, got {maturity!r}")
        self.maturity = maturity
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        self.max_steps = max_steps
        self.max_contexts = max_contexts
        self._pending: tuple[list[int], int] | None = None  # (candidates, current) of a test
        self._evidence: torch.Tensor | None = None
        self._steps = 0
        self._allow_new = True
        self.register_buffer("visits", torch.zeros(max_contexts))
        self.register_buffer("decisions", torch.tensor(0, dtype=torch.long))

    def _mixed(self, logits: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits.detach().float(), dim=-1)
        return (1.0 - self.lapse) * probs + self.lapse / probs.shape[-1]

    def log_likelihood(self, logits: torch.Tensor, *, labels: torch.Tensor | None = None,
                       actions: torch.Tensor | None = None, rewards: torch.Tensor | None = None,
                       payoff: torch.Tensor | None = None) -> torch.Tensor:
        """Summed log-likelihood of the trials under each context, ``[K]``.

        :param logits: ``[K, B, C]``, the outputs of ``B`` trials read through ``K`` contexts.
        :param labels: ``[B]`` (supervised); else ``actions``, ``rewards`` and ``payoff``
            ``[C, A]`` (reward-driven).
        """
        if logits.dim() != 3:
            raise ValueError("logits must be [contexts, batch, classes], got "
                             f"{tuple(logits.shape)}")
        p = self._mixed(logits)  # [K, B, C]
        if labels is not None:
            index = labels.long().reshape(1, -1, 1).expand(p.shape[0], -1, 1)
            return p.gather(2, index).squeeze(2).log().sum(1)
        if actions is None or rewards is None or payoff is None:
            raise ValueError("give labels, or actions, rewards and payoff")
        payoff = payoff.to(p.device, torch.float32)
        outcome = payoff[:, actions.long()].T  # [B, C]: the reward each label would have paid
        match = (outcome - rewards.float().reshape(-1, 1)).abs() < 1e-6  # [B, C]
        likelihood = (p * match.unsqueeze(0).float()).sum(-1).clamp_min(1e-12)  # [K, B]
        return likelihood.log().sum(1)

    def new_log_likelihood(self, logits: torch.Tensor, **kwargs) -> torch.Tensor:
        """The log-likelihood of the trials under a new context (uniform prediction)."""
        return self.log_likelihood(torch.zeros_like(logits[:1]), **kwargs)[0]

    def log_prior(self, known: list[int], current: int) -> torch.Tensor:
        """CRP prior over ``known`` contexts and a new one (last), sticky on ``current``."""
        visits = torch.stack([self.visits[c] for c in known]) if known else torch.zeros(0)
        visits = visits.to(self.visits.device).clamp_min(1.0)  # a known context was entered
        for i, c in enumerate(known):
            if c == current:
                visits[i] += self.stickiness
        counts = torch.cat([visits, self.visits.new_tensor([self.concentration])])
        return counts.log() - math.log(float(counts.sum()))

    def choose(self, log_likelihood: torch.Tensor, new_log_likelihood: torch.Tensor, *,
               known: list[int], current: int, allow_new: bool = True) -> int:
        """The MAP context: one of ``known``, or ``max(known) + 1`` for a new one (while fewer
        than ``max_contexts`` are held; then the best known one)."""
        scores = torch.cat([log_likelihood.float().reshape(-1),
                            new_log_likelihood.float().reshape(1)])
        scores = scores.to(self.visits.device) + self.log_prior(known, current)
        if len(known) >= self.max_contexts or not allow_new:
            scores = scores[:-1]
        best = int(scores.argmax())
        self.decisions.add_(1)
        return known[best] if best < len(known) else (max(known) + 1 if known else 0)

    @property
    def deliberating(self) -> bool:
        """Whether a change was signalled and the evidence does not yet single out a cause."""
        return self._pending is not None

    @property
    def candidates(self) -> tuple[list[int], int]:
        """``(known contexts, current context)`` of the test under way."""
        return self._pending

    def start(self, known: list[int], current: int, *, allow_new: bool = True) -> None:
        """NA signalled a change: test ``known`` contexts and (``allow_new``) a new one from this
        step on. A context observed for fewer than ``maturity`` steps is still the new cause
        being learnt: the caller passes ``allow_new=False`` then (its errors are expected)."""
        self._pending, self._evidence, self._steps = (list(known), int(current)), None, 0
        self._allow_new = bool(allow_new)

    def accumulate(self, log_likelihood: torch.Tensor, new_log_likelihood: torch.Tensor
                   ) -> int | None:
        """Add one step's evidence; return the chosen context once decided, else ``None``."""
        known, current = self._pending
        step = torch.cat([log_likelihood.float().reshape(-1),
                          new_log_likelihood.float().reshape(1)]).to(self.visits.device)
        self._evidence = step if self._evidence is None else self._evidence + step
        self._steps += 1
        scores = self._evidence + self.log_prior(known, current)
        if len(known) >= self.max_contexts or not self._allow_new:
            scores = scores[:-1]
        top = scores.topk(min(2, scores.numel())).values
        lead = float(top[0] - top[1]) if top.numel() > 1 else math.inf
        if lead < self.margin and self._steps < self.max_steps:
            return None
        self._pending = None
        return self.choose(self._evidence[:len(known)], self._evidence[len(known)],
                           known=known, current=current, allow_new=self._allow_new)

    def enter(self, context: int) -> None:
        """Count a visit of ``context`` (the CRP's table size)."""
        if 0 <= context < self.max_contexts:
            self.visits[context] += 1.0
