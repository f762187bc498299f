import gzip
import io
import json

import polars as pl
import pytest
from PIL import Image

from mmpcbench.data.fetch import FetchError, download, fetch_images


def _jpeg(colour=(200, 10, 10)):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_download_writes_file_and_manifest_with_sha256(http_server, tmp_path):
    body = gzip.compress(b'{"a": 1}\n' * 1000)
    http_server.files["/raw/x.jsonl.gz"] = body
    record = download(f"{http_server.url}/raw/x.jsonl.gz", tmp_path / "x.jsonl.gz", tmp_path / "x.json")
    assert (tmp_path / "x.jsonl.gz").read_bytes() == body
    manifest = json.loads((tmp_path / "x.json").read_text())
    import hashlib
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest() == record["sha256"]
    assert manifest["bytes"] == len(body)


def test_download_resumes_a_partial_file_with_a_range_request(http_server, tmp_path):
    body = bytes(range(256)) * 400
    http_server.files["/f"] = body
    (tmp_path / "f.part").write_bytes(body[:30000])
    download(f"{http_server.url}/f", tmp_path / "f", tmp_path / "f.json", backoff=0)
    assert (tmp_path / "f").read_bytes() == body
    assert http_server.requests == [("/f", "bytes=30000-")]


def test_download_retries_a_dropped_connection_and_resumes(http_server, tmp_path):
    body = bytes(range(256)) * 400
    http_server.files["/f"] = body
    http_server.cut["/f"] = 5000
    http_server.fail["/f"] = [503]
    record = download(f"{http_server.url}/f", tmp_path / "f", tmp_path / "f.json", backoff=0)
    assert (tmp_path / "f").read_bytes() == body
    assert [r for _, r in http_server.requests] == [None, None, "bytes=5000-"]
    assert record["attempts"] == 3


def test_download_404_fails_at_once_and_leaves_no_file(http_server, tmp_path):
    with pytest.raises(FetchError, match=r"HTTP 404") as error:
        download(f"{http_server.url}/missing", tmp_path / "m", tmp_path / "m.json", retries=5, backoff=0)
    assert error.value.permanent
    assert len(http_server.requests) == 1
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.json").exists()


def test_download_from_a_file_url(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(b"x" * 1000)
    download(source.as_uri(), tmp_path / "out.bin", tmp_path / "out.json")
    assert (tmp_path / "out.bin").read_bytes() == b"x" * 1000


def test_fetch_images_keeps_good_and_lists_bad_with_reasons(http_server, tmp_path):
    http_server.files["/ok.jpg"] = _jpeg()
    http_server.files["/html.jpg"] = b"<!DOCTYPE html><html>503</html>"
    http_server.files["/flaky.jpg"] = _jpeg((0, 0, 200))
    http_server.fail["/flaky.jpg"] = [500]
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, format="GIF")
    http_server.files["/anim.gif"] = png.getvalue()
    items = pl.DataFrame({
        "parent_asin": ["A", "B", "C", "D", "E"],
        "image_url": [f"{http_server.url}/{name}" for name in ("ok.jpg", "html.jpg", "missing.jpg", "flaky.jpg",
                                                              "anim.gif")],
    })
    result = fetch_images(items, tmp_path / "img", workers=2, retries=2, backoff=0, timeout=20)
    rows = {row["parent_asin"]: row for row in result.iter_rows(named=True)}
    assert rows["A"]["ok"] and (tmp_path / "img/A.jpg").read_bytes() == http_server.files["/ok.jpg"]
    assert not rows["B"]["ok"] and "not a decodable image" in rows["B"]["reason"] and rows["B"]["attempts"] == 3
    assert "0x" not in rows["B"]["reason"]  # no memory address: the failure list is the same on every run
    assert not rows["C"]["ok"] and "404" in rows["C"]["reason"] and rows["C"]["attempts"] == 1
    assert rows["D"]["ok"] and rows["D"]["attempts"] == 2
    assert rows["E"]["ok"] and rows["E"]["image_path"].endswith("E.png")
    assert result["parent_asin"].to_list() == ["A", "B", "C", "D", "E"]


def test_fetch_images_reuses_stored_images(http_server, tmp_path):
    http_server.files["/ok.jpg"] = _jpeg()
    items = pl.DataFrame({"parent_asin": ["A"], "image_url": [f"{http_server.url}/ok.jpg"]})
    fetch_images(items, tmp_path, workers=2, retries=3, backoff=0, timeout=20)
    again = fetch_images(items, tmp_path, workers=2, retries=3, backoff=0, timeout=20)
    assert again["status"].to_list() == ["cached"] and len(http_server.requests) == 1


def test_a_stored_cover_of_another_url_or_damaged_is_fetched_again(http_server, tmp_path, caplog):
    """Issue #20: a cover is reused only if fetched from the same URL and intact (it used to be reused
    whenever it decoded, whatever URL the item now has)."""
    http_server.files["/red.jpg"] = _jpeg((200, 0, 0))
    http_server.files["/blue.jpg"] = _jpeg((0, 0, 200))
    items = pl.DataFrame({"parent_asin": ["A", "B"], "image_url": [f"{http_server.url}/red.jpg"] * 2})
    fetch_images(items, tmp_path, workers=2, retries=0, backoff=0, timeout=20)
    moved = items.with_columns(pl.Series("image_url", [f"{http_server.url}/blue.jpg", f"{http_server.url}/red.jpg"]))
    data = bytearray((tmp_path / "B.jpg").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte flipped: it may still decode
    (tmp_path / "B.jpg").write_bytes(bytes(data))
    again = fetch_images(moved, tmp_path, workers=2, retries=0, backoff=0, timeout=20)
    assert again["status"].to_list() == ["downloaded", "downloaded"]
    assert (tmp_path / "A.jpg").read_bytes() == http_server.files["/blue.jpg"]
    assert (tmp_path / "B.jpg").read_bytes() == http_server.files["/red.jpg"]
    assert f"{tmp_path / 'A.jpg'}: made from other inputs" in caplog.text
    assert f"{tmp_path / 'B.jpg'}: damaged" in caplog.text
    assert fetch_images(moved, tmp_path, workers=2, retries=0, backoff=0, timeout=20)["status"].to_list() == [
        "cached", "cached"]
