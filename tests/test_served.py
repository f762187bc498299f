"""The served engine against a real ``transformers serve`` process on loopback (the demo's tiny Qwen
built from its config), with a proxy of the test's own in front of it for the failures a server can
answer with (429, 500, an HTML page, a truncated body, a wrong key, a dying server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import polars as pl
import pytest
from PIL import Image

from mmpcbench.completion import served as served_engine
from mmpcbench.completion.mllm import CompletionRequest, complete_items
from mmpcbench.completion.pipeline import complete_with_model
from mmpcbench.completion.servers import ServerError, free_port
from mmpcbench.completion.served import ServedError
from mmpcbench.completion.summary import parse_status_table
from mmpcbench.demo.tiny_models import build_tiny_qwen2_5_vl

PROMPTS = {"i2t": 'Write the title as JSON {"title": "..."}.', "t2i": 'Product: "{text}". JSON {"prompt": "..."}.'}
KEYS = {"i2t": "title", "t2i": "prompt"}
TRANSFORMERS = str(Path(sys.executable).parent / "transformers")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("served") / "qwen")


def start_server(model: Path, port: int, log: Path) -> subprocess.Popen:
    """A real ``transformers serve`` of ``model`` on 127.0.0.1:``port``, ready when this returns."""
    process = subprocess.Popen([TRANSFORMERS, "serve", str(model), "--host", "127.0.0.1", "--port", str(port),
                                "--dtype", "float32"], stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("transformers serve did not come up: " + log.read_text()[-2000:])


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


@pytest.fixture(scope="module")
def server(tiny, tmp_path_factory):
    port = free_port()
    process = start_server(tiny, port, tmp_path_factory.mktemp("server") / "server.log")
    yield {"url": f"http://127.0.0.1:{port}", "process": process, "port": port}
    stop_server(process)


class Proxy:
    """An HTTP proxy on loopback in front of the real server. ``action(number, body)`` decides each
    request's fate: ``pass`` (forward it), an HTTP status (answered with it), ``html`` (a 200 carrying an
    HTML error page), ``truncated`` (a 200 whose body stops half-way). An upstream that cannot be
    reached is answered 502, as a gateway does. ``key``: the bearer token it demands."""

    def __init__(self, upstream: str, action=lambda number, body: "pass", key: str | None = None):
        self.upstream, self.action, self.key = upstream, action, key
        self.requests: list[dict] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.requests.append(json.loads(body))
                if proxy.key is not None and self.headers.get("Authorization") != f"Bearer {proxy.key}":
                    return self._answer(401, b'{"error": "invalid api key"}')
                fate = proxy.action(len(proxy.requests), body.decode())
                if isinstance(fate, int):
                    return self._answer(fate, b"<html><body>Service busy</body></html>", "text/html")
                if fate == "html":
                    return self._answer(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
                try:
                    response = httpx.post(proxy.upstream + self.path, content=body,
                                          headers={"Content-Type": "application/json"}, timeout=120)
                except httpx.HTTPError:  # the server is gone: a gateway's answer
                    return self._answer(502, b"<html><body>502 Bad Gateway</body></html>", "text/html")
                if fate == "truncated":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(response.content)))
                    self.end_headers()
                    self.wfile.write(response.content[: len(response.content) // 2])
                    self.close_connection = True
                    return
                self._answer(response.status_code, response.content, response.headers.get("content-type"))

            def _answer(self, status, payload, kind="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", kind or "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxy(server):
    made = []

    def make(**options):
        made.append(Proxy(server["url"], **options))
        return made[-1]

    yield make
    for one in made:
        one.close()


@pytest.fixture
def items(tmp_path):
    rows = []
    for k, colour in enumerate([(200, 0, 0), (0, 200, 0), (0, 0, 200), (90, 90, 0), (0, 90, 90), (60, 0, 60)]):
        image = Image.new("RGB", (64, 48), colour)
        image.putpixel((3 * k, 5), (255, 255, 0))
        image.save(tmp_path / f"B{k}.png")
        rows.append({"parent_asin": f"B{k}", "text": f"Red glass mug number {k}", "image_path": f"B{k}.png"})
    return pl.DataFrame(rows), tmp_path


def entry(tiny, **served):
    base = {"model": str(tiny), "family": "qwen2_5_vl", "quantization": "none", "dtype": "float32", "batch_size": 3,
            "max_new_tokens": {"i2t": 10, "t2i": 10}, "generation": {"do_sample": False}}
    if served:
        base.update({"engine": "openai", "name": "tiny-served", "retries": 3, "backoff_s": 0.05, **served})
    return base


def complete(task, spec, items, out, **options):
    frame, root = items
    options.setdefault("shard_size", 2)
    return complete_items(CompletionRequest(task, PROMPTS[task], KEYS[task], **options), spec, frame, root, out,
                          server_log=out.with_suffix(".server.log"))


def special_tokens_removed(text: str, tokenizer) -> str:
    for token in tokenizer.added_tokens_decoder.values():  # <|im_start|>, <|vision_pad|>, ... (not only eos/pad)
        if token.special:
            text = text.replace(token.content, "")
    return text.strip()


@pytest.mark.parametrize("task", ["i2t", "t2i"])
def test_served_answers_equal_the_in_process_answers_under_greedy_decoding(tiny, server, items, tmp_path, task):
    """Same weights, prompts and greedy decoding: the same answers, token for token. Where the two differ
    is the decoding of the answer's text, not the template: ``transformers serve`` strips the answer and
    keeps special tokens a model writes before its end of turn, which ``generate`` here skips (a random
    model writes some); with those removed the raw answers are equal, and so are the token counts."""
    from transformers import AutoTokenizer

    in_process = complete(task, entry(tiny), items, tmp_path / "local.parquet")
    served = complete(task, entry(tiny, base_url=server["url"] + "/v1"), items, tmp_path / "served.parquet")
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    assert in_process["parent_asin"].to_list() == served["parent_asin"].to_list()
    assert [special_tokens_removed(raw, tokenizer) for raw in served["raw"]] == [raw.strip() for raw in in_process["raw"]]
    assert served["n_input_tokens"].to_list() == in_process["n_input_tokens"].to_list()
    assert served["n_output_tokens"].to_list() == in_process["n_output_tokens"].to_list()
    assert served["parse_status"].to_list() == in_process["parse_status"].to_list()


def test_the_job_starts_its_own_server_and_stops_it(tiny, items, tmp_path):
    """``serve: transformers``: the job starts the server on a free port, logs it beside its output, and
    leaves no process behind."""
    out = tmp_path / "c.parquet"
    frame = complete("i2t", entry(tiny, serve="transformers", startup_timeout_s=120), items, out)
    assert frame.height == 6 and (frame["n_input_tokens"] > 0).all()
    log = out.with_suffix(".server.log").read_text()
    assert "Uvicorn running on http://127.0.0.1:" in log and "POST /v1/chat/completions" in log
    port = int(log.split("Uvicorn running on http://127.0.0.1:")[1].split()[0])
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)


def test_a_job_of_both_tasks_starts_one_server_for_both(tiny, items, tmp_path):
    """One job per category completes both tasks (``complete_with_model``): the server starts once."""
    frame, root = items
    frame.write_parquet(tmp_path / "rec_items.parquet")
    spec = entry(tiny, serve="transformers", startup_timeout_s=120)
    units = [{"task": task, "entry": spec, "request": {"prompt": PROMPTS[task], "answer_key": KEYS[task],
                                                      "shard_size": 4}} for task in ("i2t", "t2i")]
    outs = [tmp_path / "i2t.parquet", tmp_path / "t2i.parquet"]
    complete_with_model(units=units, rec_items_path=tmp_path / "rec_items.parquet", data_root=root, out_paths=outs,
                        server_log=tmp_path / "job.server.log")
    log = (tmp_path / "job.server.log").read_text()
    assert log.count("Uvicorn running on") == 1 and log.count("POST /v1/chat/completions") == 2 * 6
    assert all(pl.read_parquet(out).height == 6 for out in outs)


def test_429_500_an_html_page_and_a_truncated_body_are_retried(tiny, server, proxy, items, tmp_path, caplog):
    direct = complete("t2i", entry(tiny, base_url=server["url"] + "/v1"), items, tmp_path / "direct.parquet")
    fates = {1: 429, 2: 500, 3: "html", 4: "truncated"}  # the first item's first four tries
    flaky = proxy(action=lambda number, body: fates.get(number, "pass"))
    with caplog.at_level("WARNING"):
        answered = complete("t2i", entry(tiny, base_url=flaky.url, concurrency=1, retries=4), items,
                            tmp_path / "flaky.parquet")
    assert answered.equals(direct)
    assert len(flaky.requests) == 6 + 4  # each failure cost one more request
    retries = [r.message for r in caplog.records if "retry" in r.message]
    assert any("HTTP 429" in m for m in retries) and any("HTTP 500" in m for m in retries)
    assert any("not a chat completion" in m for m in retries)
    assert any("RemoteProtocolError" in m or "ReadError" in m for m in retries)


def test_an_item_that_never_gets_a_chat_completion_is_counted_not_scored(tiny, server, proxy, items, tmp_path, caplog):
    broken = proxy(action=lambda number, body: "html" if "number 1" in body else 503 if "number 4" in body else "pass")
    with caplog.at_level("WARNING"):
        frame = complete("t2i", entry(tiny, base_url=broken.url), items, tmp_path / "out.parquet")
    statuses = dict(zip(frame["parent_asin"], frame["parse_status"]))
    assert statuses["B1"] == statuses["B4"] == "no_answer"
    assert frame.filter(pl.col("parse_status") == "no_answer")["text"].to_list() == [None, None]
    assert frame.filter(pl.col("parse_status") != "no_answer")["text"].null_count() == 0
    assert any("no answer after 4 tries" in r.message and "HTTP 200 but not a chat completion" in r.message
               for r in caplog.records)
    assert any("no answer after 4 tries" in r.message and "HTTP 503" in r.message for r in caplog.records)
    table = parse_status_table([("tiny-served", "Cat", "t2i", tmp_path / "out.parquet")])
    unparsed = frame.filter(~pl.col("parse_status").is_in(["ok", "repaired"])).height  # no_answer among them
    assert table["no_answer"].to_list() == [2] and table["failed_pct"].to_list() == [round(100 * unparsed / 6, 2)]


def test_a_shard_whose_every_request_fails_fails_the_job(tiny, proxy, items, tmp_path):
    down = proxy(action=lambda number, body: 503)
    with pytest.raises(ServedError, match="tiny-served.*no request of this shard got a chat completion"):
        complete("t2i", entry(tiny, base_url=down.url), items, tmp_path / "out.parquet")


def test_a_wrong_or_missing_key_is_a_clear_error_naming_the_entry(tiny, proxy, items, tmp_path, monkeypatch):
    guarded = proxy(key="the-right-key")
    monkeypatch.setenv("MMPCBENCH_TEST_KEY", "a-wrong-key")
    spec = entry(tiny, base_url=guarded.url, api_key_env="MMPCBENCH_TEST_KEY")
    with pytest.raises(ServedError, match=r"'tiny-served'.*HTTP 401.*API key.*MMPCBENCH_TEST_KEY") as error:
        complete("t2i", spec, items, tmp_path / "out.parquet")
    assert "a-wrong-key" not in str(error.value)
    assert len(guarded.requests) <= 2  # not retried (two in flight at most)
    monkeypatch.delenv("MMPCBENCH_TEST_KEY")
    with pytest.raises(ServedError, match="'tiny-served'.*MMPCBENCH_TEST_KEY is not set"):
        complete("t2i", spec, items, tmp_path / "out.parquet")
    monkeypatch.setenv("MMPCBENCH_TEST_KEY", "the-right-key")
    frame = complete("t2i", spec, items, tmp_path / "out.parquet")
    assert frame.height == 6 and "no_answer" not in frame["parse_status"].to_list()
    assert not any("the-right-key" in p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())


def test_a_killed_server_fails_the_job_and_the_rerun_resumes_from_its_finished_shards(tiny, items, tmp_path,
                                                                                      monkeypatch):
    """The real server is killed (SIGKILL) as the third request is about to go: the job fails once the
    endpoint stays unreachable, keeping its finished shard; restarted, the rerun asks only for the rest."""
    port = free_port()
    process = {"now": start_server(tiny, port, tmp_path / "first.log")}
    asked, real_try, kill_at = [], served_engine.Served._try, {"request": 3}

    def counted(self, body):
        asked.append(body)
        if len(asked) == kill_at["request"]:
            stop_server(process["now"])
        return real_try(self, body)

    monkeypatch.setattr(served_engine.Served, "_try", counted)
    try:
        spec = entry(tiny, base_url=f"http://127.0.0.1:{port}/v1", concurrency=1)
        out = tmp_path / "out.parquet"
        with pytest.raises(ServedError, match="cannot be reached after 4 tries.*rerun resumes"):
            complete("t2i", spec, items, out)
        shards = sorted(p.name for p in (tmp_path / "out.parquet.shards").glob("shard-*.parquet"))
        assert shards == ["shard-00000-of-00003.parquet"]  # the first shard (2 items) was finished
        process["now"] = start_server(tiny, port, tmp_path / "second.log")
        asked.clear()
        kill_at["request"] = None  # this one lives
        resumed = complete("t2i", spec, items, out)
        assert len(asked) == 4  # only the two missing shards were asked for
        monkeypatch.setattr(served_engine.Served, "_try", real_try)
        clean = complete("t2i", spec, items, tmp_path / "clean.parquet")
        assert resumed.equals(clean)
    finally:
        stop_server(process["now"])


def test_a_server_that_exits_fails_the_job_with_its_log_tail(tiny, items, tmp_path):
    spec = entry(tiny, serve="transformers", serve_args=["--no-such-option"], startup_timeout_s=120)
    with pytest.raises(ServerError, match=r"(?s)transformers server of model entry 'tiny-served' exited with code 2.*"
                                          r"No such option"):
        complete("i2t", spec, items, tmp_path / "out.parquet")


def test_a_server_that_never_comes_up_fails_within_its_timeout_with_its_log_tail(tiny, items, tmp_path):
    """A server stuck loading (a real process that never listens) is stopped after ``startup_timeout_s``."""
    stuck = tmp_path / "stuck-server"
    stuck.write_text('#!/bin/sh\necho "loading the weights of $3 ..."\nexec sleep 600\n')
    stuck.chmod(0o755)
    spec = entry(tiny, serve="transformers", serve_executable=str(stuck), startup_timeout_s=2)
    started = time.monotonic()
    with pytest.raises(ServerError, match=r"(?s)did not answer /health within 2 s.*loading the weights of"):
        complete("i2t", spec, items, tmp_path / "out.parquet")
    assert time.monotonic() - started < 15
    leftover = subprocess.run(["pgrep", "-f", str(stuck)], capture_output=True, text=True).stdout.strip()
    assert leftover == ""  # stopped with its process group
