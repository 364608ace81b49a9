// hfkit ls, rm and du: the models in the Hugging Face cache.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli.h"
#include "progress.h"

namespace cli {

namespace {

int help(const char *usage, const char *what, bool json, const char *hub_help = kHubOptionsHelp) {
    std::printf("usage: hfkit %s [options]\n\n%s\n\noptions:\n%s%s", usage, what,
                json ? "  --json                 machine-readable output\n" : "", hub_help);
    return kOk;
}

}  // namespace

int cmd_ls(int argc, char **argv) {
    const Args a = parse_args(argc, argv, 2, kHubValueOptions, {"help", "json", "offline"});
    if (a.flag("help"))
        return help("ls",
                    "Lists the models in the Hugging Face cache, with their size on disk and\n"
                    "the refs (branches, tags) of their revisions. A revision that cannot load\n"
                    "without the network (an interrupted download) is marked [incomplete];\n"
                    "--json has \"complete\" per model and per revision.",
                    true);
    if (!a.positional.empty()) throw UsageError{"ls takes no arguments"};
    HubOptions hub(a);
    char *json = nullptr;
    if (hfk_status s = hfk_downloaded_models(&hub.params, &json))
        return fail("cannot list the cache", s);
    // Directory names are bytes: valid_utf8 first, so the JSON parses and prints as UTF-8.
    const nlohmann::json models = nlohmann::json::parse(valid_utf8(json), nullptr, false);
    hfk_free(json);
    if (models.is_discarded()) return fail("cannot list the cache", HFK_E_INTERNAL);
    if (a.flag("json")) {
        std::printf("%s\n", models.dump().c_str());
        return kOk;
    }
    if (models.empty()) {
        std::printf("no models in the cache\n");
        return kOk;
    }
    std::printf("%-40s %10s  %s\n", "MODEL", "SIZE", "REVISIONS");
    for (const auto &m : models) {
        std::string revs;
        for (const auto &r : m["revisions"]) {
            if (!revs.empty()) revs += ", ";
            std::string refs;
            for (const auto &ref : r["refs"])
                refs += (refs.empty() ? "" : ",") + ref.get<std::string>();
            revs += r["commit"].get<std::string>().substr(0, 8) +
                    (refs.empty() ? "" : " (" + refs + ")") +
                    (r.value("complete", false) ? "" : " [incomplete]");
        }
        std::printf("%-40s %10s  %s\n", terminal_safe(m["repo_id"].get<std::string>()).c_str(),
                    human_bytes(m["size_on_disk"].get<uint64_t>()).c_str(),
                    terminal_safe(revs).c_str());
    }
    return kOk;
}

int cmd_rm(int argc, char **argv) {
    const Args a = parse_args(argc, argv, 2, kHubValueOptions, {"help", "json", "offline"});
    if (a.flag("help"))
        return help("rm MODEL...",
                    "Removes models from the Hugging Face cache: with --revision, that\n"
                    "revision only; without it, every revision. Then the files no revision\n"
                    "left uses. A model that is not in the cache is an error (exit 3), as is\n"
                    "one being downloaded (exit 1: cancel the download first).",
                    true,
                    (std::string("  --revision REV         remove only this branch, tag or commit\n"
                                 "                         (default: every revision)\n") +
                     kCacheOptionsHelp)
                        .c_str());
    if (a.positional.empty()) throw UsageError{"rm takes MODEL... (see hfkit rm --help)"};
    HubOptions hub(a);
    int code = kOk;
    std::string json = "[";
    for (const auto &model : a.positional) {
        uint64_t before = 0, after = 0;
        if (hfk_disk_usage(model.c_str(), &hub.params, &before) != HFK_OK) before = 0;
        if (hfk_status s = hfk_remove_from_disk(model.c_str(), &hub.params, 0)) {
            const int c = fail("cannot remove " + model, s);
            if (code == kOk) code = c;
            continue;
        }
        if (hfk_disk_usage(model.c_str(), &hub.params, &after) != HFK_OK) after = 0;
        const uint64_t freed = before > after ? before - after : 0;
        if (a.flag("json"))
            json += std::string(json.size() > 1 ? ", " : "") + "{\"model\": " + json_string(model) +
                    ", \"freed\": " + std::to_string(freed) + "}";
        else
            std::printf("removed %s (%s freed)\n", terminal_safe(model).c_str(),
                        human_bytes(freed).c_str());
    }
    if (a.flag("json")) std::printf("%s]\n", json.c_str());
    return code;
}

int cmd_du(int argc, char **argv) {
    const Args a = parse_args(argc, argv, 2, kHubValueOptions, {"help", "json", "offline"});
    if (a.flag("help"))
        return help("du [MODEL]",
                    "Prints the disk space the cache uses: for MODEL, or for the\n"
                    "whole cache. Files shared by revisions count once.",
                    true);
    if (a.positional.size() > 1) throw UsageError{"du takes at most one MODEL"};
    HubOptions hub(a);
    const char *model = a.positional.empty() ? nullptr : a.positional[0].c_str();
    if (model) {
        int32_t present = 0;
        if (hfk_status s = hfk_is_downloaded(model, &hub.params, &present))
            return fail(std::string("cannot measure ") + model, s);
        uint64_t bytes = 0;
        if (hfk_status s = hfk_disk_usage(model, &hub.params, &bytes))
            return fail(std::string("cannot measure ") + model, s);
        if (!present && bytes == 0) {
            std::fprintf(stderr, "hfkit: %s is not in the cache\n", terminal_safe(model).c_str());
            return kNotFound;
        }
    }
    uint64_t bytes = 0;
    if (hfk_status s = hfk_disk_usage(model, &hub.params, &bytes))
        return fail("cannot measure the cache", s);
    const std::string name = model ? model : "total";
    if (a.flag("json"))
        std::printf("{\"model\": %s, \"bytes\": %llu}\n",
                    model ? json_string(model).c_str() : "null",
                    static_cast<unsigned long long>(bytes));
    else
        std::printf("%s\t%s (%llu bytes)\n", terminal_safe(name).c_str(),
                    human_bytes(bytes).c_str(), static_cast<unsigned long long>(bytes));
    return kOk;
}

}  // namespace cli
