"""Do the MI terms help? Ablation of the sentiment example on the synthetic dataset.

Six settings of the 8 term weights — all terms (0.01 each, the published default), none, and
all but one group (fusion / invariant / specific / complementary) — each trained with the
example's default configuration for several seeds on the *same* synthetic data (generator
defaults, data seed 0; the generator is not tuned for this benchmark). Reported: test
metrics at the epoch with the best validation MAE, mean ± std over seeds.

Usage::

    python -m benchmarks sentiment-ablation --json docs/benchmarks/sentiment_ablation.json
    python -m benchmarks sentiment-ablation --quick        # tiny smoke run (pipeline only)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from examples.sentiment.config import TrainConfig
from examples.sentiment.mi_terms import GROUPS, TERM_NAMES
from examples.sentiment.train import train

from ._report import finish, markdown_table, run_metadata


def ablation_weights(weight: float) -> dict[str, tuple[float, ...]]:
    """Setting name -> 8 weights in TERM_NAMES order."""
    settings = {"all terms": (weight,) * len(TERM_NAMES), "no MI terms": (0.0,) * len(TERM_NAMES)}
    for group, members in GROUPS.items():
        settings[f"without {group}"] = tuple(0.0 if name in members else weight for name in TERM_NAMES)
    return settings


@dataclass
class AblationRow:
    setting: str
    seeds: int
    test_mae: float
    test_mae_std: float
    test_corr: float
    test_acc2_non0: float
    test_acc7: float
    valid_mae: float
    selected_epoch: float
    seconds_per_run: float
    test_mae_per_seed: list[float]
    error: float = 0.0  # no ground truth here; kept for the shared baseline comparison (test MAE vs stored)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def run(*, seeds: list[int], weight: float, quick: bool, device: str, out: Path) -> list[AblationRow]:
    base = TrainConfig(progress=False, device=device, cache_dir=str(out / "text_cache"))
    if quick:
        base = base.with_options(epochs=1, d=16, fusion_len=8, fusion_blocks=1, batch_size=32, synthetic_size=(96, 32, 32))
    rows = []
    for setting, weights in ablation_weights(weight).items():
        reports, seconds = [], []
        for seed in seeds:
            start = time.perf_counter()
            reports.append(train(base.with_options(weights=weights, seed=seed, out=str(out / f"{setting}-{seed}".replace(" ", "_")))))
            seconds.append(time.perf_counter() - start)
        maes = [r["test"]["mae"] for r in reports]
        mae, std = _mean_std(maes)
        rows.append(
            AblationRow(
                setting,
                len(seeds),
                mae,
                std,
                statistics.fmean(r["test"]["corr"] for r in reports),
                statistics.fmean(r["test"]["acc2_non0"] for r in reports),
                statistics.fmean(r["test"]["acc7"] for r in reports),
                statistics.fmean(r["valid"]["mae"] for r in reports),
                statistics.fmean(r["selected_epoch"] for r in reports),
                statistics.fmean(seconds),
                maes,
                error=mae,
            )
        )
    return rows


def table(rows: list[AblationRow]) -> str:
    head = ["setting", "test MAE (mean ± std)", "test Corr", "Acc-2 non0", "Acc-7", "valid MAE", "epoch", "s / run"]
    lines = [
        [r.setting, f"{r.test_mae:.4f} ± {r.test_mae_std:.4f}", f"{r.test_corr:.3f}", f"{100 * r.test_acc2_non0:.1f}", f"{100 * r.test_acc7:.1f}"]
        + [f"{r.valid_mae:.4f}", f"{r.selected_epoch:.1f}", f"{r.seconds_per_run:.0f}"]
        for r in rows
    ]
    return markdown_table(head, lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks sentiment-ablation", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--weight", type=float, default=0.01, help="weight of every active term (default 0.01, published)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="1 epoch on tiny data: checks the pipeline only")
    parser.add_argument("--out", help="folder for the runs (default: a temporary folder)")
    parser.add_argument("--json", help="write the rows and run metadata to this file")
    parser.add_argument("--baseline", help="stored JSON to compare test MAE against")
    parser.add_argument("--tolerance", type=float, default=0.05, help="allowed growth of test MAE vs baseline (default 0.05)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        rows = run(seeds=args.seeds, weight=args.weight, quick=args.quick, device=args.device, out=out)
    meta = run_metadata(
        "sentiment-ablation",
        list(argv or []),
        device=args.device,
        seed=args.seeds[0],
        seeds=args.seeds,
        data="synthetic defaults, data seed 0",
        quick=args.quick,
        estimator="the sentiment example's MI and CMI terms as training losses, all terms against none",
    )
    all_terms, none = rows[0], rows[1]
    diff = none.test_mae - all_terms.test_mae
    pooled = (all_terms.test_mae_std**2 / all_terms.seeds + none.test_mae_std**2 / none.seeds) ** 0.5
    verdict = [
        (
            f"MI terms vs none: test MAE {all_terms.test_mae:.4f} vs {none.test_mae:.4f} "
            f"(difference {diff:+.4f}, standard error of the difference {pooled:.4f}; positive = the terms help)"
        )
    ]
    return finish(
        rows, table(rows), verdict, meta, json_path=args.json, baseline_path=args.baseline, tolerance=args.tolerance, key=lambda r: (r["setting"],)
    )
