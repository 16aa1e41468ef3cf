r"""Training: optax Adam with clipping, several seeds at once, checkpoints, resume.

One epoch is one jitted call: the minibatch steps run in a `lax.scan`, and the
whole epoch is `jax.vmap`-ed over seeds, so ``seeds=(0, 1, 2, 3)`` trains four
independent models (each with its own initialisation, batch order, optimiser
state and learning-rate schedule) for about the price of one on a GPU. A seed's
run does not depend on which other seeds train beside it. The tasks: ``sine``
and ``symbols`` (minibatches of whole sequences), and ``lm``, a word-level
language model trained by truncated BPTT over parallel streams of a corpus
(the kernels are in `rnn_dyn._train_lm`).

A run directory holds ``config.json``, ``history.csv`` (one row per epoch and
seed), ``state.msgpack`` (everything needed to continue, rewritten atomically
after every epoch), ``params.npz`` (the first seed's parameters, loadable by
`rnn_dyn.load_params` and ``rnn-dyn landscape|lyapunov|smoothness --params``),
and, when orbits are recorded, ``orbit.npz`` and ``checkpoints/epoch_NNNN.npz``
(the parameters at each recorded epoch). With several seeds, ``seed_S/`` holds
each seed's ``params.npz`` and ``orbit.npz``. ``resume=True`` continues from
``state.msgpack``: batches and schedules depend only on (seed, epoch), so a
resumed run ends with exactly the parameters of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools as ft
import io
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization
from jaxtyping import Array

from . import tasks as tasks_module
from ._io import atomic_write, save_json, save_params
from ._losses import resolve_loss
from ._optim import optimizer, set_lr, update
from ._simulate import _cost, _rollout
from .models._base import Model
from .orbit import append_orbit, orbit_outputs

MODELS = ("lstm", "gru", "rnn", "ornn", "slstm")
SCHEDULES = ("constant", "multistep", "plateau")
HISTORY_FIELDS = (
    "epoch",
    "seed",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "seconds",
)


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
            (min(sizes.values()) >= 1, f"sizes must be >= 1, got {sizes}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.clip >= 0, f"clip must be >= 0, got {self.clip}"),
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
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


def make_task(config: TrainConfig) -> tasks_module.Task:
    """Return the task's arrays for ``config`` (``"sine"`` or ``"symbols"``)."""
    sizes = {
        k: v for k, v in (("n_train", config.n_train), ("n_val", config.n_val)) if v
    }
    if config.task == "sine":
        return tasks_module.sine(config.seq_len, **sizes)
    return tasks_module.symbols(config.seq_len, seed=config.data_seed, **sizes)


class LMData(NamedTuple):
    """The token ids a language-model run trains, validates and tests on.

    Attributes:
        corpus: The corpus read (vocabulary and splits).
        train: Training tokens.
        val: Validation tokens (drive the plateau schedule).
        test: Test tokens (scored once, at the end).
    """

    corpus: tasks_module.Corpus
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def lm_splits(config: TrainConfig) -> tuple[str, ...]:
    """The corpus splits a language-model run reads (see ``train_split``)."""
    return ("valid", "test") if config.train_split == "valid" else tasks_module.SPLITS


def make_lm_data(
    config: TrainConfig, corpus: tasks_module.Corpus | None = None
) -> LMData:
    """Read ``config.data`` (unless ``corpus`` is given) and pick the splits."""
    needed = lm_splits(config)
    if corpus is None:
        corpus = tasks_module.read_corpus(config.data, splits=needed)
    missing = [s for s in needed if s not in corpus.splits]
    if missing:
        raise ValueError(f"corpus has no {', '.join(missing)} split")
    split = corpus.splits
    if config.train_split == "valid":
        half = len(split["test"]) // 2
        train, val, test = split["valid"], split["test"][:half], split["test"][half:]
    else:
        train, val, test = split["train"], split["valid"], split["test"]
    cut = slice(config.max_tokens)
    return LMData(corpus, train[cut], val[cut], test[cut])


