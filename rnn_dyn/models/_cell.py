"""PyTorch-layout recurrent cells (Elman RNN, LSTM, GRU) as state-space models.

The three cells share PyTorch's parameter layout, so weights published for
``torch.nn.RNN``/``LSTM``/``GRU`` load unchanged: ``weight_ih`` has shape
``(G·H, I)`` and ``weight_hh`` ``(G·H, H)`` with the ``G`` gate blocks stacked
in PyTorch's order, plus optional biases and an optional linear readout.

Output convention: ``g(x_t, u_t)`` is the hidden part of ``f(x_t, u_t)``,
i.e. h_{t+1}, passed through the readout when there is one. This is exactly
the output PyTorch returns at step ``t``, and it is a function of
``(x_t, u_t)`` as Eq. (1) requires.
"""

from __future__ import annotations

import dataclasses
import functools as ft
from typing import Any, ClassVar, NamedTuple, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._types import Input, Key, Output, State
from ._base import float_dtype, params_dtype, state_dict_get, uniform


class CellParams(NamedTuple):
    """Parameters of a PyTorch-layout cell and its optional linear readout.

    Attributes:
        weight_ih: Input weights, shape `(G·H, I)`, gate blocks in PyTorch order.
        weight_hh: Recurrent weights, shape `(G·H, H)`.
        bias_ih: Input bias, shape `(G·H,)`, or None for a cell without bias.
        bias_hh: Recurrent bias, shape `(G·H,)`, or None.
        readout_weight: Readout ``ŷ = W h + b``, shape `(p, H)`, or None when the
            output is ``h`` itself.
        readout_bias: Readout bias, shape `(p,)`, or None.
    """

    weight_ih: Float[Array, "gh i"]
    weight_hh: Float[Array, "gh h"]
    bias_ih: Float[Array, " gh"] | None
    bias_hh: Float[Array, " gh"] | None
    readout_weight: Float[Array, "p h"] | None = None
    readout_bias: Float[Array, " p"] | None = None


CellT = TypeVar("CellT", bound="TorchCell")


def check_sizes(cell: Any) -> None:
    """Raise ValueError unless ``cell.input_size``, ``hidden_size``, ``readout`` fit."""
    for name, low in (("input_size", 0), ("hidden_size", 1)):
        value = getattr(cell, name)
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if cell.readout is not None and (
        not isinstance(cell.readout, int) or cell.readout < 1
    ):
        raise ValueError(
            f"readout must be a positive integer or None, got {cell.readout!r}"
        )


def init_readout(
    key_weight: Key,
    key_bias: Key,
    readout: int | None,
    hidden: int,
    bound: float,
    dtype: Any,
) -> tuple[Float[Array, "p h"] | None, Float[Array, " p"] | None]:
    """Draw a readout ``(W, b)`` from U(-bound, bound); ``(None, None)`` without one."""
    if readout is None:
        return None, None
    return (
        uniform(key_weight, (readout, hidden), bound, dtype),
        uniform(key_bias, (readout,), bound, dtype),
    )


def matvec(w: Float[Array, " r c *points"], v: Array) -> Float[Array, " r *points"]:
    """Return ``W v``, at one parameter point or at many on a trailing axis.

    At one point ``w`` is `(r, c)` and ``v`` `(c,)`: ``w @ v``. At G points (the
    grid-minor layout of `rnn_dyn.landscape.evaluate`) ``w`` is `(r, c, G)` and
    ``v`` `(c, G)`, or `(c,)` shared by every point: c multiply-adds
    elementwise over G, which XLA vectorises across the points.
    """
    if w.ndim == 2:
        return w @ v
    columns = range(w.shape[1])
    terms = [w[:, j] * (v[j] if v.ndim == 1 else v[j][None]) for j in columns]
    if not terms:  # no columns: an input of size 0
        return jnp.zeros(w.shape[:1] + w.shape[2:], w.dtype)
    return ft.reduce(jnp.add, terms)


def apply_readout(
    params: Any, h: Float[Array, " h *points"]
) -> Float[Array, " p *points"]:
    """Return ``W h + b`` with the readout of ``params``, or ``h`` without one.

    ``h`` may carry a trailing axis of parameter points (see `matvec`).
    """
    if params.readout_weight is None:
        return h
    out = matvec(params.readout_weight, h)
    return out if params.readout_bias is None else out + params.readout_bias


