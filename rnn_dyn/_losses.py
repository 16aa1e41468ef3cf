"""Per-step losses l(ŷ_t, y_t) of Eq. (2): the two of Lemma 2 and cross-entropy."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

LossFn = Callable[[Array, Array], Float[Array, ""]]


def mse(y_hat: Float[Array, " p"], y: Float[Array, " p"]) -> Float[Array, ""]:
    """Return the squared error ‖ŷ - y‖², summed over outputs (Lemma 2 (a)).

    Note ``torch.nn.MSELoss`` divides this by ``p``.
    """
    return jnp.sum((y_hat - y) ** 2)


def bce_with_logits(
    y_hat: Float[Array, " p"], y: Float[Array, " p"]
) -> Float[Array, ""]:
    """Return -yᵀ log σ(ŷ) - (1 - y)ᵀ log(1 - σ(ŷ)) from logits ŷ (Lemma 2 (b)).

    Computed as Σ softplus(ŷ) - y ŷ, which never overflows.
    """
    return jnp.sum(jax.nn.softplus(y_hat) - y * y_hat)


def cross_entropy(logits: Float[Array, " p"], y: Int[Array, ""]) -> Float[Array, ""]:
    """Return -log softmax(logits)[y] for an integer class ``y``."""
    return jax.nn.logsumexp(logits) - jnp.take(logits, y)


LOSSES: dict[str, LossFn] = {
    "mse": mse,
    "bce_with_logits": bce_with_logits,
    "cross_entropy": cross_entropy,
}


def resolve_loss(
    loss: str | LossFn, output_size: int
) -> tuple[LossFn, tuple[int, ...]]:
    """Return the loss function and the shape of one step's target."""
    if callable(loss):
        return loss, (output_size,)
    if loss not in LOSSES:
        raise ValueError(
            f"loss must be one of {sorted(LOSSES)} or a callable, got {loss!r}"
        )
    return LOSSES[loss], (() if loss == "cross_entropy" else (output_size,))


def reduce_loss(mean: Float[Array, ""], terms: int, reduction: str) -> Float[Array, ""]:
    """The objective of a batch from its ``mean`` loss over ``terms`` terms.

    ``reduction`` ``"mean"`` keeps the mean; ``"sum"`` gives the sum over the
    terms (sequences × counted steps, or tokens), the authors' reduction.
    """
    return mean * terms if reduction == "sum" else mean
