"""The one error type for bad input: it always names the file, and the line and column if any.

Messages quote a delivered file only through `excerpt`: a short, escaped excerpt of the
offending token, never more (a file may hold anything, a credential among them).
"""

from __future__ import annotations

EXCERPT_CHARS = 20
"""The most characters of a delivered token a message shows: enough to recognise `n/a` or
`68,039`, too few to carry a file's content along."""


class InputError(ValueError):
    """A delivery that cannot be loaded as it is.

    `line` is 1-based (line N holds cycle N-1) and `column` is the 1-based value position in
    that line, as a text editor or `awk -F'\\t'` would count them, or, in a JSON Lines file,
    the key and index of the value (`PS1[17]`).
    """

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        column: int | str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.reason = message
        where = file
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}")


def excerpt(token: bytes | str, length: int | None = None) -> str:
    """A token as messages show it: quoted, with control and non-ASCII characters escaped
    (`'4\\xe97'`), cut to EXCERPT_CHARS characters and followed by `…` and the token's full
    length if longer.

    `length` is the token's full size when the caller passes only its start (a token of
    megabytes is never copied whole just to be shown).
    """
    head = token[:EXCERPT_CHARS]
    text = head.decode("latin-1") if isinstance(head, bytes) else head
    size = len(token) if length is None else length
    if size == len(text):
        return ascii(text)
    return f"{text!a}… ({size} characters)"
