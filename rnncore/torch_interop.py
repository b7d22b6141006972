"""Moving between torch's recurrent modules and rnncore: the only module that imports torch, and only when called."""

import functools
import warnings

import numpy as np

from . import _lock
from .recurrent import Recurrent

_MODES = {"RNN_TANH": ("rnn", "tanh"), "RNN_RELU": ("rnn", "relu"), "LSTM": ("lstm", "tanh"), "GRU": ("gru", "tanh")}


def from_torch(module):
    """A numpy `Recurrent` equal to a `torch.nn.RNN`, `torch.nn.LSTM` or `torch.nn.GRU`, with copies of its weights.

    Math: the same equations and parameters (torch's names and layouts), so forward and backward agree with torch

    Every configuration is supported (num_layers, bidirectional, batch_first, bias, nonlinearity, dropout) except an
    LSTM with proj_size > 0. The model starts in eval mode (no dropout); `model.train(rng)` opts in to dropout,
    with masks drawn from `rng` (so they never equal torch's).

    Parameters
    ----------
    module : torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU, with float32 or float64 parameters

    Returns
    -------
    model : Recurrent, with `params` (numpy copies, same dtype) and the module's configuration

    Book: chapter 6, section "Checking against PyTorch".
    """
    import torch

    func = "from_torch"
    if not isinstance(module, (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU)):
        raise ValueError(f"{func}: `module` must be a torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU, "
                         f"got {type(module).__name__}")
    if getattr(module, "proj_size", 0):
        raise ValueError(f"{func}: an LSTM with proj_size > 0 is not supported (rnncore's LSTM has no projection), "
                         f"got proj_size={module.proj_size}")
    params = {}
    for name, p in module.named_parameters():
        if p.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"{func}: parameters must be float32 or float64, got {p.dtype} for {name!r}")
        params[name] = p.detach().cpu().numpy().copy()
    mode, nonlinearity = _MODES[module.mode]
    return Recurrent(mode, module.input_size, module.hidden_size, module.num_layers, nonlinearity, module.bias,
                     module.batch_first, float(module.dropout), module.bidirectional, params=params)


def to_torch(model, dtype=None):
    """The torch module equal to a `Recurrent`: `torch.nn.RNN`, `torch.nn.LSTM` or `torch.nn.GRU` with its weights.

    Math: the inverse of `from_torch`: same configuration, parameters copied by torch's names

    Parameters
    ----------
    model : Recurrent
    dtype : torch.float32, torch.float64, or None for the dtype of model.params (float64 unless they are float32)

    Returns
    -------
    module : the torch module, in training mode if `model.training`, else in eval mode

    Book: chapter 6, section "Checking against PyTorch".
    """
    import torch

    func = "to_torch"
    if not isinstance(model, Recurrent):
        raise ValueError(f"{func}: `model` must be an rnncore Recurrent (e.g. from `from_torch`), "
                         f"got {type(model).__name__}")
    if dtype is None:
        dtype = torch.float32 if all(p.dtype == np.float32 for p in model.params.values()) else torch.float64
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"{func}: `dtype` must be torch.float32, torch.float64 or None, got {dtype!r}")
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[model.mode]
    extra = {"nonlinearity": model.nonlinearity} if model.mode == "rnn" else {}
    with warnings.catch_warnings():  # torch warns that dropout does nothing with one layer; keep the value anyway
        warnings.filterwarnings("ignore", message="dropout option adds dropout after all but last")
        module = cls(model.input_size, model.hidden_size, num_layers=model.num_layers, bias=model.bias,
                     batch_first=model.batch_first, dropout=model.dropout, bidirectional=model.bidirectional,
                     **extra).to(dtype)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.from_numpy(np.ascontiguousarray(model.params[name])))
    return module.train(model.training)


