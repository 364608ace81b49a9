// Issue 15, model lifecycle, through the public C API against the local Hub: the state callback
// gets the handle (and may use or free it before hfk_model_open has returned it), a model already
// loaded in this process opens PENDING -> READY with no Hub request, load progress never goes
// back for a handle waiting on another's load, and hfk_model_load reports the same states to
// on_state. Threads are ordered with condition variables only (these tests also run under TSan).
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "capi_hub_fixture.h"
#include "hfkit/hfkit.h"

namespace {

using hfk_test::CapiHubServerTest;
namespace fs = std::filesystem;

// A one-shot signal between threads; wait() has a generous bound so that a bug fails the test
// instead of hanging it (it is never a way to order threads by time).
class Latch {
  public:
    // Notifies under the lock: the waiter may destroy the latch as soon as it wakes.
    void open() {
        std::lock_guard lock(mu_);
        open_ = true;
        cv_.notify_all();
    }
    bool wait() {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return open_; });
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool open_ = false;
};

struct Events {
    std::mutex mu;
    std::vector<hfk_model_status> list;
    void add(const hfk_model_status &s) {
        std::lock_guard lock(mu);
        list.push_back(s);
    }
    std::vector<int32_t> states() {
        std::lock_guard lock(mu);
        std::vector<int32_t> out;
        for (const auto &e : list)
            if (out.empty() || out.back() != e.state) out.push_back(e.state);
        return out;
    }
};

int32_t record(const hfk_model_status *s, void *ud) {
    static_cast<Events *>(ud)->add(*s);
    return 0;
}

class ModelStatesLifecycle : public CapiHubServerTest {
  protected:
    void SetUp() override {
        CapiHubServerTest::SetUp();
        for (const auto &e :
             fs::directory_iterator(fs::path(hfk_test::source_dir()) / "models/aidreams260K"))
            fs::copy_file(e.path(), local.path / e.path().filename());
    }
    hfk_load_params load_params(hfk_state_cb cb, void *ud, const hfk_hub_params *h) const {
        hfk_load_params lp;
        HFK_LOAD_PARAMS_INIT(&lp);
        lp.n_threads = 1;
        lp.hub = h;
        lp.on_state = cb;
        lp.state_user_data = ud;
        return lp;
    }
    hfk_test::TempDir local;  // a private copy of the default model: nobody else has it loaded
};

// Greedy text of n tokens from "Once" on a new session of `m`.
std::string greedy_text(hfk_model *m, int32_t n) {
    hfk_session *s = nullptr;
    if (hfk_session_create(&s, m, nullptr) != HFK_OK) return "<no session>";
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    p.max_new_tokens = n;
    p.temperature = 0;
    p.ignore_eos = 1;
    char *text = nullptr;
    const hfk_status st = hfk_session_generate(s, "Once", &p, nullptr, nullptr, &text, nullptr);
    std::string out = st == HFK_OK && text ? text : "<failed>";
    hfk_free(text);
    hfk_session_free(s);
    return out;
}

// Item 18. The callback uses the handle it is given, at READY, without the value open returns:
// it creates a session and generates. A model already loaded is READY within microseconds, so
// READY often arrives before open has returned; whichever comes first, the callback never
// needs the caller's copy of the handle.
TEST_F(ModelStatesLifecycle, StateCallbackUsesTheHandleItIsGivenAtReady) {
    hfk_model *first = nullptr;
    {
        hfk_load_params lp = load_params(nullptr, nullptr, nullptr);
        ASSERT_EQ(hfk_model_load(&first, local.path.c_str(), &lp), HFK_OK)
            << hfk_last_error_message();
    }
    const std::string want = greedy_text(first, 8);
    ASSERT_EQ(want.rfind("<", 0), std::string::npos) << want;

    struct Ctx {
        Latch ready;
        std::atomic<bool> open_returned{false};
        std::atomic<int> ready_before_return{0};
        std::mutex mu;
        std::vector<hfk_model *> handles;  // status->model of every event
        std::string text;                  // generated from inside the READY callback
    };
    int before = 0;
    for (int round = 0; round < 20; ++round) {
        Ctx ctx;
        auto cb = [](const hfk_model_status *s, void *ud) -> int32_t {
            auto *c = static_cast<Ctx *>(ud);
            {
                std::lock_guard lock(c->mu);
                c->handles.push_back(s->model);
            }
            if (s->state == HFK_MODEL_READY) {
                if (!c->open_returned.load()) c->ready_before_return.fetch_add(1);
                hfk_model_status polled;
                HFK_MODEL_STATUS_INIT(&polled);
                if (s->model && hfk_model_get_status(s->model, &polled) == HFK_OK &&
                    polled.state == HFK_MODEL_READY && polled.model == s->model)
                    c->text = greedy_text(s->model, 8);
                c->ready.open();
            }
            return 0;
        };
        hfk_load_params lp = load_params(cb, &ctx, nullptr);
        hfk_model *m = nullptr;
        ASSERT_EQ(hfk_model_open(&m, local.path.c_str(), &lp), HFK_OK);
        ctx.open_returned = true;
        ASSERT_TRUE(ctx.ready.wait());
        ASSERT_EQ(hfk_model_wait(m, -1), HFK_OK);
        EXPECT_EQ(ctx.text, want);
        {
            std::lock_guard lock(ctx.mu);
            ASSERT_FALSE(ctx.handles.empty());
            for (hfk_model *h : ctx.handles) EXPECT_EQ(h, m);
        }
        hfk_model_free(m);
        before += ctx.ready_before_return.load();
    }
    hfk_model_free(first);
    std::printf("READY arrived before hfk_model_open returned in %d of 20 rounds\n", before);
}

