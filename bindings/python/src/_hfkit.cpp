// _hfkit: the low-level Python module over the public C API (hfkit/hfkit.h) and nothing else.
//
// The friendly API (hfkit.Model, hfkit.Session, options, exceptions) is the pure-Python package
// around this module; this file only does what needs C++:
//  - owns the C handles (shared_ptr with the hfk_*_free deleter, so a call that is running with
//    the GIL released keeps its handle alive even if another thread calls close());
//  - releases the GIL around every long C call (load, generate, embed, classify, tokenize);
//  - turns callbacks into Python calls: the trampolines take the GIL back, poll
//    PyErr_CheckSignals() so Ctrl-C stops a generate, and park any Python exception, which is
//    re-raised with its traceback once the C call has returned (STYLE.md 3.8);
//  - maps a failed status to the exception tree of hfkit._errors.
// No Python object lives in a C++ static (STYLE.md pitfall 5).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>

#include <cstring>
#include <thread>
#include <mutex>
#include <deque>
#include <condition_variable>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hfkit/hfkit.h"

namespace py = pybind11;

namespace {

// Raises the hfkit exception (hfkit._errors) for a status code and message.
[[noreturn]] void raise_error(hfk_status status, const std::string &message) {
    py::object make = py::module_::import("hfkit._errors").attr("_from_status");
    py::object exc = make(status, hfk_status_name(status), message);
    PyErr_SetObject(reinterpret_cast<PyObject *>(Py_TYPE(exc.ptr())), exc.ptr());
    throw py::error_already_set();
}

// Raises the exception for a failed C call. Reads the thread's last error message, so call it
// straight after the failing call, on the same thread (capi/README.md, "Errors").
[[noreturn]] void raise_status(hfk_status status) {
    raise_error(status, hfk_last_error_message());
}

void check(hfk_status status) {
    if (status != HFK_OK) raise_status(status);
}

// What a trampoline shares with the binding that made the C call: the Python callable, and
// the slot for an exception raised inside it (or a KeyboardInterrupt found by
// PyErr_CheckSignals). Lives on the binding's stack for the duration of one C call only,
// which is all the C API asks of user_data (callbacks are synchronous).
struct CallbackContext {
    py::object fn;  // may be None: then the trampoline only polls for signals
    std::optional<py::error_already_set> error;

    // Re-raises the parked exception, if any. Needs the GIL.
    void rethrow() {
        if (error) {
            py::error_already_set e = std::move(*error);
            error.reset();
            throw e;
        }
    }
};

// Runs `call` under the GIL. Returns non-zero ("stop") when a signal handler raised or the
// callable raised (the exception is parked) or the callable returned something truthy.
template <class Call>
int32_t run_callback(CallbackContext &ctx, Call &&call) noexcept {
    py::gil_scoped_acquire gil;
    if (ctx.error) return 1;
    try {
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        if (ctx.fn.is_none()) return 0;
        py::object r = call();
        return r.is_none() ? 0 : (PyObject_IsTrue(r.ptr()) == 1 ? 1 : 0);
    } catch (py::error_already_set &e) {
        ctx.error.emplace(std::move(e));
    } catch (std::exception &e) {  // e.g. a failed cast of an argument: never unwind into C
        PyErr_SetString(PyExc_RuntimeError, e.what());
        ctx.error.emplace();
    }
    return 1;
}

int32_t piece_trampoline(const char *piece, size_t len, void *user_data) noexcept {
    auto &ctx = *static_cast<CallbackContext *>(user_data);
    return run_callback(ctx, [&] {
        // The C API never splits a UTF-8 character; "replace" guards against a library bug
        // turning into an exception inside the callback.
        py::object text = py::reinterpret_steal<py::object>(
            PyUnicode_DecodeUTF8(piece, static_cast<Py_ssize_t>(len), "replace"));
        if (!text) throw py::error_already_set();
        return ctx.fn(text);
    });
}

int32_t progress_trampoline(const hfk_progress *p, void *user_data) noexcept {
    auto &ctx = *static_cast<CallbackContext *>(user_data);
    return run_callback(ctx, [&] {
        py::object file = p->file_name ? py::object(py::str(p->file_name)) : py::none();
        return ctx.fn(py::make_tuple(p->phase, p->fraction, p->bytes_done, p->bytes_total,
                                     p->files_done, p->files_total, file));
    });
}

std::string utf8_of(const py::handle &text, const char *what) {
    if (!py::isinstance<py::str>(text))
        throw py::type_error(std::string(what) + " must be str, not " +
                             std::string(py::str(py::type::of(text).attr("__name__"))));
    Py_ssize_t len = 0;
    const char *data = PyUnicode_AsUTF8AndSize(text.ptr(), &len);
    if (!data) throw py::error_already_set();
    return std::string(data, static_cast<size_t>(len));
}

// C strings end at the first NUL: a str with one inside would silently name something else
// ('dir\0/x' would load 'dir'), so every string handed to the C API goes through here.
const char *c_string(const std::string &s, const char *what) {
    if (s.find('\0') != std::string::npos)
        throw py::value_error(std::string(what) + " contains a NUL character");
    return s.c_str();
}

const char *c_string_or_null(const std::optional<std::string> &s, const char *what) {
    return s ? c_string(*s, what) : nullptr;
}

// A handle that is either open or closed. Every call copies the shared_ptr under the GIL before
// releasing it, so close() from another thread frees the handle only after that call returns.
template <class T>
std::shared_ptr<T> live(const std::shared_ptr<T> &h, const char *kind) {
    if (!h) raise_error(HFK_E_STATE, std::string("the ") + kind + " is closed");
    return h;
}

// Where and how to reach the Hub (hfk_hub_params). Strings are optional: None leaves the
// field NULL, which means the library's default (environment variables, then the defaults).
struct HubOptions {
    std::optional<std::string> endpoint;
    std::optional<std::string> token;
    std::optional<std::string> cache_dir;
    std::optional<std::string> revision;
    int32_t offline = -1;
    int32_t max_parallel = 0;
    bool verify = false;
    bool force_download = false;
    // fnmatch patterns of the files to fetch (None: what a model needs) and to skip.
    std::optional<std::vector<std::string>> allow_patterns;
    std::optional<std::vector<std::string>> ignore_patterns;

    // Fills `p`; the pointers borrow from this object, which must outlive the call.
    void fill(hfk_hub_params &p, CallbackContext *progress) const {
        check(HFK_HUB_PARAMS_INIT(&p));
        p.endpoint = c_string_or_null(endpoint, "endpoint");
        p.token = c_string_or_null(token, "token");
        p.cache_dir = c_string_or_null(cache_dir, "cache_dir");
        p.revision = c_string_or_null(revision, "revision");
        fill_patterns(allow_patterns, allow_ptrs_, "allow_patterns", p.allow_patterns,
                      p.n_allow_patterns);
        fill_patterns(ignore_patterns, ignore_ptrs_, "ignore_patterns", p.ignore_patterns,
                      p.n_ignore_patterns);
        p.offline = offline;
        p.max_parallel = max_parallel;
        p.verify = verify ? 1 : 0;
        p.force_download = force_download ? 1 : 0;
        if (progress) {
            p.progress = progress_trampoline;
            p.progress_user_data = progress;
        }
    }

