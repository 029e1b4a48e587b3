"""Speed of the sentiment example on MOSI-shaped files, and the share of the MI machinery.

Writes synthetic data as MulT/MMIM files with CMU-MOSI's shapes and split sizes (audio
375×5, vision 500×20, 1284/229/686 utterances), trains the example on them through the
real-data loader with frozen, cached text features: with all 8 MI terms (published weights)
and the bank built from the previous stage-2 pass's features (the default), with all 8 terms
and the bank from a separate feature pass (``--banks pass``; the example's behaviour before),
and with no terms. It reports seconds per epoch and where they go. The MI share of a training
epoch is the MI machinery's seconds over the training seconds (evaluation is timed apart):

    (bank features + k-NN samplers + stage 1 + MI terms in stage 2) / training seconds,

where "MI terms in stage 2" is the stage-2 seconds with the terms minus those without them
(their forward and backward, and keeping the bank rows). The difference of the whole training
time, 1 − (seconds without terms) / (seconds with them), is printed beside it as a check. Both
compare runs made one after the other, so on a machine whose load changes between them they
measure the load; the share from one run's own timers, (bank + stage 1 + MI forward in
stage 2) / training seconds, does not, but leaves out the terms' backward pass.

Usage::

    python -m benchmarks sentiment-speed --json docs/benchmarks/sentiment_speed.json
    python -m benchmarks sentiment-speed --device cuda
    python -m benchmarks sentiment-speed --quick            # tiny files, pipeline only
    python -m benchmarks sentiment-speed --banks stage2     # without the separate-pass row
    python -m benchmarks sentiment-speed --scale 0.25       # MOSI's shapes, a quarter of its utterances (a busy machine)
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

from ._report import finish, markdown_table, run_metadata

TARGET_SHARE = 0.25


@dataclass
class SpeedRow:
    setting: str
    epochs: int
    seconds_epoch: float
    seconds_train: float
    seconds_bank: float  # bank features + k-NN samplers
    seconds_bank_features: float
    seconds_stage1: float
    seconds_stage2: float
    seconds_mi_forward: float
    seconds_eval: float
    error: float = 0.0  # the shared baseline comparison reads seconds_train through this field
    mi_share: float = 0.0  # MI machinery / training seconds (module docstring); 0 without terms
    mi_share_by_difference: float = 0.0
    mi_share_timed: float = 0.0  # (bank + stage 1 + MI forward in stage 2) / training seconds: one run's own timers


#: (setting, weights: "published" or none, bank source) of each row, by --banks choice.
SETTINGS = {"stage2": ("all 8 MI terms", "stage2"), "pass": ("all 8 MI terms, bank by a separate pass", "pass")}


MOSI_SIZES = (1284, 229, 686)


def _write_files(out: Path, *, quick: bool, scale: float = 1.0) -> None:
    if quick:
        small = SyntheticConfig(n_train=96, n_valid=32, n_test=32, audio_len=30, vision_len=40, min_len=5)
        write_unaligned(make_synthetic(small, seed=0), out, audio_len=30, vision_len=40)
    else:
        write_mosi_shaped(out, seed=0, sizes=tuple(max(1, round(scale * n)) for n in MOSI_SIZES))


def run(
    *,
    epochs: int,
    device: str,
    quick: bool,
    tmp: Path,
    text_mode: str = "cached",
    banks: tuple[str, ...] = ("stage2", "pass"),
    scale: float = 1.0,
) -> list[SpeedRow]:
    _write_files(tmp / "mosi", quick=quick, scale=scale)
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
    settings = [(*SETTINGS[bank], base.weights) for bank in banks] + [("no MI terms", "stage2", (0.0,))]
    for setting, bank, weights in settings:
        trainer = Trainer(base.with_options(weights=weights, out=str(tmp / f"run{len(rows)}")), bank=bank)
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
                mean("seconds_bank_features"),
                mean("seconds_stage1"),
                mean("seconds_stage2"),
                mean("seconds_mi_forward"),
                mean("seconds_epoch") - train_s,
                error=train_s,
            )
        )
    without = rows[-1]
    for r in rows[:-1]:
        machinery = r.seconds_bank + r.seconds_stage1 + max(r.seconds_stage2 - without.seconds_stage2, 0.0)
        r.mi_share, r.mi_share_by_difference = machinery / r.seconds_train, 1 - without.seconds_train / r.seconds_train
        r.mi_share_timed = (r.seconds_bank + r.seconds_stage1 + r.seconds_mi_forward) / r.seconds_train
    return rows


def table(rows: list[SpeedRow]) -> str:
    head = ["setting", "s / epoch", "training", "bank features", "+ samplers", "stage 1", "stage 2", "MI forward in stage 2", "evaluation"]
    lines = []
    for r in rows:
        measured = bool(r.seconds_stage1 or r.seconds_bank)
        share = [f"{100 * r.mi_share:.1f}%", f"{100 * r.mi_share_by_difference:.1f}%"] if measured else ["–", "–"]
        lines.append(
            [
                r.setting,
                f"{r.seconds_epoch:.1f}",
                f"{r.seconds_train:.1f}",
                f"{r.seconds_bank_features:.2f}",
                f"{r.seconds_bank - r.seconds_bank_features:.2f}",
            ]
            + [f"{r.seconds_stage1:.2f}", f"{r.seconds_stage2:.1f}", f"{r.seconds_mi_forward:.2f}", f"{r.seconds_eval:.1f}", *share]
        )
    return markdown_table([*head, "MI share", "by difference"], lines)


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
    parser.add_argument(
        "--banks",
        nargs="+",
        choices=tuple(SETTINGS),
        default=list(SETTINGS),
        help="bank sources of the rows with MI terms: stage2 (the default trainer), pass (a separate feature pass)",
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of MOSI's 1284/229/686 utterances to write, at MOSI's shapes (default 1: all)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny files and model: checks the pipeline only")
    parser.add_argument("--json", help="write the rows and run metadata to this file")
    parser.add_argument("--baseline", help="stored JSON to compare training seconds per epoch against")
    parser.add_argument("--tolerance", type=float, default=5.0, help="allowed growth of training seconds per epoch (default 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(
            epochs=args.epochs,
            device=args.device,
            quick=args.quick,
            tmp=Path(tmp),
            text_mode=args.text_mode,
            banks=tuple(dict.fromkeys(args.banks)),
            scale=args.scale,
        )
    verdict = [
        f"MI share of a training epoch, {r.setting}: {100 * r.mi_share:.1f}% (by difference {100 * r.mi_share_by_difference:.1f}%, "
        f"from this run's timers {100 * r.mi_share_timed:.1f}%; target <= {100 * TARGET_SHARE:.0f}%): "
        f"{'PASS' if r.mi_share <= TARGET_SHARE else 'MISS'}"
        for r in rows[:-1]
    ]
    meta = run_metadata(
        "sentiment-speed",
        list(argv or []),
        device=args.device,
        seed=0,
        quick=args.quick,
        text_mode=args.text_mode,
        estimator="the sentiment example's MI and CMI terms (its default estimators) inside a training epoch",
        data="tiny MulT/MMIM files" if args.quick else f"MOSI-shaped synthetic MulT/MMIM files, scale {args.scale:g}",
    )
    return finish(
        rows, table(rows), verdict, meta, json_path=args.json, baseline_path=args.baseline, tolerance=args.tolerance, key=lambda r: (r["setting"],)
    )
