"""dlcourse.train: train_step, fit, evaluate, accuracy, plot_history.

How fast fit trains is measured in benchmarks/widgets_and_loaders.py, not here.
"""
import matplotlib
import numpy as np
import pytest

import dlcourse
from dlcourse import data, losses, nn, optim
from dlcourse.honesty import ReferenceCalledError, forbid
from dlcourse.train import accuracy, evaluate, fit, plot_history, train_step

matplotlib.use("Agg")


def mlp(out_features=2, dropout=0.0):
    return nn.Sequential(
        nn.Linear(2, 32), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, out_features),
    )


class ModeRecorder(nn.Module):
    """Passes its input through and records (training?, batch size) on every forward."""

    def __init__(self):
        super().__init__()
        self.log = []

    def forward(self, x):
        self.log.append((self.training, len(x)))
        return x

    def backward(self, grad_out):
        return grad_out


# -- train_step -------------------------------------------------------------------------

def test_train_step_is_one_sgd_step_and_returns_the_loss_before_it():
    X, y = data.make_moons(40, seed=0)
    model = mlp()
    twin = mlp()
    twin.load_state_dict(model.state_dict())
    loss_fn, optimizer = losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad[...] = 7.0                                     # stale gradients: zero_grad must clear them
    expected_scores = twin(X)
    expected_loss = loss_fn(expected_scores, y)
    twin.backward(loss_fn.backward())
    loss, scores = train_step(model, loss_fn, optimizer, X, y)
    assert loss == expected_loss
    np.testing.assert_array_equal(scores, expected_scores)
    for (name, p), (_, q) in zip(model.named_parameters(), twin.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)
        np.testing.assert_allclose(p.data, q.data - 0.1 * q.grad, rtol=1e-6, atol=1e-7, err_msg=name)


def test_fit_is_train_step_over_minibatches():
    X, y = data.make_moons(64, seed=0)
    model, loss_fn = mlp(), losses.CrossEntropyLoss()
    with forbid(train_step), pytest.raises(ReferenceCalledError, match="train_step"):
        fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.1), X, y, epochs=1, progress=False)


# -- fit ------------------------------------------------------------------------------

def test_mlp_learns_moons_in_20_epochs():
    X, y = data.make_moons(500, noise=0.1, seed=0)
    X_val, y_val = data.make_moons(300, noise=0.1, seed=1)
    model = mlp()
    history = fit(model, losses.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01),
                  X, y, epochs=20, batch_size=32, X_val=X_val, y_val=y_val, progress=False)
    assert history["val_accuracy"][-1] > 0.95 and history["accuracy"][-1] > 0.95
    assert history["loss"][-1] < history["loss"][0]


def test_binary_output_with_logits_and_with_probabilities():
    X, y = data.make_moons(400, noise=0.1, seed=0)
    targets = y.reshape(-1, 1).astype(np.float32)            # BCE losses want pred and target of one shape
    model = mlp(out_features=1)
    history = fit(model, losses.BCEWithLogitsLoss(), optim.Adam(model.parameters(), lr=0.01),
                  X, targets, epochs=20, batch_size=32, progress=False)
    assert history["accuracy"][-1] > 0.95
    model_p = nn.Sequential(mlp(out_features=1), nn.Sigmoid())
    fit(model_p, losses.BCELoss(), optim.Adam(model_p.parameters(), lr=0.01),
        X, targets, epochs=20, batch_size=32, progress=False)
    _, acc = evaluate(model_p, losses.BCELoss(), X, targets)
    assert acc > 0.95


def test_history_keys_and_lengths():
    X, y = data.make_spirals(90, seed=0)
    model = nn.Sequential(nn.Linear(2, 3))
    sgd = optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, losses.CrossEntropyLoss(), sgd, X, y, epochs=4, batch_size=20, progress=False)
    assert list(history) == ["loss", "accuracy"]
    assert all(len(values) == 4 for values in history.values())
    history = fit(model, losses.CrossEntropyLoss(), sgd, X, y, epochs=3, batch_size=20,
                  X_val=X[:10], y_val=y[:10], progress=False)
    assert list(history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(values) == 3 for values in history.values())
    assert all(isinstance(v, float) for values in history.values() for v in values)


def test_regression_history_has_no_accuracy():
    X, Y = data.make_running_sum(64, seq_len=4, seed=0)
    X, Y = X[:, :, 0], Y[:, -1, :]                            # predict the total from the 4 inputs
    model = nn.Sequential(nn.Linear(4, 1))
    history = fit(model, losses.MSELoss(), optim.SGD(model.parameters(), lr=0.1), X, Y,
                  epochs=30, batch_size=16, X_val=X, y_val=Y, progress=False)
    assert list(history) == ["loss", "val_loss"]
    assert history["val_loss"][-1] < 1e-3                     # the total is linear in the inputs
    loss, acc = evaluate(model, losses.MSELoss(), X, Y)
    assert acc is None and loss == pytest.approx(history["val_loss"][-1])


