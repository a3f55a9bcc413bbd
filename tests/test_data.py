"""dlcourse.data: synthetic sets, real-data loaders, sequence tasks, minibatches.

The MNIST tests come in three kinds:
  (a) generated IDX files in torchvision's layout: always run, test our code end to end;
  (b) the real files, copied from <repo>/../shared/datasets: skipped with the path
      named when that folder is absent, and a FAILURE instead of a skip when the
      environment variable DLCOURSE_REQUIRE_SHARED_DATA is set (CI sets it);
  (c) missing files, offline: the clear error, with no network touched.
"""
import os
import shutil
import sys
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import sklearn.datasets
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcourse
from dlcourse import data

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

SYNTHETIC = {
    "moons": (data.make_moons, 2),
    "circles": (data.make_circles, 2),
    "xor": (data.make_xor, 2),
    "spirals": (data.make_spirals, 3),
}


# -- synthetic 2-D sets ---------------------------------------------------------------

@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_shapes_dtypes_and_classes(name):
    make, n_classes = SYNTHETIC[name]
    X, y = make(n_samples=101, seed=0)
    assert X.shape == (101, 2) and X.dtype == np.float32
    assert y.shape == (101,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(n_classes))
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_same_seed_same_data_other_seed_other_data(name):
    make, _ = SYNTHETIC[name]
    X1, y1 = make(n_samples=50, seed=7)
    X2, y2 = make(n_samples=50, seed=7)
    X3, _ = make(n_samples=50, seed=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_without_seed_follows_manual_seed(name):
    make, _ = SYNTHETIC[name]
    dlcourse.manual_seed(3)
    first, second = make(n_samples=40)[0], make(n_samples=40)[0]
    dlcourse.manual_seed(3)
    again = make(n_samples=40)[0]
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, second)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_accepts_a_numpy_generator(name):
    make, _ = SYNTHETIC[name]
    X1, _ = make(n_samples=30, seed=np.random.default_rng(5))
    X2, _ = make(n_samples=30, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(X1, X2)


def test_moons_and_circles_with_int_seed_equal_scikit_learn():
    X, y = data.make_moons(n_samples=60, noise=0.2, seed=4)
    X_sk, y_sk = sklearn.datasets.make_moons(60, noise=0.2, random_state=4)
    np.testing.assert_allclose(X, X_sk, rtol=1e-6)
    np.testing.assert_array_equal(y, y_sk)
    X, y = data.make_circles(n_samples=60, noise=0.0, factor=0.3, seed=4)
    radius = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(radius[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, rtol=1e-6)


def test_xor_labels_follow_the_signs_without_noise():
    X, y = data.make_xor(n_samples=500, noise=0.0, seed=0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    assert np.all(np.abs(X) <= 1)


def test_spirals_balanced_classes():
    X, y = data.make_spirals(n_samples=402, n_classes=4, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [101, 101, 100, 100]
    assert np.all(np.linalg.norm(X, axis=1) <= 1 + 1e-6)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: data.make_moons(n_samples=0), "n_samples to be an integer >= 1, got 0"),
        (lambda: data.make_xor(n_samples=10.5), "n_samples to be an integer >= 1, got 10.5"),
        (lambda: data.make_circles(noise=-0.1), "noise to be a number >= 0, got -0.1"),
        (lambda: data.make_circles(factor=1.5), "0 < factor < 1, got factor=1.5"),
        (lambda: data.make_spirals(n_classes=1), "n_classes to be an integer >= 2, got 1"),
        (lambda: data.make_xor(noise="a lot"), "noise to be a number >= 0, got 'a lot'"),
    ],
)
def test_synthetic_bad_arguments_raise_clear_errors(call, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        call()


# -- sequence tasks -------------------------------------------------------------------

def test_running_sum():
    X, Y = data.make_running_sum(n_samples=8, seq_len=5, seed=0)
    assert X.shape == Y.shape == (8, 5, 1) and X.dtype == Y.dtype == np.float32
    np.testing.assert_allclose(Y[:, -1, 0], X[:, :, 0].sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(Y[:, 0], X[:, 0])


def test_delayed_copy():
    X, Y = data.make_delayed_copy(n_samples=6, seq_len=10, delay=3, seed=0)
    assert X.shape == Y.shape == (6, 10, 1) and X.dtype == np.float32
    assert set(np.unique(X)) == {-1.0, 1.0}
    np.testing.assert_array_equal(Y[:, :3], 0)
    np.testing.assert_array_equal(Y[:, 3:], X[:, :7])
    with pytest.raises(ValueError, match="delay < seq_len, got delay=10, seq_len=10"):
        data.make_delayed_copy(seq_len=10, delay=10)


def test_sine_waves_target_is_the_next_input():
    X, Y = data.make_sine_waves(n_samples=7, seq_len=12, seed=0)
    assert X.shape == Y.shape == (7, 12, 1) and X.dtype == np.float32
    np.testing.assert_allclose(Y[:, :-1], X[:, 1:], atol=1e-6)
    assert np.all(np.abs(X) <= 1)
    noisy, _ = data.make_sine_waves(n_samples=7, seq_len=12, noise=0.1, seed=0)
    assert not np.allclose(noisy, X)


def test_sequence_tasks_are_seeded():
    for make in (data.make_running_sum, data.make_delayed_copy, data.make_sine_waves):
        np.testing.assert_array_equal(make(n_samples=4, seed=1)[0], make(n_samples=4, seed=1)[0])
        assert not np.array_equal(make(n_samples=4, seed=1)[0], make(n_samples=4, seed=2)[0])


# -- minibatches ----------------------------------------------------------------------

def test_minibatches_cover_every_sample_once_with_a_smaller_last_batch():
    X = np.arange(10).reshape(10, 1) * 10
    y = np.arange(10)
    batches = list(data.minibatches(X, y, batch_size=4, seed=0))
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen) == list(range(10))
    for Xb, yb in batches:                       # rows stay paired with their labels
        np.testing.assert_array_equal(Xb[:, 0], yb * 10)


def test_minibatches_shuffle_and_reproducibility():
    y = np.arange(100)
    order = lambda **kw: np.concatenate([yb for _, yb in data.minibatches(y, y, 16, **kw)])  # noqa: E731
    assert not np.array_equal(order(seed=0), y)
    np.testing.assert_array_equal(order(seed=0), order(seed=0))
    np.testing.assert_array_equal(order(shuffle=False), y)
    dlcourse.manual_seed(1)
    epoch1, epoch2 = order(), order()
    assert not np.array_equal(epoch1, epoch2)    # a new order every epoch
    dlcourse.manual_seed(1)
    np.testing.assert_array_equal(order(), epoch1)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 120), batch_size=st.integers(1, 150), shuffle=st.booleans())