def make_model(config: TrainConfig, task: Any) -> Any:
    """Return the model of ``config``.

    A `Model` with a readout to the task's outputs, or, for ``LMData``, a
    `rnn_dyn.models.LanguageModel` around the model as its core.
    """
    from . import models

    factory = getattr(models, config.model)
    if isinstance(task, LMData):
        core = factory(config.embed or config.hidden, config.hidden)
        return models.language_model(core, task.corpus.vocab_size, tied=config.tied)
    return factory(task.input_size, config.hidden, readout=task.output_size)


class TrainState(NamedTuple):
    """What `fit` carries from epoch to epoch, with a leading seed axis.

    Attributes:
        params: Model parameters.
        x0: Initial states `(seeds, n)` (learned with ``learn_x0``).
        opt_state: The optax state.
        plateau: The reduce-on-plateau state.
        epoch: Epochs done.
    """

    params: Any
    x0: Any
    opt_state: Any
    plateau: Any
    epoch: int


class FitResult(NamedTuple):
    """What `fit` returns.

    Attributes:
        state: The final `TrainState` (leading seed axis).
        history: One dict per epoch and seed, with ``HISTORY_FIELDS``.
        model: The model trained.
        task: The task's data: a `Task`, or `LMData` for the language model.
        test: Per seed ``{"test_loss", "test_acc"}`` on the test split at the
            end (language model), else empty.
    """

    state: TrainState
    history: list[dict[str, Any]]
    model: Any
    task: Any
    test: tuple[dict[str, float], ...] = ()


def _plateau(config: TrainConfig) -> optax.GradientTransformationExtraArgs:
    return optax.contrib.reduce_on_plateau(
        factor=config.factor, patience=config.patience
    )


def init_state(config: TrainConfig, model: Any) -> TrainState:
    """Initialise parameters, optimiser and schedule states for every seed."""
    keys = jnp.stack([jax.random.key(s) for s in config.seeds])
    params = jax.vmap(model.init)(keys)
    x0 = jax.vmap(model.initial_state)(params)
    # The language model's state is carried between windows, never learned.
    trainable = params if config.task == "lm" else (params, x0)
    opt_state = jax.vmap(optimizer(config.clip, config.lr).init)(trainable)
    plateau = jax.vmap(lambda _: _plateau(config).init(jnp.zeros(())))(keys)
    return TrainState(params, x0, opt_state, plateau, 0)


def _learning_rates(config: TrainConfig, state: TrainState) -> np.ndarray:
    """The learning rate of each seed for the next epoch."""
    base = config.lr * config.gamma ** sum(m <= state.epoch for m in config.milestones)
    lr = np.full(
        len(config.seeds), base if config.schedule == "multistep" else config.lr
    )
    if config.schedule == "plateau":
        lr = lr * np.asarray(state.plateau.scale)
    return lr


def _prepared(model: Model, params: Any) -> tuple[Model, Any]:
    """The model to step with: ``model.prepare`` hoists per-step work (oRNN's expm)."""
    prepare = getattr(model, "prepare", None)
    return prepare(params) if prepare is not None else (model, params)


@ft.partial(jax.jit, static_argnums=(0, 1))
def _epoch(statics, model, params, x0, opt_state, lr, key, us, ys):
    """One epoch for one seed: shuffled minibatch steps in a scan."""
    n_batches = us.shape[0] // min(statics.batch_size, us.shape[0])
    size = us.shape[0] // n_batches
    order = jax.random.permutation(key, us.shape[0])[: n_batches * size]
    opt = optimizer(statics.clip)
    opt_state = set_lr(opt_state, lr)
    loss_fn, last_only = statics.loss_fn, statics.last_only

    def batch_loss(trainable, idx):
        params, x0 = trainable
        x0 = x0 if statics.learn_x0 else jax.lax.stop_gradient(x0)
        fast, params = _prepared(model, params)
        cost = lambda u, y: _cost(fast, params, x0, u, y, loss_fn, 0, last_only)
        return jnp.mean(jax.vmap(cost)(us[idx], ys[idx]))

    def step(carry, idx):
        trainable, opt_state = carry
        loss, grads = jax.value_and_grad(batch_loss)(trainable, idx)
        (params, x0), opt_state = update(opt, grads, opt_state, trainable)
        if statics.stabilize is not None:
            params = model.stabilize(params, mode=statics.stabilize)
        return ((params, x0), opt_state), loss

    (trainable, opt_state), losses = jax.lax.scan(
        step, ((params, x0), opt_state), order.reshape(n_batches, size)
    )
    return trainable[0], trainable[1], opt_state, jnp.mean(losses)


