"""Every estimator against Gaussian ground truth: true MI, held-out estimate, error, seconds.

    python -m benchmarks accuracy                 # full table (N=10,000 per task)
    python -m benchmarks accuracy --quick         # smoke run: tiny N and steps
    python -m benchmarks accuracy --json out.json --baseline docs/benchmarks/accuracy.json

The default estimator (``estimate_mi`` with default settings) is checked against the
foundation targets; ``--baseline`` flags tasks whose error grew by more than the
tolerance relative to a stored run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass

import torch

import miestim
from miestim.gaussian import CorrelatedGaussianTask

#: (dim, true MI) of the foundation benchmark, N samples each.
TASKS = ((1, 1.0), (5, 2.0), (20, 4.0), (20, 10.0))
#: default-estimator targets: (dim, MI) -> (max |error| nats, max seconds or None)
TARGETS = {(5, 2.0): (0.04, 7.0), (20, 4.0): (0.08, 8.0), (20, 10.0): (0.5, None)}
DEFAULT = "smile"


@dataclass
class Row:
    estimator: str
    dim: int
    true_mi: float
    estimate: float
    stderr: float
    error: float
    seconds: float


def run(estimators: list[str], n: int, seed: int, max_steps: int | None, device: str) -> list[Row]:
    rows = []
    for dim, mi in TASKS:
        x, y = CorrelatedGaussianTask(dim, mi).sample(n, seed=seed)
        for name in estimators:
            res = miestim.estimate_mi(x, y, estimator=name, seed=seed, max_steps=max_steps, device=device, progress=False)
            rows.append(Row(name, dim, mi, res.value, res.stderr, res.value - mi, res.seconds))
            print(f"  {name:>12} d={dim:<3} MI={mi:<5} est={res.value:7.3f} ± {res.stderr:.3f}  {res.seconds:5.1f}s", file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[Row]) -> str:
    lines = ["| estimator | d | true MI | estimate ± stderr | error | seconds |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.estimator} | {r.dim} | {r.true_mi:.2f} | {r.estimate:.3f} ± {r.stderr:.3f} | {r.error:+.3f} | {r.seconds:.1f} |")
    return "\n".join(lines)


def check_targets(rows: list[Row]) -> list[str]:
    report = []
    for r in rows:
        target = TARGETS.get((r.dim, r.true_mi))
        if r.estimator != DEFAULT or target is None:
            continue
        max_err, max_s = target
        ok = abs(r.error) <= max_err and (max_s is None or r.seconds <= max_s)
        limit = f"|error| <= {max_err}" + (f", <= {max_s:g} s" if max_s else "")
        report.append(f"{'PASS' if ok else 'MISS'} default ({DEFAULT}) d={r.dim} MI={r.true_mi:g}: error {r.error:+.3f}, {r.seconds:.1f} s (target {limit})")
    return report


def compare(rows: list[Row], baseline_path: str, tolerance: float) -> list[str]:
    with open(baseline_path) as fh:
        stored = {(r["estimator"], r["dim"], r["true_mi"]): r for r in json.load(fh)["rows"]}
    regressions = []
    for r in rows:
        old = stored.get((r.estimator, r.dim, r.true_mi))
        if old is not None and abs(r.error) > abs(old["error"]) + tolerance:
            regressions.append(f"{r.estimator} d={r.dim} MI={r.true_mi:g}: |error| {abs(r.error):.3f} vs stored {abs(old['error']):.3f}")
    return regressions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks accuracy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--estimators", nargs="+", default=sorted(miestim.ESTIMATORS), help="estimator names (default: all)")
    parser.add_argument("--n", type=int, default=10_000, help="samples per task (default 10,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="smoke run: N=600, 60 steps, default estimator and one more")
    parser.add_argument("--json", help="write the rows and run metadata to this file")
    parser.add_argument("--baseline", help="stored JSON to compare errors against")
    parser.add_argument("--tolerance", type=float, default=0.1, help="allowed growth of |error| vs baseline, nats")
    args = parser.parse_args(argv)
    n, steps, estimators = args.n, None, args.estimators
    if args.quick:
        n, steps, estimators = 600, 60, [DEFAULT, "infonce"]
    started = time.strftime("%Y-%m-%d %H:%M")
    rows = run(estimators, n, args.seed, steps, args.device)
    print(f"miestim {miestim.__version__} · torch {torch.__version__} · {platform.machine()} {torch.get_num_threads()} threads · "
          f"device {args.device} · N={n} · seed {args.seed} · {started}\n")
    print(markdown(rows))
    targets = [] if args.quick else check_targets(rows)
    if targets:
        print("\n" + "\n".join(targets))
    if args.json:
        meta = {"date": started, "torch": torch.__version__, "threads": torch.get_num_threads(), "n": n, "seed": args.seed,
                "device": args.device, "command": "python -m benchmarks accuracy " + " ".join(argv or sys.argv[1:])}
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "rows": [asdict(r) for r in rows], "targets": targets}, fh, indent=1)
    if args.baseline:
        regressions = compare(rows, args.baseline, args.tolerance)
        print("\nregressions vs baseline:\n" + ("\n".join(regressions) if regressions else "none"))
        return 1 if regressions else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
