r"""Batch normalisation (Ioffe and Szegedy, 2015), with PyTorch's semantics.

One class does the work, on a 2-D array of *rows*: ``BatchNorm1d`` and
``BatchNorm2d`` only move the channel axis last and flatten everything
else into rows, so every channel becomes one column::

    BatchNorm1d  (N, C)        ->  rows (N, C)            M = N
    BatchNorm1d  (N, C, L)     ->  rows (N*L, C)          M = N*L
    BatchNorm2d  (N, C, H, W)  ->  rows (N*H*W, C)        M = N*H*W

Notation (batch-first rows, as everywhere in the course; every operation
below is per column, i.e. per channel, and sums run over the M rows):

    X       (M, C)   the input rows
    mu      (C,)     mu = (1/M) sum_i X_i
    var     (C,)     var = (1/M) sum_i (X_i - mu)^2          (biased)
    sigma   (C,)     sigma = sqrt(var + eps)
    X_hat   (M, C)   X_hat = (X - mu) / sigma
    Y       (M, C)   Y = gamma * X_hat + beta                 gamma = weight, beta = bias, (C,)

Running statistics (buffers, updated in training mode only, momentum m = 0.1):

    running_mean = (1 - m) running_mean + m mu
    running_var  = (1 - m) running_var  + m var * M / (M - 1)   (unbiased, as PyTorch)

In evaluation mode mu and var are replaced by running_mean and running_var,
which are constants: the layer is then a fixed affine map per channel.
"""
import numpy as np

from .._validate import as_real_array, check_ndim, check_same_shape, check_size
from ..honesty import reference
from .module import DEFAULT_DTYPE, Module, Parameter


