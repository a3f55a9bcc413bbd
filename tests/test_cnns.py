"""dlcourse.cnns (chapter 05): the references against PyTorch and central differences, the explorers'
numbers, and every message of the checks its graded test cells call.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from strategies import conv_geometries

import dlcourse
from dlcourse import cnns as CNN
from dlcourse import data, gradcheck, nn
from dlcourse.checks import CheckFailed, NotAttempted
from dlcourse.honesty import ReferenceCalledError, forbid

pytestmark = pytest.mark.chapter05

RNG = np.random.default_rng(0)
F_t = torch.nn.functional


def t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


# -- kernels and the single-image correlation ------------------------------------------------------------
def test_correlate2d_is_pytorchs_conv2d_and_convolve2d_flips_the_kernel():
    x, k = RNG.normal(size=(7, 6)), RNG.normal(size=(3, 2))
    expected = F_t.conv2d(t(x)[None, None], t(k)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(CNN.correlate2d(x, k), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(CNN.convolve2d(x, k), CNN.correlate2d(x, k[::-1, ::-1]), rtol=1e-12)
    assert CNN.correlate2d(x.astype(np.float32), k.astype(np.float32)).dtype == np.float32


def test_the_true_convolution_is_commutative_on_full_supports():
    a, b = RNG.normal(size=(3, 3)), RNG.normal(size=(2, 2))
    ab = CNN.convolve2d(np.pad(a, 1), b)       # full convolution a * b
    ba = CNN.convolve2d(np.pad(b, 2), a)       # full convolution b * a
    np.testing.assert_allclose(ab, ba, rtol=1e-12, atol=1e-12)
    assert not np.allclose(CNN.correlate2d(np.pad(a, 1), b), CNN.correlate2d(np.pad(b, 2), a))


@pytest.mark.parametrize("x, k, match", [
    (np.zeros((3, 3, 1)), np.zeros((2, 2)), "a 2-D image and a 2-D kernel"),
    (np.zeros((2, 2)), np.zeros((3, 1)), "a kernel no larger than the image"),
    ("image", np.zeros((1, 1)), "correlate2d"),
])
def test_correlate2d_refuses_bad_input(x, k, match):
    with pytest.raises(ValueError, match=match):
        CNN.correlate2d(x, k)


def test_kernels_have_the_sums_the_chapter_states():
    sums = {name: CNN.KERNELS[name].sum() for name in CNN.KERNELS}
    for name in ("identity", "mean blur", "Gaussian blur", "sharpen"):
        assert sums[name] == pytest.approx(1.0)
    for name in ("vertical edges (Sobel x)", "horizontal edges (Sobel y)", "Laplacian"):
        assert sums[name] == pytest.approx(0.0)
    sobel_x, sobel_y = CNN.KERNELS["vertical edges (Sobel x)"], CNN.KERNELS["horizontal edges (Sobel y)"]
    np.testing.assert_array_equal(sobel_y, sobel_x.T)


def test_gaussian_kernel_is_normalised_symmetric_and_checks_its_arguments():
    g = CNN.gaussian_kernel(5, 1.3)
    assert g.shape == (5, 5) and g.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(g, g.T)
    np.testing.assert_allclose(g, g[::-1, ::-1])
    assert g[2, 2] == g.max()
    with pytest.raises(ValueError, match="odd int"):
        CNN.gaussian_kernel(4)
    with pytest.raises(ValueError, match="sigma > 0"):
        CNN.gaussian_kernel(3, 0.0)


def test_the_photo_is_gray_in_the_unit_interval_and_returned_as_a_copy():
    photo = CNN.load_photo()
    assert photo.shape == (213, 320) and photo.dtype == np.float64
    assert 0.0 <= photo.min() < 0.1 and 0.9 < photo.max() <= 1.0
    photo[:] = 0
    assert CNN.load_photo().max() > 0.9


def test_filter_image_keeps_the_size_and_the_identity_keeps_the_image():
    photo = CNN.load_photo()
    np.testing.assert_allclose(CNN.filter_image(photo, CNN.KERNELS["identity"]), photo)
    assert CNN.filter_image(photo, CNN.KERNELS["sharpen"]).shape == photo.shape


def test_the_diagonal_edge_images_are_what_the_exercise_describes():
    images = CNN.diagonal_edge_images(6)
    asked = images["asked"]
    assert asked[0, 0] == 0 and asked[5, 5] == 1 and asked[0, 5] == 0 and asked[1, 5] == 1
    np.testing.assert_array_equal(images["opposite"], 1 - asked)
    assert np.ptp(images["flat"]) == 0


# -- the exercise references ----------------------------------------------------------------------------
@pytest.mark.parametrize("size, kernel, padding, stride", [(28, 5, 0, 1), (28, 3, 1, 2), (7, 3, 1, 2),
                                                            (8, 3, 0, 2), (224, 7, 3, 2), (3, 7, 2, 1)])
def test_conv_output_size_is_the_size_pytorch_gives(size, kernel, padding, stride):
    y = F_t.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel), stride=stride,
                   padding=padding)
    assert CNN.conv_output_size(size, kernel, padding, stride) == y.shape[-1]
    assert isinstance(CNN.conv_output_size(size, kernel, padding, stride), int)


@pytest.mark.parametrize("args, match", [((5, 3, 0, 0), "stride >= 1"), ((5, 3, -1, 1), "padding >= 0"),
                                         ((2, 5, 1, 1), "no larger than the padded input")])
def test_conv_output_size_refuses_impossible_geometry(args, match):
    with pytest.raises(ValueError, match=match):
        CNN.conv_output_size(*args)


def test_zero_pad_is_np_pad_and_keeps_the_dtype():
    x = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
    padded = CNN.zero_pad(x, 2)
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2))))
    assert padded.dtype == np.float32
    assert CNN.zero_pad(x, 0) is not x
    with pytest.raises(ValueError, match=r"zero_pad expects .*\(N, C, h, w\)"):
        CNN.zero_pad(x[0], 1)
    with pytest.raises(ValueError, match="padding >= 0"):
        CNN.zero_pad(x, -1)


@pytest.mark.parametrize("c_in, c_out, k, bias", [(1, 8, 5, True), (8, 16, 5, True), (3, 64, 3, False)])
def test_conv_parameters_counts_what_conv2d_holds(c_in, c_out, k, bias):
    layer = torch.nn.Conv2d(c_in, c_out, k, bias=bias)
    assert CNN.conv_parameters(c_in, c_out, k, bias) == sum(p.numel() for p in layer.parameters())
    assert CNN.conv_parameters(c_in, c_out, k, bias) == sum(p.data.size for p in nn.Conv2d(
        c_in, c_out, k, bias=bias).parameters())


def test_dense_parameters_counts_a_linear_layer_between_the_flat_images():
    assert CNN.dense_parameters(1, 5, 5, 1, 3, 3) == 25 * 9 + 9
    assert CNN.dense_parameters(1, 28, 28, 8, 24, 24, bias=False) == 784 * 8 * 576


def test_conv_matrix_times_the_flat_image_is_the_correlation():
    k = RNG.normal(size=(3, 2))
    x = RNG.normal(size=(5, 6))
    M = CNN.conv_matrix(k, 5, 6)
    assert M.shape == (3 * 5, 30)
    np.testing.assert_allclose(M @ x.ravel(), CNN.correlate2d(x, k).ravel(), rtol=1e-12)
    assert np.count_nonzero(M) == 15 * 6


def test_im2col_columns_are_the_padded_windows():
    x = RNG.normal(size=(2, 3, 5, 4))
    cols, (h_out, w_out) = CNN.im2col(x, 3, 2, stride=2, padding=1)
    assert cols.shape == (3 * 3 * 2, 2 * h_out * w_out) and (h_out, w_out) == (3, 3)
    xp = CNN.zero_pad(x, 1)
    n, i, j = 1, 2, 1
    column = cols[:, n * h_out * w_out + i * w_out + j]
    np.testing.assert_array_equal(column, xp[n, :, 2 * i:2 * i + 3, 2 * j:2 * j + 2].ravel())


def torch_conv(x, weight, bias, grad_out, stride, padding):
    x_t, w_t, b_t = t(x, True), t(weight, True), t(bias, True)
    y = F_t.conv2d(x_t, w_t, b_t, stride=stride, padding=padding)
    y.backward(t(grad_out))
    return y.detach().numpy(), x_t.grad.numpy(), w_t.grad.numpy(), b_t.grad.numpy()


@settings(max_examples=40, deadline=None)
@given(conv_geometries())
def test_conv2d_forward_and_backward_agree_with_pytorch_in_float64(g):
    # the references take one int stride and padding: use the first of each pair, square kernels
    k, s, p = g.kernel[0], g.stride[0], g.padding[0]
    h, w = max(g.h, k), max(g.w, k)
    rng = np.random.default_rng(g.n * 100 + g.c_in * 10 + g.c_out)
    x = rng.normal(size=(g.n, g.c_in, h, w))
    weight, bias = rng.normal(size=(g.c_out, g.c_in, k, k)), rng.normal(size=g.c_out)
    y = CNN.conv2d_forward(x, weight, bias, s, p)
    G = rng.normal(size=y.shape)
    y_t, dx_t, dw_t, db_t = torch_conv(x, weight, bias, G, s, p)
    np.testing.assert_allclose(y, y_t, rtol=1e-10, atol=1e-12)
    dx, dW, db = CNN.conv2d_backward(x, weight, G, s, p)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dW, dw_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, db_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(CNN.conv2d_loops(x, weight, bias, s, p), y, rtol=1e-10, atol=1e-12)


def test_conv2d_backward_agrees_with_central_differences():
    x, weight = RNG.normal(size=(2, 2, 5, 6)), RNG.normal(size=(3, 2, 3, 2))
    bias, G = RNG.normal(size=3), RNG.normal(size=(2, 3, 3, 4))

    def loss_of(x_, w_, b_):
        return float(np.sum(CNN.conv2d_forward(x_, w_, b_, 2, 1) * G))

    dx, dW, db = CNN.conv2d_backward(x, weight, G, 2, 1)
    np.testing.assert_allclose(dx, gradcheck.numerical_gradient(lambda v: loss_of(v, weight, bias), x.copy()),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dW, gradcheck.numerical_gradient(lambda v: loss_of(x, v, bias), weight.copy()),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, gradcheck.numerical_gradient(lambda v: loss_of(x, weight, v), bias.copy()),
                               rtol=1e-6, atol=1e-8)


def test_the_input_gradient_is_a_full_convolution_with_the_kernel_for_stride_1():
    x, weight, G = RNG.normal(size=(1, 1, 6, 6)), RNG.normal(size=(1, 1, 3, 3)), RNG.normal(size=(1, 1, 4, 4))
    dx, _, _ = CNN.conv2d_backward(x, weight, G)
    np.testing.assert_allclose(dx[0, 0], CNN.convolve2d(np.pad(G[0, 0], 2), weight[0, 0]), rtol=1e-12)


def test_conv2d_functions_keep_float32():
    x = RNG.normal(size=(2, 2, 5, 5)).astype(np.float32)
    weight = RNG.normal(size=(3, 2, 3, 3)).astype(np.float32)
    bias = RNG.normal(size=3).astype(np.float32)
    y = CNN.conv2d_forward(x, weight, bias, 1, 1)
    assert y.dtype == np.float32
    assert all(a.dtype == np.float32 for a in CNN.conv2d_backward(x, weight, y, 1, 1))


@pytest.mark.parametrize("x, weight, kwargs, match", [
    (np.zeros((2, 3, 5)), np.zeros((1, 3, 3, 3)), {}, r"\(N, C_in, h, w\)"),
    (np.zeros((2, 3, 5, 5)), np.zeros((1, 2, 3, 3)), {}, r"a weight of shape \(C_out, 3, kh, kw\)"),
    (np.zeros((2, 3, 5, 5)), np.zeros((1, 3, 3, 3)), {"stride": 0}, "stride >= 1"),
    (np.zeros((2, 3, 2, 2)), np.zeros((1, 3, 5, 5)), {}, "no larger than the padded input"),
])
def test_conv2d_forward_refuses_bad_input(x, weight, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CNN.conv2d_forward(x, weight, np.zeros(weight.shape[0]), **kwargs)


def test_conv2d_backward_refuses_a_gradient_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"conv2d_backward expects grad_out of shape \(2, 1, 3, 3\)"):
        CNN.conv2d_backward(np.zeros((2, 3, 5, 5)), np.zeros((1, 3, 3, 3)), np.zeros((2, 1, 4, 4)))


@pytest.mark.parametrize("shape, k", [((2, 3, 6, 6), 2), ((1, 2, 7, 5), 2), ((2, 1, 6, 6), 3)])
@pytest.mark.parametrize("tied", [False, True])
def test_maxpool_forward_and_backward_agree_with_pytorch_ties_included(shape, k, tied):
    rng = np.random.default_rng(sum(shape) + k)
    x = np.maximum(rng.normal(size=shape), 0) if tied else rng.normal(size=shape)
    if tied:
        x[..., :k, :k] = 0.0
    x_t = t(x, True)
    y_t = F_t.max_pool2d(x_t, k)
    G = rng.normal(size=y_t.shape)
    y_t.backward(t(G))
    np.testing.assert_array_equal(CNN.maxpool_forward(x, k), y_t.detach().numpy())
    np.testing.assert_array_equal(CNN.maxpool_backward(x, G, k), x_t.grad.numpy())
    layer = nn.MaxPool2d(k)
    layer(x)
    np.testing.assert_array_equal(CNN.maxpool_backward(x, G, k), layer.backward(G))


def test_maxpool_keeps_the_dtype_and_refuses_bad_input():
    x = RNG.normal(size=(1, 1, 4, 4)).astype(np.float32)
    assert CNN.maxpool_forward(x, 2).dtype == np.float32
    assert CNN.maxpool_backward(x, np.ones((1, 1, 2, 2), np.float32), 2).dtype == np.float32
    with pytest.raises(ValueError, match="a window size k between 1 and 4"):
        CNN.maxpool_forward(x, 5)
    with pytest.raises(ValueError, match=r"\(N, C, h, w\)"):
        CNN.maxpool_forward(x[0], 2)
    with pytest.raises(ValueError, match=r"grad_out of shape \(1, 1, 2, 2\)"):
        CNN.maxpool_backward(x, np.ones((1, 1, 3, 3)), 2)


def test_references_are_guarded():
    for ref in CNN.forbidden_references():
        with forbid(ref), pytest.raises(ReferenceCalledError):
            ref(*{CNN.correlate2d: (np.ones((3, 3)), np.ones((2, 2))), CNN.conv_output_size: (5, 3),
                  CNN.zero_pad: (np.ones((1, 1, 2, 2)), 1), CNN.conv_parameters: (1, 1, 1),
                  CNN.conv2d_forward: (np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.ones(1)),
                  CNN.conv2d_backward: (np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2))),
                  CNN.maxpool_forward: (np.ones((1, 1, 2, 2)), 2),
                  CNN.maxpool_backward: (np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1)), 2)}[ref])


def test_time_convolutions_reports_three_agreeing_methods():
    result = CNN.time_convolutions(N=2, c_in=2, c_out=3, size=8, repeats=1)
    assert set(result) == {"loops", "im2col", "PyTorch", "difference", "loops difference"}
    assert result["difference"] < 1e-4 and result["loops difference"] < 1e-4
    assert all(result[key] > 0 for key in ("loops", "im2col", "PyTorch"))


# -- receptive fields, shifts, networks ----------------------------------------------------------------
def measured_receptive_field(layers, size=41):
    """The receptive field of the centre unit of the last layer, by backpropagating through real layers."""
    # average pooling: every pixel of a window reaches its output (a max routes the gradient to one)
    modules = [nn.Conv2d(1, 1, k, stride=s) if "conv" in name else nn.AvgPool2d(k, s)
               for name, k, s in layers]
    model = nn.Sequential(*modules).to(np.float64)
    for m in modules:
        if isinstance(m, nn.Conv2d):
            m.weight.data[:] = 1.0
    x = np.random.default_rng(0).uniform(1, 2, size=(1, 1, size, size))
    y = model(x)
    G = np.zeros_like(y)
    G[0, 0, y.shape[2] // 2, y.shape[3] // 2] = 1.0
    rows = np.flatnonzero(np.abs(model.backward(G)[0, 0]).sum(axis=1))
    return rows.max() - rows.min() + 1


@pytest.mark.parametrize("layers", [[("conv", 3, 1)] * 3, [("conv", 3, 1), ("pool", 2, 2)] * 2,
                                    [("conv", 5, 1), ("pool", 2, 2)] * 2, [("conv s2", 3, 2)] * 3])
def test_receptive_fields_match_what_backpropagation_reaches(layers):
    assert CNN.receptive_fields(layers)[-1][1] == measured_receptive_field(layers)


def test_receptive_fields_start_at_the_pixel_and_report_the_jump():
    fields = CNN.receptive_fields([("c", 3, 1), ("p", 2, 2), ("c", 3, 1), ("p", 2, 2)])
    assert fields == [("input", 1, 1), ("c", 3, 1), ("p", 4, 2), ("c", 8, 2), ("p", 10, 4)]


def test_shift_images_moves_pixels_and_fills_zeros():
    X = np.arange(16.0).reshape(1, 1, 4, 4)
    moved = CNN.shift_images(X, 1, -2)
    np.testing.assert_array_equal(moved[0, 0, 1:, :2], X[0, 0, :3, 2:])
    assert moved[0, 0, 0].sum() == 0 and moved[0, 0, :, 2:].sum() == 0
    np.testing.assert_array_equal(CNN.shift_images(X, 0, 0), X)


def test_convolution_is_translation_equivariant_away_from_the_borders():
    dlcourse.manual_seed(0)
    conv = nn.Conv2d(1, 2, 3, padding=1).to(np.float64)
    x = np.random.default_rng(1).normal(size=(1, 1, 10, 10))
    gap = CNN.shift_images(conv(x), 0, 2) - conv(CNN.shift_images(x, 0, 2))
    assert np.abs(gap[..., 3:-2]).max() < 1e-12
    assert np.abs(gap).max() > 1e-3          # the borders differ


def test_lenet_has_the_chapters_shapes_and_parameter_counts():
    dlcourse.manual_seed(0)
    model = CNN.lenet()
    assert [p.data.size for p in model.parameters()] == [200, 8, 3200, 16, 2560, 10]
    assert model(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)
    assert model[0].needs_input_grad is False
    small = CNN.lenet(side=8)
    assert small(np.zeros((3, 1, 8, 8), np.float32)).shape == (3, 10)
    assert CNN.lenet(hidden=32)(np.zeros((1, 1, 28, 28), np.float32)).shape == (1, 10)
    with pytest.raises(ValueError, match="side 28"):
        CNN.lenet(side=10)


def test_mlp_flattens_images():
    model = CNN.mlp(64, 16)
    assert model(np.zeros((3, 1, 8, 8), np.float32)).shape == (3, 10)
    assert sum(p.data.size for p in model.parameters()) == 64 * 16 + 16 + 16 * 10 + 10


def test_layer_outputs_lists_every_layer_in_order():
    model = CNN.lenet(side=8)
    outputs = CNN.layer_outputs(model, np.zeros((2, 1, 8, 8), np.float32))
    assert [name for name, _ in outputs][:3] == ["0: Conv2d", "1: ReLU", "2: MaxPool2d"]
    assert outputs[2][1].shape == (2, 8, 4, 4) and outputs[-1][1].shape == (2, 10)


# -- the explorers' numbers --------------------------------------------------------------------------------
@pytest.mark.parametrize("padding", [0, 1])
def test_stepper_frames_sum_to_the_correlation(padding):
    xp, frames, shape = CNN.stepper_frames(padding=padding)
    expected = CNN.correlate2d(np.pad(CNN.STEPPER_X, padding), CNN.STEPPER_K)
    assert shape == expected.shape and len(frames) == expected.size
    for f in frames:
        assert f["value"] == pytest.approx(expected[f["pos"]])
        assert f["products"].sum() == pytest.approx(f["value"])


def test_shape_geometry_explains_valid_lossy_and_invalid_combinations():
    same = CNN.shape_geometry(7, 3, 1, 1)
    assert same["valid"] and same["out"] == 7 and "fit no window" not in same["message"]
    lossy = CNN.shape_geometry(8, 3, 0, 2)
    assert lossy["out"] == 3 and lossy["used"] == 7 and "the last 1 padded row(s)" in lossy["message"]
    invalid = CNN.shape_geometry(3, 7, 1, 1)
    assert not invalid["valid"] and "larger than the padded input" in invalid["message"]


# -- check_edge_kernel: every message -----------------------------------------------------------------------
GOOD_KERNEL = np.array([[-2.0, -1, 0], [-1, 0, 1], [0, 1, 2]])


def test_check_edge_kernel_accepts_a_rotated_sobel_kernel(capsys):
    CNN.check_edge_kernel(lambda: GOOD_KERNEL.copy())
    assert "edge_kernel: 0 on a flat image" in capsys.readouterr().out


@pytest.mark.parametrize("kernel, match", [
    ([[1, 0], [0, 1]], "expected a numpy array of shape \\(3, 3\\)"),
    (np.zeros((2, 2)), "expected a numpy array of shape \\(3, 3\\)"),
    (GOOD_KERNEL.astype(np.int64), "dtype int64; expected float64"),
    (np.full((3, 3), 1.2345), "on a flat image of 0.7 everywhere"),
    (-GOOD_KERNEL, "it should be positive"),
    (np.zeros((3, 3)), "it should be positive"),
    (np.array([[-1.0, -1, -1], [0, 0, 0], [1, 1, 1]]), "responds .* to the other diagonal"),
])
def test_check_edge_kernel_names_each_mistake(kernel, match):
    with pytest.raises(CheckFailed, match=match):
        CNN.check_edge_kernel(lambda: kernel)


def test_check_edge_kernel_wants_a_signed_detector():
    asymmetric = np.array([[0.0, 0, 0], [0, -1, 0], [0, 0, 1]])     # a difference along the diagonal
    images = CNN.diagonal_edge_images()
    assert CNN.correlate2d(images["opposite"], asymmetric).min() < 0   # it is signed: accepted
    CNN.check_edge_kernel(lambda: asymmetric, quiet=True)


def test_check_edge_kernel_reports_a_stub():
    def edge_kernel():
        raise NotImplementedError()
    with pytest.raises(NotAttempted):
        CNN.check_edge_kernel(edge_kernel)


# -- check_digits_cnn: every message ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    return data.load_digits(flatten=False)


def good_cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64, 10))


def test_check_digits_cnn_accepts_a_small_lenet(digits, capsys):
    model, accuracy = CNN.check_digits_cnn(good_cnn, *digits)
    assert accuracy >= 0.96 and isinstance(model, nn.Sequential)
    assert "build_cnn: 1898 parameters" in capsys.readouterr().out


@pytest.mark.parametrize("build, match", [
    (lambda: None, "expected a dlcourse model"),
    (lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), "has no nn.Conv2d layer"),
    (lambda: nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.Flatten(), nn.Linear(64 * 64, 10)),
     "parameters; at most 20000"),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(144, 10)), "cannot take the digits"),
    (lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten()), "expected \\(2, 10\\)"),
    (lambda: nn.Sequential(nn.Conv2d(1, 1, 8), nn.Flatten(), nn.Linear(1, 10)), "at least 96% is required"),
])
def test_check_digits_cnn_names_each_mistake(digits, build, match):
    with pytest.raises(CheckFailed, match=match):
        CNN.check_digits_cnn(build, *digits, epochs=2)


def test_check_digits_cnn_reports_a_stub(digits):
    def build_cnn():
        raise NotImplementedError()
    with pytest.raises(NotAttempted):
        CNN.check_digits_cnn(build_cnn, *digits)
