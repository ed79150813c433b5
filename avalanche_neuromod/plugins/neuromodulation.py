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

The options are parsed in :mod:`.options`, the hidden-unit gain and context gates live in
:mod:`._gating`, what the plugin reads each step in :mod:`._readings` and latent-cause
inference in :mod:`._latent`; this module is the hook table.
"""

from __future__ import annotations

import torch
from torch import nn

from ..modulators import Dopamine
from ..modulators.integration import Integrator
from ..modulators.registry import specs as _registry_specs
from ._adaptive import SituationReading
from ._gating import ContextGating
from ._glue import UpdateGate, is_reward_driven, loss_normaliser, per_sample_loss, readout_layers
from ._latent import infer_context
from ._readings import StepReadings
from .base import ModulatorPlugin
from .options import (  # noqa: F401  (re-exported: the plugin's options, stated in .options)
    DEFAULT_MODULATORS,
    EFFECTS,
    ModulatorConfigError,
    build_integrator,
    build_modulators,
    declared_integration,
)

GO_ACTION = 1


def modulator_spec(name: str) -> dict:
    """The registry's ``SPEC`` of modulator ``name``."""
    return _registry_specs()[name]


class NeuromodulationPlugin(SituationReading, ContextGating, StepReadings, ModulatorPlugin):
    """Many-to-one neuromodulation for any Avalanche strategy and any torch model.

    ``NeuromodulationPlugin()`` with no argument is the adaptive default: all four modulators
    with :data:`~.options.DEFAULT_MODULATORS`, which infer from what they observe whether the
    stream is task-labelled, brings new labels, shifts its inputs, or is reward-driven, and act
    accordingly (:mod:`._adaptive`; :meth:`inferred` says what was inferred). Giving any
    modulator runs exactly the modulators given, with the options below.

    :param dopamine: parameters of :class:`~avalanche_neuromod.modulators.Dopamine` plus the
        options ``mode``, ``reward``, ``scope``; ``None`` leaves dopamine out.
    :param noradrenaline: parameters of ``Noradrenaline`` plus ``signal``, ``effects``,
        ``supervised_effects`` (the effects in supervised mode where they differ; ``[]``: NA
        only signals changes) and ``dopamine_boost`` (how much NA scales DA's plasticity gain).
    :param acetylcholine: parameters of ``Acetylcholine`` plus ``signal``, ``gating`` (context
        gates on hidden units) and ``context`` (``task`` labels, ``inferred`` from NA's change
        detections, or ``auto``: task labels once a non-zero one is seen), ``outputs``
        (``attended``: a sample whose label is new in this experience competes only among the
        new outputs in the loss; samples of familiar labels keep every output) and
        ``readout`` (``precision``: at evaluation each output's evidence is standardised by its
        own running statistics; ``auto``: once an experience brings labels not seen in earlier
        ones); both act on single-head models only; ``switch`` (``surprise``: every change signal
        of NA opens a context; ``unexplained``: only one while every label of the step is
        familiar, so that novel outcomes do not split contexts); ``recall`` (which
        context's gates read a test sample when contexts were inferred: the ``current`` one,
        or per sample the known context whose prediction has the least ``entropy``, or under
        whose input moments the sample is most likely, ``familiarity``); ``train_recall``
        (``familiarity``: each training sample through its most familiar known context, so a
        sample a host replays trains its own context's gates; default ``current``). With the
        ``Acetylcholine`` parameter ``latent_cause`` (opt-in), NA's change signal (phasic
        release, or a rise of tonic NA) starts a latent-cause test instead of advancing the
        context: the known context or a new one that explains the trials is entered
        (:mod:`~avalanche_neuromod.modulators.latent_cause`); no update is made while the test
        runs, and the read-out's biases and the critic are kept per context.
    :param serotonin: parameters of ``Serotonin`` plus ``opponent`` (how much 5-HT damps DA's
        plasticity), ``inhibition`` (learnt No-Go bias in reward-driven strategies) and
        ``consolidate`` (``experience``: at the end of each experience; ``context``: when
        acetylcholine's latent-cause inference leaves a context, no experience boundary used).
    :param others: any other modulator of the registry (:mod:`~.modulators.registry`), by
        name: its parameters plus its ``SPEC.options`` (docs/extending.md).
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
        **others: dict | None,
    ):
        super().__init__(record_every=record_every)
        given = {"dopamine": dopamine, "noradrenaline": noradrenaline,
                 "acetylcholine": acetylcholine, "serotonin": serotonin, **others}
        if integration is None and all(params is None for params in given.values()):
            given = {name: dict(params) for name, params in DEFAULT_MODULATORS.items()}
        self.options, modulators, raw = build_modulators(given)
        self.modulators = nn.ModuleDict()
        for name, modulator in modulators.items():
            self.modulators[name] = modulator
        # modulators of the registry's ``error`` driver: fed an error signal each step
        self._error_driven = [name for name in self.modulators
                              if modulator_spec(name)["driver"] == "error"]
        declared = declared_integration(integration)
        na_options = self.options.get("noradrenaline", {})
        self.integrator = build_integrator(raw, na_options.get("effects"), declared)
        # NA's effects in supervised mode, where they differ (None: the same as ``effects``)
        self._supervised_integrator = None if na_options.get("supervised_effects") is None \
            else build_integrator(raw, na_options["supervised_effects"], declared)
        self._supervised = False  # the mode of the last step (set in before_forward)
        self.variables: dict[str, float] = self.integrator.evaluate_floats({})
        self.delta: torch.Tensor | None = None  # DA's per-trial RPE of the last step
        self.plasticity: torch.Tensor | None = None  # DA's per-sample (or step) factor
        self._gate = UpdateGate()
        self._lrs: dict | None = None
        self._hooked: nn.Module | None = None
        self._handles: list = []
        self._gain = torch.ones(())
        self._contexts: torch.Tensor | None = None
        self._mask_cache: dict[tuple[int, int], torch.Tensor] = {}
        self._split_calls: dict = {}  # per hidden layer, calls in this forward (task splits)
        self._signals: dict[str, torch.Tensor] = {}
        self._task_mode = False
        self._step_losses: torch.Tensor | None = None
        self._param_cache: tuple | None = None
        self.recalled: torch.Tensor | None = None  # ACh's recalled context per sample (eval)
        self._critics: dict[int, list[torch.Tensor]] = {}  # the critic of each context
        self._tonic_high = False
        self._init_situation()

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

    @property
    def _active(self) -> Integrator:
        """The integration of this step's mode (``supervised_effects`` of NA, if given)."""
        if self._supervised and self._supervised_integrator is not None:
            return self._supervised_integrator
        return self.integrator

    def _refresh(self) -> dict[str, float]:
        self.variables = self._active.evaluate_floats(self._modulator_signals())
        return self.variables

    def before_forward(self, strategy, **kwargs):
        self._supervised = not is_reward_capable(strategy)
        v = self._refresh()
        self._gain.fill_(v["gain"])
        if self._active.spec["temperature"].get("terms") and hasattr(strategy, "temperature"):
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
        self._note_mode(strategy)
        if ach is not None and not reward_mode:
            attend, track = self._output_attention(training=True)
            if attend or track:
                ach.outputs.observe(strategy.mb_output, strategy.mb_y)
                if self._adaptive():  # only the adaptive options read which labels are novel
                    self._observe_labels(ach, strategy.mb_y)
            if attend and self._attend_outputs(ach):
                strategy.mb_output = ach.outputs.mask(strategy.mb_output, strategy.mb_y)
        if da is not None:
            self._dopamine_step(strategy, da, ht)
        if na is not None:
            u = self._error_signal(strategy, self.options["noradrenaline"]["signal"])
            na.observe(u, utility=self._utility(strategy),
                       threshold_factor=self.variables["na_threshold"])
        if ach is not None:
            u = self._error_signal(strategy, self.options["acetylcholine"]["signal"])
            inferred = not self._task_mode and self.options["acetylcholine"]["context"] != "task"
            signalled = na is not None and float(na.release) > 0.5 and ach.may_switch() \
                and not self._switch_explained()
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
            if self._recalling() and self.options["acetylcholine"]["recall"] == "familiarity":
                x = strategy.mb_x
                if self._contexts is not None and self._contexts.dim() == 1 and not self._task_mode:
                    x = x[(self._contexts == int(ach.context)).to(x.device)]  # train_recall
                if x.shape[0]:
                    ach.familiarity.observe(x, context=int(ach.context))
        if ht is not None:
            ht.observe(1.0 - na.level if na is not None else 1.0)
            if reward_mode and self.options["serotonin"]["inhibition"]:
                go = strategy.mb_action == GO_ACTION
                punished = (-strategy.mb_reward.float()).clamp_min(0.0) * go
                ht.observe_false_alarms(punished.sum() / go.sum().clamp_min(1))
        for name in self._error_driven:
            signal = self.options[name].get("signal", "auto")
            self.modulators[name].observe(self._error_signal(strategy, signal))
        self._observe_memory(strategy)
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
        if self._active.spec["plasticity"].get("terms"):
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
        if (na is not None and self._active.spec["reset"].get("terms")
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
        if self._active.spec["temperature"].get("terms") and hasattr(strategy, "temperature"):
            strategy.temperature = 1.0
        self._gain.fill_(1.0)

    # -------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """Modulator state (buffers, importances, anchors), for checkpoints."""
        return {"modulators": self.modulators.state_dict(), "task_mode": self._task_mode,
                **self._situation_state()}

    def load_state_dict(self, state: dict) -> None:
        self.modulators.load_state_dict(state["modulators"])
        self._task_mode = bool(state.get("task_mode", False))
        self._load_situation(state)
        self._refresh()


def is_reward_capable(strategy) -> bool:
    """A strategy that samples actions (it has a policy temperature)."""
    return getattr(strategy, "reward_driven", False)
