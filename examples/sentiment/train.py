r"""Two-stage training of MIMRL, evaluation, logging, checkpoints and resume.

Each epoch:

1. **bank** — the training split's features, one row per utterance, and one
   :class:`~examples.sentiment.mi_terms.FeatureBank` (k-NN samplers built once) that serves the
   whole epoch. By default (``bank="stage2"``) the rows are the features the previous epoch's
   stage 2 computed anyway (train mode, detached, each row from the model as it was when its
   batch passed), so no extra pass over the training split is needed; the first epoch, and
   ``bank="pass"``, compute them in a separate pass under the current model (eval mode, no grad).
2. **stage 1** — ``stage1_passes`` passes over those *fixed* features updating only the 11
   estimators (maximise the MI bounds, minimise the CMINE cross-entropies). The encoders do not
   change in stage 1, so the features are computed once and nothing is back-propagated into them.
3. **stage 2** — one pass updating the model with :math:`L_1 - \sum_j w_j\,\mathrm{term}_j`
   (estimators frozen, gradients clipped to ``clip``); product triples come from the bank.
4. **evaluate** — MAE, Corr, Acc-2, F1, Acc-7 on valid and test; the 8 terms on the validation
   split, read by the estimators that were trained on the training split only.

The epoch with the lowest **validation** MAE is selected; its test metrics are reported.

The first ``warmup_epochs`` epochs (the authors: 1) are a warm-up on :math:`L_1` alone: no bank,
no stage 1, no MI terms. ``clip_mode="norm"`` clips the norm of the model's gradient in stage 2;
``"value"`` (the authors') clips every gradient value to ±``clip``, the estimators' in stage 1
and the model's in stage 2. The estimators' learning rate is ``mi_lr`` (None: ``lr``), fixed or,
with ``mi_lr_schedule="model"``, decayed with the model's.

**Several processes** (``torchrun --nproc_per_node N -m examples.sentiment train ...``; see
:func:`init_distributed`): every rank loads the same data and draws the same global batches
of ``batch_size`` from the shared seed; rank ``r`` takes the contiguous share
:func:`miestim.distributed.rank_slice` of each (the role of a ``DistributedSampler``, but
without its interleaving and its padding with duplicate samples, so the global batch and its
order are exactly those of one process). The model is wrapped in ``DistributedDataParallel``;
the loss of a rank is its share of the task loss (weighted by its share of the batch) minus
the MI terms of the *global* batch (see :mod:`examples.sentiment.mi_terms`), so the averaged
gradients are one process's. The feature bank is computed in shares and gathered (a separate
pass), or each rank keeps the stage-2 rows of its shares and a sum over the ranks fills in the
others', so every rank holds the whole bank; the k-NN tables are built in shares and gathered. Evaluation runs on
shares of each split and the predictions are gathered in order before the metrics. Rank 0
alone writes the checkpoint, log and report and shows progress. With dropout, each rank
draws its own masks, so a multi-process run matches one process in distribution, not bit
for bit; with ``dropout=0`` it matches up to float rounding.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from miestim.distributed import all_gather, average_gradients, get_rank, get_world_size, is_distributed, rank_slice, sum_values

from .config import TrainConfig
from .data import SentimentData
from .metrics import format_metrics, sentiment_metrics
from .mi_terms import TERM_NAMES, MITerms
from .model import MIMRLModel
from .prepare import TensorSplit, load_data, prepare_splits
from .progress import phase_progress

__all__ = ["BANK_SOURCES", "Trainer", "init_distributed", "plot_history", "train"]

MODALITIES = ("t", "a", "v", "f")
BANK_SOURCES = ("stage2", "pass")


def resolve_device(device: str) -> torch.device:
    """``"auto"`` picks CUDA when available; anything else is passed to :class:`torch.device`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available; use --device cpu or auto.")
    return resolved


