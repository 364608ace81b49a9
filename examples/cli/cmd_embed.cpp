// hfkit embed MODEL TEXT...: sentence embeddings from an encoder model.
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "generate_options.h"

namespace cli {
namespace {

std::string plain_number(float x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.7g", x);
    return buf;
}

}  // namespace

int cmd_embed(int argc, char **argv) {
    const Args a = parse_args(argc, argv, 2, {"pooling", "threads"},
                              {"help", "json", "normalize", "no-normalize"});
    if (a.flag("help")) {
        std::printf(
            "usage: hfkit embed MODEL TEXT... [options]\n\n"
            "Prints one embedding vector per TEXT (an encoder model such as BERT). A TEXT longer\n"
            "than the model's maximum is truncated, with a warning on stderr.\n\n"
            "options:\n"
            "  --pooling P          how token vectors become one: mean, cls, lasttoken, max\n"
            "                       (default: the repository's sentence-transformers pooling,\n"
            "                       mean without one)\n"
            "  --normalize          L2-normalise (default: as the repository says; yes without\n"
            "  --no-normalize       sentence-transformers files)\n"
            "  --json               a JSON array of arrays\n"
            "  --threads N          compute threads\n");
        return kOk;
    }
    if (a.positional.size() < 2)
        throw UsageError{"embed takes MODEL TEXT... (see hfkit embed --help)"};
    hfk_embed_params ep;
    HFK_EMBED_PARAMS_INIT(&ep);
    if (const auto pooling = a.get("pooling")) {
        if (*pooling == "mean")
            ep.pooling = HFK_POOLING_MEAN;
        else if (*pooling == "cls")
            ep.pooling = HFK_POOLING_CLS;
        else if (*pooling == "lasttoken")
            ep.pooling = HFK_POOLING_LAST_TOKEN;
        else if (*pooling == "max")
            ep.pooling = HFK_POOLING_MAX;
        else
            throw UsageError{"--pooling is mean, cls, lasttoken or max, got '" + *pooling + "'"};
    }
    if (a.flag("normalize") && a.flag("no-normalize"))
        throw UsageError{"--normalize and --no-normalize exclude each other"};
    if (a.flag("normalize")) ep.normalize = 1;
    if (a.flag("no-normalize")) ep.normalize = 0;
    ep.n_threads = thread_option(a);

    hfk_model *model = nullptr;
    if (hfk_status s = load_model(a.positional[0], ep.n_threads, true, &model))
        return fail("cannot load " + a.positional[0], s);
    std::vector<const char *> texts;
    for (size_t i = 1; i < a.positional.size(); ++i) texts.push_back(a.positional[i].c_str());
    const size_t dim = static_cast<size_t>(hfk_model_embedding_dim(model));
    std::vector<float> out_vectors(texts.size() * dim);
    std::vector<int32_t> truncated(texts.size(), 0);
    ep.truncated_out = truncated.data();
    const hfk_status s = hfk_model_embed(model, texts.data(), texts.size(), &ep, out_vectors.data(),
                                         out_vectors.size());
    hfk_model_free(model);
    if (s != HFK_OK) return fail("embedding failed", s);
    for (size_t i = 0; i < texts.size(); ++i)
        if (truncated[i])
            std::fprintf(stderr, "hfkit: warning: TEXT %zu was truncated to the model's maximum\n",
                         i + 1);
    const bool json = a.flag("json");
    std::string out = json ? "[" : "";
    for (size_t i = 0; i < texts.size(); ++i) {
        if (json) out += i ? ", [" : "[";
        for (size_t j = 0; j < dim; ++j) {
            const float x = out_vectors[i * dim + j];
            if (j) out += json ? ", " : " ";
            out += json ? json_number(x) : plain_number(x);
        }
        out += json ? "]" : "\n";
    }
    std::fputs(json ? (out + "]\n").c_str() : out.c_str(), stdout);
    return kOk;
}

}  // namespace cli
