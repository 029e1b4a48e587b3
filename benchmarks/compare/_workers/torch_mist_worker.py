"""Runs torch-mist estimators in torch-mist's own environment (see ``_protocol.py`` for the request and result files).

Every estimator is called through ``torch_mist.estimate_mi`` with its defaults (estimator
"smile" when none is named: joint critic, hidden [128], batch 128, at most 5,000 iterations,
early stopping on 10 % of the data it is given) and the held-out rows passed as ``test_data``.
Without ``test_data`` torch-mist evaluates on the data it trained on; that number is recorded
too (``estimate_train``: the trained critic scored on its training rows).

    python torch_mist_worker.py request.json result.json
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import requested_threads, serve, timed


def main(argv: list[str]) -> int:
    threads = requested_threads(argv)
    import numpy as np
    import torch
    import torch_mist
    from torch_mist.utils.evaluation import evaluate_mi

    torch.set_num_threads(threads)

    def run(estimator: str, arrays: dict, job: dict) -> dict:
        if job["kind"] != "mi":
            raise ValueError("torch-mist's estimate_mi has no conditional MI")
        x, y = (torch.from_numpy(arrays[k]) for k in "xy")
        cut = x.shape[0] - round(job["test_fraction"] * x.shape[0])
        train, test = {"x": x[:cut], "y": y[:cut]}, {"x": x[cut:], "y": y[cut:]}
        torch.manual_seed(job["seed"])
        np.random.seed(job["seed"])
        random.seed(job["seed"])
        extra = {} if job["max_steps"] is None else {"max_iterations": job["max_steps"]}
        (value, trained, log), seconds = timed(
            lambda: torch_mist.estimate_mi(train, estimator=estimator, test_data=test, verbose=False, return_estimator=True, **extra)
        )
        in_sample = evaluate_mi(trained, data=train, batch_size=128)
        steps = int(log["iteration"].max()) if log is not None and len(log) and "iteration" in log else None
        return {
            "estimate": float(value),
            "estimate_train": float(in_sample),
            "seconds": seconds,
            "steps": steps,
            "evaluated_on": f"held-out {x.shape[0] - cut} rows (test_data); trained on {cut} rows less 10% validation",
        }

    return serve("torch-mist", lambda: {"torch_mist": torch_mist.__version__, "torch": torch.__version__}, run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
