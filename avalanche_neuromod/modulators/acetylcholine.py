"""Acetylcholine: expected uncertainty, attention, and the encoding/consolidation balance.

Mei et al. (2025, arXiv:2501.06762) give acetylcholine (ACh) encoding, attention and *expected*
uncertainty: the known unreliability of predictions inside a context (Yu & Dayan 2005). Here:

- **Expected uncertainty.** The running variance of the prediction error ``u_t`` inside the
  current context, ``v_c <- (1 - rate) v_c + rate (u_t - mu_c)^2`` (one :class:`RunningStats`
  per context), and the ACh level ``a_t = sqrt(v_c) / (sqrt(v_c) + scale)`` in ``[0, 1)``.
- **Threshold of change (Yu & Dayan).** Noradrenaline declares an unexpected change when its
  surprise exceeds a threshold that grows with expected uncertainty: a noisy context needs
  more surprise.
  Their switch rule ``NA > ACh / (0.5 + ACh)`` becomes, on NA's z-score scale,

      threshold_t = base_threshold * (1 + threshold_gain * a_t / (0.5 + a_t))

  (the integration's ``na_threshold`` term ``ACh/switch = a_t / (0.5 + a_t)``).

- **Attention (pathway gating).** Each context ``c`` (the task label when the stream is cued, else
  a context index that advances whenever NA declares a change) owns a fixed random subset of hidden
  units (Masse et al. 2018's context-dependent gating): the units of a context are kept, the others
  are damped by ``1 - gate_strength``. What one context uses is thereby protected from the updates
  of the next.
  A context is left only after ACh has observed it for ``min_dwell`` steps (it has formed an
  expectation of it), so the prolonged error that follows a change declares one change, not many.
- **Context recall without cues.** When contexts were inferred (no task labels), a test input does
  not say which context it belongs to. ACh is the uncertainty *within* a context (Yu & Dayan
  2005), so a sample is read through the known context under whose gates its prediction is the
  least uncertain,

      c*(x) = argmin_c H(softmax(f(x; g_c))),   H(p) = -sum_k p_k log p_k,

  one forward pass per known context (one-shot entropy inference, as in Wortsman et al. 2020's
  supermasks in superposition). Nothing about inputs is stored: only the gates are reused.
  ``recall: familiarity`` (opt-in) reads it through the context whose inputs it resembles most
  instead (:mod:`.familiarity`: per-context input moments, a latent-cause likelihood).
- **Attention over outputs** (:class:`~.output_attention.OutputAttention`): inside a context only
  the outputs whose labels it has shown compete in the loss, and at test time each output's
  evidence is read relative to its own expected value and precision,
  ``z''_k = (z_k - mu_k) / sqrt(v_k + eps)`` (class-incremental learning without replay).
- **Re-entering a known context** (``latent_cause``, opt-in): on NA's change signal, instead of
  advancing to a new context, ACh asks which known context (or a new one) explains the trials just
  seen (:class:`~.latent_cause.LatentCause`, Gershman, Blei & Niv 2010) and enters it.
  ``gate_layout: disjoint`` gives contexts disjoint blocks of units (while ``1 / gate_keep``
  contexts fit), so that what one context learnt is untouched by the others. ``gate_decay``
  shrinks the share of each new context, ``keep_c = gate_keep * (1 + c) ** -gate_decay``.
- **Encoding vs consolidation (Hasselmo 2006).** High ACh favours encoding: the plasticity factor is
  ``1 + encoding_gain * a_t``; low ACh favours consolidation and retrieval: the consolidation factor
  (which scales serotonin's anchor) is ``1 - a_t``; both are terms of the plugin's learning
  variables (:func:`~.integration.default_integration`).
"""

from __future__ import annotations

import torch
from torch import nn

from .base import RunningStats, check_nonnegative, check_positive, check_rate
from .familiarity import InputFamiliarity
from .output_attention import OutputAttention

CELL_SEED = "cell"  # ``seed: cell``: the gates follow the run's seed (opt-in, see Acetylcholine)


