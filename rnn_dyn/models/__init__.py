"""Recurrent models as state-space systems x' = f(x, u; θ), ŷ = g(x, u; θ)."""

from ._base import Model as Model
from ._cell import CellParams as CellParams
from ._cell import TorchCell as TorchCell
from .flax_adapter import FlaxCell as FlaxCell
from .flax_adapter import from_flax as from_flax
from .gru import GRU as GRU
from .gru import GRUParams as GRUParams
from .gru import gru as gru
from .henon import Henon as Henon
from .henon import HenonParams as HenonParams
from .henon import henon as henon
from .linear import Linear as Linear
from .linear import LinearParams as LinearParams
from .linear import linear as linear
from .logistic import Logistic as Logistic
from .logistic import LogisticParams as LogisticParams
from .logistic import logistic as logistic
from .lstm import LSTM as LSTM
from .lstm import LSTMParams as LSTMParams
from .lstm import lstm as lstm
from .rnn import ElmanParams as ElmanParams
from .rnn import ElmanRNN as ElmanRNN
from .rnn import rnn as rnn
