// hfkit perplexity MODEL FILE: how well a causal model predicts a text, from its logprobs.
//
// Chunked, not sliding: the text's tokens are cut into consecutive chunks of the window size;
// each chunk is scored from an empty context (led by BOS when the tokenizer has one, which
// gives every token of the chunk a prediction; without BOS, or with --no-bos, a chunk's first
// token is context only). A sliding window scores each token with more context and so reports
// a lower perplexity than this, at a cost that grows with the overlap.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cli.h"
#include "generate_options.h"

namespace cli {
namespace {

std::string precise(double d) {  // JSON, with the digits a comparison with torch needs
    if (!std::isfinite(d)) return "null";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.12g", d);
    return buf;
}

}  // namespace

int cmd_perplexity(int argc, char **argv) {
    const Args a =
        parse_args(argc, argv, 2, {"ctx", "threads"}, {"help", "json", "no-bos", "tokens"});
    if (a.flag("help")) {
        std::printf(
            "usage: hfkit perplexity MODEL FILE [options]\n\n"
            "Prints the perplexity of the text in FILE under MODEL: exp of the mean negative\n"
            "log-likelihood of its tokens. The tokens are cut into consecutive chunks of the\n"
            "window (not a sliding window); each chunk is scored from an empty context, led by\n"
            "the BOS token when the tokenizer has one (then every token is scored; otherwise a\n"
            "chunk's first token is context only).\n\n"
            "options:\n"
            "  --ctx N      the window in tokens, BOS included (default: min(context, 512))\n"
            "  --no-bos     do not lead chunks with BOS\n"
            "  --json       {\"perplexity\", \"nll\", \"n_scored\", \"n_tokens\", \"n_chunks\",\n"
            "               \"window\"} (nll: the mean negative log-likelihood, natural log)\n"
            "  --tokens     with --json: also \"ids\" (the text's ids) and \"chunks\": per chunk\n"
            "               the ids run and the logprob of each (null for a first without\n"
            "               context)\n"
            "  --threads N  compute threads\n");
        return kOk;
    }
    if (a.positional.size() != 2)
        throw UsageError{"perplexity takes MODEL FILE (see hfkit perplexity --help)"};
    const auto ctx = a.get_int("ctx", 2, INT32_MAX);
    const int32_t n_threads = thread_option(a);

    std::ifstream in(a.positional[1], std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "hfkit: cannot read %s\n", a.positional[1].c_str());
        return exit_code(HFK_E_NOT_FOUND);
    }
    const std::string text((std::istreambuf_iterator<char>(in)), {});

    hfk_model *model = nullptr;
    if (hfk_status s =
            load_model(a.positional[0], n_threads, true, &model, nullptr, ctx ? int32_t(*ctx) : 0))
        return fail("cannot load " + a.positional[0], s);
    struct Cleanup {
        hfk_model *m;
        hfk_session *s = nullptr;
        ~Cleanup() {
            hfk_session_free(s);
            hfk_model_free(m);
        }
    } owned{model};
    const hfk_tokenizer *tok = hfk_model_tokenizer(model);
    const int32_t window =
        ctx ? int32_t(*ctx) : std::min<int32_t>(hfk_model_context_length(model), 512);
    if (window > hfk_model_context_length(model))
        throw UsageError{"--ctx " + std::to_string(window) + " exceeds the model's context " +
                         std::to_string(hfk_model_context_length(model))};
    hfk_session_params sp;
    HFK_SESSION_PARAMS_INIT(&sp);
    sp.n_ctx = window;
    sp.n_threads = n_threads;
    if (hfk_status s = hfk_session_create(&owned.s, model, &sp))
        return fail("cannot create a session", s);

    int64_t n = 0;
    hfk_status s = hfk_tokenize(tok, text.data(), text.size(), 0, nullptr, 0, &n);
    std::vector<int32_t> ids(size_t(n < 0 ? -n : n));
    if (s == HFK_E_BUFFER_TOO_SMALL)
        s = hfk_tokenize(tok, text.data(), text.size(), 0, ids.data(), int64_t(ids.size()), &n);
    if (s != HFK_OK) return fail("cannot tokenize " + a.positional[1], s);
    const int32_t bos = a.flag("no-bos") ? -1 : hfk_tokenizer_special_id(tok, HFK_SPECIAL_BOS);
    const size_t chunk = size_t(window - (bos >= 0 ? 1 : 0));

    double nll = 0;
    int64_t scored = 0, chunks = 0;
    std::vector<int32_t> run;
    std::vector<double> lp;
    const bool per_token = a.flag("tokens") && a.flag("json");
    std::string chunk_json;
    for (size_t start = 0; start < ids.size(); start += chunk) {
        run.clear();
        if (bos >= 0) run.push_back(bos);
        run.insert(run.end(), ids.begin() + start,
                   ids.begin() + std::min(ids.size(), start + chunk));
        if (run.size() < 2) break;  // a lone token has nothing to be predicted from
        lp.resize(run.size());
        if ((s = hfk_session_truncate(owned.s, 0)) != HFK_OK ||
            (s = hfk_session_score(owned.s, run.data(), int64_t(run.size()), lp.data())) != HFK_OK)
            return fail("scoring failed", s);
        for (size_t i = 1; i < lp.size(); ++i) nll -= lp[i];  // lp[0] has no context (NaN)
        if (per_token) {
            chunk_json += chunks ? ", {\"ids\": [" : "{\"ids\": [";
            for (size_t i = 0; i < run.size(); ++i)
                chunk_json += (i ? ", " : "") + std::to_string(run[i]);
            chunk_json += "], \"logprobs\": [";
            for (size_t i = 0; i < lp.size(); ++i) chunk_json += (i ? ", " : "") + precise(lp[i]);
            chunk_json += "]}";
        }
        scored += int64_t(lp.size()) - 1;
        ++chunks;
    }
    if (scored == 0) {
        std::fprintf(stderr, "hfkit: %s has too few tokens to score\n", a.positional[1].c_str());
        return exit_code(HFK_E_INVALID_ARG);
    }
    const double mean = nll / double(scored);
    const double ppl = std::exp(mean);
    if (a.flag("json")) {
        std::string extra;
        if (per_token) {
            extra = ", \"ids\": [";
            for (size_t i = 0; i < ids.size(); ++i)
                extra += (i ? ", " : "") + std::to_string(ids[i]);
            extra += "], \"chunks\": [" + chunk_json + "]";
        }
        std::printf(
            "{\"perplexity\": %s, \"nll\": %s, \"n_scored\": %lld, \"n_tokens\": %lld, "
            "\"n_chunks\": %lld, \"window\": %d%s}\n",
            precise(ppl).c_str(), precise(mean).c_str(), (long long)scored, (long long)ids.size(),
            (long long)chunks, window, extra.c_str());
    } else {
        std::printf("perplexity %.4f (%lld tokens scored in %lld chunks of up to %d)\n", ppl,
                    (long long)scored, (long long)chunks, window);
    }
    return kOk;
}

}  // namespace cli
