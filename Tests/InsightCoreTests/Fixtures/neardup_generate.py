#!/usr/bin/env python3
"""Builds neardup_pairs.jsonl from neardup_paragraphs.tsv, deterministically.

Each line: {"a": ..., "b": ..., "label": "same" | "changed" | "unrelated", "kind": ...}.
same: the same claim with surface edits (typos, quotes/dashes, bullets, case, whitespace, markup, repeated word)
or word-level edits (dropped article, dropped or repeated function word).
changed: a different claim with near-identical wording (number, negation, content word, entity).
unrelated: another paragraph on the same topic.

Run from anywhere: python3 neardup_generate.py  (rewrites neardup_pairs.jsonl beside this file).
"""
import json
import os
import random
import re

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20261125

KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def neighbours(ch):
    low = ch.lower()
    for r, row in enumerate(KEYBOARD):
        c = row.find(low)
        if c < 0:
            continue
        out = []
        if c > 0:
            out.append(row[c - 1])
        if c + 1 < len(row):
            out.append(row[c + 1])
        if r > 0:
            up = KEYBOARD[r - 1]
            out += [up[c]] if c < len(up) else []
            out += [up[c + 1]] if c + 1 < len(up) else []
        if r + 1 < len(KEYBOARD):
            down = KEYBOARD[r + 1]
            out += [down[c]] if c < len(down) else []
            out += [down[c - 1]] if 0 <= c - 1 < len(down) else []
        return [o.upper() if ch.isupper() else o for o in out]
    return []


WORD = re.compile(r"[A-Za-z]+")
ARTICLES = {"a", "an", "the"}
DROPPABLE = ["that", "also", "very", "just", "really", "even", "of", "to", "and", "its", "their", "such", "so", "the", "a", "an"]
AUX = ["is", "are", "was", "were", "can", "will", "has", "have", "does", "do", "could", "would", "should", "may", "might", "must", "remains", "offers"]
ANTONYMS = [("increase", "decrease"), ("increases", "decreases"), ("more", "less"), ("higher", "lower"), ("rise", "fall"),
            ("larger", "smaller"), ("cheaper", "costlier"), ("faster", "slower"), ("best", "worst"), ("before", "after"),
            ("most", "least"), ("strong", "weak"), ("early", "late"), ("growing", "shrinking"), ("lower", "raise"),
            ("cut", "raised"), ("fell", "rose"), ("fewer", "more"), ("outperform", "underperform"), ("lasting", "brief"),
            ("cheapest", "dearest"), ("largest", "smallest"), ("declined", "increased"), ("reduce", "increase"),
            ("better", "worse"), ("lowers", "raises"), ("gain", "lose"), ("high", "low"), ("slowly", "quickly")]
ENTITIES = [
    ["United States", "China", "Japan", "Germany", "India", "Brazil", "France", "Mexico", "Canada", "Finland",
     "Switzerland", "United Kingdom", "Egypt", "Africa", "Europe", "Asia", "North America", "South Asia"],
    ["Microsoft", "Google", "Amazon", "Tesla", "BYD", "Nvidia", "Netflix", "Boeing", "McDonald's", "DeepSeek", "Apple", "Intel"],
    ["Austin", "Tokyo", "San Francisco", "California", "Berlin", "Paris", "London", "Chicago"],
    ["Rust", "TypeScript", "SQLite", "Kubernetes", "Python", "Java"],
    ["Britain", "Italy", "Spain", "Russia", "Poland"],
]
NUMBER_WORDS = [("million", "billion"), ("billion", "trillion"), ("thousand", "million"), ("three", "five"), ("two", "four"),
                ("ten", "twelve"), ("half", "a quarter"), ("fifty", "eighty"), ("third", "quarter"), ("first", "second"),
                ("twenty", "forty"), ("four", "six"), ("hundred", "thousand"), ("14", "16")]


def typo(word, rng):
    ops = ["swap", "delete", "insert", "substitute"]
    for _ in range(20):
        op = rng.choice(ops)
        if op == "swap" and len(word) >= 3:
            i = rng.randrange(len(word) - 1)
            if word[i] != word[i + 1]:
                return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        elif op == "delete" and len(word) >= 4:
            i = rng.randrange(1, len(word))
            return word[:i] + word[i + 1:]
        elif op == "insert":
            i = rng.randrange(1, len(word) + 1)
            near = neighbours(word[i - 1]) + [word[i - 1]]
            return word[:i] + rng.choice(near) + word[i:]
        elif op == "substitute":
            i = rng.randrange(len(word))
            near = neighbours(word[i])
            if near:
                return word[:i] + rng.choice(near) + word[i + 1:]
    return word


