"""dlcourse.perceptrons (chapter 01): the neuron, the perceptron rule, logistic neuron, feature map, XOR."""
import numpy as np
import pytest
import torch

from dlcourse import data, gradcheck, losses, nn
from dlcourse import functional as F
from dlcourse import perceptrons as P
from dlcourse.honesty import ReferenceCalledError, forbid


@pytest.fixture
def batch(rng):
    """X (7, 3), y (7,) of 0/1, w (3,), b."""
    return rng.normal(size=(7, 3)), rng.integers(0, 2, size=7), rng.normal(size=3), 0.3


# -- step, neuron, predictions ------------------------------------------------------------
def test_step_is_one_from_zero_on_and_keeps_dtype():
    z = np.array([-2.0, -1e-12, 0.0, 1e-12, 5.0], dtype=np.float32)
    out = P.step(z)
    np.testing.assert_array_equal(out, [0, 0, 1, 1, 1])
    assert out.dtype == np.float32 and P.step(np.array(-3.0)).shape == ()


def test_neuron_is_linear_then_activation_as_in_torch(batch):
    X, _, w, b = batch
    linear = torch.nn.Linear(3, 1).double()
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(w[None, :]))
        linear.bias.fill_(b)
    expected = torch.sigmoid(linear(torch.from_numpy(X)))[:, 0].detach().numpy()
    np.testing.assert_allclose(P.neuron(X, w, b), expected, rtol=1e-12)
    np.testing.assert_allclose(P.neuron(X, w, b, activation=F.tanh), np.tanh(X @ w + b), rtol=1e-12)


def test_neuron_equals_dlcourse_linear_with_one_output(batch):
    X, _, w, b = batch
    layer = nn.Linear(3, 1).to(np.float64)
    layer.weight.data[:] = w[None, :]
    layer.bias.data[:] = b
    np.testing.assert_allclose(P.neuron(X, w, b), F.sigmoid(layer(X))[:, 0], rtol=1e-12)


def test_perceptron_predict_gives_int_labels_with_ties_to_one():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    labels = P.perceptron_predict(X, np.array([1.0, 0.0]), 0.0)
    np.testing.assert_array_equal(labels, [1, 1, 0])
    assert labels.dtype == np.int64


@pytest.mark.parametrize("fn", [P.neuron, P.perceptron_predict])
def test_bad_shapes_say_what_was_expected(fn):
    with pytest.raises(ValueError, match=r"expects .*\(N, D\) for X, got an array of shape \(3,\)"):
        fn(np.zeros(3), np.zeros(3), 0.0)
    message = r"expects 2 features \(the length of w\), got an array of shape \(4, 3\)"
    with pytest.raises(ValueError, match=message):
        fn(np.zeros((4, 3)), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="real-valued"):
        fn(np.array([["a", "b"]]), np.zeros(2), 0.0)


