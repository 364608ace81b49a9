# Writes scripts_corpus.jsonl beside this file: the tokenizer tests' own corpus (scripts and cases
# the shared corpus does not cover), compared with the Rust tokenizers library by
# test_rust_oracle.cpp. Append new cases at the end so the ids of existing cases stay put.
import json
import os
cases = []
def add(cat, text): cases.append((cat, text))
# Thai (no spaces between words, tone marks and vowels above/below)
add("thai", "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ")
add("thai", "สวัสดีครับ ผมชื่อสมชาย")
add("thai", "กรุงเทพมหานคร อมรรัตนโกสินทร์ มหินทรายุธยา")
add("thai", "น้ำ ผู้ใหญ่ เด็ก ๆ ๑๒๓๔")
add("thai", "ก\u0e49\u0e49\u0e49")  # stacked tone marks
# Khmer (coeng subscripts)
add("khmer", "ភាសាខ្មែរ")
add("khmer", "ព្រះរាជាណាចក្រកម្ពុជា")
add("khmer", "ស្រ្តី ក្ស ្ក")
add("khmer", "១២៣ លេខ")
# Lao, Myanmar, Tibetan
add("lao", "ພາສາລາວ")
add("myanmar", "မြန်မာဘာသာ")
add("tibetan", "བོད་ཡིག")
# Devanagari and other Indic with combining marks
add("devanagari", "नमस्ते दुनिया")
add("devanagari", "हिन्दी में लिखा गया पाठ")
add("devanagari", "क्षत्रिय ज्ञान श्री")
add("devanagari", "क\u093c ख\u093c ग\u093c")  # nukta decomposed
add("devanagari", "क़ ख़ ग़")  # precomposed nukta forms
add("devanagari", "अँधेरा संस्कृतम् ॐ")
add("devanagari", "क\u094d\u200dष क\u094d\u200cष")  # ZWJ / ZWNJ after virama
add("devanagari", "०१२३४५६७८९")
add("bengali", "বাংলা ভাষা")
add("tamil", "தமிழ் மொழி")
add("gurmukhi", "ਪੰਜਾਬੀ")
# Decomposed Latin (combining marks)
add("decomposed", "E\u0301")
add("decomposed", "N\u0303")
add("decomposed", "e\u0301")
add("decomposed", "Cafe\u0301 re\u0301sume\u0301 nai\u0308ve")
add("decomposed", "A\u0301\u0301")
add("decomposed", "a\u0300\u0301\u0302\u0303\u0304")
add("decomposed", "o\u0308\u0304 u\u0308\u030c")
add("decomposed", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333")
add("decomposed", "\u0301 leading combining mark")
add("decomposed", "ﬁ\u0301 ligature plus mark")
add("decomposed", "ｶ\uff9e ﾊﾟ halfwidth kana")
add("decomposed", "Å Å Å")  # U+212B, U+00C5, A+ring
add("decomposed", "ǅ ǆ Ǆ")
add("decomposed", "I\u0307stanbul İstanbul")
add("decomposed", "ŉ ẞ ß")
# Emoji sequences
add("emoji", "👨\u200d👩\u200d👧\u200d👦")
add("emoji", "👩🏽\u200d💻 at work")
add("emoji", "🏳\ufe0f\u200d🌈 🏴\u200d☠\ufe0f")
add("emoji", "🇯🇵🇺🇸🇫🇷")
add("emoji", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f")  # tag sequence
add("emoji", "1\ufe0f\u20e3 #\ufe0f\u20e3")
add("emoji", "❤\ufe0f ❤ ♥\ufe0e")
add("emoji", "👍🏻👍🏼👍🏽👍🏾👍🏿")
add("emoji", "🧑\u200d🤝\u200d🧑🫶🏾")
# Hangul: precomposed, conjoining jamo, compatibility jamo
add("hangul", "한국어 텍스트")
add("hangul", "\u1112\u1161\u11ab\u1100\u1173\u11af")  # conjoining jamo
add("hangul", "ㅎㅏㄴㄱㅡㄹ")  # compatibility jamo
add("hangul", "\u1100\u1161 \u1100\u1161\u11a8 \u115f\u1160")
add("hangul", "ﾡﾢ halfwidth hangul")
# RTL with bidi controls
add("rtl", "مرحبا بالعالم")
add("rtl", "שלום עולם")
add("rtl", "\u202bعربي\u202c and \u202aEnglish\u202c")
add("rtl", "\u200fשלום\u200e hello \u2067مرحبا\u2069")
add("rtl", "\u202eevil reversed\u202c")
add("rtl", "العَرَبِيَّة مع التشكيل")
add("rtl", "ﻻ ﷺ ﷽")
add("rtl", "فارسی: ۱۲۳ ٤٥٦")
add("rtl", "\u061c\u0600\u06dd")
# code
add("code", "def f(x):\n    return {k: v**2 for k, v in x.items() if v != None}\n")
add("code", "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }\n")
add("code", "fn main() { let v: Vec<u8> = vec![1, 2, 3]; println!(\"{:?}\", &v[..]); }")
add("code", "const f = async (a, b) => { await g?.(a ?? b); return `${a}${b}`; };")
add("code", "SELECT id, COUNT(*) FROM t WHERE x <> 'O''Brien' GROUP BY id HAVING COUNT(*) > 1;")
add("code", "if [[ -z \"$HOME\" ]]; then echo \"${PATH//:/\\n}\" | grep -E '^/usr' >&2; fi")
add("code", "<div class=\"a\"><!-- c --><a href='x?y=1&amp;z=2'>l</a></div>")
add("code", "\tindented\twith\ttabs\r\n\t\t  mixed  \t\n")
add("code", "x = [0x1F, 0b1010, 1_000_000, 3.14e-10, -0.0, 1e+308]")
add("code", "λx.λy.x ∘ y ≠ ∅ ∀x∈ℝ: x² ≥ 0")
add("code", "    \n        \n            deep_indent()")
# very long words and numbers
add("long", "a" * 300)
add("long", "Pneumonoultramicroscopicsilicovolcanoconiosis" * 4)
add("long", "1234567890" * 30)
add("long", "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798214808651328230664709384460955058223172535940812848111745028410270193852110555964462294895493038196")
add("long", "https://example.com/" + "path/" * 40 + "?q=" + "x" * 50)
add("long", "ThisIsAVeryLongCamelCaseIdentifierThatKeepsGoingAndGoingWithoutAnySpacesAtAllUntilItEnds" * 2)
add("long", "日本語" * 80)
add("long", "ab " * 150)
add("long", "!" * 200)
add("long", " " * 120 + "x")
add("long", "\n" * 60 + "y")
# control characters and odd code points
add("control", "a\u0000b\u0001c\u0007d\u001be")
add("control", "tab\there\vvertical\fform")
add("control", "\u0085next line\u2028line sep\u2029para sep")
add("control", "soft\u00adhyphen zero\u200bwidth")
add("control", "\u200cnon\u200djoiner")
add("control", "\ufeffBOM at start")
add("control", "\ufffe\uffff noncharacters")
add("control", "\u0378 unassigned \u08e2 \u0890 \U000110cd \U00013430")
add("control", "\ue000 private \U000f0000 \U0010fffd")
add("control", "\ufffd replacement")
add("control", "\u007f delete \u009f apc")
add("control", "\r\r\n\n\r")
add("control", "\u3000ideographic\u3000space\u00a0nbsp\u202fnnbsp")
add("control", "\u2060word\u2061joiner\u2066iso\u2069")
# mixed spaces at the start (Metaspace decoders), leading/trailing
add("spaces", "  two leading spaces")
add("spaces", "   three leading then text   ")
add("spaces", " ")
add("spaces", "\u2581 literal lower one eighth block \u2581\u2581")
add("spaces", "\u2581\u2581start with blocks")
# mixed scripts
add("mixed", "English Ελληνικά Русский 中文 日本語 한국어 العربية עברית हिन्दी ไทย")
add("mixed", "ΣΑΣ ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ")
add("mixed", "Ⅻ ⅻ ① ⑴ ⒈ ¼ ½ ¾ ² ³")
add("mixed", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３")
add("mixed", "𝐁𝐨𝐥𝐝 𝕯𝖔𝖚𝖇𝖑𝖊 𝒮𝒸𝓇𝒾𝓅𝓉")
add("mixed", "𠀀𪛖 CJK extension B")
add("mixed", "Ǆemal ǈj ǋ")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts_corpus.jsonl"), "w") as f:
    for i, (cat, text) in enumerate(cases):
        f.write(json.dumps({"id": i, "cat": cat, "text": text}, ensure_ascii=False) + "\n")
print(len(cases))
