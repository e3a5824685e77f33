"""CPU shares by area from a py-spy speedscope profile.

Samples of threads waiting for work are left out. Each sample goes to the area of its innermost frame that belongs to a known library; frames of
generic helpers (pydantic, typing, json, the standard library's small modules) count for their
caller. Run: python -m bench.profile_shares PROFILE.speedscope.json
"""

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("openai SDK: chunk parsing, SSE decode", ("/openai/",)),
    ("langchain: chunk conversion, callbacks, merging", ("/langchain_", "/langsmith/")),
    ("HTTP client read path (httpx2/httpcore/h11)", ("/httpx2/", "/httpcore", "/h11/", "/httpx/")),
    ("our code (app/)", ("/app/",)),
    ("HTTP server, ASGI (uvicorn/starlette/fastapi)", ("/uvicorn/", "/starlette/", "/fastapi/")),
    ("database (sqlalchemy/aiosqlite/asyncpg)", ("/sqlalchemy/", "/aiosqlite/", "/asyncpg/")),
    ("auth (python-jose)", ("/jose/", "/ecdsa/", "/rsa/")),
    ("anyio", ("/anyio/",)),
    ("asyncio event loop, tasks", ("/asyncio/", "/uvloop/")),
]
TRANSPARENT = (
    "/pydantic",
    "/typing",
    "/inspect.py",
    "/json/",
    "/re/",
    "/functools.py",
    "/copy.py",
    "/abc.py",
    "/enum.py",
    "/dataclasses.py",
    "/contextlib.py",
    "/uuid.py",
    "/weakref",
    "/_weakrefset.py",
    "<frozen",
)
OTHER = "other"
WAITS = (("_worker", "concurrent/futures/thread.py"), ("wait", "threading.py"), ("get", "queue.py"))


def is_wait(frame: dict[str, Any]) -> bool:
    name, file = frame.get("name", ""), frame.get("file") or ""
    return any(name.endswith(n) and file.endswith(f) for n, f in WAITS)


def area_of(file: str) -> str | None:
    if any(marker in file for marker in TRANSPARENT):
        return None
    for name, markers in AREAS:
        if any(marker in file for marker in markers):
            return name
    return OTHER


def shares(profile: dict[str, Any]) -> tuple[Counter[str], float]:
    frames = profile["shared"]["frames"]
    areas = [area_of(frame.get("file") or frame.get("name", "")) for frame in frames]
    totals: Counter[str] = Counter()
    for sampled in profile["profiles"]:
        for stack, weight in zip(sampled["samples"], sampled["weights"], strict=True):
            if not stack or is_wait(frames[stack[-1]]):
                continue
            area = next((areas[i] for i in reversed(stack) if areas[i] is not None), OTHER)
            totals[area] += weight
    return totals, float(sum(totals.values()))


def top_functions(profile: dict[str, Any], count: int = 25) -> list[tuple[str, float]]:
    """Self time of the innermost frames, by function."""
    frames = profile["shared"]["frames"]
    totals: Counter[str] = Counter()
    for sampled in profile["profiles"]:
        for stack, weight in zip(sampled["samples"], sampled["weights"], strict=True):
            if stack and not is_wait(frames[stack[-1]]):
                frame = frames[stack[-1]]
                file = (frame.get("file") or "").split("site-packages/")[-1]
                totals[f"{frame['name']} ({file}:{frame.get('line', '?')})"] += weight
    total = sum(totals.values()) or 1
    return [(name, weight / total) for name, weight in totals.most_common(count)]


def report(path: Path) -> str:
    profile = json.loads(path.read_text())
    totals, total = shares(profile)
    lines = ["| area | CPU share |", "|---|---|"]
    lines += [f"| {area} | {weight / total:.1%} |" for area, weight in totals.most_common()]
    lines += ["", "Top self-time functions:", ""]
    lines += [f"- {share:.1%} {name}" for name, share in top_functions(profile)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1])))