def parallel_scan_torch(a, b):
    """The states of the linear recurrence h_t = a_t h_{t-1} + b_t from h0 = 0, by the doubling scan on torch tensors.

    Math: (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2);  h_t = second part of (a_1, b_1) o ... o (a_t, b_t)

    Out of place (each round builds new tensors with torch.cat), so autograd can differentiate through it.

    Parameters
    ----------
    a : torch.Tensor, shape (T, ...)    the coefficients a_t
    b : torch.Tensor, shape (T, ...)    the inputs b_t, same shape as `a`

    Returns
    -------
    hs : torch.Tensor, shape (T, ...)   hs[t] is the state after step t, as `parallel_scan(a, b)` computes it in numpy

    Book: chapter 8, section "minGRU and minLSTM".
    """
    import torch

    func = "parallel_scan_torch"
    for name, value in (("a", a), ("b", b)):
        if not isinstance(value, torch.Tensor) or value.ndim < 1 or value.shape[0] < 1:
            raise ValueError(f"{func}: `{name}` must be a torch.Tensor of shape (T, ...) with T >= 1, "
                             f"got {type(value).__name__} of shape {tuple(getattr(value, 'shape', ()))}")
    if a.shape != b.shape:
        raise ValueError(f"{func}: `a` and `b` must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    step = 1
    while step < a.shape[0]:
        b = torch.cat([b[:step], a[step:] * b[:-step] + b[step:]])
        a = torch.cat([a[:step], a[step:] * a[:-step]])
        step *= 2
    return b


parallel_scan_torch = _lock.protect(parallel_scan_torch)  # a graded answer in torch: locked like the references


def mingru_model(D, H):
    """A one-layer torch minGRU that predicts one number per sequence, its states computed by the doubling scan.

    Math: z_t = sigma(W_z x_t + b_z);  h~_t = W_h x_t + b_h;  h_t = (1 - z_t) * h_{t-1} + z_t * h~_t, h_0 = 0;
          y_hat = w_out^T h_T + b_out

    Parameters
    ----------
    D : int >= 1, the input size;  H : int >= 1, the hidden size

    Returns
    -------
    net : torch.nn.Module mapping x (T, N, D), time-major float32, to predictions (N,)

    Book: chapter 8, section "minGRU and minLSTM".
    """
    import torch

    for name, value in (("D", D), ("H", H)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"mingru_model: `{name}` must be an int >= 1, got {value!r}")

    class MinGRU(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin_z, self.lin_h, self.readout = torch.nn.Linear(D, H), torch.nn.Linear(D, H), torch.nn.Linear(H, 1)

        def forward(self, x):  # x: (T, N, D), time-major
            z = torch.sigmoid(self.lin_z(x))  # every step at once, (T, N, H)
            hs = parallel_scan_torch(1 - z, z * self.lin_h(x))  # a_t = 1 - z_t, b_t = z_t * h~_t
            return self.readout(hs[-1])[:, 0]  # (N,)

    return MinGRU()


mingru_model = _lock.protect(mingru_model)  # its forward pass is mingru_forward (graded) in torch


def gru_forecaster(K, H=16):
    """A torch forecaster: a `GRU(1, H)` reads a window and a `Linear(H, K)` maps its last state to K forecasts.

    Math: h_W = GRU(x_1 .. x_W);  y_hat = W_out h_W + b_out

    Parameters
    ----------
    K : int >= 1, the number of horizons forecast
    H : int >= 1, the GRU's hidden size

    Returns
    -------
    net : torch.nn.Module mapping x (W, N, 1), time-major float32, to forecasts (N, K)

    Book: chapter 7, section "A GRU forecaster".
    """
    import torch

    for name, value in (("K", K), ("H", H)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"gru_forecaster: `{name}` must be an int >= 1, got {value!r}")

    class Forecaster(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(1, H)
            self.head = torch.nn.Linear(H, K)

        def forward(self, x):  # x: (W, N, 1), time-major
            _, h = self.gru(x)
            return self.head(h[0])  # (N, K)

    return Forecaster()


def fit_gru_forecaster(X, Y, seed, steps, lr=0.01, H=16, watch=(), score=None):
    """Train `gru_forecaster` by full-batch Adam on the mean squared error, from `torch.manual_seed(seed)`.

    Math: minimise mean_{n,k} (y_hat_{n,k} - y_{n,k})^2 over the windows (X, Y), `steps` Adam steps

    Parameters
    ----------
    X : ndarray, shape (W, N, 1)   input windows (time-major)
    Y : ndarray, shape (N, K)      their targets
    seed : int, the initialisation's seed;  steps : int >= 1;  lr : Adam's learning rate;  H : hidden size
    watch : sequence of (X_w, Y_w) pairs, scored every 10 steps with `score(prediction (N_w, K), Y_w) -> float`

    Returns
    -------
    net : the trained torch module;  curves : list, for each pair of `watch`, its scores every 10 steps

    Book: chapter 7, section "A GRU forecaster".
    """
    import torch

    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"fit_gru_forecaster: `steps` must be an int >= 1, got {steps!r}")
    if watch and score is None:
        raise ValueError("fit_gru_forecaster: `score` must be given when `watch` is (got None)")
    X, Y = np.asarray(X), np.asarray(Y)
    if X.ndim != 3 or Y.ndim != 2 or X.shape[1] != Y.shape[0]:
        raise ValueError(f"fit_gru_forecaster: `X` must be (W, N, 1) and `Y` (N, K), got {X.shape} and {Y.shape}")

    as_tensor = functools.partial(torch.tensor, dtype=torch.float32)
    torch.manual_seed(seed)
    net = gru_forecaster(Y.shape[1], H)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    curves = [[] for _ in watch]
    for step in range(1, steps + 1):
        loss = torch.nn.functional.mse_loss(net(as_tensor(X)), as_tensor(Y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0:
            with torch.no_grad():
                for curve, (Xw, Yw) in zip(curves, watch):
                    curve.append(float(score(net(as_tensor(Xw)).double().numpy(), Yw)))
    return net, curves
