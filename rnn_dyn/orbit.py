r"""Orbits under constant inputs: what a model settles into, recorded over training.

`orbit_outputs` simulates the model from several initial states under each of
several constant inputs, all in one vmapped, jitted call, and keeps the
outputs after a burn-in: the points of a bifurcation diagram at one parameter
value. `append_orbit` adds one such record (one epoch) to an ``orbit.npz``
whose ``outputs`` array has shape `(steps, n_init, n_inputs, n_outputs,
n_records)`, atomically.

For a language model (Supp. Figs. 5-7), `lm_orbits` records the hidden
vector under constant words and in the feedback mode (the most probable next
word fed back as input), projected on named directions (`projections`): the
mean over units, a token's decoder row, or a random direction. The outputs
axis then holds the projections.
"""

from __future__ import annotations

import functools as ft
import os
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._io import read_npz, save_npz
from ._simulate import _rollout
from ._types import Params
from ._validate import check_params, promote
from .models._base import Model
from .models.language import LanguageModel, LanguageModelParams


def orbit_outputs(
    model: Model,
    params: Params,
    inputs: Float[Array, "k m"],
    inits: Float[Array, "i n"],
    *,
    steps: int,
    burn_in: int,
) -> Float[Array, "s i k p"]:
    """Outputs after ``burn_in`` of ``steps`` steps, per initial state and input.

    Args:
        model: The model.
        params: Its parameters.
        inputs: Constant inputs, shape `(k, m)`.
        inits: Initial states, shape `(i, n)`.
        steps: Steps simulated. (Keyword only.)
        burn_in: Leading steps dropped, ``0 <= burn_in < steps``. (Keyword only.)

    Returns:
        Outputs of shape `(steps - burn_in, i, k, p)`; non-finite values are
        kept (a diverging model shows as inf/NaN, not as a gap).

    Raises:
        ValueError: For bad shapes or ``burn_in`` outside ``[0, steps)``.
    """
    check_params(model, params)
    if not 0 <= burn_in < steps:
        raise ValueError(f"need 0 <= burn_in < steps, got {burn_in} and {steps}")
    for name, a, dim, size in (
        ("inputs", inputs, "k", model.input_size),
        ("inits", inits, "i", model.state_size),
    ):
        shape = np.shape(a)
        if len(shape) != 2 or shape[1] != size:
            raise ValueError(f"{name} must have shape ({dim}, {size}), got {shape}")
    params, inputs, inits = promote(params, inputs, inits)
    return _orbits(model, params, inputs, inits, steps, burn_in)


@ft.partial(jax.jit, static_argnums=(0, 4, 5))
def _orbits(model, params, inputs, inits, steps, burn_in):
    def one(x0, u):
        us = jnp.broadcast_to(u, (steps, u.shape[0]))
        return _rollout(model, params, x0, us).outputs[burn_in:]

    per_input = jax.vmap(one, in_axes=(None, 0), out_axes=1)  # (s, k, p)
    return jax.vmap(per_input, in_axes=(0, None), out_axes=1)(inits, inputs)


def append_orbit(
    path: str | os.PathLike[str], outputs: Any, epoch: int, **meta: Any
) -> Path:
    """Append one record to ``path`` (created if absent), atomically.

    Args:
        path: The ``orbit.npz``.
        outputs: One record, shape `(steps, n_init, n_inputs, n_outputs)`.
        epoch: Its epoch.
        **meta: Arrays stored once (inputs, initial states, labels); they
            must equal what the file already holds.

    Returns:
        The path.

    Raises:
        ValueError: If the record does not fit the records already stored.
    """
    path = Path(path)
    outputs = np.asarray(outputs)[..., None]
    epochs = np.asarray([epoch])
    if path.exists():
        stored = _read_records(path)
        if stored["outputs"].shape[:-1] != outputs.shape[:-1]:
            raise ValueError(
                f"{path}: records of shape {stored['outputs'].shape[:-1]}, "
                f"got {outputs.shape[:-1]}"
            )
        keep = stored["epochs"] != epoch  # recording an epoch again replaces it
        outputs = np.concatenate([stored["outputs"][..., keep], outputs], axis=-1)
        epochs = np.concatenate([stored["epochs"][keep], epochs])
    return save_npz(path, outputs=outputs, epochs=epochs, **meta)


class OrbitRecord(NamedTuple):
    """An ``orbit.npz`` read back (`read_orbit`), records in epoch order.

    Attributes:
        outputs: Shape `(steps, n_init, n_inputs, n_outputs, n_records)`.
        epochs: The epoch of each record, `(n_records,)`, increasing.
        inputs: The constant inputs (or, for a language model, word ids).
        inits: The initial states.
        labels: A name per input column, or None.
        projections: A language model's projection names (the outputs
            axis), or None for a sequence model.
    """

    outputs: np.ndarray
    epochs: np.ndarray
    inputs: np.ndarray | None
    inits: np.ndarray | None
    labels: tuple[str, ...] | None
    projections: tuple[str, ...] | None


