"""rnncore: recurrent networks in numpy, in torch's layout, with every gradient written out.

The reference package of "Recurrent Neural Networks from the Ground Up". Sequences are time-major
(T, N, D); weights use torch's names and shapes (W_ih (G*H, D), W_hh (G*H, H), b_ih, b_hh).
Only `rnncore.torch_interop` imports torch, and only when called.
"""

from .activations import log_softmax, sigmoid, softmax
from .gradcheck import check_gradients, eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from .init import init_affine, init_recurrent, param_count
from .layers import affine_backward, affine_forward
from .losses import softmax_cross_entropy
from .rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward

__version__ = "0.1.0"

__all__ = [
    "affine_backward",
    "affine_forward",
    "check_gradients",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "init_affine",
    "init_recurrent",
    "log_softmax",
    "param_count",
    "rel_error",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
]
