"""The spiral wrapper: a bijection that keeps the norm and the MI, with the exact ratio at the pre-image."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from miestim.gaussian import CorrelatedGaussianTask, GaussianTask, RotatedTask
from miestim.tasks import SpiralTask, StudentTTask

BASE = GaussianTask.correlated_pairs(4, 4, pairs=2, rho=0.8)


def test_acceptance_task():
    task = SpiralTask(BASE)
    assert task.name == "spiral-x(gaussian-4x4-2pairs-rho0.8)"
    assert task.mutual_information == pytest.approx(1.0217, abs=5e-5) and task.base is BASE
    assert (task.dim_x, task.dim_y, task.speeds, task.plane) == (4, 4, {"x": 0.25}, (0, 1))
    assert SpiralTask(GaussianTask.correlated_pairs(3, 5, pairs=2, rho=0.5), side="both").speeds == {"x": 1 / 3, "y": 0.2}
    assert SpiralTask(BASE, side="both", speed=0.5).speeds == {"x": 0.5, "y": 0.5}


@pytest.mark.parametrize(
    "task",
    [
        SpiralTask(BASE),
        SpiralTask(StudentTTask(3, 2, df=3), side="both", speed=2.0, plane=(1, 0)),
        SpiralTask(CorrelatedGaussianTask(3, 1.5), side="y", plane=(0, 2)),
    ],
    ids=lambda t: t.name,
)
def test_mean_log_ratio_at_the_pre_image_is_the_mi(task):
    ratio = task.log_density_ratio(*task.sample(200_000, 1, dtype=np.float64))
    se = ratio.std() / np.sqrt(ratio.size)
    assert abs(ratio.mean() - task.mutual_information) < 4 * se


def test_round_trip_norm_and_angle():
    task = SpiralTask(BASE, side="both", speed=0.7)
    x, y = BASE.sample(1_000, 0, dtype=np.float64)
    sx, sy = task.transform(x, y)
    back = task.inverse_transform(sx, sy)
    np.testing.assert_allclose(back[0], x, atol=1e-6)
    np.testing.assert_allclose(back[1], y, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(sx, axis=1), np.linalg.norm(x, axis=1), rtol=1e-12)
    np.testing.assert_array_equal(sx[:, 2:], x[:, 2:])  # only the plane (0, 1) turns
    turned = np.arctan2(sx[:, 1], sx[:, 0]) - np.arctan2(x[:, 1], x[:, 0])
    expected = 0.7 * (x**2).sum(axis=1)
    np.testing.assert_allclose(np.angle(np.exp(1j * (turned - expected))), 0.0, atol=1e-9)  # equal modulo 2 pi


def test_default_speed_is_one_over_the_dimension():
    x, y = BASE.sample(200, 0, dtype=np.float64)
    default, explicit = SpiralTask(BASE).transform(x, y), SpiralTask(BASE, speed=0.25).transform(x, y)
    np.testing.assert_array_equal(default[0], explicit[0])


def test_sample_is_the_spun_base_sample():
    task = SpiralTask(BASE)
    x, y = task.sample(500, 3, dtype=np.float64)
    bx, by = BASE.sample(500, 3, dtype=np.float64)
    np.testing.assert_array_equal(y, by)  # the y side is left alone
    np.testing.assert_allclose(task.inverse_transform(x, y)[0], bx, atol=1e-12)


def test_the_copula_is_no_longer_gaussian():
    # Rank-normal scores undo coordinate-wise maps but not the spiral: their correlation drops well below 0.8.
    x, y = SpiralTask(BASE, speed=1.0).sample(20_000, 0)
    scores = [stats.norm.ppf((stats.rankdata(v) - 0.5) / len(v)) for v in (x[:, 0], y[:, 0])]
    assert abs(np.corrcoef(*scores)[0, 1]) < 0.5


def test_wraps_any_task_and_is_wrapped():
    inner = SpiralTask(StudentTTask(2, 3, df=2), side="y", plane=(1, 2))
    outer = RotatedTask(inner, seed=1)
    assert outer.mutual_information == inner.mutual_information
    x, y = outer.sample(100, 0, dtype=np.float64)
    assert np.isfinite(outer.log_density_ratio(x, y)).all()
    assert inner.name == "spiral-y-plane12(student-t-2x3-df2)" and "SpiralTask(" in repr(inner)
    assert SpiralTask(BASE, speed=1.0).name == "spiral-x-speed1(gaussian-4x4-2pairs-rho0.8)"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"speed": 0.0}, ValueError, "speed must be a finite number > 0"),
        ({"speed": "fast"}, TypeError, "speed must be a real number"),
        ({"side": "z"}, ValueError, "side must be one of"),
        ({"side": 1}, TypeError, "side must be one of"),
        ({"plane": (0, 0)}, ValueError, "plane must name two distinct"),
        ({"plane": (0, 4)}, ValueError, r"needs coordinates below dim_x = 4"),
        ({"plane": 0}, TypeError, "plane must be a pair"),
        ({"plane": (0, 1.0)}, TypeError, "plane must hold two integers"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SpiralTask(BASE, **kwargs)


def test_a_one_dimensional_side_cannot_be_spun():
    with pytest.raises(ValueError, match="dim_y = 1; a rotation needs at least two"):
        SpiralTask(GaussianTask.correlated_pairs(2, 1, pairs=1, rho=0.5), side="both")
    with pytest.raises(TypeError, match="task must be an MI task"):
        SpiralTask(object())
