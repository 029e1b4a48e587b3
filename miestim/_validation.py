"""Input validation shared by every public entry point.

One home for checks (as in scikit-learn's ``utils.validation``): each public function
calls these once, at its boundary, and the messages name the argument, what was
expected and what was received.
"""

from __future__ import annotations

import difflib
import numbers
import warnings
from typing import Any, Iterable, Sequence

import numpy as np
import torch

__all__ = [
    "as_sample_matrix",
    "check_consistent_length",
    "check_constant_columns",
    "check_choice",
    "check_fraction",
    "check_positive_float",
    "check_positive_int",
    "check_probability",
    "make_generator",
    "resolve_device",
    "warn_shrunk_batch",
]


def _to_numpy_or_tensor(value: Any, name: str) -> np.ndarray | torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if hasattr(value, "to_numpy"):  # pandas Series / DataFrame
        value = value.to_numpy()
    if isinstance(value, (np.ndarray, np.memmap)):
        return value
    if isinstance(value, (list, tuple)):
        try:
            return np.asarray(value)
        except ValueError as err:
            raise ValueError(f"{name} must be a rectangular array; got a ragged sequence ({err}).") from None
    raise TypeError(
        f"{name} must be a numpy array or torch tensor of shape (n_samples, n_features); "
        f"got {type(value).__name__}."
    )


def _check_numeric_dtype(kind: str, dtype: Any, name: str) -> None:
    if kind == "b":
        raise TypeError(f"{name} must hold real numbers; got boolean dtype {dtype}. Cast it to float first if intended.")
    if kind == "c":
        raise TypeError(f"{name} must hold real numbers; got complex dtype {dtype}.")
    if kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers; got non-numeric dtype {dtype}.")


def as_sample_matrix(
    value: Any,
    *,
    name: str,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    min_samples: int = 1,
) -> torch.Tensor:
    """Validate ``value`` as an (n_samples, n_features) matrix of finite reals.

    A 1-D input is read as one feature, ``(n,) -> (n, 1)``. Integer inputs are accepted
    and converted to ``dtype`` (they are treated as real-valued samples); float16 and
    bfloat16 are upcast. The result is detached from any autograd graph.

    Raises:
        TypeError: non-array input, or boolean, complex, object or string dtype.
        ValueError: more than 2 dimensions, fewer than ``min_samples`` rows, no columns,
            or any NaN / infinite entry.
    """
    array = _to_numpy_or_tensor(value, name)
    if isinstance(array, torch.Tensor):
        torch_dtype = array.dtype
        kind = "c" if torch_dtype.is_complex else "b" if torch_dtype == torch.bool else "f" if torch_dtype.is_floating_point else "i"
        _check_numeric_dtype(kind, torch_dtype, name)
        tensor = array.detach()
    else:
        _check_numeric_dtype(array.dtype.kind, array.dtype, name)
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.ndim == 1:
        tensor = tensor.unsqueeze(1)
    if tensor.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D (n_samples,) or 2-D (n_samples, n_features); got shape {tuple(tensor.shape)}."
        )
    if tensor.shape[1] == 0:
        raise ValueError(f"{name} must have at least one feature column; got shape {tuple(tensor.shape)}.")
    if tensor.shape[0] < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples; got {tensor.shape[0]}.")
    tensor = tensor.to(device=device if device is not None else tensor.device, dtype=dtype)
    if not torch.isfinite(tensor).all():
        bad = int((~torch.isfinite(tensor)).any(dim=1).sum())
        raise ValueError(f"{name} contains NaN or infinite values (in {bad} rows); remove or impute them first.")
    return tensor


def check_consistent_length(**arrays: torch.Tensor) -> int:
    """Check that all arrays have the same number of rows; return it."""
    lengths = {name: int(a.shape[0]) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"{', '.join(lengths)} must have the same number of samples; {detail}.")
    return next(iter(lengths.values()))


def check_constant_columns(tensor: torch.Tensor, *, name: str) -> None:
    """Raise when a column has zero variance: it carries no information and cannot be standardised."""
    constant = (tensor.max(dim=0).values == tensor.min(dim=0).values).nonzero().flatten().tolist()
    if constant:
        raise ValueError(
            f"{name} has constant (zero-variance) columns {constant[:10]}; they carry no information and "
            "cannot be standardised. Drop them before estimating."
        )


def check_positive_int(value: Any, *, name: str, minimum: int = 1) -> int:
    """Check ``value`` is an integer >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}.")
    return int(value)


def check_positive_float(value: Any, *, name: str, allow_zero: bool = False) -> float:
    """Check ``value`` is a finite real > 0 (or >= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__}).")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        expected = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {expected}; got {value}.")
    return value


def check_probability(value: Any, *, name: str, open_low: bool = False, open_high: bool = False) -> float:
    """Check ``value`` lies in [0, 1] (optionally excluding an end)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1]; got {value!r} ({type(value).__name__}).")
    value = float(value)
    low_ok = value > 0 if open_low else value >= 0
    high_ok = value < 1 if open_high else value <= 1
    if not (np.isfinite(value) and low_ok and high_ok):
        interval = ("(" if open_low else "[") + "0, 1" + (")" if open_high else "]")
        raise ValueError(f"{name} must lie in {interval}; got {value}.")
    return value


def check_fraction(values: Sequence[float], *, name: str) -> tuple[float, ...]:
    """Check a tuple of split fractions: each in (0, 1), summing to 1."""
    values = tuple(check_probability(v, name=name, open_low=True, open_high=True) for v in values)
    if abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"{name} must sum to 1; got {values} (sum {sum(values):.4g}).")
    return values


def check_choice(value: Any, *, name: str, choices: Iterable[str]) -> str:
    """Check ``value`` is one of ``choices`` (case-insensitive), suggesting close names otherwise."""
    choices = list(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {choices}; got {value!r} ({type(value).__name__}).")
    key = value.lower()
    if key not in choices:
        close = difflib.get_close_matches(key, choices, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"{name} must be one of {choices}; got {value!r}.{hint}")
    return key


def make_generator(seed: int | torch.Generator | None, device: torch.device | str = "cpu") -> torch.Generator:
    """The one seed helper: a ``torch.Generator`` from an int seed (or a fresh random seed for None)."""
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    seed = check_positive_int(seed, name="seed", minimum=0)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def resolve_device(device: torch.device | str | None, *tensors: Any) -> torch.device:
    """The device to compute on: ``device`` if given, else the device of the first tensor input, else CPU."""
    if device is not None:
        try:
            return torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device must name a torch device such as 'cpu' or 'cuda:0'; got {device!r}.") from err
    devices = {t.device for t in tensors if isinstance(t, torch.Tensor)}
    if len(devices) > 1:
        raise ValueError(
            f"input tensors live on different devices {sorted(map(str, devices))}; move them to one device "
            "or pass device=."
        )
    return devices.pop() if devices else torch.device("cpu")


def warn_shrunk_batch(batch_size: int, available: int, *, name: str = "batch_size") -> int:
    """Shrink a batch size to the number of available samples, with a warning."""
    if batch_size > available:
        warnings.warn(
            f"{name}={batch_size} is larger than the {available} training samples; using {available}.",
            UserWarning,
            stacklevel=3,
        )
        return available
    return batch_size
