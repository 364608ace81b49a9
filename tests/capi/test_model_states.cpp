// One handle from model id to ready (issue 7), through the public C API against the local Hub:
// the state sequence, failures, shared weights, prepare joining, free at any time, and the
// memory check.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../support/test_support.h"
#include "capi_hub_fixture.h"
#include "hfkit/hfkit.h"

namespace {

using hfk_test::CapiHubServerTest;
using hfk_test::HubServer;

struct Recorder {
    std::mutex mu;
    std::vector<hfk_model_status> events;
};

int32_t record(const hfk_model_status *s, void *ud) {
    auto *r = static_cast<Recorder *>(ud);
    std::lock_guard lock(r->mu);
    r->events.push_back(*s);
    return 0;
}

class ModelStates : public CapiHubServerTest {
  protected:
    // Opens without blocking and waits; returns the final status.
    hfk_status open_and_wait(const std::string &id, Recorder *rec, hfk_model **out,
                             const hfk_hub_params *hp = nullptr) {
        hfk_hub_params h = hp ? *hp : hub();
        hfk_load_params lp;
        HFK_LOAD_PARAMS_INIT(&lp);
        lp.hub = &h;
        lp.n_threads = 1;
        lp.on_state = rec ? record : nullptr;
        lp.state_user_data = rec;
        EXPECT_EQ(hfk_model_open(out, id.c_str(), &lp), HFK_OK) << hfk_last_error_message();
        return hfk_model_wait(*out, 60000);
    }
};

// Mappings of files under `dir_part` in this process (one per mmap of a checkpoint file).
int mappings_of(const std::string &path_part) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    int n = 0;
    while (std::getline(maps, line))
        if (line.find(path_part) != std::string::npos) ++n;
    return n;
}

TEST_F(ModelStates, DownloadAndLoadGoThroughEveryStateInOrder) {
    Recorder rec;
    hfk_model *m = nullptr;
    ASSERT_EQ(open_and_wait("hfkit-test/aidreams260K", &rec, &m), HFK_OK)
        << hfk_last_error_message();
    std::vector<int32_t> states;
    int64_t last_bytes = -1;
    double last_fraction = -1;
    for (const auto &e : rec.events) {
        if (states.empty() || states.back() != e.state) states.push_back(e.state);
        if (e.state == HFK_MODEL_DOWNLOADING) {
            EXPECT_GE(e.bytes_done, last_bytes) << "download progress went backwards";
            last_bytes = e.bytes_done;
        }
        if (e.state == HFK_MODEL_LOADING) {
            EXPECT_GE(e.load_fraction, last_fraction);
            last_fraction = e.load_fraction;
        }
    }
    const std::vector<int32_t> want = {HFK_MODEL_PENDING, HFK_MODEL_DOWNLOADING, HFK_MODEL_LOADING,
                                       HFK_MODEL_READY};
    EXPECT_EQ(states, want);
    EXPECT_GT(last_bytes, 900000) << "the weights (~0.9 MB) were not counted";
    hfk_model_status st;
    HFK_MODEL_STATUS_INIT(&st);
    ASSERT_EQ(hfk_model_get_status(m, &st), HFK_OK);
    EXPECT_EQ(st.state, HFK_MODEL_READY);
    EXPECT_STREQ(hfk_model_architecture(m), "llama");

    // It generates.
    hfk_session *s = nullptr;
    ASSERT_EQ(hfk_session_create(&s, m, nullptr), HFK_OK);
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    p.max_new_tokens = 6;
    char *text = nullptr;
    ASSERT_EQ(hfk_session_generate(s, "", &p, nullptr, nullptr, &text, nullptr), HFK_OK);
    EXPECT_EQ(std::string(text).rfind("\"Echoes", 0), 0u) << text;
    hfk_free(text);
    hfk_session_free(s);
    hfk_model_free(m);
}

// Greedy text of `n` tokens from BOS on a fresh session of `m`.
std::string greedy_from_bos(hfk_model *m, int32_t n) {
    hfk_session *s = nullptr;
    EXPECT_EQ(hfk_session_create(&s, m, nullptr), HFK_OK);
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    p.max_new_tokens = n;
    p.temperature = 0;
    p.ignore_eos = 1;
    char *text = nullptr;
    EXPECT_EQ(hfk_session_generate(s, "", &p, nullptr, nullptr, &text, nullptr), HFK_OK)
        << hfk_last_error_message();
    std::string out = text ? text : "";
    hfk_free(text);
    hfk_session_free(s);
    return out;
}

