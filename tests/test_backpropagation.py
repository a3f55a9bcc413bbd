"""dlcourse.backpropagation (chapter 03): the explorers' numbers, and the checks its graded test cells call.

The numbers: the graph stepper's values and gradients are autograd's, the
initialisation statistics follow the schemes, the loss curves fall or
explode as the chapter says. The checks: a right answer passes (and says
so), each kind of wrong answer gets its sentence, an unwritten stub is "not
attempted", and the reference the exercise replaces is forbidden.
"""
import numpy as np
import pytest
import torch

from dlcourse import backpropagation as BP
from dlcourse import data, gradcheck, init, losses, optim, train
from dlcourse.checks import CheckFailed, NotAttempted
from dlcourse.honesty import ReferenceCalledError, forbid


# -- the graph stepper computes what autograd computes -----------------------------------------------------
def autograd_gradients():
    """dL/d(every node) of the 2-2-1 network, by torch autograd in float64."""
    t = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    x, W, b, V = t(BP.GRAPH_X), t(BP.GRAPH_W), t(BP.GRAPH_B), t(BP.GRAPH_V)
    z = W @ x + b
    h = torch.tanh(z)
    z3 = V @ h + BP.GRAPH_C
    p = torch.sigmoid(z3)
    loss = torch.nn.functional.binary_cross_entropy(p, torch.tensor(BP.GRAPH_Y, dtype=torch.float64))
    for node in (z, h, z3, p):
        node.retain_grad()
    loss.backward()
    grads = {"L": 1.0, "p": p.grad.item(), "z3": z3.grad.item(),
             "h1": h.grad[0].item(), "h2": h.grad[1].item(),
             "z1": z.grad[0].item(), "z2": z.grad[1].item(), "x1": x.grad[0].item(), "x2": x.grad[1].item()}
    values = {"x1": x[0].item(), "x2": x[1].item(), "z1": z[0].item(), "z2": z[1].item(), "h1": h[0].item(),
              "h2": h[1].item(), "z3": z3.item(), "p": p.item(), "L": loss.item()}
    return values, grads


def test_graph_steps_go_forward_then_backward_through_every_node():
    steps = BP.graph_steps()
    phases = [s["phase"] for s in steps]
    assert phases == sorted(phases, key=lambda phase: phase != "forward")
    assert {s["node"] for s in steps if s["phase"] == "forward"} == set(BP.NODES)
    assert {s["node"] for s in steps if s["phase"] == "backward"} == set(BP.NODES)
    assert all(s["rule"] and s["numbers"] for s in steps)


def test_graph_values_and_gradients_agree_with_autograd():
    values, grads = autograd_gradients()
    for s in BP.graph_steps():
        expected = values[s["node"]] if s["phase"] == "forward" else grads[s["node"]]
        assert s["value"] == pytest.approx(expected, rel=1e-12, abs=1e-12), (s["phase"], s["node"])


def test_the_output_gradient_is_p_minus_y():
    steps = {(s["phase"], s["node"]): s["value"] for s in BP.graph_steps()}
    assert steps["backward", "z3"] == pytest.approx(steps["forward", "p"] - BP.GRAPH_Y, rel=1e-12)


# -- the initialisation explorer's numbers -----------------------------------------------------------------
def test_init_std_follows_the_schemes():
    assert BP.init_std("he", 256, 128) == pytest.approx(np.sqrt(2 / 256))
    assert BP.init_std("xavier", 256, 128) == pytest.approx(np.sqrt(2 / 384))
    assert BP.init_std("zeros", 5, 5) == 0.0
    with pytest.raises(ValueError, match="init_std expects a scheme among .* got 'glorot'"):
        BP.init_std("glorot", 5, 5)


def test_he_keeps_relu_gradients_at_one_scale_and_small_weights_make_them_vanish():
    _, he = BP.layer_statistics("he", "relu")
    he_stds = [g.std() for g in he]
    assert max(he_stds) / min(he_stds) < 1.5
    _, small = BP.layer_statistics("small", "tanh")
    assert small[0].std() < 1e-3 * small[-1].std()
    activations, gradients = BP.layer_statistics("zeros", "tanh")
    assert all(not a.any() for a in activations) and all(not g.any() for g in gradients)


