"""Test configuration: float64, strict promotion, fresh PRNG keys."""

import itertools

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def getkey():
    """Return a function that hands out a fresh PRNG key on every call."""
    counter = itertools.count()
    return lambda: jax.random.key(next(counter))


@pytest.fixture
def no_typecheck():
    """Switch off the test-only jaxtyping checks, to see the errors users see.

    Users run without the jaxtyping import hook, so a bad shape must reach the
    library's own ValueError rather than a TypeCheckError.
    """
    import jaxtyping

    jaxtyping.config.update("jaxtyping_disable", True)
    yield
    jaxtyping.config.update("jaxtyping_disable", False)
