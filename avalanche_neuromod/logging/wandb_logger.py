"""Weights & Biases logger for Avalanche pipelines.

Avalanche 0.6 ships its own ``WandBLogger``, but it relies on ``wandb.util.generate_id``
and ``wandb.viz``, both removed from recent wandb releases, and it logs every metric with
wandb's global ``step=`` which breaks as soon as train-phase (x = iterations) and
eval-phase (x = experiences) metrics are interleaved.

This module provides a drop-in replacement that:

* starts the run lazily (constructing the logger is cheap) and runs offline when no W&B
  API key is configured;
* uses ``run.define_metric`` to give each metric its own x axis: ``train_iterations`` for
  train-phase metrics and neuromodulator signals (``Neuromod/...``), ``trained_experiences``
  for eval-phase metrics;
* builds the accuracy matrix (row ``i`` = accuracy on every test experience after
  training experience ``i``) and logs it as a ``wandb.Table`` together with forgetting
  curves (:mod:`.panels`) and, when available, trials-to-criterion adaptation curves;
* logs each eval-phase point once: Avalanche may evaluate the same weights several times
  (``eval_every`` after an experience, an explicit ``eval``, the initial eval before the
  next experience); an evaluation at the same x and train iteration as one already logged
  adds no point;
* never writes an API key or token into the run config or summary (:mod:`.environment`).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import wandb
from avalanche.core import SupervisedPlugin
from avalanche.logging import BaseLogger

from .environment import _new_run_id, has_api_key, package_versions, resolve_mode, sanitize_config
from .panels import adaptation_payload, convert_value, forgetting_chart, matrix_table

if TYPE_CHECKING:
    from avalanche.evaluation.metric_results import MetricValue
    from avalanche.training.templates import SupervisedTemplate


TRAIN_X = "train_iterations"
"""Name of the x axis of train-phase metrics and neuromodulator signals."""

EVAL_X = "trained_experiences"
"""Name of the x axis of eval-phase metrics (number of experiences trained so far)."""

NEUROMOD_PREFIX = "Neuromod/"
"""Prefix of the metrics emitted by the neuromodulation plugins."""

ACC_EXP_METRIC = re.compile(
    r"^Top1_Acc_Exp/eval_phase/test_stream(?:/Task(?P<task>\d+))?/Exp(?P<exp>\d+)$"
)
TRIALS_METRIC = re.compile(
    r"^TrialsToCriterion/train_phase/train_stream(?:/Task(?P<task>\d+))?/Exp(?P<exp>\d+)$"
)

# ----------------------------------------------------------------------------------------
# Logger
# ----------------------------------------------------------------------------------------
class WandBLogger(BaseLogger, SupervisedPlugin):
    """Weights & Biases logger.

    Pass it to an :class:`~avalanche.training.plugins.EvaluationPlugin` (``loggers=[...]``)
    like any other Avalanche logger. Each metric is logged together with its own x value:

    * train-phase metrics (``.../train_phase/...``) and neuromodulator signals
      (``Neuromod/...``): ``train_iterations`` (the metric's ``x_plot``);
    * eval-phase metrics (``.../eval_phase/...``): ``trained_experiences``, the number of
      experiences trained so far (an evaluation that runs in the middle of a training
      experience counts that experience as trained);

    wandb's global ``step`` is never passed; an eval-phase metric is logged once per x. After
    an evaluation that changes the accuracy matrix, the matrix (``accuracy_matrix``), the
    forgetting curves (``forgetting_curves``, forgetting per test experience over the
    matrix's rows :mod:`.panels`) and, when
    ``TrialsToCriterion`` metrics arrive, the adaptation curve
    (``adaptation/trials_to_criterion``) are (re)logged.

    The run starts lazily, at the first log call (or :meth:`before_run`), and runs
    offline unless a W&B API key is configured. Call :meth:`close` to finish it.
    """

    def __init__(
        self,
        *,
        project_name: str = "avalanche-neuromod",
        run_name: str | None = None,
        group: str | None = None,
        job_type: str | None = None,
        tags: list[str] | None = None,
        dir: str | os.PathLike | None = None,
        mode: str | None = None,
        config: dict | None = None,
        init_kwargs: dict | None = None,
    ):
        """Creates an instance of the `WandBLogger`.

        :param project_name: name of the W&B project.
        :param run_name: display name of the run (None: chosen by wandb).
        :param group: W&B group of the run (e.g. one group per benchmark).
        :param job_type: W&B job type (e.g. ``"train"``, ``"sweep"``).
        :param tags: W&B tags.
        :param dir: directory under which wandb creates its ``wandb/`` folder holding the
            run directories. Default: ``$WANDB_DIR``, else the current directory.
        :param mode: ``"online"``, ``"offline"`` or ``"disabled"``. None: ``$WANDB_MODE``
            if set, otherwise ``"online"`` when an API key is configured
            (``WANDB_API_KEY`` or ``~/.netrc``) and ``"offline"`` when not.
        :param config: hyper-parameters to store in the run config. Package versions are
            added under ``versions``; secret-looking keys are dropped.
        :param init_kwargs: extra arguments for ``wandb.init`` (they override the ones
            above; a ``config`` entry is merged into ``config``).
        """
        super().__init__()
        self.project_name = project_name
        self.run_name = run_name
        self.group = group
        self.job_type = job_type
        self.tags = list(tags) if tags is not None else None
        self.dir = Path(dir) if dir is not None else None
        self.mode = resolve_mode(mode)
        self.config = dict(config) if config is not None else {}
        self.init_kwargs = dict(init_kwargs) if init_kwargs is not None else {}

        self.accuracy_matrix: list[list[float | None]] = []
        """Row ``i``: accuracy on each test experience after training experience ``i``
        (None where not evaluated)."""
        self.trials_to_criterion: dict[int, float] = {}
        """Experience id -> trials to criterion (from ``TrialsToCriterion`` metrics)."""

        self._run = None
        self._run_id: str | None = None
        self._resume = False
        self._defined: set[str] = set()
        self._batch: dict[tuple[str, Any], dict] | None = None
        self._adaptation_dirty = False
        self._acc_rows: dict[int, dict[int, float]] = {}
        self._eval_accs: dict[int, float] = {}
        self._phases: list[str] = []
        self._trained_experiences = 0
        self._train_exp_start: int | None = None
        self._eval_stamp: tuple[int, int] | None = None  # (x, train iterations) of this eval
        self._eval_logged: dict[str, tuple[int, int]] = {}  # metric -> stamp last logged
        self._logged_matrix: list[list[float | None]] = []

    # ------------------------------------------------------------------ run management
    @property
    def run(self):
        """The active wandb run, or None if it has not started (or was closed)."""
        return self._run

    @property
    def run_id(self) -> str | None:
        """Id of the current (or next) wandb run."""
        return self._run_id

    def _run_dir_root(self) -> Path:
        if self.dir is not None:
            return self.dir
        return Path(os.environ.get("WANDB_DIR") or os.getcwd())

    def _full_config(self) -> dict:
        config = dict(self.config)
        extra = self.init_kwargs.get("config")
        if isinstance(extra, Mapping):
            config.update(extra)
        config["versions"] = package_versions()
        return sanitize_config(config)

    def before_run(self):
        """Start the wandb run if it is not running yet. Idempotent."""
        if self._run is not None and not getattr(self._run, "_is_finished", False):
            return self._run
        if self._run is not None:
            # Finished behind our back (e.g. another logger started a run): continue it.
            warnings.warn(
                "The wandb run of this WandBLogger was finished elsewhere; resuming it.",
                stacklevel=2,
            )
            self._resume = True
            self._run = None
        if self._run_id is None:
            self._run_id = self.init_kwargs.get("id") or _new_run_id()

        root = self._run_dir_root()
        root.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {
            "project": self.project_name,
            "name": self.run_name,
            "group": self.group,
            "job_type": self.job_type,
            "tags": self.tags,
            "dir": str(root),
            "mode": self.mode,
            "id": self._run_id,
            "reinit": "finish_previous",
        }
        if self._resume:
            kwargs["resume"] = "allow"
        kwargs.update({k: v for k, v in self.init_kwargs.items() if k not in ("config", "id")})
        kwargs["config"] = self._full_config()

        self._run = wandb.init(**kwargs)
        self._defined = set()
        self._run.define_metric(TRAIN_X)
        self._run.define_metric(EVAL_X)
        self._run.define_metric(NEUROMOD_PREFIX + "*", step_metric=TRAIN_X)
        return self._run

    def close(self):
        """Finish the wandb run (if any). A later log call starts a new run."""
        if self._run is not None:
            self._run.finish()
        self._run = None
        self._run_id = None
        self._resume = False
        self._eval_logged, self._logged_matrix = {}, []  # a later run logs everything again

    def finish(self):
        """Alias of :meth:`close`."""
        self.close()

    def log_config(self, config: dict):
        """Add entries to the run config (secret-looking keys are dropped)."""
        config = sanitize_config(dict(config))
        self.config.update(config)
        run = self.before_run()
        run.config.update(config, allow_val_change=True)

    def log_summary(self, summary: dict):
        """Update the run summary (e.g. with final results; secrets are dropped)."""
        run = self.before_run()
        run.summary.update(sanitize_config(dict(summary)))

    def log_table(self, name: str, columns: list[str], rows: list[list]):
        """Log a ``wandb.Table`` (e.g. a suite's leaderboard) under ``name``."""
        self._log({name: wandb.Table(columns=list(columns), data=[list(r) for r in rows])})

    def _log(self, payload: dict):
        if not payload:
            return
        run = self.before_run()
        run.log(payload)

    def _define(self, name: str, axis: str):
        if name in self._defined or name.startswith(NEUROMOD_PREFIX):
            return
        self.before_run().define_metric(name, step_metric=axis)
        self._defined.add(name)

    # ------------------------------------------------------------------ metric logging
    def _axis(self, name: str, x_plot) -> tuple[str, Any]:
        if name.startswith(NEUROMOD_PREFIX) or "/train_phase/" in name:
            return TRAIN_X, x_plot
        if "/eval_phase/" in name:
            return EVAL_X, self._trained_experiences
        if self._phases and self._phases[-1] == "eval":
            return EVAL_X, self._trained_experiences
        return TRAIN_X, x_plot

    def log_single_metric(self, name, value, x_plot):
        """Log a single metric value.

        :param name: metric name, e.g. ``Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp000``.
        :param value: scalar, tensor, PIL image, matplotlib figure, ``TensorImage``,
            ``AlternativeValues`` or wandb media. Unsupported values (None, strings,
            checkpoint bytes) are skipped. NaN is logged as is.
        :param x_plot: x value given by Avalanche (the train iteration).
        """
        value = convert_value(value)
        if value is None:
            return
        axis, x = self._axis(name, x_plot)

        if isinstance(value, (int, float)):
            acc = ACC_EXP_METRIC.match(name)
            if acc is not None:
                self._eval_accs[int(acc["exp"])] = float(value)
            trials = TRIALS_METRIC.match(name)
            if trials is not None:
                self.trials_to_criterion[int(trials["exp"])] = float(value)
                self._adaptation_dirty = True

        if axis == EVAL_X and self._eval_stamp is not None:  # the same weights again: no point
            if self._eval_logged.get(name) == self._eval_stamp:
                return
            self._eval_logged[name] = self._eval_stamp
        self._define(name, axis)
        if self._batch is not None:
            self._batch.setdefault((axis, x), {axis: x})[name] = value
        else:
            self._log({name: value, axis: x})
            self._flush_adaptation(x_plot)

    def log_metrics(self, metric_values: list[MetricValue]) -> None:
        """Log a list of metric values, one ``run.log`` per x axis value."""
        self._batch = {}
        try:
            super().log_metrics(metric_values)
        finally:
            batch, self._batch = self._batch, None
        for payload in batch.values():
            self._log(payload)
        x_plot = metric_values[-1].x_plot if metric_values else None
        self._flush_adaptation(x_plot)

    def _flush_adaptation(self, x_plot):
        if not self._adaptation_dirty or not self.trials_to_criterion:
            return
        self._adaptation_dirty = False
        payload = adaptation_payload(self.trials_to_criterion)
        if "adaptation/mean_trials_to_criterion" in payload:
            self._define("adaptation/mean_trials_to_criterion", TRAIN_X)
        if x_plot is not None:
            payload[TRAIN_X] = x_plot
        self._log(payload)

    # ------------------------------------------------------------------ accuracy matrix
    def _update_accuracy_matrix(self):
        if not self._acc_rows:
            self.accuracy_matrix = []
            return
        n_rows = max(self._acc_rows) + 1
        n_cols = max(max(r) for r in self._acc_rows.values() if r) + 1
        self.accuracy_matrix = [
            [self._acc_rows.get(i, {}).get(j) for j in range(n_cols)] for i in range(n_rows)
        ]

    def _log_matrix_and_curves(self):
        matrix = self.accuracy_matrix
        if not matrix or matrix == self._logged_matrix:  # an eval of unchanged weights
            return
        self._logged_matrix = [list(row) for row in matrix]
        payload: dict[str, Any] = {"accuracy_matrix": matrix_table(matrix),
                                   EVAL_X: self._trained_experiences}
        chart = forgetting_chart(matrix)
        if chart is not None:
            payload["forgetting_curves"] = chart
        self._log(payload)

    # ------------------------------------------------------------------ strategy callbacks
    def before_training(self, strategy: SupervisedTemplate, *args, **kwargs):
        self._phases = ["train"]

    def after_training(self, strategy: SupervisedTemplate, *args, **kwargs):
        self._phases = []

    def before_training_exp(self, strategy: SupervisedTemplate, *args, **kwargs):
        self._train_exp_start = strategy.clock.train_exp_counter

    def before_eval(self, strategy: SupervisedTemplate, *args, **kwargs):
        self._phases.append("eval")
        clock = strategy.clock
        counter = clock.train_exp_counter
        # Evaluations run by PeriodicEval happen inside a training experience, before the
        # Clock counts it: count the experience as trained once an iteration was done.
        in_progress = (
            self._train_exp_start is not None
            and counter == self._train_exp_start
            and clock.train_exp_iterations > 0
        )
        self._trained_experiences = counter + int(in_progress)
        self._eval_stamp = (self._trained_experiences, clock.train_iterations)
        self._eval_accs = {}

    def after_eval(self, strategy: SupervisedTemplate, *args, **kwargs):
        if self._phases:
            self._phases.pop()
        trained = self._trained_experiences
        if self._eval_accs and trained > 0:
            self._acc_rows.setdefault(trained - 1, {}).update(self._eval_accs)
            self._update_accuracy_matrix()
            self._log_matrix_and_curves()
        self._eval_accs = {}
        self._eval_stamp = None

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_resume"] = self._run is not None or self._resume
        state["_run"] = None
        state["_batch"] = None
        state["_defined"] = set()
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)


__all__ = ["WandBLogger", "has_api_key", "package_versions", "resolve_mode", "sanitize_config"]
