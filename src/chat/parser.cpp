// Recursive-descent parser following Jinja's grammar and operator precedence.
#include "chat/parser.h"

#include <charconv>
#include <cstdlib>
#include <set>

#include "chat/error.h"
#include "chat/lexer.h"

namespace hfk::chat {
namespace {

constexpr int kMaxNesting = 128;

class Parser {
  public:
    explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

    std::shared_ptr<Program> run() {
        auto p = std::make_shared<Program>();
        std::string end = parse_body(p->body, {});
        if (!end.empty()) error("unexpected '" + end + "'");
        return p;
    }

  private:
    struct DepthGuard {
        Parser &p;
        explicit DepthGuard(Parser &parser) : p(parser) {
            if (++p.depth_ > kMaxNesting) p.error("template nesting too deep");
        }
        ~DepthGuard() { --p.depth_; }
    };

    const Token &cur() const { return t_[i_]; }
    const Token &next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }
    bool is_op(const char *op) const { return cur().type == Token::Type::Op && cur().text == op; }
    bool is_name(const char *n) const { return cur().type == Token::Type::Name && cur().text == n; }
    [[noreturn]] void error(const std::string &msg) const {
        throw TemplateError(ErrorKind::Syntax, msg + " (line " + std::to_string(cur().line) + ")");
    }
    void expect_op(const char *op) {
        if (!is_op(op)) error(std::string("expected '") + op + "'");
        next();
    }
    std::string expect_name() {
        if (cur().type != Token::Type::Name) error("expected a name");
        return next().text;
    }
    void expect_block_end() {
        if (cur().type != Token::Type::BlockEnd) error("expected end of statement block");
        next();
    }

    // Parses statements until a block tag whose name is in `ends` (returned, with the tag's
    // name consumed), or the end of the template ("" returned).
    std::string parse_body(Body &body, const std::set<std::string> &ends) {
        DepthGuard g(*this);
        while (true) {
            const Token &tk = cur();
            switch (tk.type) {
                case Token::Type::End:
                    if (!ends.empty())
                        error("unexpected end of template, expected '" + *ends.begin() + "'");
                    return "";
                case Token::Type::Text: {
                    auto s = std::make_unique<Stmt>();
                    s->kind = Stmt::Kind::Text;
                    s->text = tk.text;
                    s->line = tk.line;
                    next();
                    body.push_back(std::move(s));
                    break;
                }
                case Token::Type::VarBegin: {
                    next();
                    auto s = std::make_unique<Stmt>();
                    s->kind = Stmt::Kind::Output;
                    s->line = tk.line;
                    s->expr = parse_expr();
                    if (cur().type != Token::Type::VarEnd) error("expected '}}'");
                    next();
                    body.push_back(std::move(s));
                    break;
                }
                case Token::Type::BlockBegin: {
                    next();
                    if (cur().type != Token::Type::Name) error("expected a statement name");
                    std::string name = cur().text;
                    if (ends.count(name)) {
                        next();
                        return name;
                    }
                    body.push_back(parse_statement());
                    break;
                }
                default:
                    error("unexpected token");
            }
        }
    }

