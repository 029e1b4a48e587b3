r"""Two-stage training of MIMRL, evaluation, logging, checkpoints and resume.

Each epoch:

1. **bank** — the training split's features under the current model (eval mode, no grad),
   i.e. the model as the previous epoch left it; one :class:`~examples.sentiment.mi_terms.FeatureBank`
   (k-NN samplers built once) serves the whole epoch.
2. **stage 1** — ``stage1_passes`` passes over those *fixed* features updating only the 11
   estimators (maximise the MI bounds, minimise the CMINE cross-entropies). The encoders do not
   change in stage 1, so the features are computed once and nothing is back-propagated into them.
3. **stage 2** — one pass updating the model with :math:`L_1 - \sum_j w_j\,\mathrm{term}_j`
   (estimators frozen, gradients clipped to ``clip``); product triples come from the bank.
4. **evaluate** — MAE, Corr, Acc-2, F1, Acc-7 on valid and test; the 8 terms on the validation
   split, read by the estimators that were trained on the training split only.

The epoch with the lowest **validation** MAE is selected; its test metrics are reported.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .config import TrainConfig
from .data import SentimentData
from .metrics import format_metrics, sentiment_metrics
from .mi_terms import TERM_NAMES, MITerms
from .model import MIMRLModel
from .prepare import TensorSplit, load_data, prepare_splits

__all__ = ["Trainer", "train"]

MODALITIES = ("t", "a", "v", "f")


def resolve_device(device: str) -> torch.device:
    """``"auto"`` picks CUDA when available; anything else is passed to :class:`torch.device`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available; use --device cpu or auto.")
    return resolved