def test_minibatches_property(n, batch_size, shuffle):
    X = np.arange(n * 3).reshape(n, 3)
    y = np.arange(n)
    batches = list(data.minibatches(X, y, batch_size, shuffle=shuffle, seed=0))
    sizes = [len(yb) for _, yb in batches]
    assert len(batches) == -(-n // batch_size)
    assert all(size == batch_size for size in sizes[:-1]) and 1 <= sizes[-1] <= batch_size
    np.testing.assert_array_equal(np.sort(np.concatenate([yb for _, yb in batches])), y)
    for Xb, yb in batches:
        np.testing.assert_array_equal(Xb, X[yb])


def test_minibatches_errors_at_call_time():
    X, y = np.zeros((100, 2)), np.zeros(99)
    with pytest.raises(ValueError, match=r"X of shape \(100, 2\) and y of shape \(99,\)"):
        data.minibatches(X, y, 10)               # raised before iterating
    with pytest.raises(ValueError, match="batch_size to be an integer >= 1, got 0"):
        data.minibatches(X, X, 0)
    with pytest.raises(ValueError, match="batch_size to be an integer >= 1, got 2.5"):
        data.minibatches(X, X, 2.5)
    with pytest.raises(ValueError, match=r"X of shape \(\) and y"):
        data.minibatches(3.0, y, 10)


# -- load_digits ----------------------------------------------------------------------

def test_load_digits_shapes_range_and_stratification():
    X_train, y_train, X_test, y_test = data.load_digits()
    assert X_train.shape == (1347, 64) and X_test.shape == (450, 64)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.min() == 0 and X_train.max() == 1 and X_test.max() <= 1
    all_counts = np.bincount(np.concatenate([y_train, y_test]))
    expected_test = all_counts * 450 / 1797
    assert np.all(np.abs(np.bincount(y_test) - expected_test) <= 1)


def test_load_digits_is_deterministic_and_can_keep_images():
    first, second = data.load_digits(), data.load_digits()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    images = data.load_digits(flatten=False)
    assert images.X_train.shape == (1347, 1, 8, 8)
    np.testing.assert_array_equal(images.X_train.reshape(-1, 64), first.X_train)
    other = data.load_digits(seed=1)
    assert not np.array_equal(other.y_test, first.y_test)


def test_load_digits_reads_scikit_learn_once_and_returns_new_arrays(monkeypatch):
    data._digits_pixels.cache_clear()
    calls = []
    original = sklearn.datasets.load_digits

    def counting_load_digits(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(sklearn.datasets, "load_digits", counting_load_digits)
    first = data.load_digits()
    first.X_train[...] = -1.0                                  # a caller may change what it got
    second, images = data.load_digits(), data.load_digits(flatten=False)
    assert len(calls) == 1
    assert second.X_train.min() == 0 and images.X_train.min() == 0
    assert all(array.flags.writeable for array in second)
    data._digits_pixels.cache_clear()                          # later tests read the real function again


# -- where the data lives -------------------------------------------------------------

def test_data_root_order(monkeypatch, tmp_path):
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path / "env"))
    assert data.data_root(tmp_path / "given") == tmp_path / "given"
    assert data.data_root() == tmp_path / "env"
    monkeypatch.delenv("DLCOURSE_DATA")
    repository = Path(data.__file__).resolve().parents[1]
    assert data.data_root() == repository / "datasets"
    installed = tmp_path / "site-packages" / "dlcourse" / "data.py"   # no pyproject.toml above
    monkeypatch.setattr(data, "__file__", str(installed))
    assert data.data_root() == Path.home() / ".cache" / "dlcourse"


