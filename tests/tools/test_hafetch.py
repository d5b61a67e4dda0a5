"""tools.compat.hafetch against a real package index on 127.0.0.1 (PEP 691 JSON simple API).

The index here is a small HTTP server in a thread: the same requests and answers as PyPI's,
with releases whose `requires-python` no Python of ours meets, yanked and pre-release files,
relative file URLs and a file whose bytes do not match its listed sha256.
"""

from __future__ import annotations

from collections.abc import Iterator
import hashlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import io
import json
from pathlib import Path
import socket
import threading
import zipfile

import pytest

from tools.compat import hafetch
from tools.compat.hafetch import IndexUnreachableError, Version


def wheel_bytes(version: str) -> bytes:
    """Return a tiny homeassistant wheel of one release."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("homeassistant/const.py", f'__version__ = "{version}"\n')
    return buffer.getvalue()


class Index:
    """What the fake index serves: file name -> (bytes, listing entry)."""

    def __init__(self) -> None:
        """Start with no files."""
        self.files: dict[str, tuple[bytes, dict[str, object]]] = {}
        self.requests: list[str] = []

    def add(self, filename: str, data: bytes, **entry: object) -> None:
        """List a file, by default with its true sha256 and a relative URL."""
        listed: dict[str, object] = {
            "filename": filename,
            "url": f"../../files/{filename}",
            "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
        }
        listed.update(entry)
        self.files[filename] = (data, listed)


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> Iterator[Index]:
    """Serve an Index on 127.0.0.1 and point PIP_INDEX_URL at it."""
    served = Index()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            if self.path == "/simple/homeassistant/":
                listing = {"meta": {"api-version": "1.1"}, "name": "homeassistant"}
                listing["files"] = [entry for _, entry in served.files.values()]  # type: ignore[assignment]
                self._answer(200, json.dumps(listing).encode(), hafetch.SIMPLE_JSON)
            elif self.path.startswith("/files/") and self.path[7:] in served.files:
                self._answer(200, served.files[self.path[7:]][0], "application/octet-stream")
            else:
                self._answer(404, b"not found", "text/plain")

        def _answer(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_port}/simple/")
    yield served
    server.shutdown()
    server.server_close()


def test_every_final_release_with_a_wheel_is_listed_whatever_python_it_needs(
    index: Index,
) -> None:
    """Test that releases needing a newer Python than ours are listed (the 2026.3+ blind spot)."""
    index.add("homeassistant-2025.4.4-py3-none-any.whl", wheel_bytes("2025.4.4"))
    index.add(
        "homeassistant-2026.11.0-py3-none-any.whl",
        wheel_bytes("2026.11.0"),
        **{"requires-python": ">=3.14.2"},
    )
    index.add("homeassistant-2026.11.0.tar.gz", b"sources")  # not a wheel: not a release here
    index.add("homeassistant-2026.12.0b1-py3-none-any.whl", b"beta")  # a pre-release
    index.add("homeassistant-2026.10.9-py3-none-any.whl", b"bad", yanked="broken upload")
    assert hafetch.all_versions() == [Version(2025, 4, 4), Version(2026, 11, 0)]


def test_download_resolves_relative_urls_and_keeps_the_wheel(index: Index, tmp_path: Path) -> None:
    """Test that a wheel is fetched by its relative URL, verified, cached, then reused."""
    data = wheel_bytes("2026.11.0")
    index.add("homeassistant-2026.11.0-py3-none-any.whl", data)
    wheel = hafetch.download(Version(2026, 11, 0), tmp_path)
    assert wheel.read_bytes() == data
    fetched = len(index.requests)
    assert hafetch.download(Version(2026, 11, 0), tmp_path) == wheel
    assert len(index.requests) == fetched  # the cache answered; the index was not asked


def test_a_wheel_whose_bytes_differ_from_the_listed_hash_is_not_kept(
    index: Index, tmp_path: Path
) -> None:
    """Test that a download failing its sha256 raises and leaves nothing in the cache."""
    index.add(
        "homeassistant-2026.11.0-py3-none-any.whl",
        wheel_bytes("2026.11.0"),
        hashes={"sha256": "0" * 64},
    )
    with pytest.raises(RuntimeError, match="sha256"):
        hafetch.download(Version(2026, 11, 0), tmp_path)
    assert not list(tmp_path.rglob("*.whl*"))


def test_a_release_the_index_does_not_have_is_an_error_not_a_skip(
    index: Index, tmp_path: Path
) -> None:
    """Test that asking for a release the index lacks raises RuntimeError (CI must fail)."""
    index.add("homeassistant-2025.4.4-py3-none-any.whl", wheel_bytes("2025.4.4"))
    with pytest.raises(RuntimeError, match=r"no file homeassistant-2099\.1\.0"):
        hafetch.download(Version(2099, 1, 0), tmp_path)


def test_an_unreachable_index_raises_index_unreachable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Test that a closed port becomes IndexUnreachableError (compat then prints skipped)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once it is closed
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    with pytest.raises(IndexUnreachableError):
        hafetch.all_versions()
    with pytest.raises(IndexUnreachableError):
        hafetch.download(Version(2026, 11, 0), tmp_path)
