"""Every ```python block of README.md runs without error, so an example cannot silently break.

Each block is its own test (id `block<N>-line<L>`: its number and the README line of its first
code line), executed in-process in a fresh namespace, in a temporary working directory. The
code is compiled under README.md's own path and line numbers, so a traceback points at the
README line that failed. Shell blocks (```bash) and other languages are not run.
"""

import re
import traceback
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
PYTHON_LANGUAGES = {"python", "py", "python3"}
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


def python_blocks(text):
    """The fenced Python blocks of Markdown `text`, in order.

    Returns:
        list of `(number, line, code)`: number counts the Python blocks from 1, line is the
        1-based line of the block's first code line, code is the block's text.

    Raises:
        ValueError: a fence is never closed (the rest of the file would be swallowed).
    """
    blocks, lines = [], text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        words = opening["info"].split()
        language = words[0].lower() if words else ""
        body, index = [], index + 1
        start = index + 1  # 1-based line of the first code line
        while index < len(lines):
            closing = _FENCE.match(lines[index])
            if closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence) \
                    and not closing["info"].strip():
                break
            line = lines[index]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))):])
            index += 1
        else:
            raise ValueError(f"the {fence} fence opened on line {start - 1} is never closed")
        index += 1
        if language in PYTHON_LANGUAGES:
            blocks.append((len(blocks) + 1, start, "\n".join(body) + "\n"))
    return blocks


def first_code_line(code):
    return next((line.strip() for line in code.splitlines() if line.strip()), "")


def run_block(number, line, code, filename):
    """Execute one block in a fresh namespace; fail naming the block and its first line."""
    # Padding with newlines keeps README.md's line numbers in the compiled code.
    compiled = compile("\n" * (line - 1) + code, str(filename), "exec")
    try:
        exec(compiled, {"__name__": f"readme_block_{number}"})
    except Exception as error:  # noqa: BLE001 - any error of an example is a failure
        message = (
            f"{Path(filename).name} Python block {number} (line {line}: {first_code_line(code)!r}) "
            f"raised {type(error).__name__}: {error}\n\n{traceback.format_exc()}"
        )
    else:
        return
    pytest.fail(message, pytrace=False)  # outside `except`: no "during handling" chain


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_python_blocks():
    assert BLOCKS, f"no ```python block found in {README}: the examples would go untested"


@pytest.mark.parametrize(
    "number, line, code", BLOCKS, ids=[f"block{number}-line{line}" for number, line, _ in BLOCKS]
)
def test_readme_python_block_runs(number, line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files a block writes stay out of the repository
    run_block(number, line, code, README)


# ------------------------------------------------------------------ the parser and runner themselves
SAMPLE = """# Title

```bash
false
```

Some text.

```python
x = 1 + 1
assert x == 2
```

````markdown
```python
this is quoted, not a block
```
````

  ```py
  raise RuntimeError("boom")
  ```

~~~
plain
~~~
"""


def test_python_blocks_finds_only_python_fences():
    blocks = python_blocks(SAMPLE)
    assert [(number, line) for number, line, _ in blocks] == [(1, 10), (2, 21)]
    assert blocks[0][2] == "x = 1 + 1\nassert x == 2\n"
    assert blocks[1][2] == 'raise RuntimeError("boom")\n'  # indentation of the fence removed
    with pytest.raises(ValueError, match="line 1 is never closed"):
        python_blocks("```python\nx = 1\n")


def test_run_block_passes_a_valid_block_and_names_a_failing_one(tmp_path):
    filename = tmp_path / "SAMPLE.md"
    filename.write_text(SAMPLE, encoding="utf-8")
    valid, failing = python_blocks(SAMPLE)
    run_block(*valid, filename)
    with pytest.raises(pytest.fail.Exception) as failure:
        run_block(*failing, filename)
    message = str(failure.value)
    assert "SAMPLE.md Python block 2 (line 21: 'raise RuntimeError(\"boom\")')" in message
    assert "RuntimeError: boom" in message
    assert f'File "{filename}", line 21' in message  # the traceback points at the Markdown line
