"""Runs bmi (package benchmark-mi) estimators in bmi's own environment (see ``_protocol.py``).

Neural estimators (InfoNCE, NWJ, DV, MINE) with their defaults: the data are standardised on
all rows, split 50/50 at random into train and test, the critic (MLP 16-8) is trained with
Adam (lr 0.1, batch 256, at most 10,000 steps) and the *largest* test-half estimate over the
evaluations made every 250 steps is returned (the test half also stops training). KSG
(``KSGEnsembleFirstEstimator``, k = 5) and CCA use all rows. Conditional MI goes through the
chain rule, I(X;Y|Z) = I(X;(Y,Z)) - I(X;Z), with KSG or CCA for both terms.

    python bmi_worker.py request.json result.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import requested_threads, serve, timed

NEURAL = {"infonce": "InfoNCEEstimator", "nwj": "NWJEstimator", "dv": "DonskerVaradhanEstimator", "mine": "MINEEstimator"}


def main(argv: list[str]) -> int:
    requested_threads(argv)
    import bmi
    import jax
    import numpy as np

    def build(estimator: str, job: dict):
        if estimator == "ksg":
            return bmi.estimators.KSGEnsembleFirstEstimator(neighborhoods=(5,))
        if estimator == "cca":
            return bmi.estimators.CCAMutualInformationEstimator()
        steps = {} if job["max_steps"] is None else {"max_n_steps": job["max_steps"], "test_every_n_steps": max(1, job["max_steps"] // 4)}
        return getattr(bmi.estimators, NEURAL[estimator])(verbose=False, seed=job["seed"], **steps)

    def run(estimator: str, arrays: dict, job: dict) -> dict:
        x, y = arrays["x"], arrays["y"]
        if job["kind"] == "cmi":
            if estimator in NEURAL:
                raise ValueError("bmi has no conditional MI; the chain rule is used with ksg and cca only")
            z = arrays["z"]
            (value, _), seconds = timed(lambda: (build(estimator, job).estimate(x, np.hstack([y, z])) - build(estimator, job).estimate(x, z), None))
            return {"estimate": float(value), "seconds": seconds, "evaluated_on": "all rows (chain rule I(X;YZ) - I(X;Z))"}
        result, seconds = timed(lambda: build(estimator, job).estimate_with_info(x, y))
        info = result.additional_information or {}
        if estimator in NEURAL:
            where = f"max of test-half estimates ({len(x) // 2} rows, also used to stop); standardised on all rows"
        else:
            where = "all rows"
        if info.get("batch_size_larger_than_train"):
            raise ValueError("bmi returned NaN: its batch (256) is larger than its training half")
        return {"estimate": float(result.mi_estimate), "seconds": seconds, "steps": info.get("n_training_steps"), "evaluated_on": where}

    from importlib.metadata import version

    return serve("bmi", lambda: {"benchmark-mi": version("benchmark-mi"), "jax": jax.__version__}, run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