# -- MNIST (a): generated IDX files in torchvision's layout -----------------------------

def write_idx(path, array):
    """Write an unpacked IDX file: 0, 0, type 0x08 (unsigned byte), ndim; sizes as big-endian int32; data."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_fake_dataset(root, name, rng, n_train=20, n_test=10):
    """Tiny random images and labels as <root>/<name>/raw/*-ubyte; returns the arrays written."""
    raw = root / name / "raw"
    raw.mkdir(parents=True)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
        arrays[split] = (images, labels)
    return arrays


@pytest.mark.parametrize(
    "name, load", [("MNIST", data.load_mnist), ("FashionMNIST", data.load_fashion_mnist)]
)
def test_loader_reads_generated_idx_files(tmp_path, rng, name, load):
    written = write_fake_dataset(tmp_path, name, rng)
    X_train, y_train, X_test, y_test = load(root=tmp_path)
    assert X_train.shape == (20, 784) and X_test.shape == (10, 784)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    np.testing.assert_array_equal(X_train, written["train"][0].reshape(20, 784) / np.float32(255))
    np.testing.assert_array_equal(X_test.reshape(10, 28, 28) * 255, written["t10k"][0])
    np.testing.assert_array_equal(y_train, written["train"][1])
    np.testing.assert_array_equal(y_test, written["t10k"][1])
    images = load(root=tmp_path, flatten=False)
    assert images.X_train.shape == (20, 1, 28, 28)
    np.testing.assert_array_equal(images.X_train.reshape(20, 784), X_train)


def test_second_load_comes_from_the_cache_without_torchvision(tmp_path, rng, monkeypatch):
    write_fake_dataset(tmp_path, "MNIST", rng)
    first = data.load_mnist(root=tmp_path)
    assert (tmp_path / "MNIST" / "dlcourse-uint8.npz").is_file()
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)   # importing it now fails
    second = data.load_mnist(root=tmp_path)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_loader_finds_files_through_dlcourse_data(tmp_path, rng, monkeypatch):
    written = write_fake_dataset(tmp_path, "MNIST", rng)
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path))
    np.testing.assert_array_equal(data.load_mnist().y_train, written["train"][1])


# -- MNIST (b): the real files ----------------------------------------------------------

@pytest.fixture(scope="module")
def real_data_root(tmp_path_factory):
    """A writable copy of ../shared/datasets (the original gz files, md5-checked by torchvision)."""
    if not SHARED_DATASETS.is_dir():
        message = f"real MNIST files not found at {SHARED_DATASETS} (the course's shared dataset folder)"
        if os.environ.get("DLCOURSE_REQUIRE_SHARED_DATA"):
            pytest.fail(message + "; DLCOURSE_REQUIRE_SHARED_DATA is set, so this is an error")
        pytest.skip(message)
    root = tmp_path_factory.mktemp("datasets")
    for name in ("MNIST", "FashionMNIST"):
        (root / name / "raw").mkdir(parents=True)
        for file in data.RAW_FILES:   # copy the bytes only: the shared folder may be read-only
            shutil.copyfile(SHARED_DATASETS / name / "raw" / file, root / name / "raw" / file)
    return root


MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize(
    "load, train_counts, test_counts, first_labels",
    [
        (data.load_mnist, MNIST_TRAIN_COUNTS, MNIST_TEST_COUNTS, (5, 7)),
        (data.load_fashion_mnist, [6000] * 10, [1000] * 10, (9, 9)),
    ],
    ids=["mnist", "fashion_mnist"],
)
def test_real_dataset(real_data_root, load, train_counts, test_counts, first_labels, monkeypatch):
    X_train, y_train, X_test, y_test = load(root=real_data_root)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == X_test.dtype == np.float32
    assert X_train.min() == 0 and X_train.max() == 1 and X_test.min() == 0 and X_test.max() == 1
    assert np.bincount(y_train).tolist() == train_counts
    assert np.bincount(y_test).tolist() == test_counts
    assert (y_train[0], y_test[0]) == first_labels

    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)   # the second load reads only our .npz
    cached = load(root=real_data_root, flatten=False)
    assert cached.X_train.shape == (60000, 1, 28, 28)
    np.testing.assert_array_equal(cached.X_test.reshape(10000, 784), X_test)
    np.testing.assert_array_equal(cached.y_train, y_train)


# -- MNIST (c): files missing and no network --------------------------------------------

def test_missing_files_without_download_give_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        data.load_mnist(root=tmp_path, download=False)
    message = str(caught.value)
    raw = tmp_path / "MNIST" / "raw"
    for file in data.RAW_FILES:
        assert str(raw / file) in message
    assert "with internet" in message and "offline: copy" in message and "DLCOURSE_DATA" in message


def test_missing_files_offline_give_a_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets.mnist

    def no_network(url, *args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", no_network)
    with pytest.raises(FileNotFoundError) as caught:
        data.load_fashion_mnist(root=tmp_path)
    message = str(caught.value)
    assert f"Could not load FashionMNIST from {tmp_path} (download=True)" in message
    assert str(tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz") in message
    assert "Name or service not known" in message
    assert not (tmp_path / "FashionMNIST" / "dlcourse-uint8.npz").exists()