def words(text):
    return [(m.start(), m.end()) for m in WORD.finditer(text)]


def replace_span(text, span, new):
    return text[:span[0]] + new + text[span[1]:]


def edit_typo(text, rng, count=1):
    spans = [s for s in words(text) if s[1] - s[0] >= 3]
    chosen = sorted(rng.sample(spans, min(count, len(spans))), reverse=True)
    for s in chosen:
        text = replace_span(text, s, typo(text[s[0]:s[1]], rng))
    return text


def edit_quotes_dashes(text, rng):
    out = text.replace("'", "\u2019").replace('"', "\u201c", 1).replace('"', "\u201d", 1)
    hyphenated = re.findall(r"\b[A-Za-z]+-[A-Za-z]+\b", out)
    if hyphenated and rng.random() < 0.5:
        h = rng.choice(hyphenated)
        out = out.replace(h, h.replace("-", rng.choice([" ", "\u2010", "\u2013"])), 1)
    else:
        sp = words(out)
        i = rng.randrange(len(sp) - 2)
        phrase = out[sp[i][0]:sp[i + 1][1]]
        q = rng.choice([("\u201c", "\u201d"), ('"', '"'), ("'", "'"), ("\u00ab", "\u00bb")])
        out = out[:sp[i][0]] + q[0] + phrase + q[1] + out[sp[i + 1][1]:]
    if ", " in out and rng.random() < 0.5:
        out = out.replace(", ", rng.choice([" \u2014 ", " -- ", " \u2013 "]), 1)
    return out


def edit_bullet(text, rng):
    return rng.choice(["- ", "* ", "\u2022 ", "1. ", "3) ", "  - ", "> "]) + text


def edit_case(text, rng):
    choice = rng.randrange(3)
    if choice == 0:
        return text[0].lower() + text[1:]
    if choice == 1:
        return text.upper()
    sp = rng.choice(words(text))
    return replace_span(text, sp, text[sp[0]:sp[1]].upper())


def edit_whitespace(text, rng):
    out = text.replace(". ", rng.choice([".  ", ".\n", ". \t", ".\n\n"]))
    out = out.replace(" ", "  ", rng.randrange(1, 4))
    return "  " + out + " \n"


def edit_markup(text, rng):
    sp = words(text)
    i = rng.randrange(len(sp) - 2)
    phrase = text[sp[i][0]:sp[i + 1][1]]
    choice = rng.randrange(4)
    if choice == 0:
        new = "**" + phrase + "**"
    elif choice == 1:
        new = "_" + phrase + "_"
    elif choice == 2:
        new = "[" + phrase + "](https://example.com/" + phrase.lower().replace(" ", "-") + ")"
    else:
        new = "`" + phrase + "`"
    return text[:sp[i][0]] + new + text[sp[i + 1][1]:]


def edit_repeat(text, rng, only=None):
    sp = [s for s in words(text) if only is None or text[s[0]:s[1]].lower() in only]
    if not sp:
        return None
    s = rng.choice(sp)
    w = text[s[0]:s[1]]
    return text[:s[1]] + " " + w + text[s[1]:]


def edit_drop(text, rng, candidates):
    sp = [s for s in words(text) if text[s[0]:s[1]].lower() in candidates]
    if not sp:
        return None
    s = rng.choice(sp)
    end = s[1] + 1 if s[1] < len(text) and text[s[1]] == " " else s[1]
    out = text[:s[0]] + text[end:]
    return out[0].upper() + out[1:] if s[0] == 0 else out


# Adjectives, adverbs and small words a reader drops without changing what is said.
ORDINARY = ["new", "large", "small", "big", "major", "recent", "significant", "strong", "clear", "simple", "important",
            "key", "real", "huge", "modern", "global", "local", "public", "private", "digital", "main", "current",
            "popular", "typical", "common", "basic", "whole", "entire", "overall", "general", "several", "certain",
            "now", "here", "well", "still", "largely", "mostly", "widely", "quickly", "slowly", "simply", "clearly",
            "directly", "actually", "already", "often", "usually", "mainly", "truly", "fully", "steadily", "sharply"]
