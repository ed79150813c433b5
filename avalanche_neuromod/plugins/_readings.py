"""What :class:`~.neuromodulation.NeuromodulationPlugin` reads at each step.

The modulators' signals (logged, and read by the integration of the learning variables,
:mod:`avalanche_neuromod.modulators.integration`) and what the modulators observe of the
strategy: the per-sample losses (computed once a step), the error signal each modulator's
``signal`` option names, the step's utility (reward or accuracy) and the trained parameters.
"""

from __future__ import annotations

import torch

from ._glue import is_reward_driven, output_entropy, per_sample_loss, reward_prediction_error


class StepReadings:
    """Mixin of the plugin: signals of the modulators, observations of the strategy.

    Uses the plugin's ``_get``, ``modulators``, ``plasticity``, ``variables``, ``_active``,
    ``_error_driven``, ``_step_losses`` and ``_param_cache``.
    """

    def _signal_tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        da, na = self._get("dopamine"), self._get("noradrenaline")
        ach, ht = self._get("acetylcholine"), self._get("serotonin")
        if da is not None:
            m = self.plasticity.mean() if self.plasticity is not None else torch.tensor(1.0)
            out.update({"DA/rpe": da.phasic, "DA/expectation": da.expectation,
                        "DA/tonic": da.tonic, "DA/plasticity": m})
        if na is not None:
            out.update({"NA/level": na.level, "NA/surprise": na.surprise, "NA/tonic": na.tonic})
        if ach is not None:
            out.update({"ACh/level": ach.level, "ACh/context": ach.context.float()})
        if ht is not None:
            out.update({"5HT/level": ht.level, "5HT/inhibition": ht.inhibition})
        for name in self._error_driven:
            out.update({k: torch.as_tensor(v) for k, v in self.modulators[name].signals().items()})
        # the learning variables as applied (a modulator's effects are terms of them)
        out.update({f"NM/{k}": torch.tensor(v) for k, v in self.variables.items()
                    if self._active.spec[k].get("terms")})
        out.update(self._decision_signals())
        return out

    def _modulator_signals(self) -> dict[str, float]:
        """The signals the integration reads (names of integration.SIGNALS), as floats."""
        s = {}
        da, na = self._get("dopamine"), self._get("noradrenaline")
        ach, ht = self._get("acetylcholine"), self._get("serotonin")
        if da is not None:
            s["DA/rpe"], s["DA/tonic"] = float(da.phasic), float(da.tonic)
            s["DA/abs_rpe"] = abs(s["DA/rpe"])
        if na is not None:
            level, tonic = float(na.level), float(na.tonic)
            s.update({"NA/level": level, "NA/release": float(na.release), "NA/tonic": tonic,
                      "NA/explore": max(level, tonic)})
        if ach is not None:
            a = float(ach.level)
            s["ACh/level"], s["ACh/switch"] = a, a / (0.5 + a)
        if ht is not None:
            s["5HT/level"] = float(ht.level)
        for name in self._error_driven:  # a registered modulator states its own signals
            s.update({k: float(v) for k, v in self.modulators[name].signals().items()})
        return s

    def _losses(self, strategy) -> torch.Tensor:
        """Per-sample losses of this step, computed once (detached) for every modulator."""
        if self._step_losses is None:
            with torch.no_grad():
                self._step_losses = per_sample_loss(strategy)
        return self._step_losses

    def _error_signal(self, strategy, kind: str) -> torch.Tensor:
        if kind == "auto":
            kind = "rpe" if is_reward_driven(strategy) else "loss"
        if kind == "rpe":
            return reward_prediction_error(strategy).abs().mean()
        if kind == "entropy":
            return output_entropy(strategy.mb_output).mean()
        return self._losses(strategy).mean()

    @staticmethod
    def _utility(strategy) -> torch.Tensor:
        if is_reward_driven(strategy):
            return strategy.mb_reward.detach().float().mean()
        with torch.no_grad():
            return (strategy.mb_output.argmax(-1) == strategy.mb_y).float().mean()

    def _params(self, strategy) -> list[torch.Tensor]:
        model = strategy.model
        cached = self._param_cache
        if cached is None or cached[0] is not model or cached[1] != len(cached[2]) or \
                not cached[2]:
            params = [p for p in model.parameters() if p.requires_grad]
            self._param_cache = cached = (model, len(params), params)
        return cached[2]
