"""The run directory: one object that creates, resumes, saves and reads it.

A run directory holds ``config.json`` (the `TrainConfig`), ``history.csv``
(one row per epoch and seed), ``state.msgpack`` (everything needed to
continue, rewritten atomically after every epoch), ``params.npz`` (the first
seed's parameters, loadable by `rnn_dyn.load_params` and by ``rnn-dyn
landscape|lyapunov|smoothness --params``), and, when orbits are recorded,
``orbit.npz`` and ``checkpoints/epoch_NNNN.npz`` (every seed's parameters at
each recorded epoch, with a leading seed axis). With several seeds,
``seed_S/`` holds each seed's ``params.npz`` and ``orbit.npz``.

Every file is written atomically, and the state last: a run killed at any
point resumes from the last finished epoch and redoes the next one exactly.
A process that writes a run holds its lock file, ``.lock`` (`Run.lock`), for
the run's whole life; a second writer is refused, and the lock of a process
that died is taken over.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from .._io import atomic_write, load_params, pending, save_json, save_params
from ..models._base import param_shapes
from ..orbit import OrbitRecord, append_orbit, read_orbit
from ._config import TrainConfig

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


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """Read a ``history.csv`` as a list of rows (``epoch`` and ``seed`` as ints).

    Raises:
        ValueError: If a column of `HISTORY_FIELDS` is missing.
    """
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    missing = [f for f in HISTORY_FIELDS if f not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"it has no column {', '.join(missing)}")
    ints = ("epoch", "seed")
    return [{k: int(v) if k in ints else float(v) for k, v in r.items()} for r in rows]


def _check_like(tree: Any, template: Any, context: str) -> None:
    """Raise ValueError (after ``context``) unless the leaf shapes match."""
    leaves = jax.tree_util.tree_flatten_with_path(template)[0]
    got = jax.tree_util.tree_leaves(tree)
    if len(got) != len(leaves):
        raise ValueError(f"{context}: {len(got)} arrays, expected {len(leaves)}")
    for (path, want), have in zip(leaves, got, strict=True):
        if np.shape(want) != np.shape(have):
            raise ValueError(
                f"{context}: state{jax.tree_util.keystr(path)} has shape "
                f"{np.shape(have)}, the config gives {np.shape(want)}"
            )
        if jnp.result_type(want) != jnp.result_type(have):
            raise ValueError(
                f"{context}: state{jax.tree_util.keystr(path)} is "
                f"{jnp.result_type(have)}, this process makes "
                f"{jnp.result_type(want)} (resume with --x64 as the run started)"
            )


class Run:
    """A training run's directory (see the module docstring for its files).

    `rnn_dyn.train.fit` writes through it; the CLI, `rnn_dyn.orbit` users and
    the notebooks read through it::

        run = Run("results/train")
        run.config().task, run.history()[-1]["val_loss"]
        params = run.params(epoch=40)  # the first seed's checkpoint
        record = run.orbits()           # an `rnn_dyn.orbit.OrbitRecord`

    Args:
        path: The directory.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # Files --------------------------------------------------------------

    def _seed_dirs(self, config: TrainConfig, index: int) -> list[Path]:
        """Where seed ``index`` writes: the run (seed 0) and ``seed_S/`` if several."""
        targets = [self.path] if index == 0 else []
        if len(config.seeds) > 1:
            targets.append(self.path / f"seed_{config.seeds[index]}")
        return targets

    def _seed_dir(self, seed: int | None) -> Path:
        return self.path if seed is None else self.path / f"seed_{seed}"

    def checkpoint_path(self, epoch: int) -> Path:
        """The parameters of every seed at a recorded ``epoch``."""
        return self.path / "checkpoints" / f"epoch_{epoch:04d}.npz"

    def holds_run(self) -> bool:
        """Whether at least one epoch finished here (``state.msgpack`` exists)."""
        return (self.path / "state.msgpack").exists()

    # The lock -----------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        """The lock file, ``.lock``: who writes this run."""
        return self.path / ".lock"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's lock while the block runs (creates the directory).

        Raises:
            ValueError: If another live process holds it.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            for _ in range(3):
                try:  # removed on Ctrl-C too (`rnn_dyn._io.pending`)
                    stack.enter_context(pending(self._take_lock))
                    break
                except FileExistsError:
                    self.check_unlocked()
                    self.lock_path.unlink(missing_ok=True)  # its process is gone
            else:
                raise ValueError(f"cannot take the lock {self.lock_path}")
            stack.callback(self.lock_path.unlink, missing_ok=True)
            yield

    def _take_lock(self) -> Path:
        """Create ``.lock`` naming this process; FileExistsError if it exists."""
        fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
        return self.lock_path

    def check_unlocked(self) -> None:
        """Raise ValueError if a live process holds this run's lock.

        A lock left by a process that no longer runs (on this host) is stale
        and does not count; one from another host, or one being written
        right now, counts as held.
        """
        try:
            text = self.lock_path.read_text()
            age = time.time() - self.lock_path.stat().st_mtime
        except FileNotFoundError:
            return
        try:
            owner = json.loads(text)
            pid, host = int(owner["pid"]), str(owner["host"])
        except (ValueError, KeyError, TypeError):
            if age < 5:  # another process is writing it now
                raise ValueError(
                    f"{self.path} is being locked by another process; try again"
                ) from None
            return  # an empty or broken lock: its writer died
        if host == socket.gethostname() and not _alive(pid):
            return
        raise ValueError(
            f"{self.path} is in use by process {pid} on {host} (lock file "
            f"{self.lock_path}); wait for it to finish, or choose another --out"
        )

    # Reading ------------------------------------------------------------

    def config(self) -> TrainConfig:
        """The run's `TrainConfig`, from ``config.json``.

        Raises:
            ValueError: If there is no readable config.
        """
        path = self.path / "config.json"
        try:
            return TrainConfig.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            raise ValueError(f"{self.path} holds no run (no config.json)") from None
        except (OSError, ValueError, TypeError) as err:
            raise ValueError(f"{path} is corrupted ({err})") from None

    def history(self) -> list[dict[str, Any]]:
        """The rows of ``history.csv`` (see `HISTORY_FIELDS`).

        Raises:
            ValueError: If it is missing or unreadable.
        """
        path = self.path / "history.csv"
        try:
            return read_history(path)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"cannot read {path}: {err}") from None

    def model(self, corpus: Any = None) -> Any:
        """Rebuild the run's model from its config (reads the task's data or corpus)."""
        from ._data import make_data, make_model

        config = self.config()
        return make_model(config, make_data(config, corpus))

    def params(
        self, seed: int | None = None, *, epoch: int | None = None, model: Any = None
    ) -> Any:
        """Parameters of one seed: the latest, or those of a recorded ``epoch``.

        Args:
            seed: The seed (None: the run's first seed).
            epoch: A recorded epoch (`checkpoint_epochs`); None: the last one
                saved. (Keyword only.)
            model: The run's model, if already built (else `model` rebuilds
                it). (Keyword only.)

        Returns:
            The params pytree, with JAX arrays.
        """
        config = self.config()
        model = self.model() if model is None else model
        like = param_shapes(model)
        if epoch is None:
            first = seed is None or seed == config.seeds[0]
            path = self._seed_dir(None if first else seed) / "params.npz"
            return jax.tree_util.tree_map(jnp.asarray, load_params(path, like))
        index = config.seeds.index(config.seeds[0] if seed is None else seed)
        stacked = jax.tree_util.tree_map(
            lambda s: jax.ShapeDtypeStruct((len(config.seeds), *s.shape), s.dtype),
            like,
        )
        params = load_params(self.checkpoint_path(epoch), stacked)
        return jax.tree_util.tree_map(lambda a: jnp.asarray(a[index]), params)

    def checkpoint_epochs(self) -> list[int]:
        """The epochs whose parameters were recorded, in order."""
        names = (self.path / "checkpoints").glob("epoch_*.npz")
        return sorted(int(p.stem.removeprefix("epoch_")) for p in names)

    def orbits(self, seed: int | None = None) -> OrbitRecord:
        """The orbits recorded for one seed (None: the first), as an `OrbitRecord`."""
        first = seed is None or seed == self.config().seeds[0]
        return read_orbit(self._seed_dir(None if first else seed) / "orbit.npz")

    # Writing ------------------------------------------------------------

    def create(self, config: TrainConfig, corpus_digest: str = "") -> None:
        """Start a new run here: write ``config.json`` (under `lock`).

        Args:
            config: The run's config.
            corpus_digest: A language model's `Corpus.digest`, kept in
                ``corpus.sha256`` so that `resume` can check the text.

        Raises:
            ValueError: If the directory already holds a run.
        """
        if self.holds_run():
            raise ValueError(
                f"{self.path} already holds a run; pass --resume to continue it "
                "or choose another --out"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        if corpus_digest:
            digest = corpus_digest + "\n"
            atomic_write(
                self.path / "corpus.sha256", lambda fh: fh.write(digest.encode())
            )
        save_json(self.path / "config.json", config.to_json())

    def resume(
        self, config: TrainConfig, template: Any, corpus_digest: str = ""
    ) -> tuple[Any, list[dict]]:
        """Load the state and history to continue ``config`` from.

        Args:
            config: The run's config; only ``epochs`` may differ from the saved one.
            template: A state of the right structure (`init_state`'s).
            corpus_digest: The language model's `Corpus.digest` now; it must
                equal the one the run started with.

        Returns:
            ``(state, history)`` at the last finished epoch.

        Raises:
            ValueError: If there is no run, it is corrupted, or its config differs.
        """
        state_file = self.path / "state.msgpack"
        if not state_file.exists():
            raise ValueError(
                f"cannot resume: {self.path} holds no state.msgpack (no epoch "
                "finished); start the run again without --resume"
            )
        try:
            saved, history = self.config(), self.history()
        except ValueError as err:
            raise ValueError(f"cannot resume: {err}") from None
        try:
            state = serialization.from_bytes(template, state_file.read_bytes())
        except (OSError, ValueError, KeyError, TypeError) as err:
            message = f"cannot resume: {state_file} is corrupted ({err})"
            raise ValueError(message) from None
        if dataclasses.replace(saved, epochs=config.epochs) != config:
            raise ValueError(
                f"cannot resume: {self.path}/config.json differs from the requested "
                "run (only epochs may change)"
            )
        state = state._replace(epoch=int(state.epoch))
        if corpus_digest:
            try:
                started = (self.path / "corpus.sha256").read_text().strip()
            except FileNotFoundError:  # a run from before digests: cannot check
                started = corpus_digest
            if started != corpus_digest:
                raise ValueError(
                    f"cannot resume: the corpus in {config.data} is not the text "
                    f"the run started on (sha256 {started[:12]} then, "
                    f"{corpus_digest[:12]} now)"
                )
        _check_like(
            state,
            template,
            f"cannot resume: {state_file} does not fit {self.path / 'config.json'}",
        )
        # The history is written before the state: a run killed in between has
        # the rows of one epoch more, which is redone.
        history = [row for row in history if row["epoch"] <= state.epoch]
        expected = [(e, s) for e in range(1, state.epoch + 1) for s in config.seeds]
        if [(row["epoch"], row["seed"]) for row in history] != expected:
            raise ValueError(
                f"cannot resume: {self.path}/history.csv does not hold one row per "
                f"epoch 1..{state.epoch} and seed {list(config.seeds)}, in order"
            )
        if config.epochs < state.epoch:
            raise ValueError(
                f"cannot resume: {self.path} has done {state.epoch} epochs; "
                f"--epochs must be at least that, got {config.epochs}"
            )
        save_json(self.path / "config.json", config.to_json())  # epochs may grow
        return state, history

    def save(self, config: TrainConfig, state: Any, history: list[dict]) -> None:
        """Write history, each seed's parameters and the resumable state."""
        text = io.StringIO()
        writer = csv.DictWriter(text, HISTORY_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
        atomic_write(
            self.path / "history.csv", lambda fh: fh.write(text.getvalue().encode())
        )
        for i in range(len(config.seeds)):
            params = jax.tree_util.tree_map(
                lambda a, i=i: np.asarray(a[i]), state.params
            )
            for target in self._seed_dirs(config, i):
                target.mkdir(exist_ok=True)
                save_params(target / "params.npz", params)
        data = serialization.to_bytes(state)
        # The state goes last: a run killed before this line resumes from the
        # previous epoch, and redoes this one identically.
        atomic_write(self.path / "state.msgpack", lambda fh: fh.write(data))

    def record(
        self,
        config: TrainConfig,
        epoch: int,
        params: Any,
        outputs: list[Any],
        meta: dict[str, Any],
    ) -> None:
        """Save a checkpoint of every seed and append each seed's orbit record.

        Args:
            config: The run's config.
            epoch: The epoch recorded.
            params: Every seed's parameters (leading seed axis).
            outputs: One orbit record per seed (`rnn_dyn.orbit.orbit_outputs`).
            meta: Arrays stored once in ``orbit.npz`` (inputs, inits, labels).
        """
        (self.path / "checkpoints").mkdir(exist_ok=True)
        save_params(
            self.checkpoint_path(epoch), jax.tree_util.tree_map(np.asarray, params)
        )
        for i, record in enumerate(outputs):
            for target in self._seed_dirs(config, i):
                target.mkdir(exist_ok=True)
                append_orbit(target / "orbit.npz", record, epoch, **meta)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host."""
    if pid <= 0:  # 0 and -1 would signal a process group, or every process
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):  # none, or no pid
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True