CLAIM_LIKE = {"whole", "entire", "several", "certain", "still", "already", "often", "usually", "new", "quickly", "slowly",
              "mostly", "largely", "mainly"}


def drop_ordinary(text, rng, entities):
    """Drops about one word in 25 (at least one) from ORDINARY, never the first word, never two side by side."""
    def ordinary(word):
        adverb = word.endswith("ly") and len(word) >= 6 and word.islower() and word not in (
            "only", "likely", "unlikely", "early", "roughly", "nearly", "approximately", "barely", "hardly", "probably",
            "possibly", "certainly", "definitely", "rarely", "frequently", "occasionally")
        return (word in ORDINARY or adverb) and word not in CLAIM_LIKE
    candidates = [s for s in words(text)[1:] if ordinary(text[s[0]:s[1]])]
    if not candidates:
        return None
    count = max(1, len(words(text)) // 25)
    chosen = []
    for s in rng.sample(candidates, len(candidates)):
        if len(chosen) == count:
            break
        if all(abs(s[0] - c[0]) > 20 for c in chosen):
            chosen.append(s)
    out = text
    for s in sorted(chosen, reverse=True):
        end = s[1] + 1 if s[1] < len(out) and out[s[1]] == " " else s[1]
        out = out[:s[0]] + out[end:]
    return out


def drop_matching(text, rng, pattern):
    """Drops one match of `pattern` (and the space after it)."""
    matches = list(re.finditer(pattern, text))
    if not matches:
        return None
    m = rng.choice(matches)
    end = m.end() + 1 if m.end() < len(text) and text[m.end()] == " " else m.end()
    out = text[:m.start()] + text[end:]
    return out[0].upper() + out[1:] if m.start() == 0 and out else out


def change_number(text, rng):
    nums = [m for m in re.finditer(r"\d+(?:[.,]\d+)*", text)]
    if nums and rng.random() < 0.75:
        m = rng.choice(nums)
        old = m.group(0)
        digits = [i for i, c in enumerate(old) if c.isdigit()]
        i = rng.choice(digits)
        new_digit = rng.choice([d for d in "0123456789" if d != old[i] and not (i == 0 and d == "0")])
        return text[:m.start()] + old[:i] + new_digit + old[i + 1:] + text[m.end():]
    options = [(a, b) for a, b in NUMBER_WORDS if re.search(r"\b" + re.escape(a) + r"\b", text)]
    options += [(b, a) for a, b in NUMBER_WORDS if re.search(r"\b" + re.escape(b) + r"\b", text)]
    if not options:
        if not nums:
            return None
        return change_number(text, rng)
    a, b = rng.choice(options)
    return re.sub(r"\b" + re.escape(a) + r"\b", b, text, count=1)


def change_negation(text, rng):
    choice = rng.randrange(3)
    if choice == 0:
        m = re.search(r"\b(not|never) ", text)
        if m:
            return text[:m.start()] + text[m.end():]
    if choice == 1:
        m = re.search(r"\b(likely|possible|able|legal|common|profitable|safe|clear)\b", text)
        if m:
            prefix = {"likely": "un", "possible": "im", "able": "un", "legal": "il", "common": "un",
                      "profitable": "un", "safe": "un", "clear": "un"}[m.group(1)]
            return text[:m.start()] + prefix + text[m.start():]
    # An aux already followed by a negation would only repeat it ("were never never"): not a changed claim.
    auxes = [m for m in re.finditer(r"\b(" + "|".join(AUX) + r")\b(?! (?:not|never|no)\b)", text)]
    if not auxes:
        m = re.search(r"\b([a-z]+s) ", text)
        if not m:
            return None
        return text[:m.start()] + "does not " + m.group(1)[:-1] + " " + text[m.end():]
    m = rng.choice(auxes)
    word = m.group(1)
    if word in ("remains", "offers"):
        return text[:m.start()] + "no longer " + text[m.start():]
    if word == "can" and rng.random() < 0.5:
        return text[:m.start()] + "cannot" + text[m.end():]
    if word in ("does", "do", "is", "was") and rng.random() < 0.3:
        return text[:m.start()] + word + "n't" + text[m.end():]
    return text[:m.end()] + " " + rng.choice(["not", "never"]) + text[m.end():]


def change_entity(text, rng):
    options = []
    for group in ENTITIES:
        for e in group:
            if re.search(r"\b" + re.escape(e) + r"\b", text):
                options.append((e, group))
    if not options:
        return None
    e, group = rng.choice(options)
    other = rng.choice([g for g in group if g != e and g not in text])
    return re.sub(r"\b" + re.escape(e) + r"\b", other, text, count=1)


def change_content(text, rng, vocabulary):
    options = [(a, b) for a, b in ANTONYMS if re.search(r"\b" + a + r"\b", text)]
    if options and rng.random() < 0.5:
        a, b = rng.choice(options)
        return re.sub(r"\b" + a + r"\b", b, text, count=1)
    sp = [s for s in words(text) if s[1] - s[0] >= 5 and text[s[0]:s[1]].islower()]
    s = rng.choice(sp)
    old = text[s[0]:s[1]]
    pool = [v for v in vocabulary if v != old and abs(len(v) - len(old)) <= 3 and v[:3] != old[:3]]
    return replace_span(text, s, rng.choice(pool))


def main():
    rng = random.Random(SEED)
    rows = []
    with open(os.path.join(HERE, "neardup_paragraphs.tsv"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                topic, text = line.split("\t", 1)
                rows.append((topic, text))
    vocabulary = sorted({w for _, t in rows for w in WORD.findall(t) if len(w) >= 5 and w.islower()})
    pairs = []

    def add(a, b, label, kind):
        if b is None or b == a:
            return
        if rng.random() < 0.5:
            a, b = b, a
        pairs.append({"a": a, "b": b, "label": label, "kind": kind})

    for index, (topic, text) in enumerate(rows):
        add(text, edit_typo(text, rng, 1), "same", "typo")
        add(text, edit_typo(text, rng, 2), "same", "typo2")
        add(text, edit_quotes_dashes(text, rng), "same", "quotes_dashes")
        add(text, edit_bullet(text, rng), "same", "bullet")
        add(text, edit_case(text, rng), "same", "case")
        add(text, edit_whitespace(text, rng), "same", "whitespace")
        add(text, edit_markup(text, rng), "same", "markup")
        add(text, edit_repeat(text, rng), "same", "repeated_word")
        add(text, edit_drop(text, rng, ARTICLES), "same", "dropped_article")
        add(text, edit_drop(text, rng, set(DROPPABLE) - ARTICLES), "same", "dropped_function_word")
        add(text, edit_repeat(text, rng, set(DROPPABLE)), "same", "repeated_function_word")
        combined = edit_bullet(edit_case(edit_typo(text, rng, 1), rng), rng)
        add(text, combined, "same", "combined_surface")
        add(text, change_number(text, rng), "changed", "number")
        add(text, change_negation(text, rng), "changed", "negation")
        add(text, change_entity(text, rng), "changed", "entity")
        add(text, change_content(text, rng, vocabulary), "changed", "content_word")
        siblings = [t for j, (tp, t) in enumerate(rows) if tp == topic and j != index]
        add(text, rng.choice(siblings), "unrelated", "sibling")

    # Dropped words, from a generator of their own so the pairs above stay as they were: ordinary words (about one
    # in 25) keep the claim; a dropped figure, name or claim word changes it.
    rng = random.Random(SEED + 1)
    entities = {e for group in ENTITIES for e in group}
    for topic, text in rows:
        add(text, drop_ordinary(text, rng, entities), "same", "dropped_ordinary_word")
        add(text, drop_matching(text, rng, r"\b\d+(?:[.,]\d+)*%?"), "changed", "dropped_number")
        present = [e for e in entities if re.search(r"\b" + re.escape(e) + r"\b", text)]
        if present:
            add(text, drop_matching(text, rng, r"\b" + re.escape(rng.choice(sorted(present))) + r"\b"), "changed", "dropped_entity")
        add(text, drop_matching(text, rng, r"\b(?:only|most|all|may|might|always|often|rarely|more|less|fewer|almost)\b"),
            "changed", "dropped_claim_word")

    with open(os.path.join(HERE, "neardup_pairs.jsonl"), "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    counts = {}
    for p in pairs:
        counts[(p["label"], p["kind"])] = counts.get((p["label"], p["kind"]), 0) + 1
    for k in sorted(counts):
        print(k[0], k[1], counts[k])
    print("total", len(pairs))


if __name__ == "__main__":
    main()
