"""Lipschitz constants by matrix-free power iteration (see `rnn_dyn._lipschitz`)."""

from ._lipschitz import CostSmoothness as CostSmoothness
from ._lipschitz import JacobianNorms as JacobianNorms
from ._lipschitz import PowerIterationResult as PowerIterationResult
from ._lipschitz import cost_smoothness as cost_smoothness
from ._lipschitz import jacobian_lipschitz as jacobian_lipschitz
from ._lipschitz import jacobian_norms as jacobian_norms
from ._lipschitz import power_iteration as power_iteration
from ._lipschitz import trajectory_lipschitz as trajectory_lipschitz
