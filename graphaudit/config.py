"""Settings in three layers: user options (all optional, unknown keys rejected), merge, resolved."""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from graphaudit.errors import UsageError
from graphaudit.findings import Severity
from graphaudit.records import dataclass


DEFAULT_MAX_FILE_SIZE = 2 * 1024**3  # protobuf cannot parse more than 2 GiB anyway
DEFAULT_MIN_DUPLICATE_OPS = 20
DEFAULT_TIMEOUT = 120  # seconds; see graphaudit/budget.py


@dataclass(frozen=True)
class Suppression:
    """``[[tool.graphaudit.suppress]]``: hide one rule's findings where a scope, variable or path glob matches."""

    code: str
    scope: str | None = None
    variable: str | None = None
    path: str | None = None
    reason: str | None = None

    def declaration(self) -> str:
        where = " ".join(f'{k} "{v}"' for k, v in (("scope", self.scope), ("variable", self.variable),
                                                   ("path", self.path)) if v is not None)
        return f"suppress {self.code} {where}"

    def covers(self, code: str, artifact: str, scope: str, variables: Iterable[str]) -> bool:
        if not code.startswith(_norm(self.code)):
            return False
        if self.path is not None and not _path_matches(artifact, self.path):
            return False
        if self.scope is not None and not fnmatch.fnmatchcase(scope, self.scope):
            return False
        if self.variable is not None and not any(fnmatch.fnmatchcase(v, self.variable) for v in variables):
            return False
        return True


SUPPRESS_KEYS = ("code", "scope", "variable", "path", "reason")


@dataclass(frozen=True)
class Options:
    """What a user may set, in a config file or on the command line. ``None`` means unset."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] | None = None
    per_path_ignores: Mapping[str, tuple[str, ...]] | None = None
    pretrained: tuple[str, ...] | None = None
    finetune: tuple[str, ...] | None = None
    scratch: tuple[str, ...] | None = None
    weights: str | None = None
    outputs: tuple[str, ...] | None = None
    fail_on: str | None = None
    max_file_size: int | None = None
    min_duplicate_ops: int | None = None
    jobs: int | None = None
    timeout: int | None = None
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] | None = None
    respect_gitignore: bool | None = None
    follow_links: bool | None = None
    lfs_pointers: str | None = None
    suppress: tuple[Suppression, ...] | None = None

    def merged_over(self, base: "Options") -> "Options":
        """These options, with unset ones taken from ``base``."""
        values = {f.name: getattr(self, f.name) if getattr(self, f.name) is not None else getattr(base, f.name)
                  for f in fields(self)}
        return Options(**values)


KEYS = {f.name.replace("_", "-"): f.name for f in fields(Options)}
_LIST_KEYS = {"select", "ignore", "extend_select", "pretrained", "finetune", "scratch", "outputs", "exclude", "extend_exclude"}
_BOOL_KEYS = {"respect_gitignore", "follow_links"}
LFS_POINTER_MODES = ("warn", "error")


def options_from_mapping(data: Mapping[str, Any], origin: str) -> Options:
    """Validate a ``[tool.graphaudit]`` table. Unknown keys and wrong types are usage errors."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        attr = KEYS.get(key)
        if attr is None:
            known = ", ".join(sorted(KEYS))
            raise UsageError(f"{origin}: unknown key `{key}` in [tool.graphaudit]; known keys: {known}")
        if attr in _LIST_KEYS:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"{origin}: `{key}` must be a list of strings")
            values[attr] = tuple(value)
        elif attr == "per_path_ignores":
            if not isinstance(value, dict) or not all(
                    isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value.values()):
                raise UsageError(f'{origin}: `{key}` must map path globs to lists of codes, '
                                 f'e.g. {{"exports/legacy/*" = ["GA201"]}}')
            values[attr] = {k: tuple(v) for k, v in value.items()}
        elif attr in ("max_file_size", "min_duplicate_ops", "timeout"):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UsageError(f"{origin}: `{key}` must be a positive integer")
            values[attr] = value
        elif attr in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise UsageError(f"{origin}: `{key}` must be true or false")
            values[attr] = value
        elif attr == "lfs_pointers":
            if value not in LFS_POINTER_MODES:
                raise UsageError(f"{origin}: `{key}` must be one of: {', '.join(LFS_POINTER_MODES)}")
            values[attr] = value
        elif attr == "suppress":
            values[attr] = tuple(_suppression(item, origin) for item in (value if isinstance(value, list) else [value]))
        elif attr == "jobs":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise UsageError(f"{origin}: `{key}` must be a number of processes (0: one per CPU)")
            values[attr] = value
        else:
            if not isinstance(value, str):
                raise UsageError(f"{origin}: `{key}` must be a string")
            values[attr] = value
    return Options(**values)


