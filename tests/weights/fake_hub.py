"""A local stand-in for the Hugging Face Hub's file-download endpoint, for tests.

huggingface_hub (checked against 2.4) fetches ``{endpoint}/{repo_id}/resolve/{revision}/{file}``:
a HEAD first, reading ``X-Repo-Commit``, ``X-Linked-Etag``/``ETag`` (the blob's cache name) and
``X-Linked-Size``/``Content-Length``; then a GET, resumed with ``Range: bytes=N-`` when the body is
cut short. Without an ``X-Xet-Hash`` header the client uses plain HTTP, so no Xet server is needed.
Errors carry ``X-Error-Code`` the way the Hub does, so the client raises its usual exceptions.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

_RANGE_RE = re.compile(r"bytes=(\d+)-$")


@dataclass
class HubFile:
    content: bytes  # what the Hub announces (ETag = its sha256, size = its length)
    served: bytes | None = None  # what GET really sends; None: the content (set to corrupt)
    cut_after: int | None = None  # first GET: send this many bytes, then drop the connection


@dataclass
class Request:
    method: str
    path: str
    range: str | None


class FakeHub:
    """Serve files by (repo_id, revision, filename) on 127.0.0.1, a random port."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str], HubFile] = {}
        self.requests: list[Request] = []  # file requests (/resolve/) only
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add(self, repo_id: str, revision: str, filename: str, content: bytes, **kw) -> HubFile:
        hub_file = HubFile(content, **kw)
        self.files[(repo_id, revision, filename)] = hub_file
        return hub_file

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def gets(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET"]

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            owner = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Handler(BaseHTTPRequestHandler):
    owner: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, *, head: bool) -> None:
        hub = self.owner
        parts = unquote(urlsplit(self.path).path).lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            # e.g. the client's once-a-day GET /api/agent-harnesses (user-agent telemetry)
            return self._error(404, "RepoNotFound")
        with hub._lock:
            hub.requests.append(Request(self.command, self.path, self.headers.get("Range")))
        repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        if not any(key[0] == repo_id for key in hub.files):
            return self._error(404, "RepoNotFound")
        if not any(key[:2] == (repo_id, revision) for key in hub.files):
            return self._error(404, "RevisionNotFound")
        hub_file = hub.files.get((repo_id, revision, filename))
        if hub_file is None:
            return self._error(404, "EntryNotFound", commit=revision)

        body = hub_file.content if hub_file.served is None else hub_file.served
        total = len(body)
        start = 0
        match = _RANGE_RE.match(self.headers.get("Range") or "")
        if match and not head:
            start = int(match.group(1))
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", revision)
        etag = f'"{hashlib.sha256(hub_file.content).hexdigest()}"'
        self.send_header("ETag", etag)
        self.send_header("X-Linked-Etag", etag)
        self.send_header("X-Linked-Size", str(len(hub_file.content)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(total - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        self.end_headers()
        if head:
            return
        payload = body[start:]
        if hub_file.cut_after is not None:
            cut, hub_file.cut_after = hub_file.cut_after, None
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            self.close_connection = True  # the client sees the body end early
            return
        self.wfile.write(payload)

    def _error(self, status: int, code: str, commit: str | None = None) -> None:
        body = f'{{"error": "{code}"}}'.encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", code)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


# --- test environment helpers (shared by tests/weights and tests/cli) ---------------------------

SHA_A = "a" * 40  # a pinned revision; any 40-hex string works for the fake Hub


def isolate(monkeypatch, tmp_path) -> None:
    """Point every cache at tmp_path and clear env that would change resolution.

    huggingface_hub copies its environment into ``constants`` at import time, so the constants
    are patched too (that is what a fresh process with these variables set would see).
    """
    from huggingface_hub import constants

    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for name in ("HF_HUB_OFFLINE", "HF_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RESTORE_WEIGHTS_TOML", raising=False)
    monkeypatch.setenv("RESTORE_CACHE_DIR", str(tmp_path / "restore-cache"))


def point_at(monkeypatch, url: str) -> None:
    """Make huggingface_hub talk to ``url`` as if HF_ENDPOINT had been set before import."""
    from huggingface_hub import constants, file_download

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    # The client waits 1 s before resuming a cut transfer; tests need not.
    monkeypatch.setattr(file_download, "time", _NoSleep(), raising=False)


class _NoSleep:
    @staticmethod
    def sleep(_seconds: float) -> None:
        pass


def go_offline(monkeypatch) -> None:
    """HF_HUB_OFFLINE=1 as a process started with it would see it."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def tiny_safetensors(seed: int, n: int = 64) -> bytes:
    """A small valid safetensors file, different for each seed."""
    import numpy as np
    from safetensors.numpy import save

    rng = np.random.default_rng(seed)
    return save({"w": rng.standard_normal(n).astype(np.float16)}, metadata={"seed": str(seed)})


def file_entry(role: str, content: bytes, **where: str) -> dict:
    """A registry [[files]] table for ``content``; ``where`` holds bundled or Hub fields."""
    entry = {
        "role": role,
        "filename": where.pop("filename", f"{role}.safetensors"),
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
    }
    entry.update(where)
    return entry


def registry_toml(models: dict[str, dict], defaults: dict[str, str] | None = None) -> str:
    """TOML text for a registry; each model dict holds its keys and a "files" list."""
    lines = []
    for name, model in models.items():
        lines.append(f"[models.{name}]")
        for key, value in model.items():
            if key != "files":
                lines.append(f"{key} = {_toml_value(value)}")
        for f in model.get("files", []):
            lines.append(f"[[models.{name}.files]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in f.items()]
    lines.append("[defaults]")
    lines += [f"{task} = {_toml_value(name)}" for task, name in (defaults or {}).items()]
    return "\n".join(lines) + "\n"


def model(task: str, files: list[dict], **extra) -> dict:
    """A model table with valid defaults for the fields a test does not care about."""
    return {
        "task": task,
        "description": f"test model for {task}",
        "default_init": "chebyshev",
        "default_steps": 4,
        "licence": "Apache-2.0",
        **extra,
        "files": files,
    }


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