    StmtP parse_statement() {
        int line = cur().line;
        std::string name = next().text;
        auto s = std::make_unique<Stmt>();
        s->line = line;
        if (name == "if") {
            s->kind = Stmt::Kind::If;
            ExprP cond = parse_expr();
            expect_block_end();
            while (true) {
                Body b;
                std::string end = parse_body(b, {"elif", "else", "endif"});
                s->branches.emplace_back(std::move(cond), std::move(b));
                if (end == "elif") {
                    cond = parse_expr();
                    expect_block_end();
                    continue;
                }
                if (end == "else") {
                    expect_block_end();
                    parse_body(s->else_body, {"endif"});
                }
                expect_block_end();
                break;
            }
        } else if (name == "for") {
            s->kind = Stmt::Kind::For;
            s->targets.push_back(expect_name());
            while (is_op(",")) {
                next();
                s->targets.push_back(expect_name());
            }
            if (!is_name("in")) error("expected 'in'");
            next();
            s->expr = parse_or_ternary(false);
            if (is_name("if")) {
                next();
                s->cond = parse_or_ternary(false);
            }
            if (is_name("recursive")) {
                next();
                s->recursive = true;
            }
            expect_block_end();
            std::string end = parse_body(s->body, {"else", "endfor"});
            if (end == "else") {
                expect_block_end();
                parse_body(s->else_body, {"endfor"});
            }
            expect_block_end();
        } else if (name == "set") {
            std::string first = expect_name();
            if (is_op(".")) {
                next();
                s->attr_target = true;
                s->targets = {first, expect_name()};
            } else {
                s->targets.push_back(first);
                while (is_op(",")) {
                    next();
                    s->targets.push_back(expect_name());
                }
            }
            if (is_op("=")) {
                next();
                s->kind = Stmt::Kind::Set;
                s->expr = parse_tuple_or_expr();
                expect_block_end();
            } else {
                if (s->attr_target || s->targets.size() != 1) error("expected '='");
                s->kind = Stmt::Kind::SetBlock;
                if (is_op("|")) {
                    auto body_ref = std::make_unique<Expr>();
                    body_ref->kind = Expr::Kind::Name;
                    body_ref->name = "__body";
                    s->expr = parse_filters(std::move(body_ref));
                }
                expect_block_end();
                parse_body(s->body, {"endset"});
                expect_block_end();
            }
        } else if (name == "macro") {
            s->kind = Stmt::Kind::Macro;
            s->name = expect_name();
            parse_params(s->params);
            expect_block_end();
            parse_body(s->body, {"endmacro"});
            if (cur().type == Token::Type::Name) next();  // {% endmacro name %}
            expect_block_end();
        } else if (name == "call") {
            s->kind = Stmt::Kind::CallBlock;
            if (is_op("(")) parse_params(s->params);
            s->expr = parse_expr();
            if (s->expr->kind != Expr::Kind::Call) error("expected a call after 'call'");
            expect_block_end();
            parse_body(s->body, {"endcall"});
            expect_block_end();
        } else if (name == "filter") {
            s->kind = Stmt::Kind::FilterBlock;
            auto body_ref = std::make_unique<Expr>();
            body_ref->kind = Expr::Kind::Name;
            body_ref->name = "__body";
            s->expr = parse_filter_chain(std::move(body_ref));
            expect_block_end();
            parse_body(s->body, {"endfilter"});
            expect_block_end();
        } else if (name == "break" || name == "continue") {
            s->kind = name == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
            expect_block_end();
        } else if (name == "with") {
            s->kind = Stmt::Kind::With;
            while (cur().type != Token::Type::BlockEnd) {
                if (!s->params.empty()) expect_op(",");
                MacroParam p;
                p.name = expect_name();
                expect_op("=");
                p.default_value = parse_expr();
                s->params.push_back(std::move(p));
            }
            expect_block_end();
            parse_body(s->body, {"endwith"});
            expect_block_end();
        } else if (name == "generation") {
            // transformers' AssistantTracker tag: renders its body in place.
            s->kind = Stmt::Kind::Block;
            expect_block_end();
            parse_body(s->body, {"endgeneration"});
            expect_block_end();
        } else {
            error("encountered unknown tag '" + name + "'");
        }
        return s;
    }

    void parse_params(std::vector<MacroParam> &params) {
        expect_op("(");
        while (!is_op(")")) {
            if (!params.empty()) expect_op(",");
            if (is_op(")")) break;
            MacroParam p;
            p.name = expect_name();
            if (is_op("=")) {
                next();
                p.default_value = parse_expr();
            }
            params.push_back(std::move(p));
        }
        next();
    }

    ExprP make(Expr::Kind k, int line) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = line;
        return e;
    }

