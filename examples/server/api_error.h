// An error answered to an HTTP client, in OpenAI's JSON shape:
// {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}.
#pragma once

#include <string>

namespace server {

struct ApiError {
    int status = 400;
    std::string message;
    std::string param;  // the request field at fault; "" when none
    std::string code;   // a machine-readable reason; "" when none
};

// Shorthands for the statuses the server uses.
ApiError bad_request(std::string param, std::string message, std::string code = "");
ApiError not_found_model(const std::string &model);
ApiError busy(std::string message);
ApiError unavailable(std::string message, std::string code);

// OpenAI's "type" for a status: invalid_request_error, authentication_error, ...
const char *error_type(int status);

// The JSON body for `e`.
std::string error_json(const ApiError &e);

}  // namespace server
