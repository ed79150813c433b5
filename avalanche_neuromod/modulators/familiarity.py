"""Context recall by familiarity: which known context's inputs does a test sample look like?

Acetylcholine's recall by entropy (:meth:`~.acetylcholine.Acetylcholine.recall`) reads a test
sample through the context under whose gates the prediction is least uncertain. Where every
context is a confident classifier over the same few labels (domain-incremental SplitMNIST: two
labels, a digit's place in its pair) the least uncertain context is often another one, whose
read-out maps the labels the other way. A latent-cause reading (Gershman, Blei & Niv 2010) asks
instead how likely the input is under each context: here each context ``c`` keeps the mean
``mu_c`` and variance ``v_c`` of the inputs it was trained on (exact running moments, per input
dimension), and a test input ``x`` of ``D`` dimensions is read through

    c*(x) = argmax_c  -1/(2D) * sum_d [ (x_d - mu_{c,d})^2 / (v_{c,d} + eps) + log(v_{c,d} + eps) ],

a diagonal-Gaussian log-likelihood per dimension (``eps`` keeps constant pixels from dominating).
Familiarity is the cholinergic signal of recognition memory (Hasselmo 2006: ACh sets the balance of
encoding new and retrieving stored patterns); this is its simplest statistical reading. It stores
2 x D numbers per context, no samples.

The adaptive default's recall (plugins/defaults.py): chosen over recall by entropy on validation
seeds 1000-1004 (benchmarks/probes/recall-familiarity.yaml; ``recall: entropy`` is the other
choice).
"""

from __future__ import annotations

import torch
from torch import nn

from .base import check_positive


class _Moments(nn.Module):
    """Exact running count, mean and sum of squared deviations of vectors (Chan et al. 1979)."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(dim, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.to(self.mean.device, torch.float64)
        n, mean = float(x.shape[0]), x.mean(0)
        delta = mean - self.mean
        total = float(self.count) + n
        self.m2 += ((x - mean) ** 2).sum(0) + delta ** 2 * float(self.count) * n / total
        self.mean += delta * n / total
        self.count.fill_(total)

    @property
    def var(self) -> torch.Tensor:
        return self.m2 / self.count.clamp_min(1.0)


class InputFamiliarity(nn.Module):
    """Per-context input moments, and each sample's most familiar context (see module doc)."""

    def __init__(self, *, eps: float = 0.1):
        super().__init__()
        self.eps = check_positive("eps", eps)
        self.moments = nn.ModuleDict()  # context id -> _Moments

    @torch.no_grad()
    def observe(self, x: torch.Tensor, *, context: int) -> None:
        """Fold a training mini-batch ``x`` (``[B, ...]``) into context ``context``'s moments."""
        flat = x.detach().reshape(x.shape[0], -1)
        finite = torch.isfinite(flat).all(1)
        if not bool(finite.any()):
            return
        key = str(int(context))
        if key not in self.moments:
            self.moments[key] = _Moments(flat.shape[1]).to(flat.device)
        self.moments[key].update(flat[finite])

    def known(self) -> list[int]:
        """The contexts with moments, in order."""
        return sorted(int(key) for key in self.moments)

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, contexts: list[int]) -> torch.Tensor:
        """``[K, B]``: per context of ``contexts`` (each must have moments), the mean per-dimension
        Gaussian log-likelihood of each sample, up to a constant."""
        flat = x.detach().reshape(x.shape[0], -1).double()
        rows = []
        for context in contexts:
            m = self.moments[str(int(context))]
            var = m.var.to(flat.device) + self.eps
            rows.append(-0.5 * (((flat - m.mean.to(flat.device)) ** 2 / var)
                                + var.log()).mean(1))
        return torch.stack(rows)

    def recall(self, x: torch.Tensor, contexts: list[int]) -> torch.Tensor:
        """``[B]`` indices into ``contexts`` of each sample's most familiar context (ties: the
        lower index; a NaN sample goes to the first)."""
        if not contexts:
            raise ValueError("contexts must name at least one context")
        missing = [c for c in contexts if str(int(c)) not in self.moments]
        if missing:
            raise ValueError(f"contexts without input moments: {missing}")
        score = self.log_likelihood(x, contexts)
        return torch.nan_to_num(score, nan=float("-inf")).argmax(0)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        head = prefix + "moments."  # created lazily: create those the checkpoint holds
        for key, value in state_dict.items():
            if key.startswith(head) and key.endswith(".mean"):
                context = key[len(head):].split(".", 1)[0]
                if context not in self.moments:
                    self.moments[context] = _Moments(int(value.shape[0]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