    // "a, b" without parentheses (set statements) makes a tuple.
    ExprP parse_tuple_or_expr() {
        int line = cur().line;
        ExprP first = parse_expr();
        if (!is_op(",")) return first;
        ExprP t = make(Expr::Kind::Tuple, line);
        t->args.push_back(std::move(first));
        while (is_op(",")) {
            next();
            if (cur().type == Token::Type::BlockEnd) break;
            t->args.push_back(parse_expr());
        }
        return t;
    }

    ExprP parse_expr() { return parse_or_ternary(true); }

    ExprP parse_or_ternary(bool with_cond) {
        DepthGuard g(*this);
        int line = cur().line;
        ExprP e = parse_or();
        while (with_cond && is_name("if")) {
            next();
            ExprP cond = parse_or();
            ExprP c = make(Expr::Kind::Cond, line);
            c->args.push_back(std::move(e));
            c->args.push_back(std::move(cond));
            if (is_name("else")) {
                next();
                c->args.push_back(parse_or_ternary(true));
            } else {
                c->args.push_back(nullptr);
            }
            e = std::move(c);
        }
        return e;
    }

    ExprP binary(Expr::Kind k, const std::string &op, ExprP a, ExprP b, int line) {
        ExprP e = make(k, line);
        e->name = op;
        e->args.push_back(std::move(a));
        e->args.push_back(std::move(b));
        return e;
    }

    ExprP parse_or() {
        int line = cur().line;
        ExprP e = parse_and();
        while (is_name("or")) {
            next();
            e = binary(Expr::Kind::Or, "or", std::move(e), parse_and(), line);
        }
        return e;
    }

    ExprP parse_and() {
        int line = cur().line;
        ExprP e = parse_not();
        while (is_name("and")) {
            next();
            e = binary(Expr::Kind::And, "and", std::move(e), parse_not(), line);
        }
        return e;
    }

    ExprP parse_not() {
        DepthGuard g(*this);
        if (is_name("not")) {
            int line = cur().line;
            next();
            ExprP e = make(Expr::Kind::Not, line);
            e->args.push_back(parse_not());
            return e;
        }
        return parse_compare();
    }

    ExprP parse_compare() {
        int line = cur().line;
        ExprP e = parse_math1();
        while (true) {
            std::string op;
            if (cur().type == Token::Type::Op &&
                (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                 cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
                op = next().text;
            } else if (is_name("in")) {
                next();
                op = "in";
            } else if (is_name("not") && i_ + 1 < t_.size() &&
                       t_[i_ + 1].type == Token::Type::Name && t_[i_ + 1].text == "in") {
                next();
                next();
                op = "not in";
            } else {
                return e;
            }
            e = binary(Expr::Kind::Binary, op, std::move(e), parse_math1(), line);
        }
    }

    ExprP parse_math1() {
        int line = cur().line;
        ExprP e = parse_concat();
        while (is_op("+") || is_op("-")) {
            std::string op = next().text;
            e = binary(Expr::Kind::Binary, op, std::move(e), parse_concat(), line);
        }
        return e;
    }

    ExprP parse_concat() {
        int line = cur().line;
        ExprP e = parse_math2();
        while (is_op("~")) {
            next();
            e = binary(Expr::Kind::Binary, "~", std::move(e), parse_math2(), line);
        }
        return e;
    }

    ExprP parse_math2() {
        int line = cur().line;
        ExprP e = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            std::string op = next().text;
            e = binary(Expr::Kind::Binary, op, std::move(e), parse_pow(), line);
        }
        return e;
    }

    ExprP parse_pow() {
        int line = cur().line;
        ExprP e = parse_unary(true);
        while (is_op("**")) {
            next();
            e = binary(Expr::Kind::Binary, "**", std::move(e), parse_unary(true), line);
        }
        return e;
    }

    ExprP parse_unary(bool with_filter) {
        DepthGuard g(*this);
        int line = cur().line;
        ExprP e;
        if (is_op("-") || is_op("+")) {
            bool neg = next().text == "-";
            e = make(neg ? Expr::Kind::Neg : Expr::Kind::Pos, line);
            e->args.push_back(parse_unary(false));
        } else {
            e = parse_postfix(parse_primary());
        }
        if (with_filter) e = parse_filters(std::move(e));
        return e;
    }

