"""rnn_dyn: recurrent neural networks as dynamical systems, in JAX."""

from . import models as models
from ._losses import bce_with_logits as bce_with_logits
from ._losses import cross_entropy as cross_entropy
from ._losses import mse as mse
from ._sensitivity import Jacobians as Jacobians
from ._sensitivity import Sensitivities as Sensitivities
from ._sensitivity import directional_sensitivity as directional_sensitivity
from ._sensitivity import forward_gradient as forward_gradient
from ._sensitivity import forward_sensitivities as forward_sensitivities
from ._sensitivity import jacobians as jacobians
from ._sensitivity import reverse_gradient as reverse_gradient
from ._sensitivity import step_jacobians as step_jacobians
from ._simulate import Trajectory as Trajectory
from ._simulate import cost as cost
from ._simulate import simulate as simulate

__version__ = "0.1.0"
