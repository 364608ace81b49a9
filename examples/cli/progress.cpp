#include "progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "cli.h"

namespace cli {

namespace {
std::atomic<bool> g_cancel{false};

double seconds_between(std::chrono::steady_clock::time_point a,
                       std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

std::string duration(double s) {
    char buf[32];
    if (s < 60)
        std::snprintf(buf, sizeof buf, "%.0fs", s);
    else if (s < 3600)
        std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60,
                      static_cast<int>(s) % 60);
    else
        std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600,
                      (static_cast<int>(s) / 60) % 60);
    return buf;
}
}  // namespace

void request_cancel() {
    if (g_cancel.exchange(true)) exit_interrupted("\nhfkit: interrupted");  // a second Ctrl-C
    std::thread([] {
        std::this_thread::sleep_for(std::chrono::seconds(3));
        exit_interrupted(
            "\nhfkit: interrupted (a partial download stays in the cache and resumes)");
    }).detach();
}
bool cancel_requested() {
    return g_cancel;
}

std::string human_bytes(uint64_t bytes) {
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1000 && u < 5) {
        v /= 1000;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(buf, sizeof buf,
                      v < 10    ? "%.2f %s"
                      : v < 100 ? "%.1f %s"
                                : "%.0f %s",
                      v, units[u]);
    return buf;
}

ProgressDisplay::ProgressDisplay(std::string label, bool quiet)
    : label_(std::move(label)),
      quiet_(quiet),
      tty_(isatty(2) == 1),
      start_(std::chrono::steady_clock::now()) {}

int32_t ProgressDisplay::callback(const hfk_progress *p, void *user_data) {
    static_cast<ProgressDisplay *>(user_data)->update(*p);
    return cancel_requested() ? 1 : 0;
}

void ProgressDisplay::update(const hfk_progress &p) {
    if (quiet_) return;
    const auto now = std::chrono::steady_clock::now();
    const bool new_phase = p.phase != phase_;
    if (p.phase == HFK_PHASE_DOWNLOADING) {
        if (first_bytes_ < 0) {
            first_bytes_ = p.bytes_done;
            first_event_ = now;
        }
        last_bytes_ = p.bytes_done;
        total_ = p.bytes_total;
    }
    phase_ = p.phase;
    if (new_phase) last_decile_ = -1;
    if (tty_)
        draw_bar(p, new_phase);
    else
        plain_line(p);
}

void ProgressDisplay::draw_bar(const hfk_progress &p, bool force) {
    const auto now = std::chrono::steady_clock::now();
    const bool done = p.fraction >= 1.0 || p.phase == HFK_PHASE_READY;
    if (!force && !done && seconds_between(last_draw_, now) < 0.1) return;  // 10 redraws a second
    last_draw_ = now;
    const char *what = p.phase == HFK_PHASE_DOWNLOADING ? "downloading"
                       : p.phase == HFK_PHASE_LOADING   ? "loading"
                       : p.phase == HFK_PHASE_READY     ? "ready"
                                                        : "resolving";
    std::string line = label_ + ": " + what;
    const double f = p.fraction;
    if (f >= 0) {
        const int width = 24, filled = static_cast<int>(f * width + 0.5);
        char pct[16];
        std::snprintf(pct, sizeof pct, " %3.0f%% ", f * 100);
        line += pct;
        line += '[' + std::string(filled, '#') + std::string(width - filled, '.') + ']';
    }
    if (p.phase == HFK_PHASE_DOWNLOADING) {
        line += ' ' + human_bytes(static_cast<uint64_t>(p.bytes_done));
        if (p.bytes_total >= 0) line += " / " + human_bytes(static_cast<uint64_t>(p.bytes_total));
        const double secs = seconds_between(first_event_, now);
        const double rate =
            secs > 0.2 ? static_cast<double>(p.bytes_done - first_bytes_) / secs : 0;
        if (rate > 0) {
            line += "  " + human_bytes(static_cast<uint64_t>(rate)) + "/s";
            if (p.bytes_total > p.bytes_done)
                line +=
                    "  ETA " + duration(static_cast<double>(p.bytes_total - p.bytes_done) / rate);
        }
    }
    // \r and "erase to end of line": the bar redraws in place.
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
    bar_open_ = true;
}

void ProgressDisplay::plain_line(const hfk_progress &p) {
    if (p.phase == HFK_PHASE_DOWNLOADING) {
        if (p.bytes_total <= 0) return;
        const int decile = static_cast<int>(p.fraction * 10);
        if (decile == last_decile_) return;
        last_decile_ = decile;
        std::fprintf(stderr, "%s: downloading %3d%% %s / %s\n", label_.c_str(), decile * 10,
                     human_bytes(static_cast<uint64_t>(p.bytes_done)).c_str(),
                     human_bytes(static_cast<uint64_t>(p.bytes_total)).c_str());
    } else if (p.phase == HFK_PHASE_LOADING) {
        if (last_decile_ >= 0) return;  // one line per load: they take well under a second
        last_decile_ = 0;
        std::fprintf(stderr, "%s: loading\n", label_.c_str());
    }
}

void ProgressDisplay::finish(bool ok) {
    if (quiet_) return;
    if (bar_open_) std::fprintf(stderr, "\r\033[K");
    bar_open_ = false;
    if (!ok) return;
    const double secs = seconds_between(start_, std::chrono::steady_clock::now());
    if (first_bytes_ >= 0 && last_bytes_ > first_bytes_)
        std::fprintf(stderr, "%s: downloaded %s in %.1f s\n", label_.c_str(),
                     human_bytes(static_cast<uint64_t>(last_bytes_ - first_bytes_)).c_str(), secs);
}

}  // namespace cli