def test_layer_statistics_agree_with_autograd():
    activations, gradients = BP.layer_statistics("xavier", "tanh", depth=3, width=5, n_samples=4, seed=2)
    rng = np.random.default_rng(2)                     # the same draws, in torch
    std = BP.init_std("xavier", 5, 5)
    weights = [torch.tensor(rng.normal(0.0, 1.0, (5, 5)) * std) for _ in range(3)]
    a = torch.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    inputs, outputs = [], []
    for W in weights:
        a.retain_grad()
        inputs.append(a)
        a = torch.tanh(a @ W.T)
        outputs.append(a)
    (a * torch.tensor(rng.standard_normal((4, 5)))).sum().backward()
    for l in range(3):
        np.testing.assert_allclose(activations[l], outputs[l].detach().numpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(gradients[l], inputs[l].grad.numpy(), rtol=1e-5, atol=1e-7)


# -- the learning-rate explorer's runs ---------------------------------------------------------------------
def test_loss_curves_start_near_ln10_fall_for_good_rates_and_explode_for_the_largest():
    curves = {lr: BP.loss_curve(lr) for lr in BP.LR_RATES}
    for curve in curves.values():
        assert curve.shape == (BP.LR_STEPS + 1,)
        assert curve[0] == pytest.approx(np.log(10), abs=0.05)
    assert curves[0.5][-1] < curves[0.1][-1] < curves[0.01][-1] < curves[0.01][0]
    largest = curves[max(BP.LR_RATES)]
    assert not np.all(np.isfinite(largest)) or np.nanmax(largest) > 3 * largest[0]


def test_a_loss_curve_is_the_loss_before_each_gradient_descent_step():
    curve = BP.loss_curve(0.3, steps=4, hidden=6, seed=5)
    X, y = (torch.tensor(a) for a in BP._standardized_digits())
    rng = np.random.default_rng(5)                     # the same network and the same steps, in torch
    W1 = torch.tensor(rng.normal(0.0, np.sqrt(2 / 64), (6, 64)), requires_grad=True)
    W2 = torch.tensor(rng.normal(0.0, 0.01, (10, 6)), requires_grad=True)
    b1, b2 = torch.zeros(6, dtype=torch.float64, requires_grad=True), torch.zeros(10, dtype=torch.float64,
                                                                                  requires_grad=True)
    expected = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(torch.relu(X @ W1.T + b1) @ W2.T + b2, y)
        expected.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for t in (W1, b1, W2, b2):
                t -= 0.3 * t.grad
                t.grad.zero_()
    np.testing.assert_allclose(curve, expected, rtol=1e-10)


# -- loss_backward: a loss's gradient as a checkable function ----------------------------------------------
def test_loss_backward_is_the_gradient_of_the_loss_and_carries_its_reference_name(rng):
    P, Y = rng.uniform(0.1, 0.9, (4, 3)), rng.integers(0, 2, (4, 3)).astype(float)
    gradient = BP.loss_backward(losses.BCELoss)
    np.testing.assert_allclose(gradient(P, Y), (P - Y) / (P * (1 - P)) / P.size)
    with forbid(gradient), pytest.raises(ReferenceCalledError):
        losses.BCELoss().backward()                    # forbidding it forbids BCELoss.backward


# -- check_two_layer_backward ------------------------------------------------------------------------------
def two_layer_backward(X, y, W1, b1, W2, b2):
    """A right answer, written with numpy alone."""
    N = len(y)
    Z1 = X @ W1.T + b1
    A1 = np.maximum(Z1, 0)
    Z2 = A1 @ W2.T + b2
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    dZ2 = E / E.sum(axis=1, keepdims=True)
    dZ2[np.arange(N), y] -= 1
    dZ2 /= N
    dZ1 = (dZ2 @ W2) * (Z1 > 0)
    return {"W1": dZ1.T @ X, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ A1, "b2": dZ2.sum(axis=0)}


def two_layer_inputs(rng, dtype=np.float64):
    N, D, H, C = 6, 5, 4, 3
    arrays = [rng.normal(size=(N, D)), rng.normal(size=(H, D)), rng.normal(size=H), rng.normal(size=(C, H)),
              rng.normal(size=C)]
    X, W1, b1, W2, b2 = (a.astype(dtype) for a in arrays)
    return X, rng.integers(0, C, size=N), W1, b1, W2, b2


def test_two_layer_gradients_agree_with_torch(rng):
    X, y, W1, b1, W2, b2 = two_layer_inputs(rng)
    tensors = [torch.tensor(a, requires_grad=True) for a in (W1, b1, W2, b2)]
    Z2 = torch.relu(torch.tensor(X) @ tensors[0].T + tensors[1]) @ tensors[2].T + tensors[3]
    torch.nn.functional.cross_entropy(Z2, torch.tensor(y)).backward()
    got = BP.two_layer_gradients(X, y, W1, b1, W2, b2)
    for name, tensor in zip(("W1", "b1", "W2", "b2"), tensors, strict=True):
        np.testing.assert_allclose(got[name], tensor.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_check_two_layer_backward_passes_a_right_answer(rng, capsys):
    BP.check_two_layer_backward(two_layer_backward, *two_layer_inputs(rng))
    assert "two_layer_backward: all four gradients agree" in capsys.readouterr().out
    BP.check_two_layer_backward(two_layer_backward, *two_layer_inputs(rng, np.float32), quiet=True)
    assert capsys.readouterr().out == ""


def test_check_two_layer_backward_names_the_wrong_gradient_and_a_missing_key(rng):
    def b1_doubled(*args):
        grads = two_layer_backward(*args)
        return {**grads, "b1": 2 * grads["b1"]}

    with pytest.raises(CheckFailed, match=r"for X of shape \(6, 5\): the gradient of b1 is wrong"):
        BP.check_two_layer_backward(b1_doubled, *two_layer_inputs(rng))
    with pytest.raises(CheckFailed, match="expected a dict with keys W1, b1, W2, b2"):
        BP.check_two_layer_backward(lambda *args: {"W1": 0}, *two_layer_inputs(rng))


def test_check_two_layer_backward_forbids_the_layers_and_knows_a_stub(rng):
    def with_layers(X, y, W1, b1, W2, b2):
        return BP.two_layer_gradients(X, y, W1, b1, W2, b2)

    with pytest.raises(CheckFailed, match="Honesty check: .*Linear.forward"):
        BP.check_two_layer_backward(with_layers, *two_layer_inputs(rng))

    def stub(X, y, W1, b1, W2, b2):
        raise NotImplementedError()

    with pytest.raises(NotAttempted, match="write `two_layer_backward`"):
        BP.check_two_layer_backward(stub, *two_layer_inputs(rng))


def test_check_two_layer_backward_takes_a_float64_result_for_float32_inputs_and_nothing_narrower(rng):
    inputs = two_layer_inputs(rng, np.float32)

    def upcast(*args):
        return {name: g.astype(np.float64) for name, g in two_layer_backward(*args).items()}

    def float16(*args):
        return {name: g.astype(np.float16) for name, g in two_layer_backward(*args).items()}

    BP.check_two_layer_backward(upcast, *inputs, quiet=True)
    with pytest.raises(CheckFailed, match="returned dtype float16; expected dtype float32"):
        BP.check_two_layer_backward(float16, *inputs)


# -- check_numerical_gradient ------------------------------------------------------------------------------
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i].copy()
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def cubic(v):
    return np.sum(v ** 3)


def test_check_numerical_gradient_passes_a_right_answer(capsys):
    BP.check_numerical_gradient(numerical_gradient, [(cubic, np.array([0.1, 0.3, 0.7])),
                                                     (cubic, np.array(1.5))])
    assert "numerical_gradient: correct on 2 input(s), x restored exactly" in capsys.readouterr().out


def test_check_numerical_gradient_names_a_rounded_restore_a_wrong_gradient_and_the_reference():
    def subtracts_eps_back(f, x, eps=1e-6):
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            x[i] += eps
            up = f(x)
            x[i] -= 2 * eps
            down = f(x)
            x[i] += eps
            grad[i] = (up - down) / (2 * eps)
        return grad

    with pytest.raises(CheckFailed, match=r"returned the right gradient, but x\[\d\] was .* restore "
                                          r"each entry with the value saved before"):
        BP.check_numerical_gradient(subtracts_eps_back, [(cubic, np.array([0.1, 0.3, 0.7]))])
    with pytest.raises(CheckFailed, match="is wrong at index"):
        BP.check_numerical_gradient(lambda f, x: 2 * numerical_gradient(f, x),
                                    [(cubic, np.array([0.1, 0.3]))])
    with pytest.raises(CheckFailed, match="Honesty check: .*numerical_gradient"):
        BP.check_numerical_gradient(lambda f, x: gradcheck.numerical_gradient(f, x),
                                    [(cubic, np.array([0.1]))])

    def stub(f, x, eps=1e-6):
        raise NotImplementedError()

    with pytest.raises(NotAttempted):
        BP.check_numerical_gradient(stub, [(cubic, np.array([0.1]))])


# -- check_minibatches -------------------------------------------------------------------------------------
def minibatches(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]


def test_check_minibatches_passes_a_right_answer_and_returns_the_order(capsys):
    labels = BP.check_minibatches(minibatches, 10, 4)
    assert "sizes [4, 4, 2], every example once, rows and labels together" in capsys.readouterr().out
    assert sorted(labels.tolist()) == list(range(10)) and labels.tolist() != list(range(10))
    assert not np.array_equal(BP.check_minibatches(minibatches, 50, 10, seed=1, quiet=True),
                              BP.check_minibatches(minibatches, 50, 10, seed=2, quiet=True))


def one_batch(X, y, batch_size, rng):
    return [(X, y)]


def repeats_the_first_rows(X, y, batch_size, rng):
    return [(X[:4], y[:4]), (X[:4], y[:4]), (X[:2], y[:2])]


def mixes_up_the_labels(X, y, batch_size, rng):
    return minibatches(X, y[::-1], batch_size, rng)


def in_order(X, y, batch_size, rng):
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X), batch_size)]


