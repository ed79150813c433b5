"""NeuromodulationPlugin: several modulators acting together on one learner ("many to one").

Mei et al. (2025, arXiv:2501.06762): dopamine, noradrenaline, acetylcholine and serotonin
co-modulate the same learning variables, at phasic and tonic time scales and at several spatial
scopes. This plugin owns any subset of the four modulators
(:mod:`avalanche_neuromod.modulators`), reads what they need from the strategy at each hook of
Avalanche's loop, and sets the learning variables of
:class:`~avalanche_neuromod.modulators.integration.Integrator` (declared as data):

==================  ======================================================================
hook                what happens
==================  ======================================================================
before_forward      hidden-unit gain (NA, global) x context gates (ACh, per unit);
                    policy temperature (exploration); No-Go bias (5-HT inhibition)
after_forward       ACh: attention over outputs (mask before the loss); DA: RPE
                    ``delta = r - V``; NA: surprise -> phasic level; ACh: expected
                    uncertainty, context; 5-HT: tonic level; then the variables
after_eval_forward  ACh: per-sample context recall (inferred contexts); precision-weighted
                    read-out of the outputs
before_backward     DA's per-sample plasticity reweights the loss
after_backward      5-HT: DA-gated importance, anchor penalty gradient
before/after_update plasticity scales the optimizer's update; NA's burst resets the read-out
after_training_exp  5-HT consolidates (importance, anchor)
==================  ======================================================================

The single-modulator plugins (:class:`DopaminePlugin`, :class:`NoradrenalinePlugin`,
:class:`AcetylcholinePlugin`, :class:`SerotoninPlugin`) are this plugin with one modulator.
"""

from __future__ import annotations

import copy

import torch
from avalanche.models.utils import avalanche_forward
from torch import nn

from ..modulators import Acetylcholine, Dopamine, Noradrenaline, Serotonin
from ..modulators.integration import IntegrationError, Integrator, default_integration
from ._glue import (
    UpdateGate,
    hidden_layers,
    is_reward_driven,
    loss_normaliser,
    output_entropy,
    per_sample_loss,
    readout_layers,
    reward_prediction_error,
)
from ._latent import infer_context
from .base import ModulatorPlugin

MODULATOR_CLASSES = {"dopamine": Dopamine, "noradrenaline": Noradrenaline,
                     "acetylcholine": Acetylcholine, "serotonin": Serotonin}
OPTIONS = {
    "dopamine": {"mode": "auto", "reward": "correct", "scope": "sample"},
    "noradrenaline": {"signal": "auto", "effects": ("plasticity", "gain", "exploration", "reset"),
                      "dopamine_boost": 1.0},
    "acetylcholine": {"signal": "auto", "gating": True, "context": "auto", "outputs": "all",
                      "readout": "raw", "recall": "current"},
    "serotonin": {"opponent": 0.5, "inhibition": True, "consolidate": "experience"},
}
CHOICES = {
    ("dopamine", "mode"): ("auto", "reward", "supervised"),
    ("dopamine", "reward"): ("correct", "loss"),
    ("dopamine", "scope"): ("sample", "step"),
    ("noradrenaline", "signal"): ("auto", "rpe", "loss", "entropy"),
    ("acetylcholine", "signal"): ("auto", "rpe", "loss", "entropy"),
    ("acetylcholine", "context"): ("auto", "task", "inferred"),
    ("acetylcholine", "outputs"): ("all", "attended"),
    ("acetylcholine", "readout"): ("raw", "precision"),
    ("acetylcholine", "recall"): ("current", "entropy"),
    ("serotonin", "consolidate"): ("experience", "context"),
}
NA_EFFECT_TERMS = {"plasticity": ("plasticity", "NA/level"), "gain": ("gain", "NA/level"),
                   "exploration": ("temperature", "NA/explore"), "reset": ("reset", "NA/release")}
EFFECTS = tuple(NA_EFFECT_TERMS)
SIGNALS = ("auto", "rpe", "loss", "entropy")
GO_ACTION = 1


class ModulatorConfigError(ValueError):
    """A modulator name, option or parameter is invalid (the message names it)."""


