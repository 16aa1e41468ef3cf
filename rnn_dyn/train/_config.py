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


PROTOCOL_NAMES = ("rnn_dyn", "authors")
ORBIT_SPACES = ("hidden", "logits")
# The slstm projection after each optimiser step: (mode, norm) of
# `StableLSTM.stabilize`. "authors" rescales every column to its bound, as the
# authors' code does; "linf" bounds the row sums, Miller & Hardt's condition
# (the column version does not make the LSTM contractive; see rnn_dyn.models.slstm).
STABILIZERS = {"clip": ("clip", "l1"), "authors": ("authors", "l1"),
               "linf": ("clip", "linf")}  # fmt: skip

# What each protocol and task trains with unless told otherwise. `TrainConfig`
# fills every field left None from here, and `rnn-dyn train` passes None for
# flags not given, so the library and the CLI train the same model from the
# same settings, and a run's config.json holds every value it trained with.
#
# "authors": the settings of the authors' code, experiment by experiment
# (../shared/authors-settings.md, with file:line references): losses summed
# over the batch (and time, and tokens), minibatches in order, their
# schedules, orbits from 10 (symbols), 4 (sine) or 5 (lm) initial states of std
# 100 drawn per constant input and recorded after each epoch only, the
# language model's orbits as projections of its output logits, the expRNN
# parametrisation of the oRNN and the sLSTM's equality rescaling. Two values
# are not in their code: the symbols length is the supplement's 100 (the code
# defaults to 200), and the language model's burn-in 1200 is inferred (the
# code's default is 0; the supplement says 1500 with the plot's 300 more).
#
# "rnn_dyn": this project's choices: mean losses, shuffled minibatches, a
# constant learning rate (plateau for the language model), 5 initial states
# shared by every input, std 1 for the language model (std 100 saturates every
# gate), a record of the untrained model, hidden-state projections, the oRNN
# of rnn_dyn.models.ornn and the sLSTM's clipping projection.
_COMMON: dict[str, Any] = dict(lr=1e-3, clip=0.25, milestones=(), gamma=0.1,
                               patience=7, factor=0.1, min_lr=0.0, dropout=0.0,
                               orbit_projections=("mean", "is", "<unk>"),
                               orbit_space="hidden", orbit_word_pool=0)  # fmt: skip
