"""The cross-entry contract: one catalogue of malformed inputs, applied to every public entry point where it makes sense.

Each case either works (and the test checks the documented behaviour: the same result as the
clean input it stands for, or a finite one) or raises ``ValueError`` / ``TypeError`` whose
message names the argument, the same way at every entry point. Entry points: ``estimate_mi``
(a named bound and ``auto``), ``estimate_cmi``, ``decompose``, ``KNNSampler`` (its data) and, for
score matrices, every bound in ``miestim.functional``. Each module's own options are checked in
the tests that mirror it (``tests/entry/``, ``tests/sampling/``, ``tests/functional/``,
``tests/gaussian/``).

Policy pinned here (see ``miestim._validation.as_sample_matrix``): integer dtypes are accepted
and read as real values; float16 / bfloat16 are upcast (float32 inside the estimators, float32
results from the bounds); tensors requiring grad are detached; pandas objects, memory maps,
big-endian and ``longdouble`` arrays, Fortran-ordered and strided arrays and nested lists are
accepted and give exactly the result of the equivalent C-contiguous float32 array.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import miestim
from miestim import functional as F
from miestim.sampling import KNNSampler
from tests._inputs import TINY_MI, X, Y, Z, run_auto, run_cmi, run_decompose, run_mi


def run_sampler(x: Any, y: Any, z: Any, **kwargs: Any) -> torch.Tensor:
    sampler = KNNSampler(x, k=2, seed=0, **kwargs)
    return sampler.sample_indices(torch.arange(sampler.n_samples_))


# entry point -> (runner, the name each data role has in its messages)
ENTRIES: dict[str, tuple[Callable[..., Any], dict[str, str]]] = {
    "estimate_mi": (run_mi, {"x": "x", "y": "y"}),
    "estimate_mi[auto]": (run_auto, {"x": "x", "y": "y"}),
    "estimate_cmi": (run_cmi, {"x": "x", "y": "y", "z": "z"}),
    "decompose": (run_decompose, {"x": "modalities['t']", "y": "modalities['a']", "z": "target"}),
    "KNNSampler": (run_sampler, {"x": "z_bank"}),
}
ESTIMATORS = ("estimate_mi", "estimate_mi[auto]", "estimate_cmi", "decompose")


_CLEAN = object()


def call(entry: str, role: str = "x", value: Any = _CLEAN, **kwargs: Any) -> Any:
    """Run ``entry`` on the clean data with the ``role`` input replaced by ``value``."""
    data = {"x": X, "y": Y, "z": Z}
    if value is not _CLEAN:
        data[role] = value
    return ENTRIES[entry][0](data["x"], data["y"], data["z"], **kwargs)


def same(a: Any, b: Any) -> bool:
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


_BASELINES: dict[str, Any] = {}


def baseline(entry: str) -> Any:
    if entry not in _BASELINES:
        _BASELINES[entry] = call(entry)
    return _BASELINES[entry]


# ---------------------------------------------------------------------------------------------
# Refused data: each case corrupts one input (role) and must name it.


@dataclass(frozen=True)
class Bad:
    id: str
    role: str
    make: Callable[[np.ndarray], Any]
    exc: type[Exception]
    match: str  # "{name}" is replaced by the escaped argument name


def _with(value: float) -> Callable[[np.ndarray], np.ndarray]:
    def make(a: np.ndarray) -> np.ndarray:
        out = a.copy()
        out[3, 0] = value
        return out

    return make


REFUSED = [
    Bad("mismatched-length", "y", lambda a: a[:-1], ValueError, r"must have the same number of samples; .*{name} has 59"),
    Bad("one-row-other-input", "y", lambda a: a[:1], ValueError, r"must have the same number of samples; .*{name} has 1\b"),
    Bad("nan", "x", _with(np.nan), ValueError, r"{name} contains NaN or infinite values \(in 1 rows\)"),
    Bad("plus-inf", "x", _with(np.inf), ValueError, r"{name} contains NaN or infinite values"),
    Bad("minus-inf", "y", _with(-np.inf), ValueError, r"{name} contains NaN or infinite values"),
    Bad("nan-in-conditioning", "z", _with(np.nan), ValueError, r"{name} contains NaN or infinite values"),
    Bad("empty", "x", lambda a: a[:0], ValueError, r"{name} needs at least \d samples; got 0"),
    Bad("no-columns", "x", lambda a: a[:, :0], ValueError, r"{name} must have at least one feature column"),
    Bad("3-d", "x", lambda a: a[:, :, None], ValueError, r"{name} must be 1-D \(n_samples,\) or 2-D"),
    Bad("object-dtype", "x", lambda a: a.astype(object), TypeError, r"{name} must hold real numbers; got non-numeric dtype object"),
    Bad("str-dtype", "x", lambda a: a.astype(str), TypeError, r"{name} must hold real numbers; got non-numeric dtype <U"),
    Bad("bool-dtype", "x", lambda a: a > 0, TypeError, r"{name} must hold real numbers; got boolean dtype"),
    Bad("bool-tensor", "x", lambda a: torch.from_numpy(a) > 0, TypeError, r"{name} must hold real numbers; got boolean dtype"),
    Bad("complex-dtype", "x", lambda a: a + 1j, TypeError, r"{name} must hold real numbers; got complex dtype"),
    Bad("complex-tensor", "x", lambda a: torch.from_numpy(a).to(torch.complex64), TypeError, r"{name} must hold real numbers; got complex"),
    Bad("datetime-dtype", "x", lambda a: a.astype("datetime64[s]"), TypeError, r"{name} must hold real numbers; got non-numeric"),
    Bad("string", "x", lambda a: "data.csv", TypeError, r"{name} must be a numpy array or torch tensor"),
    Bad("none", "x", lambda a: None, TypeError, r"{name} must be a numpy array or torch tensor"),
    Bad("arbitrary-object", "x", lambda a: object(), TypeError, r"{name} must be a numpy array or torch tensor"),
    Bad("scalar", "x", lambda a: 3.0, TypeError, r"{name} must be a numpy array or torch tensor"),
    Bad("ragged-list", "x", lambda a: [[1.0, 2.0], [3.0]] * 30, ValueError, r"{name} must be a rectangular array"),
]

ESTIMATOR_ONLY = [
    # The sampler accepts these (it computes in float64; constant columns get scale 1): see tests/sampling/test_knn_sampler.py.
    Bad("beyond-float32", "x", lambda a: a.astype(np.float64) * 1e300, ValueError, r"{name} has finite values beyond the range of torch.float32"),
    Bad("constant-column", "x", lambda a: np.c_[a[:, :1], np.ones(len(a))], ValueError, r"{name} has constant \(zero-variance\) columns \[1\]"),
    Bad(
        "duplicated-rows-only", "x", lambda a: np.repeat(a[:1], len(a), axis=0), ValueError, r"{name} has constant \(zero-variance\) columns \[0, 1\]"
    ),
    Bad("constant-conditioning", "z", lambda a: np.zeros_like(a), ValueError, r"{name} has constant \(zero-variance\) columns \[0\]"),
]


def _refused_params() -> list[Any]:
    params = []
    for case in REFUSED + ESTIMATOR_ONLY:
        for entry, (_, names) in ENTRIES.items():
            if case.role in names and not (case in ESTIMATOR_ONLY and entry not in ESTIMATORS):
                if case.id.startswith("one-row") and entry == "KNNSampler":
                    continue
                params.append(pytest.param(entry, case, id=f"{case.id}-{entry}"))
    return params


@pytest.mark.parametrize("entry, case", _refused_params())
def test_malformed_data_is_refused_naming_the_argument(entry, case):
    value = case.make(X if case.role == "x" else Y if case.role == "y" else Z)
    name = ENTRIES[entry][1][case.role]
    with pytest.raises(case.exc, match=case.match.format(name=re.escape(name))):
        call(entry, case.role, value)


@pytest.mark.parametrize("entry", ESTIMATORS)
def test_a_single_sample_is_refused(entry):
    name = ENTRIES[entry][1]["x"]
    with pytest.raises(ValueError, match=f"{re.escape(name)} needs at least 2 samples to vary; got 1"):
        ENTRIES[entry][0](X[:1], Y[:1], Z[:1])
    with pytest.raises(ValueError, match="z_bank needs at least 2 samples; got 1"):
        KNNSampler(X[:1])


@pytest.mark.parametrize("entry", ESTIMATORS)
def test_too_few_samples_for_the_split_are_refused(entry):
    with pytest.raises(ValueError, match=r"8 samples are too few for (the split|3 folds)"):
        ENTRIES[entry][0](X[:8], Y[:8], Z[:8])


@pytest.mark.parametrize("entry", ESTIMATORS)
def test_no_silent_broadcast_of_a_row_or_a_transposed_matrix(entry):
    with pytest.raises(ValueError, match="must have the same number of samples"):
        call(entry, "y", Y[:1])  # one row would broadcast against n rows
    with pytest.raises(ValueError, match="must have the same number of samples"):
        call(entry, "y", Y.T)  # (2, n): not read as n samples


# ---------------------------------------------------------------------------------------------
# Accepted data: the result must equal the result on the clean array each case stands for.


def _memmap(tmp_path) -> Callable[[np.ndarray], np.ndarray]:
    def make(a: np.ndarray) -> np.ndarray:
        path = tmp_path / f"data-{a.shape[1]}.npy"
        np.save(path, a)
        return np.load(path, mmap_mode="r")

    return make


ACCEPTED: dict[str, Callable[[np.ndarray], Any]] = {
    "float64": lambda a: a.astype(np.float64),
    "float16-exact": None,  # needs values representable in float16: built in the test
    "bfloat16-exact": None,
    "longdouble": lambda a: a.astype(np.longdouble),
    "big-endian": lambda a: a.astype(">f4"),
    "fortran-order": np.asfortranarray,
    "strided-view": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    "nested-list": lambda a: a.tolist(),
    "tensor": torch.from_numpy,
    "tensor-requires-grad": lambda a: torch.tensor(a, requires_grad=True),
    "non-contiguous-tensor": lambda a: torch.from_numpy(np.asfortranarray(a)).T.contiguous().T,
    "memory-map": None,  # needs tmp_path: built in the test
    "pandas": None,
}


def _accepted_params() -> list[Any]:
    return [pytest.param(entry, case, id=f"{case}-{entry}") for case in ACCEPTED for entry in ENTRIES]


@pytest.mark.filterwarnings("error")  # e.g. torch's "non-writable array" warning must not leak out
@pytest.mark.parametrize("entry, case", _accepted_params())
def test_equivalent_inputs_give_the_same_result(entry, case, tmp_path):
    clean = X
    if case == "memory-map":
        make = _memmap(tmp_path)
    elif case == "pandas":
        pd = pytest.importorskip("pandas")
        make = pd.DataFrame
    elif case == "float16-exact":
        clean = X.astype(np.float16).astype(np.float32)
        make = lambda a: a.astype(np.float16)  # noqa: E731
    elif case == "bfloat16-exact":
        clean = torch.from_numpy(X).bfloat16().float().numpy()
        make = lambda a: torch.from_numpy(a).bfloat16()  # noqa: E731
    else:
        make = ACCEPTED[case]
    value = make(clean)
    expected = call(entry, "x", clean)
    got = call(entry, "x", value)
    assert same(got, expected), (case, entry, got, expected)
    if isinstance(got, float):
        assert np.isfinite(got)
    if case == "tensor-requires-grad":
        assert value.grad is None and torch.equal(value.detach(), torch.from_numpy(clean))


@pytest.mark.parametrize("entry", ESTIMATORS)
def test_pandas_series_for_every_input(entry):
    pd = pytest.importorskip("pandas")
    expected = ENTRIES[entry][0](X[:, 0], Y[:, 0], Z[:, 0])
    got = ENTRIES[entry][0](pd.Series(X[:, 0]), pd.Series(Y[:, 0]), pd.Series(Z[:, 0]))
    assert got == expected and np.isfinite(got)


def test_pandas_objects_with_missing_or_mixed_values_are_refused():
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match="x contains NaN or infinite values"):
        run_mi(pd.DataFrame({"a": [1.0, None] * 30, "b": np.arange(60.0)}), Y, Z)
    with pytest.raises(TypeError, match="x must hold real numbers; got non-numeric dtype object"):
        run_mi(pd.DataFrame({"a": ["u", "v"] * 30, "b": np.arange(60.0)}), Y, Z)


@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64])
def test_integer_dtypes_are_read_as_real_values(entry, dtype):
    # Documented in as_sample_matrix: integers are converted to float32 (exact below 2**24).
    ints = np.round(X * 10 + 50).astype(dtype)
    assert same(call(entry, "x", ints), call(entry, "x", ints.astype(np.float32)))


@pytest.mark.parametrize("entry", ESTIMATORS)
def test_one_dimensional_input_is_one_column(entry):
    assert call(entry, "x", X[:, 0]) == call(entry, "x", X[:, :1])


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_extreme_but_finite_magnitudes_give_the_same_finite_result(entry):
    # Scaling by a power of two is exact and order-preserving: rank standardisation (and the
    # sampler's z-scoring) sees the very same data, so the result is identical, not just finite.
    for scale in (2.0**100, 2.0**-100):
        assert same(call(entry, "x", X * np.float32(scale)), baseline(entry))


def test_requires_grad_inputs_are_detached_not_modified():
    x = torch.tensor(X, requires_grad=True)
    res = miestim.estimate_mi(x, torch.tensor(Y), **TINY_MI)
    loss = (x**2).sum()  # the caller's graph still works and the library left no gradient behind
    loss.backward()
    assert torch.equal(x.grad, 2 * x.detach()) and np.isfinite(res.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("entry", ESTIMATORS)
def test_tensors_on_different_devices_are_refused(entry):
    x, y, z = torch.from_numpy(X).cuda(), torch.from_numpy(Y), torch.from_numpy(Z)
    with pytest.raises(ValueError, match=r"input tensors live on different devices \['cpu', 'cuda:0'\]"):
        ENTRIES[entry][0](x, y, z)
    # numpy arrays have no device: they follow the tensor inputs (documented default of device=)
    assert np.isfinite(ENTRIES[entry][0](x, Y, Z))


@pytest.mark.parametrize("entry", ESTIMATORS)
def test_an_unknown_device_is_refused(entry):
    with pytest.raises(ValueError, match="device must name a torch device"):
        call(entry, device="gpu0")


# 60 rows: 70% train for one split; a third held out per fold of three, 35 of the other 40 train.
@pytest.mark.parametrize("entry, n_train", [("estimate_mi", 42), ("estimate_mi[auto]", 35), ("estimate_cmi", 36)])
def test_batch_larger_than_the_data_shrinks_with_a_warning(entry, n_train):
    with pytest.warns(UserWarning, match=f"batch_size=500 is larger than the {n_train} training samples; using {n_train}"):
        value = call(entry, batch_size=500)
    assert np.isfinite(value)


# ---------------------------------------------------------------------------------------------
# The bounds in miestim.functional.

SCORE_BOUNDS = {
    "dv": F.dv_lower_bound,
    "nwj": F.nwj_lower_bound,
    "infonce": F.infonce_lower_bound,
    "js": F.js_lower_bound,
    "js_objective": F.js_objective,
    "smile": F.smile_lower_bound,
    "tuba": F.tuba_lower_bound,
    "interpolated": F.interpolated_lower_bound,
    "mine": lambda s: F.mine_lower_bound(s, 0.0),
}
BAD_SCORES = [
    ("numpy", np.zeros((3, 3)), TypeError, r"scores must be a torch.Tensor of shape \(n, n\)"),
    ("integer", torch.zeros(3, 3, dtype=torch.long), TypeError, "scores must have a floating dtype"),
    ("non-square", torch.zeros(3, 4), ValueError, r"scores must be a square matrix \(n, n\)"),
    ("3-d", torch.zeros(3, 3, 1), ValueError, r"scores must be a square matrix \(n, n\)"),
    ("1x1", torch.zeros(1, 1), ValueError, "scores needs n >= 2"),
    ("empty", torch.zeros(0, 0), ValueError, "scores needs n >= 2"),
]


@pytest.mark.parametrize("bound", list(SCORE_BOUNDS))
@pytest.mark.parametrize("case, scores, exc, match", BAD_SCORES, ids=[c[0] for c in BAD_SCORES])
def test_bounds_refuse_malformed_score_matrices(bound, case, scores, exc, match):
    with pytest.raises(exc, match=match):
        SCORE_BOUNDS[bound](scores)


@pytest.mark.parametrize("bound", list(SCORE_BOUNDS))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_bounds_upcast_half_precision_scores(bound, dtype):
    scores = torch.randn(32, 32, generator=torch.Generator().manual_seed(0)) * 30
    half = scores.to(dtype)
    got = SCORE_BOUNDS[bound](half)
    assert got.dtype == torch.float32 and torch.isfinite(got)
    assert torch.equal(got, SCORE_BOUNDS[bound](half.float()))  # exactly the float32 bound of the same values
