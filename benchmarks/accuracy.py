"""Every estimator against Gaussian ground truth: true MI, held-out estimate, error, seconds.

    python -m benchmarks accuracy                 # full table (N=10,000 per task)
    python -m benchmarks accuracy --quick         # smoke run: tiny N and steps
    python -m benchmarks accuracy --json out.json --baseline docs/benchmarks/accuracy.json

Every named bound (``estimate_mi(x, y, estimator=name)``, a single 70/10/20 split), not the
cross-fitted default ``estimator="auto"`` (``python -m benchmarks auto`` measures that). SMILE,
the default before ``auto``, is checked against the foundation targets it was set for;
``--baseline`` flags tasks whose error grew by more than the tolerance relative to a stored run.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import miestim
from miestim.gaussian import CorrelatedGaussianTask

from ._report import add_run_arguments, finish, markdown_table, run_metadata

#: (dim, true MI) of the foundation benchmark, N samples each.
TASKS = ((1, 1.0), (5, 2.0), (20, 4.0), (20, 10.0))
#: The foundation targets, set for SMILE when it was estimate_mi's default: (dim, MI) -> (max |error| nats, max seconds or None)
TARGETS = {(5, 2.0): (0.04, 7.0), (20, 4.0): (0.08, 8.0), (20, 10.0): (0.5, None)}
TARGET_ESTIMATOR = "smile"


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
    """Each estimator over the tasks through ``miestim.validate``, the code a user runs."""
    tasks = [CorrelatedGaussianTask(dim, mi) for dim, mi in TASKS]
    options = {"device": device, **({"max_steps": max_steps} if max_steps is not None else {})}
    rows = []
    for name in estimators:
        report = miestim.validate(name, tasks, n=n, seeds=[seed], progress=False, estimate_kwargs=options)
        for (dim, mi), r in zip(TASKS, report.rows, strict=True):
            rows.append(Row(name, dim, mi, r.estimate, r.stderr, r.error, r.seconds))
            status = "" if r.status == "ok" else f"  {r.status}: {r.message}"
            print(
                f"  {name:>12} d={dim:<3} MI={mi:<5} est={r.estimate:7.3f} ± {r.stderr:.3f}  {r.seconds:5.1f}s{status}", file=sys.stderr, flush=True
            )
    return rows


def markdown(rows: list[Row]) -> str:
    head = ["estimator", "d", "true MI", "estimate ± stderr", "error", "seconds"]
    return markdown_table(
        head, [[r.estimator, r.dim, f"{r.true_mi:.2f}", f"{r.estimate:.3f} ± {r.stderr:.3f}", f"{r.error:+.3f}", f"{r.seconds:.1f}"] for r in rows]
    )


def check_targets(rows: list[Row]) -> list[str]:
    report = []
    for r in rows:
        target = TARGETS.get((r.dim, r.true_mi))
        if r.estimator != TARGET_ESTIMATOR or target is None:
            continue
        max_err, max_s = target
        ok = abs(r.error) <= max_err and (max_s is None or r.seconds <= max_s)
        limit = f"|error| <= {max_err}" + (f", <= {max_s:g} s" if max_s else "")
        report.append(
            f"{'PASS' if ok else 'MISS'} {TARGET_ESTIMATOR} d={r.dim} MI={r.true_mi:g}: error {r.error:+.3f}, {r.seconds:.1f} s (target {limit})"
        )
    return report


def row_key(row: dict) -> tuple:
    return (row["estimator"], row["dim"], row["true_mi"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks accuracy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--estimators", nargs="+", default=sorted(miestim.ESTIMATORS), help="estimator names (default: all)")
    parser.add_argument("--n", type=int, default=10_000, help="samples per task (default 10,000)")
    add_run_arguments(parser, quick="smoke run: N=600, 60 steps, default estimator and one more", tolerance=0.1)
    args = parser.parse_args(argv)
    n, steps, estimators = args.n, None, args.estimators
    if args.quick:
        n, steps, estimators = 600, 60, [TARGET_ESTIMATOR, "infonce"]
    meta = run_metadata(
        "accuracy",
        list(argv if argv is not None else sys.argv[1:]),
        device=args.device,
        seed=args.seed,
        estimator={"function": "estimate_mi", "estimator": estimators, "split": "70/10/20"},
        n=n,
    )
    rows = run(estimators, n, args.seed, steps, args.device)
    targets = [] if args.quick else check_targets(rows)
    return finish(rows, markdown(rows), targets, meta, json_path=args.json, baseline_path=args.baseline, tolerance=args.tolerance, key=row_key)


if __name__ == "__main__":
    sys.exit(main())