@dataclasses.dataclass(frozen=True)
class TorchCell:
    """Static configuration shared by the PyTorch-layout cells.

    Attributes:
        input_size: Input dimension ``I`` (0 for an autonomous system).
        hidden_size: Hidden dimension ``H``.
        readout: Output dimension of a linear readout, or None to output ``h``.
        bias: Whether the cell has ``bias_ih`` and ``bias_hh``.
    """

    input_size: int
    hidden_size: int
    readout: int | None = None
    bias: bool = True

    num_gates: ClassVar[int] = 1
    state_multiple: ClassVar[int] = 1  # the LSTM carries [h, c]

    def __post_init__(self) -> None:
        check_sizes(self)

    @property
    def state_size(self) -> int:
        """Dimension ``n`` of the flat state vector."""
        return self.state_multiple * self.hidden_size

    @property
    def output_size(self) -> int:
        """Dimension ``p`` of the output."""
        return self.hidden_size if self.readout is None else self.readout

    def init(self, key: Key, *, dtype: Any = None) -> CellParams:
        """Draw parameters from U(-1/√H, 1/√H), PyTorch's default.

        Args:
            key: PRNG key.
            dtype: Float dtype of the parameters; defaults to JAX's default float.
                (Keyword only.)

        Returns:
            A `CellParams`.
        """
        dtype = float_dtype(dtype)
        gh, h, i = self.num_gates * self.hidden_size, self.hidden_size, self.input_size
        bound = 1.0 / np.sqrt(h)
        k = jax.random.split(key, 6)
        readout_weight, readout_bias = init_readout(
            k[4], k[5], self.readout, h, bound, dtype
        )
        return CellParams(
            weight_ih=uniform(k[0], (gh, i), bound, dtype),
            weight_hh=uniform(k[1], (gh, h), bound, dtype),
            bias_ih=uniform(k[2], (gh,), bound, dtype) if self.bias else None,
            bias_hh=uniform(k[3], (gh,), bound, dtype) if self.bias else None,
            readout_weight=readout_weight,
            readout_bias=readout_bias,
        )

    def initial_state(self, params: CellParams) -> State:
        """Return the zero state, in the dtype of ``params``."""
        return jnp.zeros((self.state_size,), params_dtype(params))

    def hidden(self, x: State) -> Float[Array, " h"]:
        """Return the hidden vector ``h`` stored in the flat state ``x``."""
        return x[: self.hidden_size]

    def f(self, params: CellParams, x: State, u: Input) -> State:
        """Return the next state x_{t+1}."""
        return self._step(params, x, u)

    def g(self, params: CellParams, x: State, u: Input) -> Output:
        """Return h_{t+1} (or its readout), PyTorch's output at step t."""
        return apply_readout(params, self._step(params, x, u)[: self.hidden_size])

    def f_minor(
        self, params: CellParams, x: Float[Array, "n points"], u: Input
    ) -> Float[Array, "n points"]:
        """`f` at G parameter points at once, the points on the last axis.

        Every leaf of ``params`` has a trailing axis of G points, ``x`` is
        `(n, G)` and ``u`` is shared; the result is the G next states, `(n, G)`
        (see `rnn_dyn.models.GridMinor`).
        """
        return self._step(params, x, u)

    def g_minor(
        self, params: CellParams, x: Float[Array, "n points"], u: Input
    ) -> Float[Array, "p points"]:
        """`g` at G parameter points at once, the points on the last axis."""
        return apply_readout(params, self._step(params, x, u)[: self.hidden_size])

    def _step(self, params: CellParams, x: Array, u: Input) -> Array:
        """The cell's map, written once for `f` and `f_minor` (each cell's own)."""
        raise NotImplementedError

    def _preactivations(
        self, params: CellParams, h: Float[Array, " h *points"], u: Input
    ) -> tuple[Float[Array, " gh *points"], Float[Array, " gh *points"]]:
        """Return ``W_ih u + b_ih`` and ``W_hh h + b_hh``."""
        gi = matvec(params.weight_ih, u)
        gh = matvec(params.weight_hh, h)
        if params.bias_ih is not None:
            gi = gi + params.bias_ih
        if params.bias_hh is not None:
            gh = gh + params.bias_hh
        return gi, gh

    @classmethod
    def from_state_dict(
        cls: type[CellT], state_dict: dict[str, Any], *, readout: str | None = None
    ) -> tuple[CellT, CellParams]:
        """Build a model and its params from a PyTorch-style state dict of arrays.

        Accepts the keys of ``torch.nn.LSTM``/``GRU``/``RNN`` (``weight_ih_l0``
        ...) or the same without the ``_l0`` suffix; sizes are read off the
        arrays. Only single-layer, unidirectional cells are supported.

        Args:
            state_dict: Mapping from names to NumPy (or PyTorch CPU) arrays.
            readout: Prefix of a linear readout, e.g. ``"decoder"`` for
                ``decoder.weight`` and ``decoder.bias``. (Keyword only.)

        Returns:
            ``(model, params)``.

        Raises:
            ValueError: If an entry is missing or has an inconsistent shape.
        """
        w_ih = state_dict_get(state_dict, "weight_ih")
        w_hh = state_dict_get(state_dict, "weight_hh")
        b_ih = state_dict_get(state_dict, "bias_ih", required=False)
        b_hh = state_dict_get(state_dict, "bias_hh", required=False)
        assert w_ih is not None and w_hh is not None
        if w_ih.ndim != 2 or w_hh.ndim != 2:
            raise ValueError(
                f"weight_ih and weight_hh must be 2-D; got shapes {w_ih.shape} and "
                f"{w_hh.shape}"
            )
        gh, hidden = w_hh.shape
        if gh != cls.num_gates * hidden or w_ih.shape[0] != gh:
            raise ValueError(
                f"{cls.__name__} expects weight_hh of shape ({cls.num_gates}·H, H) and "
                f"weight_ih of shape ({cls.num_gates}·H, I); got {w_hh.shape} and "
                f"{w_ih.shape}"
            )
        if (b_ih is None) != (b_hh is None):
            raise ValueError(
                "state dict must hold both bias_ih and bias_hh, or neither"
            )
        for name, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
            if b is not None and b.shape != (gh,):
                raise ValueError(f"{name} must have shape ({gh},), got {b.shape}")
        r_w = r_b = None
        if readout is not None:
            r_w = state_dict_get(state_dict, readout + ".weight")
            r_b = state_dict_get(state_dict, readout + ".bias", required=False)
            assert r_w is not None
            if r_w.ndim != 2 or r_w.shape[1] != hidden:
                raise ValueError(
                    f"{readout}.weight must have shape (p, {hidden}), got {r_w.shape}"
                )
            if r_b is not None and r_b.shape != r_w.shape[:1]:
                raise ValueError(
                    f"{readout}.bias must have shape ({r_w.shape[0]},), got {r_b.shape}"
                )
        model = cls(
            input_size=int(w_ih.shape[1]),
            hidden_size=int(hidden),
            readout=None if r_w is None else int(r_w.shape[0]),
            bias=b_ih is not None,
        )
        to_jnp = lambda a: None if a is None else jnp.asarray(a)
        params = CellParams(*map(to_jnp, (w_ih, w_hh, b_ih, b_hh, r_w, r_b)))
        return model, params

    def state_dict(
        self, params: CellParams, *, readout: str = "readout"
    ) -> dict[str, np.ndarray]:
        """Return ``params`` as a PyTorch-style state dict of NumPy arrays.

        The cell's keys carry ``_l0`` so ``torch.nn.LSTM(...).load_state_dict``
        takes them; the readout is stored under ``readout + ".weight"``/``".bias"``.
        """
        out = {"weight_ih_l0": params.weight_ih, "weight_hh_l0": params.weight_hh}
        if params.bias_ih is not None:
            out["bias_ih_l0"] = params.bias_ih
            out["bias_hh_l0"] = params.bias_hh
        if params.readout_weight is not None:
            out[readout + ".weight"] = params.readout_weight
            if params.readout_bias is not None:
                out[readout + ".bias"] = params.readout_bias
        return {k: np.array(v) for k, v in out.items()}  # writable, for torch