class _BatchNorm(Module):
    r"""Shared forward and backward on rows; subclasses set the accepted input layouts.

    Backward (G = dL/dY, shape (M, C); the derivation, one channel at a time):

    The parameters are easy, because Y_i = gamma X_hat_i + beta row by row:

        dL/dbeta  = sum_i G_i                                   (C,)
        dL/dgamma = sum_i G_i * X_hat_i                         (C,)
        dL/dX_hat = G * gamma                                   (M, C)

    The input is harder: X_k reaches X_hat_i through X_i itself, through mu
    and through sigma. With d mu / dX_k = 1/M and
    d sigma / dX_k = (1 / (2 sigma)) (2/M) (X_k - mu) = X_hat_k / M,

        d X_hat_i / d X_k = (1/sigma) (delta_ik - 1/M - X_hat_i X_hat_k / M).

    By the chain rule, dL/dX_k = sum_i dL/dX_hat_i d X_hat_i / d X_k
    = (1/sigma) (dL/dX_hat_k - (1/M) sum_i dL/dX_hat_i - (X_hat_k/M) sum_i dL/dX_hat_i X_hat_i),
    which, for all rows k at once, is the compact formula

        dL/dX = (1 / (M sigma)) * (M dL/dX_hat - sum_i dL/dX_hat_i
                                   - X_hat * sum_i dL/dX_hat_i * X_hat_i)   (M, C)

    (the two sums are (C,) and broadcast over the M rows).

    In evaluation mode mu and sigma are constants, so only the delta_ik term
    is left: dL/dX = dL/dX_hat / sigma.
    """

    layouts = {}          # ndim -> description of the layout, set by subclasses
    feature_name = ""     # "features" or "channels", for error messages

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = Parameter(np.ones(num_features))     # gamma (C,)
        self.bias = Parameter(np.zeros(num_features))      # beta  (C,)
        self.register_buffer("running_mean", np.zeros(num_features, dtype=DEFAULT_DTYPE))
        self.register_buffer("running_var", np.ones(num_features, dtype=DEFAULT_DTYPE))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    # -- moving the channel axis ------------------------------------------------
    def _to_rows(self, x):
        """(N, C, *S) -> (M, C) with M = N * prod(S): channel last, the rest flattened."""
        return np.moveaxis(x, 1, -1).reshape(-1, self.num_features)

    def _from_rows(self, rows, shape):
        """(M, C) -> ``shape`` = (N, C, *S), the inverse of _to_rows."""
        n, c, *spatial = shape
        return np.moveaxis(rows.reshape(n, *spatial, c), -1, 1)

    # -- forward and backward ------------------------------------------------------
    @reference
    def forward(self, x):
        """X: (N, C, *S) -> Y of the same shape (see the module docstring for S)."""
        who = type(self).__name__
        x = as_real_array(x, who)
        check_ndim(x, tuple(self.layouts), who, " or ".join(self.layouts.values()))
        check_size(x, 1, self.num_features, who, self.feature_name)
        X = self._to_rows(x)                                   # (M, C)
        M = X.shape[0]

        if self.training:
            if M < 2:
                raise ValueError(
                    f"{who} in training mode needs more than 1 value per channel to compute a variance, "
                    f"got an array of shape {x.shape}; use a bigger batch or call .eval()"
                )
            mu = X.mean(axis=0)                                # mu = (1/M) sum_i X_i             (C,)
            var = X.var(axis=0)                                # var = (1/M) sum_i (X_i - mu)^2   (C,)
            m = self.momentum
            self.running_mean[...] = (1 - m) * self.running_mean + m * mu
            self.running_var[...] = (1 - m) * self.running_var + m * var * M / (M - 1)
            self.num_batches_tracked += 1
        else:
            mu, var = self.running_mean, self.running_var

        sigma = np.sqrt(var + self.eps)                        # sigma = sqrt(var + eps)  (C,)
        x_hat = (X - mu) / sigma                               # X_hat = (X - mu) / sigma  (M, C)
        Y = self.weight.data * x_hat + self.bias.data          # Y = gamma * X_hat + beta  (M, C)

        # cache for backward; the mode too, because backward must match this forward
        self.x_shape = x.shape
        self.x_hat = x_hat
        self.sigma = sigma
        self.used_batch_stats = self.training
        return self._from_rows(Y, x.shape)

    @reference
    def backward(self, grad_out):
        """dL/dY: (N, C, *S) -> dL/dX of the same shape; adds dL/dgamma and dL/dbeta (C,)."""
        cache = self._cached("x_shape", "x_hat", "sigma", "used_batch_stats")
        x_shape, x_hat, sigma, used_batch_stats = cache
        who = f"{type(self).__name__}.backward"
        grad_out = as_real_array(grad_out, who)
        check_same_shape(grad_out, x_shape, who, "a gradient")
        G = self._to_rows(grad_out)                            # G = dL/dY  (M, C)
        M = G.shape[0]

        self.bias.grad += G.sum(axis=0)                        # dL/dbeta  = sum_i G_i            (C,)
        self.weight.grad += (G * x_hat).sum(axis=0)            # dL/dgamma = sum_i G_i * X_hat_i  (C,)
        d_xhat = G * self.weight.data                          # dL/dX_hat = G * gamma            (M, C)

        if used_batch_stats:
            sum_d = d_xhat.sum(axis=0)                         # sum_i dL/dX_hat_i                 (C,)
            sum_dx = (d_xhat * x_hat).sum(axis=0)              # sum_i dL/dX_hat_i * X_hat_i       (C,)
            d_x = (M * d_xhat - sum_d - x_hat * sum_dx) / (M * sigma)   # the compact formula   (M, C)
        else:
            d_x = d_xhat / sigma                               # eval: dL/dX = dL/dX_hat / sigma
        return self._from_rows(d_x, x_shape)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch norm over a batch of feature vectors (N, C), or of sequences (N, C, L).

    Statistics are per feature C, taken over N (and L). See ``_BatchNorm``
    for the maths, and ``torch.nn.BatchNorm1d`` for the same layer in PyTorch.
    """

    layouts = {2: "(N, C)", 3: "(N, C, L)"}
    feature_name = "features"


class BatchNorm2d(_BatchNorm):
    """Batch norm over a batch of images (N, C, H, W).

    Statistics are per channel C, taken over N, H and W. See ``_BatchNorm``
    for the maths, and ``torch.nn.BatchNorm2d`` for the same layer in PyTorch.
    """

    layouts = {4: "(N, C, H, W)"}
    feature_name = "channels"
