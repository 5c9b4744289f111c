"""Every file a committed notebook names (in its prose, its code or its outputs) exists."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# A relative path with a folder and an extension (docs/ANCHORS.md), or a bare notebook or
# Markdown file name; not part of an absolute path or of a longer name.
PATH = re.compile(r"(?<![\w/.~-])((?:[\w.-]+/)+[\w.-]+\.[A-Za-z]{2,5}|[\w-]+\.(?:ipynb|md))(?![\w/])")
GENERATED = ("runs/", "RUN_DIR/", "logs/")  # written by the run or the notebook itself


def notebook_text(path):
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    parts = []
    for cell in cells:
        parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def missing_files(text, roots=(ROOT, ROOT / "notebooks")):
    text = re.sub(r"https?://\S+", " ", text)
    names = {match.group(1).rstrip(".") for match in PATH.finditer(text)}
    return sorted(
        name for name in names
        if not name.startswith(GENERATED) and not any((root / name).exists() for root in roots)
    )


def test_the_finder_sees_a_missing_file_and_ignores_urls_runs_and_absolute_paths():
    text = ("see docs/ANCHORS.md and `benchmarks/results/never_written.json`, README.md, "
            "https://example.org/a/b.json, runs/notebook02/model.keras, /work/shared/data/x.zip, "
            "02_translation_en_ko.ipynb and 09_missing.ipynb.")
    assert missing_files(text) == ["09_missing.ipynb", "benchmarks/results/never_written.json", "docs/ANCHORS.md"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_names_only_files_that_exist(notebook):
    missing = missing_files(notebook_text(notebook))
    assert not missing, f"{notebook.name} names files that do not exist in the repository: {missing}"
