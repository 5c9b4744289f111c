"""FLORES-200 devtest, English-Korean: 1,012 Wikipedia-style sentences (out of domain).

Reads `eng_Latn.devtest` and `kor_Hang.devtest` (one sentence per line, aligned by line)
from a folder, from an extracted `flores200_dataset/` folder (its `devtest/`), or straight
from the `flores200_dataset.tar.gz` archive (streaming, no extraction).

Some Korean lines are stored CSV-style: wrapped in quotes with inner quotes doubled
(e.g. `"그는 ""안녕"" 하고 말했다."`). `unquote_csv_line` turns them back into plain text;
lines without doubled quotes (genuine quotations) are left alone.
"""

import tarfile
from pathlib import Path

from kdl_transformer.datasets.files import iter_tar_files, resolve_data_file

FLORES_URL = "https://dl.fbaipublicfiles.com/nllb/flores200_dataset.tar.gz"
FLORES_NAMES = ("flores200_dataset.tar.gz", "flores200-devtest-eng-kor", "flores200_dataset")
FLORES_FILES = ("eng_Latn.devtest", "kor_Hang.devtest")


def unquote_csv_line(line):
    """Undo CSV quoting: `"a ""b"" c"` -> `a "b" c`; other lines are returned unchanged."""
    if len(line) >= 2 and line[0] == '"' and line[-1] == '"':
        inner = line[1:-1]
        if '""' in inner and '"' not in inner.replace('""', ""):
            return inner.replace('""', '"')
    return line


def _read_member_texts(source):
    """{file name: text} for the two devtest files, from a folder or a tar archive."""
    if source.is_dir():
        for folder in (source, source / "devtest", source / "flores200_dataset" / "devtest"):
            if all((folder / name).is_file() for name in FLORES_FILES):
                return {name: (folder / name).read_text(encoding="utf-8") for name in FLORES_FILES}, folder
        raise FileNotFoundError(f"{source} holds no {' and '.join(FLORES_FILES)}; pass their folder.")
    if not tarfile.is_tarfile(source):
        raise ValueError(f"{source} is neither a FLORES folder nor flores200_dataset.tar.gz.")
    def wanted(name):
        return Path(name).name in FLORES_FILES and Path(name).parent.name == "devtest"

    texts = {Path(name).name: data.decode("utf-8") for name, data in iter_tar_files(source, wanted)}
    missing = [name for name in FLORES_FILES if name not in texts]
    if missing:
        raise ValueError(f"{source} holds no devtest/{missing[0]}; is it the FLORES-200 archive?")
    return texts, source


def load_flores_eng_kor(path=None, data_dir=None, cache_dir=None, download=True):
    """Load the FLORES-200 devtest English-Korean pairs.

    Args:
        path: folder with `eng_Latn.devtest` and `kor_Hang.devtest`, the
            `flores200_dataset` folder or its `.tar.gz`; None looks in `$KDL_DATA_DIR`
            (`flores200-devtest-eng-kor/`), the cache, then downloads the archive.
        data_dir, cache_dir, download: see `resolve_data_file`.

    Returns:
        list of 1,012 `(english, korean)` str pairs, CSV quoting undone.
    """
    source = resolve_data_file(FLORES_NAMES, path=path, url=FLORES_URL, data_dir=data_dir,
                               cache_dir=cache_dir, download=download)
    texts, where = _read_member_texts(source)
    english, korean = (texts[name].rstrip("\n").split("\n") for name in FLORES_FILES)
    if len(english) != len(korean):
        raise ValueError(
            f"{where}: {FLORES_FILES[0]} has {len(english)} lines but {FLORES_FILES[1]} has "
            f"{len(korean)}; the files must be aligned line by line."
        )
    pairs = []
    for number, (en, ko) in enumerate(zip(english, korean), start=1):
        en, ko = unquote_csv_line(en.strip()), unquote_csv_line(ko.strip())
        if not en or not ko:
            raise ValueError(f"{where} line {number}: an empty sentence; the files must be aligned line by line.")
        pairs.append((en, ko))
    return pairs