def calls_the_reference(X, y, batch_size, rng):
    return data.minibatches(X, y, batch_size)


def the_global_generator(X, y, batch_size, rng):
    return minibatches(X, y, batch_size, np.random.default_rng())


@pytest.mark.parametrize("answer, message", [
    (one_batch, r"gave batches of sizes \[10\]; expected \[4, 4, 2\]"),
    (repeats_the_first_rows, "did not give every example exactly once"),
    (mixes_up_the_labels, "a batch paired rows .* index X and y with the same indices"),
    (in_order, "kept the original order; shuffle with rng.permutation"),
    (calls_the_reference, "Honesty check: .*minibatches"),
    (the_global_generator, "two different orders for two generators with the same seed"),
])
def test_check_minibatches_says_what_is_wrong(answer, message):
    with pytest.raises(CheckFailed, match=message):
        BP.check_minibatches(answer, 10, 4)


def test_check_minibatches_knows_a_stub():
    def stub(X, y, batch_size, rng):
        raise NotImplementedError()

    with pytest.raises(NotAttempted, match="write `minibatches`"):
        BP.check_minibatches(stub, 10, 4)


# -- check_sgd_step ----------------------------------------------------------------------------------------
def sgd_step(params, lr):
    for p in params:
        p.data -= lr * p.grad


