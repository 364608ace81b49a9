// JSON Schema (the subset used for structured outputs) compiled to GBNF text.
//
// Supported: `type` (a name or a list: ["string", "null"] is nullable), `nullable: true`,
// `properties` (in their declared order), `required`, `additionalProperties` (see below), `items`,
// `prefixItems`, `minItems`/`maxItems`, `enum`, `const`, `anyOf`, `oneOf` (generated as anyOf:
// the branches must not overlap), `allOf` with one member, `$ref` to "#", "#/$defs/..." and
// "#/definitions/..." (recursion allowed), `minLength`/`maxLength`, `pattern` (the regex subset
// of regex_to_gbnf.h; unanchored as JSON Schema says; characters JSON must escape are left
// out of classes), `format` date, time, date-time, uuid, email (a simple local@domain form),
// `integer` with `minimum`/`maximum`/`exclusiveMinimum`/`exclusiveMaximum` (exact, up to 16
// digits), `number` with integral `minimum` >= 0 and `maximum` (inclusive only). Annotations
// (title, description, default, examples, $schema, $id, $comment) are ignored. Anything else
// that restricts values (e.g. multipleOf, uniqueItems, not, if/then/else, dependentRequired,
// patternProperties, negative number bounds) is HFK_E_INVALID_ARG naming its JSON pointer:
// never output that would fail the schema. Whitespace between tokens is at most one space (so
// a model cannot spend its tokens on indentation); numbers have at most 16 digits per part and
// a two-digit exponent, so every number is a finite double. A \u escape of a UTF-16 surrogate
// is generated only as a high-low pair, which counts as one character for min/maxLength.
//
// Object members. An object schema that declares no properties (`{"type": "object"}`) holds
// any members, as JSON Schema says. `additionalProperties: true` or a schema adds members after
// the declared ones, under keys other than the declared names, written without escapes (so the
// exclusion is exact); their keys are not checked for uniqueness among themselves (as
// llguidance). Declared `properties` WITHOUT `additionalProperties` generate the declared keys
// only: JSON Schema would allow others, but a schema that lists its properties means them (the
// choice of llama.cpp/ollama and of XGrammar's default strict mode; OpenAI's strict mode
// requires `additionalProperties: false`; llguidance allows others), and every generated
// document still validates. `false` generates the declared keys only.
#pragma once

#include <string>
#include <string_view>

namespace hfk::constrain {

// GBNF whose root is any JSON value (RFC 8259), with the whitespace and number bounds above.
std::string json_value_gbnf();

// Throws hfk::Error(HFK_E_INVALID_ARG): malformed JSON (with its byte offset) or an unsupported
// keyword (with its JSON pointer). HFK_E_UNSUPPORTED: a oneOf whose branches are not provably
// disjoint (compiled as the union of its branches, it would let a value match two of them).
std::string json_schema_to_gbnf(std::string_view schema_json);

}  // namespace hfk::constrain
