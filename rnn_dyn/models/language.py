r"""Word-level language model: embedding, a recurrent core, a linear decoder.

.. math::
    x_{t+1} = f(x_t, E w_t), \qquad
    \mathrm{logits}_t = D\,h(x_{t+1}) + b

The recurrent core is any `Model` (LSTM, sLSTM, oRNN, GRU, RNN) with input
size ``embed``; ``E`` is the `(V, embed)` embedding, ``D`` the `(V, H)`
decoder (the embedding itself when ``tied``), and ``h(x)`` the hidden part of
the state (``x[:H]`` for the LSTM). Dropout, as in the usual recipe, acts on
the embedded inputs and on ``h`` before the decoder, only when a PRNG key is
given (training).

Two views turn the language model into a dynamical system for the rest of the
toolkit: under a constant word ``w`` the state map is the core with the
constant input ``E w`` (`constant_input`); fed with its own most probable
prediction it is the autonomous map ``x ↦ f(x, E argmax(D h(x) + b))``
(`feedback`, a `Model` with no input), which the Lyapunov and fixed-point tools
take as they are.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .._types import Input, Key, Output, State
from ._base import Model, Preparable, float_dtype, uniform


class LanguageModelParams(NamedTuple):
    """Parameters of a `LanguageModel`.

    Attributes:
        embedding: Word vectors, shape `(V, embed)`.
        core: Parameters of the recurrent core.
        decoder_weight: Decoder, shape `(V, H)`; None when tied to ``embedding``.
        decoder_bias: Decoder bias, shape `(V,)`.
    """

    embedding: Float[Array, "v e"]
    core: Any
    decoder_weight: Float[Array, "v h"] | None
    decoder_bias: Float[Array, " v"]


@dataclasses.dataclass(frozen=True)
class LanguageModel:
    """Embedding + recurrent core + decoder.

    Attributes:
        core: The recurrent `Model`; its input size is the embedding size and
            it has no readout.
        vocab_size: Number of words V.
        tied: Whether the decoder is the embedding (needs ``embed == H``).
    """

    core: Model
    vocab_size: int
    tied: bool = False

    def __post_init__(self) -> None:  # noqa: D105
        if self.vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {self.vocab_size}")
        if self.core.output_size != self.hidden_size:
            raise ValueError("the core must output its hidden vector (no readout)")
        if self.tied and self.core.input_size != self.hidden_size:
            raise ValueError(
                "tied weights need embed == hidden, got "
                f"{self.core.input_size} and {self.hidden_size}"
            )

    @property
    def hidden_size(self) -> int:
        """Size H of the hidden vector fed to the decoder."""
        return getattr(self.core, "hidden_size", self.core.state_size)

    @property
    def state_size(self) -> int:
        """Size of the core's state."""
        return self.core.state_size

    def init(self, key: Key, *, dtype: Any = None) -> LanguageModelParams:
        """Core at its default init; embedding and decoder U(-0.1, 0.1), bias 0."""
        dtype = float_dtype(dtype)
        k_embed, k_core, k_decoder = jax.random.split(key, 3)
        v, e, h = self.vocab_size, self.core.input_size, self.hidden_size
        return LanguageModelParams(
            embedding=uniform(k_embed, (v, e), 0.1, dtype),
            core=self.core.init(k_core, dtype=dtype),
            decoder_weight=None
            if self.tied
            else uniform(k_decoder, (v, h), 0.1, dtype),
            decoder_bias=jnp.zeros((v,), dtype),
        )

    def initial_state(self, params: LanguageModelParams) -> State:
        """The core's initial state."""
        return self.core.initial_state(params.core)

    def hidden(self, x: State) -> Float[Array, " h"]:
        """The hidden vector h(x) that the decoder reads."""
        return x[: self.hidden_size]

    def decoder(self, params: LanguageModelParams) -> Float[Array, "v h"]:
        """The decoder matrix D (the embedding when tied)."""
        return params.embedding if self.tied else params.decoder_weight

    def logits(self, params: LanguageModelParams, h: Float[Array, "*b h"]) -> Array:
        """Next-word logits ``D h + b`` for hidden vectors of shape `(..., H)`."""
        bias = params.decoder_bias.reshape((1,) * (h.ndim - 1) + (-1,))
        return h @ self.decoder(params).T + bias

    def constant_input(self, params: LanguageModelParams, word: int) -> Input:
        """The core's input under the constant word ``word``: its embedding."""
        return params.embedding[word]

    def feedback(self) -> Feedback:
        """The autonomous map that feeds back the most probable next word."""
        return Feedback(self)

    def prepare(
        self, params: LanguageModelParams
    ) -> tuple[LanguageModel, LanguageModelParams]:
        """Hoist the core's per-step work out of the time loop (oRNN's expm)."""
        if not isinstance(self.core, Preparable):
            return self, params
        core, core_params = self.core.prepare(params.core)
        return dataclasses.replace(self, core=core), params._replace(core=core_params)

    def hidden_states(
        self,
        params: LanguageModelParams,
        x0: State,
        tokens: Int[Array, " t"],
        *,
        dropout: float = 0.0,
        key: Key | None = None,
    ) -> tuple[Float[Array, "t h"], State]:
        """Run one stream: the hidden vectors the decoder reads, and the last state.

        The same as `unroll` without the decoder: ``unroll`` returns
        ``(self.logits(params, hs), x_T)`` for ``(hs, x_T)`` of this method,
        dropout on ``hs`` included. (``dropout`` and ``key`` keyword only.)
        """
        inputs = params.embedding[tokens]
        if key is not None:
            k_in, k_out = jax.random.split(key)
            inputs = _dropout(k_in, inputs, dropout)

        def step(x, u):
            x = self.core.f(params.core, x, u)
            return x, self.hidden(x)

        x_last, hs = jax.lax.scan(step, x0, inputs)
        if key is not None:
            hs = _dropout(k_out, hs, dropout)
        return hs, x_last

    def unroll(
        self,
        params: LanguageModelParams,
        x0: State,
        tokens: Int[Array, " t"],
        *,
        dropout: float = 0.0,
        key: Key | None = None,
    ) -> tuple[Float[Array, "t v"], State]:
        """Run one stream: logits for each next word, and the last state.

        Args:
            params: Parameters.
            x0: Initial state.
            tokens: Input words, shape `(T,)`.
            dropout: Dropout rate on embeddings and hidden vectors, applied
                only with ``key``. (Keyword only.)
            key: PRNG key for dropout; None: no dropout. (Keyword only.)

        Returns:
            ``(logits, x_T)``: logits of shape `(T, V)` (row t predicts
            ``tokens[t + 1]``) and the state after the last word.
        """
        hs, x_last = self.hidden_states(params, x0, tokens, dropout=dropout, key=key)
        return self.logits(params, hs), x_last


