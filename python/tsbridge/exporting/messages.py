"""An error as one line of an ExportError or a report's warning."""

from __future__ import annotations

import re
from typing import Any


def first_line(error: Any) -> str:
    """The innermost "SomeError: ..." line of a (chained, multi-line) message,
    else its first line."""
    text = str(error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if re.match(r"^\w*(Error|Exception): ", line)]
    return (causes[-1] if causes else lines[0] if lines else type(error).__name__)[:300]
