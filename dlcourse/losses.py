"""Loss functions, as in ``torch.nn``: mean reduction, gradient with respect to the prediction.

Usage (the same for every loss)::

    criterion = CrossEntropyLoss()
    loss = criterion(Z, y)        # a Python float; the loss caches what backward needs
    dZ = criterion.backward()     # dL/dZ, same shape as Z

Notation: a batch of N rows (batch-first, as in PyTorch). "Mean reduction"
divides by the number of terms that PyTorch divides by: every entry for
MSELoss, BCELoss and BCEWithLogitsLoss (M = pred.size), the N rows for
CrossEntropyLoss.

Every loss stays finite, loss and gradient, for logits of +-1000 and for
probabilities of exactly 0 or 1, and gives PyTorch's values there.
"""
import numpy as np

from . import functional as F
from ._validate import as_real_array, check_ndim, describe
from .honesty import reference

#: PyTorch's BCELoss clamps log(p) and log(1 - p) at this value, so that
#: p = 0 or p = 1 gives a finite loss (log 0 would be -inf).
BCE_LOG_CLAMP = -100.0
#: PyTorch's BCELoss gradient divides by max(p (1 - p), BCE_GRAD_EPS). PyTorch
#: stores this 1e-12 as a float32 (9.99999996e-13); we use the same number,
#: so that the clamped gradients agree with PyTorch's to the last digit.
BCE_GRAD_EPS = float(np.float32(1e-12))


class Loss:
    """Base class: ``loss(pred, target)`` runs ``forward``; ``backward()`` returns dL/dpred."""

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def forward(self, pred, target):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def _cached(self, *names):
        """Return the forward cache, or say clearly that the loss must be computed first."""
        try:
            return tuple(getattr(self, name) for name in names)
        except AttributeError:
            name = type(self).__name__
            raise RuntimeError(
                f"{name}.backward was called before the loss was computed: "
                f"call loss = criterion(pred, target) first, then criterion.backward()"
            ) from None

    def __repr__(self):
        return f"{type(self).__name__}()"


def _pred_and_target(pred, target, who):
    """Both as real arrays of the same shape; target takes pred's dtype (no float64 upcast)."""
    pred = as_real_array(pred, who)
    target = as_real_array(target, who)
    if pred.shape != target.shape:
        raise ValueError(
            f"{who} expects pred and target of the same shape, got pred of shape {pred.shape} "
            f"and target of shape {target.shape}"
        )
    return pred, target.astype(pred.dtype, copy=False)


class MSELoss(Loss):
    """Mean squared error.

    Shapes: pred P and target Y of the same shape, any shape; M = P.size.

        L     = (1/M) sum_i (P_i - Y_i)^2
        dL/dP = (2/M) (P - Y)
    """

    @reference
    def forward(self, pred, target):
        pred, target = _pred_and_target(pred, target, "MSELoss")
        self.diff = pred - target                      # P - Y
        return float(np.mean(self.diff * self.diff))   # L = (1/M) sum (P - Y)^2

    @reference
    def backward(self):
        (diff,) = self._cached("diff")
        return diff * (2.0 / diff.size)                # dL/dP = (2/M) (P - Y)


