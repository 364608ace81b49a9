// Constructors of the models (bpe.cpp, wordpiece.cpp, unigram.cpp), dispatched by make_model.
#pragma once

#include "tokenizer/components.h"

namespace hfk::tok {

std::unique_ptr<Model> make_bpe(const json &j, const std::string &where);
std::unique_ptr<Model> make_wordpiece(const json &j, const std::string &where);
std::unique_ptr<Model> make_wordlevel(const json &j, const std::string &where);
std::unique_ptr<Model> make_unigram(const json &j, const std::string &where);

}  // namespace hfk::tok