def _dropout(key: Key, a: Array, rate: float) -> Array:
    """Inverted dropout: zero each entry with probability ``rate``, rescale."""
    if rate <= 0:
        return a
    keep = jax.random.bernoulli(key, 1.0 - rate, a.shape)
    return jnp.where(keep, a / (1.0 - rate), jnp.zeros((), a.dtype))


@dataclasses.dataclass(frozen=True)
class Feedback:
    r"""A language model fed its own most probable prediction, as a `Model`.

    ``f(x) = core.f(x, E argmax(D h(x) + b))``; ``g(x)`` is the logits after
    that step. It has no input (``input_size = 0``) and takes the
    `LanguageModelParams` of its language model. Its Jacobian ∂f/∂x is that of
    the core under the chosen word: the argmax is piecewise constant.
    """

    lm: LanguageModel

    @property
    def state_size(self) -> int:
        """Size of the core's state."""
        return self.lm.state_size

    @property
    def input_size(self) -> int:
        """0: the input is the model's own prediction."""
        return 0

    @property
    def output_size(self) -> int:
        """The vocabulary size: the output is the next-word logits."""
        return self.lm.vocab_size

    def init(self, key: Key, *, dtype: Any = None) -> LanguageModelParams:
        """The language model's initialisation."""
        return self.lm.init(key, dtype=dtype)

    def initial_state(self, params: LanguageModelParams) -> State:
        """The core's initial state."""
        return self.lm.initial_state(params)

    def word(self, params: LanguageModelParams, x: State) -> Int[Array, ""]:
        """The most probable next word at state ``x``: the next input."""
        return jnp.argmax(self.lm.logits(params, self.lm.hidden(x)))

    def f(self, params: LanguageModelParams, x: State, u: Input) -> State:
        """Step with the predicted word as input."""
        word = self.word(params, x)
        return self.lm.core.f(params.core, x, params.embedding[word])

    def g(self, params: LanguageModelParams, x: State, u: Input) -> Output:
        """The next-word logits after the step."""
        return self.lm.logits(params, self.lm.hidden(self.f(params, x, u)))


def language_model(
    core: Model, vocab_size: int, *, tied: bool = False
) -> LanguageModel:
    """Wrap a recurrent core (input size = embedding size, no readout) as an LM.

    Args:
        core: E.g. ``rd.models.lstm(embed, hidden)``.
        vocab_size: Number of words.
        tied: Share the embedding as decoder (needs ``embed == hidden``).
            (Keyword only.)

    Returns:
        A `LanguageModel`.
    """
    return LanguageModel(core, vocab_size, tied)
