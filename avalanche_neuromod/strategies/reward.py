"""Reward-driven (actor-critic) learning of classification-as-action tasks such as Go/No-Go."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from avalanche.training.plugins.evaluation import default_evaluator
from avalanche.training.templates import SupervisedTemplate
from torch import nn
from torch.nn import CrossEntropyLoss

from .presets import check_learner

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

    Without neuromodulation ``F_i = r_i`` (learning from raw reward, REINFORCE), or with
    ``advantage=True`` the critic's advantage ``F_i = delta_i = r_i - V(s_i)`` (A2C, Mnih et al.
    2016: ``L = -delta log pi(a|s) - c H(pi)``, ``c = entropy_coef``; for two actions the bonus
    keeps the logit difference bounded, so the policy still explores after a reversal); the
    :class:`~avalanche_neuromod.plugins.DopaminePlugin` sets ``F_i = delta_i = r_i - V(s_i)``, the
    reward prediction error (the dopamine signal of the actor-critic). ``mb_action``,
    ``mb_policy``, ``mb_reward``, ``mb_value`` and ``mb_third_factor`` are set on every training
    step for plugins and metrics. Evaluation is greedy (accuracy = the best action is correct).

    ``learning="supervised"`` turns the same strategy into plain supervised learning with the
    given criterion, so one class serves both settings of the case study.

    ``rule="q-learning"`` makes the outputs action values instead (a value learner, Watkins 1989,
    one-step: trials are independent): the action is epsilon-greedy, ``a = argmax_a Q(s, a)``
    with probability ``1 - epsilon``, else uniform, and the loss ``1/2 mean_i (r_i - Q(s_i,
    a_i))^2`` makes an SGD step of rate ``alpha`` the update ``Q <- Q + alpha (r - Q)`` (exactly
    so for a one-hot cue and a linear read-out). It has no critic and no third factor
    (``mb_third_factor`` is the error ``r - Q``); ``mb_policy`` is the epsilon-greedy policy.

    :param critic: value network on the flattened input; default a linear read-out.
    :param critic_lr: SGD learning rate of the critic.
    :param payoff: ``R[y, a]`` as a ``[n_classes, n_actions]`` tensor; default Go/No-Go from
        ``hit``, ``false_alarm``, ``correct_rejection``, ``miss``.
    :param inverse_temperature: ``beta`` of the softmax policy.
    :param entropy_coef: weight ``c`` of the policy-entropy bonus (actor-critic).
    :param value_coef: weight of the critic's loss.
    :param rule: ``"actor-critic"`` (default) or ``"q-learning"``.
    :param advantage: actor-critic: the third factor is ``r - V(s)`` (A2C) instead of ``r``.
    :param epsilon: q-learning: the share of uniformly random actions.
    :param actor_lr: when given, the learning rate of ``optimizer`` (the actor's, or the value
        learner's ``alpha``), so that a preset can select its own.
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
        rule: str = "actor-critic",
        advantage: bool = False,
        epsilon: float | None = None,
        actor_lr: float | None = None,
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
        options = {"rule": rule, "advantage": advantage, "entropy_coef": entropy_coef}
        options.update({k: v for k, v in (("epsilon", epsilon), ("actor_lr", actor_lr))
                        if v is not None})
        check_learner(options, prefix="")
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
        self.rule = rule
        self.advantage = bool(advantage)
        self.epsilon = 0.1 if epsilon is None else float(epsilon)  # q-learning only
        if actor_lr is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = float(actor_lr)
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
        payoff = self.payoff.to(logits.device)
        if self.rule == "q-learning":
            return self._value_step(logits, payoff)
        policy = F.softmax(self._policy_logits(logits), dim=-1)
        self.mb_policy = policy.detach()
        self.mb_action = torch.multinomial(self.mb_policy, 1).squeeze(-1)
        self.mb_reward = payoff[self.mb_y, self.mb_action]
        value = self.critic(self.mb_x.flatten(1).float()).squeeze(-1)
        if self.critic_optimizer is None:
            self.critic_optimizer = torch.optim.SGD(self.critic.parameters(), lr=self.critic_lr)
        self._critic_value = value
        self.mb_value = value.detach()
        self.mb_third_factor = self.mb_reward - self.mb_value if self.advantage else \
            self.mb_reward
        return logits

    def _value_step(self, q: torch.Tensor, payoff: torch.Tensor) -> torch.Tensor:
        """Q-learning's training step: an epsilon-greedy action and its reward."""
        n_actions = q.shape[-1]
        greedy = q.detach().argmax(-1)
        explore = torch.rand(greedy.shape, device=q.device) < self.epsilon
        uniform = torch.randint(n_actions, greedy.shape, device=q.device)
        self.mb_action = torch.where(explore, uniform, greedy)
        self.mb_policy = torch.full_like(q.detach(), self.epsilon / n_actions)
        self.mb_policy.scatter_add_(1, greedy[:, None],
                                    torch.full_like(greedy[:, None], 1.0 - self.epsilon,
                                                    dtype=q.dtype))
        self.mb_reward = payoff[self.mb_y, self.mb_action]
        self.mb_value = q.detach().gather(1, self.mb_action[:, None]).squeeze(1)
        self.mb_third_factor = self.mb_reward - self.mb_value
        return q

    def criterion(self):
        if not (self.reward_driven and self.is_training):
            return super().criterion()
        if self.rule == "q-learning":
            chosen = self.mb_output.gather(1, self.mb_action[:, None]).squeeze(1)
            return 0.5 * (self.mb_reward - chosen).pow(2).mean()
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
