"""Every ```python block of README.md runs without error, so an example cannot silently break.

Each block is its own test (id `block<N>-line<L>`: its number and the README line of its first
code line), executed in-process in a fresh namespace, in a temporary working directory. The
code is compiled under README.md's own path and line numbers, so a traceback points at the
README line that failed. Shell blocks (```bash) and other languages are not run.

README.ko.md, the Korean translation, is kept in step mechanically: its ```bash and ```python
blocks must equal README.md's, in order (so its Python blocks need not run again), and the two
link to each other.
"""

import re
import traceback
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
README_KO = README.with_name("README.ko.md")
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
    blocks = [(line, code) for language, line, code in fenced_blocks(text) if language in PYTHON_LANGUAGES]
    return [(number, line, code) for number, (line, code) in enumerate(blocks, 1)]


def fenced_blocks(text):
    """Every fenced block of Markdown `text`, in order: `(language, line, code)`.

    language is the info string's first word, lower-cased ("" if none); line and code as in
    `python_blocks`. A fence inside a longer fence is part of that block, not a block.

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
        blocks.append((language, start, "\n".join(body) + "\n"))
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


# ------------------------------------------------------------------ README.ko.md, the Korean translation
COMPARED_LANGUAGES = {"bash", "sh", "shell", "console"} | PYTHON_LANGUAGES


def command_and_code_blocks(text):
    """The ```bash and ```python blocks (and their aliases) of Markdown `text`: `(language, code)`."""
    return [(language, code) for language, _, code in fenced_blocks(text) if language in COMPARED_LANGUAGES]


def test_korean_readme_has_the_same_commands_and_code_in_the_same_order():
    english = command_and_code_blocks(README.read_text(encoding="utf-8"))
    korean = command_and_code_blocks(README_KO.read_text(encoding="utf-8"))
    assert english, f"no ```bash or ```python block found in {README}"
    for number, (expected, actual) in enumerate(zip(english, korean), 1):
        assert actual == expected, (
            f"block {number} of README.ko.md differs from README.md's: copy README.md's "
            f"```{expected[0]} block {number} into README.ko.md unchanged (commands and code stay in English)"
        )
    assert len(korean) == len(english), (
        f"README.ko.md has {len(korean)} ```bash/```python blocks, README.md {len(english)}: "
        "add or remove the same blocks in both"
    )


def test_the_two_readmes_link_to_each_other():
    english_head = README.read_text(encoding="utf-8").splitlines()[:5]
    korean_head = README_KO.read_text(encoding="utf-8").splitlines()[:5]
    assert "한국어: [README.ko.md](README.ko.md)" in english_head
    assert "English: [README.md](README.md)" in korean_head


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


def test_fenced_blocks_lists_every_language_in_order():
    assert [(language, line) for language, line, _ in fenced_blocks(SAMPLE)] == [
        ("bash", 4), ("python", 10), ("markdown", 15), ("py", 21), ("", 25)
    ]
    assert [language for language, _ in command_and_code_blocks(SAMPLE)] == ["bash", "python", "py"]


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