  private:
    static void fill_patterns(const std::optional<std::vector<std::string>> &patterns,
                              std::vector<const char *> &ptrs, const char *what,
                              const char *const *&out, int32_t &n_out) {
        ptrs.clear();
        if (!patterns) return;
        for (const auto &s : *patterns) ptrs.push_back(c_string(s, what));
        out = ptrs.data();
        n_out = static_cast<int32_t>(ptrs.size());
    }
    mutable std::vector<const char *> allow_ptrs_, ignore_ptrs_;
};

std::string take_string(char *s) {
    std::unique_ptr<char, void (*)(void *)> owned(s, hfk_free);
    return s ? std::string(s) : std::string();
}

// Hub functions: all release the GIL; progress (downloads) comes back on this thread.
std::string prepare(const std::string &repo_id, const HubOptions &hub, py::object on_progress) {
    CallbackContext ctx{std::move(on_progress), std::nullopt};
    hfk_hub_params p;
    hub.fill(p, &ctx);
    char *dir = nullptr;
    const char *id = c_string(repo_id, "repo_id");
    hfk_status status;
    {
        py::gil_scoped_release nogil;
        status = hfk_prepare(id, &p, &dir);
    }
    const std::string warning = status == HFK_OK ? hfk_last_warning() : "";
    std::string out = take_string(dir);
    ctx.rethrow();
    check(status);
    // The cached snapshot was used without asking the Hub (see hfk_last_warning).
    if (!warning.empty() && PyErr_WarnEx(PyExc_UserWarning, warning.c_str(), 1) != 0)
        throw py::error_already_set();
    return out;
}

bool is_downloaded(const std::string &repo_id, const HubOptions &hub) {
    hfk_hub_params p;
    hub.fill(p, nullptr);
    int32_t yes = 0;
    const char *id = c_string(repo_id, "repo_id");
    hfk_status status;
    {
        py::gil_scoped_release nogil;
        status = hfk_is_downloaded(id, &p, &yes);
    }
    check(status);
    return yes != 0;
}

void remove_from_disk(const std::string &repo_id, const HubOptions &hub, bool force) {
    hfk_hub_params p;
    hub.fill(p, nullptr);
    const char *id = c_string(repo_id, "repo_id");
    hfk_status status;
    {
        py::gil_scoped_release nogil;
        status = hfk_remove_from_disk(id, &p, force ? 1 : 0);
    }
    check(status);
}

uint64_t disk_usage(const std::optional<std::string> &repo_id, const HubOptions &hub) {
    hfk_hub_params p;
    hub.fill(p, nullptr);
    uint64_t bytes = 0;
    const char *id = c_string_or_null(repo_id, "repo_id");
    hfk_status status;
    {
        py::gil_scoped_release nogil;
        status = hfk_disk_usage(id, &p, &bytes);
    }
    check(status);
    return bytes;
}

std::string downloaded_models(const HubOptions &hub) {
    hfk_hub_params p;
    hub.fill(p, nullptr);
    char *json = nullptr;
    hfk_status status;
    {
        py::gil_scoped_release nogil;
        status = hfk_downloaded_models(&p, &json);
    }
    std::string out = take_string(json);
    check(status);
    return out;
}

// The inspector: the JSON form (the struct's fields and more), parsed on the Python side.
std::string inspect(const std::string &id_or_path, int64_t context_length, int32_t batch,
                    int32_t kv_bytes_per_element, const HubOptions &hub) {
    hfk_hub_params hp;
    hub.fill(hp, nullptr);
    hfk_inspect_params ip;
    check(HFK_INSPECT_PARAMS_INIT(&ip));
    ip.context_length = context_length;
    ip.batch = batch;
    ip.kv_bytes_per_element = kv_bytes_per_element;
    ip.hub = &hp;
    hfk_inspection *ins = nullptr;
    const char *id = c_string(id_or_path, "id_or_path");
    hfk_status status;
    {
        py::gil_scoped_release nogil;
        status = hfk_inspect(&ins, id, &ip);
    }
    check(status);
    std::unique_ptr<hfk_inspection, void (*)(hfk_inspection *)> owned(ins, hfk_inspection_free);
    return hfk_inspection_json(ins);
}

class Model {
  public:
    // Blocking load of a local directory or a Hub id (downloaded first). Progress of both the
    // download and the load goes to on_progress, on this thread.
    static std::unique_ptr<Model> load(const std::string &id_or_path, int32_t n_threads,
                                       py::object on_progress, const HubOptions &hub, int32_t n_ctx,
                                       bool skip_resource_check, int32_t quantization,
                                       bool keep_embeddings) {
        CallbackContext ctx{std::move(on_progress), std::nullopt};
        hfk_hub_params hp;
        hub.fill(hp, &ctx);
        hfk_load_params params;
        check(HFK_LOAD_PARAMS_INIT(&params));
        params.n_threads = n_threads;
        params.progress = progress_trampoline;
        params.progress_user_data = &ctx;
        params.hub = &hp;
        params.n_ctx = n_ctx;
        params.skip_resource_check = skip_resource_check ? 1 : 0;
        params.quantization = quantization;
        params.keep_embeddings = keep_embeddings ? 1 : 0;
        hfk_model *raw = nullptr;
        const char *id = c_string(id_or_path, "id_or_path");
        hfk_status status;
        {
            py::gil_scoped_release nogil;
            status = hfk_model_load(&raw, id, &params);
        }
        std::shared_ptr<hfk_model> handle(raw, hfk_model_free);
        ctx.rethrow();  // the callback raised (or Ctrl-C): that beats HFK_E_CANCELLED
        check(status);
        auto m = std::make_unique<Model>();
        m->handle_ = std::move(handle);
        return m;
    }

    // Non-blocking open: returns at once; a library worker downloads and loads. Poll status()
    // or wait(). Freeing (close) cancels the worker. on_state(tuple), if not None, is called
    // from the library's worker thread (with the GIL taken there) on every state change and
    // progress step; a true return cancels the opening.
    static std::unique_ptr<Model> open(const std::string &id_or_path, int32_t n_threads,
                                       const HubOptions &hub, int32_t n_ctx,
                                       bool skip_resource_check, py::object on_state,
                                       int32_t quantization, bool keep_embeddings) {
        hfk_hub_params hp;
        hub.fill(hp, nullptr);
        hfk_load_params params;
        check(HFK_LOAD_PARAMS_INIT(&params));
        params.n_threads = n_threads;
        params.hub = &hp;
        params.n_ctx = n_ctx;
        params.skip_resource_check = skip_resource_check ? 1 : 0;
        params.quantization = quantization;
        params.keep_embeddings = keep_embeddings ? 1 : 0;
        auto m = std::make_unique<Model>();
        if (!on_state.is_none()) {
            m->on_state_ = std::make_shared<py::object>(std::move(on_state));
            params.on_state = state_trampoline;
            params.state_user_data = m->on_state_.get();
        }
        const char *id = c_string(id_or_path, "id_or_path");
        hfk_model *raw = nullptr;
        hfk_status status;
        {
            py::gil_scoped_release nogil;  // the worker may call on_state at once
            status = hfk_model_open(&raw, id, &params);
        }
        check(status);
        m->handle_.reset(raw, free_model);
        return m;
    }

    // (state, error, load_fraction, bytes_done, bytes_total, files_done, files_total)
    py::tuple status() const {
        auto h = handle();
        hfk_model_status st;
        check(HFK_MODEL_STATUS_INIT(&st));
        check(hfk_model_get_status(h.get(), &st));
        return py::make_tuple(st.state, st.error, st.load_fraction, st.bytes_done, st.bytes_total,
                              st.files_done, st.files_total);
    }

    std::string error_message() const { return hfk_model_error_message(handle().get()); }

