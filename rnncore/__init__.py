"""rnncore: recurrent networks in numpy, in torch's layout, with every gradient written out.

The reference package of "Recurrent Neural Networks from the Ground Up". Sequences are time-major
(T, N, D); weights use torch's names and shapes (W_ih (G*H, D), W_hh (G*H, H), b_ih, b_hh).
Only `rnncore.torch_interop` imports torch, and only when called.
"""

from . import mistakes  # noqa: F401  (the catalogue of known mistakes: imported so that it is locked too)
from .activations import log_softmax, sigmoid, softmax
from .architectures import beam_search, bidirectional_rnn_forward, greedy_decode, last_valid_state, masked_mean_pool
from .charlm import Vocab, charlm_loss_and_grads, init_charlm, sample, train_charlm
from .clip import clip_by_global_norm, clip_by_value
from .datasets import adding_problem, copy_memory, copy_memory_baseline, noisy_sine
from .deer import deer_gru_forward, gru_cell_jacobian, matrix_scan
from .embedding import embedding_backward, embedding_forward
from .gradcheck import check_gradients, eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward, gru_step_forward_cho
from .init import init_affine, init_recurrent, param_count
from .jacobians import gradient_regime, jacobian_product_norms
from .layers import affine_backward, affine_forward
from .losses import softmax_cross_entropy
from .lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .optim import SGD, Adam
from .realdata import (
    build_vocab,
    decode,
    encode,
    load_hamlet,
    load_sunspots,
    load_words,
    make_dates,
    make_windows,
    sample_with_temperature,
    train_forecaster,
)
from .recurrent import Recurrent
from .rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from .scan import linear_recurrence, mingru_forward, minlstm_forward, parallel_scan
from .stacked import init_stacked, stacked_backward, stacked_forward, stacked_param_names
from .tbptt import chunk_bounds, rnn_tbptt
from .timing import best_time, best_times
from .torch_interop import from_torch, parallel_scan_torch, to_torch

__version__ = "0.1.0"

__all__ = [
    "Adam",
    "Recurrent",
    "SGD",
    "Vocab",
    "adding_problem",
    "affine_backward",
    "affine_forward",
    "beam_search",
    "best_time",
    "best_times",
    "bidirectional_rnn_forward",
    "build_vocab",
    "charlm_loss_and_grads",
    "check_gradients",
    "chunk_bounds",
    "clip_by_global_norm",
    "clip_by_value",
    "copy_memory",
    "copy_memory_baseline",
    "decode",
    "deer_gru_forward",
    "embedding_backward",
    "embedding_forward",
    "encode",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "from_torch",
    "gradient_regime",
    "greedy_decode",
    "gru_backward",
    "gru_cell_jacobian",
    "gru_forward",
    "gru_step_backward",
    "gru_step_forward",
    "gru_step_forward_cho",
    "init_affine",
    "init_charlm",
    "init_recurrent",
    "init_stacked",
    "jacobian_product_norms",
    "last_valid_state",
    "linear_recurrence",
    "load_hamlet",
    "load_sunspots",
    "load_words",
    "log_softmax",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "make_dates",
    "make_windows",
    "masked_mean_pool",
    "matrix_scan",
    "mingru_forward",
    "minlstm_forward",
    "noisy_sine",
    "parallel_scan",
    "parallel_scan_torch",
    "param_count",
    "rel_error",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "rnn_tbptt",
    "sample",
    "sample_with_temperature",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "stacked_backward",
    "stacked_forward",
    "stacked_param_names",
    "to_torch",
    "train_charlm",
    "train_forecaster",
]


def _protect_references():
    """Lock every graded reference function (see rnncore._lock): it raises while a student's function is graded.

    Both the package-level names and the module attributes are replaced, so `rnncore.rnn_forward` and
    `rnncore.rnn.rnn_forward` are guarded alike. Helpers that students may use stay unlocked.
    """
    import inspect
    import sys

    from . import _lock

    unlocked = {"sigmoid", "rel_error", "init_recurrent", "init_affine", "from_torch", "to_torch"}
    skip_modules = {"datasets", "grading", "torch_interop"}
    package = sys.modules[__name__]
    modules = [m for name, m in sorted(sys.modules.items()) if name.startswith(__name__ + ".")]
    guarded = {}  # original function -> its guarded version
    for module in modules:
        short = module.__name__.rpartition(".")[2]
        if short.startswith("_") or short in skip_modules:
            continue
        for name, obj in vars(module).items():
            if (not name.startswith("_") and name not in unlocked and inspect.isfunction(obj)
                    and obj.__module__ == module.__name__ and not getattr(obj, "_rnncore_protected", False)):
                guarded[obj] = _lock.protect(obj)
    # Rebind every alias (package names, `from .rnn import rnn_forward` in other modules) to the guarded version,
    # so no module attribute is a way around the lock.
    for module in [package, *modules]:
        for name, obj in list(vars(module).items()):
            if inspect.isfunction(obj) and obj in guarded:
                setattr(module, name, guarded[obj])

_protect_references()