@ft.partial(jax.jit, static_argnums=(0, 1))
def _evaluate(statics, model, params, x0, us, ys):
    """Loss and accuracy of one seed on a whole set."""
    loss_fn, last_only = statics.loss_fn, statics.last_only
    model, params = _prepared(model, params)

    def one(u, y):
        outputs = _rollout(model, params, x0, u).outputs
        if last_only:
            logits = outputs[-1]
            correct = jnp.argmax(logits).astype(y.dtype) == y
            return loss_fn(logits, y), correct.astype(logits.dtype)
        return jnp.mean(jax.vmap(loss_fn)(outputs, y)), jnp.zeros((), outputs.dtype)

    loss, correct = jax.vmap(one)(us, ys)
    return jnp.mean(loss), jnp.mean(correct)


class _Statics(NamedTuple):
    """The static part of the jitted epoch: what shapes the computation.

    Runs that differ only in epochs, seeds, schedule or orbits share one
    compilation.
    """

    batch_size: int
    clip: float
    learn_x0: bool
    stabilize: str | None
    loss_fn: Callable
    last_only: bool


def _statics(config: TrainConfig, model: Model, task: tasks_module.Task) -> _Statics:
    """The static part of `_epoch` and `_evaluate` for a sequence task."""
    loss_fn, _ = resolve_loss(task.loss, task.output_size)
    stabilize = config.stabilize if hasattr(model, "stabilize") else None
    return _Statics(
        config.batch_size,
        config.clip,
        config.learn_x0,
        stabilize,
        loss_fn,
        task.last_only,
    )


class _Problem(NamedTuple):
    """What `fit` runs for one task, each function for one seed.

    Attributes:
        model: The model trained (``init``, ``initial_state``).
        task: The task's data (`Task` or `LMData`).
        dtype: Float dtype of the parameters.
        epoch: ``(params, x0, opt_state, lr, key) -> (params, x0, opt_state,
            train_loss, train_acc)``.
        evaluate: ``(params, x0, split) -> (loss, accuracy)``, split
            ``"val"`` or ``"test"``.
        orbits: ``params -> outputs`` of one orbit record.
        orbit_meta: Arrays stored once in ``orbit.npz``.
        classification: Whether accuracies are defined.
    """

    model: Any
    task: Any
    dtype: Any
    epoch: Callable
    evaluate: Callable
    orbits: Callable
    orbit_meta: dict[str, Any]
    classification: bool


def _param_dtype(model: Any) -> Any:
    """The float dtype of ``model.init``'s parameters, without drawing them."""
    shapes = jax.eval_shape(model.init, jax.random.key(0))
    return jax.tree_util.tree_leaves(shapes)[0].dtype


def _orbit_inits(config: TrainConfig, state_size: int, dtype: Any) -> Array:
    key = jax.random.key(config.data_seed + 10_007)
    shape = (config.orbit_inits, state_size)
    std = config.orbit_std or (1.0 if config.task == "lm" else 100.0)
    return std * jax.random.normal(key, shape, dtype)


