"""Input validation shared by every public entry point.

One home for checks (as in scikit-learn's ``utils.validation``): each public function
calls these once, at its boundary, and the messages name the argument, what was
expected and what was received.
"""

from __future__ import annotations

import difflib
import inspect
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "as_sample_matrix",
    "check_consistent_length",
    "check_constant_columns",
    "check_choice",
    "check_fraction",
    "check_split",
    "check_kwargs",
    "child_seed",
    "check_optional_bool",
    "check_positive_float",
    "check_positive_int",
    "check_probability",
    "did_you_mean",
    "fresh_seed",
    "make_generator",
    "refuse_unused",
    "resolve_device",
    "warn_shrunk_batch",
]


# Entries per block when scanning a sample matrix for NaN / Inf: bounds the temporaries on large
# (e.g. memory-mapped) inputs to a few MiB instead of one boolean per entry.
_SCAN_BLOCK = 2**21


def _to_numpy_or_tensor(value: Any, name: str) -> np.ndarray | torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):  # pandas Series / DataFrame
        value = value.to_numpy()
    if isinstance(value, np.ndarray):  # np.memmap included
        return value
    if isinstance(value, (list, tuple)):
        try:
            return np.asarray(value)
        except ValueError as err:
            raise ValueError(f"{name} must be a rectangular array; got a ragged sequence ({err}).") from None
    raise TypeError(f"{name} must be a numpy array or torch tensor of shape (n_samples, n_features); got {type(value).__name__}.")


def _check_numeric_dtype(kind: str, dtype: Any, name: str) -> None:
    if kind == "b":
        raise TypeError(f"{name} must hold real numbers; got boolean dtype {dtype}. Cast it to float first if intended.")
    if kind == "c":
        raise TypeError(f"{name} must hold real numbers; got complex dtype {dtype}.")
    if kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers; got non-numeric dtype {dtype}.")


def _numpy_as_tensor(array: np.ndarray) -> torch.Tensor:
    """A CPU tensor over ``array``'s memory where possible (no copy for C-contiguous native dtypes).

    Read-only arrays (memory maps opened with ``mmap_mode="r"``, pandas' copy-on-write
    arrays) are wrapped without a copy too; torch's warning about non-writable memory is
    silenced because the library never writes into its inputs.
    """
    if not array.dtype.isnative:  # big-endian files: torch cannot wrap them
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype.kind == "f" and array.dtype.itemsize > 8:  # longdouble: no torch dtype
        array = array.astype(np.float64)
    array = np.ascontiguousarray(array)
    if array.flags.writeable:
        return torch.from_numpy(array)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable", category=UserWarning)
        return torch.from_numpy(array)


