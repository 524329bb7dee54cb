"""Plain text from feed HTML: tags stripped, entities unescaped, whitespace folded."""

from __future__ import annotations

import html
import re
import unicodedata

# Only real HTML: a tag name then attributes, or a comment. Slack-looking text such as
# `<!channel>`, `<@U1>` or `<https://x|y>` is not a tag: it stays, to be escaped later.
_TAG = re.compile(r"<!--.*?-->|</?[a-zA-Z][a-zA-Z0-9:-]*(?:\s[^<>]{0,2000})?/?>", re.DOTALL)
_BLOCK = re.compile(
    r"<\s*/?\s*(?:br|p|div|li|ul|ol|h[1-6]|tr|table|blockquote)\b[^>]{0,2000}>", re.IGNORECASE
)
_DROP = re.compile(r"<\s*(script|style)\b.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_LINES = re.compile(r"\s*\n\s*")
_CONTROL = (
    dict.fromkeys(c for c in range(0x20) if c not in (0x09, 0x0A))
    | {0x7F: None}
    | dict.fromkeys(range(0x80, 0xA0))
)


def html_to_text(raw: str | None, *, limit: int = 4000) -> str:
    """Return `raw` as one-paragraph plain text, at most `limit` characters."""
    if not raw:
        return ""
    text = raw[: limit * 20]
    if "<" in text:
        text = _DROP.sub(" ", text)
        text = _BLOCK.sub("\n", text)
        text = _TAG.sub("", text)
    text = html.unescape(html.unescape(text)) if "&" in text else text
    text = text.translate(_CONTROL)
    text = unicodedata.normalize("NFC", text)
    text = _SPACE.sub(" ", text)
    text = _LINES.sub(" ", text).strip()
    return truncate(text, limit)


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
