"""Serotonin: the weight of prior knowledge, patience and behavioural inhibition.

Mei et al. (2025, arXiv:2501.06762) read serotonin (5-HT) as the weight given to prior knowledge
during incremental updates (it stabilises what a task learnt), as patience (the time scale of
prediction, Doya 2002's discount) and as behavioural inhibition; it opposes dopamine.

- **Level.** A tonic signal that builds up while the world is stable and falls after surprises:
  ``s_t = s_{t-1} + rate * (stability_t - s_{t-1})`` with ``stability_t = 1 - NA_t`` (1 without NA).
- **Consolidation anchor.** At the end of each experience the parameters become the anchor
  ``w*`` and their importances grow: ``Omega_i += mean_t gamma_t g_{i,t}^2`` (online Fisher,
  Kirkpatrick et al. 2017), where the dopamine gate ``gamma_t = clip(1 + dopamine_gate * delta_t,
  0, 2)`` lets only changes that paid off (positive reward prediction error) become important. The
  penalty while learning later experiences is

      L_5HT = 1/2 * sum_i k_i (w_i - w*_i)^2,
      k_i = min(strength * s_t * c_t * Omega_i / mean(Omega), max_stiffness)

  with ``c_t`` the consolidation factor the other modulators set (NA loosens it during a burst, low
  ACh tightens it). Importances are normalised by their mean, so ``strength`` is the stiffness of
  an average parameter, and each stiffness is capped (``max_stiffness``) so that the penalty's
  gradient ``k (w - w*)``, added to the parameters' gradients, cannot make SGD diverge.
- **Patience.** Dopamine's tonic expectation slows down with 5-HT:
  ``tonic_rate_eff = tonic_rate / (1 + patience * s_t)``.
- **Behavioural inhibition** (reward mode). A No-Go bias learnt from false alarms: ``b <- b +
  inhibition_rate * (FA_t - b)`` with ``FA_t`` the mean punishment of Go actions this step, added
  as ``inhibition_gain * s_t * b`` to the No-Go action's preference.

Memory: importances and anchor, two tensors per parameter (plus one running sum during an
experience).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from .base import check_nonnegative, check_rate

# The registry's entry (modulators/registry.py): read as a literal, without importing this file.
SPEC = {
    "name": "serotonin", "tag": "5HT", "class": "Serotonin", "order": 4, "driver": "builtin",
    "signals": ("5HT/level",),
    "record": {"5ht": "5HT/level"},
    "options": {"opponent": 0.5, "inhibition": True, "consolidate": "experience"},
    "choices": {"consolidate": ("experience", "context")},
    "terms": (("da_plasticity", "5HT/level", "-opponent", "dopamine"),),  # opponent to DA
}

class Serotonin(nn.Module):
    """Tonic 5-HT level, DA-gated importance anchor, patience and No-Go inhibition."""

    def __init__(
        self,
        *,
        strength: float = 1.0,
        max_stiffness: float = 1.0,
        rate: float = 0.02,
        dopamine_gate: float = 2.0,
        patience: float = 1.0,
        inhibition_rate: float = 0.05,
        inhibition_gain: float = 1.0,
        initial_level: float = 0.5,
        importance_every: int = 1,
    ):
        super().__init__()
        self.strength = check_nonnegative("strength", strength)
        self.max_stiffness = check_nonnegative("max_stiffness", max_stiffness)
        self.rate = check_rate("rate", rate)
        self.dopamine_gate = check_nonnegative("dopamine_gate", dopamine_gate)
        self.patience = check_nonnegative("patience", patience)
        self.inhibition_rate = check_rate("inhibition_rate", inhibition_rate)
        self.inhibition_gain = check_nonnegative("inhibition_gain", inhibition_gain)
        if isinstance(importance_every, bool) or int(importance_every) < 1:
            raise ValueError(f"importance_every must be an integer >= 1, got {importance_every}")
        self.importance_every = int(importance_every)
        self._calls = 0
        self.register_buffer("level", torch.tensor(float(check_rate(
            "initial_level", initial_level, allow_zero=True))))
        self.register_buffer("inhibition", torch.tensor(0.0))
        self.register_buffer("steps", torch.tensor(0, dtype=torch.long))
        self.importance: list[torch.Tensor] = []  # Omega, one tensor per parameter
        self.anchor: list[torch.Tensor] = []  # w*
        self._running: list[torch.Tensor] = []  # sum_t gamma_t g_t^2 of this experience
        self._scale = 0.0  # 1 / mean(Omega)

    # ---------------------------------------------------------------- signals
    @torch.no_grad()
    def observe(self, stability: torch.Tensor | float = 1.0) -> torch.Tensor:
        stability = torch.as_tensor(stability, dtype=torch.float32).to(self.level.device)
        if torch.isfinite(stability):
            self.level.add_(self.rate * (stability.clamp(0.0, 1.0) - self.level))
        return self.level

    def patience_rate(self, base_rate: float) -> torch.Tensor:
        return base_rate / (1.0 + self.patience * self.level)

    @torch.no_grad()
    def observe_false_alarms(self, punishment: torch.Tensor) -> None:
        value = punishment.detach().float().reshape(-1).mean().to(self.level.device)
        if torch.isfinite(value):
            self.inhibition.add_(self.inhibition_rate * (value - self.inhibition))

    def nogo_bias(self) -> torch.Tensor:
        return self.inhibition_gain * self.level * self.inhibition

    # ------------------------------------------------------------ importance
    def dopamine_factor(self, delta: torch.Tensor | float | None) -> torch.Tensor:
        if delta is None:
            return torch.ones((), device=self.level.device)
        delta = torch.as_tensor(delta, dtype=torch.float32, device=self.level.device)
        return (1.0 + self.dopamine_gate * delta.mean()).clamp(0.0, 2.0)

    @torch.no_grad()
    def accumulate(self, params: Iterable[torch.Tensor], *, dopamine=None) -> None:
        """Add ``gamma_t g^2`` of this step (call after backward, before the penalty).

        With ``importance_every = k`` only every k-th step is sampled (an unbiased estimate of
        the mean over the experience at 1/k of the cost).
        """
        self._calls += 1
        if (self._calls - 1) % self.importance_every:
            return
        params = list(params)
        if not self._running:
            self._running = [torch.zeros_like(p) for p in params]
        gamma = float(self.dopamine_factor(dopamine))
        pairs = [(acc, p.grad) for acc, p in zip(self._running, params) if p.grad is not None]
        if pairs and gamma != 0.0:
            accs, grads = zip(*pairs)
            torch._foreach_addcmul_(list(accs), list(grads), list(grads), value=gamma)
        self.steps.add_(1)

    @torch.no_grad()
    def consolidate(self, params: Iterable[torch.Tensor]) -> None:
        """End of an experience: fold the running sum into Omega and move the anchor."""
        params = list(params)
        if not self.importance:
            self.importance = [torch.zeros_like(p) for p in params]
        if self._running and int(self.steps) > 0:
            for omega, acc in zip(self.importance, self._running):
                omega.add_(acc / float(self.steps))
            total = sum(float(o.sum()) for o in self.importance)
            count = sum(o.numel() for o in self.importance)
            self._scale = count / total if total > 0 else 0.0
        self.anchor = [p.detach().clone() for p in params]
        self._running = []
        if getattr(self, "names", None) is None or len(self.names) != len(self.anchor):
            self.names = [str(i) for i in range(len(self.anchor))]
        self.steps.zero_()

    @torch.no_grad()
    def realign(self, names: list[str], params: list[torch.Tensor]) -> None:
        """Match the stored state to the model's current parameters, by name.

        Dynamic models (Avalanche's incremental and multi-head classifiers) add parameters or
        grow them between experiences: a new parameter, or the new part of a grown one, starts
        unimportant and anchored at its current value.
        """
        old_names = getattr(self, "names", None)
        if old_names is None or old_names == [str(i) for i in range(len(self.anchor))]:
            old_names = list(names[: len(self.anchor)])  # positional state: same order assumed
        if old_names == list(names) and all(
                a.shape == p.shape for a, p in zip(self.anchor, params)):
            return
        if not self.anchor:
            self.names = list(names)
            return
        old = {n: i for i, n in enumerate(old_names or [])}

        def carried(stored: list[torch.Tensor], fill) -> list[torch.Tensor]:
            out = []
            for name, p in zip(names, params):
                new = fill(p)
                i = old.get(name)
                if i is not None and i < len(stored) and stored[i].dim() == p.dim():
                    region = tuple(slice(0, min(a, b)) for a, b in zip(stored[i].shape, p.shape))
                    new[region] = stored[i][region]
                out.append(new)
            return out

        self.importance = carried(self.importance, torch.zeros_like)
        self.anchor = carried(self.anchor, lambda p: p.detach().clone())
        if self._running:
            self._running = carried(self._running, torch.zeros_like)
        self.names = list(names)

    @property
    def has_anchor(self) -> bool:
        return bool(self.anchor)

    @torch.no_grad()
    def add_penalty_grad(
        self, params: Iterable[torch.Tensor], factor: torch.Tensor | float
    ) -> None:
        """Add ``lambda_t Omega (w - w*)`` to each parameter's gradient."""
        if not self.anchor or self._scale == 0.0:
            return
        lam = float(self.strength * self.level * torch.as_tensor(factor)) * self._scale
        if lam == 0.0:
            return
        triples = [(p, omega, star) for p, omega, star in zip(params, self.importance, self.anchor)
                   if p.grad is not None]
        if not triples:
            return
        ps, omegas, stars = (list(t) for t in zip(*triples))
        stiffness = torch._foreach_mul(omegas, lam)
        torch._foreach_clamp_max_(stiffness, self.max_stiffness)
        diffs = torch._foreach_sub([p.detach() for p in ps], stars)
        torch._foreach_addcmul_([p.grad for p in ps], stiffness, diffs)

    def penalty(self, params: Iterable[torch.Tensor], factor: torch.Tensor | float = 1.0):
        """The penalty's value (for logging and tests)."""
        if not self.anchor or self._scale == 0.0:
            return torch.zeros((), device=self.level.device)
        lam = float(self.strength * self.level * torch.as_tensor(factor)) * self._scale
        total = sum((((lam * omega).clamp(max=self.max_stiffness) * (p - star) ** 2).sum()
                     for p, omega, star in zip(params, self.importance, self.anchor)))
        return 0.5 * total

    # ----------------------------------------------------------- checkpoints
    def get_extra_state(self):
        return {"importance": self.importance, "anchor": self.anchor, "running": self._running,
                "scale": torch.tensor(self._scale, dtype=torch.float64),
                "calls": torch.tensor(self._calls),
                "names": list(getattr(self, "names", None) or [])}

    def set_extra_state(self, state):
        self.importance = list(state.get("importance", []))
        self.anchor = list(state.get("anchor", []))
        self._running = list(state.get("running", []))
        self._scale = float(state.get("scale", torch.tensor(0.0)))
        self._calls = int(state.get("calls", torch.tensor(0)))
        self.names = list(state.get("names", [])) or None

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        self.importance = [fn(t) for t in self.importance]
        self.anchor = [fn(t) for t in self.anchor]
        self._running = [fn(t) for t in self._running]
        return out
