"""nn.Embedding against torch.nn.Embedding: lookup, scatter-add backward, initialisation, errors."""
import numpy as np
import pytest
import torch
from conftest import copy_to_torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import dlcourse
from dlcourse import nn
from dlcourse.honesty import ReferenceCalledError, forbid

TIGHT = dict(rtol=1e-12, atol=1e-12)


def compare_with_torch(num, dim, indices, rng):
    emb = nn.Embedding(num, dim).to(np.float64)
    twin = copy_to_torch(emb, torch.nn.Embedding(num, dim).double())
    out = emb(indices)
    G = rng.normal(size=out.shape)
    assert emb.backward(G) is None                                 # integer indices have no gradient
    out_t = twin(torch.from_numpy(np.asarray(indices)))
    (out_t * torch.from_numpy(G)).sum().backward()
    assert out.shape == np.shape(indices) + (dim,)
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(emb.weight.grad, twin.weight.grad.numpy(), **TIGHT)
    return emb, G


@pytest.mark.parametrize("indices", [
    np.array([3, 1, 4, 1, 5, 9, 2, 6]),
    np.array([[0, 9, 9], [9, 0, 9]]),                              # repeated indices: gradients add up
    np.array([[[2], [7]], [[7], [2]]], dtype=np.int32),
    np.array(4),                                                   # a single index: output (dim,)
    np.zeros((0, 3), dtype=np.int64),                              # empty: output (0, 3, dim)
], ids=["1-D", "2-D-repeated", "3-D-int32", "0-D", "empty"])
def test_matches_torch(indices, rng):
    compare_with_torch(10, 4, indices, rng)


@settings(max_examples=20, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=5), num=st.integers(1, 6),
       dim=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_matches_torch_for_any_shape(shape, num, dim, seed):
    rng = np.random.default_rng(seed)
    compare_with_torch(num, dim, rng.integers(0, num, size=shape), rng)


def test_the_gradient_of_a_row_is_the_sum_over_its_occurrences(rng):
    indices = np.array([[1, 3, 1], [1, 0, 3]])
    emb, G = compare_with_torch(5, 2, indices, rng)
    for k in range(5):
        np.testing.assert_allclose(emb.weight.grad[k], G[indices == k].sum(axis=0), **TIGHT)
    np.testing.assert_array_equal(emb.weight.grad[[2, 4]], 0)     # rows that were not looked up


def test_gradients_accumulate_and_the_output_is_a_copy(rng):
    emb = nn.Embedding(6, 3)
    before = emb.weight.data.copy()
    out = emb(np.array([1, 2, 1]))
    out[...] = 100.0                                  # changing the output leaves the table alone
    np.testing.assert_array_equal(emb.weight.data, before)
    G = np.ones((3, 3), dtype=np.float32)
    emb.backward(G)
    emb.backward(G)
    np.testing.assert_array_equal(emb.weight.grad[1], 4.0)
    np.testing.assert_array_equal(emb.weight.grad[2], 2.0)
    assert emb.weight.grad.dtype == out.dtype == np.float32


def test_initialisation_is_standard_normal_as_torch():
    emb = nn.Embedding(1000, 64)
    assert [(n, p.shape) for n, p in emb.named_parameters()] == [("weight", (1000, 64))]
    assert emb.weight.data.dtype == np.float32
    assert abs(emb.weight.data.mean()) < 0.02
    assert abs(emb.weight.data.std() - 1.0) < 0.02
    expected = [(n, tuple(p.shape)) for n, p in torch.nn.Embedding(1000, 64).named_parameters()]
    assert expected == [("weight", (1000, 64))]
    dlcourse.manual_seed(7)
    first = nn.Embedding(5, 2).weight.data
    dlcourse.manual_seed(7)
    np.testing.assert_array_equal(nn.Embedding(5, 2).weight.data, first)


def test_python_lists_of_integers_are_accepted():
    emb = nn.Embedding(4, 2)
    np.testing.assert_array_equal(emb([[0, 3]]), emb.weight.data[[[0, 3]]])


@pytest.mark.parametrize("indices, dtype", [(np.array([1.0, 2.0]), "float64"),
                                            (np.array([True, False]), "bool"),
                                            ([0.5], "float64")])
def test_float_and_bool_indices_are_rejected(indices, dtype):
    message = rf"^Embedding expects integer indices, got an array of dtype {dtype}$"
    with pytest.raises(ValueError, match=message):
        nn.Embedding(10, 3)(indices)


@pytest.mark.parametrize("indices, bad", [([0, 12, 3], 12), ([10], 10), ([[1, -1]], -1), ([-5, 20], -5)])
def test_out_of_range_and_negative_indices_are_rejected(indices, bad):
    with pytest.raises(ValueError, match=rf"^Embedding expects indices in \[0, 10\), got {bad}$"):
        nn.Embedding(10, 3)(np.array(indices))


def test_sizes_and_gradient_shape_are_checked():
    with pytest.raises(ValueError, match=r"Embedding expects num_embeddings to be an integer >= 1, got 0"):
        nn.Embedding(0, 3)
    with pytest.raises(ValueError, match=r"Embedding expects embedding_dim to be an integer >= 1, got 2.0"):
        nn.Embedding(3, 2.0)
    emb = nn.Embedding(10, 3)
    emb(np.array([[1, 2]]))
    with pytest.raises(ValueError, match=r"^Embedding.backward expects a gradient of shape \(1, 2, 3\), "
                                         r"got an array of shape \(2, 3\)$"):
        emb.backward(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="backward was called before forward"):
        nn.Embedding(10, 3).backward(np.zeros((1, 3)))


def test_the_reference_can_be_forbidden():
    with forbid(nn.Embedding), pytest.raises(ReferenceCalledError):
        nn.Embedding(4, 2)(np.array([1]))
