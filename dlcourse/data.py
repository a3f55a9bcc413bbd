"""Data for the course: small synthetic sets, real images, sequence tasks, minibatches.

Conventions used by every function here:

- Inputs ``X`` are float32 (the dtype of the model parameters), samples
  along the first axis. Class labels ``y`` are int64, shape ``(N,)``.
- ``seed`` is ``None`` (draw from the package generator, so that
  ``dlcourse.manual_seed`` makes a notebook repeatable), an ``int`` (a
  fresh generator with that seed) or a ``numpy.random.Generator``.
- The real-data loaders return a :class:`DataSplit`
  ``(X_train, y_train, X_test, y_test)``, images flattened to rows by
  default (``flatten=False`` keeps ``(N, 1, H, W)`` for convolutions).

MNIST and Fashion-MNIST come through ``torchvision.datasets`` into a cache
folder (see :func:`data_root`); torchvision downloads them once when there
is internet. The converted arrays are cached as a ``.npz`` next to the raw
files, so later loads take a fraction of a second and skip importing
torchvision altogether.

The text corpora of chapter 06 (:func:`load_text`: Shakespeare, first names)
live in the same cache, are downloaded once from their original location
and are checked against their sha256 on every load.
"""
import functools
import numbers
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .honesty import reference
from .random import generator

__all__ = [
    "DataSplit", "make_moons", "make_circles", "make_xor", "make_spirals",
    "load_digits", "load_mnist", "load_fashion_mnist", "data_root",
    "make_running_sum", "make_delayed_copy", "make_sine_waves", "minibatches",
    "FASHION_MNIST_CLASSES", "TextCorpus", "TEXT_CORPORA", "load_text",
]

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

# The four files torchvision expects in <root>/<name>/raw/ for MNIST and Fashion-MNIST.
RAW_FILES = (
    "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
)
CACHE_FILE = "dlcourse-uint8.npz"   # the converted arrays, in <root>/<name>/ beside raw/


class DataSplit(NamedTuple):
    """A train/test split: unpack it as ``X_train, y_train, X_test, y_test = load_digits()``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


# -- argument checks -------------------------------------------------------------

def _rng(seed):
    """A numpy Generator from ``seed``: None (package generator), an int, or a Generator."""
    if seed is None:
        return generator()
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _sklearn_seed(seed):
    """An int for scikit-learn's ``random_state``: the seed itself, or one drawn from the generator."""
    if isinstance(seed, numbers.Integral):
        return int(seed)
    return int(_rng(seed).integers(2**31))


