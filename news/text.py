"""Plain text from feed HTML: parsed by a real HTML parser, entities decoded, whitespace folded.

selectolax (the Lexbor engine, C) parses in linear time whatever the input: the regular
expressions used before took seconds to minutes on a summary of thousands of `<!--` or
unclosed `<script`, and the standard library's html.parser (Python 3.11) is quadratic on
the same inputs. The work is bounded too: only the first `max_html` characters are parsed.
"""

from __future__ import annotations

import html
import re
import unicodedata

from selectolax.lexbor import LexborHTMLParser

# Only real HTML is parsed as markup: a `<` that opens a whole tag (a name, attributes and
# the `>` before any other `<`) or a comment; the scans cannot overlap, so this is linear.
# Slack-looking text such as `<!channel>`, `<@U1>` or `<https://x|y>` is not a tag: it
# stays as text, to be escaped later.
_NOT_A_TAG = re.compile(r"<(?!/?[a-zA-Z][a-zA-Z0-9:-]*(?:\s[^<>]*)?/?>|!--)")
_DROPPED = ("script", "style")
# Elements that separate words: a break goes before each of their tags (folded into a space
# below); a fixed alternation after `<`, so linear. A break inside a script or an attribute
# goes with it.
_BLOCK_TAG = re.compile(r"(?=</?(?:br|p|div|li|ul|ol|h[1-6]|tr|table|blockquote)\b)", re.IGNORECASE)
# A tag or a comment's start, removed when the budget is spent: linear, [^<>] cannot overlap.
_ANY_TAG = re.compile(r"<[^<>]*>?")
_DANGLING_TAG = re.compile(r"</?[a-zA-Z][^<>]*\Z")
MAX_TAGS = 1000  # per fragment: HTML tree building is quadratic in nesting depth
FEED_HTML_CHARS = 1_000_000  # per feed, see TextBudget
FEED_HTML_TAGS = 25_000
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_LINES = re.compile(r"\s*\n\s*")
_CONTROL = (
    dict.fromkeys(c for c in range(0x20) if c not in (0x09, 0x0A))
    | {0x7F: None}
    | dict.fromkeys(range(0x80, 0xA0))
)


class TextBudget:
    """How much HTML one feed may still have parsed: characters and tags.

    Past it, markup is removed with one linear pattern instead of parsed (cruder, still
    text): a hostile feed cannot make its entries cost more than the budget together.
    """

    def __init__(self, chars: int = FEED_HTML_CHARS, tags: int = FEED_HTML_TAGS) -> None:
        self.chars = chars
        self.tags = tags
        self.parsed = 0  # fragments parsed with the HTML parser
        self.stripped = 0  # fragments over the budget, stripped with the pattern

    def take(self, chars: int, tags: int) -> bool:
        """Spend `chars` and `tags` if both are left; False (nothing spent) otherwise."""
        if chars > self.chars or tags > self.tags:
            self.stripped += 1
            return False
        self.chars -= chars
        self.tags -= tags
        self.parsed += 1
        return True


def html_to_text(
    raw: str | None,
    *,
    limit: int = 4000,
    max_html: int | None = None,
    budget: TextBudget | None = None,
) -> str:
    """Return `raw` as one-paragraph plain text, at most `limit` characters.

    Only the first `max_html` characters (default 20 × limit) and MAX_TAGS tags of `raw`
    are looked at; `budget` (one per feed) bounds what a whole feed may cost.
    """
    if not raw:
        return ""
    text = raw[: limit * 20 if max_html is None else max_html]
    if "<" in text:
        text = _cap_tags(text, MAX_TAGS)
        if len(text) < len(raw):
            text = _DANGLING_TAG.sub("", text)  # a tag cut in two by the cap above
        if budget is None or budget.take(len(text), text.count("<")):
            text = _markup_to_text(text)
        else:
            text = _ANY_TAG.sub(" ", text)
    else:
        text = html.unescape(text) if "&" in text else text
    text = html.unescape(text) if "&" in text else text  # feeds that escape their HTML twice
    text = text.translate(_CONTROL)
    text = unicodedata.normalize("NFC", text)
    text = _SPACE.sub(" ", text)
    text = _LINES.sub(" ", text).strip()
    return truncate(text, limit)


def _cap_tags(text: str, tags: int) -> str:
    """`text` up to (not including) its `tags`-th `<`."""
    if text.count("<") <= tags:
        return text
    at = -1
    for _ in range(tags):
        at = text.find("<", at + 1)
    return text[:at]


def _markup_to_text(markup: str) -> str:
    """The text of an HTML fragment: scripts and styles dropped, block elements as breaks."""
    markup = _BLOCK_TAG.sub("\n", _NOT_A_TAG.sub("&lt;", markup.replace("\x00", "")))
    tree = LexborHTMLParser(markup)
    tree.strip_tags(list(_DROPPED))
    root = tree.root
    return "" if root is None else root.text(deep=True, separator="")


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, on a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def fold(text: str) -> str:
    """Lower-case, accents and punctuation dropped: a key for comparing titles."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = [c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c)]
    return " ".join("".join(kept).split())
