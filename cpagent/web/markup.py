"""HTML escaping for the page, the same as `html.escape` without importing the `html` package.

Why: `import html` loads `html.entities` (the HTML5 named-character table, ~0.34 MiB held
for the daemon's life) for `html.unescape`, which the page never calls. Escaping needs only
the five characters that can end a text node or an attribute value (HTML Living Standard
§13.1.2.6, "restrictions on the contents of raw text"; the same set `html.escape` replaces).
"""

from __future__ import annotations

_TABLE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"},
)


def escape(text: str) -> str:
    """`text` safe inside an HTML text node or a quoted attribute value."""
    return text.translate(_TABLE)
