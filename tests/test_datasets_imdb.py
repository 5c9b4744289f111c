"""load_imdb on a tiny made-up archive and folder, and on the real aclImdb_v1.tar.gz."""

import numpy as np
import pytest

from kdl_transformer.datasets import clean_review, load_imdb, to_tf_dataset
from tests.data_fixtures import write_imdb_archive, write_imdb_folder


@pytest.fixture
def archive(tmp_path):
    return write_imdb_archive(tmp_path / "aclImdb_v1.tar.gz")


def test_reads_labelled_reviews_from_the_archive(archive):
    data = load_imdb(archive, validation_split=0.0)
    assert len(data.train.texts) == 6 and len(data.test.texts) == 2 and len(data.val.texts) == 0
    assert data.train.labels.tolist() == [1, 1, 1, 0, 0, 0]  # positives first, by id; unsup ignored
    assert data.train.texts[0] == "Great film.  Loved it."
    assert data.train.texts[2] == "Brilliant acting and music."
    assert not any("<br" in t for t in data.train.texts + data.test.texts)
    assert data.test.texts == ["Fun to watch.", "Dull and slow."]
    assert data.train.labels.dtype == np.int64


def test_folder_and_archive_give_the_same_data(archive, tmp_path):
    folder = write_imdb_folder(tmp_path / "extracted")
    from_archive = load_imdb(archive, seed=3)
    for path in (folder, folder.parent):  # the aclImdb folder or the folder holding it
        from_folder = load_imdb(path, seed=3)
        assert from_folder.train.texts == from_archive.train.texts
        assert from_folder.val.texts == from_archive.val.texts
        assert from_folder.test.texts == from_archive.test.texts


def test_validation_split_is_seeded_and_disjoint(archive):
    a, b = load_imdb(archive, validation_split=0.5, seed=1), load_imdb(archive, validation_split=0.5, seed=1)
    assert a.val.texts == b.val.texts and len(a.val.texts) == 3
    assert not set(a.val.texts) & set(a.train.texts)
    assert sorted(a.val.texts + a.train.texts) == sorted(load_imdb(archive, validation_split=0.0).train.texts)
    seeds = {tuple(load_imdb(archive, validation_split=0.5, seed=s).val.texts) for s in range(6)}
    assert len(seeds) > 1


def test_bad_inputs(tmp_path, archive):
    with pytest.raises(ValueError, match="validation_split=1.0"):
        load_imdb(archive, validation_split=1.0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="train/ and test/"):
        load_imdb(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="neither"):
        load_imdb(tmp_path / "notes.txt")


def test_clean_review_and_to_tf_dataset():
    assert clean_review("a<br />b<BR>c<br/>d") == "a b c d"
    ds = to_tf_dataset(["x", "y", "z"], np.array([1, 0, 1]), batch_size=2, shuffle=True, seed=0)
    batches = list(ds)
    assert [int(b[0].shape[0]) for b in batches] == [2, 1]
    assert sorted(t.decode() for b in batches for t in b[0].numpy()) == ["x", "y", "z"]
    with pytest.raises(ValueError, match="differ in length"):
        to_tf_dataset(["x"], [1, 0])


@pytest.fixture(scope="module")
def real_imdb(data_dir):
    return load_imdb(data_dir / "aclImdb_v1.tar.gz")


@pytest.mark.data
def test_real_imdb_counts_and_balance(real_imdb):
    train, val, test = real_imdb.train, real_imdb.val, real_imdb.test
    assert len(test.texts) == 25_000 and int(test.labels.sum()) == 12_500
    assert len(train.texts) + len(val.texts) == 25_000
    assert int(train.labels.sum() + val.labels.sum()) == 12_500
    assert len(val.texts) == 5_000
    assert 0.45 < val.labels.mean() < 0.55
    assert not any("<br" in t for t in train.texts[:2000] + test.texts[:2000])


@pytest.mark.data
def test_real_imdb_split_is_the_same_on_every_run(real_imdb, data_dir):
    again = load_imdb(data_dir / "aclImdb_v1.tar.gz")
    assert again.val.texts[:100] == real_imdb.val.texts[:100]
    assert (again.val.labels == real_imdb.val.labels).all()
