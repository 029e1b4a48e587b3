"""Seed-to-seed spread of ``estimate_mi`` and of variants of its settings on Gaussian ground truth.

    python -m benchmarks seeds                    # smile, 5 variants x 3 tasks x 5 seeds (N=10,000)
    python -m benchmarks seeds --estimator mine --variants default quadratic --seeds 3
    python -m benchmarks seeds --quick            # smoke run: tiny N and steps

The accuracy benchmark reads one seed per task, and at d = 20 one seed's error moves by
0.1-0.3 nats with the seed alone (split, initialisation, batch order). This one repeats
every task over several seeds, so that a change of defaults is judged on the mean error
and its spread, not on one draw. Variants:

- ``default``: ``estimate_mi`` as shipped (train / validation / test = 0.7 / 0.1 / 0.2);
- ``quadratic``: the separable critic with its affine branch on ``[x; x * x]``
  (``critic_kwargs={"quadratic": True}``, see :class:`miestim.SeparableCritic`);
- ``split-0.6``: the earlier default split 0.6 / 0.2 / 0.2;
- ``deep``: two hidden layers per embedding instead of one (``hidden=(256, 256)``);
- ``wide``: one hidden layer twice as wide (``hidden=(512,)``);
- ``narrow`` (``hidden=(128,)``) and ``small-embed`` (``embed_dim=16``): smaller critics, not
  run unless named (``--variants default narrow small-embed --seeds 1``).

Every variant draws the same permutation of the rows for its split and both splits put the
last 20% of it in the test split, so all variants of a seed are scored on the same test rows.
Each estimate is held out as always (``estimate_mi`` scores its test split only).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from typing import Any

import miestim
from miestim.gaussian import CorrelatedGaussianTask

from ._report import add_run_arguments, finish, markdown_table, run_metadata

#: (dim, true MI) of the foundation targets, N samples each.
TASKS = ((5, 2.0), (20, 4.0), (20, 10.0))
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "quadratic": {"critic_kwargs": {"quadratic": True}},
    "split-0.6": {"split": (0.6, 0.2, 0.2)},
    "deep": {"critic_kwargs": {"hidden": (256, 256)}},
    "wide": {"critic_kwargs": {"hidden": (512,)}},
    "narrow": {"critic_kwargs": {"hidden": (128,)}},
    "small-embed": {"critic_kwargs": {"embed_dim": 16}},
}
#: The variants a plain run compares.
DEFAULT_VARIANTS = ["default", "quadratic", "split-0.6", "deep", "wide"]


@dataclass
class Row:
    variant: str
    estimator: str
    dim: int
    true_mi: float
    seed: int
    estimate: float
    stderr: float
    error: float
    seconds: float


def run(estimator: str, variants: list[str], seeds: list[int], n: int, max_steps: int | None, device: str) -> list[Row]:
    rows = []
    for dim, mi in TASKS:
        for seed in seeds:
            # The same samples for every variant: differences come from the settings, not the data.
            x, y = CorrelatedGaussianTask(dim, mi).sample(n, seed=seed)
            for variant in variants:
                res = miestim.estimate_mi(
                    x, y, estimator=estimator, seed=seed, max_steps=max_steps, device=device, progress=False, **VARIANTS[variant]
                )
                rows.append(Row(variant, estimator, dim, mi, seed, res.value, res.stderr, res.value - mi, res.seconds))
                print(
                    f"  {variant:>16} d={dim:<3} MI={mi:<5} seed={seed} est={res.value:7.3f} ± {res.stderr:.3f}  {res.seconds:5.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
    return rows


def summary(rows: list[Row]) -> str:
    """Per variant and task: mean error, its spread over seeds, mean and max |error|, mean seconds."""
    head = ["variant", "estimator", "d", "true MI", "seeds", "mean error", "sd over seeds", "mean abs error", "max abs error", "mean seconds"]
    lines = []
    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        groups.setdefault((r.variant, r.estimator, r.dim, r.true_mi), []).append(r)
    for (variant, estimator, dim, mi), group in sorted(groups.items(), key=lambda kv: (kv[0][2], kv[0][3], list(VARIANTS).index(kv[0][0]))):
        errors = [r.error for r in group]
        sd = statistics.stdev(errors) if len(errors) > 1 else float("nan")
        mean_abs, max_abs = statistics.mean(map(abs, errors)), max(map(abs, errors))
        lines.append(
            [variant, estimator, dim, f"{mi:.2f}", len(group), f"{statistics.mean(errors):+.3f}", f"{sd:.3f}", f"{mean_abs:.3f}", f"{max_abs:.3f}"]
        )
        lines[-1].append(f"{statistics.mean(r.seconds for r in group):.1f}")
    return markdown_table(head, lines)


def row_key(row: dict) -> tuple:
    return (row["variant"], row["estimator"], row["dim"], row["true_mi"], row["seed"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks seeds", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--estimator", default="smile", choices=sorted(miestim.ESTIMATORS), help="estimator name (default: smile)")
    parser.add_argument(
        "--variants", nargs="+", default=DEFAULT_VARIANTS, choices=list(VARIANTS), help=f"settings to compare (default: {' '.join(DEFAULT_VARIANTS)})"
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. SEEDS-1 per task (default 5)")
    parser.add_argument("--n", type=int, default=10_000, help="samples per task (default 10,000)")
    add_run_arguments(parser, quick="smoke run: N=600, 60 steps, 2 seeds, default and quadratic", tolerance=0.1)
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    n, steps, variants, seeds = args.n, None, args.variants, list(range(args.seed, args.seed + args.seeds))
    if args.quick:
        n, steps, variants, seeds = 600, 60, ["default", "quadratic"], [args.seed, args.seed + 1]
    meta = run_metadata(
        "seeds",
        list(argv if argv is not None else sys.argv[1:]),
        device=args.device,
        seed=args.seed,
        n=n,
        seeds=len(seeds),
        estimator={"function": "estimate_mi", "estimator": args.estimator, "variants": variants},
    )
    rows = run(args.estimator, variants, seeds, n, steps, args.device)
    return finish(rows, summary(rows), [], meta, json_path=args.json, baseline_path=args.baseline, tolerance=args.tolerance, key=row_key)


if __name__ == "__main__":
    sys.exit(main())
