"""Golden values: the one-call estimators' results at a fixed seed, pinned bit for bit.

They were generated before the critic families became objects (issue 29), so that the
redesign can show it changed no number: every float is compared by its exact hexadecimal
form and every ``row_values`` by a SHA-256 of its float64 bytes. Regenerate only when a
result is meant to change (and say why in the commit)::

    OMP_NUM_THREADS=1 .venv/bin/python tests/test_golden.py --write

Bits hold on the kind of machine that wrote them: another CPU rounds float32 matrix products
differently, and a trained critic carries that rounding through its training (an AMD EPYC with
AVX-512 against the machine of the first fixture: up to 0.9% in a trained family's value and its
stderr, 2.6% in one row). The fixture names the machine it was written on; elsewhere every
number is compared within :data:`OTHER_MACHINE` and every name, family and count exactly.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import miestim
from miestim.gaussian import ClassConditionalGaussianTask, CorrelatedGaussianTask, GaussianChainTask, GaussianTask
from miestim.tasks import AdditiveUniformTask, SpiralTask, StudentTTask

FIXTURE = Path(__file__).with_name("golden.json")
#: Relative and absolute tolerance of a number, and absolute tolerance of one row's value, on another machine.
OTHER_MACHINE = (0.02, 2e-3, 0.1)

#: The five estimate_mi tasks of the issue's acceptance, at sizes that run in seconds.
MI_TASKS: dict[str, tuple[Any, int]] = {
    "gaussian-1x1": (CorrelatedGaussianTask(dim=1, mi=1.0), 1500),
    "student-t-3x3": (StudentTTask(3, 3, df=4), 1500),
    "additive-uniform": (AdditiveUniformTask(0.2), 1500),
    # Not one of the five: at this size the k-NN family wins two folds, so its rebuild on train + validation is pinned too.
    "additive-uniform-eps0.05": (AdditiveUniformTask(0.05), 1500),
    # Not one of the five: every fold's JS objective keeps the residual critic, which reads below the k-NN one, so
    # the race keeps k-NN on every fold and reads all rows leave-one-out with a split-half stderr.
    "additive-uniform-eps0.75": (AdditiveUniformTask(0.75), 2000),
    "spiral-4x4": (SpiralTask(GaussianTask.correlated_pairs(4, 4, pairs=2, rho=0.8)), 1500),
    "gaussian-20x20": (GaussianTask.correlated_pairs(20, 20, pairs=3, rho=0.8), 1200),
}


def _hex(value: float) -> str:
    return float(value).hex()


def _rows(values: torch.Tensor | None) -> dict[str, Any] | None:
    if values is None:
        return None
    data = values.detach().to(torch.float64).cpu().contiguous().numpy()
    return {"n": int(data.size), "sha256": hashlib.sha256(data.tobytes()).hexdigest(), "head": [_hex(v) for v in data[:3]]}


def _floats(mapping: Any) -> Any:
    """Every float of a nested record as its hex form (lists, tuples and dicts kept as lists and dicts)."""
    if isinstance(mapping, float):
        return _hex(mapping)
    if isinstance(mapping, dict):
        return {str(k): _floats(v) for k, v in mapping.items()}
    if isinstance(mapping, (list, tuple)):
        return [_floats(v) for v in mapping]
    return mapping


def _result(res: miestim.EstimateResult, *extra_keys: str) -> dict[str, Any]:
    return {
        "value": _hex(res.value),
        "stderr": _hex(res.stderr),
        "method": res.method,
        "row_values": _rows(res.row_values),
        "extra": {key: _floats(res.extra[key]) for key in extra_keys},
    }


AUTO_KEYS = ("family", "families", "folds", "validation", "validation_readout", "readout", "held_out", "screened_out")


def compute() -> dict[str, Any]:
    """Every pinned result, as JSON-ready hex strings."""
    out: dict[str, Any] = {}
    for name, (task, n) in MI_TASKS.items():
        x, y = task.sample(n, seed=1)
        out[f"estimate_mi[auto]/{name}"] = _result(miestim.estimate_mi(x, y, seed=0, progress=False), *AUTO_KEYS)
    # The opt-in families and a named estimator (the single-split path).
    x, y = MI_TASKS["spiral-4x4"][0].sample(600, seed=2)
    families = ("gaussian", "knn", "residual", "joint", "separable")
    res = miestim.estimate_mi(x, y, families=families, max_steps=200, eval_every=50, seed=3, progress=False)
    out["estimate_mi[auto, all families]/spiral-4x4"] = _result(res, *AUTO_KEYS)
    res = miestim.estimate_mi(x, y, estimator="smile", max_steps=200, eval_every=50, seed=3, progress=False)
    out["estimate_mi[smile]/spiral-4x4"] = _result(res)
    chain = GaussianChainTask(1)
    x, y, z = chain.sample(1500, seed=4)
    out["estimate_cmi[auto]/chain"] = _result(miestim.estimate_cmi(x, y, z, seed=0, progress=False), "form", "terms", "families")
    res = miestim.estimate_cmi(x, y, z, families=("gaussian", "residual"), max_steps=200, seed=0, progress=False)
    out["estimate_cmi[chain_rule, residual]/chain"] = _result(res, "form", "terms", "families")
    res = miestim.estimate_cmi(x, y, z, method="cmine", hidden=(32, 32), max_steps=300, seed=0, progress=False)
    out["estimate_cmi[cmine]/chain"] = _result(res, "dv", "nwj", "mean_log_ratio", "stderrs", "resample")
    res = miestim.estimate_cmi(x, y, z, method="cmine", hidden=(32,), max_steps=200, knn_correction=True, seed=0, progress=False)
    out["estimate_cmi[cmine, corrected]/chain"] = _result(res, "dv", "bias", "stderrs")
    xd, yd, zd = ClassConditionalGaussianTask([0.3, 0.8]).sample(1500, seed=5)
    out["estimate_cmi[auto]/discrete-z"] = _result(miestim.estimate_cmi(xd, yd, zd, seed=0, progress=False), "form", "strata", "families")
    rng = np.random.default_rng(6)
    t = rng.normal(size=1200).astype(np.float32)
    a = (t + rng.normal(size=1200)).astype(np.float32)
    c = (a + t + rng.normal(size=1200)).astype(np.float32)
    d = miestim.decompose({"t": t, "a": a}, c, seed=0, progress=False)
    out["decompose[chain_rule]"] = {
        "terms": [[name, _hex(v), _hex(se)] for name, v, se in d.terms()],
        "components": {k: _result(r) for k, r in d.components.items()},
    }
    return out


def machine() -> str:
    """What decides the bits: the CPU, the vector instructions torch uses, and the numeric libraries' versions."""
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")] if cpuinfo.exists() else []
    cpu = names[0] if names else platform.processor() or "unknown CPU"
    return f"{platform.machine()} {cpu} {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}, numpy {np.__version__}"


