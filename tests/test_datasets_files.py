"""Finding, downloading and safely extracting dataset files."""

import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from kdl_transformer.datasets import resolve_data_file, safe_extract
from kdl_transformer.datasets.files import download_file

CLOSED_PORT_URL = "http://127.0.0.1:9/kor-eng.zip"  # nothing listens there: fails at once


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("KDL_DATA_DIR", raising=False)


def test_resolution_order_explicit_then_env_then_cache(tmp_path, monkeypatch):
    explicit, env, cache = (tmp_path / d for d in ("explicit", "env", "cache"))
    for folder in (explicit, env, cache):
        folder.mkdir()
        (folder / "kor-eng.zip").write_text(folder.name)
    monkeypatch.setenv("KDL_DATA_DIR", str(env))
    names = ("kor-eng.zip", "kor.txt")
    assert resolve_data_file(names, path=explicit, cache_dir=cache) == explicit / "kor-eng.zip"
    assert resolve_data_file(names, path=explicit / "kor-eng.zip", cache_dir=cache) == explicit / "kor-eng.zip"
    assert resolve_data_file(names, cache_dir=cache, url=CLOSED_PORT_URL) == env / "kor-eng.zip"
    (env / "kor-eng.zip").unlink()
    assert resolve_data_file(names, cache_dir=cache, url=CLOSED_PORT_URL) == cache / "kor-eng.zip"
    (env / "kor.txt").write_text("second name")
    assert resolve_data_file(names, cache_dir=cache) == env / "kor.txt"


def test_explicit_path_that_does_not_exist_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_data_file("kor-eng.zip", path=tmp_path / "nope.zip", cache_dir=tmp_path)


def test_offline_with_nothing_local_names_file_url_and_variable(tmp_path, no_env):
    with pytest.raises(FileNotFoundError) as info:
        resolve_data_file("kor-eng.zip", url=CLOSED_PORT_URL, cache_dir=tmp_path / "cache", timeout=2)
    message = str(info.value)
    assert "kor-eng.zip" in message and CLOSED_PORT_URL in message and "KDL_DATA_DIR" in message
    assert "download failed" in message
    assert not list((tmp_path / "cache").glob("*"))  # no partial file left


def test_download_switched_off(tmp_path, no_env):
    with pytest.raises(FileNotFoundError, match="downloads are switched off"):
        resolve_data_file("kor-eng.zip", url=CLOSED_PORT_URL, cache_dir=tmp_path, download=False)


class _Handler(http.server.BaseHTTPRequestHandler):
    agents = []

    def do_GET(self):  # noqa: N802 - http.server's name
        self.agents.append(self.headers.get("User-Agent", ""))
        body = b"zip bytes"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_download_into_cache_with_browser_user_agent(tmp_path, no_env):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/kor-eng.zip"
        path = resolve_data_file(("kor-eng.zip", "kor.txt"), url=url, cache_dir=tmp_path / "cache")
    finally:
        server.shutdown()
        server.server_close()
    assert path == tmp_path / "cache" / "kor-eng.zip"
    assert path.read_bytes() == b"zip bytes"
    assert _Handler.agents and _Handler.agents[-1].startswith("Mozilla/5.0")
    assert [p.name for p in path.parent.iterdir()] == ["kor-eng.zip"]


def test_download_file_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(OSError):
        download_file(CLOSED_PORT_URL, tmp_path / "x.zip", timeout=2)
    assert not list(tmp_path.iterdir())


def _evil_tar(path, name="../evil.txt", link=None):
    with tarfile.open(path, "w:gz") as archive:
        good = tarfile.TarInfo("data/good.txt")
        good.size = 2
        archive.addfile(good, io.BytesIO(b"ok"))
        if link is not None:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = link
            archive.addfile(info)
        else:
            info = tarfile.TarInfo(name)
            info.size = 4
            archive.addfile(info, io.BytesIO(b"evil"))
    return path


@pytest.mark.parametrize(
    "name, link",
    [("../evil.txt", None), ("data/../../evil.txt", None), ("/tmp/kdl_evil_absolute.txt", None),
     ("data/link", "../../evil.txt")],
)
def test_safe_extract_refuses_tar_members_outside_target(tmp_path, name, link):
    archive = _evil_tar(tmp_path / "evil.tar.gz", name, link)
    target = tmp_path / "out"
    with pytest.raises(ValueError, match="outside"):
        safe_extract(archive, target)
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/kdl_evil_absolute.txt").exists()
    assert not (target / "data" / "good.txt").exists()  # checked before anything is written


def test_safe_extract_refuses_zip_members_outside_target(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/good.txt", "ok")
        zf.writestr("../evil.txt", "evil")
    with pytest.raises(ValueError, match="outside"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_safe_extract_extracts_good_archives(tmp_path):
    tar_path = tmp_path / "good.tar.gz"
    with tarfile.open(tar_path, "w:gz") as archive:
        info = tarfile.TarInfo("aclImdb/train/pos/0_9.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"great"))
    zip_path = tmp_path / "good.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("kor.txt", "Go.\t가.\tCC")
    assert (safe_extract(tar_path, tmp_path / "t") / "aclImdb/train/pos/0_9.txt").read_text() == "great"
    assert (safe_extract(zip_path, tmp_path / "z") / "kor.txt").read_text() == "Go.\t가.\tCC"
    (tmp_path / "plain.txt").write_text("x")
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        safe_extract(tmp_path / "plain.txt", tmp_path / "p")


def test_everyday_sentences_are_twenty_distinct_lines():
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "data" / "everyday_sentences.txt"
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    sentences = [line for line in lines if line and not line.startswith("#")]
    assert len(sentences) == len(set(sentences)) == 20
    assert sentences[0] == "I drink coffee at the cafe."
    assert all(s[-1] in ".?!" and s.isascii() for s in sentences)
