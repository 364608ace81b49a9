// Template: parsing and rendering entry points.
#include "chat/template.h"

#include <ctime>

#include "chat/json_convert.h"
#include "chat/parser.h"

namespace hfk::chat {

Template::Template(const std::string &source) : program_(parse_template(source)) {}

std::string Template::render(const Dict &vars, const RenderOptions &opt) const {
    Interpreter in(opt.limits, opt.strftime_now ? opt.strftime_now : strftime_local_now);
    return in.render(*program_, vars);
}

std::string Template::render_json(const nlohmann::ordered_json &vars,
                                  const RenderOptions &opt) const {
    Value v = from_json(vars);
    if (!v.is_dict())
        throw TemplateError(ErrorKind::Runtime, "template variables must be a JSON object");
    return render(*v.dict, opt);
}

std::string strftime_local_now(const std::string &format) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[512];
    size_t n = std::strftime(buf, sizeof buf, format.c_str(), &tm);
    return std::string(buf, n);
}

}  // namespace hfk::chat