    // Waits for READY (returns True), raises the model's error if it FAILED, returns False when
    // timeout_ms (< 0: forever) runs out. Waits in slices so Ctrl-C is noticed.
    bool wait(int32_t timeout_ms) const {
        auto h = handle();
        const int32_t slice = 100;
        int32_t left = timeout_ms;
        for (;;) {
            const int32_t now = timeout_ms < 0 ? slice : std::min(slice, left);
            hfk_status status;
            {
                py::gil_scoped_release nogil;
                status = hfk_model_wait(h.get(), now);
            }
            if (status == HFK_OK) return true;
            if (status != HFK_E_STATE) raise_status(status);
            if (PyErr_CheckSignals() != 0) throw py::error_already_set();
            if (timeout_ms >= 0) {
                left -= now;
                if (left <= 0) return false;
            }
        }
    }

    void close() { handle_.reset(); }
    bool closed() const { return !handle_; }
    std::shared_ptr<hfk_model> handle() const { return live(handle_, "model"); }

    ~Model() { handle_.reset(); }  // before on_state_: freeing joins the worker that calls it

    std::string architecture() const { return hfk_model_architecture(handle().get()); }
    bool is_generator() const { return hfk_model_is_generator(handle().get()) != 0; }
    int32_t context_length() const { return hfk_model_context_length(handle().get()); }
    int32_t embedding_dim() const { return hfk_model_embedding_dim(handle().get()); }
    int32_t vocab_size() const {
        return hfk_tokenizer_vocab_size(hfk_model_tokenizer(handle().get()));
    }
    int32_t special_token_id(int32_t which) const {
        return hfk_tokenizer_special_id(hfk_model_tokenizer(handle().get()), which);
    }
    std::vector<std::string> labels() const {
        auto h = handle();
        std::vector<std::string> out;
        const int32_t n = hfk_model_num_labels(h.get());
        for (int32_t i = 0; i < n; ++i) {
            const char *label = hfk_model_label(h.get(), i);
            out.emplace_back(label ? label : "");
        }
        return out;
    }

    std::vector<int32_t> tokenize(const py::handle &text, bool add_special_tokens) const {
        auto h = handle();
        const std::string utf8 = utf8_of(text, "text");
        const hfk_tokenizer *tok = hfk_model_tokenizer(h.get());
        // Most texts take fewer ids than bytes + a few specials: one call in the common case,
        // a second with the exact size otherwise.
        std::vector<int32_t> ids(utf8.size() + 8);
        int64_t n = 0;
        hfk_status status;
        {
            py::gil_scoped_release nogil;
            status = hfk_tokenize(tok, utf8.data(), utf8.size(), add_special_tokens ? 1 : 0,
                                  ids.data(), static_cast<int64_t>(ids.size()), &n);
            if (status == HFK_E_BUFFER_TOO_SMALL && n < 0) {
                ids.resize(static_cast<size_t>(-n));
                status = hfk_tokenize(tok, utf8.data(), utf8.size(), add_special_tokens ? 1 : 0,
                                      ids.data(), static_cast<int64_t>(ids.size()), &n);
            }
        }
        check(status);
        ids.resize(static_cast<size_t>(n));
        return ids;
    }

    py::str detokenize(const std::vector<int32_t> &ids, bool skip_special_tokens) const {
        auto h = handle();
        char *text = nullptr;
        size_t len = 0;
        hfk_status status;
        {
            py::gil_scoped_release nogil;
            status = hfk_detokenize(hfk_model_tokenizer(h.get()), ids.data(), ids.size(),
                                    skip_special_tokens ? 1 : 0, &text, &len);
        }
        check(status);
        std::unique_ptr<char, void (*)(void *)> owned(text, hfk_free);
        py::object s = py::reinterpret_steal<py::object>(
            PyUnicode_DecodeUTF8(text, static_cast<Py_ssize_t>(len), "replace"));
        if (!s) throw py::error_already_set();
        return s;
    }

    // Fills ONE float32 array of shape (n, dim) in place: the C call writes into numpy's
    // buffer, there is no intermediate copy. Returns it with the per-text truncation flags.
    py::tuple embed(const std::vector<py::object> &texts, int32_t pooling, int32_t normalize,
                    int32_t n_threads) const {
        auto h = handle();
        std::vector<std::string> utf8;
        utf8.reserve(texts.size());
        for (const auto &t : texts) utf8.push_back(utf8_of(t, "each text"));
        std::vector<const char *> ptrs;
        for (const auto &s : utf8) {
            if (std::memchr(s.data(), '\0', s.size()))
                throw py::value_error("a text contains a NUL character");
            ptrs.push_back(s.c_str());
        }
        const size_t dim = static_cast<size_t>(std::max(hfk_model_embedding_dim(h.get()), 0));
        py::array_t<float> out(
            {static_cast<py::ssize_t>(texts.size()), static_cast<py::ssize_t>(dim)});
        float *data = out.mutable_data();
        hfk_embed_params params;
        check(HFK_EMBED_PARAMS_INIT(&params));
        params.pooling = pooling;
        params.normalize = normalize;
        params.n_threads = n_threads;
        std::vector<int32_t> cut(texts.size(), 0);
        params.truncated_out = cut.data();
        hfk_status status;
        {
            py::gil_scoped_release nogil;
            status = hfk_model_embed(h.get(), ptrs.data(), ptrs.size(), &params, data,
                                     texts.size() * dim);
        }
        check(status);
        py::array_t<bool> truncated(static_cast<py::ssize_t>(texts.size()));
        for (size_t i = 0; i < cut.size(); ++i) truncated.mutable_data()[i] = cut[i] != 0;
        return py::make_tuple(out, truncated);
    }

    // Raw classifier logits, one (n, num_labels) array.
    py::array_t<float> classify_logits(const std::vector<py::object> &texts) const {
        return per_text_labels(texts, hfk_model_classify_logits);
    }

    // Cross-encoder scores, one (n_documents, num_labels) array written in place by the C call,
    // with the per-document truncation flags.
    py::tuple rerank(const py::object &query, const std::vector<py::object> &documents,
                     int32_t activation, int32_t n_threads) const {
        auto h = handle();
        const std::string q = utf8_of(query, "the query");
        const char *query_c = c_string(q, "the query");
        std::vector<std::string> utf8;
        utf8.reserve(documents.size());
        for (const auto &d : documents) utf8.push_back(utf8_of(d, "each document"));
        std::vector<const char *> ptrs;
        for (const auto &s : utf8) ptrs.push_back(c_string(s, "a document"));
        const size_t n_labels = static_cast<size_t>(std::max(hfk_model_num_labels(h.get()), 0));
        py::array_t<float> out(
            {static_cast<py::ssize_t>(documents.size()), static_cast<py::ssize_t>(n_labels)});
        float *data = out.mutable_data();
        hfk_rerank_params params;
        check(HFK_RERANK_PARAMS_INIT(&params));
        params.activation = activation;
        params.n_threads = n_threads;
        std::vector<int32_t> cut(documents.size(), 0);
        params.truncated_out = cut.data();
        hfk_status status;
        {
            py::gil_scoped_release nogil;
            status = hfk_model_rerank(h.get(), query_c, ptrs.data(), ptrs.size(), &params, data,
                                      documents.size() * n_labels);
        }
        check(status);
        py::array_t<bool> truncated(static_cast<py::ssize_t>(documents.size()));
        for (size_t i = 0; i < cut.size(); ++i) truncated.mutable_data()[i] = cut[i] != 0;
        return py::make_tuple(out, truncated);
    }

    py::array_t<float> classify(const std::vector<py::object> &texts) const {
        return per_text_labels(texts, hfk_model_classify);
    }

  private:
    using LabelsFn = hfk_status (*)(const hfk_model *, const char *, float *, size_t);

