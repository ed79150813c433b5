"""One SplitMNIST class-IL cell four ways: a plain PyTorch loop, our harness (Naive, and the
default neuromodulation preset) and Avalanche's own pipeline; start-up measured apart.

    python benchmarks/speed.py [--rounds 3] [--device cpu|cuda] [--data-root DIR] [--preset full]

The cell (issue 18): SplitMNIST, 5 experiences of 2 classes, class-incremental; a 2x256 ReLU MLP,
SGD (lr 0.01, momentum 0.9), one epoch per experience, mini-batch 128; after each experience the
whole test stream is evaluated (mini-batch 1024). Variants:

* ``plain``: a hand-written loop over the MNIST tensors (read from the IDX files with numpy);
* ``naive``: ``avalanche-neuromod train`` (in the child process: ``cli.main``) of the ``naive``
  strategy of ``benchmarks/splitmnist-class.yaml``;
* ``avalanche``: Avalanche 0.6's ``SplitMNIST`` + ``Naive`` + ``EvaluationPlugin`` (accuracy and
  forgetting), ``train(exp)`` then ``eval(test_stream)`` per experience;
* ``neuromod``: the same ``train`` with ``--preset`` (default ``full``) instead of Naive.

Each variant runs in a fresh process, interleaved in rotating order over ``--rounds`` rounds, on
one intra-op thread (``$AVALANCHE_NEUROMOD_THREADS`` unset). A child reports the CPU and wall time
of its start-up (interpreter and imports) and of its work; the parent reads the child's whole CPU
time and peak resident memory from ``os.wait4``. ``--help`` and a bad-input error
(a misspelt ``--strategy``) are timed the same way. Ratios are per round, to the plain loop, then
the median. Writes reports/speed/speed.json and speed.md (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T0_ENV = "SPEED_T0"  # the parent's clock when it started the child: start-up wall time
ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "benchmarks" / "splitmnist-class.yaml"
VARIANTS = ("plain", "naive", "avalanche", "neuromod")
HIDDEN, LAYERS, LR, MOMENTUM, MB, EVAL_MB, N_EXP = 256, 2, 0.01, 0.9, 128, 1024, 5


# ------------------------------------------------------------------------------ the children
def _marks(t0: float, start_cpu: float) -> dict:
    return {"startup_wall": time.time() - t0, "startup_cpu": time.process_time() - start_cpu}


def _sync(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _idx(path: Path, offset: int):
    import numpy as np

    return np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=offset)


def child_plain(root: str, device: str, seed: int = 0) -> dict:
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(1)
    mark = _marks(float(os.environ[T0_ENV]), 0.0)
    start, cpu = time.perf_counter(), time.process_time()
    raw = Path(root) / "MNIST" / "raw"
    data = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = torch.from_numpy(_idx(raw / f"{prefix}-images-idx3-ubyte", 16).copy())
        x = ((x.view(-1, 784).float() / 255.0 - 0.1307) / 0.3081).to(device)
        y = torch.from_numpy(_idx(raw / f"{prefix}-labels-idx1-ubyte", 8).astype(np.int64))
        data[split] = (x, y.to(device))
    order = np.random.RandomState(seed).permutation(10).tolist()  # SplitMNIST's class order
    experiences = [order[2 * i:2 * i + 2] for i in range(N_EXP)]

    def masks(split):
        y = data[split][1]
        return [(y == a) | (y == b) for a, b in experiences]

    train_masks, test_masks = masks("train"), masks("test")
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width = 784
    for _ in range(LAYERS):
        layers += [nn.Linear(width, HIDDEN), nn.ReLU()]
        width = HIDDEN
    model = nn.Sequential(*layers, nn.Linear(width, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    matrix = []
    for mask in train_masks:
        x, y = data["train"][0][mask], data["train"][1][mask]
        model.train()
        for idx in torch.randperm(len(y), device=device).split(MB):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
        model.eval()
        row = []
        with torch.no_grad():
            for tmask in test_masks:
                tx, ty = data["test"][0][tmask], data["test"][1][tmask]
                correct = sum((model(bx).argmax(1) == by).sum() for bx, by in
                              zip(tx.split(EVAL_MB), ty.split(EVAL_MB)))
                row.append(correct / len(ty))
        matrix.append(torch.stack(row))
    matrix = torch.stack(matrix).cpu()  # the only host copy
    _sync(device)
    return {**mark, "work_wall": time.perf_counter() - start,
            "work_cpu": time.process_time() - cpu,
            "final_accuracy": float(matrix[-1].mean()), "matrix": matrix.tolist()}


def child_train(root: str, device: str, strategy: str, suite: str) -> dict:
    t0 = float(os.environ[T0_ENV])
    from avalanche_neuromod.startup import defer_unused_imports

    defer_unused_imports()  # as cli.main does first
    import avalanche.training  # noqa: F401  (what `train` imports, counted as start-up)

    import avalanche_neuromod.checkpoint  # noqa: F401
    import avalanche_neuromod.evaluation  # noqa: F401
    import avalanche_neuromod.leaderboard.runner  # noqa: F401
    import avalanche_neuromod.strategies.neuromodulated  # noqa: F401
    from avalanche_neuromod.cli import main

    mark = _marks(t0, 0.0)
    start, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as out:
        rc = main(["train", suite, "--benchmark", "splitmnist-class", "--strategy", strategy,
                   "--device", device, "--data-root", root, "--out", out])
        record = json.loads((Path(out) / "record.json").read_text()) if rc == 0 else {}
    _sync(device)
    return {**mark, "work_wall": time.perf_counter() - start,
            "work_cpu": time.process_time() - cpu, "rc": rc,
            "final_accuracy": record.get("final_accuracy"),
            "matrix": record.get("accuracy_matrix")}


def child_avalanche(root: str, device: str, seed: int = 0) -> dict:
    t0 = float(os.environ[T0_ENV])
    import torch
    from avalanche.benchmarks.classic import SplitMNIST
    from avalanche.evaluation.metrics import accuracy_metrics, forgetting_metrics
    from avalanche.models import SimpleMLP
    from avalanche.training import Naive
    from avalanche.training.plugins import EvaluationPlugin

    torch.set_num_threads(1)
    mark = _marks(t0, 0.0)
    start, cpu = time.perf_counter(), time.process_time()
    bm = SplitMNIST(n_experiences=N_EXP, seed=seed, dataset_root=root)
    torch.manual_seed(seed)
    model = SimpleMLP(num_classes=10, hidden_size=HIDDEN, hidden_layers=LAYERS, drop_rate=0)
    strategy = Naive(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=LR,
                                                            momentum=MOMENTUM),
                     criterion=torch.nn.CrossEntropyLoss(), train_mb_size=MB, train_epochs=1,
                     eval_mb_size=EVAL_MB, device=device,
                     evaluator=EvaluationPlugin(accuracy_metrics(experience=True, stream=True),
                                                forgetting_metrics(experience=True, stream=True),
                                                loggers=[]))
    last = {}
    for experience in bm.train_stream:
        strategy.train(experience)
        last = strategy.eval(bm.test_stream)
    _sync(device)
    final = next(float(v) for k, v in last.items() if k.startswith("Top1_Acc_Stream"))
    return {**mark, "work_wall": time.perf_counter() - start,
            "work_cpu": time.process_time() - cpu, "final_accuracy": final}


def literature_budget(iterations: int, device: str) -> dict:
    """The PermutedMNIST cell of the literature budget (2x1000 MLP, 5000 iterations of 128 per
    context, 10 contexts): time ``iterations`` plain SGD steps on random data, extrapolate."""
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 1000), nn.ReLU(), nn.Linear(1000, 1000), nn.ReLU(),
                          nn.Linear(1000, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(iterations, 128, 784, device=device), torch.randint(0, 10, (iterations, 128),
                                                                           device=device)
    params = sum(p.numel() for p in model.parameters())
    for i in range(min(20, iterations)):  # warm-up
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x[i]), y[i]).backward()
        opt.step()
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(iterations):
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x[i]), y[i]).backward()
        opt.step()
    _sync(device)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    total = 5000 * 10
    flops = 6 * params * 128 * total  # forward 2, backward 4 per weight and sample
    return {"iterations": iterations, "device": device, "s_per_iteration": wall / iterations,
            "cpu_s_per_iteration": cpu / iterations, "cell_hours": wall / iterations * total / 3600,
            "tflop_per_cell": flops / 1e12,
            "gflops": 6 * params * 128 * iterations / wall / 1e9}


def child_cli(argv: list[str]) -> dict:
    from avalanche_neuromod.cli import main

    with open(os.devnull, "w") as sink:
        stdout, stderr, sys.stdout, sys.stderr = sys.stdout, sys.stderr, sink, sink
        try:
            rc = main(argv)
        except SystemExit as exit_:  # --help
            rc = exit_.code
        finally:
            sys.stdout, sys.stderr = stdout, stderr
    return {"rc": rc}


# ------------------------------------------------------------------------------ the parent
def run_child(args: list[str]) -> dict:
    """One child: its JSON line, plus its whole CPU time, wall time and peak RSS (wait4)."""
    env = {**os.environ, T0_ENV: repr(time.time()), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.pop("AVALANCHE_NEUROMOD_THREADS", None)
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:  # a file: a full pipe would block the child
        proc = subprocess.Popen([sys.executable, __file__, "--child", *args], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=err, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time and peak RSS
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"speed.py: child {args} failed:\n{err.read()[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result.update(wall=wall, cpu=usage.ru_utime + usage.ru_stime,
                  peak_mib=usage.ru_maxrss / 1024)  # ru_maxrss: KiB on Linux
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--data-root", default=os.environ.get("AVALANCHE_NEUROMOD_DATA"))
    parser.add_argument("--preset", default="full", help="the neuromodulation variant's preset")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", default=str(ROOT / "reports" / "speed"))
    parser.add_argument("--budget-iterations", type=int, default=0,
                        help="only time this many steps of the literature-budget PermutedMNIST "
                             "cell (2x1000 MLP) and extrapolate to 5000 x 10 contexts")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return _child(args.child)
    if args.budget_iterations:
        print(json.dumps(literature_budget(args.budget_iterations, args.device), indent=1))
        return None
    if not args.data_root:
        raise SystemExit("speed.py: --data-root (or $AVALANCHE_NEUROMOD_DATA): MNIST is needed")
    variants = [v for v in args.variants.split(",") if v]
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "speed.yaml"  # splitmnist-class with the neuromodulation preset too
        suite.write_text(SUITE.read_text().replace("strategies: [naive]",
                                                   f"strategies: [naive, {args.preset}]"))
        runs = _rounds(args, variants, str(suite))
    report = _summary(args, variants, runs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "speed" if args.device == "cpu" else f"speed-{args.device}"
    (out / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / f"{name}.md").write_text(_markdown(report))
    print(_markdown(report))


def _rounds(args, variants: list[str], suite: str) -> list[dict]:
    cli = {"help": ["cli", "--help"],
           "bad-input": ["cli", "train", suite, "--benchmark", "splitmnist-class",
                         "--strategy", "naiv"]}
    runs = []
    for r in range(args.rounds):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for name, argv in cli.items():
            runs.append({"round": r, "variant": name, **run_child(argv)})
        for variant in order:
            argv = [variant, args.data_root, args.device]
            if variant in ("naive", "neuromod"):
                argv = ["train", args.data_root, args.device,
                        "naive" if variant == "naive" else args.preset, suite]
            runs.append({"round": r, "variant": variant, **run_child(argv)})
            print(f"round {r}: {variant:9s} cpu {runs[-1]['cpu']:6.1f} s, wall "
                  f"{runs[-1]['wall']:6.1f} s", file=sys.stderr)
    return runs


def _child(argv: list[str]) -> None:
    kind, rest = argv[0], argv[1:]
    fn = {"plain": child_plain, "avalanche": child_avalanche, "train": child_train,
          "cli": lambda *a: child_cli(list(a))}[kind]
    print(json.dumps(fn(*rest)))


def _summary(args, variants: list[str], runs: list[dict]) -> dict:
    rows = {}
    names = ["help", "bad-input", *variants]
    for name in names:
        mine = [r for r in runs if r["variant"] == name]
        row = {k: statistics.median(r[k] for r in mine) for k in
               ("cpu", "wall", "peak_mib", "startup_cpu", "startup_wall", "work_cpu",
                "work_wall") if all(k in r for r in mine)}
        if "plain" in variants and name in variants:
            for key in ("cpu", "wall"):
                base = {r["round"]: r[key] for r in runs if r["variant"] == "plain"}
                per_round = [r[key] / base[r["round"]] for r in mine]
                row[f"{key}_ratios"] = [round(x, 3) for x in per_round]
                row[f"{key}_ratio"] = statistics.median(per_round)
        row["final_accuracy"] = mine[-1].get("final_accuracy")
        rows[name] = row
    import torch

    return {"cell": "SplitMNIST class-IL, 5 experiences, 2x256 MLP, SGD 0.01/0.9, 1 epoch, "
                    "mb 128, test stream after each experience (eval mb 1024)",
            "device": args.device, "rounds": args.rounds, "preset": args.preset,
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "cores": os.cpu_count(), "load_average_end": os.getloadavg(),
                        "python": platform.python_version(), "torch": torch.__version__,
                        "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None},
            "command": " ".join(["python", "benchmarks/speed.py", *sys.argv[1:]]),
            "variants": rows, "runs": runs}


def _markdown(report: dict) -> str:
    lines = [f"# Speed of one cell ({report['device']})", "",
             f"{report['cell']}; medians of {report['rounds']} interleaved rounds, each variant a "
             f"fresh process on one intra-op thread. Machine: {report['machine']['platform']}, "
             f"{report['machine']['cores']} cores, shared with other jobs (load average at the "
             f"end {', '.join(f'{x:.1f}' for x in report['machine']['load_average_end'])}): "
             "read the ratios, not the seconds.", "",
             f"`{report['command']}`", "",
             "| variant | CPU s (all) | ratio CPU | wall s | ratio wall | start-up CPU s | "
             "work CPU s | peak MiB | final acc |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def cell(row, key, fmt="{:.2f}"):
        return fmt.format(row[key]) if row.get(key) is not None else "-"

    for name, row in report["variants"].items():
        lines.append(f"| {name} | {cell(row, 'cpu')} | {cell(row, 'cpu_ratio', '{:.2f}x')} | "
                     f"{cell(row, 'wall')} | {cell(row, 'wall_ratio', '{:.2f}x')} | "
                     f"{cell(row, 'startup_cpu')} | {cell(row, 'work_cpu')} | "
                     f"{cell(row, 'peak_mib', '{:.0f}')} | "
                     f"{cell(row, 'final_accuracy', '{:.4f}')} |")
    ratios = [f"{n} {row['cpu_ratios']}" for n, row in report["variants"].items()
              if "cpu_ratios" in row]
    lines += ["", "Per-round ratios to the plain loop (CPU): " + "; ".join(ratios),
        "", "CPU s (all) is the child's user + system time from `os.wait4` (start-up included); "
        "start-up is the interpreter and the imports before the cell starts; `help` is "
        "`avalanche-neuromod --help`, `bad-input` a `train` with a misspelt `--strategy`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
