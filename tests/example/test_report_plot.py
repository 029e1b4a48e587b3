"""report.png after one epoch: every curve drawn with markers, each showing its one value."""

from __future__ import annotations

import math

import matplotlib
import pytest

from examples.sentiment.config import TrainConfig
from examples.sentiment.data import SyntheticConfig, make_synthetic
from examples.sentiment.mi_terms import TERM_NAMES
from examples.sentiment.train import Trainer, plot_history

matplotlib.use("Agg")

TINY = SyntheticConfig(n_train=48, n_valid=24, n_test=24, audio_len=12, vision_len=10, min_len=3)


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    out = tmp_path_factory.mktemp("one_epoch")
    config = TrainConfig(d=16, fusion_len=6, fusion_blocks=1, batch_size=16, epochs=1, stage1_passes=1, progress=False, out=str(out), seed=0)
    trainer = Trainer(config, make_synthetic(TINY, seed=0))
    trainer.fit()
    return trainer, out


def test_one_epoch_report_png_draws_every_curve_with_markers(one_epoch):
    trainer, out = one_epoch
    assert (out / "report.png").stat().st_size > 1000
    fig = plot_history(trainer.history)
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    assert len(lines) == 2 + 2 + len(TERM_NAMES)  # MAE and Acc-2 of valid and test, then the eight terms
    for line in lines:
        # A line without a marker through a single point draws nothing: the figure would look empty.
        assert line.get_marker() not in (None, "", " ", "None", "none"), f"{line.get_label()} is drawn without markers"
        (x,), (y,) = line.get_xdata(), line.get_ydata()
        assert x == 1 and math.isfinite(y), line.get_label()
    low, high = fig.axes[0].get_xlim()
    assert [t for t in fig.axes[0].get_xticks() if low <= t <= high] == [1.0]  # one tick, at epoch 1, not 0.96, 0.98, ...


def test_a_warm_up_epoch_plots_no_mi_terms(tmp_path):
    history = [{"epoch": 1, "valid_mae": 1.2, "test_mae": 1.3, "valid_acc2_non0": 0.5, "test_acc2_non0": 0.55}]
    fig = plot_history(history)
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2, 0]
