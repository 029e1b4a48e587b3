"""The GPU check in one command: the example at the published shapes, ``estimate_mi`` at scale, the CUDA tests.

On a CUDA machine, from the repository root::

    python -m benchmarks gpu --json docs/benchmarks/gpu-cuda.json > docs/benchmarks/gpu-cuda.md
    python -m benchmarks gpu --tiny --device cpu     # every part at toy size: what the test suite runs (seconds)

It writes one JSON record whose ``meta.card`` names the device (``torch.cuda.get_device_name``). The parts:

(a) **The example** under ``--preset mosi`` (the authors' configuration: bert-base-uncased fine-tuned,
    published GRUs, CubeMLP and critics, batch 128) on MOSI-shaped synthetic files, as
    ``python -m examples.sentiment make-data`` writes them (audio 375×5, vision 500×20), with
    ``--batches`` training batches per epoch and MOSI's 229 / 686 validation and test rows. The
    text encoder is a randomly initialised BERT-base built from its configuration (transformers'
    ``BertConfig()`` defaults are bert-base-uncased's shapes) with a character-level WordPiece
    vocabulary: nothing is downloaded, and the speed and memory are BERT-base's. Two epochs per
    run, the first the preset's warm-up epoch (task loss only, also warming the allocator); the
    second, with all eight MI terms, is timed: seconds per epoch, peak GPU memory and the MI
    machinery's share of the training seconds (goal ≤ 25%), from a second run without MI terms,

        share = (bank + stage 1 + max(stage 2 − stage 2 without terms, 0)) / training seconds,

    as ``python -m benchmarks sentiment-speed`` defines it, and from the run's own timers
    ((bank + stage 1 + MI forward in stage 2) / training seconds, which leaves out the terms' backward).
(b) **``estimate_mi(x, y)``**, the default, on a correlated Gaussian (16 + 16 dimensions, 4 nats)
    at ``--sizes`` rows (default 100,000 and 1,000,000): seconds, peak GPU memory and the estimate.
(c) **The suite's CUDA tests**: ``pytest -k cuda`` over ``--tests`` (default ``tests``), in a child
    process; its exit status and summary line (on a machine without CUDA they are skipped).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ._report import markdown_table, run_metadata, write_record

TARGET_SHARE = 0.25
#: MOSI's validation and test sizes: the timed epoch evaluates as many rows as a MOSI epoch does.
MOSI_EVAL_ROWS = (229, 686)
#: --tiny: the published configuration's structure (CubeMLP shapes, critics, fine-tuned text) at toy widths.
TINY_OPTIONS: dict[str, Any] = dict(
    d=16,
    batch_size=16,
    fusion_len=8,
    fusion_shapes=(4, 3, 16, 2, 3, 16),
    critic_hidden=(16,),
    critic_embed=8,
    cmine_hidden=(16,),
    text_max_length=16,
    k=2,
)
TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)


def write_random_bert(out: Path, *, tiny: bool, seed: int = 0) -> Path:
    """A local BERT folder (config, weights, vocab.txt) with random weights: BERT-base's shapes unless ``tiny``.

    The vocabulary holds single characters and their ``##`` continuations, so every lowercase
    sentence tokenizes (into characters; the preset keeps 100 tokens, as it would of words).
    """
    from transformers import BertConfig, BertModel

    config = BertConfig(**TINY_BERT) if tiny else BertConfig()  # BertConfig's defaults are bert-base-uncased's shapes
    with torch.random.fork_rng(devices=[]):  # the weights are seeded without touching the caller's RNG
        torch.manual_seed(seed)
        model = BertModel(config)
    model.save_pretrained(out)
    characters = string.ascii_lowercase + string.digits + string.punctuation
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *characters, *(f"##{c}" for c in characters)]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return out


def _peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def _write_files(out: Path, *, batches: int, batch_size: int, tiny: bool) -> None:
    from examples.sentiment.data import SyntheticConfig, make_synthetic, write_mosi_shaped, write_unaligned

    if tiny:
        small = SyntheticConfig(n_train=batches * batch_size, n_valid=batch_size, n_test=batch_size, audio_len=30, vision_len=40, min_len=5)
        write_unaligned(make_synthetic(small, seed=0), out, audio_len=30, vision_len=40)
    else:
        write_mosi_shaped(out, seed=0, sizes=(batches * batch_size, *MOSI_EVAL_ROWS))


def example_rows(tmp: Path, *, device: torch.device, batches: int, tiny: bool) -> list[dict[str, Any]]:
    """Part (a): the timed epoch with all MI terms and without any, and the MI share (module docstring)."""
    from examples.sentiment.config import PRESETS, preset_config
    from examples.sentiment.train import Trainer

    options = dict(TINY_OPTIONS) if tiny else {}
    _write_files(tmp / "mosi", batches=batches, batch_size=options.get("batch_size", PRESETS["mosi"]["batch_size"]), tiny=tiny)
    bert = write_random_bert(tmp / "bert", tiny=tiny)
    rows = []
    for setting, weights in (("all 8 MI terms", None), ("no MI terms", (0.0,))):
        run_options = {**options, **({"weights": weights} if weights else {})}
        config = preset_config(
            "mosi", data="mosi_unaligned", data_dir=str(tmp / "mosi"), text_model=str(bert), epochs=2, progress=False,
            device=str(device), out=str(tmp / f"run-{len(rows)}"), **run_options,
        )  # fmt: skip
        trainer = Trainer(config)
        _reset_peak(device)
        trainer.fit()
        epoch = trainer.history[-1]  # the second epoch: past the warm-up epoch, with the MI terms on
        keys = ("seconds_epoch", "seconds_train", "seconds_bank", "seconds_stage1", "seconds_stage2", "seconds_mi_forward")
        rows.append({"part": "example", "setting": setting, **{k: float(epoch.get(k, 0.0)) for k in keys}, "peak_gib": _peak_gib(device)})
    with_terms, without = rows
    machinery = with_terms["seconds_bank"] + with_terms["seconds_stage1"] + max(with_terms["seconds_stage2"] - without["seconds_stage2"], 0.0)
    with_terms["mi_share"] = machinery / with_terms["seconds_train"]
    timed = with_terms["seconds_bank"] + with_terms["seconds_stage1"] + with_terms["seconds_mi_forward"]
    with_terms["mi_share_timed"] = timed / with_terms["seconds_train"]
    return rows


def estimate_rows(*, device: torch.device, sizes: list[int], dim: int, mi: float) -> list[dict[str, Any]]:
    """Part (b): ``estimate_mi(x, y)`` with its defaults at each size: seconds, peak memory, the estimate."""
    import miestim
    from miestim.gaussian import CorrelatedGaussianTask

    rows = []
    for n in sizes:
        x, y = CorrelatedGaussianTask(dim, mi).sample(n, seed=0)
        _reset_peak(device)
        start = time.perf_counter()
        result = miestim.estimate_mi(x, y, device=device, seed=0, progress=False)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        rows.append(
            {"part": "estimate_mi", "n": n, "dim": dim, "truth": mi, "estimate": result.value, "stderr": result.stderr,
             "method": result.method, "seconds": seconds, "peak_gib": _peak_gib(device)}
        )  # fmt: skip
    return rows


def cuda_tests(paths: list[str]) -> dict[str, Any]:
    """Part (c): ``pytest -k cuda`` over ``paths`` in a child process: its exit status and summary line."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-k", "cuda", *paths]
    # check=False: a failing CUDA test is a result to record beside the timings, not a reason to lose them.
    done = subprocess.run(command, check=False, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return {
        "part": "cuda tests",
        "command": "python " + " ".join(command[1:]),
        "returncode": done.returncode,
        "summary": lines[-1] if lines else done.stderr[-500:],
    }


def _gib(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "–"


def table(rows: list[dict[str, Any]]) -> str:
    example = [r for r in rows if r["part"] == "example"]
    lines = []
    for r in example:
        share = [f"{100 * r['mi_share']:.1f}%", f"{100 * r['mi_share_timed']:.1f}%"] if "mi_share" in r else ["–", "–"]
        seconds = [f"{r[k]:.2f}" for k in ("seconds_epoch", "seconds_train", "seconds_stage1", "seconds_stage2")]
        lines.append([r["setting"], *seconds, _gib(r["peak_gib"]), *share])
    head = ["example, --preset mosi", "s / epoch", "training s", "stage 1 s", "stage 2 s", "peak GiB", "MI share", "from its timers"]
    parts = [markdown_table(head, lines)]
    estimates = [
        [
            "",
            f"{r['n']:,} × {r['dim']}",
            f"{r['seconds']:.1f}",
            _gib(r["peak_gib"]),
            f"{r['estimate']:.3f} ± {r['stderr']:.3f} ({r['truth']})",
            r["method"],
        ]
        for r in rows
        if r["part"] == "estimate_mi"
    ]
    parts.append(markdown_table(["estimate_mi default", "N × dim", "seconds", "peak GiB", "estimate ± SE (truth)", "method"], estimates))
    parts += [f"CUDA tests (`{r['command']}`): exit status {r['returncode']}, {r['summary']}" for r in rows if r["part"] == "cuda tests"]
    return "\n\n".join(parts)


def _verdicts(rows: list[dict[str, Any]]) -> list[str]:
    return [
        f"MI share of a training epoch: {100 * r['mi_share']:.1f}% (target <= {100 * TARGET_SHARE:.0f}%): "
        f"{'PASS' if r['mi_share'] <= TARGET_SHARE else 'MISS'}"
        for r in rows
        if "mi_share" in r
    ]


def _card(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="default: cuda when present, else cpu")
    parser.add_argument("--batches", type=int, help="training batches per epoch of the example (default 10, i.e. ~MOSI's 1284 rows; --tiny 2)")
    parser.add_argument("--sizes", type=int, nargs="+", help="rows of each estimate_mi call (default 100000 1000000; --tiny 1000)")
    parser.add_argument("--dim", type=int, help="dimensions of X and of Y (default 16; --tiny 4)")
    parser.add_argument("--tests", nargs="+", default=["tests"], help="where pytest -k cuda looks (default: tests)")
    parser.add_argument("--parts", nargs="+", choices=("example", "estimate", "tests"), default=["example", "estimate", "tests"])
    parser.add_argument("--tiny", action="store_true", help="toy sizes of every part: checks the pipeline (the test suite runs it on CPU)")
    parser.add_argument("--json", help="write the rows and run metadata to this file")
    args = parser.parse_args(argv)
    if "example" in args.parts and importlib.util.find_spec("transformers") is None:  # fail before any device time is spent
        parser.error("the example part builds BERT with transformers, not installed here: install the example extra, or pass --parts estimate tests.")
    if "example" in args.parts and not sys.stderr.isatty():  # a log: no weight-writing and -loading bars from transformers
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch sees no CUDA device here; pass --device cpu (with --tiny) to check the pipeline.")
    given = [v for v in (args.batches, args.dim) if v is not None]
    if min(given, default=1) < 1 or min(args.sizes or [2]) < 2:
        parser.error("--batches and --dim must be >= 1 and every --sizes value >= 2.")
    batches = args.batches or (2 if args.tiny else 10)
    sizes, dim = args.sizes or ([1000] if args.tiny else [100_000, 1_000_000]), args.dim or (4 if args.tiny else 16)
    started = time.perf_counter()
    parts: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "example": lambda: example_rows(Path(tmp), device=device, batches=batches, tiny=args.tiny),
        "estimate": lambda: estimate_rows(device=device, sizes=sizes, dim=dim, mi=4.0),
        "tests": lambda: [cuda_tests(args.tests)],
    }
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        for name in args.parts:
            rows += parts[name]()
    argv = list(sys.argv[1:] if argv is None else argv)
    estimator = "the example under --preset mosi, and estimate_mi's default at the sizes of its rows"
    meta = run_metadata("gpu", argv, device=str(device), seed=0, estimator=estimator, card=_card(device), tiny=args.tiny, batches=batches)
    meta["minutes"] = round((time.perf_counter() - started) / 60, 2)
    print(f"`{meta['command']}` · {meta['card']} · torch {meta['torch']} · {meta['minutes']} min · {meta['date']}\n\n{table(rows)}\n")
    print("\n".join(_verdicts(rows)))
    if args.json:
        write_record(args.json, meta, rows)
    return 0
