"""Hidden-unit gain and context gates of :class:`~.neuromodulation.NeuromodulationPlugin`.

Forward hooks on the hidden layers (:func:`~._glue.hidden_layers`) multiply each unit's output
by NA's global gain while the model trains, ``z = (W x + b) * g`` (adaptive gain, Aston-Jones &
Cohen 2005), and by acetylcholine's gate of the active context, ``z * g_c`` (context-dependent
gating, Masse et al. 2018), per sample where the contexts are task labels. At evaluation, with
``recall: familiarity`` (the default), each test sample is read through the known context under
whose input moments it is most likely; with ``recall: entropy``, through the one whose prediction
is the least uncertain. Which context is active is set at every forward pass from the task labels or
acetylcholine's inferred context (``context`` option).
"""

from __future__ import annotations

import torch
from avalanche.models.utils import avalanche_forward
from torch import nn

from ._glue import hidden_layers


class ContextGating:
    """Mixin of the plugin: the gain/gate hooks and the context they read.

    Uses the plugin's ``options``, ``_get``, ``_active`` (integration of this step), ``_gain``,
    ``_contexts``, ``_task_mode``, ``_mask_cache``, ``_hooked``, ``_handles`` and ``recalled``.
    """

    def _uses_hidden_hooks(self) -> bool:
        gain_terms = self._active.spec.get("gain", {}).get("terms")
        ach = self.options.get("acetylcholine")
        return bool(gain_terms) or bool(ach and ach["gating"])

    def _attach(self, model: nn.Module) -> None:
        if self._hooked is model:
            return
        self._detach()
        self._hooked = model
        for layer in hidden_layers(model):
            self._handles.append(layer.register_forward_hook(self._hidden_hook))
        ach = self.options.get("acetylcholine")
        if ach and ach["train_recall"] == "familiarity":  # reads the batch the model really
            # sees (DER adds its buffer's samples after before_forward)
            self._handles.append(model.register_forward_pre_hook(self._model_input_hook))

    def _detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles, self._hooked = [], None

    def _context_mask(self, units: int, device) -> torch.Tensor | None:
        ach = self._get("acetylcholine")
        if ach is None or not self.options["acetylcholine"]["gating"] or self._contexts is None:
            return None
        if self._ungated():  # ``gating: auto`` on a class-incremental stream: the whole width
            return None
        contexts = self._contexts
        if contexts.dim() == 0 or contexts.numel() == 1:
            return self._gate_of(ach, int(contexts.reshape(-1)[0]), units, device)
        unique = contexts.unique()
        masks = [self._gate_of(ach, int(c), units, device).to(device) for c in unique.tolist()]
        if len(masks) == 1:
            return masks[0]
        table = torch.stack(masks)  # [n_unique, units]
        index = torch.searchsorted(unique.to(device), contexts.to(device))
        return table[index]  # [B, units]

    def _gate_of(self, ach, context: int, units: int, device) -> torch.Tensor:
        key = (units, context)
        if key not in self._mask_cache:
            self._mask_cache[key] = ach.gate(context, units, device=device)
        return self._mask_cache[key]

    def _hidden_hook(self, module: nn.Module, inputs, output):
        if not isinstance(output, torch.Tensor):
            return output
        factor = None
        if module.training and self._active.spec.get("gain", {}).get("terms"):
            factor = self._gain.to(output.device, output.dtype)
        mask = self._context_mask(output.shape[1], output.device) if output.dim() > 1 else None
        if mask is not None and mask.dim() == 2 and mask.shape[0] != output.shape[0]:
            mask = self._sub_batch_mask(module, mask, output.shape[0])
        if mask is not None:
            mask = mask.to(output.dtype)
            shape = [mask.shape[0] if mask.dim() == 2 else 1, output.shape[1]] + \
                [1] * (output.dim() - 2)
            mask = mask.reshape(shape)
            factor = mask if factor is None else factor * mask
        return output if factor is None else output * factor

    def _sub_batch_mask(self, module: nn.Module, mask: torch.Tensor, rows: int):
        """The gates of one task's share of a mixed batch (replay in task-IL, say).

        Avalanche's ``MultiTaskModule.forward`` runs ``forward_single_task`` on the samples of
        each task in turn, in the order of ``torch.unique(task_labels)`` (ascending): the k-th
        call of a layer in one forward pass is the k-th task. A split that does not match (another
        model's own order) gets no gates rather than another task's.
        """
        contexts = self._contexts.reshape(-1)
        unique = contexts.unique()
        calls = self._split_calls.get(module, 0)
        self._split_calls[module] = calls + 1
        if calls >= unique.numel():
            return None
        selected = (contexts == unique[calls]).to(mask.device)
        if int(selected.sum()) != rows:
            return None
        return mask[selected]

    def _set_contexts(self, strategy) -> None:
        self._split_calls = {}  # a new forward pass: per layer, the tasks its calls have had
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

    def _output_attention(self, *, training: bool = False) -> tuple[bool, bool]:
        """(mask in training, precision read-out in evaluation), single-head models only; with
        ``training``, the second is whether the outputs' statistics are tracked."""
        options = self.options.get("acetylcholine")
        if options is None or self._task_mode:
            return False, False
        readout = options["readout"] != "raw" if training else self._precision_readout()
        return options["outputs"] == "attended", readout

    def _recalling(self) -> bool:
        """Whether test samples pick their context: inferred contexts with gates (not one
        ungated class-incremental context, whose every unit each sample reads anyway)."""
        options = self.options.get("acetylcholine")
        return bool(options and options["gating"] and options["recall"] != "current"
                    and options["context"] != "task" and not self._task_mode
                    and not self._ungated())

    @torch.no_grad()
    def _recall_contexts(self, strategy) -> None:
        """Read each sample through the known context whose prediction is least uncertain
        (``recall: entropy``), or whose inputs it resembles most (``recall: familiarity``)."""
        ach = self._get("acetylcholine")
        known = ach.known_contexts()
        if len(known) < 2 or strategy.mb_output.dim() != 2:
            return
        if self.options["acetylcholine"]["recall"] == "familiarity":
            known = self._familiar_contexts(ach)
            if len(known) >= 2:
                self._recall_familiar(strategy, ach, known)
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

    @staticmethod
    def _familiar_contexts(ach) -> list[int]:
        """The known contexts that have input moments (recall by familiarity reads only those)."""
        familiar = set(ach.familiarity.known())
        return [c for c in ach.known_contexts() if c in familiar]

    def _training_recall(self) -> bool:
        options = self.options.get("acetylcholine")
        return bool(options and options["train_recall"] == "familiarity" and self._recalling()
                    and options["recall"] == "familiarity")

    @torch.no_grad()
    def _model_input_hook(self, module: nn.Module, inputs) -> None:
        """``train_recall: familiarity``: each training sample is gated by its most familiar
        known context, so a sample a host replays from an earlier context trains that
        context's gated units, not the current one's (the current context among them)."""
        if not (module.training and inputs and isinstance(inputs[0], torch.Tensor)
                and self._training_recall() and self._contexts is not None):
            return
        ach = self._get("acetylcholine")
        current = int(ach.context)
        known = self._familiar_contexts(ach)
        if current not in known or len(known) < 2:
            return
        index = ach.familiarity.recall(inputs[0], known)
        self._contexts = torch.tensor(known, device=index.device)[index]

    @torch.no_grad()
    def _recall_familiar(self, strategy, ach, known: list[int]) -> None:
        """One forward pass per recalled context, over the samples that recall it."""
        index = ach.familiarity.recall(strategy.mb_x, known)
        contexts = torch.tensor(known, device=index.device)[index]
        output = strategy.mb_output.clone()
        current = int(self._contexts.reshape(-1)[0]) if self._contexts is not None else None
        for context in contexts.unique().tolist():
            rows = (contexts == context).nonzero().flatten()
            if context == current:
                continue  # the forward pass already read these through it
            self._contexts = torch.tensor(context)
            task = strategy.mb_task_id[rows.to(strategy.mb_task_id.device)]
            output[rows.to(output.device)] = avalanche_forward(
                strategy.model, strategy.mb_x[rows.to(strategy.mb_x.device)], task)
        self._contexts = contexts
        self.recalled = contexts
        strategy.mb_output = output
