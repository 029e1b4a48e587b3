"""Speed of the sentiment example on MOSI-shaped files, and the share of the MI machinery.

Writes synthetic data as MulT/MMIM files with CMU-MOSI's shapes and split sizes (audio
375×5, vision 500×20, 1284/229/686 utterances), trains the example on them through the
real-data loader with frozen, cached text features, once with all 8 MI terms (published
weights) and once with none, and reports seconds per epoch and where they go. The MI share
of a training step is

    1 − (training seconds per epoch without MI terms) / (training seconds per epoch with them),

i.e. everything the terms add: the feature bank and its k-NN samplers, the stage-1 estimator
passes, and the estimators' forward and backward in stage 2. Evaluation is timed apart.

Usage::

    python -m benchmarks sentiment-speed --json docs/benchmarks/sentiment_speed.json
    python -m benchmarks sentiment-speed --device cuda
    python -m benchmarks sentiment-speed --quick            # tiny files, pipeline only
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from examples.sentiment.config import TrainConfig
from examples.sentiment.data import SyntheticConfig, make_synthetic, write_mosi_shaped, write_unaligned
from examples.sentiment.train import Trainer

from ._report import finish, run_metadata

TARGET_SHARE = 0.25


@dataclass
class SpeedRow:
    setting: str
    epochs: int
    seconds_epoch: float
    seconds_train: float
    seconds_bank: float
    seconds_stage1: float
    seconds_stage2: float
    seconds_mi_forward: float
    seconds_eval: float
    error: float = 0.0  # the shared baseline comparison reads seconds_train through this field


def _write_files(out: Path, *, quick: bool) -> None:
    if quick:
        small = SyntheticConfig(n_train=96, n_valid=32, n_test=32, audio_len=30, vision_len=40, min_len=5)
        write_unaligned(make_synthetic(small, seed=0), out, audio_len=30, vision_len=40)
    else:
        write_mosi_shaped(out, seed=0)


def run(*, epochs: int, device: str, quick: bool, tmp: Path, text_mode: str = "cached") -> list[SpeedRow]:
    _write_files(tmp / "mosi", quick=quick)
    base = TrainConfig(
        data="mosi_unaligned",
        data_dir=str(tmp / "mosi"),
        epochs=epochs,
        progress=False,
        device=device,
        cache_dir=str(tmp / "text_cache"),
        text_mode=text_mode,
    )
    if quick:
        base = base.with_options(d=16, fusion_len=8, fusion_blocks=1, batch_size=32)
    rows = []
    for setting, weights in (("all 8 MI terms", base.weights), ("no MI terms", (0.0,))):
        trainer = Trainer(base.with_options(weights=weights, out=str(tmp / setting.replace(" ", "_"))))
        trainer.fit()
        # The first epoch warms up allocators and caches; time the rest when there is more than one.
        history = trainer.history[1:] or trainer.history

        def mean(key: str, history: list[dict[str, Any]] = history) -> float:  # the default binds this setting's rows (B023)
            return statistics.fmean(row.get(key, 0.0) for row in history)

        train_s = mean("seconds_train")
        rows.append(
            SpeedRow(
                setting,
                len(history),
                mean("seconds_epoch"),
                train_s,
                mean("seconds_bank"),
                mean("seconds_stage1"),
                mean("seconds_stage2"),
                mean("seconds_mi_forward"),
                mean("seconds_epoch") - train_s,
                error=train_s,
            )
        )
    return rows


def table(rows: list[SpeedRow]) -> str:
    lines = [
        "| setting | s / epoch | training | bank + samplers | stage 1 | stage 2 | MI forward in stage 2 | evaluation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.setting} | {r.seconds_epoch:.1f} | {r.seconds_train:.1f} | {r.seconds_bank:.2f} | {r.seconds_stage1:.2f} | "
            f"{r.seconds_stage2:.1f} | {r.seconds_mi_forward:.2f} | {r.seconds_eval:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks sentiment-speed", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per setting; the first is not timed when > 1 (default 3)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--text-mode",
        choices=("cached", "features"),
        default="cached",
        help="cached MiniLM states (default) or the files' GloVe-like word vectors (no transformers needed)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny files and model: checks the pipeline only")
    parser.add_argument("--json", help="write the rows and run metadata to this file")
    parser.add_argument("--baseline", help="stored JSON to compare training seconds per epoch against")
    parser.add_argument("--tolerance", type=float, default=5.0, help="allowed growth of training seconds per epoch (default 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(epochs=args.epochs, device=args.device, quick=args.quick, tmp=Path(tmp), text_mode=args.text_mode)
    with_mi, without = rows
    share = 1 - without.seconds_train / with_mi.seconds_train
    verdict = [
        (f"MI share of a training epoch: {100 * share:.1f}% (target <= {100 * TARGET_SHARE:.0f}%): {'PASS' if share <= TARGET_SHARE else 'MISS'}")
    ]
    meta = run_metadata(
        "sentiment-speed",
        list(argv or []),
        device=args.device,
        seed=0,
        quick=args.quick,
        text_mode=args.text_mode,
        data="MOSI-shaped synthetic MulT/MMIM files" if not args.quick else "tiny MulT/MMIM files",
    )
    return finish(
        rows, table(rows), verdict, meta, json_path=args.json, baseline_path=args.baseline, tolerance=args.tolerance, key=lambda r: (r["setting"],)
    )