    // One (n, num_labels) array, row i written by fn (hfk_model_classify or its _logits form)
    // for text i with the GIL released.
    py::array_t<float> per_text_labels(const std::vector<py::object> &texts, LabelsFn fn) const {
        auto h = handle();
        std::vector<std::string> utf8;
        for (const auto &t : texts) utf8.push_back(utf8_of(t, "each text"));
        const size_t n_labels = static_cast<size_t>(std::max(hfk_model_num_labels(h.get()), 0));
        py::array_t<float> out(
            {static_cast<py::ssize_t>(texts.size()), static_cast<py::ssize_t>(n_labels)});
        float *data = out.mutable_data();
        for (size_t i = 0; i < utf8.size(); ++i) {
            if (std::memchr(utf8[i].data(), '\0', utf8[i].size()))
                throw py::value_error("a text contains a NUL character");
            hfk_status status;
            {
                py::gil_scoped_release nogil;
                status = fn(h.get(), utf8[i].c_str(), data + i * n_labels, n_labels);
            }
            check(status);
        }
        return out;
    }

    // hfk_model_free() joins an opening's worker, which may be waiting for the GIL to call
    // on_state: free without holding it.
    static void free_model(hfk_model *model) {
        if (PyGILState_Check()) {
            py::gil_scoped_release nogil;
            hfk_model_free(model);
        } else {
            hfk_model_free(model);
        }
    }

    static int32_t state_trampoline(const hfk_model_status *st, void *user_data) noexcept {
        if (!Py_IsInitialized()) return 1;
        py::gil_scoped_acquire gil;
        try {
            const auto &fn = *static_cast<py::object *>(user_data);
            py::object r =
                fn(py::make_tuple(st->state, st->error, st->load_fraction, st->bytes_done,
                                  st->bytes_total, st->files_done, st->files_total));
            return !r.is_none() && PyObject_IsTrue(r.ptr()) == 1 ? 1 : 0;
        } catch (py::error_already_set &e) {
            // No caller to raise it to (a worker thread): report it as unraisable, and cancel.
            e.discard_as_unraisable("hfkit on_state callback");
        } catch (...) {
        }
        return 1;
    }

    std::shared_ptr<py::object> on_state_;  // declared first: destroyed after handle_
    std::shared_ptr<hfk_model> handle_;
};

// All sampling options, as the Python layer passes them (None already resolved to "unset").
struct GenOptions {
    int32_t max_new_tokens = -1;
    float temperature = -1.0f;
    int32_t top_k = -1;
    float top_p = -1.0f;
    float min_p = -1.0f;
    float repetition_penalty = -1.0f;
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;
    uint64_t seed = 0;
    std::vector<std::string> stop;
    int32_t add_special_tokens = -1;
    bool ignore_eos = false;
    std::vector<int32_t> logit_bias_ids;
    std::vector<float> logit_bias_values;
    bool logprobs = false;
    int32_t top_logprobs = 0;
    int32_t constraint_kind = 0;  // HFK_CONSTRAINT_*
    std::string constraint;
};

class Engine;

class Session {
  public:
    friend class Engine;  // shares params_of
    Session(const Model &model, int32_t n_ctx, int32_t n_threads, int32_t kv_dtype,
            int32_t compute) {
        auto m = model.handle();
        hfk_session_params params;
        check(HFK_SESSION_PARAMS_INIT(&params));
        params.n_ctx = n_ctx;
        params.n_threads = n_threads;
        params.kv_dtype = kv_dtype;
        params.compute = compute;
        hfk_session *raw = nullptr;
        check(hfk_session_create(&raw, m.get(), &params));
        handle_.reset(raw, hfk_session_free);
    }

    void close() { handle_.reset(); }
    bool closed() const { return !handle_; }

    void reset() {
        auto h = live(handle_, "session");
        hfk_status status;
        {
            py::gil_scoped_release nogil;
            status = hfk_session_reset(h.get());
        }
        check(status);
    }

    // The ids the last generate produced (EOS excluded).
    std::vector<int32_t> last_tokens() {
        auto h = live(handle_, "session");
        std::vector<int32_t> ids(256);
        int64_t n = 0;
        hfk_status status =
            hfk_session_last_tokens(h.get(), ids.data(), static_cast<int64_t>(ids.size()), &n);
        if (status == HFK_E_BUFFER_TOO_SMALL && n < 0) {
            ids.resize(static_cast<size_t>(-n));
            status =
                hfk_session_last_tokens(h.get(), ids.data(), static_cast<int64_t>(ids.size()), &n);
        }
        check(status);
        ids.resize(static_cast<size_t>(n));
        return ids;
    }

    // Safe from any thread at any time (the C API says so): the running generate stops within
    // one decode step with CancelledError.
    void cancel() {
        if (auto h = handle_) hfk_session_cancel(h.get());
    }

    // Returns (text, stop_reason, n_prompt_tokens, n_reused_tokens, n_generated_tokens,
    // time_to_first_token_ms, prefill_tokens_per_s, decode_tokens_per_s).
    py::tuple generate(const py::handle &prompt, const GenOptions &o, py::object on_piece) {
        const std::string utf8 = utf8_of(prompt, "prompt");
        if (std::memchr(utf8.data(), '\0', utf8.size()))
            throw py::value_error("the prompt contains a NUL character");
        return run(o, std::move(on_piece),
                   [&](hfk_session *h, const hfk_gen_params *p, void *ctx, char **text,
                       hfk_gen_result *r) {
                       return hfk_session_generate(h, utf8.c_str(), p, piece_trampoline, ctx, text,
                                                   r);
                   });
    }

    // hfk_session_generate_tokens: the same tuple as generate.
    py::tuple generate_tokens(const std::vector<int32_t> &ids, const GenOptions &o,
                              py::object on_piece) {
        return run(o, std::move(on_piece),
                   [&](hfk_session *h, const hfk_gen_params *p, void *ctx, char **text,
                       hfk_gen_result *r) {
                       return hfk_session_generate_tokens(h, ids.data(),
                                                          static_cast<int64_t>(ids.size()), p,
                                                          piece_trampoline, ctx, text, r);
                   });
    }

    // (logprobs, top_ids, top_logprobs) of the last generate: a list of floats and two lists
    // of lists (empty rows when no top_logprobs were asked for).
    py::tuple last_logprobs() {
        auto h = live(handle_, "session");
        int64_t n = 0;
        int32_t n_top = 0;
        hfk_status st =
            hfk_session_last_logprobs(h.get(), nullptr, nullptr, nullptr, 0, &n, &n_top);
        if (st != HFK_E_BUFFER_TOO_SMALL) check(st);
        const size_t count = static_cast<size_t>(n < 0 ? -n : n);
        std::vector<float> lp(count);
        std::vector<int32_t> top_ids(count * size_t(n_top));
        std::vector<float> top_lp(count * size_t(n_top));
        check(hfk_session_last_logprobs(h.get(), lp.data(), top_ids.data(), top_lp.data(),
                                        static_cast<int64_t>(count), &n, &n_top));
        py::list ids_rows, lp_rows;
        for (size_t i = 0; i < count; ++i) {
            py::list a, b;
            for (int32_t j = 0; j < n_top; ++j) {
                a.append(top_ids[i * size_t(n_top) + size_t(j)]);
                b.append(top_lp[i * size_t(n_top) + size_t(j)]);
            }
            ids_rows.append(a);
            lp_rows.append(b);
        }
        return py::make_tuple(py::cast(lp), ids_rows, lp_rows);
    }