// RELIABILITY D32: a forced download renames fresh blobs over the cached ones while a model is
// open on them. The open model keeps its mapping of the old inode (shown "(deleted)" in
// /proc/self/maps; no SIGBUS) and generates the same text; a model opened afterwards reads the
// new blob.
TEST_F(ModelStates, ForcedDownloadLeavesAnOpenModelWorking) {
    const std::string weights_sha =
        "255f510375d6fdceeae590cc9b07ddbbe124610ac805bd15e80b9026f12dcbfd";
    hfk_model *m = nullptr;
    ASSERT_EQ(open_and_wait("hfkit-test/aidreams260K", nullptr, &m), HFK_OK)
        << hfk_last_error_message();
    const std::string before = greedy_from_bos(m, 24);
    ASSERT_EQ(before.rfind("\"Echoes", 0), 0u) << before;
    EXPECT_EQ(mappings_of(weights_sha + " (deleted)"), 0);

    server->clear_log();
    hfk_hub_params h = hub();
    h.force_download = 1;
    char *dir = nullptr;
    ASSERT_EQ(hfk_prepare("hfkit-test/aidreams260K", &h, &dir), HFK_OK) << hfk_last_error_message();
    hfk_free(dir);
    EXPECT_EQ(server->count("cdn", "GET"), 1) << "the weights were not downloaded again";
    EXPECT_GE(mappings_of(weights_sha + " (deleted)"), 1) << "the blob was not replaced";
    EXPECT_EQ(greedy_from_bos(m, 24), before);
    hfk_model_free(m);

    // Without force, a prepare is instant again; a new model maps the new blob.
    server->clear_log();
    hfk_model *fresh = nullptr;
    ASSERT_EQ(open_and_wait("hfkit-test/aidreams260K", nullptr, &fresh), HFK_OK);
    EXPECT_EQ(server->count("cdn", "GET"), 0);
    EXPECT_EQ(greedy_from_bos(fresh, 24), before);
    EXPECT_EQ(mappings_of(weights_sha + " (deleted)"), 0);
    hfk_model_free(fresh);
}

struct FailureCase {
    const char *repo;
    hfk_status status;
    const char *message_part;
};

TEST_F(ModelStates, FailuresEndInFailedWithStatusAndMessage) {
    const FailureCase cases[] = {
        {"hfkit-test/missing", HFK_E_NOT_FOUND, "hfkit-test/missing"},
        {"hfkit-test/gated", HFK_E_GATED, ""},
        {"hfkit-test/corrupt", HFK_E_CHECKSUM, "model.safetensors"},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.repo);
        Recorder rec;
        hfk_model *m = nullptr;
        EXPECT_EQ(open_and_wait(c.repo, &rec, &m), c.status) << hfk_last_error_message();
        hfk_model_status st;
        HFK_MODEL_STATUS_INIT(&st);
        ASSERT_EQ(hfk_model_get_status(m, &st), HFK_OK);
        EXPECT_EQ(st.state, HFK_MODEL_FAILED);
        EXPECT_EQ(st.error, c.status);
        EXPECT_NE(std::string(hfk_model_error_message(m)).find(c.message_part), std::string::npos)
            << hfk_model_error_message(m);
        ASSERT_FALSE(rec.events.empty());
        EXPECT_EQ(rec.events.back().state, HFK_MODEL_FAILED);
        EXPECT_EQ(hfk_session_create(nullptr, m, nullptr), HFK_E_INVALID_ARG);
        hfk_session *s = nullptr;
        EXPECT_EQ(hfk_session_create(&s, m, nullptr), HFK_E_STATE);
        hfk_model_free(m);
    }
}

TEST_F(ModelStates, UnsupportedArchitectureFails) {
    hfk_test::TempDir dir;
    const auto src = std::filesystem::path(hfk_test::source_dir()) / "models/aidreams260K";
    for (const auto &e : std::filesystem::directory_iterator(src))
        std::filesystem::copy(e.path(), dir.path / e.path().filename());
    auto cfg = nlohmann::json::parse(std::ifstream(dir.path / "config.json"));
    cfg["model_type"] = "mamba";
    cfg["architectures"] = {"MambaForCausalLM"};
    std::ofstream(dir.path / "config.json") << cfg.dump();
    Recorder rec;
    hfk_model *m = nullptr;
    EXPECT_EQ(open_and_wait(dir.path.string(), &rec, &m), HFK_E_UNSUPPORTED);
    EXPECT_NE(std::string(hfk_model_error_message(m)).find("mamba"), std::string::npos)
        << hfk_model_error_message(m);
    EXPECT_NE(std::string(hfk_model_error_message(m)).find("llama"), std::string::npos)
        << "the message should list the supported types";
    hfk_model_free(m);
}

