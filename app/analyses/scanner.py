"""Spots each finding in the model's growing JSON the moment its object closes.

One pass over the text in total (no re-parsing of the prefix on every token): the scanner keeps
the nesting depth and string state, and hands back the raw text of each object that closes
directly inside the top-level `"findings"` array.
"""

import re

_INTERESTING = re.compile(r'["\\{}\[\]]')


class FindingScanner:
    __slots__ = (
        "_array_depth",
        "_escaped",
        "_in_string",
        "_last_key",
        "_obj_start",
        "_stack",
        "_string_start",
        "_text",
    )

    def __init__(self) -> None:
        self._text = ""
        self._stack: list[str] = []
        self._in_string = False
        self._escaped = False
        self._string_start = 0
        self._last_key = ""
        self._array_depth = -1
        self._obj_start = -1

    def feed(self, chunk: str) -> list[str]:
        start = len(self._text)
        self._text += chunk
        text = self._text
        closed: list[str] = []
        stack = self._stack
        pos = start
        if self._escaped and chunk:
            self._escaped = False
            pos += 1
        while True:
            match = _INTERESTING.search(text, pos)
            if match is None:
                break
            i = match.start()
            char = text[i]
            pos = i + 1
            if self._in_string:
                if char == "\\":
                    if pos >= len(text):
                        self._escaped = True
                        break
                    pos += 1
                elif char == '"':
                    self._in_string = False
                    if len(stack) == 1:
                        self._last_key = text[self._string_start : i]
                continue
            if char == '"':
                self._in_string = True
                self._string_start = pos
            elif char in "{[":
                stack.append(char)
                if char == "[" and len(stack) == 2 and self._last_key == "findings":
                    self._array_depth = 2
                elif char == "{" and len(stack) == 3 and self._array_depth == 2:
                    self._obj_start = i
            elif stack:
                if char == "}" and len(stack) == 3 and self._obj_start >= 0:
                    closed.append(text[self._obj_start : i + 1])
                    self._obj_start = -1
                elif char == "]" and len(stack) == 2:
                    self._array_depth = -1
                stack.pop()
        return closed

    @property
    def text(self) -> str:
        return self._text
