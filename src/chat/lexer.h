// Jinja lexer with the environment transformers uses: trim_blocks, lstrip_blocks, newlines
// normalised to "\n", one trailing newline of the template dropped (keep_trailing_newline=False).
#pragma once

#include <string>
#include <vector>

namespace hfk::chat {

struct Token {
    enum class Type {
        Text,
        VarBegin,
        VarEnd,
        BlockBegin,
        BlockEnd,
        Name,
        String,
        Int,
        Float,
        Op,
        End
    };
    Type type;
    std::string text;  // Text data, name, unescaped string, number spelling or operator
    int line = 1;
};

// Throws TemplateError(Syntax) on an unterminated tag, string or comment.
std::vector<Token> tokenize(const std::string &source);

}  // namespace hfk::chat
