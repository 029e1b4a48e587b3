"""The example on a GPU: one epoch on tiny MulT-format files (skipped without CUDA)."""

import pytest
import torch

from examples.sentiment.config import TrainConfig
from examples.sentiment.data import SyntheticConfig, make_synthetic, write_unaligned
from examples.sentiment.train import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_one_epoch_on_cuda_matches_the_cpu_pipeline(tmp_path):
    data = make_synthetic(SyntheticConfig(n_train=48, n_valid=24, n_test=24, audio_len=12, vision_len=10, min_len=3), seed=0)
    write_unaligned(data, tmp_path / "files")
    # features mode: the files' word vectors, so no text model is needed on the GPU machine.
    config = TrainConfig(
        data="mosi_unaligned",
        data_dir=str(tmp_path / "files"),
        text_mode="features",
        d=16,
        fusion_len=6,
        fusion_blocks=1,
        batch_size=16,
        epochs=1,
        progress=False,
        device="cuda",
        out=str(tmp_path / "run"),
    )
    trainer = Trainer(config)
    row = trainer.run_epoch()
    assert next(trainer.model.parameters()).is_cuda and next(trainer.mi.parameters()).is_cuda
    assert all(torch.isfinite(torch.tensor(v)) for k, v in row.items() if k.startswith(("valid_", "test_", "train_")))
