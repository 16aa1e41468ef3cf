"""The configuration of a training run: every field, and every per-task default."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from .. import tasks as tasks_module
from ..examples import CELLS

MODELS = CELLS
SCHEDULES = ("constant", "multistep", "plateau")


# What each task trains with unless told otherwise: the authors' hidden sizes
# (symbols 50, sine 200, language model 800) and the language model's dropout
# 0.5 (../shared/authors-settings.md); the other values are this project's.
# `TrainConfig` fills the fields left None from here, and `rnn-dyn train`
# passes None for flags not given, so the library and the CLI train the same
# model from the same settings.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "sine": dict(hidden=200, seq_len=400, batch_size=10, schedule="constant",
                 dropout=0.0, orbit_steps=1000, orbit_burn_in=900),
    "symbols": dict(hidden=50, seq_len=100, batch_size=100, schedule="constant",
                    dropout=0.0, orbit_steps=1000, orbit_burn_in=900),
    "lm": dict(hidden=800, seq_len=2, batch_size=100, schedule="plateau",
               dropout=0.5, orbit_steps=1600, orbit_burn_in=1500),
}  # fmt: skip


def _is_a(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's type (``int | None``, say)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_is_a(value, h) for h in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        return isinstance(value, tuple) and all(_is_a(v, item) for v in value)
    if hint is float:  # JSON writes 1.0 as 1
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json``).

    The fields that default to None here (sizes, schedule, dropout, orbit
    lengths) take the task's value from `TASK_DEFAULTS` when left None, so a
    config always holds the values it trains with.

    Attributes:
        task: ``"sine"``, ``"symbols"`` or ``"lm"``.
        model: One of ``MODELS``.
        hidden: Hidden units.
        seq_len: Sequence length.
        epochs: Epochs to train.
        lr: Initial learning rate of Adam.
        batch_size: Minibatch size (the last incomplete batch is dropped).
        clip: Global gradient-norm clip (`optax.clip_by_global_norm`); 0: none.
        schedule: ``"constant"``, ``"multistep"`` (× ``gamma`` at each
            milestone epoch) or ``"plateau"`` (× ``factor`` after ``patience``
            epochs without a better validation loss, `optax.contrib`'s
            reduce-on-plateau).
        milestones: Epochs of the multistep schedule.
        gamma: Factor of the multistep schedule.
        patience: Patience of the plateau schedule, in epochs.
        factor: Factor of the plateau schedule.
        min_lr: Stop once every seed's learning rate is below this.
        seeds: Seeds trained together (vmapped).
        data_seed: Seed of the task's data.
        n_train: Training sequences (None: the task's default).
        n_val: Validation sequences (None: the task's default).
        learn_x0: Learn the initial state too (the sine task).
        loss_reduction: ``"mean"``: the gradient of the loss averaged over the
            batch (and time steps, and tokens); ``"sum"``: of the loss summed
            over them, as the authors' code does (so that, with their clip of
            0.25, almost every step is clipped).
        shuffle: Draw the minibatches in a new random order each epoch;
            False takes them in order, as the authors' code does.
        orbit_every: Record orbits every k epochs (and at epoch 0); 0: never.
        orbit_steps: Steps simulated per orbit.
        orbit_burn_in: Leading steps dropped from each orbit.
        orbit_inits: Random initial states per constant input.
        orbit_std: Standard deviation of those initial states (None: 100 as
            in the paper for sine and symbols; 1 for the language model,
            whose states from std 100 saturate every gate).
        stabilize: ``"clip"`` or ``"authors"``: the slstm projection mode.
        data: Corpus directory of the ``"lm"`` task (WikiText layout).
        train_split: ``"train"``: train on train.txt, validate on valid.txt,
            test on test.txt; ``"valid"``: train on valid.txt, validate on
            the first half of test.txt's tokens and test on the second half
            (the offline copy has no train.txt).
        embed: Embedding size of the language model (None: ``hidden``).
        bptt: Truncated-BPTT window of the language model.
        dropout: Dropout on embeddings and hidden vectors (language model).
        tied: Tie the decoder to the embedding (needs ``embed == hidden``).
        max_tokens: Use only the first tokens of each split (quick runs).
        orbit_words: Constant words of the language model's orbits; empty:
            two words drawn at random (from ``data_seed``).
        orbit_projections: Projections of the language model's orbits:
            ``"mean"``, ``"random[K]"`` or a word (see `rnn_dyn.orbit.projections`).
    """

    task: str = "symbols"
    model: str = "lstm"
    hidden: int | None = None  # None: from TASK_DEFAULTS[task], as each field there
    seq_len: int | None = None
    epochs: int = 100
    lr: float = 1e-3
    batch_size: int | None = None
    clip: float = 0.25
    schedule: str | None = None
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    patience: int = 7
    factor: float = 0.1
    min_lr: float = 0.0
    seeds: tuple[int, ...] = (0,)
    data_seed: int = 0
    n_train: int | None = None
    n_val: int | None = None
    learn_x0: bool = False
    loss_reduction: str = "mean"
    shuffle: bool = True
    orbit_every: int = 0
    orbit_steps: int | None = None
    orbit_burn_in: int | None = None
    orbit_inits: int = 5
    orbit_std: float | None = None
    stabilize: str = "clip"
    data: str | None = None
    train_split: str = "train"
    embed: int | None = None
    bptt: int = 70
    dropout: float | None = None
    tied: bool = False
    max_tokens: int | None = None
    orbit_words: tuple[str, ...] = ()
    orbit_projections: tuple[str, ...] = ("mean", "is", "<unk>")

    def __post_init__(self) -> None:
        """Fill the task's defaults; raise a one-line ValueError for a bad value."""
        names = tasks_module.TASKS
        if self.task not in names:
            raise ValueError(f"task must be one of {names}, got {self.task!r}")
        for name, value in TASK_DEFAULTS[self.task].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        sizes = {
            k: getattr(self, k) for k in ("hidden", "seq_len", "epochs", "batch_size")
        }
        checks = [
            (self.model in MODELS, f"model must be in {MODELS}, got {self.model!r}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (self.stabilize in ("clip", "authors"), "stabilize must be clip|authors"),
            (self.loss_reduction in ("mean", "sum"),
             f"loss_reduction must be mean|sum, got {self.loss_reduction!r}"),
            (self.task != "lm" or self.shuffle,
             "the language model reads its windows in order: no shuffle to turn off"),
            (min(sizes.values()) >= 1, f"sizes must be >= 1, got {sizes}"),
            (0 < self.lr < math.inf, f"lr must be finite and > 0, got {self.lr}"),
            (0 <= self.clip < math.inf, f"clip must be finite, >= 0: {self.clip}"),
            (0 < self.gamma < math.inf, f"gamma must be finite, > 0: {self.gamma}"),
            (0 < self.factor < math.inf, f"factor must be finite, > 0: {self.factor}"),
            (0 <= self.min_lr < math.inf, f"min_lr must be in [0, inf): {self.min_lr}"),
            (self.orbit_std is None or 0 < self.orbit_std < math.inf,
             f"orbit_std must be finite and > 0, got {self.orbit_std}"),
            (len(self.seeds) >= 1 and len(set(self.seeds)) == len(self.seeds),
             f"seeds must be distinct, at least one, got {self.seeds}"),
            (self.orbit_every >= 0, f"orbit_every must be >= 0: {self.orbit_every}"),
            (0 <= self.orbit_burn_in < self.orbit_steps,
             f"orbit_burn_in must be in [0, orbit_steps={self.orbit_steps}), "
             f"got {self.orbit_burn_in}"),
            (self.orbit_inits >= 1, f"orbit_inits must be >= 1: {self.orbit_inits}"),
            (self.task != "lm" or self.data is not None,
             "the lm task needs data: the corpus directory"),
            (self.train_split in ("train", "valid"),
             f"train_split must be train|valid, got {self.train_split!r}"),
            (min(self.bptt, self.embed or 1, self.max_tokens or 2) >= 1,
             f"bptt, embed, max_tokens must be >= 1, got {self.bptt}, "
             f"{self.embed}, {self.max_tokens}"),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}"),
            (not self.tied or (self.embed or self.hidden) == self.hidden,
             f"tied weights need embed == hidden, got {self.embed}, {self.hidden}"),
            (len(self.orbit_projections) >= 1, "orbit_projections must not be empty"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_json(self) -> dict[str, Any]:
        """Return the config as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild a config from `to_json`'s dict."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"unknown config fields {sorted(unknown)}")
        data = dict(data)
        for key in ("milestones", "seeds", "orbit_words", "orbit_projections"):
            if isinstance(data.get(key), list):
                data[key] = tuple(data[key])
        hints = typing.get_type_hints(cls)
        for key, value in data.items():
            if not _is_a(value, hints[key]):
                kind = getattr(hints[key], "__name__", str(hints[key]))
                raise ValueError(f"{key} must be {kind}, got {value!r}")
        return cls(**data)