def _suppression(item: Any, origin: str) -> Suppression:
    example = '[[tool.graphaudit.suppress]] code = "GA302" scope = "legacy/*"'
    if not isinstance(item, dict):
        raise UsageError(f"{origin}: `suppress` must be tables with `code` and a `scope`, `variable` or `path` "
                         f"glob, e.g. {example}")
    for key, value in item.items():
        if key not in SUPPRESS_KEYS:
            raise UsageError(f"{origin}: unknown key `{key}` in [[tool.graphaudit.suppress]]; known keys: "
                             f"{', '.join(SUPPRESS_KEYS)}")
        if not isinstance(value, str):
            raise UsageError(f"{origin}: `suppress.{key}` must be a string")
    if "code" not in item:
        raise UsageError(f"{origin}: a [[tool.graphaudit.suppress]] entry needs a `code`, e.g. {example}")
    if not any(k in item for k in ("scope", "variable", "path")):
        raise UsageError(f"{origin}: suppress `{item['code']}` needs a `scope`, `variable` or `path` glob "
                         f"(to turn the rule off everywhere, use `ignore`)")
    return Suppression(**item)


def _toml():
    """tomllib, imported when a config file is read (most runs read none)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def find_config(start: Path) -> Path | None:
    """The nearest pyproject.toml with a [tool.graphaudit] table, from ``start`` upwards."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            tomllib = _toml()
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                # As loud as with --config: a config the user meant must not be silently dropped.
                raise UsageError(f"{candidate}: not valid TOML ({exc})") from None
            except OSError:
                continue
            if "graphaudit" in data.get("tool", {}):
                return candidate
        if (folder / ".git").exists():
            break
    return None


def load_config(path: Path) -> Options:
    """Read ``[tool.graphaudit]`` from a pyproject.toml, or the top level of a graphaudit.toml."""
    tomllib = _toml()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    if path.name == "pyproject.toml" or "tool" in data:
        table = data.get("tool", {}).get("graphaudit")
        if table is None:
            raise UsageError(f"{path}: no [tool.graphaudit] table")
    else:
        table = data
    return options_from_mapping(table, str(path))


