"""issue 15 through Python: the cache fallback warns, explicit requests raise (item 2), and
downloaded_models() says which revisions are complete (item 21)."""

import warnings

import pytest


MODEL = "hfkit-test/aidreams260K"
BAD_TOKEN = "hf_thisIsNotAValidTokenXXXXXXXXXXXXXXXXXXX"


def test_fallback_to_the_cache_warns_and_explicit_requests_raise(hfkit, endpoint, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean prepare warns about nothing
        first = hfkit.prepare(MODEL, cache_dir=tmp_path, endpoint=endpoint, token="")
    with pytest.warns(UserWarning, match="without checking for updates"):
        again = hfkit.prepare(MODEL, cache_dir=tmp_path, endpoint=endpoint, token=BAD_TOKEN)
    assert again == first
    for option in ("verify", "force_download"):
        with pytest.raises(hfkit.AuthError):
            hfkit.prepare(MODEL, cache_dir=tmp_path, endpoint=endpoint, token=BAD_TOKEN,
                          **{option: True})


def test_downloaded_models_says_whether_a_revision_is_complete(hfkit, endpoint, tmp_path):
    import pathlib
    snapshot = pathlib.Path(hfkit.prepare(MODEL, cache_dir=tmp_path, endpoint=endpoint, token=""))
    [model] = hfkit.downloaded_models(cache_dir=tmp_path)
    assert model["complete"] is True and model["revisions"][0]["complete"] is True
    (snapshot / "model.safetensors").unlink()
    [model] = hfkit.downloaded_models(cache_dir=tmp_path)
    assert model["complete"] is False and model["revisions"][0]["complete"] is False