def _sequence_problem(config: TrainConfig) -> _Problem:
    """The sine and symbol tasks: minibatches of whole sequences."""
    task = make_task(config)
    model = make_model(config, task)
    statics = _statics(config, model, task)
    dtype = _param_dtype(model)
    label_dtype = jnp.int32 if task.classification else dtype
    train = (
        jnp.asarray(task.train_inputs, dtype),
        jnp.asarray(task.train_targets, label_dtype),
    )
    val = (
        jnp.asarray(task.val_inputs, dtype),
        jnp.asarray(task.val_targets, label_dtype),
    )

    def epoch(params, x0, opt_state, lr, key):
        out = _epoch(statics, model, params, x0, opt_state, lr, key, *train)
        # The training accuracy: the whole training set after the epoch.
        return *out, _evaluate(statics, model, out[0], out[1], *train)[1]

    def evaluate(params, x0, split):
        return _evaluate(statics, model, params, x0, *val)

    inputs = jnp.asarray(task.orbit_inputs, dtype)
    inits = _orbit_inits(config, model.state_size, dtype)

    def orbits(params):
        return orbit_outputs(
            *_prepared(model, params),
            inputs,
            inits,
            steps=config.orbit_steps,
            burn_in=config.orbit_burn_in,
        )

    meta = {"inputs": inputs, "inits": inits, "labels": np.asarray(task.orbit_labels)}
    return _Problem(
        model, task, dtype, epoch, evaluate, orbits, meta, task.classification
    )


def _language_problem(
    config: TrainConfig, corpus: tasks_module.Corpus | None
) -> _Problem:
    """Word-level language modelling: truncated BPTT over parallel streams."""
    from . import _train_lm as lm_kernels
    from .orbit import lm_orbits, projections
    from .tasks.wikitext import streams, windows

    data = make_lm_data(config, corpus)
    lm = make_model(config, data)
    dtype = _param_dtype(lm)
    statics = lm_kernels.LMStatics(
        config.clip,
        config.dropout,
        config.stabilize if hasattr(lm.core, "stabilize") else None,
    )
    try:
        train = windows(streams(data.train, config.batch_size), config.bptt)
        evals = {
            split: lm_kernels.eval_windows(tokens, config.bptt, np.dtype(dtype))
            for split, tokens in (("val", data.val), ("test", data.test))
        }
    except ValueError as err:
        raise ValueError(f"lm data: {err}") from None

    def epoch(params, x0, opt_state, lr, key):
        return lm_kernels.lm_epoch(statics, lm, params, x0, opt_state, lr, key, *train)

    def evaluate(params, x0, split):
        return lm_kernels.lm_evaluate(lm, params, x0, *evals[split])

    vocabulary = data.corpus.words
    if config.orbit_words:
        words = [data.corpus.index(w) for w in config.orbit_words]  # checks them
    else:
        rng = np.random.default_rng(config.data_seed)
        words = sorted(rng.choice(data.corpus.vocab_size, 2, replace=False).tolist())
    names = [vocabulary[w] for w in words]
    if config.orbit_every:  # check the names before the first epoch (traced only)
        jax.eval_shape(
            lambda p: projections(lm, p, config.orbit_projections, vocabulary),
            jax.eval_shape(lm.init, jax.random.key(0)),
        )
    inits = _orbit_inits(config, lm.state_size, dtype)

    def orbits(params):
        directions = projections(lm, params, config.orbit_projections, vocabulary)
        return lm_orbits(
            lm,
            params,
            np.asarray(words),
            inits,
            directions,
            steps=config.orbit_steps,
            burn_in=config.orbit_burn_in,
        )

    meta = {
        "inputs": np.asarray(words),
        "inits": inits,
        "labels": np.asarray(names + [f"{n} (feedback)" for n in names]),
        "projections": np.asarray(config.orbit_projections),
    }
    return _Problem(lm, data, dtype, epoch, evaluate, orbits, meta, True)


def _over_seeds(fn: Callable, n_seeds: int) -> Callable:
    """``fn`` mapped over a leading seed axis of every argument and output.

    With one seed the axis is dropped and added back instead of vmapped: XLA's
    layouts for a batch of one cost 10-20 % on CPU.
    """
    if n_seeds > 1:
        return jax.vmap(fn)

    def one(*args):
        out = fn(*jax.tree_util.tree_map(lambda a: a[0], args))
        return jax.tree_util.tree_map(lambda a: a[None], out)

    return one


