"""IMDB Large Movie Review Dataset (Maas et al., 2011), read as users download it.

Reads `aclImdb_v1.tar.gz` directly, streaming through the archive's members (nothing is
extracted to disk), or an extracted `aclImdb/` folder. Only the labelled reviews
`{train,test}/{pos,neg}/<id>_<rating>.txt` are read (the 50,000 unlabelled `train/unsup`
reviews are skipped). HTML line breaks `<br />` become spaces. The official test set is
kept as is; the validation set is a seeded random share of the official training set,
as in Deep Learning with Python (20%, seed 1337).
"""

import dataclasses
import re
import tarfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from kdl_transformer.datasets.files import iter_tar_files, resolve_data_file

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_NAMES = ("aclImdb_v1.tar.gz", "aclImdb")
_REVIEW = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


class TextSplit(NamedTuple):
    """Texts and their labels; unpacks as `texts, labels = split`."""

    texts: list  # list[str]
    labels: np.ndarray  # (n,) int64, 1 = positive


@dataclasses.dataclass
class ImdbData:
    """IMDB reviews: `train`/`val` (from the official train set) and the official `test`."""

    train: TextSplit
    val: TextSplit
    test: TextSplit
    source: Path


def clean_review(text):
    """Replace HTML line breaks (`<br />`) with spaces."""
    return _LINE_BREAK.sub(" ", text)


def _reviews_from_tar(path, splits):
    """Yield (split, label, id, text) for every labelled review of `splits`, streaming the archive."""
    def wanted(name):
        match = _REVIEW.search(name)
        return match is not None and match.group(1) in splits

    for name, data in iter_tar_files(path, wanted=wanted):
        match = _REVIEW.search(name)
        yield match.group(1), match.group(2), int(match.group(3)), _decode(data, f"{path}:{name}")


def _reviews_from_folder(folder, splits):
    for split in splits:
        for label in ("pos", "neg"):
            for file in (folder / split / label).glob("*.txt"):
                match = _REVIEW.search(file.as_posix())
                if match:
                    yield split, label, int(match.group(3)), _decode(file.read_bytes(), str(file))


def _decode(data, where):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{where} is not valid UTF-8 ({error}); re-download the dataset.") from None


def load_imdb(path=None, validation_split=0.2, seed=1337, data_dir=None, cache_dir=None, download=True,
              with_test=True):
    """Load the IMDB reviews with the official train/test split and a seeded validation split.

    Args:
        path: `aclImdb_v1.tar.gz`, an extracted `aclImdb/` folder, or a folder holding
            either; None looks in `$KDL_DATA_DIR`, then the cache, then downloads.
        validation_split: float in [0, 1), share of the official training reviews held
            out as `val`.
        seed: int, seed of the validation split (same split on every run).
        data_dir, cache_dir, download: see `resolve_data_file`.
        with_test: read the official test reviews; False leaves them unread (not even
            decoded) and `test` empty, for what must never see them (pretraining).

    Returns:
        `ImdbData` with `train`, `val`, `test` `TextSplit`s of (list[str], int64 labels);
        with the real data: 20,000 / 5,000 / 25,000 reviews, test 12,500 per class.

    Example:

    >>> data = load_imdb()  # doctest: +SKIP
    >>> texts, labels = data.train
    """
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split={validation_split} must be in [0, 1).")
    splits = ("train", "test") if with_test else ("train",)
    source = resolve_data_file(IMDB_NAMES, path=path, url=IMDB_URL, data_dir=data_dir,
                               cache_dir=cache_dir, download=download)
    if source.is_dir():
        folder = source / "aclImdb" if (source / "aclImdb").is_dir() else source
        if not (folder / "train").is_dir() or not (folder / "test").is_dir():
            raise FileNotFoundError(f"{source} has no train/ and test/ folders; pass the aclImdb folder or archive.")
        reviews = _reviews_from_folder(folder, splits)
    elif tarfile.is_tarfile(source):
        reviews = _reviews_from_tar(source, splits)
    else:
        raise ValueError(f"{source} is neither the aclImdb folder nor a tar archive; pass aclImdb_v1.tar.gz.")
    rows = {"train": [], "test": []}
    for split, label, review_id, text in reviews:
        rows[split].append((label == "pos", review_id, clean_review(text)))
    if not rows["train"] or (with_test and not rows["test"]):
        raise ValueError(f"{source} holds no labelled train and test reviews; is it aclImdb_v1.tar.gz?")

    def to_split(items):
        items = sorted(items, key=lambda row: (not row[0], row[1]))  # positives first, by id
        return TextSplit([row[2] for row in items], np.asarray([int(row[0]) for row in items], dtype="int64"))

    train, test = to_split(rows["train"]), to_split(rows["test"])
    order = np.random.default_rng(seed).permutation(len(train.texts))
    n_val = int(round(validation_split * len(order)))
    val_index, train_index = np.sort(order[:n_val]), np.sort(order[n_val:])

    def take(split, index):
        return TextSplit([split.texts[i] for i in index], split.labels[index])

    return ImdbData(train=take(train, train_index), val=take(train, val_index), test=test, source=source)


def to_tf_dataset(texts, labels, batch_size=32, shuffle=False, seed=None):
    """A batched `tf.data.Dataset` of `(text, label)` from a list of str and labels.

    Args:
        texts: list of str.
        labels: array-like of int, same length.
        batch_size: int.
        shuffle: bool, reshuffle every epoch (seeded by `seed`).
        seed: int or None.
    """
    import tensorflow as tf

    if len(texts) != len(labels):
        raise ValueError(f"texts ({len(texts)}) and labels ({len(labels)}) differ in length.")
    dataset = tf.data.Dataset.from_tensor_slices((tf.constant(list(texts), dtype=tf.string), np.asarray(labels)))
    if shuffle:
        dataset = dataset.shuffle(max(len(texts), 1), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
