"""Hub functions against the local Hub of tests/hub/hub_server.py (loopback, no network)."""

import pathlib
import threading
import time

import pytest

from conftest import SHARED_DIR

TOKEN_OK = "hf_hfkitTestTokenValidAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture()
def cache(tmp_path):
    d = tmp_path / "hub-cache"
    d.mkdir()
    return d


def test_from_pretrained_downloads_and_generates(hfkit, endpoint, cache, reference):
    seen = []
    with hfkit.Model.from_pretrained("hfkit-test/aidreams260K", cache_dir=cache,
                                     endpoint=endpoint, token="", on_progress=seen.append) as m:
        r = m.generate_result("", max_new_tokens=len(reference))
    assert r.tokens == reference
    assert any(p.phase == "downloading" for p in seen)
    assert hfkit.is_downloaded("hfkit-test/aidreams260K", cache_dir=cache)


def test_prepare_and_manage_the_cache(hfkit, endpoint, cache):
    snapshot = hfkit.prepare("hfkit-test/aidreams260K", cache_dir=cache, endpoint=endpoint,
                             token="")
    assert (cache / "models--hfkit-test--aidreams260K").is_dir()
    assert snapshot.startswith(str(cache))
    assert hfkit.is_downloaded("hfkit-test/aidreams260K", cache_dir=cache)
    used = hfkit.disk_usage("hfkit-test/aidreams260K", cache_dir=cache)
    assert used > 100_000
    assert hfkit.disk_usage(cache_dir=cache) == used
    models = hfkit.downloaded_models(cache_dir=cache)
    assert [m["repo_id"] for m in models] == ["hfkit-test/aidreams260K"]
    hfkit.remove_from_disk("hfkit-test/aidreams260K", cache_dir=cache)
    assert not hfkit.is_downloaded("hfkit-test/aidreams260K", cache_dir=cache)
    assert hfkit.downloaded_models(cache_dir=cache) == []


def test_force_download_replaces_the_cached_files(hfkit, endpoint, cache):
    kw = dict(cache_dir=cache, endpoint=endpoint, token="")
    snapshot = hfkit.prepare("hfkit-test/aidreams260K", **kw)
    weights = pathlib.Path(snapshot) / "model.safetensors"
    blob = weights.resolve()
    inode, data = blob.stat().st_ino, blob.read_bytes()
    assert hfkit.prepare("hfkit-test/aidreams260K", **kw) == snapshot
    assert blob.stat().st_ino == inode, "a plain prepare must not touch a complete cache"
    assert hfkit.prepare("hfkit-test/aidreams260K", force_download=True, **kw) == snapshot
    assert weights.resolve() == blob
    assert blob.stat().st_ino != inode, "force_download did not download the file again"
    assert blob.read_bytes() == data


def test_hub_errors(hfkit, endpoint, cache):
    with pytest.raises(hfkit.NotFoundError) as info:
        hfkit.prepare("hfkit-test/missing", cache_dir=cache, endpoint=endpoint, token="")
    assert info.value.status == -6
    with pytest.raises(hfkit.GatedRepoError) as info:
        hfkit.prepare("hfkit-test/gated", cache_dir=cache, endpoint=endpoint, token="")
    assert info.value.status == -15
    assert isinstance(info.value, hfkit.AuthError)
    with pytest.raises(hfkit.AuthError):
        hfkit.prepare("hfkit-test/aidreams260K", cache_dir=cache, endpoint=endpoint,
                      token="hf_wrong")
    with pytest.raises(hfkit.ChecksumError) as info:
        hfkit.prepare("hfkit-test/corrupt", cache_dir=cache, endpoint=endpoint, token="")
    assert info.value.status == -7
    # With the right token the private repository is served.
    assert hfkit.prepare("hfkit-test/private", cache_dir=cache, endpoint=endpoint,
                         token=TOKEN_OK)


def test_progress_cancels_a_download(hfkit, endpoint, cache):
    with pytest.raises(hfkit.CancelledError):
        hfkit.prepare("hfkit-test/aidreams260K", cache_dir=cache, endpoint=endpoint, token="",
                      on_progress=lambda p: p.phase == "downloading")


def test_open_from_the_hub(hfkit, endpoint, cache):
    with hfkit.Model.open("hfkit-test/aidreams260K", cache_dir=cache, endpoint=endpoint,
                          token="") as m:
        assert m.wait(timeout=120)
        assert m.state == "ready"
        assert m.generate("", max_new_tokens=3)


def test_inspect_reads_headers_not_weights(hfkit, endpoint, cache):
    info = hfkit.inspect("hfkit-test/tiny-gpt2", context_length=128, batch=2, cache_dir=cache,
                         endpoint=endpoint, token="")
    assert info["parameters"] == 102_714 and info["parameters_exact"] is True
    assert info["kv_context_length"] == 128 and info["batch"] == 2
    assert info["kv_bytes_total"] == info["kv_bytes_per_token"] * 128 * 2
    assert not hfkit.is_downloaded("hfkit-test/tiny-gpt2", cache_dir=cache)
    with pytest.raises(hfkit.GatedRepoError) as e:
        hfkit.inspect("hfkit-test/gated", cache_dir=cache, endpoint=endpoint, token="")
    assert e.value.status_name == "HFK_E_GATED"
    local = hfkit.inspect(SHARED_DIR / "models" / "aidreams260K")
    assert local["model_type"] == "llama" and local["download_bytes"] == 0


def test_gil_is_released_during_a_hub_download(hfkit, endpoint, cache, reference):
    """Another Python thread keeps running while from_pretrained downloads (hfkit-test/slow
    drips the ~0.9 MB of weights at 512 KiB/s) and loads."""
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        begin = time.monotonic()
        m = hfkit.Model.from_pretrained("hfkit-test/slow", cache_dir=cache, endpoint=endpoint,
                                        token="")
        end = time.monotonic()
    finally:
        stop.set()
        t.join()
    with m:
        assert m.generate_result("", max_new_tokens=len(reference)).tokens == reference
    during = [x for x in ticks if begin <= x <= end]
    elapsed = end - begin
    assert elapsed > 0.8, f"the slow download took only {elapsed:.2f} s: nothing to measure"
    gaps = [b - a for a, b in zip([begin] + during, during + [end])]
    assert len(during) > 50, f"the ticker ran {len(during)} times in {elapsed:.2f} s of loading"
    assert max(gaps) < elapsed / 3, f"the ticker stalled for {max(gaps):.2f} s of {elapsed:.2f} s"
