"""A catalogue of malformed inputs, applied to every public entry point where the case makes sense.

Each case either works (and the test checks the documented behaviour: the same result as the
clean input it stands for, or a finite one) or raises ``ValueError`` / ``TypeError`` whose
message names the argument. Entry points: ``estimate_mi``, ``estimate_cmi``, ``decompose``,
``KNNSampler`` (construction and its sampling methods), the Gaussian ground truth and the bounds
in ``miestim.functional``.

Policy pinned here (see ``miestim._validation.as_sample_matrix``): integer dtypes are accepted
and read as real values; float16 / bfloat16 are upcast (float32 inside the estimators, float32
results from the bounds); tensors requiring grad are detached; pandas objects, memory maps,
big-endian and ``longdouble`` arrays, Fortran-ordered and strided arrays and nested lists are
accepted and give exactly the result of the equivalent C-contiguous float32 array.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import miestim
from miestim import functional as F
from miestim import gaussian
from miestim.sampling import KNNSampler

N = 60  # split 42 / 6 / 12 (estimate_mi), 36 / 12 / 12 (estimate_cmi): batch 8 and k = 2 fit every split, so no warning is expected
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 2)).astype(np.float32)
Y = (X + RNG.normal(size=(N, 2))).astype(np.float32)
Z = (X[:, :1] + RNG.normal(size=(N, 1))).astype(np.float32)

TINY_MI = dict(
    estimator="smile",
    max_steps=3,
    eval_every=3,
    batch_size=8,
    eval_batch_size=64,
    critic_kwargs={"hidden": (8,), "embed_dim": 4},
    seed=0,
    progress=False,
)
# What the chain-rule decomposition passes on to its SMILE fits (it names the estimator itself).
DECOMPOSE_MI = {k: v for k, v in TINY_MI.items() if k != "estimator"}
# The default estimator, "auto": the same input handling, then its own cross-fit.
TINY_AUTO = dict(max_steps=3, eval_every=3, batch_size=8, eval_batch_size=64, seed=0, progress=False)
TINY_CMI = dict(method="cmine", max_steps=3, eval_every=3, batch_size=8, hidden=(8,), k=2, seed=0, progress=False)


def run_mi(x: Any, y: Any, z: Any, **kwargs: Any) -> float:
    return miestim.estimate_mi(x, y, **{**TINY_MI, **kwargs}).value


def run_auto(x: Any, y: Any, z: Any, **kwargs: Any) -> float:
    return miestim.estimate_mi(x, y, **{**TINY_AUTO, **kwargs}).value


def run_cmi(x: Any, y: Any, z: Any, **kwargs: Any) -> float:
    return miestim.estimate_cmi(x, y, z, **{**TINY_CMI, **kwargs}).value


def run_decompose(x: Any, y: Any, z: Any, **kwargs: Any) -> float:
    d = miestim.decompose({"t": x, "a": y}, z, method="chain_rule", mi_estimator="smile", mi_kwargs=DECOMPOSE_MI, progress=False, **kwargs)
    return d.invariant + d.complementary + sum(d.specific.values())


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
    # The sampler accepts these (it computes in float64; constant columns get scale 1): see below.
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


def test_sampler_accepts_constant_columns_and_duplicated_rows():
    sampler = KNNSampler(np.c_[X[:, :1], np.ones(N)], k=2, seed=0)
    assert float(sampler.scale_[1]) == 1.0  # documented: constant columns get scale 1
    # float64 values far beyond float32 or tiny ones: the standardisation neither overflows nor
    # underflows, so the neighbours are those of the unscaled data (power-of-two scaling is exact).
    reference = KNNSampler(X, k=2, seed=0).neighbors_
    for scale in (2.0**1000, 2.0**-1000):
        assert torch.equal(KNNSampler(X.astype(np.float64) * scale, k=2, seed=0).neighbors_, reference)
    dup = KNNSampler(np.repeat(X[:1], N, axis=0), k=3, seed=0)  # every point ties with every other
    idx = dup.sample_indices(torch.arange(N))
    assert not bool((idx == torch.arange(N)).any()) and len(set(dup.neighbors_.flatten().tolist())) > 3


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


# ---------------------------------------------------------------------------------------------
# Hyper-parameters: zero, negative, wrong type, unknown names (with suggestions), too large.

HYPER = [
    # (entry, kwargs, exception, match)
    ("estimate_mi", {"lr": 0.0}, ValueError, "lr must be a finite number > 0; got 0.0"),
    ("estimate_mi", {"lr": -1e-3}, ValueError, "lr must be a finite number > 0"),
    ("estimate_mi", {"lr": float("nan")}, ValueError, "lr must be a finite number > 0"),
    ("estimate_mi", {"lr": "0.1"}, TypeError, "lr must be a real number"),
    ("estimate_mi", {"batch_size": 0}, ValueError, "batch_size must be an integer >= 2; got 0"),
    ("estimate_mi", {"batch_size": 2.5}, TypeError, "batch_size must be an integer >= 2"),
    ("estimate_mi", {"max_steps": 0}, ValueError, "max_steps must be an integer >= 1"),
    ("estimate_mi", {"max_steps": -5}, ValueError, "max_steps must be an integer >= 1"),
    ("estimate_mi", {"max_steps": None, "max_epochs": 0}, ValueError, "max_epochs must be an integer >= 1"),
    ("estimate_mi", {"eval_every": 0}, ValueError, "eval_every must be an integer >= 1"),
    ("estimate_mi", {"patience": -1}, ValueError, "patience must be an integer >= 1"),
    ("estimate_mi", {"eval_batch_size": 1}, ValueError, "eval_batch_size must be an integer >= 2"),
    ("estimate_mi", {"seed": -1}, ValueError, "seed must be an integer >= 0"),
    ("estimate_mi", {"seed": 1.5}, TypeError, "seed must be an integer >= 0"),
    ("estimate_mi", {"split": (0.6, 0.4, 0.0)}, ValueError, r"split must lie in \(0, 1\)"),
    ("estimate_mi", {"split": (0.6, 0.4)}, ValueError, "split must have 3 fractions"),
    ("estimate_mi", {"split": 0.5}, TypeError, "split must be a tuple of fractions"),
    ("estimate_mi", {"estimator_kwargs": {"clip": 0.0}}, ValueError, "clip must be a finite number > 0"),
    ("estimate_mi", {"estimator": "interpolated", "estimator_kwargs": {"alpha": -0.5}}, ValueError, r"alpha must lie in \[0, 1\]"),
    ("estimate_mi", {"estimator": "mine", "estimator_kwargs": {"momentum": 0.0}}, ValueError, r"momentum must lie in \(0, 1\]"),
    ("estimate_mi", {"critic_kwargs": {"hidden": (0,)}}, ValueError, "hidden width must be an integer >= 1"),
    ("estimate_mi", {"estimator": "smiel"}, ValueError, r"estimator must be one of .*Did you mean 'smile'"),
    ("estimate_mi", {"estimator": 3}, TypeError, "estimator must be a name in"),
    ("estimate_mi", {"critic": "seperable"}, ValueError, r"critic must be one of .*Did you mean 'separable'"),
    ("estimate_mi", {"standardize": "rnak"}, ValueError, r"standardize must be True, False, 'zscore' or 'rank'; got 'rnak'\. Did you mean 'rank'"),
    ("estimate_mi", {"standardize": 1}, TypeError, "standardize must be True, False, 'zscore' or 'rank'"),
    ("estimate_mi", {"critic_kwargs": {"hiden": (8,)}}, TypeError, r"critic_kwargs has unknown option\(s\) \['hiden'\] .*Did you mean 'hidden'"),
    ("estimate_mi", {"critic_kwargs": [8]}, TypeError, "critic_kwargs must be a dict of keyword arguments"),
    ("estimate_mi", {"estimator_kwargs": {"clp": 3.0}}, TypeError, r"estimator_kwargs has unknown option\(s\) \['clp'\] .*Did you mean 'clip'"),
    ("estimate_mi", {"estimator_kwargs": {"x_dim": 3}}, TypeError, r"estimator_kwargs has unknown option\(s\) \['x_dim'\]"),
    (
        "estimate_mi",
        {"estimator_kwargs": {"critic": "joint"}},
        ValueError,
        r"estimator_kwargs must not hold \['critic'\]: pass them as estimate_mi's critic=",
    ),
    ("estimate_mi", {"critic_kwargs": {"hidden": (8,), "activation": "rellu"}}, ValueError, r"activation must be one of .*Did you mean 'relu'"),
    ("estimate_mi[auto]", {"split": (0.5, 0.6, 0.1)}, ValueError, "split must sum to 1"),
    ("estimate_mi[auto]", {"folds": 1}, ValueError, "estimator='auto' cross-fits, so folds must be >= 2"),
    ("estimate_mi[auto]", {"families": ["gaussian", "nn"]}, ValueError, "families must be one of"),
    ("estimate_mi[auto]", {"critic": "concat"}, ValueError, "critic is an option of a named estimator"),
    ("estimate_mi", {"families": ("gaussian",)}, ValueError, "families is an option of estimator='auto', which estimator='smile' does not use"),
    ("estimate_cmi", {"folds": 3}, ValueError, "folds is an option of method='chain_rule', which CMINE does not use"),
    ("estimate_cmi", {"k": 0}, ValueError, "k must be an integer >= 1; got 0"),
    ("estimate_cmi", {"k": 11}, ValueError, r"k=11 is too large: .* the validation split has 12 samples"),
    ("estimate_cmi", {"k": 2.0}, TypeError, "k must be an integer >= 1"),
    ("estimate_cmi", {"tau": 0.0}, ValueError, r"tau must lie in \(0, 1\)"),
    ("estimate_cmi", {"tau": 0.5}, ValueError, r"tau must lie in \(0, 0.5\)"),
    ("estimate_cmi", {"lr": 0}, ValueError, "lr must be a finite number > 0"),
    ("estimate_cmi", {"batch_size": 1}, ValueError, "batch_size must be an integer >= 2"),
    ("estimate_cmi", {"eval_every": 0}, ValueError, "eval_every must be an integer >= 1"),
    ("estimate_cmi", {"hidden": (8, -1)}, ValueError, "hidden width must be an integer >= 1"),
    ("estimate_cmi", {"readout": "mean_log_ratoi"}, ValueError, r"readout must be one of .*Did you mean 'mean_log_ratio'"),
    ("estimate_cmi", {"resample": "z"}, ValueError, r"resample must be one of \['auto', 'x', 'y'\]; got 'z'"),
    ("estimate_cmi", {"activation": "sigmoidd"}, ValueError, "activation must be one of"),
    ("estimate_cmi", {"standardize": "zcore"}, ValueError, "Did you mean 'zscore'"),
    ("decompose", {"method": "chain-rule"}, ValueError, r"method must be one of .*Did you mean 'chain_rule'"),
    ("decompose", {"mi_estimator": "infonse"}, ValueError, r"mi_estimator must be one of .*Did you mean 'infonce'"),
    ("decompose", {"cmi_estimator": "cmin"}, ValueError, r"cmi_estimator must be one of .*Did you mean 'cmine'"),
    ("decompose", {"mi_kwargs": {"max_step": 3}}, TypeError, r"mi_kwargs has unknown option\(s\) \['max_step'\] .*Did you mean 'max_steps'"),
    (
        "decompose",
        {"cmi_kwargs": {"k": 3}},
        ValueError,
        "cmi_kwargs is an option of method='cmi', which method='chain_rule' \\(MIs only\\) does not use",
    ),
    ("decompose", {"cmi_kwargs": {"kk": 3}}, TypeError, r"cmi_kwargs has unknown option\(s\) \['kk'\] for estimate_cmi"),
    ("decompose", {"mi_kwargs": "fast"}, TypeError, "mi_kwargs must be a dict of keyword arguments"),
    (
        "decompose",
        {"mi_kwargs": {"estimator": "dv"}},
        ValueError,
        r"mi_kwargs must not name the estimator \(got estimator='dv'\); pass mi_estimator=",
    ),
    ("decompose", {"anchor": "v"}, ValueError, r"anchor must be one of the modalities \['t', 'a'\]; got 'v'"),
    ("decompose", {"method": "cmi", "cmi_kwargs": {"k": 20}}, ValueError, "k=20 is too large"),
    ("KNNSampler", {"k": 0}, ValueError, "k must be an integer >= 1; got 0"),
    ("KNNSampler", {"k": 59}, ValueError, r"k must be smaller than the number of other bank points \(N - 1 = 59\); got k=59"),
    ("KNNSampler", {"chunk_size": 0}, ValueError, "chunk_size must be an integer >= 1"),
    ("KNNSampler", {"backend": "fais"}, ValueError, r"backend must be one of .*Did you mean 'faiss'"),
    ("KNNSampler", {"discrete": "yes"}, TypeError, "discrete must be True, False or None"),
    ("KNNSampler", {"seed": -3}, ValueError, "seed must be an integer >= 0"),
]


@pytest.mark.parametrize("entry, kwargs, exc, match", [pytest.param(*h, id=f"{h[0]}-{'-'.join(map(str, h[1]))}-{i}") for i, h in enumerate(HYPER)])
def test_bad_hyper_parameters_are_refused_naming_them(entry, kwargs, exc, match):
    runner = ENTRIES[entry][0]
    if entry == "KNNSampler":
        with pytest.raises(exc, match=match):
            KNNSampler(X, **{"k": 2, **kwargs})
        return
    with pytest.raises(exc, match=match):
        if entry == "decompose":
            miestim.decompose(
                {"t": X, "a": Y}, Z, **{"method": "chain_rule", "mi_estimator": "smile", "mi_kwargs": DECOMPOSE_MI, "progress": False, **kwargs}
            )
        else:
            runner(X, Y, Z, **kwargs)


# 60 rows: 70% train for one split; a third held out per fold of three, 35 of the other 40 train.
@pytest.mark.parametrize("entry, n_train", [("estimate_mi", 42), ("estimate_mi[auto]", 35), ("estimate_cmi", 36)])
def test_batch_larger_than_the_data_shrinks_with_a_warning(entry, n_train):
    with pytest.warns(UserWarning, match=f"batch_size=500 is larger than the {n_train} training samples; using {n_train}"):
        value = call(entry, batch_size=500)
    assert np.isfinite(value)


def test_sampler_batches_larger_than_the_bank_and_index_errors():
    sampler = KNNSampler(X, k=2, seed=0)
    anchors = torch.arange(3 * N) % N  # a batch three times the bank: anchors repeat, that is all
    idx = sampler.sample_indices(anchors)
    assert idx.shape == (3 * N,) and not bool((idx == anchors).any())
    x_bank = torch.from_numpy(Y)
    cases = [
        (lambda: sampler.sample_indices([0.5, 1.5]), TypeError, "anchor_idx must hold integer row indices"),
        (lambda: sampler.sample_indices(torch.tensor([True, False])), TypeError, "anchor_idx must hold integer row indices"),
        (lambda: sampler.sample_indices(torch.zeros(2, 2, dtype=torch.long)), ValueError, r"anchor_idx must be 1-D"),
        (lambda: sampler.sample_indices([0, N]), ValueError, rf"anchor_idx must index bank rows 0..{N - 1}; got out-of-range values \[{N}\]"),
        (lambda: sampler.sample_indices([-1]), ValueError, "anchor_idx must index bank rows"),
        (lambda: sampler.sample_indices("0"), TypeError, "anchor_idx must be a 1-D tensor"),
        (lambda: sampler.sample_indices([0], generator=0), TypeError, "generator must be a torch.Generator"),
        (lambda: sampler.product_sample(Y, [0]), TypeError, "x_bank must be a torch.Tensor"),
        (lambda: sampler.product_sample(x_bank[:-1], [0]), ValueError, rf"x_bank must have one row per bank point \({N}\)"),
        (lambda: sampler.sample_for(np.zeros((3, 5))), ValueError, "z_query must have 2 columns like z_bank"),
        (lambda: sampler.sample_for(np.full((3, 2), np.nan)), ValueError, "z_query contains NaN or infinite values"),
        (lambda: sampler.sample_for(np.zeros((3, 2), dtype=complex)), TypeError, "z_query must hold real numbers"),
    ]
    for fn, exc, match in cases:
        with pytest.raises(exc, match=match):
            fn()


def test_discrete_sampler_errors_name_the_problem():
    labels = np.repeat(np.arange(5), 12).astype(np.int64)
    sampler = KNNSampler(labels, seed=0)
    assert sampler.discrete_
    with pytest.raises(ValueError, match=r"z_query row 0 has value z=\[7.0\], which never occurs in the discrete z bank"):
        sampler.sample_for(np.array([7]))
    with pytest.raises(ValueError, match="query_neighbors is not defined for a discrete z bank"):
        sampler.query_neighbors(np.array([1]))
    with pytest.raises(ValueError, match=r"z_bank is treated as discrete, but 1 value\(s\) occur only once"):
        KNNSampler(np.r_[labels, 9], discrete=True)


# ---------------------------------------------------------------------------------------------
# Ground truth: covariances, index sets, task options.

PD = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.2], [0.3, 0.2, 1.0]])
GROUND_TRUTH = {
    "mutual_information": lambda cov, idx=((0,), (1,)): gaussian.mutual_information(cov, *idx),
    "conditional_mutual_information": lambda cov, idx=((0,), (1,), (2,)): gaussian.conditional_mutual_information(cov, *idx),
    "decomposition": lambda cov, idx=None: gaussian.decomposition(cov, {"t": [0], "a": [1]}, [2]),
    "GaussianTask": lambda cov, idx=((0,), (1,)): gaussian.GaussianTask(cov, *idx),
    "GaussianCMITask": lambda cov, idx=((0,), (1,), (2,)): gaussian.GaussianCMITask(cov, *idx),
}
BAD_COVARIANCES = [
    ("singular", np.ones((3, 3)), ValueError, r"cov must be positive definite .*smallest eigenvalue"),
    ("indefinite", np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), ValueError, "cov must be positive definite"),
    ("negative-diagonal", -np.eye(3), ValueError, "cov must be positive definite"),
    ("asymmetric", PD + np.triu(np.full((3, 3), 0.1), 1), ValueError, "cov must be symmetric"),
    ("nan", np.where(np.eye(3) > 0, np.nan, PD), ValueError, "cov must contain only finite values"),
    ("inf", np.where(np.eye(3) > 0, np.inf, PD), ValueError, "cov must contain only finite values"),
    ("non-square", np.ones((3, 2)), ValueError, r"cov must be a non-empty square matrix"),
    ("empty", np.zeros((0, 0)), ValueError, r"cov must be a non-empty square matrix"),
    ("3-d", np.ones((3, 3, 1)), ValueError, r"cov must be a non-empty square matrix"),
    ("complex", PD + 0j, TypeError, "cov must hold real numbers"),
    ("bool", np.eye(3, dtype=bool), TypeError, "cov must hold real numbers"),
    ("object", PD.astype(object), TypeError, "cov must hold real numbers"),
    ("string", "identity", TypeError, "cov must be a numpy array or torch tensor"),
]


@pytest.mark.parametrize("function", list(GROUND_TRUTH))
@pytest.mark.parametrize("case, cov, exc, match", BAD_COVARIANCES, ids=[c[0] for c in BAD_COVARIANCES])
def test_ground_truth_refuses_bad_covariances(function, case, cov, exc, match):
    with pytest.raises(exc, match=match):
        GROUND_TRUTH[function](cov)


@pytest.mark.parametrize("function", list(GROUND_TRUTH))
def test_ground_truth_accepts_tensors_and_integer_covariances(function):
    # A torch tensor (float64, float32 or requiring grad) and an integer matrix give the numpy result.
    ref = GROUND_TRUTH[function](PD)
    for cov in (torch.tensor(PD), torch.tensor(PD, requires_grad=True)):
        out = GROUND_TRUTH[function](cov)
        assert repr(out) == repr(ref) if function.endswith("Task") else out == ref
    assert GROUND_TRUTH[function](np.eye(3, dtype=np.int64) * 2) is not None


BAD_INDICES = [
    ("overlap-x-y", {"mutual_information": ((0, 1), (1,))}, ValueError, r"x_idx and y_idx must not overlap; both contain indices \[1\]"),
    ("overlap-z", {"conditional_mutual_information": ((0,), (1,), (1, 2))}, ValueError, r"y_idx and z_idx must not overlap"),
    ("overlap-x-z", {"GaussianCMITask": ((0, 2), (1,), (2,))}, ValueError, r"x_idx and z_idx must not overlap"),
    ("out-of-range", {"mutual_information": ((0,), (3,))}, ValueError, r"y_idx entries must lie in \[0, 3\)"),
    ("negative", {"GaussianTask": ((-1,), (1,))}, ValueError, r"x_idx entries must lie in \[0, 3\)"),
    ("duplicate", {"mutual_information": ((0, 0), (1,))}, ValueError, r"x_idx must not repeat an index"),
    ("empty", {"mutual_information": ((), (1,))}, ValueError, "x_idx must contain at least one index"),
    ("bool", {"mutual_information": ((True,), (1,))}, TypeError, "x_idx must contain integers only"),
    ("float", {"conditional_mutual_information": ((0,), (1.0,), (2,))}, TypeError, "y_idx must contain integers only"),
    ("string", {"GaussianTask": ("0", (1,))}, TypeError, "x_idx must be an integer or a sequence of integers"),
]


@pytest.mark.parametrize("case, spec, exc, match", BAD_INDICES, ids=[c[0] for c in BAD_INDICES])
def test_ground_truth_refuses_bad_or_overlapping_index_sets(case, spec, exc, match):
    ((function, idx),) = spec.items()
    with pytest.raises(exc, match=match):
        GROUND_TRUTH[function](PD, idx)


def test_decomposition_refuses_overlapping_modalities_target_and_fused():
    cov = np.eye(4) + 0.1
    with pytest.raises(ValueError, match=r"modalities\['t'\] and target must not overlap"):
        gaussian.decomposition(cov, {"t": [0, 2], "a": [1]}, [2])
    with pytest.raises(ValueError, match=r"modalities\['t'\] and modalities\['a'\] must not overlap"):
        gaussian.decomposition(cov, {"t": [0], "a": [0, 1]}, [2])
    with pytest.raises(ValueError, match="target and fused must not overlap"):
        gaussian.decomposition(cov, {"t": [0], "a": [1]}, [2], fused=[2, 3])


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: gaussian.CorrelatedGaussianTask(0, 1.0), ValueError, "dim must be an integer >= 1; got 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2, -1.0), ValueError, "mi must be a finite number >= 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2, float("inf")), ValueError, "mi must be a finite number >= 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2, float("nan")), ValueError, "mi must be a finite number >= 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2.0, 1.0), TypeError, "dim must be an integer"),
        (lambda: gaussian.CorrelatedGaussianTask(2, 1.0).sample(0, seed=0), ValueError, "n must be an integer >= 1; got 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2, 1.0).sample(10, seed=-1), ValueError, "seed must be an integer >= 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2, 1.0).sample(10, seed=0, dtype=np.int32), TypeError, "dtype must be a numpy floating dtype"),
        (lambda: gaussian.correlated_mi(2, 1.0), ValueError, r"rho must lie in the open interval \(-1, 1\)"),
        (lambda: gaussian.rho_for_mi(0, 1.0), ValueError, "d must be an integer >= 1"),
        (lambda: gaussian.RotatedTask("task"), TypeError, "task must be an MI task"),
        (lambda: gaussian.TransformedTask(gaussian.CorrelatedGaussianTask(1, 1.0), transform="cubee"), ValueError, "Did you mean 'cube'"),
    ],
)
def test_task_options_are_checked(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


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


def test_bound_options_and_baselines_are_checked():
    s = torch.zeros(4, 4)
    cases = [
        (lambda: F.smile_lower_bound(s, clip=0.0), ValueError, "clip must be a finite number > 0"),
        (lambda: F.interpolated_lower_bound(s, alpha=1.5), ValueError, r"alpha must lie in \[0, 1\]"),
        (lambda: F.tuba_lower_bound(s, torch.zeros(5)), ValueError, r"log_baseline must be a scalar or have shape \(4,\)"),
        # (n, 1) would broadcast against the columns: refused, not broadcast
        (lambda: F.tuba_lower_bound(s, torch.zeros(4, 1)), ValueError, r"log_baseline must be a scalar or have shape \(4,\)"),
        (lambda: F.js_lower_bound(s, report="kl"), ValueError, "report must be 'dv' or 'nwj'"),
        (lambda: F.update_log_ema(torch.tensor(0.0), torch.tensor(0.0), momentum=0.0), ValueError, r"momentum must lie in \(0, 1\]"),
        (lambda: F.clip_logits(s, tau=0.7), ValueError, r"tau must lie in \(0, 1\)|tau must lie in \(0, 0.5\)"),
        (lambda: F.two_sample_dv_bound(torch.zeros(0), torch.zeros(3)), ValueError, "joint must hold at least one logit"),
        (
            lambda: F.two_sample_nwj_bound(torch.zeros(3), torch.zeros(3, dtype=torch.long)),
            TypeError,
            "product must be a floating-point torch.Tensor",
        ),
        (lambda: F.two_sample_mean_log_ratio(np.zeros(3)), TypeError, "joint must be a floating-point torch.Tensor"),
    ]
    for fn, exc, match in cases:
        with pytest.raises(exc, match=match):
            fn()


def test_no_warning_for_read_only_inputs(tmp_path):
    path = tmp_path / "z.npy"
    np.save(path, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler = KNNSampler(np.load(path, mmap_mode="r"), k=2, seed=0)
        assert torch.equal(sampler.neighbors_, KNNSampler(X, k=2, seed=0).neighbors_)
