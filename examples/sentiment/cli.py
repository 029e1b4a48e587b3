"""Command line: ``python -m examples.sentiment {train, make-data} ...``.

python -m examples.sentiment train                                  # synthetic data, CPU, ~minutes
python -m examples.sentiment train --data mosi_unaligned --data-dir DIR --preset mosi --text-model BERT_DIR --device auto
                                                                    # the authors' configuration; BERT_DIR: local bert-base-uncased
python -m examples.sentiment train --data mmsa --data-dir MOSI --mmsa-file unaligned_50.pkl   # MMSA's processed pickles
python -m examples.sentiment make-data --out DIR                    # MOSI-shaped MulT/MMIM files
torchrun --nproc_per_node 2 -m examples.sentiment train --preset smoke   # 2 processes (gloo on CPU, nccl on CUDA)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import fields

import torch.distributed

from miestim.distributed import get_rank

from .config import CLIP_MODES, DATA_SOURCES, MI_LR_SCHEDULES, PRESETS, TEXT_MODES, TrainConfig, preset_config
from .data import SyntheticConfig, make_synthetic, write_mosi_shaped, write_sdk
from .mi_terms import TERM_NAMES
from .model import FUSIONS, RNN_STYLES, TEXT_PROJECTIONS

__all__ = ["DEFAULT_THREADS", "THREADS_ENV", "main", "process_threads"]

#: Torch threads of each process unless --num-threads or $MIESTIM_NUM_THREADS says otherwise: one, as miestim's own
#: command lines use (measured fastest for this example's epoch on a shared machine: docs/benchmarks/threads.md).
DEFAULT_THREADS = 1
#: The environment variable miestim's command lines read too, so one setting covers both.
THREADS_ENV = "MIESTIM_NUM_THREADS"

_HELP = {
    "data": f"dataset: {', '.join(DATA_SOURCES)}",
    "data_dir": "folder with the dataset files (unaligned: mosi_data_noalign.pkl + MOSI-label.csv or label.csv, "
    "mosei_senti_data_noalign.pkl + MOSEI-label.csv or label.csv; sdk: {mosi,mosei}_{train,valid,test}.pkl; "
    "mmsa: unaligned_50.pkl, aligned_50.pkl or unaligned_39.pkl, here or in DIR/Processed)",
    "mmsa_file": "--data mmsa: which pickle, a name in --data-dir (or its Processed/) or an absolute path (default: the only one there)",
    "max_len": "longest audio/visual/text sequence kept; longer ones are cropped with a warning (default: the files' length)",
    "nonfinite": "raise (default) or zero: set NaN/Inf feature values to 0 with a warning (MOSEI's audio has -inf)",
    "text_model": "local folder of a BERT-family model (default: the offline all-MiniLM-L6-v2 package; "
    "the mosi/mosei presets need a bert-base-uncased folder)",
    "text_mode": f"{', '.join(TEXT_MODES)} (cached = frozen encoder, states computed once)",
    "text_projection": f"{' or '.join(TEXT_PROJECTIONS)} (linear: the authors' Linear without bias, LayerNorm or ReLU)",
    "rnn_style": f"{' or '.join(RNN_STYLES)} (published: d units per direction, summed, orthogonal recurrent init)",
    "fusion": f"{' or '.join(FUSIONS)} (published: time reduction, projected residuals, LayerNorm along each mixed axis)",
    "fusion_shapes": "output L M D of each CubeMLP block, e.g. 50 3 128 10 3 128 (default: --fusion-blocks shape-keeping blocks)",
    "fusion_activation": "gelu or relu, inside the CubeMLP",
    "fusion_dropout": "dropout inside the CubeMLP (default: --dropout)",
    "mi_lr": "learning rate of the estimators (default 1e-3; the mosi/mosei presets: --lr)",
    "mi_lr_schedule": f"{' or '.join(MI_LR_SCHEDULES)} (model: decayed with the model's learning rate)",
    "clip_mode": f"{' or '.join(CLIP_MODES)} (norm: the model's gradient norm in stage 2; value: every gradient value, both stages)",
    "critic_hidden": "hidden widths of the MI critics' MLPs",
    "cmine_hidden": "hidden widths of the CMI classifiers",
    "warmup_epochs": "first epochs on the task loss only: no stage 1, no MI terms",
    "weights": f"one weight for all or {len(TERM_NAMES)} for {', '.join(TERM_NAMES)}",
    "decay_epochs": "epochs after which the learning rate is multiplied by --decay-gamma",
    "stage1_passes": "estimator-only passes per epoch (stage 1)",
    "device": "cpu, cuda, cuda:N or auto",
    "num_threads": f"torch threads of each process (default: ${THREADS_ENV}, else {DEFAULT_THREADS}: measured fastest on a shared machine, "
    "docs/benchmarks/threads.md)",
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
    """Preset values, then every option given on the command line (see :func:`~examples.sentiment.config.preset_config`)."""
    options = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    return preset_config(args.preset, **options)


@contextlib.contextmanager
def process_threads(requested: int | None = None) -> Iterator[int]:
    """Run the body on ``requested`` torch threads, else ``$MIESTIM_NUM_THREADS``, else :data:`DEFAULT_THREADS`; restored on exit.

    The program sets its own thread count, as the guide's "Threads" section asks of a program
    using miestim (the library never changes it).

    Raises:
        ValueError: the environment variable is set but not a positive integer.
    """
    text = os.environ.get(THREADS_ENV, "").strip()
    if requested is None and text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{THREADS_ENV} must be a positive integer (torch threads per process); got {text!r}.")
        requested = int(text)
    threads = DEFAULT_THREADS if requested is None else requested
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)


def format_parameter_counts(model, mi) -> str:
    """The parameter counts of a :class:`~examples.sentiment.model.MIMRLModel` and its :class:`~examples.sentiment.mi_terms.MITerms`."""
    model_counts, mi_counts = model.parameter_counts(), mi.parameter_counts()
    model_total = model_counts.pop("total")
    rows = [*model_counts.items(), ("model", model_total), *mi_counts.items(), ("all", model_total + sum(mi_counts.values()))]
    width = max(len(name) for name, _ in rows)
    return "parameters:\n" + "\n".join(f"  {name:<{width}}  {count:>12,}" for name, count in rows)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "make-data":
        if args.format == "mosi_unaligned":
            paths = write_mosi_shaped(args.out, seed=args.seed)
        else:
            paths = write_sdk(make_synthetic(SyntheticConfig(), seed=args.seed), args.out, dataset="mosi")
        print("\n".join(str(p) for p in paths))
        return 0
    from .train import Trainer, init_distributed  # imports transformers lazily: make-data does not need it

    if not sys.stderr.isatty():  # a log, not a terminal: one line per phase, and no weight-loading bar either
        with contextlib.suppress(ImportError):
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()

    config = config_from_args(args)
    joined = init_distributed(config.device)  # under torchrun: one process per rank
    rank = get_rank()
    try:
        # The program's thread policy: one thread unless told otherwise; Trainer sets none.
        with process_threads(config.num_threads):
            trainer = Trainer(config)
            if rank == 0:
                print(format_parameter_counts(trainer.model, trainer.mi), flush=True)
            report = trainer.fit(resume=args.resume)
    finally:
        if joined:
            torch.distributed.destroy_process_group()
    if rank == 0:
        print(
            json.dumps(
                {k: report[k] for k in ("selected_epoch", "valid", "test", "mi_terms_valid_nats", "seconds_per_epoch")}, indent=2, default=float
            )
        )
        print(f"report: {report['config']['out']}/report.json")
    return 0