// Item 18: the handle in the status is what a callback needs to free its model, even when that
// happens before hfk_model_open has returned the handle to the caller.
TEST_F(ModelStatesLifecycle, StateCallbackMayFreeTheHandleItIsGiven) {
    hfk_model *first = nullptr;
    hfk_load_params plain = load_params(nullptr, nullptr, nullptr);
    ASSERT_EQ(hfk_model_load(&first, local.path.c_str(), &plain), HFK_OK);
    struct Ctx {
        Latch freed;
        bool had_handle = false;  // written before freed.open(), read after freed.wait()
        bool was_ready = false;
    };
    for (int round = 0; round < 20; ++round) {
        Ctx ctx;
        auto cb = [](const hfk_model_status *s, void *ud) -> int32_t {
            auto *c = static_cast<Ctx *>(ud);
            if (s->state == HFK_MODEL_READY || s->state == HFK_MODEL_FAILED) {
                c->had_handle = s->model != nullptr;
                c->was_ready = s->state == HFK_MODEL_READY;
                hfk_model_free(s->model);  // nothing in the status is read after this
                c->freed.open();
            }
            return 0;
        };
        hfk_load_params lp = load_params(cb, &ctx, nullptr);
        hfk_model *m = nullptr;
        ASSERT_EQ(hfk_model_open(&m, local.path.c_str(), &lp), HFK_OK);
        ASSERT_TRUE(ctx.freed.wait());  // m belongs to the callback, which freed it
        EXPECT_TRUE(ctx.had_handle);
        EXPECT_TRUE(ctx.was_ready);
    }
    hfk_model_free(first);
}

// Item 19: a second open of a model this process has loaded goes PENDING -> READY and asks the
// Hub nothing.
TEST_F(ModelStatesLifecycle, ReopeningALoadedHubModelMakesNoHubRequest) {
    const hfk_hub_params h = hub();
    hfk_load_params lp = load_params(nullptr, nullptr, &h);
    hfk_model *first = nullptr;
    ASSERT_EQ(hfk_model_open(&first, "hfkit-test/aidreams260K", &lp), HFK_OK);
    ASSERT_EQ(hfk_model_wait(first, -1), HFK_OK) << hfk_last_error_message();
    server->clear_log();

    Events events;
    lp = load_params(record, &events, &h);
    hfk_model *again = nullptr;
    ASSERT_EQ(hfk_model_open(&again, "hfkit-test/aidreams260K", &lp), HFK_OK);
    ASSERT_EQ(hfk_model_wait(again, -1), HFK_OK) << hfk_last_error_message();
    EXPECT_EQ(events.states(), (std::vector<int32_t>{HFK_MODEL_PENDING, HFK_MODEL_READY}));
    EXPECT_EQ(server->log().size(), 0u) << server->log().dump();
    EXPECT_EQ(greedy_text(again, 6), greedy_text(first, 6));
    hfk_model_free(again);
    hfk_model_free(first);

    // Once nothing holds it, the next open goes through the Hub again (revision check).
    hfk_model *third = nullptr;
    lp = load_params(nullptr, nullptr, &h);
    ASSERT_EQ(hfk_model_open(&third, "hfkit-test/aidreams260K", &lp), HFK_OK);
    ASSERT_EQ(hfk_model_wait(third, -1), HFK_OK);
    EXPECT_GT(server->log().size(), 0u);
    hfk_model_free(third);
}

