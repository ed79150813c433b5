"""Reward-driven (actor-critic) learning of classification-as-action tasks such as Go/No-Go."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from avalanche.training.plugins.evaluation import default_evaluator
from avalanche.training.templates import SupervisedTemplate
from torch import nn
from torch.nn import CrossEntropyLoss

LEARNING_MODES = ("reward", "supervised")


def gonogo_payoff(
    *, hit: float = 1.0, false_alarm: float = -1.0, correct_rejection: float = 0.0,
    miss: float = 0.0, go_class: int = 1,
) -> torch.Tensor:
    """Payoff matrix ``R[y, a]`` of a Go/No-Go task (class/action ``go_class`` is Go)."""
    nogo = 1 - go_class
    payoff = torch.zeros(2, 2)
    payoff[go_class, go_class], payoff[go_class, nogo] = hit, miss
    payoff[nogo, go_class], payoff[nogo, nogo] = false_alarm, correct_rejection
    return payoff


class RewardDrivenStrategy(SupervisedTemplate):
    """Actor-critic learning from reward, as in the case study of Mei et al. (2025).

    The model's outputs are action preferences. On each training trial the agent samples an
    action from its policy ``pi(a|s) = softmax(beta / T * logits)`` (``beta`` the inverse
    temperature, ``T`` a temperature that noradrenaline may raise), receives the reward
    ``r = R[y, a]`` of the payoff matrix (Go/No-Go: hit, false alarm, correct rejection, miss), and
    a critic predicts the value ``V(s)`` of the cue (trained on ``(r - V(s))^2``). The actor's loss
    is the policy gradient with a per-trial third factor ``F_i``:

        L_actor = - mean_i F_i log pi(a_i | s_i) - entropy_coef * H(pi)

    Without neuromodulation ``F_i = r_i`` (learning from raw reward, REINFORCE); the
    :class:`~avalanche_neuromod.plugins.DopaminePlugin` sets ``F_i = delta_i = r_i - V(s_i)``, the
    reward prediction error (the dopamine signal of the actor-critic). ``mb_action``,
    ``mb_policy``, ``mb_reward``, ``mb_value`` and ``mb_third_factor`` are set on every training
    step for plugins and metrics. Evaluation is greedy (accuracy = the best action is correct).

    ``learning="supervised"`` turns the same strategy into plain supervised learning with the
    given criterion, so one class serves both settings of the case study.

    :param critic: value network on the flattened input; default a linear read-out.
    :param critic_lr: SGD learning rate of the critic.
    :param payoff: ``R[y, a]`` as a ``[n_classes, n_actions]`` tensor; default Go/No-Go from
        ``hit``, ``false_alarm``, ``correct_rejection``, ``miss``.
    :param inverse_temperature: ``beta`` of the softmax policy.
    :param entropy_coef: weight of the policy-entropy bonus.
    :param value_coef: weight of the critic's loss.
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        criterion=None,
        learning: str = "reward",
        critic: nn.Module | None = None,
        critic_lr: float = 0.05,
        payoff: torch.Tensor | Sequence[Sequence[float]] | None = None,
        hit: float = 1.0,
        false_alarm: float = -1.0,
        correct_rejection: float = 0.0,
        miss: float = 0.0,
        inverse_temperature: float = 1.0,
        entropy_coef: float = 0.0,
        value_coef: float = 1.0,
        train_mb_size: int = 8,
        train_epochs: int = 1,
        eval_mb_size: int = 256,
        device: str | torch.device | None = None,
        plugins=None,
        evaluator=default_evaluator,
        eval_every: int = -1,
        **kwargs,
    ):
        if learning not in LEARNING_MODES:
            raise ValueError(f"learning must be one of {', '.join(LEARNING_MODES)}, "
                             f"got {learning!r}")
        if not inverse_temperature > 0:
            raise ValueError(f"inverse_temperature must be > 0, got {inverse_temperature}")
        if not critic_lr > 0:
            raise ValueError(f"critic_lr must be > 0, got {critic_lr}")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        super().__init__(
            model=model, optimizer=optimizer,
            criterion=CrossEntropyLoss() if criterion is None else criterion,
            train_mb_size=train_mb_size, train_epochs=train_epochs, eval_mb_size=eval_mb_size,
            device=device, plugins=plugins, evaluator=evaluator, eval_every=eval_every, **kwargs,
        )
        self.learning = learning
        self.payoff = (torch.as_tensor(payoff, dtype=torch.float32) if payoff is not None else
                       gonogo_payoff(hit=hit, false_alarm=false_alarm,
                                     correct_rejection=correct_rejection, miss=miss))
        self.inverse_temperature = float(inverse_temperature)
        self.temperature: float | torch.Tensor = 1.0
        self.action_bias: torch.Tensor | None = None  # e.g. serotonin's learnt No-Go bias
        self.entropy_coef = float(entropy_coef)
        self.value_coef = float(value_coef)
        self.critic = (critic if critic is not None else nn.LazyLinear(1)).to(self.device)
        self.critic_lr = float(critic_lr)
        self.critic_optimizer: torch.optim.Optimizer | None = None
        self._clear_step()

    def _clear_step(self) -> None:
        self.mb_policy = self.mb_action = self.mb_reward = None
        self.mb_value = self.mb_third_factor = None

    @property
    def reward_driven(self) -> bool:
        return self.learning == "reward"

    def _policy_logits(self, logits: torch.Tensor) -> torch.Tensor:
        temperature = self.temperature
        if isinstance(temperature, torch.Tensor):
            temperature = temperature.to(logits.device)
        return logits * (self.inverse_temperature / temperature)

    def forward(self):
        logits = super().forward()
        self._clear_step()
        if not self.reward_driven:
            return logits
        if self.action_bias is not None:
            logits = logits + self.action_bias.to(logits.device, logits.dtype)
        if not self.is_training:
            self.mb_policy = F.softmax(logits.detach() * self.inverse_temperature, dim=-1)
            self.mb_action = self.mb_policy.argmax(-1)
            return logits
        policy = F.softmax(self._policy_logits(logits), dim=-1)
        self.mb_policy = policy.detach()
        self.mb_action = torch.multinomial(self.mb_policy, 1).squeeze(-1)
        payoff = self.payoff.to(logits.device)
        self.mb_reward = payoff[self.mb_y, self.mb_action]
        value = self.critic(self.mb_x.flatten(1).float()).squeeze(-1)
        if self.critic_optimizer is None:
            self.critic_optimizer = torch.optim.SGD(self.critic.parameters(), lr=self.critic_lr)
        self._critic_value = value
        self.mb_value = value.detach()
        self.mb_third_factor = self.mb_reward
        return logits

    def criterion(self):
        if not (self.reward_driven and self.is_training):
            return super().criterion()
        logp_all = F.log_softmax(self._policy_logits(self.mb_output), dim=-1)
        logp = logp_all.gather(1, self.mb_action[:, None]).squeeze(1)
        actor = -(self.mb_third_factor.detach() * logp).mean()
        critic = F.mse_loss(self._critic_value, self.mb_reward)
        loss = actor + self.value_coef * critic
        if self.entropy_coef:
            entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
            loss = loss - self.entropy_coef * entropy
        return loss

    def optimizer_step(self):
        super().optimizer_step()
        if self.reward_driven and self.critic_optimizer is not None:
            self.critic_optimizer.step()
            self.critic_optimizer.zero_grad(set_to_none=True)
