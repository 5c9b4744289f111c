"""Tiny made-up copies of the real dataset formats, for fast loader tests."""

import io
import tarfile
import zipfile
from pathlib import Path

IMDB_REVIEWS = {
    # (split, label, id, rating): text
    ("train", "pos", 0, 9): "Great film.<br /><br />Loved it.",
    ("train", "pos", 1, 8): "A moving story.",
    ("train", "pos", 2, 10): "Brilliant acting<br/>and music.",
    ("train", "neg", 0, 2): "Boring.<br />Too long.",
    ("train", "neg", 1, 1): "Awful plot.",
    ("train", "neg", 2, 3): "Not good at all.",
    ("train", "unsup", 0, 0): "Unlabelled review, never read.",
    ("test", "pos", 0, 7): "Fun to watch.",
    ("test", "neg", 0, 4): "Dull and slow.",
}

KOR_TXT = "\n".join(
    [
        "Go.\t가.\tCC-BY 2.0 (France) Attribution: tatoeba.org #1 (a) & #2 (b)",
        "Hi.\t안녕.\tCC-BY 2.0 (France) Attribution: tatoeba.org #3 (a) & #4 (b)",
        "Hi.\t안녕하세요.\tCC-BY 2.0 (France) Attribution: tatoeba.org #3 (a) & #5 (c)",
        "Run!\t뛰어!\tCC-BY 2.0 (France) Attribution: tatoeba.org #6 (a) & #7 (b)",
        "Who?\t누구?\tCC-BY 2.0 (France) Attribution: tatoeba.org #8 (a) & #9 (b)",
        "Wow!\t우와!\tCC-BY 2.0 (France) Attribution: tatoeba.org #10 (a) & #11 (b)",
        "I see.\t알겠어.\tCC-BY 2.0 (France) Attribution: tatoeba.org #12 (a) & #13 (b)",
        "I see.\t그렇구나.\tCC-BY 2.0 (France) Attribution: tatoeba.org #12 (a) & #14 (b)",
        "i see.\t알겠습니다.\tCC-BY 2.0 (France) Attribution: tatoeba.org #15 (a) & #16 (b)",
        "Thanks.\t고마워.\tCC-BY 2.0 (France) Attribution: tatoeba.org #17 (a) & #18 (b)",
    ]
) + "\n"

FLORES_ENG = ['He said "fine".', "The cat sat.", '"Quoted," she said.']
FLORES_KOR = ['"그는 ""좋다""고 말했다."', "고양이가 앉았다.", '"인용," 그녀가 말했다.']

EXTRA_TSV = {
    "a.en-ko.tsv": "id\ten\tko\n1\tWhat happened?\t무슨 일이야?\n2\tI like tea.\t나는 차를 좋아해.\n"
    "3\tI like tea.\t나는 차를 좋아해.\n4\tEmpty korean.\t\n",
    "b.en-ko.tsv": "file\tindex\ten\tko\tnote\nx\t1\twhat happened ?\t뭐야?\t-\nx\t2\tGood night.\t잘 자.\t-\n",
}


def _add_bytes(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def write_imdb_folder(root):
    """Write `root/aclImdb/...`; return the aclImdb folder."""
    root = Path(root)
    for (split, label, review_id, rating), text in IMDB_REVIEWS.items():
        file = root / "aclImdb" / split / label / f"{review_id}_{rating}.txt"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    (root / "aclImdb" / "README").write_text("readme", encoding="utf-8")
    return root / "aclImdb"


def write_imdb_archive(path):
    """Write an `aclImdb_v1.tar.gz`-shaped archive at `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        _add_bytes(archive, "aclImdb/README", b"readme")
        _add_bytes(archive, "aclImdb/imdb.vocab", b"the\nfilm\n")
        for (split, label, review_id, rating), text in IMDB_REVIEWS.items():
            _add_bytes(archive, f"aclImdb/{split}/{label}/{review_id}_{rating}.txt", text.encode("utf-8"))
    return path


def write_kor_zip(path, text=KOR_TXT):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("kor.txt", text.encode("utf-8"))
        archive.writestr("_about.txt", "about")
    return path


def write_flores_folder(folder, english=FLORES_ENG, korean=FLORES_KOR):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "eng_Latn.devtest").write_text("\n".join(english) + "\n", encoding="utf-8")
    (folder / "kor_Hang.devtest").write_text("\n".join(korean) + "\n", encoding="utf-8")
    return folder


def write_flores_archive(path):
    path = Path(path)
    with tarfile.open(path, "w:gz") as archive:
        _add_bytes(archive, "flores200_dataset/dev/eng_Latn.dev", b"not this one\n")
        _add_bytes(archive, "flores200_dataset/devtest/eng_Latn.devtest", ("\n".join(FLORES_ENG) + "\n").encode())
        _add_bytes(archive, "flores200_dataset/devtest/kor_Hang.devtest", ("\n".join(FLORES_KOR) + "\n").encode())
    return path


def write_extra_folder(folder, files=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (files or EXTRA_TSV).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
