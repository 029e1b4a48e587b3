"""Runs latentmi's latent MI (LMI) in latentmi's own environment (see ``_protocol.py``).

Estimator ``lmi``: ``latentmi.lmi.estimate(x, y, epochs=EPOCHS, device="cpu")`` with every other
option at its default: the data standardised (and clipped at ±10) on all rows, split 50/50 at
random, paired auto-encoders with cross-prediction (hidden 1024-512-256, latent 8, Adam lr 1e-4,
batch 512) trained on one half with early stopping (patience 30) on the other, then KSG (k = 3)
on the 8-d latents of that other half. Its pointwise MIs are averaged over that half.

Its default is 300 epochs, minutes per estimate on a CPU; :data:`EPOCHS` caps it (about 20 s
per estimate at n = 5,000 on one thread), so the result is latentmi *with its epochs capped*,
not at its defaults. latentmi draws its split and its weights from numpy's and torch's global
generators: the worker (its own process) seeds them from the job's seed before each estimate.
latentmi returns bits; the worker reports nats.

    python latentmi_worker.py request.json result.json
"""

from __future__ import annotations

import contextlib
import io
import math
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import requested_threads, serve, timed

ESTIMATORS = ("lmi",)
#: latentmi's default is 300 epochs (patience 30); one epoch at n = 5,000 is about 1.3 s on one CPU thread.
EPOCHS = 15
#: latentmi's defaults that fix how many optimiser steps an epoch has.
BATCH, VALIDATION_SPLIT = 512, 0.5


def batches_per_epoch(n: int) -> int:
    """Optimiser steps in one of latentmi's epochs over ``n`` rows (it trains on the first half of a shuffle)."""
    return max(1, math.ceil(int(n * (1 - VALIDATION_SPLIT)) / BATCH))


def epochs_for(n: int, max_steps: int | None) -> int:
    """The epoch cap: :data:`EPOCHS`, or fewer when the request caps training steps (smoke runs)."""
    if max_steps is None:
        return EPOCHS
    return max(1, min(EPOCHS, max_steps // batches_per_epoch(n)))


def epochs_run(log: str, cap: int) -> int | None:
    """Epochs trained, from latentmi's progress line ("epoch k (of max m)", printed after every epoch but the early-stopping one)."""
    seen = [int(k) for k in re.findall(r"epoch (\d+) \(of max", log)]
    return min(cap, seen[-1] + 2) if seen else None


def main(argv: list[str]) -> int:
    threads = requested_threads(argv)
    import latentmi
    import numpy as np
    import torch
    from latentmi import lmi

    torch.set_num_threads(threads)

    def run(estimator: str, arrays: dict, job: dict) -> dict:
        if estimator not in ESTIMATORS:
            raise ValueError(f"latentmi worker runs {ESTIMATORS}; got {estimator!r}")
        if job["kind"] != "mi":
            raise ValueError("latentmi has no conditional MI")
        x, y = arrays["x"], arrays["y"]
        cap = epochs_for(len(x), job["max_steps"])
        # latentmi seeds from the global generators; this process is the worker's own, so seeding them is safe.
        np.random.seed(job["seed"])
        torch.manual_seed(job["seed"])
        random.seed(job["seed"])
        log = io.StringIO()
        with contextlib.redirect_stdout(log):  # its per-epoch progress line, read back for the epoch count
            (pmis, _, _), seconds = timed(lambda: lmi.estimate(x, y, epochs=cap, quiet=True, device="cpu"))
        held, epochs = len(x) - int(len(x) * (1 - VALIDATION_SPLIT)), epochs_run(log.getvalue(), cap)
        return {
            "estimate": float(np.nanmean(pmis)) * math.log(2),  # the mean of its pointwise MIs over the held half, bits -> nats
            "seconds": seconds,
            "steps": None if epochs is None else epochs * batches_per_epoch(len(x)),
            "evaluated_on": (
                f"KSG (k=3) on the latents of its random 50% half ({held} rows, which also early-stops training); "
                f"standardised on all rows; epochs capped at {cap} (default 300); bits -> nats"
            ),
        }

    return serve("latentmi", lambda: {"latentmi": latentmi.__version__, "torch": torch.__version__, "numpy": np.__version__}, run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
