"""Secrets and card ids out of text: redaction in structured places and id-tag masking.

Theory of operation: a secret is replaced where its *place* says it is one - a URL's userinfo
password, an Authorization header's credentials, the value of a key named like a secret
(`password`, `token`, OCPP's `AuthorizationKey`, ...), a TLS private-key path - never by
searching the text for the secret's characters, which mangles unrelated words (`ocpp1.6`
with password "ocpp") and shows where the secret sits. Secrets known by value (from the
config) are replaced only where they stand as a whole token and are long enough not to be
an ordinary word (MIN_LITERAL_SECRET characters).

Card ids (OCPP 1.6 §7.28 IdToken) identify people: in anything an operator sees at INFO or
ships off the machine they appear as `mask_id_tag(tag)`, the last 4 characters after
`****`; the full value is only in DEBUG lines (the OCPP frames), off by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

REDACTED = "***"
MASK = "****"
SHOWN_TAG_CHARS = 4  # what an operator needs to tell cards apart on site
MIN_LITERAL_SECRET = 8

# Key names whose values are secrets (config keys, JSON fields, query parameters).
SECRET_KEY = re.compile(
    r"(?i)^(?:[a-z0-9_.-]*[_.-])?(?:password|passwd|pass|secret|token|credentials?|"
    r"api_?key|private_?key|key_?file|keyfile|key_password|authorization_?key|authorizationkey)s?$"
)
_SECRET_WORD = (
    r"[A-Za-z0-9_.-]*(?:password|passwd|secret|token|credentials?|api_?key|"
    r"private_?key|key_?file|keyfile|authorizationkey)"
)
ID_TAG_KEYS = ("idTag", "parentIdTag", "id_tag", "parent_id_tag", "idToken")
TAG_FIELDS = frozenset({*ID_TAG_KEYS, "last_card"})  # card-id fields of the daemon's answers

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str], str], str]]
_RULES: tuple[_Rule, ...] = (
    # scheme://user:password@host -> scheme://user:***@host (RFC 3986 §3.2.1 userinfo)
    (
        re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]*@"),
        lambda m, mark: f"{m.group(1)}{mark}@",
    ),
    # Authorization: Basic dXNlcjpwYXNz  /  'Authorization': 'Bearer x' (RFC 7235 §4.2)
    (
        re.compile(
            r"(?i)(\bauthorization['\"]?\s*[:=]\s*['\"]?)(?:(basic|bearer|digest)\s+)?"
            r"[^\s'\",}]+"
        ),
        lambda m, mark: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{mark}",
    ),
    # OCPP ChangeConfiguration / GetConfiguration: {"key": "AuthorizationKey", "value": "..."}
    (
        re.compile(
            r"(?i)(\"key\"\s*:\s*\"(?:AuthorizationKey|[^\"]*password[^\"]*)\"\s*,\s*"
            r"\"value\"\s*:\s*)\"(?:[^\"\\]|\\.)*\""
        ),
        lambda m, mark: f'{m.group(1)}"{mark}"',
    ),
    # password=..., "password": "...", key_file = '/etc/x.key', --password x
    (
        re.compile(
            r"(?i)(['\"]?\b" + _SECRET_WORD + r"\b['\"]?\s*[:=]\s*)"
            r"(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s,;}&]+)"
        ),
        lambda m, mark: f"{m.group(1)}{_quoted(m.group(2), mark)}",
    ),
    (
        re.compile(r"(?i)(--(?:password|passwd|token|secret|key-file|keyfile)[ =])(\S+)"),
        lambda m, mark: f"{m.group(1)}{mark}",
    ),
)
_TAG_RULE = re.compile(
    r"((?:['\"]?)\b(?:" + "|".join(ID_TAG_KEYS) + r")\b['\"]?\s*[:=]\s*)"
    r"(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s,;})\]]+)"
)


def _quoted(value: str, mark: str) -> str:
    if value[:1] in ("'", '"'):
        return f"{value[0]}{mark}{value[0]}"
    return mark


def mask_id_tag(id_tag: object) -> str:
    """`****` and the last 4 characters of a card id (`04A1B2C3D4` -> `****C3D4`); an id of
    4 characters or fewer is masked whole. Not a str (None, absent): its repr, unmasked."""
    if not isinstance(id_tag, str):
        return repr(id_tag)
    if len(id_tag) <= SHOWN_TAG_CHARS:
        return MASK
    return MASK + id_tag[-SHOWN_TAG_CHARS:]


def mask_tag_fields(value: Any) -> Any:
    """`value` (a JSON-like tree: a status or sessions answer) copied with every card-id
    field (TAG_FIELDS) masked by `mask_id_tag`, wherever in the tree it sits."""
    if isinstance(value, dict):
        return {
            k: mask_id_tag(v) if k in TAG_FIELDS and isinstance(v, str) else mask_tag_fields(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_tag_fields(v) for v in value]
    return value


def is_secret_key(name: str) -> bool:
    """True for a config/JSON key that holds a secret (`password`, `csms.key_file`, ...)."""
    return bool(SECRET_KEY.match(name.strip("\"' ")))


class Redactor:
    """Redacts secrets in structured places, plus known secret values as whole tokens."""

    def __init__(self, secrets: Iterable[str] = (), marker: str = REDACTED) -> None:
        self._marker = marker
        literal = sorted(
            {s for s in secrets if s and len(s) >= MIN_LITERAL_SECRET}, key=len, reverse=True
        )
        self._literal = (
            re.compile(r"(?<![\w])(?:" + "|".join(map(re.escape, literal)) + r")(?![\w])")
            if literal
            else None
        )

    def redact(self, text: str) -> str:
        mark = self._marker
        for pattern, replace in _RULES:
            text = pattern.sub(lambda m, r=replace: r(m, mark), text)  # type: ignore[misc]
        if self._literal is not None:
            text = self._literal.sub(mark, text)
        return text


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with secrets replaced in structured places (see the module docstring)."""
    return Redactor(secrets).redact(text)


def mask_id_tags(text: str, known: Iterable[str] = ()) -> str:
    """`text` with card ids masked: values of idTag-like keys, and every whole-token
    occurrence of a `known` id (from the state database: local list, cache, transactions)."""
    text = _TAG_RULE.sub(lambda m: m.group(1) + _mask_value(m.group(2)), text)
    tags = sorted({t for t in known if t and len(t) > SHOWN_TAG_CHARS}, key=len, reverse=True)
    if tags:
        pattern = re.compile(r"(?<![\w*])(?:" + "|".join(map(re.escape, tags)) + r")(?![\w])")
        text = pattern.sub(lambda m: mask_id_tag(m.group(0)), text)
    return text


def _mask_value(value: str) -> str:
    if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2:
        return f"{value[0]}{mask_id_tag(value[1:-1])}{value[0]}"
    return mask_id_tag(value)
