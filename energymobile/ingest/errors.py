"""The one error type for bad input: it always names the file, and the line and column if any."""

from __future__ import annotations


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