def _check_int(value, name, who, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{who} expects {name} to be an integer >= {minimum}, got {value!r}")


def _check_noise(noise, who):
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(f"{who} expects noise to be a number >= 0, got {noise!r}")


def _as_dataset(X, y):
    """X as float32 (N, D), y as int64 (N,)."""
    return X.astype(np.float32), y.astype(np.int64)


# -- synthetic 2-D classification sets -------------------------------------------

def make_moons(n_samples=200, noise=0.1, seed=None):
    """Two interleaving half circles (scikit-learn's ``make_moons``).

    Returns:
        X: float32 (n_samples, 2), y: int64 (n_samples,) with classes 0 and 1.
    """
    _check_int(n_samples, "n_samples", "make_moons")
    _check_noise(noise, "make_moons")
    import sklearn.datasets  # imported where used: scikit-learn takes over a second to import

    X, y = sklearn.datasets.make_moons(n_samples, noise=noise, random_state=_sklearn_seed(seed))
    return _as_dataset(X, y)


def make_circles(n_samples=200, noise=0.1, factor=0.5, seed=None):
    """A small circle (class 1) inside a large one (class 0), scikit-learn's ``make_circles``.

    ``factor`` is the ratio of the inner radius to the outer radius (outer radius 1).

    Returns:
        X: float32 (n_samples, 2), y: int64 (n_samples,) with classes 0 and 1.
    """
    _check_int(n_samples, "n_samples", "make_circles")
    _check_noise(noise, "make_circles")
    if not 0 < factor < 1:
        raise ValueError(f"make_circles expects 0 < factor < 1, got factor={factor!r}")
    import sklearn.datasets  # imported where used: scikit-learn takes over a second to import

    X, y = sklearn.datasets.make_circles(
        n_samples, noise=noise, factor=factor, random_state=_sklearn_seed(seed)
    )
    return _as_dataset(X, y)


def make_xor(n_samples=200, noise=0.1, seed=None):
    """Points uniform on the square [-1, 1]^2, class 1 where x1 and x2 have different signs.

    No single line separates the classes: the classic problem a perceptron
    cannot solve. The label is decided first, then Gaussian noise of
    standard deviation ``noise`` is added to the coordinates.

    Returns:
        X: float32 (n_samples, 2), y: int64 (n_samples,) with classes 0 and 1.
    """
    _check_int(n_samples, "n_samples", "make_xor")
    _check_noise(noise, "make_xor")
    rng = _rng(seed)
    X = rng.uniform(-1, 1, size=(n_samples, 2))
    y = (X[:, 0] > 0) != (X[:, 1] > 0)
    X += noise * rng.standard_normal(X.shape)
    return _as_dataset(X, y)


def make_spirals(n_samples=300, n_classes=3, noise=0.05, seed=None):
    """``n_classes`` spiral arms winding out from the centre, one class per arm.

    Sample i belongs to class ``i % n_classes`` (balanced to within one
    sample). Its radius r is uniform on [0, 1] and its angle is
    ``2 pi k / n_classes + 4 r``, so every arm turns by 4 radians; Gaussian
    noise of standard deviation ``noise`` is added to the coordinates.

    Returns:
        X: float32 (n_samples, 2) inside about [-1, 1]^2, y: int64 (n_samples,) in 0..n_classes-1.
    """
    _check_int(n_samples, "n_samples", "make_spirals")
    _check_int(n_classes, "n_classes", "make_spirals", minimum=2)
    _check_noise(noise, "make_spirals")
    rng = _rng(seed)
    y = np.arange(n_samples) % n_classes
    radius = rng.uniform(0, 1, size=n_samples)
    angle = 2 * np.pi * y / n_classes + 4 * radius
    X = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    X += noise * rng.standard_normal(X.shape)
    return _as_dataset(X, y)


# -- real images -----------------------------------------------------------------

def load_digits(test_size=0.25, seed=0, flatten=True):
    """scikit-learn's 8x8 handwritten digits (1797 images, ships with scikit-learn: no download).

    Pixels are scaled from 0..16 to [0, 1]. The split is stratified (every
    digit keeps its share in both parts) and the same every time for the
    same ``seed`` (an int). The images are read from scikit-learn once per
    process and cached; every call returns new arrays.

    Returns:
        DataSplit with X_train (N_train, 64) float32 (``(N_train, 1, 8, 8)``
        when ``flatten=False``), y_train (N_train,) int64 in 0..9, and the
        same for the test part (``test_size`` of the images, 450 by default).
    """
    from sklearn.model_selection import train_test_split

    X, y = _digits_pixels()
    X_train, X_test, y_train, y_test = train_test_split(   # new arrays: the cached ones stay as they are
        X, y, test_size=test_size, stratify=y, random_state=seed
    )
    if not flatten:
        X_train, X_test = X_train.reshape(-1, 1, 8, 8), X_test.reshape(-1, 1, 8, 8)
    return DataSplit(X_train, y_train, X_test, y_test)


@functools.cache
def _digits_pixels():
    """All 1797 digits, read from scikit-learn once per process: X float32 (1797, 64) in [0, 1], y int64.

    Every caller of :func:`load_digits` (chapters, explorers, tests) shares
    these two arrays; they are read-only, so no caller can change them.
    """
    import sklearn.datasets  # imported where used: scikit-learn takes over a second to import

    digits = sklearn.datasets.load_digits()
    X = digits.data.astype(np.float32) / 16
    y = digits.target.astype(np.int64)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def data_root(root=None):
    """The folder the MNIST loaders read from and download into.

    In this order: ``root`` if given; else the environment variable
    ``$DLCOURSE_DATA``; else the ``datasets/`` folder of the course
    repository when dlcourse is used from a clone (the folder holding
    ``pyproject.toml`` above the package); else ``~/.cache/dlcourse``.
    """
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("DLCOURSE_DATA"):
        return Path(os.environ["DLCOURSE_DATA"]).expanduser()
    repository = Path(__file__).resolve().parent.parent
    if (repository / "pyproject.toml").is_file():
        return repository / "datasets"
    return Path.home() / ".cache" / "dlcourse"


def load_mnist(root=None, flatten=True, download=True):
    """MNIST handwritten digits: 60000 training and 10000 test images of 28x28 pixels.

    Read through ``torchvision.datasets.MNIST`` from ``<root>/MNIST/raw/``
    (``root`` as in :func:`data_root`). With ``download=True`` torchvision
    fetches missing files once (it needs internet for that); files already
    there are checked and used without any network.

    Returns:
        DataSplit with X_train (60000, 784) float32 in [0, 1] (pixel / 255;
        ``(60000, 1, 28, 28)`` when ``flatten=False``), y_train (60000,)
        int64 in 0..9, X_test (10000, 784), y_test (10000,).

    Raises:
        FileNotFoundError: the files are not there and could not be
        downloaded; the message says which files to put where.
    """
    return _load_torchvision_images("MNIST", root, flatten, download)


def load_fashion_mnist(root=None, flatten=True, download=True):
    """Fashion-MNIST: 28x28 images of clothing in 10 classes, named in ``FASHION_MNIST_CLASSES``.

    Same sizes, layout and return value as :func:`load_mnist`; the files live
    in ``<root>/FashionMNIST/raw/``.
    """
    return _load_torchvision_images("FashionMNIST", root, flatten, download)


def _load_torchvision_images(name, root, flatten, download):
    """Load ``name`` ("MNIST" or "FashionMNIST") as a float32 DataSplit."""
    folder = data_root(root)
    train_images, train_labels, test_images, test_labels = _load_uint8(name, folder, download)
    shape = (-1, 28 * 28) if flatten else (-1, 1, 28, 28)
    return DataSplit(
        _to_unit_interval(train_images).reshape(shape),
        train_labels.astype(np.int64),
        _to_unit_interval(test_images).reshape(shape),
        test_labels.astype(np.int64),
    )


def _to_unit_interval(images):
    """uint8 pixels 0..255 -> float32 in [0, 1] (divided in place: one 200 MB array, not two)."""
    pixels = images.astype(np.float32)
    pixels /= 255
    return pixels


def _load_uint8(name, folder, download):
    """The four uint8 arrays, from our .npz cache if present, else through torchvision (then cached)."""
    cache = folder / name / CACHE_FILE
    if cache.is_file():
        with np.load(cache) as saved:
            return saved["train_images"], saved["train_labels"], saved["test_images"], saved["test_labels"]
    arrays = _read_with_torchvision(name, folder, download)
    _save_cache(cache, arrays)
    return arrays


def _read_with_torchvision(name, folder, download):
    import torchvision.datasets  # imported only here: it takes seconds, and the cache skips it

    dataset_class = getattr(torchvision.datasets, name)  # torchvision.datasets.MNIST or .FashionMNIST
    try:
        train = dataset_class(folder, train=True, download=download)
        test = dataset_class(folder, train=False, download=download)
    except (RuntimeError, OSError) as error:  # no network: RuntimeError or URLError (an OSError)
        raise FileNotFoundError(_missing_files_message(name, folder, download, error)) from error
    return train.data.numpy(), train.targets.numpy(), test.data.numpy(), test.targets.numpy()


def _save_cache(cache, arrays):
    """Write the arrays next to the raw files (atomically); a read-only folder just means no cache."""
    train_images, train_labels, test_images, test_labels = arrays
    partial = cache.with_name(f"{cache.stem}.{os.getpid()}.partial.npz")
    try:
        np.savez(partial, train_images=train_images, train_labels=train_labels,
                 test_images=test_images, test_labels=test_labels)
        os.replace(partial, cache)
    except OSError:
        partial.unlink(missing_ok=True)


def _missing_files_message(name, folder, download, error):
    raw = folder / name / "raw"
    files = "\n".join(f"    {raw / file}" for file in RAW_FILES)
    return (
        f"Could not load {name} from {folder} (download={download}); "
        f"torchvision said: {str(error).strip()}\n"
        f"It expects these files:\n{files}\n"
        f"How to get them:\n"
        f"  - with internet: load with download=True (the default); torchvision downloads them once.\n"
        f"  - offline: copy the four .gz files (on the course machines from "
        f"../shared/datasets/{name}/raw/) into {raw}/,\n"
        f"    or point $DLCOURSE_DATA (or root=...) at a folder holding {name}/raw/.\n"
        f"  - the folder must be writable: torchvision unpacks the .gz files next to them."
    )


# -- sequence tasks for recurrent networks (batch-first) -----------------------------

def make_running_sum(n_samples=1000, seq_len=20, seed=None):
    """Running sum: the target at step t is the sum of the inputs up to and including t.

    Returns:
        X: float32 (n_samples, seq_len, 1), uniform on [-1, 1].
        Y: float32 (n_samples, seq_len, 1), ``Y[:, t] = X[:, 0] + ... + X[:, t]``.
    """
    _check_int(n_samples, "n_samples", "make_running_sum")
    _check_int(seq_len, "seq_len", "make_running_sum")
    X = _rng(seed).uniform(-1, 1, size=(n_samples, seq_len, 1)).astype(np.float32)
    return X, np.cumsum(X, axis=1)


def make_delayed_copy(n_samples=1000, seq_len=20, delay=5, seed=None):
    """Delayed copy: output now what the input was ``delay`` steps ago (0 before that).

    A memory task: a plain RNN manages short delays and fails on long ones,
    where an LSTM or GRU still succeeds.

    Returns:
        X: float32 (n_samples, seq_len, 1) with entries -1 or +1.
        Y: float32 (n_samples, seq_len, 1), ``Y[:, t] = X[:, t - delay]`` for t >= delay, else 0.
    """
    _check_int(n_samples, "n_samples", "make_delayed_copy")
    _check_int(seq_len, "seq_len", "make_delayed_copy")
    _check_int(delay, "delay", "make_delayed_copy", minimum=0)
    if delay >= seq_len:
        raise ValueError(f"make_delayed_copy expects delay < seq_len, got delay={delay}, seq_len={seq_len}")
    X = _rng(seed).choice(np.array([-1, 1], dtype=np.float32), size=(n_samples, seq_len, 1))
    Y = np.zeros_like(X)
    Y[:, delay:] = X[:, : seq_len - delay]
    return X, Y


def make_sine_waves(n_samples=1000, seq_len=30, noise=0.0, seed=None):
    """Next-step prediction on sine waves of random period (5 to 20 steps) and phase.

    Returns:
        X: float32 (n_samples, seq_len, 1), the wave at steps 0..seq_len-1
           (plus Gaussian noise of standard deviation ``noise``).
        Y: float32 (n_samples, seq_len, 1), the clean wave one step later (steps 1..seq_len).
    """
    _check_int(n_samples, "n_samples", "make_sine_waves")
    _check_int(seq_len, "seq_len", "make_sine_waves")
    _check_noise(noise, "make_sine_waves")
    rng = _rng(seed)
    period = rng.uniform(5, 20, size=(n_samples, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n_samples, 1))
    steps = np.arange(seq_len + 1)                                   # (T+1,)
    wave = np.sin(2 * np.pi * steps / period + phase)                # (N, T+1)
    X = wave[:, :-1] + noise * rng.standard_normal((n_samples, seq_len))
    Y = wave[:, 1:]
    return X[:, :, None].astype(np.float32), Y[:, :, None].astype(np.float32)


# -- minibatches -----------------------------------------------------------------

@reference
def minibatches(X, y, batch_size, shuffle=True, seed=None):
    """Split ``(X, y)`` into minibatches that cover every sample exactly once.

    With ``shuffle=True`` the order is a random permutation (from ``seed``,
    see the module notes); the last batch is smaller when ``batch_size``
    does not divide N. Call it once per epoch for a new order.

    Args:
        X: array (N, ...), y: array (N, ...): samples along the first axis.
        batch_size: int >= 1.

    Returns:
        An iterator of ``(X_batch, y_batch)``, shapes ``(B, ...)`` with B <= batch_size.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(
            "minibatches expects X and y with the same number of samples (first axis), "
            f"got X of shape {X.shape} and y of shape {y.shape}"
        )
    _check_int(batch_size, "batch_size", "minibatches")
    order = _rng(seed).permutation(len(X)) if shuffle else np.arange(len(X))
    return _iterate_batches(X, y, batch_size, order)


def _iterate_batches(X, y, batch_size, order):
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        yield X[index], y[index]


# -- text corpora for character-level language models (chapter 06) ----------------------

class TextCorpus(NamedTuple):
    """A text as characters and as integer codes: ``text``, ``chars`` (the sorted vocabulary), ``codes``.

    ``codes[i]`` is the index of ``text[i]`` in ``chars`` (int64), so
    ``"".join(chars[k] for k in codes) == text``.
    """

    text: str
    chars: tuple
    codes: np.ndarray

    def encode(self, text):
        """A string -> int64 codes (every character must be in the vocabulary)."""
        index = {c: k for k, c in enumerate(self.chars)}
        unknown = sorted(set(text) - set(index))
        if unknown:
            raise ValueError(f"TextCorpus.encode expects characters of the corpus, got {unknown[:5]}")
        return np.array([index[c] for c in text], dtype=np.int64)

    def decode(self, codes):
        """Integer codes -> a string."""
        return "".join(self.chars[int(k)] for k in np.asarray(codes).ravel())


# name -> (file under <root>/, original location, sha256)
TEXT_CORPORA = {
    "tinyshakespeare": (
        "tinyshakespeare/input.txt",
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),
    "names": (
        "names/names.txt",
        "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt",
        "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"),
}


def load_text(name="tinyshakespeare", root=None, download=True):
    """A character-level text corpus: "tinyshakespeare" (1,115,394 characters) or "names" (32,032 names).

    Read from ``<root>/tinyshakespeare/input.txt`` or ``<root>/names/names.txt``
    (``root`` as in :func:`data_root`). A missing file is downloaded once from
    its original location (Karpathy's char-rnn and makemore repositories)
    when ``download=True`` and the network allows. Every read, cached or
    downloaded, is checked against the file's sha256: a changed or truncated
    file is an error, never used.

    Returns:
        TextCorpus(text, chars, codes): the text (str), its sorted characters
        (65 for Shakespeare, 27 with the newline for the names) and the text
        as int64 codes into ``chars``.

    Raises:
        ValueError: an unknown corpus name.
        FileNotFoundError: the file is missing and could not be downloaded;
            the message says where to put it.
        OSError: the file's sha256 is not the expected one.
    """
    if name not in TEXT_CORPORA:
        raise ValueError(f"load_text expects a corpus among {list(TEXT_CORPORA)}, got {name!r}")
    relative, url, sha256 = TEXT_CORPORA[name]
    path = data_root(root) / relative
    if not path.is_file():
        if not download:
            raise FileNotFoundError(_missing_text_message(name, path, url, "download=False"))
        _download_text(url, path, sha256, name)
    content = path.read_bytes()
    _check_sha256(content, sha256, path)
    return _corpus(content.decode("utf-8"))


@functools.lru_cache(maxsize=4)
def _corpus_codes(text):
    chars = tuple(sorted(set(text)))
    lookup = np.zeros(max(map(ord, chars)) + 1, dtype=np.int64)
    lookup[[ord(c) for c in chars]] = np.arange(len(chars))
    codes = lookup[np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)]   # one code per character
    codes.flags.writeable = False
    return chars, codes


def _corpus(text):
    chars, codes = _corpus_codes(text)
    return TextCorpus(text, chars, codes)


def _check_sha256(content, expected, path):
    import hashlib

    digest = hashlib.sha256(content).hexdigest()
    if digest != expected:
        raise OSError(f"load_text expects {path} to have sha256 {expected}, got {digest}: the file is "
                      "damaged or not the original; delete it and load again to download it")


def _download_text(url, path, sha256, name):
    """Fetch ``url`` into ``path`` (atomically) after checking its sha256; FileNotFoundError offline."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            content = response.read()
    except OSError as error:                       # URLError, timeouts, no route: all OSErrors
        raise FileNotFoundError(_missing_text_message(name, path, url, f"the download failed: {error}")) \
            from error
    _check_sha256(content, sha256, url)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(content)
    os.replace(partial, path)


def _missing_text_message(name, path, url, reason):
    return (
        f"Could not load the text corpus {name!r}: {path} is missing ({reason}).\n"
        f"How to get it:\n"
        f"  - with internet: load_text({name!r}) downloads it once from {url}\n"
        f"  - offline: copy {Path(*path.parts[-2:])} (on the course machines from ../shared/datasets/) "
        f"to {path},\n"
        f"    or point $DLCOURSE_DATA (or root=...) at a folder holding {Path(*path.parts[-2:])}."
    )