def _read_records(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The arrays of an ``orbit.npz``, checked to hold one epoch per record."""
    stored = read_npz(path, "orbit record")
    if "outputs" not in stored or "epochs" not in stored:
        raise ValueError(f"{path} is not an orbit record: it has {sorted(stored)}")
    outputs, epochs = stored["outputs"], stored["epochs"]
    if outputs.ndim != 5 or epochs.shape != outputs.shape[-1:]:
        raise ValueError(
            f"{path}: outputs must have shape (steps, inits, inputs, outputs, "
            f"records) with one epoch per record, got {outputs.shape} and "
            f"{epochs.shape}"
        )
    return stored


def read_orbit(path: str | os.PathLike[str]) -> OrbitRecord:
    """Read an ``orbit.npz`` written by `append_orbit`.

    Raises:
        ValueError: If the file is missing, unreadable or lacks the records.
    """
    stored = _read_records(path)
    outputs, epochs = stored["outputs"], stored["epochs"]
    order = np.argsort(epochs, kind="stable")
    names = lambda key: tuple(str(v) for v in stored[key]) if key in stored else None
    return OrbitRecord(
        outputs[..., order],
        epochs[order],
        stored.get("inputs"),
        stored.get("inits"),
        names("labels"),
        names("projections"),
    )


def projections(
    lm: LanguageModel,
    params: LanguageModelParams,
    names: tuple[str, ...],
    vocabulary: tuple[str, ...],
    *,
    seed: int = 0,
) -> Float[Array, "q h"]:
    """Unit directions in the hidden space, one per name, shape `(q, H)`.

    ``"mean"`` gives ``1/H`` in every unit (the projection is the mean of
    ``h``); ``"random"``, ``"random1"``, ``"random2"``… give fixed Gaussian
    unit vectors drawn from ``seed``; any other name is a word, whose
    direction is its decoder row ``D[w] / ||D[w]||`` (its logit, up to the
    bias and the norm).

    Raises:
        ValueError: If a name is neither of those nor in ``vocabulary``.
    """
    decoder = lm.decoder(params)
    h, dtype = lm.hidden_size, decoder.dtype
    rows = []
    for name in names:
        if name == "mean":
            rows.append(jnp.full((h,), 1.0 / h, dtype))
        elif name.startswith("random") and name[6:].isdigit() or name == "random":
            key = jax.random.fold_in(jax.random.key(seed), int(name[6:] or 0))
            v = jax.random.normal(key, (h,), dtype)
            rows.append(v / jnp.linalg.norm(v))
        elif name in vocabulary:
            d = decoder[vocabulary.index(name)]
            rows.append(d / jnp.linalg.norm(d))
        else:
            raise ValueError(
                f"projection {name!r} is not 'mean', 'random[K]' or a word of the "
                f"vocabulary ({len(vocabulary)} words)"
            )
    return jnp.stack(rows)


def lm_orbits(
    lm: LanguageModel,
    params: LanguageModelParams,
    words: Any,
    inits: Float[Array, "i n"],
    directions: Float[Array, "q h"],
    *,
    steps: int,
    burn_in: int,
) -> Float[Array, "s i k2 q"]:
    """Projected hidden vectors after ``burn_in``, under constant and fed-back words.

    Column ``j < k`` holds the orbit under the constant word ``words[j]``;
    column ``k + j`` the feedback orbit that starts with ``words[j]`` and then
    takes the most probable next word as input. Entry ``t`` is
    ``directions @ h(x_{t+1})`` for ``t`` from ``burn_in`` to ``steps - 1``.

    Args:
        lm: The language model.
        params: Its parameters.
        words: Token ids, shape `(k,)`.
        inits: Initial states, `(i, n)`.
        directions: Projection directions, `(q, H)` (see `projections`).
        steps: Steps simulated. (Keyword only.)
        burn_in: Leading steps dropped. (Keyword only.)

    Returns:
        Shape `(steps - burn_in, i, 2k, q)`; non-finite values are kept.
    """
    if not 0 <= burn_in < steps:
        raise ValueError(f"need 0 <= burn_in < steps, got {burn_in} and {steps}")
    if inits.ndim != 2 or inits.shape[1] != lm.state_size:
        raise ValueError(
            f"inits must have shape (i, {lm.state_size}), got {inits.shape}"
        )
    return _lm_orbits(lm, params, jnp.asarray(words), inits, directions, steps, burn_in)


@ft.partial(jax.jit, static_argnums=(0, 5, 6))
def _lm_orbits(lm, params, words, inits, directions, steps, burn_in):
    lm, params = lm.prepare(params)
    feedback = lm.feedback()

    def run(x0, word, fed_back):
        def step(x, t):
            w = jnp.where(t > 0, feedback.word(params, x), word) if fed_back else word
            x = lm.core.f(params.core, x, params.embedding[w])
            return x, directions @ lm.hidden(x)

        return jax.lax.scan(step, x0, jnp.arange(steps))[1][burn_in:]

    def column(word, fed_back):
        return jax.vmap(lambda x0: run(x0, word, fed_back))(inits)  # (i, s, q)

    constant = jax.vmap(lambda w: column(w, False))(words)
    fed = jax.vmap(lambda w: column(w, True))(words)
    return jnp.concatenate([constant, fed]).transpose(2, 1, 0, 3)
