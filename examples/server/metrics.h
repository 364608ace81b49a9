// Counters and histograms of the server, rendered in Prometheus' text format (GET /metrics).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "backend.h"

namespace server {

class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);
    void render(std::string &out, const std::string &name, const std::string &help) const;

  private:
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_;  // per bucket (not cumulative); last is +Inf
    double sum_ = 0;
    uint64_t count_ = 0;
};

class Metrics {
  public:
    Metrics();
    void request_done(const std::string &endpoint, int status);
    void tokens(int64_t prompt, int64_t completion);
    void cancelled();  // a generation stopped because its client went away
    void in_flight(int delta);
    void time_to_first_token(double seconds);
    void time_per_output_token(double seconds);
    std::string render(int32_t queue_depth, const std::vector<ModelState> &models);

  private:
    std::mutex mu_;
    std::map<std::pair<std::string, int>, uint64_t> requests_;
    uint64_t prompt_tokens_ = 0, completion_tokens_ = 0, cancelled_ = 0;
    int64_t in_flight_ = 0;
    Histogram ttft_, tpot_;
};

}  // namespace server
