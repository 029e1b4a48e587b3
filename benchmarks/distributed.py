"""Throughput of one process against several (``torchrun``, gloo on the CPU): samples per second.

Two workloads, each launched with ``python -m torch.distributed.run --nproc_per_node P``:

- **estimator**: training steps of an InfoNCE estimator (separable critic, 256 hidden units,
  64-dim embeddings) on 16-dim Gaussian pairs with a *global* batch of ``--batch`` rows: each
  rank embeds its share, the embeddings are gathered, every rank scores the global batch and
  DDP averages the gradients. Samples/s = global batch × steps / seconds.
- **k-NN table**: building a :class:`miestim.KNNSampler` table (k = 2) on a bank of
  ``N`` × 128 (N = 16,326, CMU-MOSEI's training split; the example builds three such tables
  per epoch), with ``distributed=True``: each rank searches the whole bank for its share of
  the rows. Samples/s = bank rows / seconds.
- **example**: one epoch of the sentiment example's training (bank, stage 1, stage 2) on
  synthetic MulT-style files with the files' word vectors as text (no text encoder), all 8 MI
  terms. Samples/s = training utterances / training seconds of the epoch (evaluation apart).

Settings compared: 1 process × 1 thread (the reference), 1 process × ``P`` threads (what one
process does with the same cores) and ``P`` processes × 1 thread. The timings exclude process
start-up. On a machine with few (or shared) cores, several processes are not expected to be
faster than one process with as many threads: the processes also pay for the collectives and
each computes the global score matrix and the MI terms in full.

Usage::

    python -m benchmarks distributed --json docs/benchmarks/distributed.json
    python -m benchmarks distributed --quick            # tiny sizes, checks the pipeline only
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import miestim
from examples.sentiment.config import TrainConfig
from examples.sentiment.data import SyntheticConfig, make_synthetic, write_unaligned
from examples.sentiment.train import Trainer
from miestim.distributed import is_distributed, rank_slice

from ._report import header, markdown_table, run_metadata

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class ThroughputRow:
    workload: str
    processes: int
    threads_per_process: int
    samples: int
    seconds: float
    samples_per_s: float
    speedup: float  # against 1 process x 1 thread on the same workload


# ---------------------------------------------------------------------------------------------- workers
def _estimator_worker(batch: int, steps: int) -> tuple[int, float]:
    x, y = (torch.as_tensor(v, dtype=torch.float32) for v in miestim.gaussian.CorrelatedGaussianTask(dim=16, mi=2.0).sample(batch * 8, seed=0))
    torch.manual_seed(0)
    module: torch.nn.Module = miestim.InfoNCE(16, 16, critic_kwargs={"hidden": (256,), "embed_dim": 64})
    if is_distributed():
        module = DistributedDataParallel(module)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)

    def step() -> None:
        rows = torch.randint(0, x.shape[0], (batch,), generator=generator)[rank_slice(batch)]
        loss = -module(x[rows], y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(3):  # warm-up
        step()
    if is_distributed():
        dist.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps, time.perf_counter() - start


def _knn_worker(n: int) -> tuple[int, float]:
    z = torch.randn(n, 128, generator=torch.Generator().manual_seed(0))
    if is_distributed():
        dist.barrier()
    start = time.perf_counter()
    miestim.KNNSampler(z, k=2, seed=0, discrete=False, distributed=True)
    return n, time.perf_counter() - start


def _example_worker(data_dir: str, out: str, quick: bool) -> tuple[int, float]:
    options = dict(d=16, fusion_len=8, fusion_blocks=1, batch_size=16) if quick else dict(d=64, fusion_len=16, fusion_blocks=1, batch_size=64)
    config = TrainConfig(
        data="mosi_unaligned", data_dir=data_dir, text_mode="features", epochs=1, stage1_passes=1, progress=False, out=out, **options
    )
    trainer = Trainer(config)
    row = trainer.run_epoch()
    return len(trainer.splits["train"]), row["seconds_train"]


def worker(argv: list[str]) -> int:
    """Entry point of one rank: ``--worker OUT_JSON BATCH STEPS BANK DATA_DIR RUN_DIR {quick,full}``; all workloads in one launch."""
    out, batch, steps, bank, data_dir, run_dir, size = argv
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    results = {
        "estimator": _estimator_worker(int(batch), int(steps)),
        "knn": _knn_worker(int(bank)),
        "example": _example_worker(data_dir, run_dir, size == "quick"),
    }
    if world > 1:
        # The slowest rank sets the pace.
        results = {name: (samples, _max_over_ranks(seconds)) for name, (samples, seconds) in results.items()}
        rank = dist.get_rank()
        # Every rank reaches this point before any tears gloo down: a rank that destroys the group while
        # another still has its last collective in flight aborts ("terminate called without an active exception").
        dist.barrier()
        dist.destroy_process_group()
        if rank != 0:
            return 0
    Path(out).write_text(json.dumps({name: {"samples": n, "seconds": s} for name, (n, s) in results.items()}))
    return 0


def _max_over_ranks(value: float) -> float:
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t)


# ---------------------------------------------------------------------------------------------- driver
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(processes: int, threads: int, args: list[str], tmp: Path) -> dict:
    result = tmp / f"result_{processes}_{threads}.json"
    env = {
        **os.environ,
        "BENCH_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
    }
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(processes),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        "benchmarks.distributed",
        "--worker",
        str(result),
        *args,
    ]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(result.read_text())


def run(*, processes: int, quick: bool, tmp: Path) -> list[ThroughputRow]:
    size = (
        SyntheticConfig(n_train=64, n_valid=16, n_test=16, audio_len=10, vision_len=10, min_len=3)
        if quick
        else SyntheticConfig(n_train=512, n_valid=128, n_test=128, audio_len=40, vision_len=40, min_len=5)
    )
    write_unaligned(make_synthetic(size, seed=0), tmp / "data", audio_len=size.audio_len, vision_len=size.vision_len)
    batch, bank = (64, 2000) if quick else (512, 16326)
    args = [str(batch), "5" if quick else "60", str(bank), str(tmp / "data"), str(tmp / "run"), "quick" if quick else "full"]
    names = {
        "estimator": f"estimator (InfoNCE, global batch {batch})",
        "knn": f"k-NN table (N={bank:,} x 128, k=2)",
        "example": "sentiment example (1 epoch)",
    }
    settings = [(1, 1), (processes, 1)] if quick else [(1, 1), (1, processes), (processes, 1)]
    results = {setting: _launch(*setting, args, tmp) for setting in settings}
    rows = []
    for key, name in names.items():
        reference = results[(1, 1)][key]["samples"] / results[(1, 1)][key]["seconds"]
        for (p, t), got in results.items():
            rate = got[key]["samples"] / got[key]["seconds"]
            rows.append(ThroughputRow(name, p, t, got[key]["samples"], got[key]["seconds"], rate, rate / reference))
    return rows


def table(rows: list[ThroughputRow]) -> str:
    head = ["workload", "processes", "threads / process", "samples", "seconds", "samples/s", "vs 1 × 1"]
    lines = [
        [r.workload, r.processes, r.threads_per_process, r.samples, f"{r.seconds:.2f}", f"{r.samples_per_s:,.0f}", f"{r.speedup:.2f}×"] for r in rows
    ]
    return markdown_table(head, lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--worker":
        return worker(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks distributed", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="processes of the multi-process runs (default 2)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the pipeline only")
    parser.add_argument("--json", help="write the rows and run metadata to this file")
    args = parser.parse_args(argv)
    if args.processes < 2:
        parser.error(f"--processes must be at least 2; got {args.processes}.")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(processes=args.processes, quick=args.quick, tmp=Path(tmp))
    # Other jobs on the machine change these timings; the 1-minute load average says how busy it was.
    meta = run_metadata(
        "distributed",
        argv,
        device="cpu",
        seed=0,
        quick=args.quick,
        backend="gloo",
        estimator="InfoNCE training steps (separable critic), a KNNSampler table, the sentiment example's epoch",
        cpu_cores=os.cpu_count(),
        processes=args.processes,
        load_average=f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after",
    )
    print(header(meta))
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
