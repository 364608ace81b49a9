#include "api_error.h"

#include <nlohmann/json.hpp>

namespace server {

ApiError bad_request(std::string param, std::string message, std::string code) {
    return ApiError{400, std::move(message), std::move(param), std::move(code)};
}

ApiError not_found_model(const std::string &model) {
    return ApiError{404, "The model '" + model + "' does not exist (see GET /v1/models)", "model",
                    "model_not_found"};
}

ApiError busy(std::string message) {
    return ApiError{503, std::move(message), "", "server_busy"};
}

ApiError unavailable(std::string message, std::string code) {
    return ApiError{503, std::move(message), "", std::move(code)};
}

const char *error_type(int status) {
    switch (status) {
        case 401:
            return "authentication_error";
        case 403:
            return "permission_error";
        case 404:
            return "invalid_request_error";
        case 413:
            return "invalid_request_error";
        case 429:
            return "rate_limit_error";
        default:
            break;
    }
    if (status >= 500) return "server_error";
    return "invalid_request_error";
}

std::string error_json(const ApiError &e) {
    nlohmann::ordered_json body = {{"error",
                                    {{"message", e.message},
                                     {"type", error_type(e.status)},
                                     {"param", nullptr},
                                     {"code", nullptr}}}};
    if (!e.param.empty()) body["error"]["param"] = e.param;
    if (!e.code.empty()) body["error"]["code"] = e.code;
    // Messages may quote client input: replace invalid UTF-8 instead of throwing.
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace server