class BCELoss(Loss):
    """Binary cross-entropy on probabilities (use after a Sigmoid).

    Shapes: pred P (probabilities in [0, 1]) and target Y (in [0, 1], usually
    0 or 1) of the same shape; M = P.size.

        L     = -(1/M) sum_i [ Y_i log P_i + (1 - Y_i) log(1 - P_i) ]
        dL/dP = (1/M) (P - Y) / (P (1 - P))

    As in PyTorch, each log is clamped at -100 and the denominator P (1 - P)
    at 1e-12, so P = 0 or 1 gives a finite loss and gradient. Better still:
    feed the logits to BCEWithLogitsLoss, which needs no clamping.
    """

    @reference
    def forward(self, pred, target):
        pred, target = _pred_and_target(pred, target, "BCELoss")
        if pred.size and not (pred.min() >= 0 and pred.max() <= 1):
            raise ValueError(
                f"BCELoss expects probabilities in [0, 1], got values from {pred.min():.4g} "
                f"to {pred.max():.4g}; for raw scores (logits) use BCEWithLogitsLoss"
            )
        self.pred, self.target = pred, target
        with np.errstate(divide="ignore"):                            # log 0 = -inf, then clamped
            log_p = np.maximum(np.log(pred), BCE_LOG_CLAMP)           # log P, clamped
            log_1mp = np.maximum(np.log1p(-pred), BCE_LOG_CLAMP)      # log(1 - P), clamped
        return float(-np.mean(target * log_p + (1 - target) * log_1mp))

    @reference
    def backward(self):
        pred, target = self._cached("pred", "target")
        denominator = np.maximum(pred * (1 - pred), BCE_GRAD_EPS)     # P (1 - P), clamped
        return (pred - target) / denominator / pred.size              # (1/M) (P - Y) / (P (1 - P))


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits: a Sigmoid and BCELoss in one, stable for any Z.

    Shapes: logits Z and target Y of the same shape; M = Z.size; s = sigmoid.

        L     = -(1/M) sum_i [ Y_i log s(Z_i) + (1 - Y_i) log(1 - s(Z_i)) ]
              =  (1/M) sum_i [ max(Z_i, 0) - Z_i Y_i + log(1 + e^(-|Z_i|)) ]
        dL/dZ =  (1/M) (s(Z) - Y)

    The second form is equal to the first (use log s(z) = -log(1 + e^-z)
    and split on the sign of z) but never exponentiates a positive number,
    so Z = +-1000 gives a finite loss.
    """

    @reference
    def forward(self, pred, target):
        logits, target = _pred_and_target(pred, target, "BCEWithLogitsLoss")
        self.logits, self.target = logits, target
        softplus_neg_abs = np.log1p(np.exp(-np.abs(logits)))          # log(1 + e^-|Z|)
        return float(np.mean(np.maximum(logits, 0) - logits * target + softplus_neg_abs))

    @reference
    def backward(self):
        logits, target = self._cached("logits", "target")
        return (F.sigmoid(logits) - target) / logits.size            # (1/M) (s(Z) - Y)


class CrossEntropyLoss(Loss):
    """Softmax and negative log-likelihood in one, on logits and integer class indices.

    Shapes:
        Z: (N, C) logits, one row per example.
        y: (N,) integers in [0, C), the correct class of each row.
        Y: (N, C) the one-hot matrix of y, Y[n, y_n] = 1.

        log P = log_softmax(Z) = Z - logsumexp(Z) along each row
        L     = -(1/N) sum_n log P[n, y_n]
        dL/dZ =  (1/N) (softmax(Z) - Y)

    log_softmax subtracts each row's maximum first, so logits of +-1000 give
    a finite loss and gradient.
    """

    @reference
    def forward(self, pred, target):
        logits = as_real_array(pred, "CrossEntropyLoss")
        check_ndim(logits, (2,), "CrossEntropyLoss", "(N, C) for the logits")
        labels = _class_indices(target, logits.shape)
        log_probs = F.log_softmax(logits, axis=1)                     # log P, (N, C)
        self.probs, self.labels = np.exp(log_probs), labels           # P = softmax(Z)
        N = logits.shape[0]
        return float(-log_probs[np.arange(N), labels].mean())         # L = -(1/N) sum log P[n, y_n]

    @reference
    def backward(self):
        probs, labels = self._cached("probs", "labels")
        N = probs.shape[0]
        grad = probs.copy()
        grad[np.arange(N), labels] -= 1                              # P - Y
        grad /= N                                                     # (1/N) (P - Y)
        return grad


def _class_indices(target, logits_shape):
    """Check that ``target`` is (N,) integers in [0, C) for logits of shape (N, C); return it."""
    N, C = logits_shape
    labels = np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise ValueError(
            f"CrossEntropyLoss expects integer class indices as targets, got {describe(target)}"
            + ("; convert with y.astype(int)" if labels.dtype.kind == "f" else "")
        )
    if labels.shape != (N,):
        raise ValueError(
            f"CrossEntropyLoss expects targets of shape ({N},) for logits of shape {logits_shape}, "
            f"got targets of shape {labels.shape}"
        )
    out_of_range = (labels < 0) | (labels >= C)
    if out_of_range.any():
        raise ValueError(
            f"CrossEntropyLoss expects class indices in [0, {C}), got {labels[out_of_range][0]}"
        )
    return labels