# The registry's entry (modulators/registry.py): read as a literal, without importing this file.
SPEC = {
    "name": "acetylcholine", "tag": "ACh", "class": "Acetylcholine", "order": 3,
    "driver": "builtin",
    "signals": ("ACh/level", "ACh/switch"),
    "record": {"ach": "ACh/level"},
    "options": {"signal": "auto", "gating": True, "context": "auto", "outputs": "all",
                "readout": "raw", "recall": "current", "switch": "surprise",
                "train_recall": "current"},
    "choices": {"signal": "ERROR_SIGNALS", "gating": (True, False, "auto"),
                "context": ("auto", "task", "inferred"), "outputs": ("all", "attended"),
                "readout": ("raw", "precision", "auto"), "switch": ("surprise", "unexplained"),
                "recall": ("current", "entropy", "familiarity"),
                "train_recall": ("current", "familiarity")},
    "terms": (
        ("plasticity", "ACh/level", "encoding_gain", None),  # encoding (Hasselmo 2006)
        ("consolidation", "ACh/level", -1.0, None),
        ("na_threshold", "ACh/switch", "threshold_gain", "noradrenaline"),  # Yu & Dayan 2005
    ),
}

class Acetylcholine(nn.Module):
    """Per-context expected uncertainty, NA's threshold, context gates and encoding drive.

    ``seed`` draws the context gates (:meth:`gate`). The default, 0, gives every run the same
    gates, whatever its seed (what the committed records ran). ``seed: cell`` takes the seed
    torch was last seeded with (``torch.initial_seed()``): inside a leaderboard or case-study
    cell, which is built under :func:`~avalanche_neuromod.determinism.deterministic` of the
    cell's seed, that is the cell's seed, so the seeds of a suite vary the gates too.
    """

    def __init__(
        self,
        *,
        stats_rate: float = 0.05,
        scale: float = 0.25,
        threshold_gain: float = 1.0,
        gate_keep: float = 0.2,
        gate_strength: float = 1.0,
        encoding_gain: float = 0.5,
        output_rate: float = 0.05,
        output_eps: float = 1e-2,
        min_dwell: int = 0,
        seed: int | str = 0,
        gate_layout: str = "random",
        gate_decay: float = 0.0,
        latent_cause: dict | None = None,
    ):
        super().__init__()
        self.stats_rate = check_rate("stats_rate", stats_rate)
        self.scale = check_positive("scale", scale)
        self.threshold_gain = check_nonnegative("threshold_gain", threshold_gain)
        self.gate_keep = check_rate("gate_keep", gate_keep)
        self.gate_strength = check_rate("gate_strength", gate_strength, allow_zero=True)
        self.encoding_gain = check_nonnegative("encoding_gain", encoding_gain)
        if isinstance(min_dwell, bool) or not isinstance(min_dwell, int) or min_dwell < 0:
            raise ValueError(f"min_dwell must be an integer >= 0, got {min_dwell!r}")
        self.min_dwell = min_dwell
        if isinstance(seed, str) and seed != CELL_SEED:
            raise ValueError(f"seed must be an integer or {CELL_SEED}, got {seed!r}")
        # a buffer: a checkpoint restores the gates of a run whose seed was drawn (``cell``)
        self.register_buffer("gate_seed", torch.tensor(
            int(torch.initial_seed() % 2**32 if seed == CELL_SEED else seed), dtype=torch.long))
        if gate_layout not in ("random", "disjoint"):
            raise ValueError(f"gate_layout must be random or disjoint, got {gate_layout!r}")
        self.gate_layout = gate_layout
        self.gate_decay = check_nonnegative("gate_decay", gate_decay)
        if latent_cause is not None:
            from .latent_cause import LatentCause

            if not isinstance(latent_cause, dict):
                raise ValueError("latent_cause must be a mapping of LatentCause parameters")
            self.latent = LatentCause(**latent_cause)
        else:
            self.latent = None
        self.outputs = OutputAttention(rate=output_rate, eps=output_eps)
        self.familiarity = InputFamiliarity()  # per-context input moments (``recall: familiarity``)
        self.stats = nn.ModuleDict()  # context id -> RunningStats
        self.register_buffer("level", torch.tensor(0.0))
        self.register_buffer("context", torch.tensor(0, dtype=torch.long))

    @property
    def seed(self) -> int:
        """The seed the context gates are drawn from (:meth:`gate`)."""
        return int(self.gate_seed)

    def _context_stats(self, context: int) -> RunningStats:
        key = str(int(context))
        if key not in self.stats:
            self.stats[key] = RunningStats(rate=self.stats_rate).to(self.level.device)
        return self.stats[key]

    @torch.no_grad()
    def observe(self, signal: torch.Tensor, *, context: int | None = None) -> torch.Tensor:
        """Fold this step's prediction error ``u_t`` into the context's statistics; return ACh."""
        if context is not None:
            self.context.fill_(int(context))
        u = signal.detach().float().reshape(-1).mean()
        if torch.isfinite(u):
            stats = self._context_stats(int(self.context))
            stats.update(u)
            sd = stats.std.to(self.level.device)
            self.level.copy_(sd / (sd + self.scale))
        return self.level

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # per-context statistics are created lazily: create those the checkpoint holds
        state_dict.setdefault(prefix + "gate_seed", self.gate_seed)  # older checkpoints: as built
        head = prefix + "stats."
        for key in state_dict:
            if key.startswith(head):
                self._context_stats(int(key[len(head):].split(".", 1)[0]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def known_contexts(self) -> list[int]:
        """The contexts that have been observed (each has its own statistics), in order."""
        return sorted(int(key) for key in self.stats)

    @staticmethod
    def recall(logits: torch.Tensor) -> torch.Tensor:
        """Per sample, the index of the least uncertain context, ``argmin_c H(softmax(z_c))``.

        :param logits: ``[K, B, C]``, the outputs of ``B`` samples under each of ``K`` contexts.
        :return: ``[B]`` long indices into the first dimension (ties go to the lower index).
        """
        if logits.dim() != 3 or logits.shape[0] == 0:
            raise ValueError("logits must be [contexts, batch, outputs], got "
                             f"{tuple(logits.shape)}")
        logp = torch.log_softmax(logits.detach().float(), dim=-1)
        entropy = -(logp.exp() * logp).sum(-1)  # [K, B]
        return torch.nan_to_num(entropy, nan=float("inf")).argmin(0)

    def may_switch(self) -> bool:
        """Whether the current context can be left: ACh has observed it for ``min_dwell`` steps.

        Right after a change the prediction error stays high for a while; without a dwell each of
        those steps would declare another change and split one context into several.
        """
        if self.min_dwell == 0:
            return True
        key = str(int(self.context))
        return key in self.stats and int(self.stats[key].count) >= self.min_dwell

    def switch_context(self) -> int:
        """Advance the inferred context (called when NA declares an unexpected change)."""
        self.context.add_(1)
        return int(self.context)

    def enter(self, context: int) -> int:
        """Enter ``context`` (a known one, or a new one), as latent-cause inference decided."""
        self.context.fill_(int(context))
        if self.latent is not None:
            self.latent.enter(int(context))
        return int(self.context)


    def share(self, context: int) -> float:
        """The share of hidden units context ``c`` keeps, ``gate_keep * (1 + c) ** -gate_decay``.

        With ``gate_decay > 0`` each new context takes fewer units than the one before, so that
        the units of earlier contexts are less and less overwritten as contexts accumulate
        (about ``gate_keep * sum_c (1 + c) ** -gate_decay`` of the layer is shared in all).
        """
        return self.gate_keep * (1.0 + max(0, int(context))) ** -self.gate_decay

    def gate(self, context: int, units: int, *, device=None) -> torch.Tensor:
        """The context's gain on ``units`` hidden units: 1 for its own, ``1 - strength`` else.

        Deterministic in ``(seed, context, units)``, so evaluation sees the gates training used.
        """
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + int(context) * 7919
                                                  + units)
        keep = max(1, round(self.share(context) * units))
        mask = torch.full((units,), 1.0 - self.gate_strength)
        if self.gate_layout == "disjoint":  # block c of one permutation per (seed, units)
            order = torch.randperm(units, generator=torch.Generator().manual_seed(
                self.seed * 1_000_003 + units))
            mask[order[(torch.arange(keep) + int(context) * keep) % units]] = 1.0
        else:
            mask[torch.randperm(units, generator=generator)[:keep]] = 1.0
        return mask.to(device if device is not None else self.level.device)
