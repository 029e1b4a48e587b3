r"""A synthetic CMU-MOSI-like dataset whose score comes from known shared, specific and complementary factors.

Generative model, per utterance (every draw independent; :math:`w_\cdot` are the config weights):

.. math::

    s, t, a, v \sim N(0, 1), \qquad b_t, b_a \sim \mathrm{Bernoulli}(1/2), \qquad b = b_t \oplus b_a,

    y = \mathrm{clip}\Big(\tfrac{1.5}{W}\big(w_s s + w_t t + w_a a + w_v v + w_c (2b - 1)\big)
        + \mathrm{noise} \cdot z,\ -3,\ 3\Big), \qquad W = \sqrt{w_s^2 + w_t^2 + w_a^2 + w_v^2 + w_c^2},

with :math:`z \sim N(0, 1)`. The signal part has standard deviation 1.5, so about 95% of the
scores lie in [-3, 3] before clipping. :math:`b` flips the sign of the complementary term; as
:math:`b_t` and :math:`b_a` are each independent of :math:`b`, either alone says nothing about
the score: only the pair does.

Observations, with :math:`\sigma` = ``observation_noise``, :math:`\eta \sim N(0, 1)` one
nuisance draw per utterance and channel (a speaker baseline) and :math:`\epsilon \sim N(0, 1)`
per frame:

- text: a sentence from random templates and filler. Its polarity word is level
  :math:`k` of :data:`POLARITY_WORDS` ("awful" .. "superb"), :math:`k` the septile of
  :math:`(s + \sigma\eta)/\sqrt{1 + \sigma^2}`, so the 7 words are equally frequent; its aspect
  word is the level of :math:`t` in :data:`ASPECT_WORDS` the same way; :math:`b_t = 1` opens the
  sentence with a sarcasm cue (:data:`SARCASM_CUES`), :math:`b_t = 0` with a neutral opener.
- audio (d_a >= 3), frame :math:`j < n_a`: channel 0 is :math:`s + \sigma(\eta + \epsilon)`
  (energy); channel 1 is :math:`(2 b_a - 1)\, j / (n_a - 1) + \sigma(\eta + \epsilon)`, a rising or
  falling pitch contour (its mean is :math:`\pm 1/2`, its slope is free of :math:`\eta`);
  channel 2 is :math:`a + \sigma(\eta + \epsilon)`; the others are :math:`\sigma(\eta + \epsilon)`.
- visual (d_v >= 2): channel 0 is :math:`s + \sigma(\eta + \epsilon)`, channel 1 is
  :math:`v + \sigma(\eta + \epsilon)`, the others noise.
- lengths: :math:`n_m = \mathrm{min\_len} + \lfloor u\,(L_m - \mathrm{min\_len} + 1) \rfloor`
  with one :math:`u \sim U(0, 1)` per utterance (audio and video share its duration).

Every factor is returned in ``latents``: "shared", "text", "audio", "visual", "b_text",
"b_audio" and "complementary" (:math:`b`), each (N,) float32.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np

from ._split import LABEL_BOUND, SPLIT_NAMES, SentimentData, SentimentSplit
from .unaligned import write_unaligned

__all__ = ["ASPECT_WORDS", "POLARITY_WORDS", "SARCASM_CUES", "SyntheticConfig", "make_synthetic", "write_mosi_shaped"]

POLARITY_WORDS = ("awful", "bad", "mediocre", "okay", "good", "great", "superb")
ASPECT_WORDS = ("dreadful", "weak", "dull", "decent", "solid", "excellent", "brilliant")
SARCASM_CUES = ("yeah right,", "oh sure,", "as if,")
_OPENERS = ("well,", "so,", "honestly,", "i mean,", "you know,")
_SUBJECTS = ("the movie", "this film", "the show", "this one")
_ASPECTS = ("plot", "story", "script", "dialogue", "soundtrack")
_TAILS = ("", "to be honest", "i guess", "in my opinion", "if you ask me", "at least for me")
_TEMPLATES = (
    "{cue} {subject} was {pol} and the {aspect} was {asp} {tail}",
    "{cue} the {aspect} was {asp} but overall {subject} was {pol} {tail}",
    "{cue} i found {subject} {pol} {tail} and the {aspect} {asp}",
    "{cue} the {aspect} felt {asp} and i would call {subject} {pol} {tail}",
)
_SEPTILES = np.array([NormalDist().inv_cdf(k / 7) for k in range(1, 7)])
_CLIPS_PER_VIDEO = 8
_WEIGHTS = ("shared", "text_specific", "audio_specific", "visual_specific", "complementary")


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes, shapes and factor weights of :func:`make_synthetic` (model: module docstring).

    Args:
        shared, text_specific, audio_specific, visual_specific, complementary: weights
            :math:`w_s, w_t, w_a, w_v, w_c` >= 0 of the factors in the score, not all 0.
        noise: standard deviation of the label noise, in score units, >= 0.
        observation_noise: :math:`\\sigma`, how noisily the factors show in words and frames, >= 0.
        n_train, n_valid, n_test: split sizes (default: CMU-MOSI's), >= 1.
        audio_len, vision_len: padded lengths L_a, L_v, >= min_len.
        audio_dim (>= 3), vision_dim (>= 2): frame widths d_a, d_v.
        min_len: shortest true length, >= 2 (the pitch contour needs two frames).

    Raises:
        ValueError: naming the first invalid field.
    """

    shared: float = 1.0
    text_specific: float = 0.5
    audio_specific: float = 0.5
    visual_specific: float = 0.5
    complementary: float = 0.7
    noise: float = 0.2
    observation_noise: float = 0.5
    n_train: int = 1284
    n_valid: int = 229
    n_test: int = 686
    audio_len: int = 40
    audio_dim: int = 5
    vision_len: int = 40
    vision_dim: int = 20
    min_len: int = 8

    def __post_init__(self) -> None:
        for name in (*_WEIGHTS, "noise", "observation_noise"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value >= 0):
                raise ValueError(f"SyntheticConfig.{name} must be a finite number >= 0; got {value!r}.")
        if not any(getattr(self, name) > 0 for name in _WEIGHTS):
            raise ValueError(f"SyntheticConfig: at least one of {', '.join(_WEIGHTS)} must be > 0.")
        minimums = {"n_train": 1, "n_valid": 1, "n_test": 1, "audio_dim": 3, "vision_dim": 2, "min_len": 2}
        for name, low in (*minimums.items(), ("audio_len", self.min_len), ("vision_len", self.min_len)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"SyntheticConfig.{name} must be an int >= {low}; got {value!r}.")