def _count_nonfinite_rows(tensor: torch.Tensor) -> int:
    """Rows of a 2-D floating tensor holding NaN or Inf, scanned in blocks (0 when all finite)."""
    rows = max(1, _SCAN_BLOCK // max(1, tensor.shape[1]))
    blocks = [tensor[start : start + rows] for start in range(0, tensor.shape[0], rows)]
    if all(bool(torch.isfinite(block).all()) for block in blocks):
        return 0
    return sum(int((~torch.isfinite(block)).any(dim=1).sum()) for block in blocks)


def as_sample_matrix(
    value: Any,
    *,
    name: str,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    min_samples: int = 1,
) -> torch.Tensor:
    """Validate ``value`` as an (n_samples, n_features) matrix of finite reals.

    Accepts numpy arrays (memory-mapped ones included), torch tensors, pandas objects (via
    ``to_numpy()``) and rectangular nested lists. A 1-D input is read as one feature,
    ``(n,) -> (n, 1)``. Integer inputs are accepted and converted to ``dtype`` (they are
    treated as real-valued samples); float16 and bfloat16 are upcast; big-endian and
    ``longdouble`` arrays are converted. The result is detached from any autograd graph.

    Memory: when the input already has ``dtype`` and lives on ``device`` (e.g. a
    C-contiguous float32 array or ``np.load(path, mmap_mode="r")``), the result *shares*
    its memory — no copy is made, and callers must not write into it. The NaN/Inf scan
    works in blocks, so validating a large memory map needs no full-size temporary.

    Raises:
        TypeError: non-array input, or boolean, complex, object or string dtype.
        ValueError: more than 2 dimensions, fewer than ``min_samples`` rows, no columns,
            any NaN / infinite entry, or finite values beyond the range of ``dtype``.
    """
    array = _to_numpy_or_tensor(value, name)
    if isinstance(array, torch.Tensor):
        torch_dtype = array.dtype
        kind = "c" if torch_dtype.is_complex else "b" if torch_dtype == torch.bool else "f" if torch_dtype.is_floating_point else "i"
        _check_numeric_dtype(kind, torch_dtype, name)
        tensor = array.detach()
    else:
        _check_numeric_dtype(array.dtype.kind, array.dtype, name)
        tensor = _numpy_as_tensor(array)
    if tensor.ndim == 1:
        tensor = tensor.unsqueeze(1)
    if tensor.ndim != 2:
        raise ValueError(f"{name} must be 1-D (n_samples,) or 2-D (n_samples, n_features); got shape {tuple(tensor.shape)}.")
    if tensor.shape[1] == 0:
        raise ValueError(f"{name} must have at least one feature column; got shape {tuple(tensor.shape)}.")
    if tensor.shape[0] < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples; got {tensor.shape[0]}.")
    if tensor.is_floating_point():
        bad = _count_nonfinite_rows(tensor)
        if bad:
            raise ValueError(f"{name} contains NaN or infinite values (in {bad} rows); remove or impute them first.")
    source_dtype = tensor.dtype
    tensor = tensor.to(device=device if device is not None else tensor.device, dtype=dtype)
    narrowed = source_dtype.is_floating_point and torch.finfo(source_dtype).max > torch.finfo(dtype).max
    if narrowed and _count_nonfinite_rows(tensor):
        raise ValueError(
            f"{name} has finite values beyond the range of {dtype} (|value| > {torch.finfo(dtype).max:.3g}); "
            "rescale it (e.g. divide by its largest magnitude) first."
        )
    return tensor


def check_consistent_length(**arrays: torch.Tensor) -> int:
    """Check that all arrays have the same number of rows; return it."""
    lengths = {name: int(a.shape[0]) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"{', '.join(lengths)} must have the same number of samples; {detail}.")
    return next(iter(lengths.values()))


def check_constant_columns(tensor: torch.Tensor, *, name: str) -> None:
    """Raise when a column has zero variance: it carries no information and cannot be standardised.

    Needs at least 2 samples (one sample is constant in every column; the message says so).
    """
    if tensor.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples to vary; got {tensor.shape[0]}.")
    # amax/amin, not max(dim=0): no indices, and no thread wake-up for small inputs (milliseconds on a busy machine).
    constant = (tensor.amax(dim=0) == tensor.amin(dim=0)).nonzero().flatten().tolist()
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


def check_bool(value: Any, *, name: str) -> bool:
    """Check ``value`` is True or False (numpy booleans included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r} ({type(value).__name__}).")
    return bool(value)


def check_optional_bool(value: Any, *, name: str) -> bool | None:
    """Check ``value`` is True, False or None (None: decide automatically)."""
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be True, False or None (automatic); got {value!r} ({type(value).__name__}).")
    return value


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
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a tuple of fractions such as (0.6, 0.2, 0.2); got {values!r} ({type(values).__name__}).")
    values = tuple(check_probability(v, name=name, open_low=True, open_high=True) for v in values)
    if abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"{name} must sum to 1; got {values} (sum {sum(values):.4g}).")
    return values


def check_split(values: Sequence[float], *, name: str = "split") -> tuple[float, float, float]:
    """Check train / validation / test fractions: three, each in (0, 1), summing to 1."""
    values = check_fraction(values, name=name)
    if len(values) != 3:
        raise ValueError(f"{name} must have 3 fractions (train, validation, test); got {len(values)}.")
    return values[0], values[1], values[2]


def check_choice(value: Any, *, name: str, choices: Iterable[str]) -> str:
    """Check ``value`` is one of ``choices`` (case-insensitive), suggesting close names otherwise."""
    choices = list(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {choices}; got {value!r} ({type(value).__name__}).")
    key = value.lower()
    if key not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}.{did_you_mean(key, choices)}")
    return key


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """A hint naming the choices closest to ``value`` (difflib), e.g. ``" Did you mean 'smile'?"``; '' if none is close."""
    close = difflib.get_close_matches(value.lower(), [str(c) for c in choices], n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def check_kwargs(value: Any, *, name: str, target: Callable[..., Any] | None = None, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Check ``value`` is None or a dict of keyword arguments that ``target`` accepts; return a new dict.

    Unknown keys are refused up front (with the closest valid names), instead of failing deep
    inside a fit. ``exclude`` lists parameters of ``target`` the caller sets itself.
    """
    if value is None:
        return {}
    label = getattr(target, "__qualname__", None)
    if not isinstance(value, Mapping):
        detail = f" for {label}" if label else ""
        raise TypeError(f"{name} must be a dict of keyword arguments{detail}; got {type(value).__name__}.")
    if target is None:
        return dict(value)
    parameters = inspect.signature(target).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(value)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [p.name for p in parameters if p.kind in kinds and p.name not in set(exclude)]
    unknown = [key for key in value if key not in accepted]
    if unknown:
        raise TypeError(f"{name} has unknown option(s) {unknown} for {label}; it accepts {accepted}.{did_you_mean(str(unknown[0]), accepted)}")
    return dict(value)


def refuse_unused(options: dict[str, Any], *, method: str, owner: str) -> None:
    """Refuse the ``options`` given (not ``None``) that ``method`` does not use: an option is never silently ignored.

    The message names each option, says whose option it is (``owner``) and what to do.
    """
    given = [name for name, value in options.items() if value is not None]
    if given:
        one = len(given) == 1
        raise ValueError(
            f"{' and '.join(given)} {'is an option' if one else 'are options'} of {owner}, which {method} does not use: "
            f"drop {'it' if one else 'them'}, or choose {owner}."
        )


def fresh_seed() -> int:
    """A new random seed from the operating system's entropy: no global RNG (torch, numpy, random) is read or advanced."""
    return int(np.random.SeedSequence().generate_state(1)[0])


def child_seed(generator: torch.Generator) -> int:
    """A seed for a sub-computation (an initialisation, a sampler), drawn from ``generator``: the one child-seed idiom."""
    return int(torch.randint(0, 2**62, (1,), generator=generator))


def make_generator(seed: int | torch.Generator | None, device: torch.device | str = "cpu") -> torch.Generator:
    """The one seed helper: a ``torch.Generator`` from an int seed (or a :func:`fresh_seed` for None)."""
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        seed = fresh_seed()
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
        raise ValueError(f"input tensors live on different devices {sorted(map(str, devices))}; move them to one device or pass device=.")
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
