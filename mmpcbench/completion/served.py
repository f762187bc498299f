"""The ``openai`` engine: completions from any OpenAI-compatible ``/v1/chat/completions`` endpoint
(vLLM, SGLang, TGI, ``transformers serve``, a commercial API), with the in-process engine's prompts,
answer parsing, failure policy, resumable shards, atomic outputs and cost records.

A registry entry (``config.models[name]``; the keys beyond the in-process entry's)::

    engine: openai
    model: Qwen/Qwen2.5-VL-7B-Instruct   # what the server loads (serve), and the name asked for
    served_model: qwen-7b                # the name asked for, if not ``model``
    base_url: http://host:8000/v1        # an endpoint that is already running (not with ``serve``)
    serve: vllm                          # or transformers: the job starts the server (servers.py)
    api_key_env: OPENAI_API_KEY          # the variable that holds the key; never logged or written
    concurrency: 8                       # requests in flight
    timeout_s: 300                       # one request
    retries: 5                           # after the first try; backoff_s doubles each time (Retry-After wins)
    backoff_s: 1.0

What each answer depends on is the shard's stamp (:func:`served_settings`): the served model's name,
and with ``serve`` the weights, dtype, quantisation and server arguments, the prompt, ``max_new_tokens``
and the generation settings, and how covers are sent. Not the URL (a self-started server's port changes
every run), the concurrency, timeouts or the key. The ``generation`` settings become request fields
(:data:`REQUEST_FIELDS`): ``do_sample: false`` is ``temperature: 0``; a sampled request carries a seed
derived from the shard's seed and the item's place in it.

**Covers** are sent as PNG data URLs (lossless: the server's processor sees the pixels the in-process
processor sees), downscaled (aspect kept, Lanczos) only when larger than ``image_max_pixels`` (default:
the most the family's processor keeps, ``MLLMFamily.max_image_pixels``); ``image_format: jpeg`` sends
JPEG (quality 95) to endpoints that bill by bytes.

**Failures.** Each request is retried with backoff on a connection error, a timeout, HTTP 408/409/429/5xx,
and on a 200 whose body is not a chat completion (an HTML error page, a truncated body). Then:

- HTTP 401/403 (a wrong or missing key) and 404 (a wrong URL or model name) fail the job at once, with
  the entry's name and what to check — the key's value is never shown;
- an endpoint that still cannot be reached fails the job; the shards already finished are kept, and the
  rerun resumes from them;
- any other request that got no chat completion is the item's answer status ``no_answer`` (logged with
  its HTTP status), a missing completion in the scores — never scored as an answer. A shard in which
  *every* request failed fails the job instead: that is the endpoint failing, not the items.
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from mmpcbench.completion.mllm import NO_ANSWER, MLLMError
from mmpcbench.completion.servers import running, served_name
from mmpcbench.families import MLLM_FAMILIES
from mmpcbench.seeds import derive_seed
from mmpcbench.units import folder_fingerprint

log = logging.getLogger(__name__)

# generation setting -> the request field it becomes (do_sample is translated, see _request_fields)
REQUEST_FIELDS = {"temperature": "temperature", "top_p": "top_p", "seed": "seed", "stop": "stop",
                  "frequency_penalty": "frequency_penalty", "presence_penalty": "presence_penalty"}
RETRIED_STATUSES = {408, 409, 429}
FATAL_STATUSES = {401: "the endpoint refused the API key", 403: "the endpoint refused the API key",
                  404: "the endpoint has no such model or path"}
DEFAULTS = {"concurrency": 4, "timeout_s": 300.0, "retries": 5, "backoff_s": 1.0, "backoff_max_s": 60.0}


class ServedError(MLLMError):
    """A served entry that cannot be used (a wrong key, URL or model; an endpoint that stays down)."""


def entry_name(entry: dict) -> str:
    return entry.get("name") or entry["model"]


def served_settings(request, entry: dict) -> dict:
    """The ``openai`` engine's shard stamp (see the module docstring)."""
    settings = {"engine": "openai", "task": request.task, "prompt": request.prompt, "shard_size": request.shard_size,
                "seed": request.seed, "served_model": served_name(entry),
                "max_new_tokens": entry["max_new_tokens"][request.task], "generation": entry.get("generation", {}),
                "image": {"max_pixels": image_max_pixels(entry), "format": entry.get("image_format", "png")}}
    if entry.get("serve"):
        settings["server"] = {"serve": entry["serve"], "model": entry["model"], "revision": entry.get("revision"),
                              "model_files": folder_fingerprint(entry["model"]), "dtype": entry.get("dtype"),
                              "quantization": entry.get("quantization", "none"),
                              "max_model_len": entry.get("max_model_len"), "serve_args": entry.get("serve_args", [])}
    return settings