// Resident memory of this process, from /proc/self/status.
int64_t rss_bytes() {
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
        if (key == "VmRSS:") {
            int64_t kb = 0;
            status >> kb;
            return kb * 1024;
        }
        std::getline(status, key);
    }
    return -1;
}

// Whole-file downloads from the CDN (the inspector's header reads carry a Range).
int whole_file_downloads(const HubServer &server) {
    int n = 0;
    for (auto &e : server.log())
        if (e["host"] == "cdn" && e["method"] == "GET" && e["range"].is_null()) ++n;
    return n;
}

TEST_F(ModelStates, TwoThreadsOpeningOneModelDownloadAndLoadOnce) {
    {
        // Warm up what stays for the life of the process (thread pools, libcurl, malloc arenas
        // of the download threads) on another repository, so the RSS comparison below sees
        // mostly what the two handles added.
        hfk_model *warm = nullptr;
        ASSERT_EQ(open_and_wait("hfkit-test/tiny-gpt2", nullptr, &warm), HFK_OK);
        hfk_model_free(warm);
        server->get("/_log/clear");
    }
    const int64_t rss_before = rss_bytes();
    hfk_model *a = nullptr, *b = nullptr;
    hfk_status sa = HFK_E_INTERNAL, sb = HFK_E_INTERNAL;
    std::thread ta([&] { sa = open_and_wait("hfkit-test/aidreams260K", nullptr, &a); });
    std::thread tb([&] { sb = open_and_wait("hfkit-test/aidreams260K", nullptr, &b); });
    ta.join();
    tb.join();
    ASSERT_EQ(sa, HFK_OK);
    ASSERT_EQ(sb, HFK_OK);
    EXPECT_EQ(whole_file_downloads(*server), 1)  // the only LFS file: model.safetensors
        << "the weights were downloaded more than once";
    // One load: the blob is mapped once in this process, shared by both handles.
    const std::string blobs = (cache.path / "hub/models--hfkit-test--aidreams260K/blobs").string();
    EXPECT_EQ(mappings_of(blobs), 1);
    hfk_model_free(a);
    EXPECT_EQ(mappings_of(blobs), 1) << "freeing one handle unmapped the other's weights";
    hfk_model_free(b);
    EXPECT_EQ(mappings_of(blobs), 0) << "the weights stayed mapped after the last handle went";
    // "Within a few MB" (the acceptance criterion). These weights are only 0.9 MB, so the
    // mapping count above is the decisive check; this one catches gross leaks (buffers, KV).
    // Not under AddressSanitizer: its quarantine keeps freed memory resident on purpose (the
    // leak checker covers that build instead).
#if !HFK_TEST_ASAN
    EXPECT_LT(rss_bytes() - rss_before, 8 << 20) << "memory did not go back after both frees";
#else
    (void)rss_before;
#endif
}

// A model too large for this machine is refused from its config and safetensors headers,
// before the download: the weights never leave the server.
class ModelStatesHugeRepo : public ModelStates {
  protected:
    std::vector<std::string> server_args() override {
        const auto src = std::filesystem::path(hfk_test::source_dir()) / "models/aidreams260K";
        for (const auto &e : std::filesystem::directory_iterator(src))
            std::filesystem::copy(e.path(), huge.path / e.path().filename());
        auto cfg = nlohmann::json::parse(std::ifstream(huge.path / "config.json"));
        // A KV cache of terabytes even for the 4096 tokens the check assumes by default.
        cfg["num_hidden_layers"] = 1024;
        cfg["hidden_size"] = 1 << 16;
        cfg["num_key_value_heads"] = cfg["num_attention_heads"];
        cfg["max_position_embeddings"] = 1 << 24;
        std::ofstream(huge.path / "config.json") << cfg.dump();
        return {"--repo", "huge=" + huge.path.string()};
    }
    hfk_test::TempDir huge;
};

