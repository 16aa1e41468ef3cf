"""Shape vocabulary shared by the whole package (jaxtyping aliases)."""

from typing import Any

from jaxtyping import Array, Float, Int, PRNGKeyArray

State = Float[Array, " n"]
Input = Float[Array, " m"]
Output = Float[Array, " p"]
States = Float[Array, "t n"]
Inputs = Float[Array, "t m"]
Outputs = Float[Array, "t p"]
Targets = Float[Array, "*time p"] | Int[Array, "*time"]  # no time axis when last_only
Params = Any  # a pytree of arrays; each model documents its own NamedTuple
Key = PRNGKeyArray