def image_max_pixels(entry: dict) -> int:
    if entry.get("image_max_pixels"):
        return int(entry["image_max_pixels"])
    family = MLLM_FAMILIES.get(entry.get("family") or "")
    return family.max_image_pixels if family else MLLM_FAMILIES["qwen2_5_vl"].max_image_pixels


def image_url(image: Image.Image, max_pixels: int, image_format: str = "png") -> str:
    """A cover as a data URL: lossless PNG (or JPEG), downscaled (aspect kept) only above ``max_pixels``."""
    width, height = image.size
    if width * height > max_pixels:
        scale = (max_pixels / (width * height)) ** 0.5
        image = image.resize((max(1, int(width * scale)), max(1, int(height * scale))), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.convert("RGB").save(buffer, "JPEG", quality=95)
    else:
        image.save(buffer, "PNG")
    return f"data:image/{image_format};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def messages(conversation: list[dict], max_pixels: int, image_format: str) -> list[dict]:
    """The project's chat messages (:func:`mmpcbench.completion.mllm.conversation`) in OpenAI's format."""
    out = []
    for message in conversation:
        parts = []
        for part in message["content"]:
            if part["type"] == "image":
                parts.append({"type": "image_url", "image_url": {"url": image_url(part["image"], max_pixels, image_format)}})
            else:
                parts.append({"type": "text", "text": part["text"]})
        out.append({"role": message["role"], "content": parts})
    return out


def request_fields(entry: dict) -> dict:
    """The entry's ``generation`` settings as chat-completion request fields (an unknown one is refused)."""
    generation = dict(entry.get("generation", {}))
    fields = {}
    if "do_sample" in generation and not generation.pop("do_sample"):
        fields["temperature"] = 0
    unknown = sorted(set(generation) - set(REQUEST_FIELDS))
    if unknown:
        raise ServedError(f"model entry {entry_name(entry)!r}: generation settings {unknown} have no chat-completion "
                          f"request field; known: {sorted(REQUEST_FIELDS) + ['do_sample']}")
    fields.update({REQUEST_FIELDS[key]: value for key, value in generation.items()})
    return fields


class _NotAnswered(Exception):
    """One try that got no chat completion (retried); ``fatal``: retrying cannot help."""

    def __init__(self, reason: str, status: int | None = None, fatal: bool = False, unreachable: bool = False,
                 retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.status, self.fatal, self.unreachable, self.retry_after = \
            reason, status, fatal, unreachable, retry_after


class Served:
    """The ``openai`` engine's answerer: one client, ``concurrency`` requests in flight."""

    def __init__(self, entry: dict, base_url: str):
        import httpx

        self.entry, self.name = entry, entry_name(entry)
        self.settings = {key: entry.get(key, value) for key, value in DEFAULTS.items()}
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.fields = request_fields(entry)
        self.max_pixels, self.image_format = image_max_pixels(entry), entry.get("image_format", "png")
        headers = {}
        if entry.get("api_key_env"):
            key = os.environ.get(entry["api_key_env"])
            if not key:
                raise ServedError(f"model entry {self.name!r}: the API key variable {entry['api_key_env']} is not set")
            headers["Authorization"] = f"Bearer {key}"
        limits = httpx.Limits(max_connections=int(self.settings["concurrency"]))
        self.client = httpx.Client(headers=headers, timeout=float(self.settings["timeout_s"]), limits=limits)
        self.stopping = threading.Event()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise

    def close(self) -> None:
        self.client.close()

    def answer(self, conversations: list[list[dict]], max_new_tokens: int, seed: int = 0) -> list[tuple]:
        """``(raw, input tokens, output tokens, status)`` per conversation, in order (status ``no_answer``
        when none came; the tokens from the response's ``usage``)."""
        if not conversations:
            return []
        bodies = [{"model": served_name(self.entry), "messages": messages(conversation, self.max_pixels, self.image_format),
                   "max_tokens": max_new_tokens, **self.fields} for conversation in conversations]
        if self.fields.get("temperature", 1) != 0 and "seed" not in self.fields:
            for position, body in enumerate(bodies):  # sampled: reproducible per item where the server can
                body["seed"] = derive_seed(seed, position)
        with ThreadPoolExecutor(max_workers=int(self.settings["concurrency"])) as pool:
            try:
                answers = list(pool.map(self._ask, bodies))
            except BaseException:
                self.stopping.set()
                raise
        if all(status == NO_ANSWER for *_, status in answers):
            raise ServedError(f"model entry {self.name!r}: no request of this shard got a chat completion from "
                              f"{self.url} (the log names each); the endpoint is failing, not the items")
        return answers

    def _ask(self, body: dict) -> tuple:
        tries, delay = int(self.settings["retries"]) + 1, float(self.settings["backoff_s"])
        for attempt in range(tries):
            if self.stopping.is_set():
                raise ServedError(f"model entry {self.name!r}: stopped (another request failed)")
            try:
                return self._try(body)
            except _RefusedRequest as refused:
                log.warning("model entry %r: the request was refused (%s): counted as %s", self.name, refused.reason,
                            NO_ANSWER)
                return "", 0, 0, NO_ANSWER
            except _NotAnswered as failure:
                if failure.fatal:
                    raise ServedError(f"model entry {self.name!r}: {failure.reason}") from None
                last = failure
                if attempt + 1 < tries:
                    wait = failure.retry_after if failure.retry_after is not None else delay
                    log.warning("model entry %r: %s; retry %d/%d in %.1f s", self.name, failure.reason, attempt + 1,
                                tries - 1, wait)
                    time.sleep(min(wait, float(self.settings["backoff_max_s"])))
                    delay *= 2
        if last.unreachable:
            raise ServedError(f"model entry {self.name!r}: {self.url} cannot be reached after {tries} tries "
                              f"({last.reason}); the finished shards are kept, and a rerun resumes from them")
        log.warning("model entry %r: no answer after %d tries (%s): counted as %s", self.name, tries, last.reason,
                    NO_ANSWER)
        return "", 0, 0, NO_ANSWER

    def _try(self, body: dict) -> tuple:
        import httpx

        try:
            response = self.client.post(self.url, json=body)
            content = response.content
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise _NotAnswered(f"cannot connect ({type(error).__name__}: {error})", unreachable=True) from None
        except httpx.TransportError as error:  # a timeout, a connection dropped mid-body
            raise _NotAnswered(f"{type(error).__name__}: {error or 'no detail'}") from None
        status = response.status_code
        if status in FATAL_STATUSES:
            hint = (f"; check the variable {self.entry['api_key_env']}" if status in (401, 403) and self.entry.get("api_key_env")
                    else "; set api_key_env to the variable holding the key" if status in (401, 403)
                    else f"; check base_url and served_model ({served_name(self.entry)!r})")
            raise _NotAnswered(f"HTTP {status} from {self.url}: {FATAL_STATUSES[status]}{hint}", status, fatal=True)
        if status != 200:
            reason = f"HTTP {status}: {_excerpt(content)}"
            if status in RETRIED_STATUSES or status >= 500:
                raise _NotAnswered(reason, status, retry_after=_seconds(response.headers.get("retry-after")))
            raise _RefusedRequest(reason)  # the request as it is (400, 413, 422: e.g. longer than the context)
        try:
            payload = response.json()
            message = payload["choices"][0]["message"]
            raw = message.get("content") or ""
            if not isinstance(raw, str):
                raise TypeError(f"content is {type(raw).__name__}")
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise _NotAnswered(f"HTTP 200 but not a chat completion ({type(error).__name__}: {error}): "
                               f"{_excerpt(content)}", status) from None
        usage = payload.get("usage") or {}
        return raw, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), None


class _RefusedRequest(_NotAnswered):
    """A request the endpoint refuses as it is (HTTP 400, 413, 422): retrying the same body cannot help."""

    def __init__(self, reason: str):
        super().__init__(reason)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _excerpt(content: bytes, limit: int = 160) -> str:
    text = " ".join(content.decode("utf-8", errors="replace").split())
    return (text[:limit] + "…") if len(text) > limit else (text or "(empty body)")


@contextlib.contextmanager
def served(entry: dict, loaded=None, server_log: str | Path | None = None):
    """The ``openai`` engine (:data:`mmpcbench.families.ENGINES`): with ``serve``, start the entry's server
    for the job (:func:`mmpcbench.completion.servers.running`, its log at ``server_log``) and stop it
    after; else use ``base_url``."""
    with contextlib.ExitStack() as stack:
        if entry.get("serve"):
            log_path = server_log or Path("logs") / f"{entry_name(entry)}.server.log"
            base_url = stack.enter_context(running(entry, log_path, entry_name(entry)))
        else:
            base_url = entry["base_url"]
        answerer = Served(entry, base_url)
        stack.callback(answerer.close)
        yield answerer
