"""Progress output: bars on a terminal, one line per phase in a log (no carriage-return redraws)."""

from __future__ import annotations

import io
import re

from examples.sentiment.config import TrainConfig
from examples.sentiment.data import SyntheticConfig, make_synthetic
from examples.sentiment.progress import phase_progress
from examples.sentiment.train import Trainer


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_per_phase_and_a_terminal_a_bar():
    log, terminal = io.StringIO(), _Terminal()
    assert list(phase_progress(range(5), "epoch 1 stage 1", stream=log)) == list(range(5))
    assert list(phase_progress(range(5), "epoch 1 stage 1", stream=terminal)) == list(range(5))
    (line,) = log.getvalue().splitlines()
    assert line.startswith("epoch 1 stage 1: 5 batches in ") and line.endswith(" s") and "\r" not in log.getvalue()
    assert "\r" in terminal.getvalue()  # tqdm's redraws
    quiet = io.StringIO()
    assert list(phase_progress(range(3), "x", enabled=False, stream=quiet)) == [0, 1, 2] and quiet.getvalue() == ""


def test_a_training_epoch_logged_to_a_file_holds_no_bar_redraws(tmp_path, capsys):
    tiny = make_synthetic(SyntheticConfig(n_train=48, n_valid=24, n_test=24, audio_len=12, vision_len=10, min_len=3), seed=0)
    config = TrainConfig(
        d=16, fusion_len=6, fusion_blocks=1, batch_size=16, epochs=1, stage1_passes=1, progress=True, out=str(tmp_path), text_mode="frozen"
    )
    Trainer(config, tiny).fit()
    err = capsys.readouterr().err  # captured: not a terminal, as in `make demo > log`
    phases = [line.split(":")[0] for line in err.splitlines() if line.startswith("epoch 1 ")]
    assert phases == ["epoch 1 stage 1", "epoch 1 stage 2"]
    assert "stage 1: 3 batches" in err
    assert not any("stage" in piece and "%|" in piece for piece in re.split(r"[\r\n]", err))  # no tqdm bar of a stage