def test_fit_trains_in_training_mode_and_evaluates_in_eval_mode():
    recorder = ModeRecorder()
    model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), recorder, nn.Linear(8, 2))
    X, y = data.make_moons(100, seed=0)
    model.eval()                                              # fit must switch to training mode itself
    fit(model, losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), X, y,
        epochs=2, batch_size=32, X_val=X[:50], y_val=y[:50], progress=False)
    one_epoch = [(True, 32), (True, 32), (True, 32), (True, 4), (False, 50)]
    assert recorder.log == one_epoch * 2
    assert model.training and model[1].training               # evaluate restored training mode


def test_fit_is_repeatable_with_manual_seed():
    X, y = data.make_moons(100, seed=0)

    def run():
        dlcourse.manual_seed(42)
        model = mlp(dropout=0.2)
        return fit(model, losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                   X, y, epochs=3, batch_size=16, progress=False)

    assert run() == run()


def test_fit_bad_arguments():
    X, y = data.make_moons(100, seed=0)
    model = mlp()
    args = (model, losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=r"X of shape \(100, 2\) and y of shape \(99,\)"):
        fit(*args, X, y[:99], progress=False)
    with pytest.raises(ValueError, match="batch_size to be an integer >= 1, got 0"):
        fit(*args, X, y, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="X_val and y_val together"):
        fit(*args, X, y, X_val=X, progress=False)


def test_progress_bar_shows_epoch_and_running_loss_and_can_be_silenced(capsys):
    X, y = data.make_moons(64, seed=0)
    model = mlp()
    args = (model, losses.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), X, y)
    fit(*args, epochs=2, batch_size=32, progress=False)
    assert capsys.readouterr().err == ""
    fit(*args, epochs=2, batch_size=32, progress=True)
    shown = capsys.readouterr().err
    assert "epoch 2/2" in shown and "loss=" in shown and "4/4" in shown


# -- evaluate -------------------------------------------------------------------------

def test_evaluate_changes_nothing_and_is_deterministic_with_dropout():
    X, y = data.make_moons(100, seed=0)
    model = mlp(dropout=0.5)
    for p in model.parameters():
        p.grad[...] = 0.25                                    # gradients a step might be using
    before = model.state_dict()
    first = evaluate(model, losses.CrossEntropyLoss(), X, y, batch_size=7)
    second = evaluate(model, losses.CrossEntropyLoss(), X, y, batch_size=7)
    assert first == second                                    # dropout is off
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    assert all(np.all(p.grad == 0.25) for p in model.parameters())
    assert model.training                                     # mode restored
    model.eval()
    evaluate(model, losses.CrossEntropyLoss(), X, y)
    assert not model.training


def test_evaluate_equals_the_full_batch_values():
    X, y = data.make_moons(103, seed=0)
    model = mlp().eval()
    loss_fn = losses.CrossEntropyLoss()
    scores = model(X)
    loss, acc = evaluate(model, loss_fn, X, y, batch_size=10)
    assert loss == pytest.approx(loss_fn(scores, y), rel=1e-5)
    assert acc == accuracy(scores, y)


# -- accuracy -------------------------------------------------------------------------

def test_accuracy_rules():
    scores = np.array([[2.0, 1.0, 0.0], [0.0, 0.1, 3.0], [1.0, 5.0, 0.0], [0.0, 0.0, 1.0]])
    assert accuracy(scores, np.array([0, 2, 1, 0])) == 0.75
    probabilities = np.array([0.9, 0.2, 0.6, 0.4])
    assert accuracy(probabilities, np.array([1, 0, 0, 0])) == 0.75
    assert accuracy(probabilities.reshape(-1, 1), np.array([[1.0], [0.0], [1.0], [0.0]])) == 1.0
    logits = np.array([[3.0], [-1.0], [0.2], [-0.1]])
    assert accuracy(logits, np.array([1, 0, 1, 0]), threshold=0.0) == 1.0
    assert accuracy(logits, np.array([1, 0, 1, 0])) == 0.75   # 0.2 is below the default 0.5


def test_accuracy_errors():
    with pytest.raises(ValueError, match=r"class indices y of shape \(4,\) .* got y of shape \(4, 3\)"):
        accuracy(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"labels y of shape \(4,\) or \(4, 1\) .* got y of shape \(5,\)"):
        accuracy(np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match=r"got an array of shape \(2, 3, 4\)"):
        accuracy(np.zeros((2, 3, 4)), np.zeros(2))


# -- plot_history ---------------------------------------------------------------------

def test_plot_history():
    import matplotlib.pyplot as plt

    history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8], "val_loss": [1.1, 0.6], "val_accuracy": [0.4, 0.7]}
    fig = plot_history(history)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2
    plt.close(fig)
    fig = plot_history({"loss": [1.0, 0.5, 0.2]})
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1
    plt.close(fig)