def _close(got: Any, expected: Any, path: str) -> None:
    """``got`` equals ``expected`` up to float rounding of another machine (:data:`OTHER_MACHINE`): names exactly."""
    rel, absolute, row = OTHER_MACHINE
    if isinstance(expected, dict):
        assert got.keys() == expected.keys(), path
        for key in expected:
            if key != "sha256":  # a row's bytes: compared on the fixture's machine only
                _close(got[key], expected[key], f"{path}/{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), path
        for i, (g, e) in enumerate(zip(got, expected)):
            _close(g, e, f"{path}[{i}]")
    elif isinstance(expected, str) and expected.lstrip("-").startswith("0x"):
        g, e = float.fromhex(got), float.fromhex(expected)
        tolerance = row if "/head" in path else max(rel * abs(e), absolute)
        assert abs(g - e) <= tolerance, (path, g, e)
    else:
        assert got == expected, path


def test_results_are_bit_identical_to_the_golden_values():
    fixture = json.loads(FIXTURE.read_text())
    # One thread, as when the values were written: the MLP critics' float32 matrix products round by thread count.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        got = json.loads(json.dumps(compute()))
    finally:
        torch.set_num_threads(threads)
    expected = fixture["results"]
    assert got.keys() == expected.keys()
    for key in expected:
        if fixture["machine"] == machine():
            assert got[key] == expected[key], key
        else:
            _close(got[key], expected[key], key)


def test_the_comparison_on_another_machine_can_fail():
    expected = {"value": (0.5).hex(), "families": ["gaussian"], "row_values": {"n": 3, "sha256": "a", "head": [(1.0).hex()]}}
    _close({**expected, "row_values": {"n": 3, "sha256": "b", "head": [(1.05).hex()]}}, expected, "ok")
    for wrong in ({"value": (0.52).hex()}, {"families": ["residual"]}, {"row_values": {"n": 3, "sha256": "a", "head": [(1.2).hex()]}}):
        with pytest.raises(AssertionError):
            _close({**expected, **wrong}, expected, "wrong")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: OMP_NUM_THREADS=1 python tests/test_golden.py --write")
    torch.set_num_threads(1)
    FIXTURE.write_text(json.dumps({"machine": machine(), "results": compute()}, indent=1, sort_keys=True) + "\n")
