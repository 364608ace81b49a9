// hfkit rerank MODEL QUERY DOCUMENT...: cross-encoder scores of (query, document) pairs.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "generate_options.h"

namespace cli {

int cmd_rerank(int argc, char **argv) {
    const Args a = parse_args(argc, argv, 2, {"threads"}, {"help", "json", "logits"});
    if (a.flag("help")) {
        std::printf(
            "usage: hfkit rerank MODEL QUERY DOCUMENT... [options]\n\n"
            "Scores each DOCUMENT against QUERY with a cross-encoder (a\n"
            "*ForSequenceClassification checkpoint run on the pair), one line per DOCUMENT in\n"
            "the order given: a reranker's score (the sigmoid of its logit, as\n"
            "sentence-transformers' CrossEncoder; higher is more relevant), or one value per\n"
            "label for a head with several. A pair longer than the model's maximum is\n"
            "truncated longest first, with a warning on stderr.\n\n"
            "options:\n"
            "  --logits             raw logits, no sigmoid\n"
            "  --json               a JSON array (of arrays for several labels)\n"
            "  --threads N          compute threads\n");
        return kOk;
    }
    if (a.positional.size() < 3)
        throw UsageError{"rerank takes MODEL QUERY DOCUMENT... (see hfkit rerank --help)"};
    hfk_rerank_params rp;
    HFK_RERANK_PARAMS_INIT(&rp);
    if (a.flag("logits")) rp.activation = 0;
    rp.n_threads = thread_option(a);

    hfk_model *model = nullptr;
    if (hfk_status s = load_model(a.positional[0], rp.n_threads, true, &model))
        return fail("cannot load " + a.positional[0], s);
    std::vector<const char *> docs;
    for (size_t i = 2; i < a.positional.size(); ++i) docs.push_back(a.positional[i].c_str());
    const size_t labels = static_cast<size_t>(std::max(hfk_model_num_labels(model), 0));
    std::vector<float> scores(docs.size() * labels);
    std::vector<int32_t> truncated(docs.size(), 0);
    rp.truncated_out = truncated.data();
    const hfk_status s = hfk_model_rerank(model, a.positional[1].c_str(), docs.data(), docs.size(),
                                          &rp, scores.data(), scores.size());
    hfk_model_free(model);
    if (s != HFK_OK) return fail("reranking failed", s);
    for (size_t i = 0; i < docs.size(); ++i)
        if (truncated[i])
            std::fprintf(stderr,
                         "hfkit: warning: QUERY + DOCUMENT %zu was truncated to the model's "
                         "maximum\n",
                         i + 1);
    const bool json = a.flag("json");
    std::string out = json ? "[" : "";
    for (size_t i = 0; i < docs.size(); ++i) {
        if (json && i) out += ", ";
        if (json && labels > 1) out += "[";
        for (size_t j = 0; j < labels; ++j) {
            const float x = scores[i * labels + j];
            if (j) out += json ? ", " : " ";
            if (json) {
                out += json_number(x);
            } else {
                char buf[32];
                std::snprintf(buf, sizeof buf, "%.7g", x);
                out += buf;
            }
        }
        out += json ? (labels > 1 ? "]" : "") : "\n";
    }
    std::fputs(json ? (out + "]\n").c_str() : out.c_str(), stdout);
    return kOk;
}

}  // namespace cli