def fit(
    config: TrainConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    corpus: tasks_module.Corpus | None = None,
) -> FitResult:
    """Train ``config.model`` on ``config.task`` for every seed at once.

    Args:
        config: The run's `TrainConfig`.
        out: Run directory; None trains in memory (no files, no orbits kept).
        resume: Continue the run in ``out`` from its ``state.msgpack``; its
            ``config.json`` must match ``config`` except for ``epochs``.
            (Keyword only.)
        progress: Show a progress bar on stderr. (Keyword only.)
        on_epoch: Called with each epoch's history rows summary. (Keyword only.)
        corpus: The language model's corpus, already read (e.g. with
            ``read_corpus(..., cache=True)``); None reads ``config.data``.
            (Keyword only.)

    Returns:
        A `FitResult`.

    Raises:
        ValueError: If ``resume`` finds no run, a corrupted one, or one with a
            different configuration; or ``out`` holds a run and ``resume`` is
            False; or the corpus lacks a split, a word or tokens.
    """
    if config.task == "lm":
        problem = _language_problem(config, corpus)
    else:
        problem = _sequence_problem(config)
    n_seeds = len(config.seeds)
    state = init_state(config, problem.model)
    history: list[dict[str, Any]] = []
    run = Path(out) if out is not None else None
    if run is not None:
        state, history = _open_run(run, config, state, resume)
    epoch_fn = _over_seeds(problem.epoch, n_seeds)
    eval_fn = _over_seeds(lambda p, x0: problem.evaluate(p, x0, "val"), n_seeds)
    recorder = _OrbitRecorder(config, problem, run)
    if run is not None and state.epoch == 0 and config.orbit_every:
        recorder.record(state, 0)
    bar = _progress(config.epochs, state.epoch, progress)
    stack = contextlib.ExitStack()
    if bar is not None and config.task == "lm":  # windows move the bar
        from ._train_lm import window_progress

        stack.enter_context(window_progress(bar.update))
    try:
        while state.epoch < config.epochs:
            lr = _learning_rates(config, state)
            if config.schedule == "plateau" and np.all(lr < config.min_lr):
                break
            start = time.perf_counter()
            keys = jnp.stack(
                [
                    jax.random.fold_in(jax.random.key(s), state.epoch + 1)
                    for s in config.seeds
                ]
            )
            params, x0, opt_state, train_loss, train_acc = epoch_fn(
                state.params,
                state.x0,
                state.opt_state,
                jnp.asarray(lr, problem.dtype),
                keys,
            )
            val_loss, val_acc = eval_fn(params, x0)
            plateau = state.plateau
            if config.schedule == "plateau":
                zeros = jnp.zeros(n_seeds, val_loss.dtype)
                update_plateau = lambda s, v, z: _plateau(config).update(z, s, value=v)[
                    1
                ]
                with jax.numpy_dtype_promotion("standard"):  # as optax's Adam
                    plateau = jax.vmap(update_plateau)(plateau, val_loss, zeros)
            state = TrainState(params, x0, opt_state, plateau, state.epoch + 1)
            jax.block_until_ready((state, train_acc, val_loss, val_acc))
            seconds = time.perf_counter() - start  # of computing, not dispatch
            accuracy = lambda a, i: float(a[i]) if problem.classification else math.nan
            rows = [
                {
                    "epoch": state.epoch,
                    "seed": seed,
                    "train_loss": float(train_loss[i]),
                    "train_acc": accuracy(train_acc, i),
                    "val_loss": float(val_loss[i]),
                    "val_acc": accuracy(val_acc, i),
                    "lr": float(lr[i]),
                    "seconds": seconds,
                }
                for i, seed in enumerate(config.seeds)
            ]
            history.extend(rows)
            if run is not None:
                if config.orbit_every and state.epoch % config.orbit_every == 0:
                    recorder.record(state, state.epoch)
                _save_run(run, config, state, history)
            if bar is not None:
                bar.n = state.epoch
                bar.set_postfix(loss=f"{rows[0]['train_loss']:.4g}")
            if on_epoch is not None:
                on_epoch(rows[0])
    finally:
        stack.close()
        if bar is not None:
            bar.close()
    test: tuple[dict[str, float], ...] = ()
    if config.task == "lm":
        test_fn = _over_seeds(lambda p, x0: problem.evaluate(p, x0, "test"), n_seeds)
        loss, acc = test_fn(state.params, state.x0)
        test = tuple(
            {"test_loss": float(loss[i]), "test_acc": float(acc[i])}
            for i in range(n_seeds)
        )
    return FitResult(state, history, problem.model, problem.task, test)