PROTOCOLS: dict[str, dict[str, dict[str, Any]]] = {
    "rnn_dyn": {
        task: _COMMON | dict(loss_reduction="mean", shuffle=True, orbit_inits=5,
                             orbit_shared_inits=True, orbit_untrained=True,
                             stabilize="clip", ornn_variant="rnn_dyn") | sizes
        for task, sizes in {
            "sine": dict(hidden=200, seq_len=400, batch_size=10,
                         schedule="constant", orbit_steps=1000,
                         orbit_burn_in=900, orbit_std=100.0),
            "symbols": dict(hidden=50, seq_len=100, batch_size=100,
                            schedule="constant", orbit_steps=1000,
                            orbit_burn_in=900, orbit_std=100.0),
            "lm": dict(hidden=800, seq_len=2, batch_size=100, schedule="plateau",
                       dropout=0.5, orbit_steps=1600, orbit_burn_in=1500,
                       orbit_std=1.0),
        }.items()
    },
    "authors": {
        task: _COMMON | dict(loss_reduction="sum", shuffle=False, orbit_std=100.0,
                             orbit_shared_inits=False, orbit_untrained=False,
                             stabilize="authors", ornn_variant="authors") | sizes
        for task, sizes in {
            "sine": dict(hidden=200, seq_len=400, batch_size=10,
                         schedule="multistep",
                         milestones=(500, 1000, 2000, 8000, 15000, 25000),
                         orbit_steps=1600, orbit_burn_in=1200, orbit_inits=4),
            "symbols": dict(hidden=50, seq_len=100, batch_size=100,
                            schedule="multistep", milestones=(500, 1000, 2000),
                            gamma=0.25, orbit_steps=800, orbit_burn_in=400,
                            orbit_inits=10),
            "lm": dict(hidden=800, seq_len=2, batch_size=100, schedule="plateau",
                       min_lr=1e-7, dropout=0.5, shuffle=True, orbit_steps=1600,
                       orbit_burn_in=1200, orbit_inits=5, orbit_space="logits",
                       orbit_word_pool=800,
                       orbit_projections=("mean", "is", "Valkyria", "<unk>")),
        }.items()
    },
}  # fmt: skip
# The project's own protocol, the defaults of a config that names none.
TASK_DEFAULTS = PROTOCOLS["rnn_dyn"]


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

    The fields that default to None here take the value of the protocol for
    the task, ``PROTOCOLS[protocol][task]``, when left None, so a config always
    holds the values it trains with: ``TrainConfig(task="symbols",
    protocol="authors")`` is the authors' symbol-classification run, and any
    field given explicitly overrides its protocol's value.

    Attributes:
        task: ``"sine"``, ``"symbols"`` or ``"lm"``.
        model: One of ``MODELS``.
        protocol: ``"rnn_dyn"`` (this project's choices) or ``"authors"`` (the
            authors' code's, experiment by experiment); see `PROTOCOLS`.
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
        orbit_every: Record orbits every k epochs; 0: never.
        orbit_steps: Steps simulated per orbit.
        orbit_burn_in: Leading steps dropped from each orbit.
        orbit_inits: Random initial states per constant input.
        orbit_std: Standard deviation of those initial states (Gaussian, mean 0).
        orbit_shared_inits: One set of initial states for every constant input;
            False draws each input's own (the authors').
        orbit_untrained: Record the untrained model's orbits too (epoch 0);
            the authors' first record is after one epoch.
        stabilize: The slstm's projection after each optimiser step (see
            `STABILIZERS`): ``"clip"`` the columns whose ℓ1 norm exceeds the
            bound, ``"authors"`` rescale every column to it, ``"linf"`` clip
            the rows (Miller & Hardt's condition).
        ornn_variant: ``"rnn_dyn"`` or ``"authors"`` (expRNN's strict-triangle
            parametrisation and init, no input bias); see `rnn_dyn.models.ornn`.
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
        orbit_word_pool: Draw those two words from the first ``orbit_word_pool``
            ids of the vocabulary (the authors': 800); 0: from all of it.
        orbit_space: What the language model's orbits project: ``"hidden"``,
            the hidden vector on unit directions, or ``"logits"``, the decoder's
            output scores (with their bias), as the authors' code does.
        orbit_projections: Projections of the language model's orbits:
            ``"mean"``, ``"random[K]"`` or a word (see `rnn_dyn.orbit.projections`).
    """

    task: str = "symbols"
    model: str = "lstm"
    protocol: str = "rnn_dyn"
    hidden: int | None = None  # None: from PROTOCOLS[protocol][task], as below
    seq_len: int | None = None
    epochs: int = 100
    lr: float | None = None
    batch_size: int | None = None
    clip: float | None = None
    schedule: str | None = None
    milestones: tuple[int, ...] | None = None
    gamma: float | None = None
    patience: int | None = None
    factor: float | None = None
    min_lr: float | None = None
    seeds: tuple[int, ...] = (0,)
    data_seed: int = 0
    n_train: int | None = None
    n_val: int | None = None
    learn_x0: bool = False
    loss_reduction: str | None = None
    shuffle: bool | None = None
    orbit_every: int = 0
    orbit_steps: int | None = None
    orbit_burn_in: int | None = None
    orbit_inits: int | None = None
    orbit_std: float | None = None
    orbit_shared_inits: bool | None = None
    orbit_untrained: bool | None = None
    stabilize: str | None = None
    ornn_variant: str | None = None
    data: str | None = None
    train_split: str = "train"
    embed: int | None = None
    bptt: int = 70
    dropout: float | None = None
    tied: bool = False
    max_tokens: int | None = None
    orbit_words: tuple[str, ...] = ()
    orbit_word_pool: int | None = None
    orbit_space: str | None = None
    orbit_projections: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        """Fill the task's defaults; raise a one-line ValueError for a bad value."""
        names = tasks_module.TASKS
        if self.task not in names:
            raise ValueError(f"task must be one of {names}, got {self.task!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(
                f"protocol must be one of {PROTOCOL_NAMES}, got {self.protocol!r}"
            )
        for name, value in PROTOCOLS[self.protocol][self.task].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        sizes = {
            k: getattr(self, k) for k in ("hidden", "seq_len", "epochs", "batch_size")
        }
        checks = [
            (self.model in MODELS, f"model must be in {MODELS}, got {self.model!r}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (self.stabilize in STABILIZERS,
             f"stabilize must be one of {tuple(STABILIZERS)}, got {self.stabilize!r}"),
            (self.ornn_variant in ("rnn_dyn", "authors"),
             f"ornn_variant must be rnn_dyn|authors, got {self.ornn_variant!r}"),
            (self.orbit_space in ORBIT_SPACES,
             f"orbit_space must be hidden|logits, got {self.orbit_space!r}"),
            (self.task == "lm" or self.orbit_space == "hidden",
             "orbit_space logits is for the lm task (a cell's orbit is its output)"),
            (self.orbit_word_pool >= 0,
             f"orbit_word_pool must be >= 0, got {self.orbit_word_pool}"),
            (self.patience >= 1, f"patience must be >= 1, got {self.patience}"),
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
            (0 < self.orbit_std < math.inf,
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
        # A saved config holds the values its protocol filled in (`to_json`
        # writes them), so a null there is an edit, not a default; orbit_std
        # alone was saved as null before protocols existed (the task's value).
        filled = set(PROTOCOLS["rnn_dyn"]["sine"]) - {"orbit_std"}
        for key, value in data.items():
            if value is None and key in filled:
                hint = typing.get_args(hints[key])[0]
                kind = getattr(hint, "__name__", str(hint))
                raise ValueError(f"{key} must be {kind}, got None")
            if not _is_a(value, hints[key]):
                kind = getattr(hints[key], "__name__", str(hints[key]))
                raise ValueError(f"{key} must be {kind}, got {value!r}")
        return cls(**data)
