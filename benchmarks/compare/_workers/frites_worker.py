"""Runs frites' Gaussian-copula MI in frites' own environment (see ``_protocol.py``).

Estimator ``gcmi``: ``frites.core.gcmi_nd_cc`` on all rows — each column copula-normalised by
frites' ``copnorm_nd`` (normal quantile of rank / (n + 1)), then the Gaussian MI of the scores
with frites' analytic bias correction (``mi_nd_gg(..., biascorrect=True)``, Ince et al. 2017).
Conditional MI is ``gccmi_nd_ccc``, the same with Z. frites returns bits; the worker reports nats.

    python frites_worker.py request.json result.json
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import requested_threads, serve, timed

ESTIMATORS = ("gcmi",)


def main(argv: list[str]) -> int:
    requested_threads(argv)
    import frites
    import numpy as np
    from frites.core import gccmi_nd_ccc, gcmi_nd_cc

    def run(estimator: str, arrays: dict, job: dict) -> dict:
        if estimator not in ESTIMATORS:
            raise ValueError(f"frites worker runs {ESTIMATORS}; got {estimator!r}")
        # frites wants (dimensions, trials): the trial axis last, the multivariate axis first.
        x, y = (np.asarray(arrays[k], dtype=np.float64).T for k in "xy")
        if job["kind"] == "cmi":
            z = np.asarray(arrays["z"], dtype=np.float64).T
            bits, seconds = timed(lambda: gccmi_nd_ccc(x, y, z, mvaxis=0, traxis=-1))
        else:
            bits, seconds = timed(lambda: gcmi_nd_cc(x, y, mvaxis=0, traxis=-1))
        return {"estimate": float(bits) * math.log(2), "seconds": seconds, "evaluated_on": "all rows (copnorm, bias-corrected; bits -> nats)"}

    return serve("frites", lambda: {"frites": frites.__version__, "numpy": np.__version__}, run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