def _split_options(name: str, params: dict) -> tuple[dict, dict]:
    params = dict(params or {})
    options = dict(OPTIONS[name])
    for key in list(params):
        if key in options:
            options[key] = params.pop(key)
    for (mod, key), allowed in CHOICES.items():
        if mod == name and options[key] not in allowed:
            raise ModulatorConfigError(f"{key} must be one of {', '.join(allowed)}, got "
                                       f"{options[key]!r}")
    if name == "noradrenaline":
        options["effects"] = tuple(options["effects"])
        unknown = set(options["effects"]) - set(EFFECTS)
        if unknown:
            raise ModulatorConfigError(f"effects: unknown effect(s) {sorted(unknown)}; choose "
                                       f"from {', '.join(EFFECTS)}")
    return options, params


class NeuromodulationPlugin(ModulatorPlugin):
    """Many-to-one neuromodulation for any Avalanche strategy and any torch model.

    :param dopamine: parameters of :class:`~avalanche_neuromod.modulators.Dopamine` plus the
        options ``mode``, ``reward``, ``scope``; ``None`` leaves dopamine out.
    :param noradrenaline: parameters of ``Noradrenaline`` plus ``signal``, ``effects``,
        ``dopamine_boost`` (how much NA scales DA's plasticity gain).
    :param acetylcholine: parameters of ``Acetylcholine`` plus ``signal``, ``gating`` (context
        gates on hidden units) and ``context`` (``task`` labels, ``inferred`` from NA's change
        detections, or ``auto``: task labels once a non-zero one is seen), ``outputs``
        (``attended``: a sample whose label is new in this experience competes only among the
        new outputs in the loss; samples of familiar labels keep every output) and
        ``readout`` (``precision``: at evaluation each output's evidence is standardised by its
        own running statistics); both act on single-head models only; ``recall`` (which
        context's gates read a test sample when contexts were inferred: the ``current`` one,
        or per sample the known context whose prediction has the least ``entropy``). With the
        ``Acetylcholine`` parameter ``latent_cause`` (opt-in), NA's change signal (phasic
        release, or a rise of tonic NA) starts a latent-cause test instead of advancing the
        context: the known context or a new one that explains the trials is entered
        (:mod:`~avalanche_neuromod.modulators.latent_cause`); no update is made while the test
        runs, and the read-out's biases and the critic are kept per context.
    :param serotonin: parameters of ``Serotonin`` plus ``opponent`` (how much 5-HT damps DA's
        plasticity), ``inhibition`` (learnt No-Go bias in reward-driven strategies) and
        ``consolidate`` (``experience``: at the end of each experience; ``context``: when
        acetylcholine's latent-cause inference leaves a context, no experience boundary used).
    :param integration: learning variables declared as data (see
        :mod:`avalanche_neuromod.modulators.integration`); each declared variable replaces the
        default one implied by the modulators' parameters.
    """

    def __init__(
        self,
        *,
        dopamine: dict | None = None,
        noradrenaline: dict | None = None,
        acetylcholine: dict | None = None,
        serotonin: dict | None = None,
        integration: dict | None = None,
        record_every: int = 1,
    ):
        super().__init__(record_every=record_every)
        given = {"dopamine": dopamine, "noradrenaline": noradrenaline,
                 "acetylcholine": acetylcholine, "serotonin": serotonin}
        self.options: dict[str, dict] = {}
        self.modulators = nn.ModuleDict()
        raw = {}
        for name, params in given.items():
            if params is None:
                continue
            if not isinstance(params, dict):
                raise ModulatorConfigError(f"{name}: must be a mapping of parameters")
            try:
                options, kwargs = _split_options(name, params)
                self.modulators[name] = MODULATOR_CLASSES[name](**kwargs)
            except TypeError as err:
                message = str(err).split("got an ", 1)[-1]
                raise ModulatorConfigError(f"{name}: {message}") from None
            except ValueError as err:
                raise ModulatorConfigError(f"{name}.{err}") from None
            self.options[name] = options
            raw[name] = {**params, **options}
        spec = default_integration(raw)
        if "noradrenaline" in self.options:
            for effect, (variable, signal) in NA_EFFECT_TERMS.items():
                if effect not in self.options["noradrenaline"]["effects"]:
                    spec[variable]["terms"].pop(signal, None)
        try:
            declared = Integrator(integration or {}).spec
        except IntegrationError as err:
            raise ModulatorConfigError(str(err)) from None
        spec.update(copy.deepcopy(declared))
        self.integrator = Integrator(spec)
        self.variables: dict[str, float] = self.integrator.evaluate_floats({})
        self.threshold: float | None = None  # external override of NA's threshold
        self.delta: torch.Tensor | None = None  # DA's per-trial RPE of the last step
        self.plasticity: torch.Tensor | None = None  # DA's per-sample (or step) factor
        self._gate = UpdateGate()
        self._lrs: dict | None = None
        self._hooked: nn.Module | None = None
        self._handles: list = []
        self._gain = torch.ones(())
        self._contexts: torch.Tensor | None = None
        self._mask_cache: dict[tuple[int, int], torch.Tensor] = {}
        self._signals: dict[str, torch.Tensor] = {}
        self._task_mode = False
        self._step_losses: torch.Tensor | None = None
        self._param_cache: tuple | None = None
        self.recalled: torch.Tensor | None = None  # ACh's recalled context per sample (eval)
        self._critics: dict[int, list[torch.Tensor]] = {}  # the critic of each context
        self._tonic_high = False

    # ------------------------------------------------------------------ helpers
    def _get(self, name: str):
        return self.modulators[name] if name in self.modulators else None

    @property
    def modulator(self):
        """The only modulator of a single-modulator plugin."""
        if len(self.modulators) != 1:
            raise AttributeError("modulator is defined for single-modulator plugins; use "
                                 "modulators[name]")
        return next(iter(self.modulators.values()))

    def _signal_tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        da, na = self._get("dopamine"), self._get("noradrenaline")
        ach, ht = self._get("acetylcholine"), self._get("serotonin")
        if da is not None:
            m = self.plasticity.mean() if self.plasticity is not None else torch.tensor(1.0)
            out.update({"DA/rpe": da.phasic, "DA/expectation": da.expectation,
                        "DA/tonic": da.tonic, "DA/plasticity": m})
        if na is not None:
            out.update({"NA/level": na.level, "NA/surprise": na.surprise, "NA/tonic": na.tonic,
                        "NA/plasticity": na.plasticity(), "NA/temperature": na.temperature()})
        if ach is not None:
            out.update({"ACh/level": ach.level, "ACh/context": ach.context.float()})
        if ht is not None:
            out.update({"5HT/level": ht.level, "5HT/inhibition": ht.inhibition})
        if len(self.modulators) > 1:
            out.update({f"NM/{k}": torch.tensor(v) for k, v in self.variables.items()
                        if self.integrator.spec[k].get("terms")})
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

    # ------------------------------------------------------------- forward hooks
    def _uses_hidden_hooks(self) -> bool:
        gain_terms = self.integrator.spec.get("gain", {}).get("terms")
        ach = self.options.get("acetylcholine")
        return bool(gain_terms) or bool(ach and ach["gating"])

    def _attach(self, model: nn.Module) -> None:
        if self._hooked is model:
            return
        self._detach()
        self._hooked = model
        for layer in hidden_layers(model):
            self._handles.append(layer.register_forward_hook(self._hidden_hook))

    def _detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles, self._hooked = [], None

    def _context_mask(self, units: int, device) -> torch.Tensor | None:
        ach = self._get("acetylcholine")
        if ach is None or not self.options["acetylcholine"]["gating"] or self._contexts is None:
            return None
        contexts = self._contexts
        if contexts.dim() == 0 or contexts.numel() == 1:
            key = (units, int(contexts.reshape(-1)[0]))
            if key not in self._mask_cache:
                self._mask_cache[key] = ach.gate(key[1], units, device=device)
            return self._mask_cache[key]
        unique = contexts.unique()
        masks = []
        for c in unique.tolist():
            key = (units, int(c))
            if key not in self._mask_cache:
                self._mask_cache[key] = ach.gate(int(c), units, device=device)
            masks.append(self._mask_cache[key].to(device))
        if len(masks) == 1:
            return masks[0]
        table = torch.stack(masks)  # [n_unique, units]
        index = torch.searchsorted(unique.to(device), contexts.to(device))
        return table[index]  # [B, units]

    def _hidden_hook(self, module: nn.Module, inputs, output):
        if not isinstance(output, torch.Tensor):
            return output
        factor = None
        if module.training and self.integrator.spec.get("gain", {}).get("terms"):
            factor = self._gain.to(output.device, output.dtype)
        mask = self._context_mask(output.shape[1], output.device) if output.dim() > 1 else None
        if mask is not None and mask.dim() == 2 and mask.shape[0] != output.shape[0]:
            mask = None  # a multi-head model split the batch by task: no per-sample gates here
        if mask is not None:
            mask = mask.to(output.dtype)
            shape = [mask.shape[0] if mask.dim() == 2 else 1, output.shape[1]] + \
                [1] * (output.dim() - 2)
            mask = mask.reshape(shape)
            factor = mask if factor is None else factor * mask
        return output if factor is None else output * factor

    # -------------------------------------------------------------------- hooks
    def before_training_exp(self, strategy, **kwargs):
        self._param_cache = None  # the model may have grown (multi-head) or been replaced
        self.modulators.to(strategy.device)
        self._gain = self._gain.to(strategy.device)
        if self._uses_hidden_hooks():
            self._attach(strategy.model)
        ach = self._get("acetylcholine")
        if ach is not None:
            ach.outputs.reset()  # a new experience is a new context for output attention
        ht = self._get("serotonin")
        if ht is not None:
            named = [(n, p) for n, p in strategy.model.named_parameters() if p.requires_grad]
            ht.realign([n for n, _ in named], [p for _, p in named])  # the model may have grown
            if not ht.has_anchor:
                ht.consolidate(self._params(strategy))  # the initial weights anchor nothing yet
                ht.names = [n for n, _ in named]

    def before_eval_exp(self, strategy, **kwargs):
        if self._uses_hidden_hooks():
            self._attach(strategy.model)

    def _set_contexts(self, strategy) -> None:
        ach = self._get("acetylcholine")
        if ach is None:
            return
        mode = self.options["acetylcholine"]["context"]
        task = getattr(strategy, "mbatch", None) is not None and len(strategy.mbatch) >= 3
        task_ids = strategy.mb_task_id if task else None
        if mode == "auto" and task_ids is not None and bool((task_ids != 0).any()):
            self._task_mode = True
        if (mode == "task" or (mode == "auto" and self._task_mode)) and task_ids is not None:
            self._contexts = task_ids.long()
        else:
            self._contexts = ach.context.reshape(())

    def _refresh(self) -> dict[str, float]:
        self.variables = self.integrator.evaluate_floats(self._modulator_signals())
        return self.variables

    def before_forward(self, strategy, **kwargs):
        v = self._refresh()
        self._gain.fill_(v["gain"])
        if self.integrator.spec["temperature"].get("terms") and hasattr(strategy, "temperature"):
            strategy.temperature = v["temperature"]
        self._set_contexts(strategy)
        ht = self._get("serotonin")
        if (ht is not None and self.options["serotonin"]["inhibition"]
                and hasattr(strategy, "action_bias") and is_reward_capable(strategy)):
            bias = torch.zeros(2, device=strategy.device)
            bias[1 - GO_ACTION] = ht.nogo_bias()
            strategy.action_bias = bias

    def before_eval_forward(self, strategy, **kwargs):
        self.recalled = None
        self._set_contexts(strategy)

    def _output_attention(self) -> tuple[bool, bool]:
        """(mask in training, precision read-out in evaluation), single-head models only."""
        options = self.options.get("acetylcholine")
        if options is None or self._task_mode:
            return False, False
        return options["outputs"] == "attended", options["readout"] == "precision"

    def _recalling(self) -> bool:
        options = self.options.get("acetylcholine")
        return bool(options and options["gating"] and options["recall"] == "entropy"
                    and options["context"] != "task" and not self._task_mode)

    @torch.no_grad()
    def _recall_contexts(self, strategy) -> None:
        """Read each sample through the known context whose prediction is least uncertain."""
        ach = self._get("acetylcholine")
        known = ach.known_contexts()
        if len(known) < 2 or strategy.mb_output.dim() != 2:
            return
        current = int(self._contexts.reshape(-1)[0]) if self._contexts is not None else None
        outputs = []
        for context in known:
            if context == current:
                outputs.append(strategy.mb_output)
                continue
            self._contexts = torch.tensor(context)
            outputs.append(avalanche_forward(strategy.model, strategy.mb_x, strategy.mb_task_id))
        logits = torch.stack(outputs)  # [K, B, C]
        index = ach.recall(logits)
        self._contexts = torch.tensor(known, device=index.device)[index]
        self.recalled = self._contexts
        strategy.mb_output = logits[index, torch.arange(logits.shape[1], device=index.device)]

    def after_eval_forward(self, strategy, **kwargs):
        if self._recalling():
            self._recall_contexts(strategy)
        _, readout = self._output_attention()
        if readout and not is_reward_driven(strategy):
            ach = self._get("acetylcholine")
            strategy.mb_output = ach.outputs.readout(strategy.mb_output)

    def after_forward(self, strategy, **kwargs):
        self._step_losses = None
        da, na = self._get("dopamine"), self._get("noradrenaline")
        ach, ht = self._get("acetylcholine"), self._get("serotonin")
        reward_mode = is_reward_driven(strategy)
        if ach is not None and not reward_mode:
            attend, readout = self._output_attention()
            if attend or readout:
                ach.outputs.observe(strategy.mb_output, strategy.mb_y)
            if attend:
                strategy.mb_output = ach.outputs.mask(strategy.mb_output, strategy.mb_y)
        if da is not None:
            self._dopamine_step(strategy, da, ht)
        if na is not None:
            u = self._error_signal(strategy, self.options["noradrenaline"]["signal"])
            theta = self.threshold if self.threshold is not None else na.threshold
            theta = theta * self.variables["na_threshold"]
            na.observe(u, utility=self._utility(strategy), threshold=theta)
        if ach is not None:
            u = self._error_signal(strategy, self.options["acetylcholine"]["signal"])
            inferred = not self._task_mode and self.options["acetylcholine"]["context"] != "task"
            signalled = na is not None and float(na.release) > 0.5 and ach.may_switch()
            if inferred and ach.latent is not None and na is not None:
                tonic = float(na.tonic) > ach.latent.tonic_trigger
                signalled = signalled or (tonic and not self._tonic_high and ach.may_switch())
                self._tonic_high = tonic  # a rise of tonic NA (utility fell) signals too
                if ach.latent.deliberating or signalled:
                    infer_context(self, strategy, ach, na, ht)
            elif inferred and signalled:
                ach.switch_context()
                self._contexts = ach.context.reshape(())
            context = None if self._task_mode else int(ach.context)
            if self._task_mode and self._contexts is not None:
                context = int(self._contexts.reshape(-1)[0])
            ach.observe(u, context=context)
        if ht is not None:
            ht.observe(1.0 - na.level if na is not None else 1.0)
            if reward_mode and self.options["serotonin"]["inhibition"]:
                go = strategy.mb_action == GO_ACTION
                punished = (-strategy.mb_reward.float()).clamp_min(0.0) * go
                ht.observe_false_alarms(punished.sum() / go.sum().clamp_min(1))
        self._refresh()
        self._record()

    def _dopamine_step(self, strategy, da: Dopamine, ht) -> None:
        options = self.options["dopamine"]
        mode = options["mode"]
        if mode == "auto":
            reward_mode = is_reward_driven(strategy)
        elif mode == "reward":
            if not is_reward_driven(strategy):
                raise RuntimeError("dopamine mode 'reward' needs a strategy that sets mb_reward")
            reward_mode = True
        else:
            reward_mode = False
        rate = None if ht is None else float(ht.patience_rate(da.tonic_rate))
        if reward_mode:
            value = getattr(strategy, "mb_value", None)
            self.delta = da.prediction_error(strategy.mb_reward, value, rate=rate)
            strategy.mb_third_factor = self.delta
            self.plasticity = None
            return
        with torch.no_grad():
            if options["reward"] == "correct":
                r = (strategy.mb_output.argmax(-1) == strategy.mb_y).float()
            else:
                r = -self._losses(strategy)
        self.delta = da.prediction_error(r, rate=rate)
        self.plasticity = da.plasticity(self.delta, scope=options["scope"],
                                        scale=self.variables["da_plasticity"])

    def before_backward(self, strategy, **kwargs):
        if self.plasticity is None or self.options["dopamine"]["scope"] != "sample":
            return
        # Reweight each sample's loss by its plasticity: adds sum_i (m_i - 1) l_i / N to the loss,
        # N the criterion's own normaliser, so the criterion's mean becomes the mean of m_i l_i and
        # terms other plugins added (EWC, LwF, ...) are kept as they are.
        losses = per_sample_loss(strategy)
        extra = ((self.plasticity - 1.0) * losses).sum() / loss_normaliser(strategy)
        strategy.loss = strategy.loss + extra

    def after_backward(self, strategy, **kwargs):
        ht = self._get("serotonin")
        if ht is None:
            return
        params = self._params(strategy)
        da = self._get("dopamine")
        ht.accumulate(params, dopamine=None if da is None else da.phasic)
        ht.add_penalty_grad(params, self.variables["consolidation"])

    def _update_factor(self) -> torch.Tensor | None:
        ach = self._get("acetylcholine")
        if ach is not None and ach.latent is not None and ach.latent.deliberating:
            return 0.0  # while the cause of a change is uncertain, no context learns from it
        factor = None
        if self.integrator.spec["plasticity"].get("terms"):
            factor = self.variables["plasticity"]
        if self.plasticity is not None and self.options["dopamine"]["scope"] == "step":
            factor = self.plasticity if factor is None else factor * self.plasticity
        return factor

    def before_update(self, strategy, **kwargs):
        self._refresh()
        factor = self._update_factor()
        if factor is None:
            return
        optimizer = getattr(strategy, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "param_groups"):
            # The step of SGD, Adam(W), RMSprop and Adagrad is proportional to lr: scale it for
            # this step. Several plugins may scale it; the first one in keeps the base values.
            state = optimizer.__dict__.setdefault("_neuromod_lr", {"base": None, "depth": 0})
            if state["depth"] == 0:
                state["base"] = [group["lr"] for group in optimizer.param_groups]
            state["depth"] += 1
            value = float(factor)
            for group in optimizer.param_groups:
                group["lr"] = group["lr"] * value
            self._lrs = state
        else:
            self._gate.snapshot(strategy.model)

    def after_update(self, strategy, **kwargs):
        factor = self._update_factor()
        if self._lrs is not None:
            state, self._lrs = self._lrs, None
            state["depth"] -= 1
            if state["depth"] == 0:
                for group, lr in zip(strategy.optimizer.param_groups, state["base"]):
                    group["lr"] = lr
        elif factor is not None:
            self._gate.apply(factor)
        na = self._get("noradrenaline")
        if (na is not None and self.integrator.spec["reset"].get("terms")
                and float(na.release) > 0.01):
            shrink = self.variables["reset"]
            with torch.no_grad():
                for layer in readout_layers(strategy.model):
                    for p in layer.parameters():
                        p.mul_(shrink)

    def after_training_exp(self, strategy, **kwargs):
        ht = self._get("serotonin")
        if ht is not None and self.options["serotonin"]["consolidate"] == "experience":
            ht.consolidate(self._params(strategy))

    def after_training(self, strategy, **kwargs):
        if self.integrator.spec["temperature"].get("terms") and hasattr(strategy, "temperature"):
            strategy.temperature = 1.0
        self._gain.fill_(1.0)

    # -------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """Modulator state (buffers, importances, anchors), for checkpoints."""
        return {"modulators": self.modulators.state_dict(), "task_mode": self._task_mode}

    def load_state_dict(self, state: dict) -> None:
        self.modulators.load_state_dict(state["modulators"])
        self._task_mode = bool(state.get("task_mode", False))
        self._refresh()


def is_reward_capable(strategy) -> bool:
    """A strategy that samples actions (it has a policy temperature)."""
    return getattr(strategy, "reward_driven", False)
