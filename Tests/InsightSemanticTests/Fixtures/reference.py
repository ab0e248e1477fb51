#!/usr/bin/env python3
"""Reference outputs for the InsightSemantic parity tests.

Computes, with the `tokenizers` package and plain numpy (no torch), the token ids of tricky strings and the
all-MiniLM-L6-v2 sentence embeddings (BERT encoder, mean pooling over the attention mask, L2 normalisation)
of realistic insight sentences, and writes them as JSON fixtures beside this file.

    pip install numpy safetensors tokenizers
    python3 Tests/InsightSemanticTests/Fixtures/reference.py [MODEL_DIR]

MODEL_DIR defaults to $INSIGHTD_MODEL_DIR or ~/.local/share/insightd/models/all-MiniLM-L6-v2
(deploy/fetch-model.sh installs it there).
"""
import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_TOKENS = 256

LONG_TEXT = " ".join(
    f"Sentence {i}: compounding small habits over years beats occasional heroic effort, "
    f"because consistency lowers the cost of starting again." for i in range(30)
)

# Strings that exercise every branch of the normaliser, pre-tokenizer and WordPiece.
TOKEN_CASES = [
    "",
    " ",
    "Hello, world!",
    "Café résumé naïve façade Ångström coöperate",
    "ÉCOLE Über STRAẞE İstanbul ΣΊΣΥΦΟΣ",
    "我爱北京天安门 and 東京タワー",
    "日本語のテキスト、かな混じり。",
    "한국어 문장도 있습니다",
    "𠀀𪜀𫝀𫠠𬺰 CJK extension blocks, 豈 compatibility",
    "Emoji: 🚀 launch 👍🏽 family 👨‍👩‍👧 flag 🇫🇷 ❤️",
    "https://example.com/path/to/page?q=1&x=two#frag and mailto:someone@example.org",
    "Numbers: 3.14159, 1,000,000, -42, 7e-3, 50% and $1.5bn in 2023/24",
    "“Curly quotes” and ‘single ones’ — em dash – en dash… ellipsis «guillemets» „low“",
    "Control\u0000chars\u0007here\tand\r\nnewlines\u000bvertical\u000cfeed\u0085nel\u200bzwsp\ufffdreplacement",
    "non\u00a0breaking\u2003em\u3000ideographic\u2028line space",
    "Math: x² + y² = z², ∑ ≤ ∞, 5 × 3 ÷ 2 ± 1, ½ ¼",
    "Symbols ©®™ € £ ¥ § ¶ † ‡ • ° ^_^ `code` ~tilde~ |pipe| <tag> {brace} [bracket] \\back",
    "antidisestablishmentarianism supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 100,
    "b" * 101,
    "x" * 150 + " short words after",
    "ÀÁÂÃÄÅ àáâãäå ÇçÑñ Øø Łł Đđ ß ﬁ ﬀ",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "don't won't it's O'Reilly's rock'n'roll e.g. i.e. U.S.A.",
    "CamelCaseWord snake_case_word kebab-case-word",
    "Zalgo: Z̷̢a̶l̵g̸o̴ t̶e̸x̵t̷",
    "Tabs\tand  multiple   spaces\n\n\nand newlines",
    "Arabic: مرحبا بالعالم Hebrew: שלום עולם",
    "Devanagari: नमस्ते दुनिया Thai: สวัสดีชาวโลก",
    "Greek ελληνικά Cyrillic кириллица",
    "\u0301 leading combining mark and trailing e\u0301",
    "[CLS] [SEP] [UNK] [PAD] [MASK] literal special tokens",
    "a[CLS]b [[MASK]] [cls] [SEP",
    LONG_TEXT,
]

# Insight-like sentences; each PARAPHRASES entry is the same idea worded twice.
PARAPHRASES = [
    ("Sleep deprivation impairs judgment as much as being legally drunk.",
     "Going without enough sleep damages your decision-making about as badly as alcohol intoxication does."),
    ("Compound interest rewards those who start saving early.",
     "Putting money aside while you are young pays off because returns keep growing on earlier returns."),
    ("Most startups fail because they build something nobody wants.",
     "The main reason new companies die is that there is no market demand for their product."),
    ("Writing things down helps you think more clearly.",
     "Putting your thoughts on paper makes your reasoning sharper."),
    ("Regular exercise reduces the risk of depression.",
     "People who work out often are less likely to become depressed."),
    ("Deliberate practice, not talent, explains expert performance.",
     "Experts get good through focused, effortful training rather than innate gifts."),
    ("Meetings without an agenda waste everyone's time.",
     "A meeting with no clear plan is usually a waste of the attendees' hours."),
    ("Trees in cities lower summer temperatures in the streets around them.",
     "Urban trees cool down nearby streets during hot weather."),
    ("Bees are essential for pollinating many of the crops we eat.",
     "Much of our food supply depends on bees carrying pollen between plants."),
    ("Reading fiction improves empathy.",
     "People who read novels become better at understanding how others feel."),
    ("The best way to learn a language is to speak it every day.",
     "Daily conversation practice is the most effective route to fluency in a new language."),
    ("Inflation erodes the value of cash savings over time.",
     "Money kept in a savings account slowly loses purchasing power as prices rise."),
    ("Small teams ship software faster than large ones.",
     "Software gets delivered more quickly when the team working on it is small."),
    ("Multitasking lowers the quality of your work.",
     "Trying to do several things at once makes each of them worse."),
    ("Sunlight in the morning helps reset your body clock.",
     "Getting daylight early in the day resynchronises your circadian rhythm."),
    ("Customers remember how you made them feel more than what you said.",
     "People recall the emotions a company gave them long after they forget its words."),
    ("Walking meetings lead to more creative ideas.",
     "Holding discussions while walking makes people come up with more original thinking."),
    ("Diversifying investments reduces risk without necessarily lowering returns.",
     "Spreading your money across many assets cuts risk while keeping expected gains."),
    ("Plastic waste in the oceans harms marine life.",
     "Sea creatures are being hurt by the plastic rubbish that ends up in the ocean."),
    ("Habits are formed through repetition in a stable context.",
     "Doing the same thing over and over in the same setting is how habits take hold."),
    ("Teaching a subject to others is one of the best ways to master it.",
     "Explaining a topic to other people is how you come to understand it deeply."),
    ("Remote work removes commuting time but can increase loneliness.",
     "Working from home saves the daily commute, yet it may leave people feeling isolated."),
]

