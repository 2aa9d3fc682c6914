"""Reading a YAML settings file that may be hostile: bounded size, no aliases, bounded nesting, no duplicate keys.

Shared by the site file (`smartgate.site`) and the yard layout (`yard.layout`): both are hand-edited files that
decide what the system does, so a mistake must be one clear line, never a guessed value or a crashed process.
Aliases are refused because they expand exponentially ("billion laughs"); nesting is bounded before any object
is built because libyaml's composer recurses and would crash the process; a repeated key is refused because plain
YAML silently keeps the last one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml


class YamlFileError(ValueError):
    """A file that is not safe, readable YAML: ``problem`` says what, ``where`` (``line N``) where, if known."""

    def __init__(self, problem: str, where: str | None = None) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.problem, self.where = problem, where


class StrictLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """Safe YAML that also refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key_node.value!r}",
                                                            key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def read_yaml_file(path: Path, *, max_bytes: int, max_nesting: int, kind: str = "YAML files") -> object:
    """The document in ``path``; `YamlFileError` for anything unreadable, oversized or unsafe."""
    text = read_text(path, max_bytes)
    try:
        check_events(text, max_nesting, kind)
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        raise YamlFileError(exc.problem or exc.context or "invalid YAML", line_of(exc.problem_mark)) from None
    except yaml.YAMLError as exc:
        raise YamlFileError(f"invalid YAML: {exc}") from None


def read_text(path: Path, max_bytes: int) -> str:
    """A regular file's UTF-8 text, refused past ``max_bytes`` without reading further."""
    try:
        with Path(path).open("rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise YamlFileError("not a regular file")
            data = stream.read(max_bytes + 1)
    except FileNotFoundError:
        raise YamlFileError("not found") from None
    except IsADirectoryError:
        raise YamlFileError("is a directory, expected a YAML file") from None
    except OSError as exc:
        raise YamlFileError(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise YamlFileError(f"larger than {max_bytes // 1024} KiB, refused")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlFileError("not UTF-8 text", f"line {line}") from None


def check_events(text: str, max_nesting: int, kind: str = "YAML files") -> None:
    """Refuse aliases and deep nesting before any object is built; the event parser itself does not recurse."""
    depth = 0
    for event in yaml.parse(text, Loader=StrictLoader):
        if isinstance(event, yaml.AliasEvent):
            raise YamlFileError(f"aliases (*name) are not allowed in {kind}", line_of(event.start_mark))
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_nesting:
                raise YamlFileError(f"nested deeper than {max_nesting} levels", line_of(event.start_mark))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def line_of(mark: Any) -> str | None:
    """``line N`` (1-based) of a YAML mark, if there is one."""
    return f"line {mark.line + 1}" if mark is not None else None
