"""dlcourse.data.load_text: the text corpora of chapter 06, loaded as load_mnist loads images.

A cache under the data root, a download with a sha256 check when the file is missing (the network is
replaced by a fake urlopen here: nothing is downloaded), a clear error offline, and the real files, copied
from ../shared/datasets as `make data` copies them.
"""
import hashlib
import io
import shutil
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

from dlcourse import data

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def fake_text_corpora(monkeypatch, text):
    """Make "tinyshakespeare" expect the sha256 of ``text`` (so a small file stands in for the real one)."""
    relative, url, _ = data.TEXT_CORPORA["tinyshakespeare"]
    digest = hashlib.sha256(text.encode()).hexdigest()
    monkeypatch.setitem(data.TEXT_CORPORA, "tinyshakespeare", (relative, url, digest))
    return relative, url


def fake_urlopen(monkeypatch, content=None, error=None):
    calls = []

    def urlopen(url, timeout=None):
        calls.append(url)
        if error is not None:
            raise error
        return io.BytesIO(content)

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    return calls


def test_the_real_corpora_load_from_a_copy_of_the_shared_files(tmp_path):
    for name in ("tinyshakespeare", "names"):
        shutil.copytree(SHARED / name, tmp_path / name)
    corpus = data.load_text("tinyshakespeare", root=tmp_path, download=False)
    assert len(corpus.text) == 1_115_394 and len(corpus.chars) == 65
    assert corpus.codes.dtype == np.int64 and corpus.codes.shape == (1_115_394,)
    assert corpus.decode(corpus.codes[:14]) == "First Citizen:"
    names = data.load_text("names", root=tmp_path, download=False)
    assert names.text.count("\n") == 32_032 and "".join(names.chars) == "\nabcdefghijklmnopqrstuvwxyz"


def test_codes_round_trip_and_unknown_characters(tmp_path, monkeypatch):
    text = "hello world\nhow are you?\n"
    relative, _ = fake_text_corpora(monkeypatch, text)
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / relative).write_text(text)
    corpus = data.load_text(root=tmp_path)
    assert corpus.chars == tuple(sorted(set(text)))
    assert corpus.decode(corpus.codes) == text
    np.testing.assert_array_equal(corpus.encode("how"), corpus.codes[12:15])
    with pytest.raises(ValueError, match="TextCorpus.encode expects characters of the corpus, got \\['Z'\\]"):
        corpus.encode("Zoo")


def test_a_missing_file_is_downloaded_once_with_its_checksum(tmp_path, monkeypatch):
    text = "a small stand-in corpus\n"
    relative, url = fake_text_corpora(monkeypatch, text)
    calls = fake_urlopen(monkeypatch, content=text.encode())
    corpus = data.load_text(root=tmp_path)
    assert corpus.text == text and calls == [url]
    assert (tmp_path / relative).read_text() == text
    assert not list((tmp_path / relative).parent.glob("*.partial"))
    data.load_text(root=tmp_path)                                # the cache: no second download
    assert calls == [url]


def test_a_download_with_the_wrong_checksum_is_refused_and_not_kept(tmp_path, monkeypatch):
    relative, _ = fake_text_corpora(monkeypatch, "the expected text")
    fake_urlopen(monkeypatch, content=b"something else")
    with pytest.raises(OSError, match="load_text expects .* to have sha256"):
        data.load_text(root=tmp_path)
    assert not (tmp_path / relative).exists()


def test_a_damaged_cached_file_is_an_error(tmp_path, monkeypatch):
    relative, _ = fake_text_corpora(monkeypatch, "the expected text")
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / relative).write_text("the expected tex")        # truncated
    with pytest.raises(OSError, match="is damaged or not the original; delete it"):
        data.load_text(root=tmp_path)


def test_offline_the_error_says_where_to_put_the_file(tmp_path, monkeypatch):
    fake_text_corpora(monkeypatch, "anything")
    fake_urlopen(monkeypatch, error=URLError("no network"))
    with pytest.raises(FileNotFoundError) as error:
        data.load_text(root=tmp_path)
    message = str(error.value)
    assert "the download failed" in message and "../shared/datasets" in message
    assert str(tmp_path / "tinyshakespeare" / "input.txt") in message
    with pytest.raises(FileNotFoundError, match="download=False"):
        data.load_text("names", root=tmp_path, download=False)


def test_the_data_root_is_used(tmp_path, monkeypatch):
    text = "from the environment\n"
    relative, _ = fake_text_corpora(monkeypatch, text)
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / relative).write_text(text)
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path))
    assert data.load_text().text == text


def test_an_unknown_corpus():
    with pytest.raises(ValueError, match="load_text expects a corpus among \\['tinyshakespeare', 'names'\\], "
                                         "got 'wikipedia'"):
        data.load_text("wikipedia")