def init_distributed(device: str) -> bool:
    """Join the process group of a ``torchrun`` launch (``WORLD_SIZE`` > 1 in the environment).

    The backend follows the device: NCCL for CUDA (each process on GPU ``LOCAL_RANK``), gloo on
    the CPU. Returns whether a group was initialised here (the caller then destroys it); False
    for a single process or when a group already exists.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    cuda = resolve_device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    return True


def _check_shares(n_train: int, batch_size: int, world: int) -> None:
    """Every rank needs at least one sample of every global training batch."""
    tail = n_train % batch_size
    if world > 1 and (batch_size < world or 0 < tail < world):
        raise ValueError(
            f"with {world} processes every global batch needs at least {world} samples; batch_size={batch_size} on "
            f"{n_train} training samples leaves a last batch of {tail or batch_size}. Choose another batch size."
        )


class Trainer:
    """One training run: builds data, model, estimators and optimisers from a :class:`TrainConfig`.

    Under ``torchrun`` (a process group initialised by :func:`init_distributed`) each
    process builds a ``Trainer`` with the same config; see the module docstring.

    Args:
        config: the run's settings.
        data: an already loaded dataset (default: ``load_data(config)``).
        bank: where each epoch's bank features come from: ``"stage2"`` (default; the previous
            epoch's stage-2 features) or ``"pass"`` (a separate pass over the training split).

    Raises:
        ValueError: an unknown ``bank``.
    """

    def __init__(self, config: TrainConfig, data: SentimentData | None = None, *, bank: str = "stage2") -> None:
        if bank not in BANK_SOURCES:
            raise ValueError(f"bank must be one of {BANK_SOURCES}; got {bank!r}.")
        self.config = config
        self.bank = bank
        self._kept_features: dict[str, torch.Tensor] | None = None  # the last stage-2 pass's features, for the next bank
        self.rank, self.world = get_rank(), get_world_size()
        self.main = self.rank == 0
        self.device = resolve_device(config.device)
        if self.device.type == "cuda" and is_distributed():
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        self.data = data if data is not None else load_data(config)
        # Rank 0 fills the text cache first; the others then read it instead of encoding again.
        if is_distributed() and not self.main:
            dist.barrier()
        self.splits, text_encoder, text_dim = prepare_splits(config, self.data)
        if is_distributed() and self.main:
            dist.barrier()
        _check_shares(len(self.splits["train"]), config.batch_size, self.world)
        train = self.data.train
        shapes = config.fusion_shapes
        self.model = MIMRLModel(
            text_dim,
            train.audio.shape[2],
            train.vision.shape[2],
            d=config.d,
            encoder=config.encoder,
            rnn_style=config.rnn_style,
            text_projection=config.text_projection,
            fusion=config.fusion,
            fusion_activation=config.fusion_activation,
            fusion_len=config.fusion_len,
            fusion_blocks=config.fusion_blocks,
            fusion_shapes=[(config.fusion_len, 3, config.d)] + [shapes[i : i + 3] for i in range(0, len(shapes), 3)] if shapes else None,
            dropout=config.dropout,
            fusion_dropout=config.fusion_dropout,
            text_encoder=text_encoder,
        ).to(self.device)
        # What stage 2 calls: the DDP wrapper averages the gradients over the ranks (the model itself in one process).
        self.net: torch.nn.Module = self.model
        if is_distributed():
            self.net = DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        critic = {"hidden": config.critic_hidden, "embed_dim": config.critic_embed, "activation": config.critic_activation}
        self.mi = MITerms(
            config.d, config.weights, estimator=config.estimator, k=config.k, critic_kwargs=critic, cmine_hidden=config.cmine_hidden
        ).to(self.device)

        text_params = list(text_encoder.parameters()) if text_encoder is not None and config.text_mode == "finetune" else []
        text_ids = {id(p) for p in text_params}
        self.optimizers = {"model": torch.optim.Adam([p for p in self.model.parameters() if id(p) not in text_ids and p.requires_grad], lr=config.lr)}
        if text_params:
            self.optimizers["text"] = torch.optim.Adam(text_params, lr=config.lr * config.text_lr_scale)
        if self.mi.active:
            self.optimizers["mi"] = torch.optim.Adam(self.mi.parameters(), lr=config.lr if config.mi_lr is None else config.mi_lr)
        self.schedulers = {
            name: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(config.decay_epochs), gamma=config.decay_gamma)
            for name, opt in self.optimizers.items()
            if name != "mi" or config.mi_lr_schedule == "model"
        }
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None

    # ------------------------------------------------------------------ helpers
    def _batches(self, n: int, *, shuffle: bool) -> list[torch.Tensor]:
        order = torch.randperm(n, generator=self.shuffle) if shuffle else torch.arange(n)
        batches = list(order.split(self.config.batch_size))
        if len(batches) > 1 and len(batches[-1]) == 1:
            # One sample has no negatives for the MI terms' bounds: it joins the previous batch rather than being dropped.
            batches[-2:] = [torch.cat(batches[-2:])]
        return batches

    def _bar(self, items, desc: str):
        return phase_progress(items, f"epoch {self.epoch} {desc}", enabled=self.config.progress and self.main)

    @torch.no_grad()
    def features(self, split: TensorSplit) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Utterance vectors ``{"t", "a", "v", "f"}`` (N, d) and scores (N,) of a split, eval mode.

        Under ``torchrun`` each rank computes its contiguous share of the split and the
        results are gathered in rank order, so every rank returns the whole split.
        """
        self.model.eval()
        parts: dict[str, list[torch.Tensor]] = {key: [] for key in (*MODALITIES, "score")}
        rows = torch.arange(len(split))[rank_slice(len(split))]
        for index in rows.split(self.config.batch_size):
            out = self.model(split.batch(index, self.device))
            for key, collected in parts.items():
                collected.append(out[key])
        scores = all_gather(torch.cat(parts.pop("score")))
        return {key: all_gather(torch.cat(value)) for key, value in parts.items()}, scores

    def _seed(self, *salt: int) -> int:
        return (self.config.seed * 1_000_003 + self.epoch * 1_009 + sum(salt)) % 2**31

    def _bank_features(self) -> dict[str, torch.Tensor]:
        """This epoch's bank rows: the previous stage-2 pass's features when kept, else a pass over the training split."""
        if self.bank == "stage2" and self._kept_features is not None:
            return self._kept_features
        features, _ = self.features(self.splits["train"])
        return features

    # ------------------------------------------------------------------ one epoch
    def _stage1(self, bank_features: dict[str, torch.Tensor], labels: torch.Tensor, bank) -> float:
        self.mi.train().requires_grad_(True)
        opt, total, steps = self.optimizers["mi"], 0.0, 0
        for _ in range(self.config.stage1_passes):
            for index in self._bar(self._batches(len(labels), shuffle=True), "stage 1"):
                index = index.to(self.device)
                share = index[rank_slice(len(index))]
                # The loss of the global batch, the same on every rank (see mi_terms).
                loss = self.mi.estimator_loss({k: v[share] for k, v in bank_features.items()}, labels[share], bank, index)
                _check_finite(loss, "stage 1 estimator loss", self.epoch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                average_gradients(self.mi.parameters())
                if self.config.clip_mode == "value":
                    torch.nn.utils.clip_grad_value_(self.mi.parameters(), self.config.clip)
                opt.step()
                total, steps = total + loss.item(), steps + 1
        return total / max(steps, 1)

    def _stage2(self, bank) -> dict[str, float]:
        self.model.train()
        self.mi.eval().requires_grad_(False)
        train = self.splits["train"]
        terms_on = bank is not None  # no bank: a warm-up epoch, or no term has a weight
        sums = {"task_loss": 0.0, "objective": 0.0, **{f"train_{name}": 0.0 for name in TERM_NAMES if self.mi.weights[name] and terms_on}}
        mi_seconds, steps = 0.0, 0
        kept: dict[str, torch.Tensor] | None = {} if self.mi.active and self.bank == "stage2" else None
        for index in self._bar(self._batches(len(train), shuffle=True), "stage 2"):
            share = index[rank_slice(len(index))]
            fraction = len(share) / len(index)  # this rank's share of the global batch (1 in one process)
            batch = train.batch(share, self.device)
            out = self.net(batch)
            _keep_rows(kept, len(train), share.to(self.device), out)
            task = F.l1_loss(out["score"], batch["labels"])
            # DDP averages over the ranks: weighting by world * fraction makes that the global batch's mean.
            loss = task * (self.world * fraction)
            objective = torch.zeros((), device=self.device)
            if terms_on:
                start = time.perf_counter()
                terms = self.mi.terms(self.mi.estimates({m: out[m] for m in MODALITIES}, batch["labels"], bank, index.to(self.device)))
                objective = self.mi.objective(terms)  # of the global batch, the same on every rank
                loss = loss - objective
                mi_seconds += time.perf_counter() - start
                for name, value in terms.items():
                    sums[f"train_{name}"] += value.item()
            _check_finite(loss, "stage 2 loss", self.epoch)
            for opt in (o for n, o in self.optimizers.items() if n != "mi"):
                opt.zero_grad(set_to_none=True)
            loss.backward()
            trained = [p for p in self.model.parameters() if p.requires_grad]
            if self.config.clip_mode == "value":
                torch.nn.utils.clip_grad_value_(trained, self.config.clip)
            else:
                torch.nn.utils.clip_grad_norm_(trained, self.config.clip)
            for opt in (o for n, o in self.optimizers.items() if n != "mi"):
                opt.step()
            sums["task_loss"] += task.item() * fraction
            sums["objective"] += objective.item()
            steps += 1
        (sums["task_loss"],) = sum_values([sums["task_loss"]])  # the global batches' task losses
        if kept is not None:
            self._kept_features = _gather_kept(kept)
        means = {key: value / steps for key, value in sums.items()}
        objective = means.pop("objective")
        row = {"task_loss": means["task_loss"], "loss": means["task_loss"] - objective, **means}
        row["seconds_mi_forward"] = mi_seconds
        return row

    def _evaluate(self) -> dict[str, float]:
        row: dict[str, float] = {}
        for name in ("valid", "test"):
            split = self.splits[name]
            features, scores = self.features(split)
            for key, value in sentiment_metrics(scores.cpu().numpy(), split.labels.numpy()).items():
                row[f"{name}_{key}"] = value
            if name == "valid" and self._terms_on():
                labels = split.labels.to(self.device)
                held_out = self.mi.held_out(features, labels, batch_size=min(self.config.batch_size, len(split)), seed=self._seed(7))
                row.update({f"valid_{key}": value for key, value in held_out.items() if key in TERM_NAMES})
        return row

    def _terms_on(self) -> bool:
        """Whether this epoch estimates the MI terms: some term has a weight and the warm-up is over."""
        return self.mi.active and self.epoch > self.config.warmup_epochs

    def run_epoch(self) -> dict[str, Any]:
        """Bank, stage 1, stage 2, LR decay and evaluation of the next epoch; returns its log row."""
        self.epoch += 1
        if self.world > 1:  # dropout masks: a stream of its own per rank and epoch
            torch.manual_seed(self._seed(11 + self.rank))
        row: dict[str, Any] = {"epoch": self.epoch, "lr": self.optimizers["model"].param_groups[0]["lr"]}
        start = time.perf_counter()
        bank = None
        if self._terms_on():
            features = self._bank_features()
            row["seconds_bank_features"] = time.perf_counter() - start
            labels = self.splits["train"].labels.to(self.device)
            bank = self.mi.make_bank(features, labels, seed=self._seed(1))
            row["seconds_bank"] = time.perf_counter() - start
            stage1 = time.perf_counter()
            row["stage1_loss"] = self._stage1(features, labels, bank) if self.config.stage1_passes else float("nan")
            row["seconds_stage1"] = time.perf_counter() - stage1
        elif "mi" in self.schedulers:  # warm-up: a step without gradients (a no-op, as in the authors' Solver) lets the
            self.optimizers["mi"].step()  # estimators' schedule count this epoch without PyTorch's step-order warning
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
            if self.main:
                torch.save(self.model.state_dict(), self.out / "best_model.pt")
        return row

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "history": self.history,
            "best": self.best,
            "model": self.model.state_dict(),
            "mi": self.mi.state_dict(),
            "bank_features": self._kept_features,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "rng": {
                "shuffle": self.shuffle.get_state(),
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
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
        self._kept_features = state.get("bank_features")

    # ------------------------------------------------------------------ the run
    def fit(self, *, resume: bool = False) -> dict[str, Any]:
        """Train to ``config.epochs`` (continuing a checkpoint when ``resume``) and write the report."""
        if resume:
            self.load_checkpoint()
        while self.epoch < self.config.epochs:
            row = self.run_epoch()
            if self.main:
                self.save_checkpoint()
                _write_log(self.out / "log.csv", self.history)
            if self.config.progress and self.main:
                tqdm.write(f"epoch {row['epoch']:3d}  valid {_summary(row, 'valid')}  test {_summary(row, 'test')}  {row['seconds_epoch']:.1f}s")
        return self.report()

    def report(self) -> dict[str, Any]:
        """``report.json`` (+ ``report.png`` when matplotlib is installed; rank 0 writes them): test metrics at the best validation epoch."""
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
            "processes": self.world,
            "config": self.config.to_dict(),
        }
        if self.main:
            (self.out / "report.json").write_text(json.dumps(report, indent=2, default=float))
            _plot(self.history, self.out / "report.png")
        return report


def _summary(row: dict[str, Any], split: str) -> str:
    return format_metrics({k[len(split) + 1 :]: v for k, v in row.items() if k.startswith(f"{split}_")})


def _keep_rows(kept: dict[str, torch.Tensor] | None, n: int, rows: torch.Tensor, out: dict[str, torch.Tensor]) -> None:
    """Copy a stage-2 batch's features (detached) into rows ``rows`` of the (n, d) tensors of ``kept`` (None: keep nothing)."""
    if kept is None:
        return
    for key in MODALITIES:
        value = out[key].detach()
        if key not in kept:
            kept[key] = value.new_zeros(n, value.shape[1])
        kept[key].index_copy_(0, rows, value.to(kept[key].dtype))


def _gather_kept(kept: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every rank's kept rows in every rank's tensors (each row was filled by one rank and is zero on the others)."""
    if is_distributed():
        for value in kept.values():
            dist.all_reduce(value)
    return kept


def _check_finite(loss: torch.Tensor, what: str, epoch: int) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"{what} became {loss.item()} in epoch {epoch}; lower the learning rate or the MI weights, or resume from the last checkpoint (--resume)."
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
    fig = plot_history(history)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_history(history: list[dict[str, Any]]) -> Any:
    """The figure of ``report.png``: MAE, Acc-2 and the validation MI terms over the epochs of ``history`` (needs matplotlib).

    Every curve has a marker at each epoch, so a one-epoch run shows its values as points.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    style = {"marker": "o", "markersize": 4}
    for split in ("valid", "test"):
        axes[0].plot(epochs, [row[f"{split}_mae"] for row in history], label=f"{split} MAE", **style)
        axes[1].plot(epochs, [100 * row[f"{split}_acc2_non0"] for row in history], label=f"{split} Acc-2 non0 (%)", **style)
    for name in TERM_NAMES:  # absent in warm-up epochs
        if any(f"valid_{name}" in row for row in history):
            axes[2].plot(epochs, [row.get(f"valid_{name}", float("nan")) for row in history], label=name, **style)
    for ax, title in zip(axes, ("MAE", "Acc-2", "MI terms on validation (nats)")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # one epoch: a tick at 1, not at 0.96, 0.98, ...
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def train(config: TrainConfig, *, resume: bool = False, data: SentimentData | None = None, bank: str = "stage2") -> dict[str, Any]:
    """Run :class:`Trainer` to the end and return its report (see :meth:`Trainer.report`)."""
    return Trainer(config, data, bank=bank).fit(resume=resume)
