"""Latent-cause inference in the loop of :class:`~.neuromodulation.NeuromodulationPlugin`.

On NA's change signal (phasic release, or a rise of tonic NA), acetylcholine's
:class:`~avalanche_neuromod.modulators.latent_cause.LatentCause` tests the known contexts and a
new one against this step's trials, read through each context's gates, and the plugin enters
the one chosen: the trials are read again under it (they carry no policy gradient: their
actions came from the old context's policy), NA's burst ends when a known context explains the
change, 5-HT consolidates what the context left learnt (``consolidate: context``), and what the
contexts would otherwise share (the read-out's biases, the critic) is kept per context.
"""

from __future__ import annotations

import torch
from avalanche.models.utils import avalanche_forward
from torch import nn

from ._glue import is_reward_driven, readout_layers


def infer_context(plugin, strategy, ach, na, ht) -> None:
    """Latent-cause inference on NA's change signal (:mod:`~..modulators.latent_cause`):
    re-enter the known context that explains this step's trials, or open a new one."""
    latent = ach.latent
    if not latent.deliberating:
        stats = ach.stats[str(int(ach.context))] if str(int(ach.context)) in ach.stats \
            else None
        mature = stats is not None and int(stats.count) >= latent.maturity
        latent.start(ach.known_contexts() or [int(ach.context)], int(ach.context),
                     allow_new=mature)
    known, current = latent.candidates
    with torch.no_grad():
        outputs = []
        for context in known:
            plugin._contexts = torch.tensor(context)
            outputs.append(avalanche_forward(strategy.model, strategy.mb_x,
                                             strategy.mb_task_id))
    logits = torch.stack(outputs)
    if is_reward_driven(strategy):
        evidence = dict(actions=strategy.mb_action, rewards=strategy.mb_reward,
                        payoff=strategy.payoff)
    else:
        evidence = dict(labels=strategy.mb_y)
    chosen = latent.accumulate(latent.log_likelihood(logits, **evidence),
                               latent.new_log_likelihood(logits, **evidence))
    plugin._contexts = torch.tensor(current)
    if chosen is None:
        return
    if chosen == current:
        na.resolve()  # the current context explains the trials: a false alarm
        return
    if ht is not None and plugin.options["serotonin"]["consolidate"] == "context":
        ht.consolidate(plugin._params(strategy))  # protect what the context left learnt
    swap_context_state(plugin, strategy, current, chosen)
    ach.enter(chosen)
    if chosen in known:
        na.resolve()
    plugin._contexts = ach.context.reshape(())
    output = avalanche_forward(strategy.model, strategy.mb_x, strategy.mb_task_id)
    bias = getattr(strategy, "action_bias", None)
    if is_reward_driven(strategy) and bias is not None:
        output = output + bias.to(output.device, output.dtype)
    strategy.mb_output = output  # the trials are read under the context they belong to
    plugin._step_losses = None
    if is_reward_driven(strategy) and getattr(strategy, "mb_third_factor", None) is not None:
        # their actions came from the old context's policy: off-policy for the new one, so
        # they carry no policy gradient (the evidence has served the inference)
        strategy.mb_third_factor = torch.zeros_like(strategy.mb_third_factor)

@torch.no_grad()
def swap_context_state(plugin, strategy, leaving: int, entering: int) -> None:
    """What every context would otherwise share is kept per context: the read-out's biases
    (the units are gated, the offsets are not) and, for DA, the critic, so that the
    prediction error is measured against the value of the active context. A new context
    starts from zero offsets and a value of 0."""
    params = [layer.bias for layer in readout_layers(strategy.model)
              if getattr(layer, "bias", None) is not None]
    critic = getattr(strategy, "critic", None)
    if critic is not None and plugin._get("dopamine") is not None and \
            not any(isinstance(p, nn.parameter.UninitializedParameter)
                    for p in critic.parameters()):
        params += list(critic.parameters())
    plugin._critics[leaving] = [p.detach().clone() for p in params]
    stored = plugin._critics.get(entering)
    for i, p in enumerate(params):
        p.copy_(stored[i] if stored is not None and i < len(stored) else torch.zeros_like(p))