def test_check_sgd_step_passes_a_right_answer_in_both_dtypes(capsys):
    BP.check_sgd_step(sgd_step, [(3, 2), (3,)], lr=0.1)
    assert "sgd_step: agrees with optim.SGD in place" in capsys.readouterr().out
    BP.check_sgd_step(sgd_step, [(4, 5, 2)], lr=1e-3, dtype=np.float32, quiet=True)


def test_check_sgd_step_refuses_a_new_array_a_wrong_sign_and_the_reference():
    def new_arrays(params, lr):
        for p in params:
            p.data = p.data - lr * p.grad

    def wrong_sign(params, lr):
        for p in params:
            p.data += lr * p.grad

    with pytest.raises(CheckFailed, match="replaced parameter 0's array instead of updating it in place"):
        BP.check_sgd_step(new_arrays, [(3, 2)], lr=0.1)
    with pytest.raises(CheckFailed, match="parameter 0 after the step is wrong"):
        BP.check_sgd_step(wrong_sign, [(3, 2)], lr=0.1)
    with pytest.raises(CheckFailed, match="Honesty check"):
        BP.check_sgd_step(lambda params, lr: optim.SGD(params, lr=lr).step(), [(3, 2)], lr=0.1)


# -- check_init --------------------------------------------------------------------------------------------
def he_normal(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in)).astype(np.float32)


def xavier_uniform(fan_in, fan_out, rng):
    r = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-r, r, size=(fan_out, fan_in)).astype(np.float32)


def test_check_init_passes_right_answers(capsys):
    BP.check_init(he_normal, init.he_normal, 300, 200, 2 / 300)
    BP.check_init(xavier_uniform, init.xavier_uniform, 300, 200, 2 / 500, bound=np.sqrt(6 / 500))
    assert capsys.readouterr().out.count("float32, variance") == 2


