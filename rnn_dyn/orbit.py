r"""Orbits under constant inputs: what a model settles into, recorded over training.

`orbit_outputs` simulates the model from several initial states under each of
several constant inputs, all in one vmapped, jitted call, and keeps the
outputs after a burn-in: the points of a bifurcation diagram at one parameter
value. `append_orbit` adds one such record (one epoch) to an ``orbit.npz``
whose ``outputs`` array has shape `(steps, n_init, n_inputs, n_outputs,
n_records)`, atomically.

The initial states are either shared by every input, shape `(i, n)`, or
drawn for each input, `(i, k, n)` (as the authors' code does).

For a language model (Supp. Figs. 5-7), `lm_orbits` records the hidden
vector under constant words and in the feedback mode (the most probable next
word fed back as input), projected on named directions: in the hidden space
(`projections`: the mean over units, a token's decoder row, or a random
direction), or in the space of the decoder's output scores
(`logit_projections`: the mean logit, a token's logit, bias included, or a
random positive mix of logits), which is what the authors' code records. The
outputs axis then holds the projections.
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
    inits: Float[Array, "i n"] | Float[Array, "i k n"],
    *,
    steps: int,
    burn_in: int,
) -> Float[Array, "s i k p"]:
    """Outputs after ``burn_in`` of ``steps`` steps, per initial state and input.

    Args:
        model: The model.
        params: Its parameters.
        inputs: Constant inputs, shape `(k, m)`.
        inits: Initial states, shape `(i, n)` (shared by every input) or
            `(i, k, n)` (``inits[:, j]`` for input ``j``).
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
    shape = np.shape(inputs)
    if len(shape) != 2 or shape[1] != model.input_size:
        raise ValueError(f"inputs must have shape (k, {model.input_size}), got {shape}")
    inits = _per_input(inits, shape[0], model.state_size)
    params, inputs, inits = promote(params, inputs, inits)
    return _orbits(model, params, inputs, inits, steps, burn_in)


def _per_input(inits: Any, k: int, n: int) -> Array:
    """Initial states of shape `(i, k, n)`, from `(i, n)` shared or `(i, k, n)`."""
    shape = np.shape(inits)
    if len(shape) == 2 and shape[1] == n:
        return jnp.broadcast_to(jnp.asarray(inits)[:, None], (shape[0], k, n))
    if len(shape) != 3 or shape[1:] != (k, n):
        raise ValueError(
            f"inits must have shape (i, {n}) or (i, {k}, {n}) for {k} inputs, "
            f"got {shape}"
        )
    return jnp.asarray(inits)