    ExprP parse_primary() {
        DepthGuard g(*this);
        const Token &tk = cur();
        int line = tk.line;
        switch (tk.type) {
            case Token::Type::Name: {
                std::string n = next().text;
                ExprP e = make(Expr::Kind::Literal, line);
                if (n == "true" || n == "True")
                    e->value = Value::of(true);
                else if (n == "false" || n == "False")
                    e->value = Value::of(false);
                else if (n == "none" || n == "None")
                    e->value = Value::none();
                else {
                    e->kind = Expr::Kind::Name;
                    e->name = n;
                }
                return e;
            }
            case Token::Type::String: {
                std::string s = next().text;
                while (cur().type == Token::Type::String) s += next().text;  // "a" "b"
                ExprP e = make(Expr::Kind::Literal, line);
                e->value = Value::of(s);
                return e;
            }
            case Token::Type::Int: {
                std::string s = next().text;
                int64_t v = 0;
                auto r = std::from_chars(s.data(), s.data() + s.size(), v);
                ExprP e = make(Expr::Kind::Literal, line);
                if (r.ec != std::errc())
                    e->value = Value::of(std::strtod(s.c_str(), nullptr));
                else
                    e->value = Value::of(v);
                return e;
            }
            case Token::Type::Float: {
                std::string s = next().text;
                ExprP e = make(Expr::Kind::Literal, line);
                e->value = Value::of(std::strtod(s.c_str(), nullptr));
                return e;
            }
            case Token::Type::Op: {
                if (tk.text == "(") {
                    next();
                    if (is_op(")")) {
                        next();
                        return make(Expr::Kind::Tuple, line);
                    }
                    ExprP first = parse_expr();
                    if (is_op(")")) {
                        next();
                        return first;
                    }
                    ExprP t = make(Expr::Kind::Tuple, line);
                    t->args.push_back(std::move(first));
                    while (is_op(",")) {
                        next();
                        if (is_op(")")) break;
                        t->args.push_back(parse_expr());
                    }
                    expect_op(")");
                    return t;
                }
                if (tk.text == "[") {
                    next();
                    ExprP l = make(Expr::Kind::List, line);
                    while (!is_op("]")) {
                        if (!l->args.empty()) expect_op(",");
                        if (is_op("]")) break;
                        l->args.push_back(parse_expr());
                    }
                    next();
                    return l;
                }
                if (tk.text == "{") {
                    next();
                    ExprP d = make(Expr::Kind::Dict, line);
                    while (!is_op("}")) {
                        if (!d->args.empty()) expect_op(",");
                        if (is_op("}")) break;
                        d->args.push_back(parse_expr());
                        expect_op(":");
                        d->args.push_back(parse_expr());
                    }
                    next();
                    return d;
                }
                error("unexpected '" + tk.text + "'");
            }
            default:
                error("unexpected token in expression");
        }
    }

    ExprP parse_postfix(ExprP e) {
        while (true) {
            int line = cur().line;
            if (is_op(".")) {
                next();
                ExprP a;
                if (cur().type == Token::Type::Int) {  // x.0 is x[0]
                    a = make(Expr::Kind::Index, line);
                    ExprP idx = make(Expr::Kind::Literal, line);
                    idx->value = Value::of(static_cast<int64_t>(std::atoll(next().text.c_str())));
                    a->args.push_back(std::move(e));
                    a->args.push_back(std::move(idx));
                } else {
                    a = make(Expr::Kind::Attr, line);
                    a->name = expect_name();
                    a->args.push_back(std::move(e));
                }
                e = std::move(a);
            } else if (is_op("[")) {
                next();
                e = parse_subscript(std::move(e), line);
            } else if (is_op("(")) {
                ExprP c = make(Expr::Kind::Call, line);
                c->args.push_back(std::move(e));
                parse_call_args(*c);
                e = std::move(c);
            } else {
                return e;
            }
        }
    }

