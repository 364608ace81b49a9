// Download and load progress on stderr: a redrawn bar on a terminal (bytes, rate, ETA), plain
// lines otherwise (one per phase and per 10% of a download), so logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "hfkit/hfkit.h"

namespace cli {

// "1.5 MB", "932 kB", "17 B" (decimal units, as the Hub shows sizes).
std::string human_bytes(uint64_t bytes);

class ProgressDisplay {
  public:
    // `label` names what is going on ("pulling gpt2"). quiet: show nothing.
    ProgressDisplay(std::string label, bool quiet);
    // Feed every hfk_progress event here.
    void update(const hfk_progress &p);
    // Ends the bar line (a terminal) or prints a summary (plain).
    void finish(bool ok);

    // An hfk_progress_cb: `user_data` is a ProgressDisplay; cancels once an interrupt arrived.
    static int32_t callback(const hfk_progress *p, void *user_data);

  private:
    void draw_bar(const hfk_progress &p, bool force);
    void plain_line(const hfk_progress &p);

    std::string label_;
    bool quiet_, tty_;
    hfk_phase phase_ = 0;
    int last_decile_ = -1;
    bool bar_open_ = false;
    int64_t first_bytes_ = -1, last_bytes_ = 0, total_ = -1;
    std::chrono::steady_clock::time_point start_, first_event_, last_draw_;
};

// Called by the CLI's interrupt handler during a download or load: ProgressDisplay::callback then
// asks the library to cancel. Progress stops arriving when a transfer stalls, so if the call has
// not returned 3 s later (or on a second Ctrl-C) the command leaves at once with the interrupted
// exit code; the partial download stays resumable either way.
void request_cancel();
bool cancel_requested();

}  // namespace cli
