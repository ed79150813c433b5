"""Acetylcholine's attention over output units, and a precision-weighted read-out.

Mei et al. (2025, arXiv:2501.06762) give acetylcholine (ACh) attention: it selects which inputs
and which pathways a context engages. Applied to the output layer of a class-incremental learner
this has two parts.

- **Attention while learning.** Inside a context the *novel* outcomes (labels first met in this
  context) compete only with each other: for a sample whose label is novel, the logits of the
  other outputs are masked before the loss,

      z'_k = z_k if k in N_c else -inf,   N_c = {labels observed in context c, unseen before it},

  so the error of a new context never pushes down the outputs of earlier ones (the "labels
  trick" of Zeno et al. 2018, here driven by the outcomes observed, not by task labels). Samples
  of familiar labels (replayed from a memory, or a domain-incremental stream whose classes recur)
  keep every output: with a replay memory this is ER-ACE's asymmetric cross-entropy (Caccia et
  al. 2022), and a stream whose contexts share all their classes is left as it is.
- **Precision-weighted read-out.** Outputs learnt in different contexts were never compared with
  each other, so their scales differ. ACh is read as the precision (inverse expected uncertainty)
  of evidence (Yu & Dayan 2005; Feldman & Friston 2010): for each output ``k`` it tracks the
  running mean ``mu_k`` and variance ``v_k`` of ``z_k`` on the inputs that carry label ``k``, and
  at test time reads out

      z''_k = (z_k - mu_k) / sqrt(v_k + eps)   for outputs ever attended, -inf for the others,

  i.e. each output's evidence relative to what it expects on its own class, weighted by its
  precision. Only these per-output statistics are kept, never inputs (no replay).

Memory: six vectors with one entry per output unit.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import check_positive, check_rate

MASKED = -1e4  # a logit that softmax turns into 0 without producing inf - inf anywhere
BUFFERS = (("attended", torch.bool), ("familiar", torch.bool), ("seen", torch.bool),
           ("mean", torch.float32), ("var", torch.float32), ("count", torch.long))


class OutputAttention(nn.Module):
    """Attended outputs of the current context, and per-output evidence statistics."""

    def __init__(self, *, rate: float = 0.05, eps: float = 1e-2):
        super().__init__()
        self.rate = check_rate("output_rate", rate)
        self.eps = check_positive("output_eps", eps)
        for name, dtype in BUFFERS:
            self.register_buffer(name, torch.zeros(0, dtype=dtype))

    def _grow(self, n_outputs: int) -> None:
        """Outputs may be added (incremental classifiers): extend every statistic."""
        have = self.attended.numel()
        if n_outputs <= have:
            return
        extra = n_outputs - have
        for name, _ in BUFFERS:
            old = getattr(self, name)
            pad = torch.zeros(extra, dtype=old.dtype, device=old.device)
            if name == "var":
                pad.fill_(1.0)
            setattr(self, name, torch.cat([old, pad]))

    def reset(self) -> None:
        """A new context begins: what was seen so far is familiar; nothing is attended yet."""
        self.familiar = self.seen.clone()
        self.attended.zero_()

    @torch.no_grad()
    def observe(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Attend to the labels of this step and fold ``z_y`` into each label's statistics."""
        n = logits.shape[-1]
        self._grow(n)
        labels = labels.to(self.mean.device).long().reshape(-1)
        logits = logits.detach().to(self.mean.device).float().reshape(-1, n)
        present = torch.bincount(labels, minlength=n)[:n]
        self.attended |= present > 0
        self.seen |= present > 0
        own = logits.gather(1, labels[:, None]).squeeze(1)
        total = torch.zeros(n, device=own.device).index_add_(0, labels, own)
        squares = torch.zeros(n, device=own.device).index_add_(0, labels, own * own)
        hit = present > 0
        count = present.clamp_min(1).float()
        batch_mean = total / count
        batch_var = (squares / count - batch_mean ** 2).clamp_min(0.0)
        first = hit & (self.count == 0)
        later = hit & (self.count > 0)
        finite = torch.isfinite(batch_mean) & torch.isfinite(batch_var)
        first, later = first & finite, later & finite
        # first observation: take the batch's moments; later: exponential moving moments
        self.mean = torch.where(first, batch_mean, self.mean)
        self.var = torch.where(first, batch_var, self.var)
        diff = batch_mean - self.mean
        new_mean = self.mean + self.rate * diff
        new_var = (1.0 - self.rate) * (self.var + self.rate * diff * diff) + \
            self.rate * batch_var
        self.mean = torch.where(later, new_mean, self.mean)
        self.var = torch.where(later, new_var, self.var)
        self.count += present * finite

    def novel(self) -> torch.Tensor:
        """Outputs attended in this context that were not seen before it began."""
        return self.attended & ~self.familiar

    def mask(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Training: in the rows of novel labels, the logits of non-novel outputs -> ``MASKED``."""
        n = logits.shape[-1]
        self._grow(n)
        novel = self.novel()[:n].to(logits.device)
        if not bool(novel.any()):
            return logits
        rows = novel[labels.to(logits.device).long().reshape(-1)]
        return logits.masked_fill(rows[:, None] & ~novel[None, :], MASKED)

    def readout(self, logits: torch.Tensor) -> torch.Tensor:
        """Evaluation: precision-weighted evidence ``(z - mu) / sqrt(v + eps)``; unseen masked."""
        n = logits.shape[-1]
        self._grow(n)
        seen = self.seen[:n].to(logits.device)
        if not bool(seen.any()):
            return logits
        mean = self.mean[:n].to(logits.device, logits.dtype)
        scale = (self.var[:n] + self.eps).rsqrt().to(logits.device, logits.dtype)
        out = (logits - mean) * scale
        return out.masked_fill(~seen, MASKED)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "attended"
        if key in state_dict:
            self._grow(state_dict[key].numel())
        else:  # a checkpoint from before output attention existed: nothing was attended
            for name, buffer in self._buffers.items():
                state_dict.setdefault(prefix + name, buffer)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