    ExprP parse_subscript(ExprP target, int line) {
        ExprP parts[3];
        bool is_slice = false;
        int k = 0;
        while (true) {
            if (is_op(":")) {
                is_slice = true;
                next();
                if (++k > 2) error("bad slice");
                continue;
            }
            if (is_op("]")) break;
            if (parts[k]) error("expected ']'");
            parts[k] = parse_expr();
        }
        next();
        if (!is_slice) {
            if (!parts[0]) error("empty subscript");
            ExprP e = make(Expr::Kind::Index, line);
            e->args.push_back(std::move(target));
            e->args.push_back(std::move(parts[0]));
            return e;
        }
        ExprP e = make(Expr::Kind::Slice, line);
        e->args.push_back(std::move(target));
        for (auto &p : parts) e->args.push_back(std::move(p));
        return e;
    }

    // "(" args ")" into call->args (after the callee) and kwargs.
    void parse_call_args(Expr &call) {
        expect_op("(");
        bool first = true;
        while (!is_op(")")) {
            if (!first) expect_op(",");
            first = false;
            if (is_op(")")) break;
            if (is_op("*") || is_op("**")) {  // f(*list, **dict), as Jinja's call syntax
                const bool dict = next().text == "**";
                (dict ? call.star_kwargs : call.star_args) = parse_expr();
                continue;
            }
            if (cur().type == Token::Type::Name && i_ + 1 < t_.size() &&
                t_[i_ + 1].type == Token::Type::Op && t_[i_ + 1].text == "=") {
                if (call.star_kwargs) error("keyword argument after **kwargs");
                std::string k = next().text;
                next();
                call.kwargs.emplace_back(k, parse_expr());
            } else {
                if (!call.kwargs.empty() || call.star_args || call.star_kwargs)
                    error("positional argument after keyword or *args argument");
                call.args.push_back(parse_expr());
            }
        }
        next();
    }

    ExprP parse_filter_chain(ExprP e) {
        do {
            int line = cur().line;
            ExprP f = make(Expr::Kind::Filter, line);
            f->name = expect_name();
            while (is_op(".")) {  // dotted filter names
                next();
                f->name += "." + expect_name();
            }
            f->args.push_back(std::move(e));
            if (is_op("(")) parse_call_args(*f);
            e = std::move(f);
            if (!is_op("|")) break;
            next();
        } while (true);
        return e;
    }

    ExprP parse_filters(ExprP e) {
        while (true) {
            if (is_op("|")) {
                next();
                int line = cur().line;
                ExprP f = make(Expr::Kind::Filter, line);
                f->name = expect_name();
                f->args.push_back(std::move(e));
                if (is_op("(")) parse_call_args(*f);
                e = std::move(f);
            } else if (is_name("is")) {
                int line = cur().line;
                next();
                ExprP t = make(Expr::Kind::Test, line);
                if (is_name("not")) {
                    next();
                    t->negated = true;
                }
                t->name = expect_name();
                t->args.push_back(std::move(e));
                if (is_op("(")) {
                    parse_call_args(*t);
                } else if ((cur().type == Token::Type::Name || cur().type == Token::Type::String ||
                            cur().type == Token::Type::Int || cur().type == Token::Type::Float ||
                            is_op("[") || is_op("{")) &&
                           !is_name("else") && !is_name("or") && !is_name("and") &&
                           !is_name("is") && !is_name("if")) {
                    t->args.push_back(parse_postfix(parse_primary()));
                }
                e = std::move(t);
            } else {
                return e;
            }
        }
    }

    std::vector<Token> t_;
    size_t i_ = 0;
    int depth_ = 0;
};

}  // namespace

std::shared_ptr<Program> parse_template(const std::string &source) {
    return Parser(tokenize(source)).run();
}

}  // namespace hfk::chat