    int32_t n_logits() { return hfk_session_n_logits(live(handle_, "session").get()); }

    std::vector<int32_t> tokens() {
        auto h = live(handle_, "session");
        int64_t n = 0;
        hfk_status st = hfk_session_tokens(h.get(), nullptr, 0, &n);
        if (st != HFK_E_BUFFER_TOO_SMALL) check(st);
        std::vector<int32_t> ids(static_cast<size_t>(n < 0 ? -n : n));
        check(hfk_session_tokens(h.get(), ids.data(), static_cast<int64_t>(ids.size()), &n));
        return ids;
    }

    // Evaluates ids; with all_logits returns a float32 (n, n_logits) array, else None.
    py::object eval(const std::vector<int32_t> &ids, bool all_logits) {
        auto h = live(handle_, "session");
        const int64_t width = hfk_session_n_logits(h.get());
        const auto n = static_cast<int64_t>(ids.size());
        py::array_t<float> out(std::vector<py::ssize_t>{all_logits ? n : 0, width});
        float *data = all_logits ? out.mutable_data() : nullptr;
        hfk_status st;
        {
            py::gil_scoped_release nogil;
            st = hfk_session_eval(h.get(), ids.data(), n, data, all_logits ? n * width : 0);
        }
        check(st);
        if (!all_logits) return py::none();
        return out;
    }

    py::array_t<float> logits() {
        auto h = live(handle_, "session");
        py::array_t<float> out(hfk_session_n_logits(h.get()));
        int64_t n = 0;
        check(hfk_session_logits(h.get(), out.mutable_data(), out.size(), &n));
        return out;
    }

    int32_t sample(py::array_t<float, py::array::c_style | py::array::forcecast> logits,
                   const GenOptions &o) {
        auto h = live(handle_, "session");
        if (logits.ndim() != 1) throw py::value_error("logits must be one-dimensional");
        std::vector<const char *> stop;
        hfk_gen_params p = params_of(o, stop);
        int32_t id = -1;
        check(hfk_session_sample(h.get(), logits.data(), logits.size(), &p, &id));
        return id;
    }

    void set_seed(uint64_t seed) {
        check(hfk_session_set_seed(live(handle_, "session").get(), seed));
    }

    py::array_t<double> score(const std::vector<int32_t> &ids) {
        auto h = live(handle_, "session");
        py::array_t<double> out(static_cast<py::ssize_t>(ids.size()));
        double *data = out.mutable_data();
        hfk_status st;
        {
            py::gil_scoped_release nogil;
            st = hfk_session_score(h.get(), ids.data(), static_cast<int64_t>(ids.size()), data);
        }
        check(st);
        return out;
    }

    void truncate(int32_t n) { check(hfk_session_truncate(live(handle_, "session").get(), n)); }

    Session fork() {
        auto h = live(handle_, "session");
        hfk_session *raw = nullptr;
        check(hfk_session_fork(&raw, h.get()));
        Session out;
        out.handle_.reset(raw, hfk_session_free);
        return out;
    }

    void save(const std::string &path) {
        auto h = live(handle_, "session");
        const char *c = c_string(path, "the path");
        hfk_status st;
        {
            py::gil_scoped_release nogil;
            st = hfk_session_save(h.get(), c);
        }
        check(st);
    }

    void load(const std::string &path) {
        auto h = live(handle_, "session");
        const char *c = c_string(path, "the path");
        hfk_status st;
        {
            py::gil_scoped_release nogil;
            st = hfk_session_load(h.get(), c);
        }
        check(st);
    }

    // One chat turn (hfk_session_chat): the whole conversation as JSON; the same tuple as
    // generate.
    py::tuple chat(const std::string &conversation_json, std::optional<std::string> chat_template,
                   const GenOptions &o, py::object on_piece) {
        const char *conversation = c_string(conversation_json, "the conversation");
        const char *tpl = c_string_or_null(chat_template, "chat_template");
        return run(o, std::move(on_piece),
                   [&](hfk_session *h, const hfk_gen_params *p, void *ctx, char **text,
                       hfk_gen_result *r) {
                       return hfk_session_chat(h, conversation, tpl, p, piece_trampoline, ctx, text,
                                               r);
                   });
    }

  private:
    Session() = default;  // fork()'s result
    // Fills hfk_gen_params from the options, runs `call` without the GIL, and returns the
    // generate tuple. The trampoline is installed even without on_piece: it is where Ctrl-C is
    // noticed.
    // hfk_gen_params from the options; `stop` keeps the stop strings' pointers alive.
    static hfk_gen_params params_of(const GenOptions &o, std::vector<const char *> &stop) {
        for (const auto &s : o.stop) stop.push_back(c_string(s, "a stop string"));
        if (o.logit_bias_ids.size() != o.logit_bias_values.size())
            throw py::value_error("logit_bias ids and values differ in length");
        hfk_gen_params p;
        check(HFK_GEN_PARAMS_INIT(&p));
        p.max_new_tokens = o.max_new_tokens;
        p.temperature = o.temperature;
        p.top_k = o.top_k;
        p.top_p = o.top_p;
        p.min_p = o.min_p;
        p.repetition_penalty = o.repetition_penalty;
        p.presence_penalty = o.presence_penalty;
        p.frequency_penalty = o.frequency_penalty;
        p.seed = o.seed;
        p.stop = stop.empty() ? nullptr : stop.data();
        p.n_stop = static_cast<int32_t>(stop.size());
        p.add_special_tokens = o.add_special_tokens;
        p.ignore_eos = o.ignore_eos ? 1 : 0;
        p.logit_bias_ids = o.logit_bias_ids.empty() ? nullptr : o.logit_bias_ids.data();
        p.logit_bias_values = o.logit_bias_values.empty() ? nullptr : o.logit_bias_values.data();
        p.n_logit_bias = static_cast<int32_t>(o.logit_bias_ids.size());
        p.logprobs = o.logprobs ? 1 : 0;
        p.top_logprobs = o.top_logprobs;
        p.constraint_kind = o.constraint_kind;
        p.constraint = o.constraint_kind != HFK_CONSTRAINT_NONE
                           ? c_string(o.constraint, "the constraint")
                           : nullptr;
        return p;
    }

    template <typename Call>
    py::tuple run(const GenOptions &o, py::object on_piece, Call call) {
        auto h = live(handle_, "session");
        std::vector<const char *> stop;
        hfk_gen_params p = params_of(o, stop);
        hfk_gen_result r;
        check(HFK_GEN_RESULT_INIT(&r));

        CallbackContext ctx{std::move(on_piece), std::nullopt};
        char *text = nullptr;
        hfk_status status;
        {
            py::gil_scoped_release nogil;
            status = call(h.get(), &p, &ctx, &text, &r);
        }
        std::unique_ptr<char, void (*)(void *)> owned(text, hfk_free);
        ctx.rethrow();  // KeyboardInterrupt, or the callback's own exception, with traceback
        check(status);
        py::object s = py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(
            text ? text : "", static_cast<Py_ssize_t>(text ? std::strlen(text) : 0), "replace"));
        if (!s) throw py::error_already_set();
        return py::make_tuple(s, r.stop_reason, r.n_prompt_tokens, r.n_reused_tokens,
                              r.n_generated_tokens, r.time_to_first_token_ms,
                              r.prefill_tokens_per_s, r.decode_tokens_per_s);
    }

    std::shared_ptr<hfk_session> handle_;
};