@dataclass(frozen=True)
class Settings:
    """Resolved settings with real defaults."""

    select: tuple[str, ...] = ("GA",)
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    per_path_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    pretrained: tuple[str, ...] = ()
    finetune: tuple[str, ...] = ()
    scratch: tuple[str, ...] = ()  # groups trained from scratch on purpose: GA202 and GA3xx stay quiet
    weights: str | None = None
    outputs: tuple[str, ...] = ()
    fail_on: Severity = Severity.WARNING
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    min_duplicate_ops: int = DEFAULT_MIN_DUPLICATE_OPS
    jobs: int = 1  # processes for a folder audit; 0: one per CPU
    timeout: float = DEFAULT_TIMEOUT  # seconds per artifact whose reading calls native code (HDF5)
    config_path: str | None = None
    exclude: tuple[str, ...] | None = None  # None: the default folders (.git, .venv, node_modules...)
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    follow_links: bool = False
    lfs_pointers: str = "warn"  # a Git LFS pointer in place of a model: "warn", or "error" to fail the run
    suppress: tuple[Suppression, ...] = ()

    def suppressed_by(self, code: str, artifact: str, scope: str, variables: Iterable[str]) -> str | None:
        """The declaration of the first suppression that covers this finding, if any."""
        for s in self.suppress:
            if s.covers(code, artifact, scope, variables):
                return s.declaration()
        return None

    def is_enabled(self, code: str, artifact_path: str | None = None) -> bool:
        """Longest matching prefix wins; on a tie, ignore wins (like ruff)."""
        best_len, enabled = -1, False
        for prefix in (*self.select, *self.extend_select):
            p = _norm(prefix)
            if code.startswith(p) and len(p) > best_len:
                best_len, enabled = len(p), True
        ignores = list(self.ignore)
        if artifact_path is not None:
            ignores.extend(self.path_ignores(artifact_path))
        for prefix in ignores:
            p = _norm(prefix)
            if code.startswith(p) and len(p) >= best_len:
                best_len, enabled = len(p), False
        return enabled

    def path_ignores(self, artifact_path: str) -> list[str]:
        out: list[str] = []
        for pattern, codes in self.per_path_ignores:
            if _path_matches(artifact_path, pattern):
                out.extend(codes)
        return out


def _path_matches(artifact_path: str, pattern: str) -> bool:
    posix = Path(artifact_path).as_posix()
    return (fnmatch.fnmatch(posix, pattern) or fnmatch.fnmatch(posix, f"*/{pattern}")
            or posix.startswith(pattern.rstrip("/") + "/"))


def _norm(prefix: str) -> str:
    return "" if prefix.upper() == "ALL" else prefix.upper()


def resolve(options: Options, known_codes: Iterable[str], *, config_path: str | None = None) -> Settings:
    """Turn merged options into Settings, checking every code against the rule catalogue."""
    codes = sorted(known_codes)
    for attr in ("select", "ignore", "extend_select"):
        for prefix in getattr(options, attr) or ():
            _check_code(prefix, codes, attr.replace("_", "-"))
    for pattern, plist in (options.per_path_ignores or {}).items():
        for prefix in plist:
            _check_code(prefix, codes, f"per-path-ignores[{pattern!r}]")
    for item in options.suppress or ():
        _check_code(item.code, codes, "suppress")
    fail_on = Severity.WARNING
    if options.fail_on is not None:
        try:
            fail_on = Severity.parse(options.fail_on)
        except ValueError as exc:
            raise UsageError(f"fail-on: {exc}") from None
    base = Settings()
    return replace(
        base,
        select=options.select if options.select is not None else base.select,
        ignore=options.ignore or (),
        extend_select=options.extend_select or (),
        per_path_ignores=tuple(sorted((options.per_path_ignores or {}).items())),
        pretrained=options.pretrained or (),
        finetune=options.finetune or (),
        scratch=options.scratch or (),
        weights=options.weights,
        outputs=options.outputs or (),
        fail_on=fail_on,
        max_file_size=options.max_file_size or base.max_file_size,
        min_duplicate_ops=options.min_duplicate_ops or base.min_duplicate_ops,
        jobs=options.jobs if options.jobs is not None else base.jobs,
        timeout=options.timeout or base.timeout,
        config_path=config_path,
        exclude=options.exclude,
        extend_exclude=options.extend_exclude or (),
        respect_gitignore=options.respect_gitignore if options.respect_gitignore is not None else True,
        follow_links=bool(options.follow_links),
        lfs_pointers=options.lfs_pointers or "warn",
        suppress=options.suppress or (),
    )


def _check_code(prefix: str, codes: list[str], where: str) -> None:
    p = _norm(prefix)
    if p == "" or any(c.startswith(p) for c in codes):
        return
    raise UsageError(f"{where}: unknown rule code `{prefix}`; known codes: {', '.join(codes)}")
