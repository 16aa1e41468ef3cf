r"""The language-model kernels of `rnn_dyn.train`: truncated BPTT and perplexity.

One epoch is one jitted `lax.scan` over the BPTT windows of the training
streams (`rnn_dyn.tasks.wikitext.windows`). The state at the end of a window
starts the next one, with its gradient stopped there (truncated BPTT); it
starts from the model's initial state at every epoch. Evaluation runs the
evaluation streams in windows too, carrying the state, and scores every token
that has a successor in its stream (padding is masked out), so the
perplexity ``exp(loss)`` does not depend on the window length.
"""

from __future__ import annotations

import contextlib
import functools as ft
from collections.abc import Callable, Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._losses import reduce_loss
from .._optim import optimizer, set_lr, update
from ..models.language import LanguageModel
from ..tasks.wikitext import streams

EVAL_BATCH = 10

# Host-side listeners told, after each training window, what fraction of an
# epoch it was: an epoch of a large model runs for minutes in one jitted call,
# and this is how its progress bar moves inside it.
_listeners: list[Callable[[float], None]] = []


def _window_done(fraction) -> None:
    for listener in _listeners:
        listener(float(fraction))


@contextlib.contextmanager
def window_progress(listener: Callable[[float], None]) -> Iterator[None]:
    """Call ``listener(fraction of an epoch)`` after each training window."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


class LMStatics(NamedTuple):
    """The static part of the jitted language-model epoch."""

    clip: float
    dropout: float
    stabilize: tuple[str, str] | None
    reduction: str = "mean"


def _scores(logits, targets):
    """Per-token cross-entropy and correctness of the argmax."""
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    predicted = jnp.argmax(logits, axis=-1).astype(targets.dtype)
    correct = (predicted == targets).astype(logits.dtype)
    return ce, correct


@jax.custom_vjp
def _decode(h, weight, bias):
    """Logits ``h @ weight.T + bias`` of hidden vectors ``h`` of shape `(..., H)`.

    Its backward pass is written as plain matmuls on the `(rows, V)`
    cotangent: ``dh = g @ W``, ``dW = (hᵀ g)ᵀ`` and ``db = 1ᵀ g``. Left to
    itself, XLA:CPU copies ``g`` transposed for ``dW`` and sums it column-wise
    for ``db`` (YNNPACK's reduction), together about a quarter of a training
    step at V = 18 k.
    """
    return h @ weight.T + bias.reshape((1,) * (h.ndim - 1) + (-1,))


def _decode_fwd(h, weight, bias):
    return _decode(h, weight, bias), (h, weight)


def _decode_bwd(residuals, g):
    h, weight = residuals
    rows = g.reshape(-1, g.shape[-1])
    h_rows = h.reshape(-1, h.shape[-1])
    d_h = (rows @ weight).reshape(h.shape)
    d_weight = (h_rows.T @ rows).T
    d_bias = jnp.ones((rows.shape[0],), rows.dtype) @ rows
    return d_h, d_weight, d_bias


_decode.defvjp(_decode_fwd, _decode_bwd)


@ft.partial(jax.jit, static_argnums=(0, 1))
def lm_epoch(statics: LMStatics, lm: LanguageModel, params, x0, opt_state, lr, key,
             inputs, targets):  # fmt: skip
    """One epoch of truncated BPTT for one seed.

    Args:
        statics: Clip, dropout and projection settings.
        lm: The language model.
        params: Its parameters.
        x0: Initial state of every stream, shape `(n,)`.
        opt_state: The optimiser state.
        lr: Learning rate of the epoch.
        key: PRNG key of the epoch (dropout).
        inputs: Windows of input words, `(K, batch, bptt)`.
        targets: The next words, same shape.

    Returns:
        ``(params, x0, opt_state, metrics)``: the epoch's mean ``"loss"`` and
        next-word ``"accuracy"``.
    """
    opt = optimizer(statics.clip)
    opt_state = set_lr(opt_state, lr)
    use_dropout = statics.dropout > 0

    def window_loss(params, xs, tokens, next_tokens, key):
        fast, p = lm.prepare(params)
        keys = jax.random.split(key, tokens.shape[0])

        def stream(x, t, k):
            k = k if use_dropout else None
            return fast.hidden_states(p, x, t, dropout=statics.dropout, key=k)

        # Time-major hidden vectors (T, batch, H), the layout of the scan's
        # outputs, so that the (T, batch, V) logits need no transpose.
        hs, xs = jax.vmap(stream, out_axes=(1, 0))(xs, tokens, keys)
        logits = _decode(hs, fast.decoder(p), p.decoder_bias)
        ce, correct = _scores(logits, next_tokens.T)
        loss = jnp.mean(ce)
        objective = reduce_loss(loss, ce.size, statics.reduction)
        return objective, (xs, loss, jnp.mean(correct))

    def step(carry, window):
        params, opt_state, xs = carry
        key, tokens, next_tokens = window
        grad_fn = jax.value_and_grad(window_loss, has_aux=True)
        (_, (xs, loss, acc)), grads = grad_fn(params, xs, tokens, next_tokens, key)
        params, opt_state = update(opt, grads, opt_state, params)
        if statics.stabilize is not None:
            mode, norm = statics.stabilize
            core = lm.core.stabilize(params.core, mode=mode, norm=norm)
            params = params._replace(core=core)
        jax.debug.callback(_window_done, 1.0 / inputs.shape[0])
        return (params, opt_state, jax.lax.stop_gradient(xs)), (loss, acc)

    xs = jnp.broadcast_to(x0, (inputs.shape[1], x0.shape[0]))
    keys = jax.random.split(key, inputs.shape[0])
    (params, opt_state, _), (losses, accs) = jax.lax.scan(
        step, (params, opt_state, xs), (keys, inputs, targets)
    )
    metrics = {"loss": jnp.mean(losses), "accuracy": jnp.mean(accs)}
    return params, x0, opt_state, metrics


@ft.partial(jax.jit, static_argnums=(0,))
def lm_evaluate(lm: LanguageModel, params, x0, inputs, targets, weights):
    """Mean cross-entropy and next-word accuracy over evaluation windows.

    ``inputs``, ``targets`` and ``weights`` have shape `(K, batch, window)`;
    a weight of 0 marks padding.
    """
    fast, p = lm.prepare(params)

    def step(xs, window):
        tokens, next_tokens, weight = window
        logits, xs = jax.vmap(lambda x, t: fast.unroll(p, x, t))(xs, tokens)
        ce, correct = _scores(logits, next_tokens)
        return xs, (jnp.sum(ce * weight), jnp.sum(correct * weight))

    xs = jnp.broadcast_to(x0, (inputs.shape[1], x0.shape[0]))
    _, (ce, correct) = jax.lax.scan(step, xs, (inputs, targets, weights))
    total = jnp.sum(weights)
    return jnp.sum(ce) / total, jnp.sum(correct) / total


def eval_windows(
    tokens: np.ndarray, window: int, dtype, batch: int = EVAL_BATCH
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluation windows of ``tokens``: every successor in each stream scored.

    Returns ``(inputs, targets, weights)`` of shape `(K, batch, window)`; the
    streams are padded at the end to a whole number of windows, with weight 0.
    """
    batch = max(1, min(batch, len(tokens) // 2))
    data = streams(tokens, batch)
    length = data.shape[1] - 1
    k = -(-length // window)
    pad = k * window - length

    def cut(a):
        a = np.pad(a, ((0, 0), (0, pad)))
        return a.reshape(batch, k, window).transpose(1, 0, 2)

    weights = np.ones((batch, length), dtype)
    return cut(data[:, :-1]), cut(data[:, 1:]), cut(weights)