// hfk_engine: requests from any Python thread. Pieces never call into Python from the engine's
// worker: a streamed request's pieces go into a queue that next_piece() reads with the GIL
// released, and a waiter thread per streamed request collects its end (hfk_engine_wait) so the
// queue knows when it is over.
class Engine {
  public:
    Engine(const Model &model, int32_t max_sequences, int32_t max_batch_tokens,
           uint64_t kv_budget_bytes, int32_t n_threads, int32_t max_queued, int32_t n_ctx,
           int32_t kv_block_tokens, int32_t kv_dtype) {
        auto m = model.handle();
        hfk_engine_params p;
        check(HFK_ENGINE_PARAMS_INIT(&p));
        p.max_sequences = max_sequences;
        p.max_batch_tokens = max_batch_tokens;
        p.kv_budget_bytes = kv_budget_bytes;
        p.n_threads = n_threads;
        p.max_queued = max_queued;
        p.n_ctx = n_ctx;
        p.kv_block_tokens = kv_block_tokens;
        p.kv_dtype = kv_dtype;
        hfk_engine *raw = nullptr;
        hfk_status st;
        {
            py::gil_scoped_release nogil;
            st = hfk_engine_create(&raw, m.get(), &p);
        }
        check(st);
        handle_.reset(raw, hfk_engine_free);
    }
    ~Engine() { close(); }

    void close() {
        std::shared_ptr<hfk_engine> h = std::move(handle_);
        if (!h) return;
        std::vector<std::shared_ptr<Request>> requests = std::move(requests_);
        requests_.clear();
        py::gil_scoped_release nogil;
        for (const auto &r : requests) r->cancel_and_join(h.get());
        h.reset();  // hfk_engine_free: cancels and joins the worker
    }
    bool closed() const { return !handle_; }

    // Returns the request id. stream: pieces are kept for next_piece().
    uint64_t submit(const py::handle &prompt, const GenOptions &o, bool stream) {
        auto h = live(handle_, "engine");
        std::vector<const char *> stop;
        hfk_gen_params p = Session::params_of(o, stop);
        std::string utf8;
        std::vector<int32_t> ids;
        if (py::isinstance<py::str>(prompt)) {
            utf8 = utf8_of(prompt, "prompt");
            if (std::memchr(utf8.data(), '\0', utf8.size()))
                throw py::value_error("the prompt contains a NUL character");
        } else {
            ids = prompt.cast<std::vector<int32_t>>();
            if (ids.empty()) throw py::value_error("the prompt ids are empty");
        }
        auto r = std::make_shared<Request>();
        hfk_request_id id = 0;
        hfk_status st;
        {
            py::gil_scoped_release nogil;
            st = hfk_engine_submit(h.get(), ids.empty() ? utf8.c_str() : nullptr,
                                   ids.empty() ? nullptr : ids.data(), int64_t(ids.size()), &p,
                                   stream ? Request::on_piece : nullptr, r.get(), &id);
        }
        check(st);
        r->id = id;
        if (stream) r->waiter = std::thread([r, h] { r->collect(h.get()); });
        requests_.push_back(r);
        return id;
    }

    // The next piece of a streamed request, or None once it has ended and every piece was
    // read. Blocks with the GIL released.
    py::object next_piece(uint64_t id) {
        auto r = find(id);
        std::optional<std::string> piece;
        {
            py::gil_scoped_release nogil;
            std::unique_lock lk(r->mu);
            r->cv.wait(lk, [&] { return !r->pieces.empty() || r->ended; });
            if (!r->pieces.empty()) {
                piece = std::move(r->pieces.front());
                r->pieces.pop_front();
            }
        }
        if (!piece) return py::none();
        return decode(*piece);
    }

    bool cancel(uint64_t id) {
        auto h = live(handle_, "engine");
        return hfk_engine_cancel(h.get(), id) == HFK_OK;
    }

    // (text, stop_reason, n_prompt_tokens, n_generated_tokens, time_to_first_token_ms,
    // logprobs); logprobs: None, or with the logprobs option (last prompt id, ids, logprobs,
    // top ids rows, top logprobs rows). Raises the request's error (CancelledError when it was
    // cancelled).
    py::tuple wait(uint64_t id) {
        auto h = live(handle_, "engine");
        auto r = find(id);
        {
            py::gil_scoped_release nogil;
            if (r->waiter.joinable())
                r->waiter.join();
            else
                r->collect(h.get());
        }
        // C++17: pip builds the module with -std=c++17, so no std::erase.
        requests_.erase(std::remove(requests_.begin(), requests_.end(), r), requests_.end());
        if (r->status != HFK_OK) raise_error(r->status, r->message);
        py::object logprobs = py::none();
        if (!r->lp_ids.empty()) {
            const size_t n_top = size_t(r->n_top);
            py::list ids_rows, lp_rows;
            for (size_t i = 0; i < r->lp_ids.size(); ++i) {
                py::list a, b;
                for (size_t j = 0; j < n_top; ++j) {
                    a.append(r->top_ids[i * n_top + j]);
                    b.append(r->top_lps[i * n_top + j]);
                }
                ids_rows.append(a);
                lp_rows.append(b);
            }
            logprobs = py::make_tuple(r->result.last_prompt_token, py::cast(r->lp_ids),
                                      py::cast(r->lps), ids_rows, lp_rows);
        }
        return py::make_tuple(decode(r->text), r->result.stop_reason, r->result.n_prompt_tokens,
                              r->result.n_generated_tokens, r->result.time_to_first_token_ms,
                              logprobs);
    }

    py::dict stats() {
        auto h = live(handle_, "engine");
        hfk_engine_statistics s;
        check(HFK_ENGINE_STATISTICS_INIT(&s));
        check(hfk_engine_stats(h.get(), &s));
        py::dict d;
        d["queued"] = s.queued;
        d["running"] = s.running;
        d["last_batch_sequences"] = s.last_batch_sequences;
        d["last_batch_tokens"] = s.last_batch_tokens;
        d["kv_blocks_used"] = s.kv_blocks_used;
        d["kv_blocks_total"] = s.kv_blocks_total;
        d["kv_block_tokens"] = s.kv_block_tokens;
        d["kv_block_bytes"] = s.kv_block_bytes;
        d["steps"] = s.steps;
        d["completed"] = s.completed;
        d["cancelled"] = s.cancelled;
        d["failed"] = s.failed;
        d["prefix_cache_hits"] = s.prefix_cache_hits;
        d["results_pending"] = s.results_pending;
        d["sequence_steps"] = s.sequence_steps;
        d["max_batch_sequences"] = s.max_batch_sequences;
        d["kv_blocks_cached"] = s.kv_blocks_cached;
        d["constraint_cache_hits"] = s.constraint_cache_hits;
        return d;
    }

  private:
    struct Request {
        uint64_t id = 0;
        std::mutex mu;
        std::condition_variable cv;
        std::deque<std::string> pieces;
        bool ended = false;
        bool collected = false;
        hfk_status status = HFK_OK;
        std::string message, text;
        hfk_engine_result result{};
        // The result's logprob arrays, copied (and freed) by collect().
        std::vector<int32_t> lp_ids, top_ids;
        std::vector<float> lps, top_lps;
        int32_t n_top = 0;
        std::thread waiter;

