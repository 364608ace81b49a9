// hfkit pull MODEL: download a model into the Hugging Face cache (resuming a partial download).
#include <cstdio>
#include <string>

#include "cli.h"
#include "progress.h"

namespace cli {

int cmd_pull(int argc, char **argv) {
    const Args a = parse_args(argc, argv, 2, kHubValueOptions,
                              {"help", "json", "quiet", "offline", "verify", "force"});
    if (a.flag("help")) {
        std::printf(
            "usage: hfkit pull MODEL [options]\n\n"
            "Downloads MODEL (a Hub id such as gpt2 or org/name) into the Hugging Face\n"
            "cache, shared with huggingface_hub, and prints its snapshot directory. Only\n"
            "what hfkit needs is fetched (config, tokenizer, safetensors). Ctrl-C stops;\n"
            "the same command later resumes the partial download.\n\n"
            "options:\n"
            "  --json                 print {\"model\", \"path\", \"size_on_disk\"}\n"
            "  --quiet                no progress on stderr\n"
            "  --verify               re-hash the files already cached; download again\n"
            "                         any that do not match (a damaged cache)\n"
            "  --force                download every file again, even when cached\n"
            "                         (--verify and --force need the Hub: they fail rather\n"
            "                         than fall back to the cached copy)\n%s"
            "\nThe Hub is $HF_ENDPOINT (default https://huggingface.co); the token is\n"
            "$HF_TOKEN or the one `huggingface-cli login` saved.\n",
            kHubOptionsHelp);
        return kOk;
    }
    if (a.positional.size() != 1) throw UsageError{"pull takes one MODEL (see hfkit pull --help)"};
    const std::string &model = a.positional[0];
    HubOptions hub(a);
    ProgressDisplay progress("pulling " + model, a.flag("quiet") || a.flag("json"));
    hub.params.progress = ProgressDisplay::callback;
    hub.params.progress_user_data = &progress;
    hub.params.verify = a.flag("verify") ? 1 : 0;
    hub.params.force_download = a.flag("force") ? 1 : 0;
    char *dir = nullptr;
    hfk_status s;
    {
        InterruptGuard guard([] { request_cancel(); });
        s = hfk_prepare(model.c_str(), &hub.params, &dir);
    }
    progress.finish(s == HFK_OK);
    if (s == HFK_E_CANCELLED)
        exit_interrupted("\nhfkit: interrupted; run the same command again to resume");
    if (s != HFK_OK) return fail("cannot pull " + model, s);
    // The Hub could not be asked and the cached copy was used: say so (exit 0, it is usable).
    if (const char *w = hfk_last_warning(); w && *w)
        std::fprintf(stderr, "hfkit: warning: %s\n", w);
    uint64_t size = 0;
    hub.params.progress = nullptr;
    if (hfk_disk_usage(model.c_str(), &hub.params, &size) != HFK_OK) size = 0;
    if (a.flag("json"))
        std::printf("{\"model\": %s, \"path\": %s, \"size_on_disk\": %llu}\n",
                    json_string(model).c_str(), json_string(dir).c_str(),
                    static_cast<unsigned long long>(size));
    else
        std::printf("%s\n", dir);
    hfk_free(dir);
    return kOk;
}

}  // namespace cli