class Trainer:
    """One training run: builds data, model, estimators and optimisers from a :class:`TrainConfig`.

    Args:
        config: the run's settings.
        data: an already loaded dataset (default: ``load_data(config)``).
    """

    def __init__(self, config: TrainConfig, data: SentimentData | None = None) -> None:
        self.config = config
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.device = resolve_device(config.device)
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        self.data = data if data is not None else load_data(config)
        self.splits, text_encoder, text_dim = prepare_splits(config, self.data)
        train = self.data.train
        self.model = MIMRLModel(
            text_dim, train.audio.shape[2], train.vision.shape[2], d=config.d, encoder=config.encoder,
            fusion_len=config.fusion_len, fusion_blocks=config.fusion_blocks, dropout=config.dropout, text_encoder=text_encoder,
        ).to(self.device)
        self.mi = MITerms(config.d, config.weights, estimator=config.estimator, k=config.k).to(self.device)

        text_params = list(text_encoder.parameters()) if text_encoder is not None and config.text_mode == "finetune" else []
        text_ids = {id(p) for p in text_params}
        self.optimizers = {"model": torch.optim.Adam([p for p in self.model.parameters() if id(p) not in text_ids and p.requires_grad], lr=config.lr)}
        if text_params:
            self.optimizers["text"] = torch.optim.Adam(text_params, lr=config.lr * config.text_lr_scale)
        if self.mi.active:
            self.optimizers["mi"] = torch.optim.Adam(self.mi.parameters(), lr=config.mi_lr)
        self.schedulers = {
            name: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(config.decay_epochs), gamma=config.decay_gamma)
            for name, opt in self.optimizers.items() if name != "mi"
        }
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None

    # ------------------------------------------------------------------ helpers
    def _batches(self, n: int, *, shuffle: bool) -> list[torch.Tensor]:
        order = torch.randperm(n, generator=self.shuffle) if shuffle else torch.arange(n)
        return list(order.split(self.config.batch_size))

    def _bar(self, items, desc: str):
        return tqdm(items, desc=desc, leave=False, disable=not self.config.progress)

    @torch.no_grad()
    def features(self, split: TensorSplit) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Utterance vectors ``{"t", "a", "v", "f"}`` (N, d) and scores (N,) of a split, eval mode."""
        self.model.eval()
        parts: dict[str, list[torch.Tensor]] = {key: [] for key in (*MODALITIES, "score")}
        for index in self._batches(len(split), shuffle=False):
            out = self.model(split.batch(index, self.device))
            for key in parts:
                parts[key].append(out[key])
        scores = torch.cat(parts.pop("score"))
        return {key: torch.cat(value) for key, value in parts.items()}, scores

    def _seed(self, *salt: int) -> int:
        return (self.config.seed * 1_000_003 + self.epoch * 1_009 + sum(salt)) % 2**31

    # ------------------------------------------------------------------ one epoch
    def _stage1(self, bank_features: dict[str, torch.Tensor], labels: torch.Tensor, bank) -> float:
        self.mi.train().requires_grad_(True)
        opt, total, steps = self.optimizers["mi"], 0.0, 0
        for _ in range(self.config.stage1_passes):
            for index in self._bar(self._batches(len(labels), shuffle=True), "stage 1"):
                index = index.to(self.device)
                loss = self.mi.estimator_loss({k: v[index] for k, v in bank_features.items()}, labels[index], bank, index)
                _check_finite(loss, "stage 1 estimator loss", self.epoch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total, steps = total + loss.item(), steps + 1
        return total / max(steps, 1)

    def _stage2(self, bank) -> dict[str, float]:
        self.model.train()
        self.mi.eval().requires_grad_(False)
        train = self.splits["train"]
        sums = {"task_loss": 0.0, "loss": 0.0, **{f"train_{name}": 0.0 for name in TERM_NAMES if self.mi.weights[name]}}
        mi_seconds, steps = 0.0, 0
        for index in self._bar(self._batches(len(train), shuffle=True), "stage 2"):
            batch = train.batch(index, self.device)
            out = self.model(batch)
            task = F.l1_loss(out["score"], batch["labels"])
            loss = task
            if self.mi.active:
                start = time.perf_counter()
                terms = self.mi.terms(self.mi.estimates({m: out[m] for m in MODALITIES}, batch["labels"], bank, batch["index"]))
                loss = task - self.mi.objective(terms)
                mi_seconds += time.perf_counter() - start
                for name, value in terms.items():
                    sums[f"train_{name}"] += value.item()
            _check_finite(loss, "stage 2 loss", self.epoch)
            for opt in (o for n, o in self.optimizers.items() if n != "mi"):
                opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], self.config.clip)
            for opt in (o for n, o in self.optimizers.items() if n != "mi"):
                opt.step()
            sums["task_loss"] += task.item()
            sums["loss"] += loss.item()
            steps += 1
        row = {key: value / steps for key, value in sums.items()}
        row["seconds_mi_forward"] = mi_seconds
        return row

    def _evaluate(self) -> dict[str, float]:
        row: dict[str, float] = {}
        for name in ("valid", "test"):
            split = self.splits[name]
            features, scores = self.features(split)
            for key, value in sentiment_metrics(scores.cpu().numpy(), split.labels.numpy()).items():
                row[f"{name}_{key}"] = value
            if name == "valid" and self.mi.active:
                labels = split.labels.to(self.device)
                held_out = self.mi.held_out(features, labels, batch_size=min(self.config.batch_size, len(split)), seed=self._seed(7))
                row.update({f"valid_{key}": value for key, value in held_out.items() if key in TERM_NAMES})
        return row

    def run_epoch(self) -> dict[str, Any]:
        """Bank, stage 1, stage 2, LR decay and evaluation of the next epoch; returns its log row."""
        self.epoch += 1
        row: dict[str, Any] = {"epoch": self.epoch, "lr": self.optimizers["model"].param_groups[0]["lr"]}
        start = time.perf_counter()
        bank = None
        if self.mi.active:
            features, _ = self.features(self.splits["train"])
            labels = self.splits["train"].labels.to(self.device)
            bank = self.mi.make_bank(features, labels, seed=self._seed(1))
            row["seconds_bank"] = time.perf_counter() - start
            stage1 = time.perf_counter()
            row["stage1_loss"] = self._stage1(features, labels, bank) if self.config.stage1_passes else float("nan")
            row["seconds_stage1"] = time.perf_counter() - stage1
        stage2 = time.perf_counter()
        row.update(self._stage2(bank))
        row["seconds_stage2"] = time.perf_counter() - stage2
        for scheduler in self.schedulers.values():
            scheduler.step()
        row["seconds_train"] = time.perf_counter() - start
        row.update(self._evaluate())
        row["seconds_epoch"] = time.perf_counter() - start
        self.history.append(row)
        if self.best is None or row["valid_mae"] < self.best["valid_mae"]:
            self.best = dict(row)
            torch.save(self.model.state_dict(), self.out / "best_model.pt")
        return row

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(), "epoch": self.epoch, "history": self.history, "best": self.best,
            "model": self.model.state_dict(), "mi": self.mi.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "rng": {"shuffle": self.shuffle.get_state(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
        }

    def save_checkpoint(self) -> Path:
        """Write ``checkpoint.pt`` (everything needed to resume) atomically."""
        path = self.out / "checkpoint.pt"
        tmp = path.with_suffix(".tmp")
        torch.save(self.state_dict(), tmp)
        tmp.replace(path)
        return path

    def load_checkpoint(self, path: Path | None = None) -> None:
        """Restore a run from ``checkpoint.pt``; training continues with the next epoch."""
        path = Path(path) if path else self.out / "checkpoint.pt"
        if not path.exists():
            raise FileNotFoundError(f"no checkpoint to resume from at {path}.")
        state = torch.load(path, map_location=self.device, weights_only=False)
        saved = {k: (tuple(v) if isinstance(v, list) else v) for k, v in state["config"].items()}
        ours = {k: (tuple(v) if isinstance(v, list) else v) for k, v in self.config.to_dict().items()}
        differ = sorted(k for k in ours if k not in ("epochs", "progress", "device", "num_threads") and saved.get(k) != ours[k])
        if differ:
            raise ValueError(f"checkpoint {path} was written with different settings for {differ}; resume with the same options.")
        self.model.load_state_dict(state["model"])
        self.mi.load_state_dict(state["mi"])
        for key, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][key])
        for key, sched in self.schedulers.items():
            sched.load_state_dict(state["schedulers"][key])
        self.shuffle.set_state(state["rng"]["shuffle"])
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.epoch, self.history, self.best = state["epoch"], state["history"], state["best"]

    # ------------------------------------------------------------------ the run
    def fit(self, *, resume: bool = False) -> dict[str, Any]:
        """Train to ``config.epochs`` (continuing a checkpoint when ``resume``) and write the report."""
        if resume:
            self.load_checkpoint()
        while self.epoch < self.config.epochs:
            row = self.run_epoch()
            self.save_checkpoint()
            _write_log(self.out / "log.csv", self.history)
            if self.config.progress:
                tqdm.write(f"epoch {row['epoch']:3d}  valid {_summary(row, 'valid')}  test {_summary(row, 'test')}  "
                           f"{row['seconds_epoch']:.1f}s")
        return self.report()

    def report(self) -> dict[str, Any]:
        """``report.json`` (+ ``report.png`` when matplotlib is installed): test metrics at the best validation epoch."""
        if self.best is None:
            raise ValueError("no epoch has been trained yet.")
        best = self.best
        report = {
            "selected_epoch": best["epoch"],
            "selection": "lowest validation MAE (the test split plays no part in the choice)",
            "valid": {k[6:]: v for k, v in best.items() if k.startswith("valid_") and k[6:] not in TERM_NAMES},
            "test": {k[5:]: v for k, v in best.items() if k.startswith("test_")},
            "mi_terms_valid_nats": {name: best[f"valid_{name}"] for name in TERM_NAMES if f"valid_{name}" in best},
            "seconds_per_epoch": float(np.mean([row["seconds_epoch"] for row in self.history])),
            "epochs": len(self.history),
            "device": str(self.device),
            "config": self.config.to_dict(),
        }
        (self.out / "report.json").write_text(json.dumps(report, indent=2, default=float))
        _plot(self.history, self.out / "report.png")
        return report


def _summary(row: dict[str, Any], split: str) -> str:
    return format_metrics({k[len(split) + 1:]: v for k, v in row.items() if k.startswith(f"{split}_")})


def _check_finite(loss: torch.Tensor, what: str, epoch: int) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"{what} became {loss.item()} in epoch {epoch}; lower the learning rate or the MI weights, "
            "or resume from the last checkpoint (--resume)."
        )


def _write_log(path: Path, history: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(key for row in history for key in row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)


def _plot(history: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for split in ("valid", "test"):
        axes[0].plot(epochs, [row[f"{split}_mae"] for row in history], label=f"{split} MAE")
        axes[1].plot(epochs, [100 * row[f"{split}_acc2_non0"] for row in history], label=f"{split} Acc-2 non0 (%)")
    for name in TERM_NAMES:
        if f"valid_{name}" in history[0]:
            axes[2].plot(epochs, [row[f"valid_{name}"] for row in history], label=name)
    for ax, title in zip(axes, ("MAE", "Acc-2", "MI terms on validation (nats)")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(config: TrainConfig, *, resume: bool = False, data: SentimentData | None = None) -> dict[str, Any]:
    """Run :class:`Trainer` to the end and return its report (see :meth:`Trainer.report`)."""
    return Trainer(config, data).fit(resume=resume)

