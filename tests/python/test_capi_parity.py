"""The Python package and the C API (through ctypes on the same libhfkit) give the same text
for the same sampling options and seed."""

import ctypes
import os

import pytest


class GenParams(ctypes.Structure):
    """hfk_gen_params of capi/include/hfkit/hfkit.h (ctypes lays it out as the C compiler does)."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("max_new_tokens", ctypes.c_int32),
        ("temperature", ctypes.c_float),
        ("top_k", ctypes.c_int32),
        ("top_p", ctypes.c_float),
        ("min_p", ctypes.c_float),
        ("repetition_penalty", ctypes.c_float),
        ("presence_penalty", ctypes.c_float),
        ("frequency_penalty", ctypes.c_float),
        ("seed", ctypes.c_uint64),
        ("stop", ctypes.POINTER(ctypes.c_char_p)),
        ("n_stop", ctypes.c_int32),
        ("add_special_tokens", ctypes.c_int32),
        ("ignore_eos", ctypes.c_int32),
    ]


@pytest.fixture(scope="module")
def lib():
    path = os.environ.get("HFK_LIBRARY")
    if not path:
        pytest.fail("HFK_LIBRARY is not set (CTest sets it to the built libhfkit.so)")
    lib = ctypes.CDLL(path)
    vp = ctypes.c_void_p
    lib.hfk_model_load.argtypes = [ctypes.POINTER(vp), ctypes.c_char_p, vp]
    lib.hfk_model_load.restype = ctypes.c_int32
    lib.hfk_model_free.argtypes = [vp]
    lib.hfk_model_free.restype = None
    lib.hfk_session_create.argtypes = [ctypes.POINTER(vp), vp, vp]
    lib.hfk_session_create.restype = ctypes.c_int32
    lib.hfk_session_free.argtypes = [vp]
    lib.hfk_session_free.restype = None
    lib.hfk_gen_params_init.argtypes = [ctypes.POINTER(GenParams), ctypes.c_size_t]
    lib.hfk_gen_params_init.restype = ctypes.c_int32
    lib.hfk_session_generate.argtypes = [vp, ctypes.c_char_p, ctypes.POINTER(GenParams), vp, vp,
                                         ctypes.POINTER(vp), vp]
    lib.hfk_session_generate.restype = ctypes.c_int32
    lib.hfk_session_last_tokens.argtypes = [vp, ctypes.POINTER(ctypes.c_int32), ctypes.c_int64,
                                            ctypes.POINTER(ctypes.c_int64)]
    lib.hfk_session_last_tokens.restype = ctypes.c_int32
    lib.hfk_free.argtypes = [vp]
    lib.hfk_free.restype = None
    lib.hfk_last_error_message.argtypes = []
    lib.hfk_last_error_message.restype = ctypes.c_char_p
    return lib


def _c_generate(lib, model_dir, prompt, **options):
    """One generate on a fresh session through the C API: (text, token ids)."""
    model = ctypes.c_void_p()
    assert lib.hfk_model_load(ctypes.byref(model), os.fsencode(model_dir), None) == 0, \
        lib.hfk_last_error_message()
    session = ctypes.c_void_p()
    try:
        assert lib.hfk_session_create(ctypes.byref(session), model, None) == 0
        p = GenParams()
        assert lib.hfk_gen_params_init(ctypes.byref(p), ctypes.sizeof(p)) == 0
        keep = []  # the stop strings' buffers live until the call returns
        for name, value in options.items():
            if name == "stop":
                keep = [s.encode() for s in value]
                p.stop = (ctypes.c_char_p * len(keep))(*keep)
                p.n_stop = len(keep)
            else:
                setattr(p, name, value)
        text = ctypes.c_void_p()
        status = lib.hfk_session_generate(session, prompt.encode(), ctypes.byref(p), None, None,
                                          ctypes.byref(text), None)
        assert status == 0, lib.hfk_last_error_message()
        try:
            out = ctypes.string_at(text.value).decode("utf-8")
        finally:
            lib.hfk_free(text)
        ids = (ctypes.c_int32 * (options.get("max_new_tokens", 256) + 1))()
        n = ctypes.c_int64()
        assert lib.hfk_session_last_tokens(session, ids, len(ids), ctypes.byref(n)) == 0
        return out, list(ids[:n.value])
    finally:
        lib.hfk_session_free(session)
        lib.hfk_model_free(model)


@pytest.mark.parametrize("prompt", ["Once upon a time", "", "The sky was"])
def test_python_and_c_api_sample_the_same_text(lib, model, model_dir, prompt):
    options = dict(temperature=0.8, top_k=20, top_p=0.9, seed=123, max_new_tokens=32)
    want_text, want_ids = _c_generate(lib, model_dir, prompt, **options)
    r = model.generate_result(prompt, **options)
    assert r.text == want_text
    assert r.tokens == want_ids
    assert model.generate(prompt, **options) == want_text
    assert len(want_ids) > 0 and want_text
    # The options matter: greedy gives other text (so the comparison above is not vacuous).
    greedy_text, _ = _c_generate(lib, model_dir, prompt, temperature=0.0, max_new_tokens=32)
    assert greedy_text != want_text


# Every option of Model.generate, alone and all together, reaches the engine as the C API's field
# of the same name: Python gives the C API's text and ids for the same seed, and each option alone
# changes the text or ids of the plain sampled run (so none is silently dropped).
ALL_OPTIONS = dict(temperature=0.7, top_k=20, top_p=0.9, min_p=0.05, repetition_penalty=1.3,
                   presence_penalty=0.8, frequency_penalty=0.8, stop=None,
                   add_special_tokens=0, ignore_eos=1)


@pytest.mark.parametrize("name", sorted(ALL_OPTIONS) + ["all"])
def test_every_option_reaches_the_c_api(lib, model, model_dir, name):
    prompt = "Once upon a time"
    base = dict(seed=7, max_new_tokens=24, temperature=1.0)
    plain_text, plain_ids = _c_generate(lib, model_dir, prompt, **base)
    chosen = dict(ALL_OPTIONS if name == "all" else {name: ALL_OPTIONS[name]})
    if "stop" in chosen:  # a stop string the plain run meets half-way
        chosen["stop"] = [plain_text[len(plain_text) // 2:][:3]]
    options = dict(base, **chosen)
    python_options = dict(options)
    for flag in ("add_special_tokens", "ignore_eos"):
        if flag in python_options:
            python_options[flag] = bool(python_options[flag])
    want_text, want_ids = _c_generate(lib, model_dir, prompt, **options)
    r = model.generate_result(prompt, **python_options)
    assert (r.text, r.tokens) == (want_text, want_ids)
    # ignore_eos alone cannot change a run that meets no EOS (the C test EosStopsUnlessIgnored
    # covers it); every other option changes this run.
    if name != "ignore_eos":
        assert (want_text, want_ids) != (plain_text, plain_ids), f"{name} changed nothing"
