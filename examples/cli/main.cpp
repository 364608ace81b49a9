// hfkit: the command-line face of the library.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli.h"

namespace {

const char *const kUsage =
    "usage: hfkit COMMAND [ARGS] [--help]\n"
    "\n"
    "commands:\n"
    "  run [MODEL] PROMPT   stream a continuation of PROMPT (default: the bundled model)\n"
    "  chat [MODEL]         talk to a model, one turn at a time\n"
    "  template MODEL       print a conversation rendered by the model's chat template\n"
    "  embed MODEL TEXT...  print sentence embeddings (encoder models)\n"
    "  rerank MODEL QUERY DOCUMENT...  score documents against a query (cross-encoders)\n"
    "  perplexity MODEL FILE  the perplexity of a text file under a model\n"
    "  pull MODEL           download a model into the Hugging Face cache\n"
    "  ls                   list the models in the cache\n"
    "  rm MODEL...          remove models from the cache\n"
    "  du [MODEL]           disk space the cache (or one model) uses\n"
    "  inspect MODEL...     parameters, memory and fit, without downloading the weights\n"
    "  serve [MODEL...]     an OpenAI-compatible HTTP server (chat, completions, embeddings)\n"
    "  version              print the library version\n"
    "\n"
    "MODEL is a Hub id (gpt2, org/name) or a checkpoint directory in Hugging Face layout\n"
    "(config.json, *.safetensors, tokenizer.json). The Hub is $HF_ENDPOINT (default\n"
    "https://huggingface.co), the cache $HF_HUB_CACHE or ~/.cache/huggingface/hub, shared with\n"
    "huggingface_hub. `hfkit COMMAND --help` tells more.\n"
    "\n"
    "exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 gated or bad token, 5 network or\n"
    "            offline, 6 bad model (malformed, unsupported, NaN), 130 interrupted;\n"
    "            `hfkit help exit-codes` lists the code of every library status\n";

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
        (!std::strcmp(argv[1], "help") && argc == 2)) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? cli::kUsage : cli::kOk;
    }
    if (argc == 3 && !std::strcmp(argv[1], "help") && !std::strcmp(argv[2], "exit-codes")) {
        cli::print_exit_code_table();
        return cli::kOk;
    }
    const std::string cmd = argv[1];
    try {
        if (cmd == "run") return cli::cmd_run(argc, argv);
        if (cmd == "chat") return cli::cmd_chat(argc, argv);
        if (cmd == "template") return cli::cmd_template(argc, argv);
        if (cmd == "embed") return cli::cmd_embed(argc, argv);
        if (cmd == "rerank") return cli::cmd_rerank(argc, argv);
        if (cmd == "perplexity") return cli::cmd_perplexity(argc, argv);
        if (cmd == "pull") return cli::cmd_pull(argc, argv);
        if (cmd == "ls" || cmd == "list") return cli::cmd_ls(argc, argv);
        if (cmd == "rm") return cli::cmd_rm(argc, argv);
        if (cmd == "du") return cli::cmd_du(argc, argv);
        if (cmd == "inspect") return cli::cmd_inspect(argc, argv);
        if (cmd == "serve") return cli::cmd_serve(argc, argv);
        if (cmd == "version" || cmd == "--version") {
            std::printf("hfkit %s (ABI %u)\n", hfk_version_string(), hfk_abi_version());
            return cli::kOk;
        }
        std::fprintf(stderr, "hfkit: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
        return cli::kUsage;
    } catch (const cli::UsageError &e) {
        std::fprintf(stderr, "hfkit %s: %s\n", cmd.c_str(), e.message.c_str());
        return cli::kUsage;
    }
}
