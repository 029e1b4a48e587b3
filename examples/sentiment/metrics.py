"""CMU-MOSI / MOSEI evaluation metrics, in the convention of the MMIM and MISA reference code.

Sentiment labels are real scores in [-3, 3]. The literature reports regression error (MAE),
Pearson correlation, binary accuracy / weighted F1 in two variants and 7-class accuracy:

* **has0** — all samples, classes ``negative (< 0)`` vs ``non-negative (>= 0)``;
* **non0** — samples with label exactly 0 dropped, classes ``> 0`` vs ``<= 0`` (for the
  prediction; the kept labels are never 0);
* **Acc-7 / Acc-5** — ``np.round(clip(x, -3, 3))`` (``clip(x, -2, 2)``) of prediction and label
  compared as integers. ``np.round`` rounds halves to even (0.5 -> 0, 1.5 -> 2, 2.5 -> 2), as the
  reference code does, so published numbers are reproduced exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score

__all__ = ["format_metrics", "sentiment_metrics"]

ArrayLike = np.ndarray | torch.Tensor


def _as_vector(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float64 array; accepts shape (N,) or (N, 1)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must have shape (N,) or (N, 1); got {array.shape}.")
    if array.size == 0:
        raise ValueError(f"{name} is empty.")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(array)).sum())} non-finite value(s).")
    return array


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; 0.0 when either input is constant (the coefficient is undefined there)."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    xc, yc = x - x.mean(), y - y.mean()
    r = float(xc @ yc / np.sqrt((xc @ xc) * (yc @ yc)))
    return min(1.0, max(-1.0, r))  # rounding can push |r| a hair above 1


def _binary(truth: np.ndarray, preds: np.ndarray) -> tuple[float, float]:
    """Accuracy and support-weighted F1 of boolean labels."""
    # zero_division=0 is sklearn's value for an unpredicted class anyway; passing it only silences the warning.
    return float(accuracy_score(truth, preds)), float(f1_score(truth, preds, average="weighted", zero_division=0))


def _rounded_accuracy(preds: np.ndarray, labels: np.ndarray, bound: float) -> float:
    """Fraction of samples where ``np.round(clip(., -bound, bound))`` agrees."""
    return float(np.mean(np.round(np.clip(preds, -bound, bound)) == np.round(np.clip(labels, -bound, bound))))


def sentiment_metrics(predictions: ArrayLike, labels: ArrayLike) -> dict[str, float]:
    """Regression and classification metrics of sentiment predictions.

    With predictions :math:`\\hat y` and labels :math:`y` over :math:`N` samples:
    :math:`\\mathrm{mae} = \\frac1N\\sum_i |\\hat y_i - y_i|`, ``corr`` is Pearson's :math:`r`,
    and the accuracies follow the has0 / non0 / Acc-7 conventions of the module docstring.

    Args:
        predictions: model outputs, numpy array or tensor of shape (N,) or (N, 1).
        labels: sentiment scores of the same length.

    Returns:
        ``mae``, ``corr``, ``acc2_has0``, ``f1_has0``, ``acc2_non0``, ``f1_non0``, ``acc7``,
        ``acc5``. Accuracies and F1 are fractions in [0, 1], not percentages. ``corr`` is 0.0 (not
        nan) when the predictions or the labels are constant: a collapsed, constant predictor then
        reads as uncorrelated, and the dict stays usable for logging and model selection.

    Raises:
        ValueError: if an input is not (N,) / (N, 1), is empty or holds nan / inf; if the lengths
            differ; or if every label is 0, which leaves the non0 metrics without samples.

    Example:
        >>> m = sentiment_metrics(np.array([1.2, -0.8, 0.1]), np.array([1.0, -1.0, 0.0]))
        >>> round(m["mae"], 4), m["acc2_has0"], m["acc7"]
        (0.1667, 1.0, 1.0)
    """
    preds = _as_vector(predictions, "predictions")
    truth = _as_vector(labels, "labels")
    if preds.shape != truth.shape:
        raise ValueError(f"predictions and labels differ in length: {preds.size} vs {truth.size}.")
    non_zero = truth != 0
    if not non_zero.any():
        raise ValueError("every label is 0, so the non0 accuracy and F1 have no samples.")
    acc2_has0, f1_has0 = _binary(truth >= 0, preds >= 0)
    acc2_non0, f1_non0 = _binary(truth[non_zero] > 0, preds[non_zero] > 0)
    return {
        "mae": float(np.mean(np.abs(preds - truth))),
        "corr": _pearson(preds, truth),
        "acc2_has0": acc2_has0,
        "f1_has0": f1_has0,
        "acc2_non0": acc2_non0,
        "f1_non0": f1_non0,
        "acc7": _rounded_accuracy(preds, truth, 3.0),
        "acc5": _rounded_accuracy(preds, truth, 2.0),
    }


def format_metrics(metrics: dict[str, float]) -> str:
    """One-line summary of :func:`sentiment_metrics`, accuracies and F1 in percent (has0 / non0).

    Example:
        >>> print(format_metrics(sentiment_metrics(np.array([1.2, -0.8, 0.1]), np.array([1.0, -1.0, 0.0]))))
        MAE 0.1667 | Corr 0.9983 | Acc-2 100.00/100.00 | F1 100.00/100.00 | Acc-7 100.00
    """
    m = metrics
    return (
        f"MAE {m['mae']:.4f} | Corr {m['corr']:.4f} | "
        f"Acc-2 {100 * m['acc2_has0']:.2f}/{100 * m['acc2_non0']:.2f} | "
        f"F1 {100 * m['f1_has0']:.2f}/{100 * m['f1_non0']:.2f} | Acc-7 {100 * m['acc7']:.2f}"
    )