# -- the perceptron learning rule ------------------------------------------------------------
def test_the_rule_by_hand_on_three_points():
    # Start w = 0, b = 0: every point is predicted 1.
    X = np.array([[1.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    y = np.array([1, 0, 0])
    updates = list(P.perceptron_updates(X, y))
    # epoch 1: point 0 right (z = 0 -> 1); point 1 wrong -> w = (1, 0), b = -1; point 2: z = -1 -> 0, right.
    # epoch 2: point 0: z = 0 -> 1 right; 1: z = -2 right; 2: z = -1 right -> stop.
    assert [i for i, _, _ in updates] == [1]
    np.testing.assert_array_equal(updates[0][1], [1.0, 0.0])
    assert updates[0][2] == -1.0
    w, b, n = P.perceptron_train(X, y)
    np.testing.assert_array_equal(w, [1.0, 0.0])
    assert (b, n) == (-1.0, 1)


def test_it_separates_separable_data_within_novikoffs_bound():
    X, y = P.make_separable(60, margin=0.05, seed=1)
    w, b, n_updates = P.perceptron_train(X, y)
    np.testing.assert_array_equal(P.perceptron_predict(X, w, b), y)
    assert isinstance(n_updates, int) and 0 < n_updates <= P.novikoff_bound(X, y, *P.SEPARABLE_LINE)
    assert n_updates <= P.novikoff_bound(X, y, w, b)   # the bound holds for every separator


def test_w_and_b_are_the_sum_of_the_updates():
    X, y = P.make_separable(40, seed=3)
    steps = list(P.perceptron_updates(X, y))
    signs = [y[i] - (1 - y[i]) for i, _, _ in steps]            # +1 for class 1, -1 for class 0
    w, b, n = P.perceptron_train(X, y)
    added = [s * X[i].astype(float) for s, (i, _, _) in zip(signs, steps, strict=True)]
    np.testing.assert_allclose(w, sum(added))
    assert b == sum(signs) and n == len(steps)


def test_on_xor_it_stops_only_at_max_epochs():
    X, y = data.make_xor(40, seed=0)
    w, b, n = P.perceptron_train(X, y, max_epochs=7)
    assert (P.perceptron_predict(X, w, b) != y).any()
    assert n >= 7   # at least one mistake in every epoch


def test_labels_must_be_zero_or_one():
    with pytest.raises(ValueError, match="0s and 1s"):
        P.perceptron_train(np.zeros((2, 2)), np.array([-1, 1]))
    with pytest.raises(ValueError, match=r"labels y of shape \(2,\)"):
        P.perceptron_train(np.zeros((2, 2)), np.array([0, 1, 1]))


def test_novikoff_bound_is_inf_for_a_line_that_does_not_separate():
    X, y = P.make_separable(20)
    assert P.novikoff_bound(X, y, np.array([1.0, 0.0]), 0.0) == np.inf


# -- feature map -------------------------------------------------------------------------------
def test_norm_squared_features_makes_the_circles_separable():
    X, y = data.make_circles(200, noise=0.05, factor=0.5, seed=0)
    phi = P.norm_squared_features(X)
    assert phi.shape == (200, 1) and phi.dtype == np.float32
    np.testing.assert_allclose(phi[:, 0], np.linalg.norm(X, axis=1) ** 2, rtol=1e-6)
    w, b, _ = P.perceptron_train(phi, y, max_epochs=1000)
    np.testing.assert_array_equal(P.perceptron_predict(phi, w, b), y)


# -- the logistic neuron ----------------------------------------------------------------------
def torch_loss_and_grads(X, y, w, b):
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(float(b), dtype=torch.float64, requires_grad=True)
    a = torch.sigmoid(torch.from_numpy(X) @ wt + bt)
    loss = torch.nn.functional.binary_cross_entropy(a, torch.tensor(y, dtype=torch.float64))
    loss.backward()
    return loss.item(), wt.grad.numpy(), bt.grad.item()


def test_logistic_loss_and_grads_agree_with_torch(batch):
    X, y, w, b = batch
    loss, dw, db = P.logistic_loss_and_grads(X, y, w, b)
    t_loss, t_dw, t_db = torch_loss_and_grads(X, y, w, b)
    assert loss == pytest.approx(t_loss, rel=1e-12)
    np.testing.assert_allclose(dw, t_dw, rtol=1e-10)
    assert db == pytest.approx(t_db, rel=1e-10)


def test_logistic_gradients_agree_with_central_differences(batch):
    X, y, w, b = batch
    _, dw, db = P.logistic_loss_and_grads(X, y, w, b)
    numeric_w = gradcheck.numerical_gradient(lambda v: P.logistic_loss_and_grads(X, y, v, b)[0], w.copy())
    numeric_b = gradcheck.numerical_gradient(lambda v: P.logistic_loss_and_grads(X, y, w, v[0])[0],
                                             np.array([b]))
    np.testing.assert_allclose(dw, numeric_w, rtol=1e-6)
    np.testing.assert_allclose(db, numeric_b[0], rtol=1e-6)


def test_logistic_loss_is_finite_for_huge_logits():
    X = np.array([[1.0], [-1.0], [1.0]])
    loss, dw, db = P.logistic_loss_and_grads(X, np.array([1, 1, 0]), np.array([1000.0]), 0.0)
    assert loss == pytest.approx((1000 + 1000) / 3)
    np.testing.assert_allclose(dw, [2 / 3])   # X^T (a - y) / N = (0 + 1 + 1) / 3
    assert db == pytest.approx(0.0)


def test_train_logistic_is_plain_gradient_descent_and_fits_separable_data():
    X, y = P.make_separable(60, margin=0.05, seed=1)
    w, b = P.train_logistic(X, y, lr=0.5, epochs=3)
    w_hand, b_hand = np.zeros(2), 0.0
    for _ in range(3):
        _, dw, db = P.logistic_loss_and_grads(X, y, w_hand, b_hand)
        w_hand, b_hand = w_hand - 0.5 * dw, b_hand - 0.5 * db
    np.testing.assert_allclose(w, w_hand, rtol=1e-12)
    w, b = P.train_logistic(X, y)
    assert np.mean(P.perceptron_predict(X, w, b) == y) >= 0.95


def test_train_logistic_matches_torch_sgd():
    X, y = P.make_separable(30, seed=2)
    X = X.astype(np.float64)
    model = torch.nn.Linear(2, 1).double()
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(50):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(torch.from_numpy(X))[:, 0], torch.tensor(y, dtype=torch.float64))
        loss.backward()
        optimizer.step()
    w, b = P.train_logistic(X, y, lr=0.5, epochs=50)
    np.testing.assert_allclose(w, model.weight.detach().numpy()[0], rtol=1e-10)
    assert b == pytest.approx(model.bias.item(), rel=1e-10)


# -- XOR with a hidden layer -----------------------------------------------------------------
def test_xor_weights_compute_xor_with_a_margin(rng):
    W1, b1, W2, b2 = P.xor_weights()
    assert (W1.shape, b1.shape, W2.shape, b2.shape) == ((2, 2), (2,), (1, 2), (1,))
    np.testing.assert_array_equal(P.step_network(P.XOR_X, W1, b1, W2, b2)[:, 0], P.XOR_Y)
    jittered = np.repeat(P.XOR_X, 25, axis=0) + rng.uniform(-0.2, 0.2, size=(100, 2))
    np.testing.assert_array_equal(P.step_network(jittered, W1, b1, W2, b2)[:, 0], np.repeat(P.XOR_Y, 25))


def test_step_network_is_two_linear_layers_with_steps():
    W1, b1, W2, b2 = P.xor_weights()
    first, second = nn.Linear(2, 2).to(np.float64), nn.Linear(2, 1).to(np.float64)
    first.load_state_dict({"weight": W1, "bias": b1})
    second.load_state_dict({"weight": W2, "bias": b2})
    X = np.random.default_rng(0).uniform(-1, 2, size=(50, 2))
    np.testing.assert_array_equal(P.step_network(X, W1, b1, W2, b2), P.step(second(P.step(first(X)))))


def test_step_network_names_a_wrong_shape():
    W1, b1, W2, b2 = P.xor_weights()
    with pytest.raises(ValueError, match=r"W2 of shape \(1, 2\), got an array of shape \(2,\)"):
        P.step_network(P.XOR_X, W1, b1, W2[0], b2)


def test_no_single_neuron_gets_all_four_xor_points():
    # A coarse search over (w1, w2, b): the best single step neuron gets 3 of 4.
    grid = np.linspace(-2, 2, 21)
    best = max(np.sum(P.perceptron_predict(P.XOR_X, np.array([w1, w2]), b) == P.XOR_Y)
               for w1 in grid for w2 in grid for b in grid)
    assert best == 3


# -- data and the honesty guard ------------------------------------------------------------------
def test_make_separable_keeps_its_margin_and_is_seeded():
    X, y = P.make_separable(100, margin=0.2, seed=5)
    w, b = P.SEPARABLE_LINE
    distance = (X.astype(float) @ w + b) / np.linalg.norm(w)
    assert X.shape == (100, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.abs(distance).min() >= 0.2 - 1e-6
    np.testing.assert_array_equal(y, distance > 0)
    np.testing.assert_array_equal(X, P.make_separable(100, margin=0.2, seed=5)[0])
    with pytest.raises(ValueError, match="margin"):
        P.make_separable(10, margin=0.7)


@pytest.mark.parametrize("ref, call", [
    (P.step, lambda: P.step(np.zeros(2))),
    (P.neuron, lambda: P.neuron(np.zeros((1, 2)), np.zeros(2), 0.0)),
    (P.perceptron_predict, lambda: P.perceptron_predict(np.zeros((1, 2)), np.zeros(2), 0.0)),
    (P.perceptron_train, lambda: P.perceptron_train(np.zeros((1, 2)), np.array([1]))),
    (P.norm_squared_features, lambda: P.norm_squared_features(np.zeros((1, 2)))),
    (P.logistic_loss_and_grads, lambda: P.logistic_loss_and_grads(np.zeros((1, 2)), [1], np.zeros(2), 0.0)),
    (P.train_logistic, lambda: P.train_logistic(np.zeros((1, 2)), [1], epochs=1)),
    (P.xor_weights, P.xor_weights),
])
def test_each_reference_can_be_forbidden(ref, call):
    with forbid(ref), pytest.raises(ReferenceCalledError):
        call()
    call()   # and works again outside


def test_the_logistic_loss_reuses_bce_with_logits():
    X, y, w = np.ones((2, 1)), np.array([0, 1]), np.array([0.5])
    with forbid(losses.BCEWithLogitsLoss), pytest.raises(ReferenceCalledError):
        P.logistic_loss_and_grads(X, y, w, 0.0)


# -- checks.check_function on functions that return several values (added for this chapter) -------
def test_check_function_compares_tuples_entry_by_entry_and_names_them():
    from dlcourse import checks
    X, y = P.make_separable(20, seed=4)

    def right(X, y, max_epochs=100):
        return P.perceptron_train.__wrapped__(X, y, max_epochs)

    def wrong_count(X, y, max_epochs=100):
        w, b, n = right(X, y, max_epochs)
        return w, b, n + 1

    options = dict(result_names=["w", "b", "n_updates"], check_dtype=False)
    checks.check_function(right, P.perceptron_train, [(X, y)], quiet=True, **options)
    wrong = r"^`n_updates` from `wrong_count` for X = .* is wrong: expected"
    with pytest.raises(checks.CheckFailed, match=wrong):
        checks.check_function(wrong_count, P.perceptron_train, [(X, y)], **options)
    not_a_tuple = r"returned \[.*\]; expected a tuple of 3 values \(w, b, n_updates\)"
    with pytest.raises(checks.CheckFailed, match=not_a_tuple):
        checks.check_function(lambda X, y: np.zeros(2), P.perceptron_train, [(X, y)], name="perceptron_train",
                              **options)
    unnamed = r"^`result 1` from .* returned an array of shape \(2,\); expected shape \(\)"
    with pytest.raises(checks.CheckFailed, match=unnamed):
        checks.check_function(wrong_count, lambda X, y: (1.0, 2.0, 3.0), [(X, y)])