def test_check_init_says_what_is_wrong():
    def transposed(fan_in, fan_out, rng):
        return he_normal(fan_in, fan_out, rng).T

    def float64(fan_in, fan_out, rng):
        return he_normal(fan_in, fan_out, rng).astype(np.float64)

    def variance_of_xavier(fan_in, fan_out, rng):
        return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_out, fan_in)).astype(np.float32)

    def fixed_seed(fan_in, fan_out, rng):
        return he_normal(fan_in, fan_out, np.random.default_rng(0))

    def global_generator(fan_in, fan_out, rng):
        return np.random.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in)).astype(np.float32)

    def uniform_of_he_variance(fan_in, fan_out, rng):
        r = np.sqrt(6.0 / fan_in)
        return rng.uniform(-r, r, size=(fan_out, fan_in)).astype(np.float32)

    cases = [(transposed, r"expected an array of shape \(fan_out, fan_in\) = \(200, 300\)"),
             (float64, "returned dtype float64; expected float32"),
             (variance_of_xavier, "expected mean 0 and variance 0.006667"),
             (fixed_seed, "the same weights for two generators"),
             (global_generator, "two different draws for two generators with the same seed"),
             (uniform_of_he_variance,
              r"the mean and variance are right, but the entries are not distributed as N\(0, std\^2\)")]
    for answer, message in cases:
        with pytest.raises(CheckFailed, match=message):
            BP.check_init(answer, init.he_normal, 300, 200, 2 / 300)
    def half_the_range(fan_in, fan_out, rng):
        return xavier_uniform(fan_in, fan_out, rng) / 2

    with pytest.raises(CheckFailed, match=r"entries reach .*; expected U\(-r, r\)"):
        BP.check_init(half_the_range, init.xavier_uniform, 300, 200, 2 / 2000, bound=np.sqrt(6 / 500))


def test_ks_distance_is_small_for_right_draws_and_large_for_the_other_distribution():
    rng = np.random.default_rng(0)
    normal, uniform = rng.normal(0, 0.1, size=60000), rng.uniform(-0.3, 0.3, size=60000)
    assert BP.ks_distance(normal, 0.01) < BP.ks_allowed(60000) / 2
    assert BP.ks_distance(uniform, 0.03, bound=0.3) < BP.ks_allowed(60000) / 2
    assert BP.ks_distance(uniform, 0.03) > 5 * BP.ks_allowed(60000)             # uniform read as normal
    assert BP.ks_allowed(60000) == pytest.approx(0.011, abs=1e-3)


def test_check_init_forbids_the_reference():
    with pytest.raises(CheckFailed, match="Honesty check: .*he_normal"):
        BP.check_init(lambda fan_in, fan_out, rng: init.he_normal((fan_out, fan_in)), init.he_normal,
                      300, 200, 2 / 300)


# -- check_training ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def train_model(model, loss_fn, optimizer, X, y, epochs, batch_size):
    epoch_losses = []
    for _ in range(epochs):
        total = 0.0
        for X_batch, y_batch in data.minibatches(X, y, batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model(X_batch), y_batch)
            model.backward(loss_fn.backward())
            optimizer.step()
            total += loss * len(X_batch)
        epoch_losses.append(total / len(X))
    return epoch_losses


def test_check_training_passes_a_right_loop(digits, capsys):
    epoch_losses = BP.check_training(train_model, *digits, epochs=3, required=0.9)
    assert len(epoch_losses) == 3 and "train_model: loss" in capsys.readouterr().out


def test_check_training_needs_the_step_the_losses_and_the_accuracy(digits):
    def no_step(model, loss_fn, optimizer, X, y, epochs, batch_size):
        return [loss_fn(model(X), y)] * epochs

    with pytest.raises(CheckFailed, match="it should at least halve. Is optimizer.step"):
        BP.check_training(no_step, *digits, epochs=3)
    with pytest.raises(CheckFailed, match="expected a list of 3 losses"):
        BP.check_training(lambda *args: None, *digits, epochs=3)
    with pytest.raises(CheckFailed, match=r"test accuracy; at least 100% is required"):
        BP.check_training(train_model, *digits, epochs=2, required=1.0)


@pytest.mark.parametrize("reference", ["fit", "train_step"])
def test_check_training_forbids_fit_and_train_step(digits, reference):
    def with_the_package(model, loss_fn, optimizer, X, y, epochs, batch_size):
        if reference == "fit":
            return train.fit(model, loss_fn, optimizer, X, y, epochs, batch_size, progress=False)["loss"]
        return [train.train_step(model, loss_fn, optimizer, X, y)[0] for _ in range(epochs)]

    with pytest.raises(CheckFailed, match=f"Honesty check: .*{reference}"):
        BP.check_training(with_the_package, *digits, epochs=2)
