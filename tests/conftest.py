"""Shared fixtures: a small demo catalogue, and a loopback HTTP server with scripted failures."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parents[1]


class FileServer:
    """Serves ``files`` (path -> bytes) on 127.0.0.1 with HTTP Range support. ``fail[path]`` is a
    list of status codes returned (one per request) before the file is served; ``cut[path]`` makes
    the first response end after that many bytes (a dropped connection)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.fail: dict[str, list[int]] = {}
        self.cut: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                failures = server.fail.get(self.path)
                if failures:
                    self.send_error(failures.pop(0))
                    return
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                payload = body[start:]
                if self.path in server.cut:
                    payload = payload[: server.cut.pop(self.path)]
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


EXTENSION = str(REPO / "tests/extension_members.py")


@pytest.fixture
def extension():
    """The test extension (tests/extension_members.py) loaded; its members forgotten afterwards, so that
    no other test sees them."""
    import sys

    from mmpcbench import families

    families.load_extensions([EXTENSION])
    yield EXTENSION
    for name in [n for n, m in sys.modules.items() if getattr(m, "__file__", None) == EXTENSION]:
        for registry, member in sys.modules[name].MEMBERS.items():
            getattr(families, registry).remove(member)
        del sys.modules[name]


def pytest_collection_modifyitems(items):
    """The real-SLURM test last: nothing it installs or starts is met by another test."""
    items.sort(key=lambda item: item.get_closest_marker("slurm") is not None)


@pytest.fixture
def http_server():
    server = FileServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def demo_catalogue(tmp_path_factory):
    """One small generated category (Video_Games) with its images."""
    from mmpcbench.demo import CatalogueSize, generate_catalogue

    root = tmp_path_factory.mktemp("catalogue")
    flaws = generate_catalogue(
        root, ["Video_Games"], (root / "images").as_uri(), seed=3,
        size=CatalogueSize(n_items=300, n_users=1200, mean_reviews_per_user=6.0),
    )
    return root, flaws["Video_Games"]


@pytest.fixture(scope="session")
def parsed_catalogue(demo_catalogue, tmp_path_factory):
    from mmpcbench.data.parse import parse_category

    root, flaws = demo_catalogue
    out = tmp_path_factory.mktemp("parsed")
    report = parse_category(
        root / "raw/review_categories/Video_Games.jsonl.gz",
        root / "raw/meta_categories/meta_Video_Games.jsonl.gz",
        out / "interactions.parquet", out / "items.parquet", out / "report.json",
        block_bytes=64 << 10,
    )
    return out, report, flaws