def _levels(factor: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Septile (0..6) of the noisy, standardised factor: which of 7 graded words renders it."""
    observed = (factor + sigma * rng.standard_normal(len(factor))) / math.sqrt(1 + sigma**2)
    return np.searchsorted(_SEPTILES, observed)


def _sentences(shared: np.ndarray, text: np.ndarray, cue: np.ndarray, sigma: float, rng: np.random.Generator) -> list[str]:
    """One lower-case sentence per utterance, rendering the shared and text factors and the text cue."""
    polarity, aspect = _levels(shared, sigma, rng), _levels(text, sigma, rng)
    sentences = []
    for k_pol, k_asp, has_cue in zip(polarity, aspect, cue):
        cues = SARCASM_CUES if has_cue else _OPENERS
        sentence = _TEMPLATES[rng.integers(len(_TEMPLATES))].format(
            cue=cues[rng.integers(len(cues))],
            subject=_SUBJECTS[rng.integers(len(_SUBJECTS))],
            aspect=_ASPECTS[rng.integers(len(_ASPECTS))],
            tail=_TAILS[rng.integers(len(_TAILS))],
            pol=POLARITY_WORDS[k_pol],
            asp=ASPECT_WORDS[k_asp],
        )
        sentences.append(" ".join(sentence.split()))  # an empty tail leaves a double space
    return sentences


def _frames(channels: list[np.ndarray], lengths: np.ndarray, shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """(N, L, d) valid-first frames: ``channels[c]`` ((N,) or (N, L)) plus noise in the first channels, noise in the rest."""
    n, (max_len, dim) = len(lengths), shape
    nuisance = rng.standard_normal((n, 1, dim), dtype=np.float32)
    frames = sigma * (nuisance + rng.standard_normal((n, max_len, dim), dtype=np.float32))
    for c, signal in enumerate(channels):
        frames[:, :, c] += signal if signal.ndim == 2 else signal[:, None]
    frames *= (np.arange(max_len)[None, :] < lengths[:, None])[:, :, None]
    return frames


def _lengths(duration: np.ndarray, min_len: int, max_len: int) -> np.ndarray:
    """(N,) int64 true lengths ``min_len + floor(u (max_len - min_len + 1))`` for durations u in [0, 1)."""
    lengths = min_len + np.floor(duration * (max_len - min_len + 1)).astype(np.int64)
    return np.minimum(lengths, max_len)  # u * k can round up to k in floating point when u is within 2**-53 of 1


def _split(config: SyntheticConfig, name: str, n: int, first_video: int, rng: np.random.Generator) -> SentimentSplit:
    """One split of ``n`` utterances from videos numbered from ``first_video``."""
    shared, text, audio, visual = rng.standard_normal((4, n)).astype(np.float32)
    b_text, b_audio = rng.integers(0, 2, size=(2, n))
    b = b_text ^ b_audio
    weights = np.array([getattr(config, w) for w in _WEIGHTS])
    signal = weights @ np.stack([shared, text, audio, visual, 2.0 * b - 1]) * (1.5 / np.linalg.norm(weights))
    labels = np.clip(signal + config.noise * rng.standard_normal(n), -LABEL_BOUND, LABEL_BOUND)

    duration = rng.random(n)
    lengths = {m: _lengths(duration, config.min_len, getattr(config, f"{m}_len")) for m in ("audio", "vision")}
    ramp = np.arange(config.audio_len)[None, :] / (lengths["audio"][:, None] - 1)
    sigma = config.observation_noise
    contour = (2.0 * b_audio - 1)[:, None] * ramp
    audio_frames = _frames([shared, contour, audio], lengths["audio"], (config.audio_len, config.audio_dim), sigma, rng)
    vision_frames = _frames([shared, visual], lengths["vision"], (config.vision_len, config.vision_dim), sigma, rng)

    videos = first_video + np.arange(n) // _CLIPS_PER_VIDEO
    # Every third video id holds an underscore, as real ones do ("_dI--eQ6qVU"): ids split at the last one.
    ids = [f"syn{'_' if v % 3 == 0 else ''}{v:04d}_{i % _CLIPS_PER_VIDEO + 1}" for i, v in enumerate(videos)]
    return SentimentSplit(
        name=name,
        ids=ids,
        labels=labels.astype(np.float32),
        audio=audio_frames,
        audio_lengths=lengths["audio"],
        vision=vision_frames,
        vision_lengths=lengths["vision"],
        text=_sentences(shared, text, b_text, sigma, rng),
        latents={
            "shared": shared,
            "text": text,
            "audio": audio,
            "visual": visual,
            "b_text": b_text.astype(np.float32),
            "b_audio": b_audio.astype(np.float32),
            "complementary": b.astype(np.float32),
        },
    )


def make_synthetic(config: SyntheticConfig = SyntheticConfig(), *, seed: int = 0) -> SentimentData:
    """Draw a synthetic dataset (model: module docstring) named "synthetic".

    Args:
        config: sizes, shapes and weights.
        seed: seed >= 0; each split has its own stream, so changing one split's size leaves the others unchanged.

    Returns:
        ``SentimentData`` with raw ``text`` (no ``text_features``) and the factors in each split's ``latents``.
    """
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
    sizes = (config.n_train, config.n_valid, config.n_test)
    first_videos = np.cumsum([0] + [-(-n // _CLIPS_PER_VIDEO) for n in sizes])  # each split starts a new video
    splits = {name: _split(config, name, n, int(v), rng) for name, n, v, rng in zip(SPLIT_NAMES, sizes, first_videos, streams)}
    return SentimentData(**splits, name="synthetic")


def write_mosi_shaped(out_dir: str | Path, *, seed: int = 0, sizes: tuple[int, int, int] = (1284, 229, 686)) -> tuple[Path, Path]:
    """Write a synthetic dataset with CMU-MOSI's split sizes and unaligned shapes as MulT / MMIM files.

    Audio 375 x 5 and vision 500 x 20 frames, true lengths uniform from 20 to the maximum
    (about 150 MB in all at MOSI's sizes); see :func:`write_unaligned` for the files.

    Args:
        out_dir: folder to write into.
        seed: data seed.
        sizes: utterances of train / valid / test (default CMU-MOSI's).

    Returns:
        (pickle path, CSV path) in ``out_dir``.
    """
    n_train, n_valid, n_test = sizes
    config = SyntheticConfig(n_train=n_train, n_valid=n_valid, n_test=n_test, audio_len=375, audio_dim=5, vision_len=500, vision_dim=20, min_len=20)
    return write_unaligned(make_synthetic(config, seed=seed), out_dir)