def _progress(total: int, done: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="epoch", file=sys.stderr, leave=False)


# Run directories -------------------------------------------------------------


def _open_run(
    run: Path, config: TrainConfig, template: TrainState, resume: bool
) -> tuple[TrainState, list[dict[str, Any]]]:
    """Create a new run directory, or load the one to resume."""
    state_file = run / "state.msgpack"
    if not resume:
        if state_file.exists():
            raise ValueError(
                f"{run} already holds a run; pass --resume to continue it or "
                "choose another --out"
            )
        run.mkdir(parents=True, exist_ok=True)
        save_json(run / "config.json", config.to_json())
        return template, []
    if not state_file.exists():
        raise ValueError(
            f"cannot resume: {run} holds no state.msgpack (no epoch finished); "
            "start the run again without --resume"
        )
    try:
        saved = TrainConfig.from_json(json.loads((run / "config.json").read_text()))
        state = serialization.from_bytes(template, state_file.read_bytes())
        history = read_history(run / "history.csv")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"cannot resume: {run} is corrupted ({err})") from None
    if dataclasses.replace(saved, epochs=config.epochs) != config:
        raise ValueError(
            f"cannot resume: {run}/config.json differs from the requested run "
            "(only epochs may change)"
        )
    state = state._replace(epoch=int(state.epoch))
    # The history is written before the state: a run killed in between has
    # the rows of one epoch more, which is redone.
    history = [row for row in history if row["epoch"] <= state.epoch]
    if len(history) != state.epoch * len(config.seeds):
        raise ValueError(
            f"cannot resume: {run}/history.csv has {len(history)} rows for "
            f"{state.epoch} epochs"
        )
    save_json(run / "config.json", config.to_json())  # epochs may have grown
    return state, history


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """Read a run's ``history.csv`` as a list of rows."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    ints = ("epoch", "seed")
    return [{k: int(v) if k in ints else float(v) for k, v in r.items()} for r in rows]


def _save_run(run: Path, config: TrainConfig, state: TrainState, history: list) -> None:
    """Write history, parameters and the resumable state, each atomically."""
    text = io.StringIO()
    writer = csv.DictWriter(text, HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write(run / "history.csv", lambda fh: fh.write(text.getvalue().encode()))
    for i, seed in enumerate(config.seeds):
        params = jax.tree_util.tree_map(lambda a, i=i: np.asarray(a[i]), state.params)
        targets = [run] if i == 0 else []
        if len(config.seeds) > 1:
            targets.append(run / f"seed_{seed}")
        for target in targets:
            target.mkdir(exist_ok=True)
            save_params(target / "params.npz", params)
    data = serialization.to_bytes(state)
    # The state goes last: a run killed before this line resumes from the
    # previous epoch, and redoes this one identically.
    atomic_write(run / "state.msgpack", lambda fh: fh.write(data))


class _OrbitRecorder:
    """Records each seed's orbits, and the parameters, at chosen epochs."""

    def __init__(self, config: TrainConfig, problem: _Problem, run: Path | None):
        self.config, self.problem, self.run = config, problem, run

    def record(self, state: TrainState, epoch: int) -> None:
        if self.run is None:
            return
        config = self.config
        (self.run / "checkpoints").mkdir(exist_ok=True)
        all_params = state.params
        save_params(
            self.run / "checkpoints" / f"epoch_{epoch:04d}.npz",
            jax.tree_util.tree_map(np.asarray, all_params),
        )
        for i, seed in enumerate(config.seeds):
            params = jax.tree_util.tree_map(lambda a, i=i: a[i], all_params)
            outputs = self.problem.orbits(params)
            targets = [self.run] if i == 0 else []
            if len(config.seeds) > 1:
                targets.append(self.run / f"seed_{seed}")
            for target in targets:
                target.mkdir(exist_ok=True)
                append_orbit(
                    target / "orbit.npz", outputs, epoch, **self.problem.orbit_meta
                )