// Item 20: handle B opens while handle A is loading the same checkpoint, and waits on A's load.
// A's state callback holds A's load at a progress step until B has reported that step: B's
// load_fraction must never go back (it used to drop from 1.0 to 0.0 just before READY).
TEST_F(ModelStatesLifecycle, LoadProgressNeverGoesBackForAHandleWaitingOnAnothersLoad) {
    struct Ctx {
        Latch b_saw_progress;
        Events b_events;
        hfk_model *b = nullptr;  // written by A's callback before B's first event can matter
        std::string dir;
        std::atomic<bool> b_opened{false};
    } ctx;
    ctx.dir = local.path.string();
    auto b_cb = [](const hfk_model_status *s, void *ud) -> int32_t {
        auto *c = static_cast<Ctx *>(ud);
        c->b_events.add(*s);
        if (s->state == HFK_MODEL_LOADING && s->load_fraction > 0) c->b_saw_progress.open();
        return 0;
    };
    struct ACtx {
        Ctx *ctx;
        hfk_state_cb b_cb;
    };
    auto a_cb = [](const hfk_model_status *s, void *ud) -> int32_t {
        auto *a = static_cast<ACtx *>(ud);
        Ctx *c = a->ctx;
        if (s->state == HFK_MODEL_LOADING && s->load_fraction > 0 && !c->b_opened.exchange(true)) {
            // A is inside its load (this callback runs from its progress step): B joins it.
            hfk_load_params lp;
            HFK_LOAD_PARAMS_INIT(&lp);
            lp.n_threads = 1;
            lp.on_state = a->b_cb;
            lp.state_user_data = c;
            if (hfk_model_open(&c->b, c->dir.c_str(), &lp) != HFK_OK) return 1;
            c->b_saw_progress.wait();  // B waits on this load and has reported its fraction
        }
        return 0;
    };
    ACtx a_ctx{&ctx, b_cb};
    hfk_load_params lp = load_params(a_cb, &a_ctx, nullptr);
    hfk_model *a = nullptr;
    ASSERT_EQ(hfk_model_open(&a, local.path.c_str(), &lp), HFK_OK);
    ASSERT_EQ(hfk_model_wait(a, -1), HFK_OK) << hfk_last_error_message();
    ASSERT_TRUE(ctx.b_opened.load());
    ASSERT_NE(ctx.b, nullptr);
    ASSERT_EQ(hfk_model_wait(ctx.b, -1), HFK_OK) << hfk_last_error_message();
    {
        std::lock_guard lock(ctx.b_events.mu);
        double last = 0;
        for (const auto &e : ctx.b_events.list) {
            EXPECT_GE(e.load_fraction, last) << "state " << e.state;
            last = e.load_fraction;
        }
        ASSERT_FALSE(ctx.b_events.list.empty());
        EXPECT_EQ(ctx.b_events.list.back().state, HFK_MODEL_READY);
    }
    EXPECT_EQ(ctx.b_events.states(),
              (std::vector<int32_t>{HFK_MODEL_PENDING, HFK_MODEL_LOADING, HFK_MODEL_READY}));
    hfk_model_free(ctx.b);
    hfk_model_free(a);
}

// Item 24: one progress story. hfk_model_load reports the hfk_model_status events of
// hfk_model_open to on_state, on the calling thread, with the handle; non-zero cancels.
TEST_F(ModelStatesLifecycle, BlockingLoadReportsStatesToOnStateOnTheCallingThread) {
    struct Ctx {
        std::thread::id caller;
        bool other_thread = false;
        bool null_handle = false;
        std::vector<int32_t> states;
        int32_t stop_at = -1;
    } ctx;
    ctx.caller = std::this_thread::get_id();
    auto cb = [](const hfk_model_status *s, void *ud) -> int32_t {
        auto *c = static_cast<Ctx *>(ud);
        if (std::this_thread::get_id() != c->caller) c->other_thread = true;
        if (s->model == nullptr) c->null_handle = true;
        if (c->states.empty() || c->states.back() != s->state) c->states.push_back(s->state);
        return s->state == c->stop_at ? 1 : 0;
    };
    const hfk_hub_params h = hub();
    hfk_load_params lp = load_params(cb, &ctx, &h);
    hfk_model *m = nullptr;
    ASSERT_EQ(hfk_model_load(&m, "hfkit-test/aidreams260K", &lp), HFK_OK)
        << hfk_last_error_message();
    EXPECT_FALSE(ctx.other_thread);
    EXPECT_FALSE(ctx.null_handle);
    EXPECT_EQ(ctx.states, (std::vector<int32_t>{HFK_MODEL_PENDING, HFK_MODEL_DOWNLOADING,
                                                HFK_MODEL_LOADING, HFK_MODEL_READY}));
    hfk_model_free(m);

    // Non-zero stops the load, as every callback's does.
    Ctx stop;
    stop.caller = std::this_thread::get_id();
    stop.stop_at = HFK_MODEL_PENDING;
    lp = load_params(cb, &stop, &h);
    m = nullptr;
    EXPECT_EQ(hfk_model_load(&m, local.path.c_str(), &lp), HFK_E_CANCELLED);
    EXPECT_EQ(m, nullptr);
}

}  // namespace
