"""What the adaptive default of :class:`~.neuromodulation.NeuromodulationPlugin` infers.

Mei et al. (2025, arXiv:2501.06762): the modulators read the situation (expected and
unexpected uncertainty, novelty, reward) and set learning themselves. With the options of
:data:`~.options.DEFAULT_MODULATORS` the plugin is told nothing about the scenario; it infers
from what it observes, step by step, what it faces, and each inference switches on one
behaviour:

======================  ==================================  =================================
observed                inferred                            behaviour
======================  ==================================  =================================
a non-zero task label   the stream is task-labelled         ACh gates hidden units by label
                                                            (``context: auto``)
a label first met       new outputs (class-incremental)     precision read-out at test time
after an earlier                                            (``readout: auto``); attention
experience                                                  over the new outputs while
                                                            training (``outputs: attended``)
NA's change signal      the input distribution shifted      a new inferred context with its
while every label of    (domain-incremental)                own gates and input moments;
the step is familiar                                        at test time each sample is read
                                                            through the context whose inputs
                                                            it most resembles (``switch:
                                                            unexplained``, ``recall:
                                                            familiarity``)
labels of earlier       a memory replays them (a host such  outputs trained and read as the
experiences in a step   as Replay or DER)                   host trains them: no attention
with new labels                                             over outputs, raw read-out
a step holding more     a memory adds stored samples        no hidden-unit gates from then
samples than the                                            on (``gating: auto``): one
host's mini-batch                                           context, the host protects it
a reward signal         reward-driven learning              DA's RPE as third factor, NA's
(``mb_reward``)                                             surprise as in the case study
======================  ==================================  =================================

A change signal while the step shows labels never seen before in this experience is explained
by the novel outcomes (Yu & Dayan 2005: expected, not unexpected, uncertainty): no context is
opened, so a class-incremental learner keeps one set of gates that is also the one read at test
time. Replayed samples already make the outputs of different experiences compete, and masking
the new samples' outputs (or rescaling them at test time) on top of that lowered Replay from 0.84
to 0.70 and DER from 0.87 to 0.74 on SplitMNIST class-IL (benchmarks/hosts.yaml): once a step
mixes familiar and novel labels the adaptive options leave the outputs to the host (explicit
``outputs: attended`` / ``readout: precision`` still apply). :meth:`SituationReading.inferred`
gives the decisions (logged as ``NM/*`` signals, and in a leaderboard record's ``inferred``).
"""

from __future__ import annotations

import torch

from ._glue import is_reward_driven


class SituationReading:
    """Mixin of the plugin: the inferences of the adaptive options, and their log.

    Uses the plugin's ``options``, ``_get`` and ``_task_mode``.
    """

    def _init_situation(self) -> None:
        self._new_labels = False  # a label first met after an earlier experience
        self._reward_seen = False
        self._novel_step = False  # this step shows a label new in this experience
        self._replayed = False  # a step showed earlier experiences' labels beside new ones
        self._memory = False  # a step trained on more samples than the host's mini-batch

    def _adaptive(self) -> bool:
        """Whether any option is left to the situation (then the decisions are logged)."""
        options = self.options.get("acetylcholine")
        return bool(options and (options["readout"] == "auto" or options["gating"] == "auto"
                                 or options["switch"] == "unexplained"))

    @torch.no_grad()
    def _observe_labels(self, ach, labels: torch.Tensor) -> None:
        """After ACh's output attention observed the step: which of its labels are novel."""
        outputs = ach.outputs
        novel = outputs.novel()
        if novel.numel() == 0:
            self._novel_step = False
            return
        index = labels.to(novel.device).long().reshape(-1).clamp(0, novel.numel() - 1)
        self._novel_step = bool(novel[index].any())
        if self._novel_step and bool(outputs.familiar.any()):
            self._new_labels = True
            if bool(outputs.familiar[index].any()):
                self._replayed = True

    def _attend_outputs(self, ach) -> bool:
        """Whether this step's novel samples compete only among the novel outputs.

        The adaptive default does not once a memory replays (the host trains the outputs), nor
        when an experience after the first brings a single novel label: one output competing
        with nothing has zero cross-entropy, so the samples would teach nothing (SplitMNIST with
        one class per experience); they keep every output, as in plain training.
        """
        if not self._adaptive():
            return True
        outputs = ach.outputs
        lone = bool(outputs.familiar.any()) and int(outputs.novel().sum()) < 2
        return not (self._replayed or lone)

    def _switch_explained(self) -> bool:
        """A change signal is explained (no new context) when the step shows novel labels."""
        options = self.options.get("acetylcholine")
        return bool(options and options["switch"] == "unexplained" and self._novel_step)

    def _ungated(self) -> bool:
        """``gating: auto`` once labels new after an earlier experience show that the stream is
        class-incremental, or once a memory adds stored samples to the steps (Replay, DER: a
        step holds more samples than the host's mini-batch): one context, read at test time by
        every sample, keeps every unit. A host that replays the earlier contexts protects them
        itself; gates on top of it cost it accuracy (benchmarks/probes/train-recall.yaml)."""
        options = self.options.get("acetylcholine")
        return bool(options and options["gating"] == "auto"
                    and (self._new_labels or self._memory) and not self._task_mode)

    def _observe_memory(self, strategy) -> None:
        """After a training step: did the host add stored samples to its mini-batch?"""
        size, x = getattr(strategy, "train_mb_size", None), getattr(strategy, "mb_x", None)
        if isinstance(size, int) and isinstance(x, torch.Tensor) and x.shape[0] > size:
            self._memory = True

    def _precision_readout(self) -> bool:
        readout = self.options["acetylcholine"]["readout"]
        return readout == "precision" or (readout == "auto" and self._new_labels
                                          and not self._replayed)

    def _note_mode(self, strategy) -> None:
        self._reward_seen = self._reward_seen or is_reward_driven(strategy)

    def inferred(self) -> dict:
        """What the plugin inferred so far: task labels, new labels, replayed labels, inferred
        contexts, reward."""
        ach = self._get("acetylcholine")
        contexts = len(ach.known_contexts()) if ach is not None and not self._task_mode else 0
        return {"task_labels": bool(self._task_mode), "new_labels": bool(self._new_labels),
                "replay": bool(self._replayed or self._memory), "contexts": contexts,
                "reward": bool(self._reward_seen)}

    def _decision_signals(self) -> dict[str, torch.Tensor]:
        if not self._adaptive():
            return {}
        return {f"NM/{key}": torch.tensor(float(value))
                for key, value in self.inferred().items()}

    def _situation_state(self) -> dict:
        return {"new_labels": self._new_labels, "reward_seen": self._reward_seen,
                "replayed": self._replayed, "memory": self._memory}

    def _load_situation(self, state: dict) -> None:
        self._new_labels = bool(state.get("new_labels", False))
        self._replayed = bool(state.get("replayed", False))
        self._memory = bool(state.get("memory", False))
        self._reward_seen = bool(state.get("reward_seen", False))
