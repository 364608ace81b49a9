// hfkit inspect MODEL...: parameters, memory and fit, from config.json and the safetensors
// headers, before a single weight byte is downloaded.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "line_input.h"
#include "progress.h"

namespace cli {

namespace {

const char *const kHelp =
    "usage: hfkit inspect MODEL... [options]\n"
    "\n"
    "Answers \"will this model run here?\" from its config.json and the safetensors headers\n"
    "(read with HTTP Range requests): parameters, weight bytes per precision, the KV cache,\n"
    "the resident estimate and whether it fits this machine's memory and disk. MODEL is a Hub\n"
    "id, a model directory or a config.json. Every MODEL is inspected even when one fails.\n"
    "\n"
    "options:\n"
    "  --file LIST            also inspect the ids in LIST, one per line (# starts a comment)\n"
    "  --context N            tokens of context for the KV estimate (default: the model's max)\n"
    "  --batch N              sequences (default 1)\n"
    "  --kv-bytes 1|2|4       bytes per KV element (default 2, an f16 cache)\n"
    "  --json                 a JSON array, one object per MODEL (failures: \"error\")\n";

// "124.4M", "6.74B": parameter counts as model cards write them.
std::string human_count(uint64_t n) {
    char buf[32];
    const double v = static_cast<double>(n);
    if (n >= 1'000'000'000)
        std::snprintf(buf, sizeof buf, "%.2fB", v / 1e9);
    else if (n >= 1'000'000)
        std::snprintf(buf, sizeof buf, "%.1fM", v / 1e6);
    else if (n >= 1'000)
        std::snprintf(buf, sizeof buf, "%.1fK", v / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
    return buf;
}

// Lines longer than this are refused (a Hub id is at most 96 + 1 + 96 bytes; a path rarely
// passes 4 KiB): --file /dev/zero must not grow one line until memory runs out.
constexpr size_t kMaxListLine = 1 << 20;

std::vector<std::string> read_list(const std::string &path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE *)> in(std::fopen(path.c_str(), "rb"),
                                                        std::fclose);
    if (!in) throw UsageError{"cannot read --file " + terminal_safe(path)};
    std::vector<std::string> ids;
    std::string line;
    LineStatus got;
    for (size_t number = 1; (got = read_line(in.get(), kMaxListLine, line)) != LineStatus::kEnd;
         ++number) {
        if (got == LineStatus::kTooLong)
            throw UsageError{"--file " + terminal_safe(path) + ": line " + std::to_string(number) +
                             " is longer than 1 MiB"};
        if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        const auto b = line.find_first_not_of(" \t\r");
        if (b == std::string::npos) continue;
        const auto e = line.find_last_not_of(" \t\r");
        ids.push_back(line.substr(b, e - b + 1));
    }
    return ids;
}

void print_details(const hfk_model_info &i) {
    auto row = [](const char *k, const std::string &v) {
        std::printf("  %-22s %s\n", k, terminal_safe(v).c_str());
    };
    auto bytes = [](uint64_t b) { return human_bytes(b) + " (" + std::to_string(b) + ")"; };
    std::printf("%s\n", terminal_safe(i.source).c_str());
    row("architecture", std::string(i.architecture) + " (" + i.model_type + ")");
    row("supported",
        i.supported_for_inference ? "yes" : std::string("no: ") + i.unsupported_reason);
    if (i.multimodal)
        row("multimodal", i.supported_for_inference ? "yes (the language model runs alone)"
                                                    : "yes (not supported for inference)");
    row("parameters",
        human_count(i.parameters) + " (" + std::to_string(i.parameters) + ", " +
            (i.parameters_exact ? "exact, from the safetensors headers"
                                : std::string("from the config: ") + i.parameters_source) +
            ")");
    if (i.num_experts > 0)
        row("experts", std::to_string(i.num_experts) + ", " + std::to_string(i.experts_per_token) +
                           " per token; active " + human_count(i.active_parameters));
    row("stored dtype", i.stored_dtype);
    row("vocabulary", std::to_string(i.vocab_size));
    row("context length", std::to_string(i.context_length));
    row("layers", std::to_string(i.layers));
    row("heads / kv heads", std::to_string(i.heads) + " / " + std::to_string(i.kv_heads) +
                                " (head dim " + std::to_string(i.head_dim) + ")");
    row("hidden / intermediate",
        std::to_string(i.hidden_size) + " / " + std::to_string(i.intermediate_size));
    row("tied embeddings", i.tied_embeddings ? "yes" : "no");
    if (i.stored_weight_bytes) row("weights as stored", bytes(i.stored_weight_bytes));
    row("weights f32", bytes(i.weight_bytes_f32));
    row("weights f16/bf16", bytes(i.weight_bytes_f16));
    row("weights 8-bit", bytes(i.weight_bytes_q8_0) + " (q8_0, --quant q8)");
    row("weights 4-bit", bytes(i.weight_bytes_q4_0) + " (q4_0)");
    row("weights 4-bit+min", bytes(i.weight_bytes_q4_1) + " (q4_1, --quant q4)");
    row("kv cache per token", bytes(i.kv_bytes_per_token) + " at " +
                                  std::to_string(i.kv_bytes_per_element) + " B/element");
    row("kv cache total", bytes(i.kv_bytes_total) + " for " + std::to_string(i.kv_context_length) +
                              " tokens x " + std::to_string(i.batch));
    row("resident estimate", bytes(i.resident_estimate));
    row("available memory",
        human_bytes(i.available_memory) + (i.fits_memory ? " (fits)" : " (does NOT fit)"));
    row("to download", human_bytes(i.download_bytes));
    row("free disk", human_bytes(i.free_disk) + (i.fits_disk ? " (fits)" : " (does NOT fit)"));
}

}  // namespace

int cmd_inspect(int argc, char **argv) {
    std::vector<std::string> value_options = kHubValueOptions;
    value_options.insert(value_options.end(), {"file", "context", "batch", "kv-bytes"});
    const Args a = parse_args(argc, argv, 2, value_options, {"help", "json", "offline"});
    if (a.flag("help")) {
        std::printf("%s%s", kHelp, kHubOptionsHelp);
        return kOk;
    }
    std::vector<std::string> models = a.positional;
    if (auto f = a.get("file")) {
        const auto listed = read_list(*f);
        models.insert(models.end(), listed.begin(), listed.end());
    }
    if (models.empty()) throw UsageError{"inspect takes MODEL... or --file LIST (see --help)"};
    HubOptions hub(a);
    hfk_inspect_params ip;
    HFK_INSPECT_PARAMS_INIT(&ip);
    ip.context_length = a.get_int("context", 0, INT32_MAX).value_or(0);  // 0: the model's
    ip.batch = static_cast<int32_t>(a.get_int("batch", 1, 1 << 20).value_or(0));
    ip.kv_bytes_per_element = static_cast<int32_t>(a.get_int("kv-bytes", 1, 4).value_or(0));
    if (ip.kv_bytes_per_element == 3) throw UsageError{"--kv-bytes takes 1, 2 or 4, got '3'"};
    ip.hub = &hub.params;
    const bool json = a.flag("json"), table = models.size() > 1 && !json;
    const bool tty = isatty(1) == 1;

    int code = kOk;
    std::string out = "[";
    if (table)
        std::printf(
            tty ? "%-36s %-10s %9s %-5s %10s %10s %10s %s\n" : "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
            "MODEL", "TYPE", "PARAMS", "DTYPE", "WEIGHTS", "KV CACHE", "TOTAL", "FITS");
    for (const auto &model : models) {
        hfk_inspection *ins = nullptr;
        const hfk_status s = hfk_inspect(&ins, model.c_str(), &ip);
        if (s != HFK_OK) {
            const std::string message = hfk_last_error_message();
            const int c = fail("cannot inspect " + model, s);
            if (code == kOk) code = c;
            if (json)
                out += std::string(out.size() > 1 ? ", " : "") +
                       "{\"source\": " + json_string(model) + ", \"error\": {\"status\": \"" +
                       hfk_status_name(s) + "\", \"message\": " + json_string(message) + "}}";
            continue;
        }
        const hfk_model_info &i = *hfk_inspection_info(ins);
        if (json) {
            out += std::string(out.size() > 1 ? ", " : "") + valid_utf8(hfk_inspection_json(ins));
        } else if (table) {
            const std::string fits = !i.supported_for_inference     ? "unsupported"
                                     : i.fits_memory && i.fits_disk ? "yes"
                                     : !i.fits_memory               ? "no (memory)"
                                                                    : "no (disk)";
            std::printf(
                tty ? "%-36s %-10s %9s %-5s %10s %10s %10s %s\n"
                    : "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
                terminal_safe(model).c_str(), terminal_safe(i.model_type).c_str(),
                human_count(i.parameters).c_str(), terminal_safe(i.stored_dtype).c_str(),
                human_bytes(i.stored_weight_bytes ? i.stored_weight_bytes : i.weight_bytes_f16)
                    .c_str(),
                human_bytes(i.kv_bytes_total).c_str(), human_bytes(i.resident_estimate).c_str(),
                fits.c_str());
        } else {
            print_details(i);
        }
        hfk_inspection_free(ins);
    }
    if (json) std::printf("%s]\n", out.c_str());
    return code;
}

}  // namespace cli
