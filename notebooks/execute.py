"""Execute notebooks top to bottom and save them with their outputs, as committed.

    KDL_DATA_DIR=../shared/data python notebooks/execute.py 01_text_classification.ipynb 02_translation_en_ko.ipynb

Each notebook runs in a fresh "python3" kernel of this interpreter, in the repository root (so
its default run folders, `runs/notebook01` and `runs/notebook02`, are the CLI's), and is written
back in place. The environment is passed on: `KDL_QUICK=1` runs the quick mode, `KDL_RUN_DIR`
another run folder.
"""

import argparse
import time
from pathlib import Path

import nbclient
import nbformat

NOTEBOOKS = Path(__file__).resolve().parent


def execute(path, timeout=3600):
    """Run notebook `path` and write it back with its outputs; returns the seconds it took."""
    start = time.perf_counter()
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS.parent)}})
    client.execute()
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help="file names in notebooks/ (or paths)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args()
    for name in args.notebooks:
        path = Path(name) if Path(name).exists() else NOTEBOOKS / name
        if not path.exists():
            parser.error(f"no notebook {name!r}: pass a file name in {NOTEBOOKS} or a path")
        print(f"{path.name}: executed in {execute(path, args.timeout):.0f} s", flush=True)


if __name__ == "__main__":
    main()
