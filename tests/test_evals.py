"""leaderboard/evals.py: the repeated evaluations a cell skips keep its run bit for bit."""

from __future__ import annotations

import pytest
import torch

from avalanche_neuromod.leaderboard.evals import eval_draws, repeats, skip_initial_eval


def tiny_benchmark(seed: int = 0, n_exp: int = 3):
    """Three two-class experiences of random 8-feature tensors (the tensor benchmarks' kind)."""
    from avalanche.benchmarks.utils.classification_dataset import (
        _make_taskaware_tensor_classification_dataset as make_tensor_dataset,
    )

    from avalanche_neuromod.benchmarks.tensor_mnist import _scenario

    g = torch.Generator().manual_seed(seed)
    train, test = [], []
    for i in range(n_exp):
        for n, out in ((96, train), (40, test)):
            y = torch.tensor([2 * i, 2 * i + 1]).repeat(n // 2)
            x = torch.randn(n, 8, generator=g) + y[:, None].float()
            out.append(make_tensor_dataset(x, y, task_labels=0))
    return _scenario(train, test)


def tiny_strategy(*plugins, seed: int = 0):
    from avalanche.training import Naive

    from avalanche_neuromod.evaluation import continual_evaluator

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 2 * 3))
    return Naive(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.05,
                                                        momentum=0.9),
                 train_mb_size=16, train_epochs=1, eval_mb_size=32, device="cpu",
                 evaluator=continual_evaluator(), eval_every=0, plugins=list(plugins))


def record(strategy, bm, *, skip: bool, before=None) -> dict:
    """What the runner keeps of a run: each experience's eval, the weights, the generator."""
    if before is not None:
        before(strategy)
    initial, final = repeats(strategy) if skip else (False, False)
    rows = []
    for index, exp in enumerate(bm.train_stream):
        if initial and index > 0:
            skip_initial_eval(strategy)
            eval_draws(bm.test_stream)
        last = strategy.train(exp, eval_streams=[bm.test_stream])
        if final:
            eval_draws(bm.test_stream)
        else:
            last = strategy.eval(bm.test_stream)
        rows.append({k: v for k, v in last.items() if isinstance(v, float)})
    return {"rows": rows, "weights": [p.detach().clone() for p in strategy.model.parameters()],
            "rng": torch.get_rng_state()}


def assert_same(a: dict, b: dict) -> None:
    assert a["rows"] == b["rows"]  # every metric, forgetting, BWT and FWT among them
    assert all(torch.equal(x, y) for x, y in zip(a["weights"], b["weights"]))
    assert torch.equal(a["rng"], b["rng"])


def test_eval_draws_are_the_random_draws_of_an_eval():
    bm = tiny_benchmark()
    strategy = tiny_strategy()
    torch.manual_seed(5)
    strategy.eval(bm.test_stream)
    after_eval = torch.get_rng_state()
    torch.manual_seed(5)
    eval_draws(bm.test_stream)
    assert torch.equal(torch.get_rng_state(), after_eval)


def test_skipping_the_repeated_evals_keeps_the_run_bit_for_bit():
    bm = tiny_benchmark()
    assert repeats(tiny_strategy()) == (True, True)
    three = record(tiny_strategy(), bm, skip=False)  # each seeds torch's generator
    one = record(tiny_strategy(), bm, skip=True)
    assert_same(three, one)
    assert any(name.startswith("StreamForgetting") for name in one["rows"][-1])


class _AfterTraining:
    """A plugin with an ``after_training`` hook: the explicit eval may see other weights."""

    def after_training(self, strategy, **kwargs):
        return None


class _BeforeTraining:
    def before_training(self, strategy, **kwargs):
        return None


@pytest.mark.parametrize("plugin,expected", [(_AfterTraining, (True, False)),
                                             (_BeforeTraining, (False, True))])
def test_a_plugin_acting_between_two_evals_keeps_them(plugin, expected):
    from avalanche.core import SupervisedPlugin

    cls = type(plugin.__name__, (plugin, SupervisedPlugin), {})
    assert repeats(tiny_strategy(cls())) == expected