        static int32_t on_piece(const char *piece, size_t len, void *ud) noexcept {
            auto *r = static_cast<Request *>(ud);
            try {
                std::lock_guard lk(r->mu);
                r->pieces.emplace_back(piece, len);
            } catch (...) {
                return 1;
            }
            r->cv.notify_all();
            return 0;
        }
        // hfk_engine_wait, once; no GIL.
        void collect(hfk_engine *e) {
            if (collected) return;
            collected = true;
            HFK_ENGINE_RESULT_INIT(&result);
            char *t = nullptr;
            status = hfk_engine_wait(e, id, &t, &result);
            if (status != HFK_OK) message = hfk_last_error_message();
            text = t ? t : "";
            hfk_free(t);
            const size_t n = size_t(result.n_logprobs), n_cells = n * size_t(result.n_top_logprobs);
            if (n > 0) {
                n_top = result.n_top_logprobs;
                lp_ids.assign(result.token_ids, result.token_ids + n);
                lps.assign(result.logprobs, result.logprobs + n);
                if (n_cells > 0) {
                    top_ids.assign(result.top_ids, result.top_ids + n_cells);
                    top_lps.assign(result.top_logprobs, result.top_logprobs + n_cells);
                }
            }
            hfk_free(result.token_ids);
            hfk_free(result.logprobs);
            hfk_free(result.top_ids);
            hfk_free(result.top_logprobs);
            result.token_ids = result.top_ids = nullptr;
            result.logprobs = result.top_logprobs = nullptr;
            {
                std::lock_guard lk(mu);
                ended = true;
            }
            cv.notify_all();
        }
        void cancel_and_join(hfk_engine *e) {
            hfk_engine_cancel(e, id);
            if (waiter.joinable()) waiter.join();
        }
    };

    std::shared_ptr<Request> find(uint64_t id) {
        for (const auto &r : requests_)
            if (r->id == id) return r;
        throw py::key_error("no engine request " + std::to_string(id) +
                            " (unknown, or already waited for)");
    }
    static py::object decode(const std::string &s) {
        py::object o = py::reinterpret_steal<py::object>(
            PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
        if (!o) throw py::error_already_set();
        return o;
    }

    std::shared_ptr<hfk_engine> handle_;
    std::vector<std::shared_ptr<Request>> requests_;  // under the GIL
};

// hfk_chat_render: a conversation (JSON) rendered with the model's or the given template.
std::string chat_render(const Model &model, const std::string &conversation_json,
                        std::optional<std::string> chat_template) {
    auto h = model.handle();
    char *out = nullptr;
    hfk_status status;
    {
        py::gil_scoped_release nogil;
        status = hfk_chat_render(h.get(), conversation_json.c_str(),
                                 chat_template ? chat_template->c_str() : nullptr, &out);
    }
    std::unique_ptr<char, void (*)(void *)> owned(out, hfk_free);
    check(status);
    return out ? out : "";
}

}  // namespace