@ft.partial(jax.jit, static_argnums=(0, 4, 5))
def _orbits(model, params, inputs, inits, steps, burn_in):
    def one(x0, u):
        us = jnp.broadcast_to(u, (steps, u.shape[0]))
        return _rollout(model, params, x0, us).outputs[burn_in:]

    per_input = jax.vmap(one, in_axes=(0, 0), out_axes=1)  # (s, k, p)
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
        space: What a language model's projections project, ``"hidden"`` or
            ``"logits"`` (``"hidden"`` for records that do not say), or None
            for a sequence model.
    """

    outputs: np.ndarray
    epochs: np.ndarray
    inputs: np.ndarray | None
    inits: np.ndarray | None
    labels: tuple[str, ...] | None
    projections: tuple[str, ...] | None
    space: str | None = None


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
        (str(stored.get("space", "hidden")) if "projections" in stored else None),
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
        elif _is_random(name):
            key = jax.random.fold_in(jax.random.key(seed), int(name[6:] or 0))
            v = jax.random.normal(key, (h,), dtype)
            rows.append(v / jnp.linalg.norm(v))
        elif name in vocabulary:
            d = decoder[vocabulary.index(name)]
            rows.append(d / jnp.linalg.norm(d))
        else:
            raise _unknown_projection(name, vocabulary)
    return jnp.stack(rows)


def logit_projections(
    lm: LanguageModel,
    params: LanguageModelParams,
    names: tuple[str, ...],
    vocabulary: tuple[str, ...],
    *,
    seed: int = 0,
) -> tuple[Float[Array, "q h"], Float[Array, " q"]]:
    """Projections of the decoder's output scores, as affine maps of ``h``.

    A projection of the logits ``z = D h + b`` on weights ``w`` (over the
    vocabulary) is ``w·z = (Dᵀw)·h + w·b``, so it is returned as the direction
    ``Dᵀw`` and the offset ``w·b``, without forming the ``|V|`` logits at each
    step. ``"mean"`` is the mean logit (``w = 1/|V|``); a word its own logit,
    bias included (``w`` its indicator); ``"random"``, ``"random1"``… a fixed
    random mix with ``w_v ~ U(0, 2)/|V|`` drawn from ``seed``, as the
    authors' code draws its random projections.

    Returns:
        ``(directions, offsets)`` of shapes `(q, H)` and `(q,)`.

    Raises:
        ValueError: If a name is neither of those nor in ``vocabulary``.
    """
    decoder, bias = lm.decoder(params), params.decoder_bias
    v = decoder.shape[0]
    weights = []
    for name in names:
        if name == "mean":
            weights.append(jnp.full((v,), 1.0 / v, decoder.dtype))
        elif _is_random(name):
            key = jax.random.fold_in(jax.random.key(seed), int(name[6:] or 0))
            weights.append(jax.random.uniform(key, (v,), decoder.dtype, 0, 2) / v)
        elif name in vocabulary:
            weights.append(jax.nn.one_hot(vocabulary.index(name), v, dtype=bias.dtype))
        else:
            raise _unknown_projection(name, vocabulary)
    w = jnp.stack(weights)
    return w @ decoder, w @ bias


def _is_random(name: str) -> bool:
    return name == "random" or name.startswith("random") and name[6:].isdigit()


def _unknown_projection(name: str, vocabulary: tuple[str, ...]) -> ValueError:
    return ValueError(
        f"projection {name!r} is not 'mean', 'random[K]' or a word of the "
        f"vocabulary ({len(vocabulary)} words)"
    )


def lm_orbits(
    lm: LanguageModel,
    params: LanguageModelParams,
    words: Any,
    inits: Float[Array, "i n"] | Float[Array, "i k n"],
    directions: Float[Array, "q h"],
    *,
    steps: int,
    burn_in: int,
    offsets: Float[Array, " q"] | None = None,
) -> Float[Array, "s i k2 q"]:
    """Projected hidden vectors after ``burn_in``, under constant and fed-back words.

    Column ``j < k`` holds the orbit under the constant word ``words[j]``;
    column ``k + j`` the feedback orbit that starts with ``words[j]`` and then
    takes the most probable next word as input. Entry ``t`` is
    ``directions @ h(x_{t+1}) + offsets`` for ``t`` from ``burn_in`` to
    ``steps - 1``.

    Args:
        lm: The language model.
        params: Its parameters.
        words: Token ids, shape `(k,)`.
        inits: Initial states, `(i, n)`, or `(i, k, n)` per word (a word's
            feedback orbits start from its states too).
        directions: Projection directions, `(q, H)` (see `projections` and
            `logit_projections`).
        steps: Steps simulated. (Keyword only.)
        burn_in: Leading steps dropped. (Keyword only.)
        offsets: Added to the projections, `(q,)` (`logit_projections`'s);
            None: zero. (Keyword only.)

    Returns:
        Shape `(steps - burn_in, i, 2k, q)`; non-finite values are kept.
    """
    if not 0 <= burn_in < steps:
        raise ValueError(f"need 0 <= burn_in < steps, got {burn_in} and {steps}")
    words = jnp.asarray(words)
    inits = _per_input(inits, words.shape[0], lm.state_size)
    if offsets is None:
        offsets = jnp.zeros(directions.shape[:1], directions.dtype)
    args = (words, inits, directions, offsets)
    return _lm_orbits(lm, params, *args, steps, burn_in)


@ft.partial(jax.jit, static_argnums=(0, 6, 7))
def _lm_orbits(lm, params, words, inits, directions, offsets, steps, burn_in):
    lm, params = lm.prepare(params)
    feedback = lm.feedback()

    def run(x0, word, fed_back):
        def step(x, t):
            w = jnp.where(t > 0, feedback.word(params, x), word) if fed_back else word
            x = lm.core.f(params.core, x, params.embedding[w])
            return x, directions @ lm.hidden(x) + offsets

        return jax.lax.scan(step, x0, jnp.arange(steps))[1][burn_in:]

    def column(word, x0s, fed_back):
        return jax.vmap(lambda x0: run(x0, word, fed_back))(x0s)  # (i, s, q)

    per_word = inits.transpose(1, 0, 2)  # (k, i, n)
    constant = jax.vmap(lambda w, x0s: column(w, x0s, False))(words, per_word)
    fed = jax.vmap(lambda w, x0s: column(w, x0s, True))(words, per_word)
    return jnp.concatenate([constant, fed]).transpose(2, 1, 0, 3)