OTHER_TEXTS = [
    "The Federal Reserve raised interest rates by 0.25 percentage points in March 2023.",
    "Octopuses have three hearts and blue blood.",
    "Version 2.0 of the protocol drops support for TLS 1.0 and 1.1.",
    "Café owners in Paris say tourists tip less than locals — « c'est la vie ».",
    "東京の人口は約1400万人です。",
    "A 10% rise in fuel prices cut airline profits by a third.",
    "Never interrupt your enemy when he is making a mistake.",
    "The mitochondria is the powerhouse of the cell 🔋.",
    "“Simplicity is prerequisite for reliability,” wrote Dijkstra.",
    "Don't optimise before you measure; profile first.",
    "",
    LONG_TEXT,
]


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def encode_batch(weights, config, batch_ids):
    """BERT forward pass in float64 for a padded batch, then mean pooling and L2 normalisation."""
    w = {k: v.astype(np.float64) for k, v in weights.items() if v.dtype == np.float32}
    n = len(batch_ids)
    seq = max(len(ids) for ids in batch_ids)
    ids = np.zeros((n, seq), dtype=np.int64)
    mask = np.zeros((n, seq), dtype=np.float64)
    for i, row in enumerate(batch_ids):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    hd = hidden // heads
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][np.arange(seq)][None]
         + w["embeddings.token_type_embeddings.weight"][0][None, None])
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], config["layer_norm_eps"])
    bias = (1.0 - mask)[:, None, None, :] * -1e9
    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        def lin(t, name):
            return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]
        q = lin(x, "attention.self.query").reshape(n, seq, heads, hd).transpose(0, 2, 1, 3)
        k = lin(x, "attention.self.key").reshape(n, seq, heads, hd).transpose(0, 2, 1, 3)
        v = lin(x, "attention.self.value").reshape(n, seq, heads, hd).transpose(0, 2, 1, 3)
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
        scores -= scores.max(-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(n, seq, hidden)
        x = layer_norm(lin(ctx, "attention.output.dense") + x,
                       w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"],
                       config["layer_norm_eps"])
        inter = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(lin(inter, "output.dense") + x,
                       w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], config["layer_norm_eps"])
    pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "INSIGHTD_MODEL_DIR", os.path.expanduser("~/.local/share/insightd/models/all-MiniLM-L6-v2"))
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    config = json.load(open(os.path.join(model_dir, "config.json")))
    weights = load_file(os.path.join(model_dir, "model.safetensors"))

    def ids_of(text):
        return tokenizer.encode(text).ids

    tokens = [{"text": t, "ids": ids_of(t)} for t in TOKEN_CASES]
    with open(os.path.join(HERE, "tokens.json"), "w", encoding="utf-8") as f:
        json.dump({"maxTokens": MAX_TOKENS, "cases": tokens}, f, ensure_ascii=False, indent=0)

    texts = [t for pair in PARAPHRASES for t in pair] + OTHER_TEXTS
    vectors = []
    for t in texts:  # one at a time: no padding, so no wasted erf calls
        vectors.extend(encode_batch(weights, config, [ids_of(t)]))
    pairs = [[2 * i, 2 * i + 1] for i in range(len(PARAPHRASES))]
    out = {
        "model": "all-MiniLM-L6-v2",
        "texts": [{"text": t, "ids": ids_of(t), "embedding": [round(float(x), 7) for x in v]}
                  for t, v in zip(texts, vectors)],
        "paraphrasePairs": pairs,
    }
    with open(os.path.join(HERE, "embeddings.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))

    # Report how well the paraphrase pairs separate, so a weak pair is noticed when the fixture is edited.
    m = np.array(vectors)
    sims = m @ m.T
    worst = 1.0
    for a, b in pairs:
        others = [j for j in range(2 * len(PARAPHRASES)) if j not in (a, b)]
        margin = sims[a, b] - max(sims[a, others].max(), sims[b, others].max())
        worst = min(worst, margin)
        if margin <= 0:
            print(f"weak pair: {texts[a]!r} / {texts[b]!r}: {sims[a, b]:.3f}, margin {margin:.3f}")
    print(f"{len(tokens)} token cases, {len(texts)} embeddings, worst paraphrase margin {worst:.3f}")


if __name__ == "__main__":
    main()
