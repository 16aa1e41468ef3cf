"""Builders of the models and systems named in `rnn_dyn.examples`."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .. import models
from .._types import Params, State
from ..models._base import Model
from . import CELLS, MODELS, SYSTEMS
from ._chaotic_lstm import chaotic_lstm


def cell(
    name: str,
    input_size: int,
    hidden: int,
    *,
    readout: int | None,
    ornn_variant: str = "rnn_dyn",
) -> Model:
    """Return the recurrent cell ``name`` (one of `CELLS`).

    Args:
        name: ``"lstm"``, ``"gru"``, ``"rnn"``, ``"ornn"`` or ``"slstm"``.
        input_size: Input size m.
        hidden: Hidden units.
        readout: Outputs of the linear readout; None: the output is h.
            (Keyword only.)
        ornn_variant: ``variant`` of `rnn_dyn.models.ornn`, ``"rnn_dyn"``
            (default) or ``"authors"``, with that variant's default bias;
            ignored by the other cells. (Keyword only.)

    Raises:
        ValueError: If ``name`` is not a cell, or ``ornn_variant`` is unknown
            for ``"ornn"``.
    """
    if name not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {name!r}")
    if name == "ornn":
        return models.ornn(input_size, hidden, readout=readout, variant=ornn_variant)
    return getattr(models, name)(input_size, hidden, readout=readout)


def system(
    name: str,
    *,
    variant: str = "authors",
    r: float = 4.0,
    a: float = 1.4,
    b: float = 0.3,
    size: int = 8,
    seed: int = 0,
    dtype: Any = None,
) -> tuple[Model, Params, State]:
    """Return ``(model, params, x0)`` of the built-in system ``name`` (`SYSTEMS`).

    Args:
        name: ``"chaotic-lstm"`` (Appendix C), ``"logistic"`` (x' = r x (1 - x),
            x0 = 0.1), ``"henon"`` (Hénon map with a, b) or ``"linear"``
            (x' = A x with A drawn with ``seed`` and scaled to spectral radius
            0.9, x0 = 1: its Lyapunov exponents are log|eig A|, a check anyone
            can redo).
        variant: Weights of the chaotic LSTM, ``"authors"`` or ``"printed"``.
            (Keyword only, as every argument after ``name``.)
        r: Logistic map parameter.
        a: Hénon parameter a.
        b: Hénon parameter b.
        size: State size of the linear map.
        seed: Seed of the linear map's matrix.
        dtype: Float dtype; None: JAX's default.

    Raises:
        ValueError: If ``name`` or ``variant`` is unknown.
    """
    if name == "chaotic-lstm":
        return chaotic_lstm(variant, dtype=dtype)
    if name == "linear":
        model = models.linear(size, 0, 1)
        params = model.init(jax.random.key(seed), dtype=dtype)
        mat = jax.random.normal(jax.random.key(seed), (size, size), params.a.dtype)
        mat = mat * (0.9 / jnp.max(jnp.abs(jnp.linalg.eigvals(mat))))
        return model, params._replace(a=mat), jnp.ones(size, mat.dtype)
    if name == "logistic":
        model = models.logistic(r)
    elif name == "henon":
        model = models.henon(a, b)
    else:
        raise ValueError(f"system must be one of {SYSTEMS}, got {name!r}")
    params = model.init(jax.random.key(0), dtype=dtype)
    return model, params, model.initial_state(params)


def random_model(
    name: str,
    *,
    input_size: int = 1,
    hidden: int = 8,
    readout: int = 1,
    variant: str = "authors",
    seed: int = 0,
) -> tuple[Model, Params, State]:
    """Return ``(model, params, x0)`` of a model in `MODELS`, drawn with ``seed``.

    The chaotic LSTM comes with its fixed weights (``variant``); a cell has
    ``input_size`` inputs, ``hidden`` units and ``readout`` outputs; the linear
    map has ``hidden`` states; the logistic and Hénon maps take no sizes.

    Raises:
        ValueError: If ``name`` is not in `MODELS`.
    """
    if name == "chaotic-lstm":
        return chaotic_lstm(variant)
    if name in CELLS:
        model = cell(name, input_size, hidden, readout=readout)
    elif name == "linear":
        model = models.linear(hidden, input_size, readout)
    elif name in ("logistic", "henon"):
        model = getattr(models, name)()
    else:
        raise ValueError(f"model must be one of {MODELS}, got {name!r}")
    params = model.init(jax.random.key(seed))
    return model, params, model.initial_state(params)
