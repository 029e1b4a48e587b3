"""CMU-MOSI / MOSEI metrics: hand-computed values, the has0 / non0 split, rounding and input checks."""

import numpy as np
import pytest
import torch
from scipy import stats

from examples.sentiment.metrics import format_metrics, sentiment_metrics

LABELS = np.array([2.0, -1.0, 0.0, 0.5, -2.5, 3.0])
PREDS = np.array([1.5, 0.5, -0.5, 1.0, -2.0, 2.4])


def test_hand_computed_values_on_six_samples():
    m = sentiment_metrics(PREDS, LABELS)
    # |errors| = 0.5, 1.5, 0.5, 0.5, 0.5, 0.6 -> 4.1 / 6.
    assert m["mae"] == pytest.approx(4.1 / 6)
    # has0: truth >= 0 = T F T T F T, preds >= 0 = T T F T F T -> samples 2 and 3 wrong: 4/6.
    # F1 of T (support 4): TP 3, FP 1, FN 1 -> 3/4; of F (support 2): TP 1, FP 1, FN 1 -> 1/2.
    # Weighted: (4 * 3/4 + 2 * 1/2) / 6 = 2/3.
    assert m["acc2_has0"] == pytest.approx(4 / 6)
    assert m["f1_has0"] == pytest.approx(2 / 3)
    # non0 drops sample 3 (label 0): truth > 0 = T F T F T, preds > 0 = T T T F T -> 4/5.
    # F1 of T (support 3): P 3/4, R 1 -> 6/7; of F (support 2): P 1, R 1/2 -> 2/3.
    # Weighted: (3 * 6/7 + 2 * 2/3) / 5 = 82/105.
    assert m["acc2_non0"] == pytest.approx(4 / 5)
    assert m["f1_non0"] == pytest.approx(82 / 105)
    # Acc-7 with np.round: preds 2, 0, -0, 1, -2, 2 vs labels 2, -1, 0, 0, -2, 3 -> 3/6.
    assert m["acc7"] == pytest.approx(3 / 6)
    # Acc-5 clips to [-2, 2] first: preds 2, 0, 0, 1, -2, 2 vs labels 2, -1, 0, 0, -2, 2 -> 4/6.
    assert m["acc5"] == pytest.approx(4 / 6)
    assert m["corr"] == pytest.approx(stats.pearsonr(PREDS, LABELS).statistic, rel=1e-12)


def test_pearson_matches_scipy_and_tensor_columns_match_numpy():
    rng = np.random.default_rng(0)
    labels = rng.uniform(-3, 3, size=50)
    preds = 0.6 * labels + rng.normal(size=50)
    m = sentiment_metrics(preds, labels)
    assert m["corr"] == pytest.approx(stats.pearsonr(preds, labels).statistic, rel=1e-12)
    from_tensors = sentiment_metrics(torch.tensor(preds).unsqueeze(1), torch.tensor(labels).unsqueeze(1))
    assert from_tensors == pytest.approx(m)


def test_a_zero_prediction_is_non_negative_for_has0_but_not_positive_for_non0():
    m = sentiment_metrics(np.zeros(2), np.array([1.0, 2.0]))
    assert (m["acc2_has0"], m["f1_has0"]) == (1.0, 1.0)
    assert (m["acc2_non0"], m["f1_non0"]) == (0.0, 0.0)


def test_rounding_is_numpy_half_to_even():
    # np.round: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (half away from zero would give 1, 2, 3 and miss three of these).
    preds = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5])
    labels = np.array([0.0, 2.0, 2.0, 0.0, -2.0, -2.0])
    assert sentiment_metrics(preds, labels)["acc7"] == 1.0
    assert sentiment_metrics(np.array([2.5]), np.array([3.0]))["acc7"] == 0.0


def test_clipping_merges_the_extremes():
    m = sentiment_metrics(np.array([5.0, -2.7]), np.array([3.0, -3.0]))
    assert (m["acc7"], m["acc5"]) == (1.0, 1.0)


def test_constant_input_gives_zero_correlation():
    assert sentiment_metrics(np.full(4, 0.3), np.array([1.0, -1.0, 2.0, 0.5]))["corr"] == 0.0
    assert sentiment_metrics(np.array([1.0, -1.0, 2.0]), np.full(3, 1.5))["corr"] == 0.0


def test_format_metrics_prints_percentages():
    m = {"mae": 0.71234, "corr": 0.8, "acc2_has0": 0.8312, "acc2_non0": 0.85, "f1_has0": 0.83, "f1_non0": 0.849, "acc7": 0.4656, "acc5": 0.5}
    assert format_metrics(m) == "MAE 0.7123 | Corr 0.8000 | Acc-2 83.12/85.00 | F1 83.00/84.90 | Acc-7 46.56"


@pytest.mark.parametrize(
    ("preds", "labels", "match"),
    [
        (np.ones(3), np.ones(4), "differ in length: 3 vs 4"),
        (np.array([]), np.array([]), "predictions is empty"),
        (np.array([1.0, np.nan]), np.ones(2), "predictions holds 1 non-finite"),
        (np.ones(2), np.array([np.inf, 1.0]), "labels holds 1 non-finite"),
        (np.ones((3, 2)), np.ones(3), r"predictions must have shape \(N,\) or \(N, 1\); got \(3, 2\)"),
        (np.ones(3), np.zeros(3), "every label is 0"),
    ],
)
def test_invalid_inputs_raise(preds, labels, match):
    with pytest.raises(ValueError, match=match):
        sentiment_metrics(preds, labels)
