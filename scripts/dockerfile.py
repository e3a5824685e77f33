"""Read the Dockerfile and the .dockerignore as the container build would: the stages, their
instructions, ENV, COPY, CMD and HEALTHCHECK (`Recipe`), and what the build context holds
(`DockerIgnore`). `scripts.container_smoke` replays what this reads."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devtools.processes import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# What python:3.12-slim sets before any instruction of ours.
BASE_IMAGE_ENV = {
    "PATH": "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
UV_PIN = re.compile(r"^uv==(\d+\.\d+\.\d+)$")


class ReplayError(Exception):
    """The Dockerfile does something the replay cannot reproduce, or a step failed."""


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages with their instructions; comments dropped, continuation lines joined."""
    stages: list[Stage] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and pending):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        logical = (pending + stripped).strip()
        pending = ""
        if not logical:
            continue
        keyword, _, value = logical.partition(" ")
        instruction = Instruction(keyword.upper(), value.strip(), start)
        if instruction.keyword == "FROM":
            words = instruction.value.split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            if instruction.keyword != "ARG":
                raise ReplayError(f"line {start}: {instruction.keyword} before FROM")
        else:
            stages[-1].instructions.append(instruction)
    if pending:
        raise ReplayError("the Dockerfile ends with a line continuation")
    if not stages:
        raise ReplayError("no FROM in the Dockerfile")
    return stages


def parse_env(value: str, env: Mapping[str, str]) -> dict[str, str]:
    """`ENV K=V K2="v 2"` (or the legacy `ENV K V`), with $VAR / ${VAR} expanded from env."""
    words = shlex.split(value)
    if words and "=" not in words[0]:
        return {words[0]: expand(" ".join(words[1:]), env)}
    result: dict[str, str] = {}
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep:
            raise ReplayError(f"cannot parse ENV {value!r}")
        result[key] = expand(raw, env)
    return result


def expand(value: str, env: Mapping[str, str]) -> str:
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def exec_form(value: str, what: str) -> list[str]:
    try:
        argv = json.loads(value)
    except json.JSONDecodeError:
        raise ReplayError(f"{what} must be in exec form (a JSON array): {value!r}") from None
    if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
        raise ReplayError(f"{what} must be a non-empty JSON array of strings: {value!r}")
    return argv


@dataclass(frozen=True)
class Healthcheck:
    options: dict[str, str]
    argv: list[str]


def parse_healthcheck(value: str) -> Healthcheck:
    options: dict[str, str] = {}
    rest = value
    while rest.startswith("--"):
        option, _, rest = rest.partition(" ")
        key, _, setting = option[2:].partition("=")
        options[key] = setting
        rest = rest.lstrip()
    keyword, _, command = rest.partition(" ")
    if keyword.upper() != "CMD":
        raise ReplayError(f"HEALTHCHECK must be HEALTHCHECK [options] CMD [...]: {value!r}")
    return Healthcheck(options, exec_form(command.strip(), "HEALTHCHECK CMD"))


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    if not match:
        raise ReplayError(f"cannot read the duration {duration!r}")
    factor = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
    return float(match.group(1)) * factor


@dataclass(frozen=True)
class Recipe:
    """What the Dockerfile says, ready to check or replay."""

    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ReplayError(f"no stage named {name!r}")

    @property
    def cmd(self) -> list[str]:
        cmds = self.final.all("CMD")
        if not cmds:
            raise ReplayError("the final stage has no CMD")
        return exec_form(cmds[-1].value, "CMD")

    @property
    def healthcheck(self) -> Healthcheck | None:
        checks = self.final.all("HEALTHCHECK")
        return parse_healthcheck(checks[-1].value) if checks else None

    @property
    def exposed_ports(self) -> list[int]:
        return [int(p.split("/")[0]) for i in self.final.all("EXPOSE") for p in i.value.split()]

    @property
    def user(self) -> str | None:
        users = self.final.all("USER")
        return users[-1].value if users else None

    def env(self, stage: Stage) -> dict[str, str]:
        """The stage's environment in container terms (base image ENV, then its ENV lines)."""
        env = dict(BASE_IMAGE_ENV)
        for instruction in stage.all("ENV"):
            env.update(parse_env(instruction.value, env))
        return env

    @property
    def runs(self) -> list[str]:
        return [i.value for stage in self.stages for i in stage.all("RUN")]

    @property
    def uv_version(self) -> str:
        for run in self.runs:
            words = shlex.split(run)
            if words[:2] == ["pip", "install"]:
                for word in words[2:]:
                    if word.startswith("uv"):
                        match = UV_PIN.match(word)
                        if not match:
                            raise ReplayError(f"uv is not pinned to one version: {word!r}")
                        return match.group(1)
        raise ReplayError("no `pip install uv==X.Y.Z` in the Dockerfile")

    def option(self, name: str) -> str:
        """The value of a `--name value` option of the CMD."""
        cmd = self.cmd
        if cmd.count(name) != 1 or cmd.index(name) + 1 >= len(cmd):
            raise ReplayError(f"the CMD has no single {name} option")
        return cmd[cmd.index(name) + 1]


def load_recipe(path: Path = DOCKERFILE) -> Recipe:
    return Recipe(parse_dockerfile(path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------------------------------------
# The build context (.dockerignore)


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip().strip("/")
    pattern = re.sub(r"/+", "/", pattern.removeprefix("./"))
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i)
            out += pattern[i : end + 1] if end > i else re.escape("[")
            i = end + 1 if end > i else i + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    # A pattern that names a directory excludes everything below it.
    return re.compile(f"^{out}(?:/.*)?$")


@dataclass(frozen=True)
class DockerIgnore:
    rules: list[tuple[bool, re.Pattern[str]]]

    @classmethod
    def load(cls, path: Path = DOCKERIGNORE) -> DockerIgnore:
        rules = []
        for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            rules.append((negated, _ignore_regex(line.removeprefix("!"))))
        return cls(rules)

    def excludes(self, relative: str) -> bool:
        excluded = False
        for negated, regex in self.rules:
            if regex.match(relative):
                excluded = not negated
        return excluded

    def files(self, root: Path) -> Iterator[str]:
        """Relative paths of the files docker would send as the build context."""
        has_exceptions = any(negated for negated, _ in self.rules)
        for current, dirs, names in os.walk(root):
            base = Path(current).relative_to(root).as_posix()
            prefix = "" if base == "." else base + "/"
            if not has_exceptions:
                dirs[:] = [d for d in dirs if not self.excludes(prefix + d)]
            for name in names:
                if not self.excludes(prefix + name):
                    yield prefix + name


def build_context(destination: Path, root: Path = ROOT) -> Path:
    ignore = DockerIgnore.load(root / ".dockerignore")
    for relative in ignore.files(root):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
    return destination


# ---------------------------------------------------------------------------------------------
# The replay