PYBIND11_MODULE(_hfkit, m) {
    m.doc() = "Low-level binding of the hfkit C API. Use the `hfkit` package instead.";

    m.def(
        "version", [] { return std::string(hfk_version_string()); },
        "The version of the loaded libhfkit, \"MAJOR.MINOR.PATCH\".");
    m.def(
        "abi_version", [] { return hfk_abi_version(); },
        "The ABI version of the loaded libhfkit (its SONAME major).");
    m.attr("HEADER_ABI_VERSION") = HFK_ABI_VERSION;
    m.def(
        "status_name", [](int32_t code) { return std::string(hfk_status_name(code)); },
        py::arg("code"), "The name of a status code, e.g. \"HFK_E_NOT_FOUND\".");

    py::class_<GenOptions>(m, "GenOptions", "Sampling options for Session.generate.")
        .def(py::init<>())
        .def_readwrite("max_new_tokens", &GenOptions::max_new_tokens, "-1: the model default")
        .def_readwrite("temperature", &GenOptions::temperature, "< 0: the model default")
        .def_readwrite("top_k", &GenOptions::top_k, "< 0: the model default")
        .def_readwrite("top_p", &GenOptions::top_p, "< 0: the model default")
        .def_readwrite("min_p", &GenOptions::min_p, "< 0: the model default")
        .def_readwrite("repetition_penalty", &GenOptions::repetition_penalty,
                       "< 0: the model default")
        .def_readwrite("presence_penalty", &GenOptions::presence_penalty, "0: off")
        .def_readwrite("frequency_penalty", &GenOptions::frequency_penalty, "0: off")
        .def_readwrite("seed", &GenOptions::seed, "the sampling seed")
        .def_readwrite("stop", &GenOptions::stop, "stop strings")
        .def_readwrite("add_special_tokens", &GenOptions::add_special_tokens,
                       "-1: the tokenizer's default, 0: no, 1: yes")
        .def_readwrite("ignore_eos", &GenOptions::ignore_eos, "do not stop at end-of-sequence")
        .def_readwrite("logit_bias_ids", &GenOptions::logit_bias_ids, "ids of logit biases")
        .def_readwrite("logit_bias_values", &GenOptions::logit_bias_values,
                       "their values (added to the logits; -inf bans)")
        .def_readwrite("logprobs", &GenOptions::logprobs, "record each token's logprob")
        .def_readwrite("top_logprobs", &GenOptions::top_logprobs, "alternatives per token, 0..20")
        .def_readwrite("constraint_kind", &GenOptions::constraint_kind,
                       "HFK_CONSTRAINT_*: 0 none, 1 GBNF, 2 JSON, 3 JSON Schema, 4 regex")
        .def_readwrite("constraint", &GenOptions::constraint,
                       "the grammar, JSON Schema or regex text");

    py::class_<HubOptions>(m, "HubOptions", "Where and how to reach the Hub (None: defaults).")
        .def(py::init<>())
        .def_readwrite("endpoint", &HubOptions::endpoint, "None: $HF_ENDPOINT or the Hub")
        .def_readwrite("token", &HubOptions::token, "None: $HF_TOKEN...; \"\": no token")
        .def_readwrite("cache_dir", &HubOptions::cache_dir, "None: $HF_HUB_CACHE...")
        .def_readwrite("revision", &HubOptions::revision, "None: \"main\"")
        .def_readwrite("offline", &HubOptions::offline, "-1: $HF_HUB_OFFLINE; 1: offline")
        .def_readwrite("max_parallel", &HubOptions::max_parallel, "<= 0: 4 files at once")
        .def_readwrite("verify", &HubOptions::verify,
                       "re-hash cached files and download again any that do not match")
        .def_readwrite("force_download", &HubOptions::force_download,
                       "download every file again, even when cached")
        .def_readwrite("allow_patterns", &HubOptions::allow_patterns,
                       "fnmatch patterns of the files to fetch; None: what a model needs")
        .def_readwrite("ignore_patterns", &HubOptions::ignore_patterns,
                       "fnmatch patterns of files not to fetch; None: none");

    m.def("prepare", &prepare, py::arg("repo_id"), py::arg("hub"),
          py::arg("on_progress") = py::none(),
          "Downloads a Hub model into the cache; returns its snapshot directory.");
    m.def("is_downloaded", &is_downloaded, py::arg("repo_id"), py::arg("hub"),
          "True when a complete snapshot is in the cache (no network).");
    m.def("remove_from_disk", &remove_from_disk, py::arg("repo_id"), py::arg("hub"),
          py::arg("force"), "Removes a model from the cache.");
    m.def("disk_usage", &disk_usage, py::arg("repo_id"), py::arg("hub"),
          "Bytes the cache uses for repo_id (None: the whole cache).");
    m.def("inspect", &inspect, py::arg("id_or_path"), py::arg("context_length"), py::arg("batch"),
          py::arg("kv_bytes_per_element"), py::arg("hub"),
          "Parameters, memory and fit from config.json and the safetensors headers (JSON).");
    m.def("downloaded_models", &downloaded_models, py::arg("hub"),
          "The cached models, as the C API's JSON text.");

    py::class_<Model>(m, "Model", "An open hfk_model handle.")
        .def_static("load", &Model::load, py::arg("id_or_path"), py::arg("n_threads"),
                    py::arg("on_progress"), py::arg("hub"), py::arg("n_ctx") = 0,
                    py::arg("skip_resource_check") = false, py::arg("quantization") = 0,
                    py::arg("keep_embeddings") = false,
                    "Loads (downloading first if needed); on_progress(tuple) may return True to "
                    "cancel.")
        .def_static("open", &Model::open, py::arg("id_or_path"), py::arg("n_threads"),
                    py::arg("hub"), py::arg("n_ctx") = 0, py::arg("skip_resource_check") = false,
                    py::arg("on_state") = py::none(), py::arg("quantization") = 0,
                    py::arg("keep_embeddings") = false,
                    "Opens without blocking; poll status() or wait(). on_state(tuple) runs on "
                    "the library's worker thread; a true return cancels.")
        .def("status", &Model::status,
             "(state, error, load_fraction, bytes_done, bytes_total, "
             "files_done, files_total)")
        .def("error_message", &Model::error_message, "Why the model FAILED (\"\" otherwise).")
        .def("wait", &Model::wait, py::arg("timeout_ms"),
             "True when READY, False on timeout; raises the error of a FAILED model.")
        .def("close", &Model::close, "Frees the handle (idempotent).")
        .def_property_readonly("closed", &Model::closed, "True after close().")
        .def_property_readonly("architecture", &Model::architecture, "\"llama\", \"bert\", ...")
        .def_property_readonly("is_generator", &Model::is_generator, "True for causal LMs.")
        .def_property_readonly("context_length", &Model::context_length, "Context in tokens.")
        .def_property_readonly("embedding_dim", &Model::embedding_dim,
                               "Embedding width; 0 for a generator.")
        .def_property_readonly("vocab_size", &Model::vocab_size, "Tokenizer vocabulary size.")
        .def_property_readonly("labels", &Model::labels, "Class names of a classifier.")
        .def("special_token_id", &Model::special_token_id, py::arg("which"),
             "Id of special token `which` (0 BOS, 1 EOS, 2 PAD, 3 UNK), or -1.")
        .def("tokenize", &Model::tokenize, py::arg("text"), py::arg("add_special_tokens"),
             "Encodes text to ids.")
        .def("detokenize", &Model::detokenize, py::arg("ids"), py::arg("skip_special_tokens"),
             "Decodes ids to text.")
        .def("embed", &Model::embed, py::arg("texts"), py::arg("pooling"), py::arg("normalize"),
             py::arg("n_threads"),
             "Embeds texts: ((n, dim) float32 array, (n,) bool array of truncated texts).")
        .def("classify", &Model::classify, py::arg("texts"),
             "Class probabilities, one (n, num_labels) float32 array.")
        .def("classify_logits", &Model::classify_logits, py::arg("texts"),
             "Raw classifier logits, one (n, num_labels) float32 array.")
        .def("rerank", &Model::rerank, py::arg("query"), py::arg("documents"),
             py::arg("activation"), py::arg("n_threads"),
             "Cross-encoder scores of (query, document) pairs: ((n, num_labels) float32 array, "
             "(n,) bool array of truncated pairs).");

    m.def("chat_render", &chat_render, py::arg("model"), py::arg("conversation_json"),
          py::arg("chat_template"),
          "A conversation rendered by a chat template (hfk_chat_render).");
    py::class_<Engine>(m, "Engine", "An open hfk_engine handle (continuous batching).")
        .def(py::init<const Model &, int32_t, int32_t, uint64_t, int32_t, int32_t, int32_t, int32_t,
                      int32_t>(),
             py::arg("model"), py::arg("max_sequences"), py::arg("max_batch_tokens"),
             py::arg("kv_budget_bytes"), py::arg("n_threads"), py::arg("max_queued"),
             py::arg("n_ctx"), py::arg("kv_block_tokens"), py::arg("kv_dtype"),
             py::keep_alive<1, 2>(),
             "Creates an engine on a generator model; keeps the model alive.")
        .def("close", &Engine::close, "Cancels every request and frees the handle.")
        .def_property_readonly("closed", &Engine::closed)
        .def("submit", &Engine::submit, py::arg("prompt"), py::arg("options"), py::arg("stream"),
             "Queues a request (str or token ids); returns its id.")
        .def("next_piece", &Engine::next_piece, py::arg("id"),
             "The next piece of a streamed request, None at its end (GIL released).")
        .def("cancel", &Engine::cancel, py::arg("id"), "Cancels a request (any thread).")
        .def("wait", &Engine::wait, py::arg("id"),
             "(text, stop_reason, n_prompt_tokens, n_generated_tokens, ttft_ms); raises its error.")
        .def("stats", &Engine::stats, "The engine's counters.");

    py::class_<Session>(m, "Session", "An open hfk_session handle.")
        .def(py::init<const Model &, int32_t, int32_t, int32_t, int32_t>(), py::arg("model"),
             py::arg("n_ctx") = 0, py::arg("n_threads") = 0, py::arg("kv_dtype") = 0,
             py::arg("compute") = 0, py::keep_alive<1, 2>(),
             "Creates a session on a generator model; keeps the model alive.")
        .def("close", &Session::close, "Frees the handle (idempotent).")
        .def_property_readonly("closed", &Session::closed, "True after close().")
        .def("reset", &Session::reset, "Forgets the conversation.")
        .def("cancel", &Session::cancel, "Stops a running generate (any thread).")
        .def("last_tokens", &Session::last_tokens, "The ids the last generate produced.")
        .def("chat", &Session::chat, py::arg("conversation_json"), py::arg("chat_template"),
             py::arg("options"), py::arg("on_piece") = py::none(),
             "One chat turn over the whole conversation (hfk_session_chat).")
        .def("generate_tokens", &Session::generate_tokens, py::arg("ids"), py::arg("options"),
             py::arg("on_piece") = py::none(),
             "Generates after the session's tokens plus ids; the same tuple as generate.")
        .def("last_logprobs", &Session::last_logprobs,
             "(logprobs, top_ids, top_logprobs) of the last generate.")
        .def_property_readonly("n_logits", &Session::n_logits, "Width of the logits.")
        .def("tokens", &Session::tokens, "The ids the session holds.")
        .def("eval", &Session::eval, py::arg("ids"), py::arg("all_logits") = false,
             "Runs ids; returns (n, n_logits) float32 logits when all_logits, else None.")
        .def("logits", &Session::logits, "The logits after the last token (float32).")
        .def("sample", &Session::sample, py::arg("logits"), py::arg("options"),
             "Samples an id from logits with the session's generator.")
        .def("set_seed", &Session::set_seed, py::arg("seed"), "Reseeds the session's generator.")
        .def("score", &Session::score, py::arg("ids"),
             "log p(ids[i] | tokens, ids[:i]) per id (float64; NaN for an empty session's "
             "first).")
        .def("truncate", &Session::truncate, py::arg("n_tokens"), "Keeps the first n tokens.")
        .def("fork", &Session::fork, "A copy of the session's state in a new session.")
        .def("save", &Session::save, py::arg("path"), "Saves the state to a file.")
        .def("load", &Session::load, py::arg("path"), "Restores a state saved by save().")
        .def("generate", &Session::generate, py::arg("prompt"), py::arg("options"),
             py::arg("on_piece") = py::none(),
             "Generates; returns (text, stop_reason, n_prompt_tokens, n_reused_tokens, "
             "n_generated_tokens, time_to_first_token_ms, prefill_tokens_per_s, "
             "decode_tokens_per_s).");
}
