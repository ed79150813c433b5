"""Probe (issue 6, class-incremental SplitMNIST without stored samples): train with the
current-class logit mask, then compare ways of reading the logits out at test time, on the
*validation* stream. Exploratory; each read-out uses only statistics of the training data.

    python benchmarks/probes/class_il_calibration.py '["naive", "5ht"]' [--seeds 0,1,2]

Read-outs: ``raw`` (argmax of the logits); ``norm`` (each class's output weights scaled to the
mean norm, Zhao et al. 2020's weight aligning); ``zclass`` (each logit standardised by the mean
and std it had on its own class's training inputs at the end of that experience); ``zcontext``
(the context whose log-partition ``logsumexp`` over its classes is highest relative to its own
training statistics wins, then argmax inside it).
"""

from __future__ import annotations

import argparse
import json

import torch
from avalanche.core import SupervisedPlugin
from avalanche.training.plugins import EvaluationPlugin

from avalanche_neuromod.benchmarks import get_benchmark
from avalanche_neuromod.leaderboard import load_suite, suite_cells
from avalanche_neuromod.leaderboard.runner import _input_size, _n_classes, _optimizer
from avalanche_neuromod.models import build_model
from avalanche_neuromod.strategies.registry import build_strategy


class MaskAndRecord(SupervisedPlugin):
    """Mask absent classes in training; after each experience record logit statistics."""

    def __init__(self):
        super().__init__()
        self.class_stats: dict[int, tuple[float, float]] = {}
        self.contexts: list[tuple[list[int], float, float]] = []

    def after_forward(self, strategy, **kwargs):
        out = strategy.mb_output
        mask = torch.ones(out.shape[1], dtype=torch.bool, device=out.device)
        mask[list(strategy.experience.classes_in_this_experience)] = False
        strategy.mb_output = out.masked_fill(mask, -1e9)

    @torch.no_grad()
    def after_training_exp(self, strategy, **kwargs):
        classes = sorted(strategy.experience.classes_in_this_experience)
        x, y = _tensors(strategy.experience.dataset)
        model = strategy.model.eval()
        z = model(x)
        for c in classes:
            own = z[y == c, c]
            self.class_stats[c] = (float(own.mean()), float(own.std()))
        energy = torch.logsumexp(z[:, classes], dim=1)
        self.contexts.append((classes, float(energy.mean()), float(energy.std())))
        model.train()


def _tensors(dataset):
    loader = torch.utils.data.DataLoader(dataset, batch_size=4096)
    xs, ys = [], []
    for batch in loader:
        xs.append(batch[0])
        ys.append(batch[1])
    return torch.cat(xs), torch.cat(ys)


@torch.no_grad()
def readouts(model, rec: MaskAndRecord, x: torch.Tensor) -> dict[str, torch.Tensor]:
    model.eval()
    z = model(x)
    out = {"raw": z.argmax(1)}
    head = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    norms = head.weight.norm(dim=1)
    seen = sorted(rec.class_stats)
    scale = torch.ones_like(norms)
    scale[seen] = norms[seen].mean() / norms[seen]
    out["norm"] = ((z - head.bias) * scale + head.bias).argmax(1)
    mu = torch.full((z.shape[1],), 0.0)
    sd = torch.ones(z.shape[1])
    for c, (m, s) in rec.class_stats.items():
        mu[c], sd[c] = m, max(s, 1e-3)
    out["zclass"] = ((z - mu) / sd).argmax(1)
    scores = torch.stack([(torch.logsumexp(z[:, cls], 1) - m) / max(s, 1e-3)
                          for cls, m, s in rec.contexts], 1)
    best = scores.argmax(1)
    pred = torch.empty_like(best)
    for i, (cls, _, _) in enumerate(rec.contexts):
        rows = best == i
        pred[rows] = torch.tensor(cls)[z[rows][:, cls].argmax(1)]
    out["zcontext"] = pred
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("strategies", help="JSON list of suite strategy entries")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    suite = load_suite({
        "name": "probe", "seeds": [int(s) for s in args.seeds.split(",")],
        "budget": {"model": {"hidden": 256, "layers": 2},
                   "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}},
        "benchmarks": [{"name": "split_mnist", "label": "c",
                        "args": {"n_experiences": 5, "validation": 0.1}}],
        "strategies": json.loads(args.strategies)})
    for cell in suite_cells(suite):
        torch.manual_seed(cell.seed)
        bm = get_benchmark(cell.benchmark_name, seed=cell.seed, **cell.benchmark_args)
        model = build_model(input_size=_input_size(bm), n_classes=_n_classes(bm),
                            **cell.budget["model"])
        rec = MaskAndRecord()
        strategy = build_strategy(cell.preset, model=model,
                                  optimizer=_optimizer(model, cell.budget["optimizer"]),
                                  learning=cell.learning, train_mb_size=128, train_epochs=1,
                                  eval_mb_size=1024, device="cpu", plugins=[rec],
                                  evaluator=EvaluationPlugin(loggers=[]))
        for exp in bm.train_stream:
            strategy.train(exp)
        x, y = _tensors(_concat(bm.test_stream))
        accs = {k: round(float((p == y).float().mean()), 3)
                for k, p in readouts(model, rec, x).items()}
        print(cell.strategy, cell.seed, accs, flush=True)


def _concat(stream):
    datasets = [e.dataset for e in stream]
    return torch.utils.data.ConcatDataset(datasets)


if __name__ == "__main__":
    main()
