"""Command line: ``python -m examples.sentiment {train, make-data} ...``.

    python -m examples.sentiment train                                  # synthetic data, CPU, ~minutes
    python -m examples.sentiment train --data mosi_unaligned --data-dir DIR --preset mosi --text-model BERT_DIR --device auto
    python -m examples.sentiment train --data mmsa --data-dir MOSI --mmsa-file unaligned_50.pkl   # MMSA's processed pickles
    python -m examples.sentiment make-data --out DIR                    # MOSI-shaped MulT/MMIM files
    torchrun --nproc_per_node 2 -m examples.sentiment train --preset smoke   # 2 processes (gloo on CPU, nccl on CUDA)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from typing import Sequence

import torch.distributed

from miestim.distributed import get_rank

from .config import DATA_SOURCES, PRESETS, TEXT_MODES, TrainConfig
from .data import SyntheticConfig, make_synthetic, write_mosi_shaped, write_sdk
from .mi_terms import TERM_NAMES

__all__ = ["main"]

_HELP = {
    "data": f"dataset: {', '.join(DATA_SOURCES)}",
    "data_dir": "folder with the dataset files (unaligned: mosi_data_noalign.pkl + MOSI-label.csv or label.csv, "
    "mosei_senti_data_noalign.pkl + MOSEI-label.csv or label.csv; sdk: {mosi,mosei}_{train,valid,test}.pkl; "
    "mmsa: unaligned_50.pkl, aligned_50.pkl or unaligned_39.pkl, here or in DIR/Processed)",
    "mmsa_file": "--data mmsa: which pickle, a name in --data-dir (or its Processed/) or an absolute path (default: the only one there)",
    "max_len": "longest audio/visual/text sequence kept; longer ones are cropped with a warning (default: the files' length)",
    "nonfinite": "raise (default) or zero: set NaN/Inf feature values to 0 with a warning (MOSEI's audio has -inf)",
    "text_model": "local folder of a BERT-family model (default: the offline all-MiniLM-L6-v2 package)",
    "text_mode": f"{', '.join(TEXT_MODES)} (cached = frozen encoder, states computed once)",
    "weights": f"one weight for all or {len(TERM_NAMES)} for {', '.join(TERM_NAMES)}",
    "decay_epochs": "epochs after which the learning rate is multiplied by --decay-gamma",
    "stage1_passes": "estimator-only passes per epoch (stage 1)",
    "device": "cpu, cuda, cuda:N or auto",
}


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One --option per TrainConfig field, default None so that only explicit options override a preset."""
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = str(f.type)
        if f.name == "progress":
            parser.add_argument("--no-progress", dest="progress", action="store_const", const=False, help="no progress bars")
        elif kind.startswith("tuple"):
            item = int if "int" in kind else float
            parser.add_argument(flag, dest=f.name, type=item, nargs="+", help=_HELP.get(f.name))
        else:
            item = int if "int" in kind else float if "float" in kind else str
            parser.add_argument(flag, dest=f.name, type=item, help=_HELP.get(f.name, f"default {f.default!r}"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m examples.sentiment", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train MIMRL and report test metrics at the best validation epoch")
    train.add_argument("--preset", choices=sorted(PRESETS), default="synthetic", help="settings applied before the options")
    train.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    _add_config_options(train)
    make = sub.add_parser("make-data", help="write synthetic data as MOSI-shaped dataset files")
    make.add_argument("--out", required=True, help="output folder")
    make.add_argument("--format", choices=("mosi_unaligned", "mosi_sdk"), default="mosi_unaligned")
    make.add_argument("--seed", type=int, default=0)
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Preset values, then every option given on the command line."""
    options = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    return TrainConfig(**{**PRESETS[args.preset], **options})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "make-data":
        if args.format == "mosi_unaligned":
            paths = write_mosi_shaped(args.out, seed=args.seed)
        else:
            paths = write_sdk(make_synthetic(SyntheticConfig(), seed=args.seed), args.out, dataset="mosi")
        print("\n".join(str(p) for p in paths))
        return 0
    from .train import init_distributed, train  # imports transformers lazily: make-data does not need it

    config = config_from_args(args)
    joined = init_distributed(config.device)  # under torchrun: one process per rank
    rank = get_rank()
    try:
        report = train(config, resume=args.resume)
    finally:
        if joined:
            torch.distributed.destroy_process_group()
    if rank == 0:
        print(json.dumps({k: report[k] for k in ("selected_epoch", "valid", "test", "mi_terms_valid_nats", "seconds_per_epoch")},
                         indent=2, default=float))
        print(f"report: {report['config']['out']}/report.json")
    return 0
