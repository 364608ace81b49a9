#!/usr/bin/python3
"""Independent oracle for hfkit's chat templates: Debian's python3-jinja2 configured the way
transformers' chat_template_utils configures it (ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loopcontrols, a {% generation %} tag, tojson over json.dumps with
ensure_ascii=False, raise_exception, strftime_now) and transformers' continue_final_message.

usage: jinja_oracle.py PLAN.json (a list of {id, template, special_tokens, request} or
{id, template, vars})  ->  one JSON line per case: {"id", "rendered"} or
{"id", "error", "raised"} (raised: the template called raise_exception).
The clock is fixed (2024-07-26 12:00) so renders are reproducible.
"""
import copy
import datetime
import json
import sys

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime.datetime(2024, 7, 26, 12, 0, 0)


class Raised(Exception):
    pass


class GenerationTag(jinja2.ext.Extension):
    """transformers' AssistantTracker without the index tracking: the body renders in place."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise Raised(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return FIXED_NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


TAG = "CONTINUE_FINAL_MESSAGE_TAG "


def render(env, source, special_tokens, req):
    tpl = env.from_string(source)
    messages = copy.deepcopy(req["messages"])
    cont = req.get("continue_final_message", False)
    final = None
    if cont:
        content = messages[-1]["content"]
        if isinstance(content, list):
            for block in reversed(content):
                if "text" in block:
                    final = block["text"]
                    block["text"] = block["text"] + TAG
                    break
        else:
            final = content
            messages[-1]["content"] = content + TAG
    out = tpl.render(messages=messages, tools=req.get("tools"), documents=req.get("documents"),
                     add_generation_prompt=req.get("add_generation_prompt", False),
                     **special_tokens, **req.get("extra", {}))
    if cont:
        if final.strip() not in out or TAG.strip() not in out:
            raise ValueError("final message not in the rendering")
        loc = out.rindex(TAG.strip())
        out = out[:loc] if out[loc:loc + len(TAG)] == TAG else out[:loc].rstrip()
    return out


def main():
    plan = json.load(open(sys.argv[1], encoding="utf-8"))
    env = make_env()
    out = sys.stdout
    for case in plan:
        rec = {"id": case["id"]}
        try:
            if "vars" in case:  # a language-feature snippet: plain variables, no chat request
                rec["rendered"] = env.from_string(case["template"]).render(**case["vars"])
            else:
                rec["rendered"] = render(env, case["template"], case["special_tokens"],
                                         case["request"])
        except Raised as e:
            rec["error"], rec["raised"] = str(e), True
        except Exception as e:  # any other failure: hfkit must fail too
            rec["error"], rec["raised"] = f"{type(e).__name__}: {e}", False
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
