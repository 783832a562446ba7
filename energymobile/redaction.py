"""Secrets out of what is shown or stored: URLs with their password masked, text scrubbed.

A database URL may carry its password in any form SQLAlchemy accepts: percent-encoded or not
in the user part (`user:p%23ss@host`, `user:p#ss/?@host`: SQLAlchemy takes everything up to
the `@` as the password), or as a query parameter (`?password=…`, `?passwd=…`), which the
driver receives as a connection argument. `urllib.parse.urlsplit` reads the raw forms
wrongly (a `#` starts its fragment, a `/` ends its host), so the URL is parsed here as
SQLAlchemy parses it, and masked from that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

MASK = "***"
SCRUB_MIN_CHARS = 4
"""Shorter secrets are not scrubbed from text (replacing every "ab" would garble messages);
they are still masked in URLs."""
SECRET_QUERY_KEY = re.compile(r"pass|pwd|secret|token|credential|auth|key", re.IGNORECASE)
"""Query parameters whose value is masked (password, passwd, sslpassword, api_key, …)."""
_SCHEME = re.compile(r"^([A-Za-z][\w+.-]*)://")


def redact_url(url: str) -> str:
    """The URL with its password and every secret-looking query value replaced by ***, safe
    for logs, errors and metadata. A string that does not parse as a URL is shown as its
    scheme alone (`mysql://***`): what cannot be parsed cannot be masked reliably."""
    if "://" not in url:
        return url  # a plain path: nothing to hide
    from sqlalchemy.engine import make_url  # here, not at the top: `--help` needs no SQLAlchemy
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        scheme = _SCHEME.match(url)
        return f"{scheme.group(1) if scheme else MASK}://{MASK}"
    return _render(parsed)


def _render(url: URL) -> str:
    """The URL as text with secrets masked. A raw `@` in a password makes SQLAlchemy end the
    password at the first `@` and put the rest into the host (`p@ss@host` → host `ss@host`);
    that rest is masked too."""
    host, password = url.host, url.password
    if host and "@" in host:
        password, host = MASK, host.rsplit("@", 1)[1]
    text = f"{url.drivername}://"
    if url.username is not None or password is not None:
        text += quote(url.username or "", safe="")
        if password is not None:
            text += f":{MASK}"
        text += "@"
    if host is not None:
        text += f"[{host}]" if ":" in host else host
    if url.port is not None:
        text += f":{url.port}"
    if url.database is not None:
        text += f"/{url.database}"
    if url.query:
        pairs = []
        for key, values in url.query.items():
            for value in (values,) if isinstance(values, str) else values:
                shown = MASK if SECRET_QUERY_KEY.search(key) else quote_plus(value, safe="/:")
                pairs.append(f"{quote_plus(key)}={shown}")
        text += "?" + "&".join(pairs)
    return text


def url_secrets(url: str) -> list[str]:
    """Every secret a URL carries, as SQLAlchemy hands it to the driver and as written (raw and
    percent-encoded), longest first: what must never appear in text shown to anyone."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return []
    found = [parsed.password] if parsed.password else []
    if parsed.host and "@" in parsed.host:
        found.append(f"{parsed.password or ''}@{parsed.host.rsplit('@', 1)[0]}")
    for key, values in parsed.query.items():
        if SECRET_QUERY_KEY.search(key):
            found.extend((values,) if isinstance(values, str) else values)
    forms = {form for s in found if s for form in (s, quote(s, safe=""), quote_plus(s))}
    return sorted(forms, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """The text with every occurrence of each secret replaced by ***."""
    for secret in secrets:
        if len(secret) >= SCRUB_MIN_CHARS:
            text = text.replace(secret, MASK)
    return text