TEST_F(ModelStatesHugeRepo, IsRefusedBeforeItsWeightsAreDownloaded) {
    Recorder rec;
    hfk_model *m = nullptr;
    EXPECT_EQ(open_and_wait("hfkit-test/huge", &rec, &m), HFK_E_RESOURCE);
    const std::string msg = hfk_model_error_message(m);
    EXPECT_NE(msg.find("needs about"), std::string::npos) << msg;
    EXPECT_NE(msg.find("available"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not downloaded"), std::string::npos) << msg;
    EXPECT_EQ(whole_file_downloads(*server), 0) << "the weights were downloaded anyway";
    EXPECT_EQ(rec.events.back().state, HFK_MODEL_FAILED);
    hfk_model_free(m);
}

TEST_F(ModelStates, PrepareJoinsAPrepareInProgressAndTheSecondDownloadsNothing) {
    hfk_hub_params h = hub();
    char *dir_a = nullptr, *dir_b = nullptr;
    hfk_status sa = HFK_E_INTERNAL, sb = HFK_E_INTERNAL;
    std::thread ta([&] { sa = hfk_prepare("hfkit-test/slow", &h, &dir_a); });
    std::thread tb([&] { sb = hfk_prepare("hfkit-test/slow", &h, &dir_b); });
    ta.join();
    tb.join();
    ASSERT_EQ(sa, HFK_OK) << hfk_last_error_message();
    ASSERT_EQ(sb, HFK_OK);
    EXPECT_STREQ(dir_a, dir_b);
    EXPECT_EQ(server->count("cdn", "GET"), 1);  // the only LFS file: model.safetensors
    hfk_free(dir_a);
    hfk_free(dir_b);
    server->clear_log();
    char *again = nullptr;
    ASSERT_EQ(hfk_prepare("hfkit-test/slow", &h, &again), HFK_OK);
    hfk_free(again);
    EXPECT_EQ(server->count("cdn", "GET"), 0) << "a complete snapshot was downloaded again";
    int32_t yes = 0;
    ASSERT_EQ(hfk_is_downloaded("hfkit-test/slow", &h, &yes), HFK_OK);
    EXPECT_EQ(yes, 1);
}

// Signalled by the state callback when the opening reaches a state at or past `until` (with at
// least `min_bytes` downloaded while DOWNLOADING), so a test frees the handle at a chosen point
// instead of after a guessed sleep. A callback after hfk_model_free has returned is recorded as a
// violation; the watches live until the end of the test so such a callback could never touch freed
// memory.
struct StateWatch {
    int32_t until = HFK_MODEL_READY;
    int64_t min_bytes = 0;
    std::mutex mu;
    std::condition_variable cv;
    bool reached = false;
    std::atomic<bool> freed{false};
    std::atomic<int> after_free{0};

    static int32_t on_state(const hfk_model_status *s, void *ud) {
        auto *w = static_cast<StateWatch *>(ud);
        if (w->freed) w->after_free.fetch_add(1);
        const bool past = s->state > w->until && s->state != HFK_MODEL_FAILED;
        const bool at = s->state == w->until &&
                        (s->state != HFK_MODEL_DOWNLOADING || s->bytes_done >= w->min_bytes);
        if (past || at || s->state == HFK_MODEL_FAILED) {
            std::lock_guard lock(w->mu);
            w->reached = true;
            w->cv.notify_all();
        }
        return 0;
    }
    // True when the point was reached (bounded, so a broken callback fails instead of hanging).
    bool wait() {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, std::chrono::seconds(60), [&] { return reached; });
    }
};

TEST_F(ModelStates, FreeDuringDownloadAndDuringLoadRepeatedly) {
    hfk_hub_params h = hub();
    std::vector<std::unique_ptr<StateWatch>> watches;
    // Mid-download, at 12 points from "just opened" to ~0.8 MB of the ~0.9 MB of weights: each free
    // stops the download and leaves a resumable partial file.
    for (int i = 0; i < 12; ++i) {
        auto &w = *watches.emplace_back(std::make_unique<StateWatch>());
        w.until = HFK_MODEL_DOWNLOADING;
        w.min_bytes = int64_t(i) * 70000;
        hfk_load_params lp;
        HFK_LOAD_PARAMS_INIT(&lp);
        lp.hub = &h;
        lp.on_state = StateWatch::on_state;
        lp.state_user_data = &w;
        hfk_model *m = nullptr;
        ASSERT_EQ(hfk_model_open(&m, "hfkit-test/slow", &lp), HFK_OK);
        if (i > 0) {
            EXPECT_TRUE(w.wait()) << "the download never reached " << w.min_bytes << " bytes";
        }
        hfk_model_free(m);
        w.freed = true;
    }
    // A local checkpoint, freed right after the open, while it loads, and once it is ready.
    const auto local = std::filesystem::path(hfk_test::source_dir()) / "models/aidreams260K";
    for (int i = 0; i < 12; ++i) {
        auto &w = *watches.emplace_back(std::make_unique<StateWatch>());
        w.until = i % 3 == 1 ? HFK_MODEL_LOADING : HFK_MODEL_READY;
        hfk_model *m = nullptr;
        hfk_load_params lp;
        HFK_LOAD_PARAMS_INIT(&lp);
        lp.on_state = StateWatch::on_state;
        lp.state_user_data = &w;
        ASSERT_EQ(hfk_model_open(&m, local.c_str(), &lp), HFK_OK);
        if (i % 3 != 0) {
            EXPECT_TRUE(w.wait()) << "state " << w.until << " never reported";
        }
        hfk_model_free(m);  // no callback may run after this returns
        w.freed = true;
    }
    // The interrupted downloads did not poison the cache: a full prepare still works.
    char *dir = nullptr;
    EXPECT_EQ(hfk_prepare("hfkit-test/slow", &h, &dir), HFK_OK) << hfk_last_error_message();
    hfk_free(dir);
    for (size_t i = 0; i < watches.size(); ++i)
        EXPECT_EQ(watches[i]->after_free, 0)
            << "a state callback ran after hfk_model_free (" << i << ")";
}

struct SelfFree {
    std::mutex mu;
    std::condition_variable cv;
    hfk_model *model = nullptr;  // published once hfk_model_open has returned
    bool freed = false;          // set by the callback once its hfk_model_free has returned
};

TEST_F(ModelStates, FreeFromInsideTheStateCallback) {
    SelfFree ctx;
    hfk_hub_params h = hub();
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    lp.hub = &h;
    lp.on_state = [](const hfk_model_status *s, void *ud) -> int32_t {
        auto *c = static_cast<SelfFree *>(ud);
        if (s->state != HFK_MODEL_DOWNLOADING) return 0;
        std::unique_lock lock(c->mu);
        if (c->freed) return 0;
        // The callback may run before hfk_model_open returns: it waits for the handle.
        if (!c->cv.wait_for(lock, std::chrono::seconds(60), [&] { return c->model != nullptr; }))
            return 0;
        hfk_model *m = c->model;
        lock.unlock();
        hfk_model_free(m);
        // The test may end as soon as `freed` is published: nothing touches *c after this.
        lock.lock();
        c->freed = true;
        c->cv.notify_all();
        return 0;
    };
    lp.state_user_data = &ctx;
    hfk_model *m = nullptr;
    ASSERT_EQ(hfk_model_open(&m, "hfkit-test/slow", &lp), HFK_OK);
    std::unique_lock lock(ctx.mu);
    ctx.model = m;
    ctx.cv.notify_all();
    EXPECT_TRUE(ctx.cv.wait_for(lock, std::chrono::seconds(60), [&] { return ctx.freed; }));
}

// Like every callback of the API, a non-zero return means stop: the opening ends FAILED with
// HFK_E_CANCELLED, whether it is downloading or about to load a local checkpoint, and the blob
// of an interrupted download is not published.
TEST_F(ModelStates, NonZeroFromTheStateCallbackCancelsTheOpening) {
    struct StopAt {
        int32_t state;
        std::vector<int32_t> seen;  // only the worker writes, before the final announcement
    };
    auto stop_at = [](const hfk_model_status *s, void *ud) -> int32_t {
        auto *c = static_cast<StopAt *>(ud);
        c->seen.push_back(s->state);
        return s->state == c->state ? 1 : 0;
    };
    const auto local = std::filesystem::path(hfk_test::source_dir()) / "models/aidreams260K";
    hfk_hub_params h = hub();
    struct Case {
        std::string id;
        int32_t state;
    } cases[] = {{local.string(), HFK_MODEL_PENDING}, {"hfkit-test/slow", HFK_MODEL_DOWNLOADING}};
    for (const Case &k : cases) {
        StopAt ctx{k.state, {}};
        hfk_load_params lp;
        HFK_LOAD_PARAMS_INIT(&lp);
        lp.hub = &h;
        lp.n_threads = 1;
        lp.on_state = stop_at;
        lp.state_user_data = &ctx;
        hfk_model *m = nullptr;
        ASSERT_EQ(hfk_model_open(&m, k.id.c_str(), &lp), HFK_OK);
        EXPECT_EQ(hfk_model_wait(m, 30000), HFK_E_CANCELLED) << k.id;
        hfk_model_status st;
        HFK_MODEL_STATUS_INIT(&st);
        ASSERT_EQ(hfk_model_get_status(m, &st), HFK_OK);
        EXPECT_EQ(st.state, HFK_MODEL_FAILED);
        EXPECT_EQ(st.error, HFK_E_CANCELLED);
        ASSERT_FALSE(ctx.seen.empty());
        EXPECT_EQ(ctx.seen.back(), HFK_MODEL_FAILED) << k.id;
        for (int32_t s : ctx.seen) EXPECT_NE(s, HFK_MODEL_READY) << k.id;
        hfk_model_free(m);
    }
    int32_t is = -1;
    EXPECT_EQ(hfk_is_downloaded("hfkit-test/slow", &h, &is), HFK_OK);
    EXPECT_EQ(is, 0);
}

TEST_F(ModelStates, MemoryCheckRefusesAModelTooLargeForThisMachine) {
    hfk_test::TempDir dir;
    const auto src = std::filesystem::path(hfk_test::source_dir()) / "models/aidreams260K";
    for (const auto &e : std::filesystem::directory_iterator(src))
        std::filesystem::copy(e.path(), dir.path / e.path().filename());
    auto cfg = nlohmann::json::parse(std::ifstream(dir.path / "config.json"));
    // A KV cache of 2 x 1024 layers x 2^16 x 4096 positions (the context the check assumes)
    // x 4 bytes: terabytes.
    cfg["hidden_size"] = 1 << 16;
    cfg["num_attention_heads"] = 32;
    cfg["num_key_value_heads"] = 32;
    cfg["num_hidden_layers"] = 1024;
    cfg["max_position_embeddings"] = 1 << 20;
    std::ofstream(dir.path / "config.json") << cfg.dump();
    hfk_model *m = nullptr;
    EXPECT_EQ(hfk_model_load(&m, dir.path.c_str(), nullptr), HFK_E_RESOURCE);
    const std::string msg = hfk_last_error_message();
    EXPECT_NE(msg.find("needs about"), std::string::npos) << msg;
    EXPECT_NE(msg.find("available"), std::string::npos) << msg;
    EXPECT_NE(msg.find("MiB"), std::string::npos) << msg;
    // The override skips the check (and the mismatched weights then fail the load itself).
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    lp.skip_resource_check = 1;
    EXPECT_EQ(hfk_model_load(&m, dir.path.c_str(), &lp), HFK_E_FORMAT) << hfk_last_error_message();
}

TEST_F(ModelStates, RemovingAModelInUseIsRefusedUnlessForced) {
    hfk_model *m = nullptr;
    ASSERT_EQ(open_and_wait("hfkit-test/aidreams260K", nullptr, &m), HFK_OK);
    hfk_hub_params h = hub();
    uint64_t bytes = 0;
    ASSERT_EQ(hfk_disk_usage("hfkit-test/aidreams260K", &h, &bytes), HFK_OK);
    EXPECT_GT(bytes, 900000u);
    EXPECT_EQ(hfk_remove_from_disk("hfkit-test/aidreams260K", &h, 0), HFK_E_IN_USE);
    char *json = nullptr;
    ASSERT_EQ(hfk_downloaded_models(&h, &json), HFK_OK);
    const auto listing = nlohmann::json::parse(json);
    hfk_free(json);
    ASSERT_EQ(listing.size(), 1u);
    EXPECT_EQ(listing[0]["repo_id"], "hfkit-test/aidreams260K");
    hfk_model_free(m);
    EXPECT_EQ(hfk_remove_from_disk("hfkit-test/aidreams260K", &h, 0), HFK_OK)
        << hfk_last_error_message();
    int32_t yes = 1;
    ASSERT_EQ(hfk_is_downloaded("hfkit-test/aidreams260K", &h, &yes), HFK_OK);
    EXPECT_EQ(yes, 0);
    EXPECT_EQ(hfk_remove_from_disk("hfkit-test/aidreams260K", &h, 0), HFK_E_NOT_FOUND);
}

}  // namespace
