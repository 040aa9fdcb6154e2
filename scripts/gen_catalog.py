#!/usr/bin/env python3
"""Generate ``oneapi/relay/catalog/data.py`` (channel types and model catalogue) from the reference.

The reference (songquanpeng/one-api, Go) spreads this information over many files:

* ``relay/channeltype/define.go``   channel type ids (an ``iota`` block),
* ``relay/channeltype/url.go``      default base URL per channel type,
* ``relay/channeltype/helper.go``   channel type -> API type (``ToAPIType``),
* ``relay/apitype/define.go``       API type ids,
* ``relay/adaptor.go``              API type -> adaptor package (``GetAdaptor``),
* ``relay/adaptor/<pkg>/*.go``      each adaptor's ``GetChannelName`` / ``GetModelList`` and the
                                    model-list variables they return,
* ``relay/adaptor/openai/compatible.go``  the OpenAI-compatible providers' names and lists,
* ``controller/model.go``           how ``/v1/models``, ``/v1/models/:model``,
                                    ``/api/channel/models`` and ``/api/models`` are assembled,
* ``web/default/src/constants/channel.constants.js``  UI labels.

Only facts (ids, names, URLs, model names) are extracted; nothing is executed.  The handful
of Go idioms the reference uses to build its lists (slice literals, aliases of another
package's list, ``init()`` functions that re-assign / ``append`` / add ``-internet``
variants, maps whose keys are the models) are recognised explicitly; anything else makes
the generator fail loudly so that a change in the reference is noticed.

Usage::

    .venv/bin/python scripts/gen_catalog.py            # (re)write data.py from the mirror
    .venv/bin/python scripts/gen_catalog.py --check    # exit 1 if data.py is stale
    .venv/bin/python scripts/gen_catalog.py --mirror PATH --rev REV -o OUT

The module is split into *extraction* (``extract``: mirror -> :class:`Reference`) and
*rendering* (``render``: :class:`Reference` -> module text), so the derived tables can be
re-checked from the generated module alone (``reference_from_module``), without the mirror.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR = Path("/work/.mirror/songquanpeng+one-api/repo")
DEFAULT_REV = "HEAD"
DEFAULT_OUTPUT = REPO_ROOT / "oneapi" / "relay" / "catalog" / "data.py"
GO_MODULE = "github.com/songquanpeng/one-api/"

CHANNELTYPE_DEFINE = "relay/channeltype/define.go"
CHANNELTYPE_URL = "relay/channeltype/url.go"
CHANNELTYPE_HELPER = "relay/channeltype/helper.go"
APITYPE_DEFINE = "relay/apitype/define.go"
RELAY_ADAPTOR = "relay/adaptor.go"
COMPATIBLE_GO = "relay/adaptor/openai/compatible.go"
CONTROLLER_MODEL = "controller/model.go"
UI_CHANNELS = "web/default/src/constants/channel.constants.js"

#: Label for channel type 0, which the UI's option list does not contain.
UNKNOWN_TYPE_LABEL = "Unknown"

LINE_LIMIT = 100


class SourceLayoutError(RuntimeError):
    """The reference source does not look the way this generator expects."""


def fail(msg: str) -> SourceLayoutError:
    return SourceLayoutError(msg)


# ---------------------------------------------------------------------------
# Reading the mirror
# ---------------------------------------------------------------------------


class SourceTree(Protocol):
    """What the extractor needs from a source tree (a git revision, or a test fixture)."""

    commit: str

    def read(self, path: str) -> str: ...

    def list_go_files(self, directory: str) -> list[str]: ...


class GitTree:
    """Read-only access to one revision of a (bare) git repository."""

    def __init__(self, git_dir: Path, rev: str) -> None:
        self.git_dir = git_dir
        self.commit = self._git("rev-parse", "--verify", f"{rev}^{{commit}}").strip()
        self._cache: dict[str, str] = {}

    def _git(self, *args: str) -> str:
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["git", "-C", str(self.git_dir), *args],  # noqa: S607
            check=True,
            capture_output=True,
        )
        return proc.stdout.decode("utf-8")

    def read(self, path: str) -> str:
        if path not in self._cache:
            self._cache[path] = self._git("show", f"{self.commit}:{path}")
        return self._cache[path]

    def list_go_files(self, directory: str) -> list[str]:
        """Non-test ``.go`` files directly inside *directory*, sorted (Go's file order)."""
        out = self._git("ls-tree", "--name-only", self.commit, directory.rstrip("/") + "/")
        files = [
            line
            for line in out.splitlines()
            if line.endswith(".go") and not line.endswith("_test.go")
        ]
        if not files:
            raise fail(f"no Go files in {directory}")
        return sorted(files)


# ---------------------------------------------------------------------------
# Go source helpers (comment stripping, literals, declarations)
# ---------------------------------------------------------------------------

_GO_STRING = r'"(?:[^"\\\n]|\\.)*"|`[^`]*`'
_GO_STRING_RE = re.compile(_GO_STRING)


def strip_go_comments(src: str) -> str:
    """Remove ``//`` and ``/* */`` comments, keeping string literals and newlines."""
    out: list[str] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                if src[j] == "\\":
                    j += 1
                elif src[j] == "\n":
                    raise fail("unterminated string literal in Go source")
                j += 1
            out.append(src[i : j + 1])
            i = j + 1
        elif c == "`":
            j = src.find("`", i + 1)
            if j < 0:
                raise fail("unterminated raw string literal in Go source")
            out.append(src[i : j + 1])
            i = j + 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise fail("unterminated block comment in Go source")
            out.append("\n" * src.count("\n", i, j))
            i = j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(src: str, open_idx: int) -> int:
    """Index of the ``}`` that closes the ``{`` at *open_idx* (comment-free source)."""
    depth = 0
    i = open_idx
    while i < len(src):
        c = src[i]
        if c in "\"'`":
            j = i + 1
            while src[j] != c:
                j += 2 if (src[j] == "\\" and c != "`") else 1
            i = j
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise fail("unbalanced braces in Go source")


def go_string_value(literal: str) -> str:
    if literal.startswith("`"):
        return literal[1:-1]
    value = ast.literal_eval(literal)
    if not isinstance(value, str):  # pragma: no cover - regex guarantees a string
        raise fail(f"not a string literal: {literal}")
    return value


def parse_string_slice_body(body: str, what: str) -> list[str]:
    """Strings of a ``{"a", "b", ...}`` body (without the braces); nothing else allowed."""
    leftover = _GO_STRING_RE.sub("", body)
    if leftover.strip(" \t\r\n,"):
        raise fail(f"{what}: unexpected tokens in string slice literal: {leftover.strip()!r}")
    return [go_string_value(m.group(0)) for m in _GO_STRING_RE.finditer(body)]


_MAP_ENTRY_RE = re.compile(rf"({_GO_STRING})\s*:\s*(?:{_GO_STRING}|[A-Za-z_][\w.]*)\s*,?")


def parse_string_map_keys(body: str, what: str) -> list[str]:
    """Keys (in source order) of a ``{"k": v, ...}`` map literal body."""
    leftover = _MAP_ENTRY_RE.sub("", body)
    if leftover.strip():
        raise fail(f"{what}: unexpected tokens in map literal: {leftover.strip()!r}")
    return [go_string_value(m.group(1)) for m in _MAP_ENTRY_RE.finditer(body)]


def parse_iota_block(src: str, what: str) -> list[str]:
    """Names of the ``const ( X = iota; Y; Z ... )`` block, in order."""
    m = re.search(r"(?ms)^const\s*\((.*?)^\)", src)
    if m is None:
        raise fail(f"{what}: no const block")
    lines = [ln.strip() for ln in m.group(1).splitlines() if ln.strip()]
    first = re.fullmatch(r"(\w+)\s*=\s*iota", lines[0])
    if first is None:
        raise fail(f"{what}: const block does not start with '= iota'")
    names = [first.group(1)]
    for ln in lines[1:]:
        if not re.fullmatch(r"\w+", ln):
            raise fail(f"{what}: unexpected const line {ln!r}")
        names.append(ln)
    return names


@dataclass
class GoFunc:
    header: str
    body: str


@dataclass
class GoFile:
    path: str
    package: str
    imports: dict[str, str]  # alias -> repository directory (internal imports only)
    top_level: str  # comment-free source with function bodies removed
    funcs: list[GoFunc] = field(default_factory=list)


_FUNC_START = re.compile(r"(?m)^func\b")


def parse_go_file(path: str, raw: str) -> GoFile:
    src = strip_go_comments(raw)
    pm = re.search(r"(?m)^package\s+(\w+)", src)
    if pm is None:
        raise fail(f"{path}: no package clause")
    imports: dict[str, str] = {}
    im = re.search(r"(?ms)^import\s*\((.*?)^\)", src)
    specs = im.group(1).splitlines() if im else re.findall(r"(?m)^import\s+(.+)$", src)
    for spec in specs:
        sm = re.fullmatch(r'\s*(?:(\w+)\s+)?"([^"]+)"\s*', spec)
        if sm is None:
            if spec.strip():
                raise fail(f"{path}: cannot parse import {spec!r}")
            continue
        alias, ipath = sm.group(1), sm.group(2)
        if ipath.startswith(GO_MODULE):
            directory = ipath[len(GO_MODULE) :]
            # Without an alias the identifier is the package name; the caller resolves it
            # lazily (key "" + directory) because it requires reading that package.
            imports[alias or "\0" + directory] = directory
    funcs: list[GoFunc] = []
    pieces: list[str] = []
    pos = 0
    for fm in _FUNC_START.finditer(src):
        if fm.start() < pos:
            continue
        brace = src.find("{\n", fm.start())
        if brace < 0:
            raise fail(f"{path}: cannot find body of function at offset {fm.start()}")
        end = matching_brace(src, brace)
        funcs.append(GoFunc(header=src[fm.start() : brace].strip(), body=src[brace + 1 : end]))
        pieces.append(src[pos : fm.start()])
        pos = end + 1
    pieces.append(src[pos:])
    return GoFile(path, pm.group(1), imports, "".join(pieces), funcs)


class GoPackage:
    """The non-test files of one directory of the reference."""

    def __init__(self, tree: SourceTree, directory: str) -> None:
        self.tree = tree
        self.directory = directory
        self.files = [parse_go_file(p, tree.read(p)) for p in tree.list_go_files(directory)]
        names = {f.package for f in self.files}
        if len(names) != 1:
            raise fail(f"{directory}: several package names {sorted(names)}")
        self.name = names.pop()

    def funcs(self, header_re: str) -> list[GoFunc]:
        rx = re.compile(header_re)
        return [fn for f in self.files for fn in f.funcs if rx.fullmatch(fn.header)]

    def method(self, name: str) -> GoFunc:
        found = self.funcs(rf"func\s*\(\s*\w+\s+\*?Adaptor\s*\)\s*{name}\s*\(\s*\).*")
        if len(found) != 1:
            raise fail(f"{self.directory}: expected one Adaptor.{name}, found {len(found)}")
        return found[0]

    def init_bodies(self) -> list[str]:
        return [fn.body for fn in self.funcs(r"func\s+init\s*\(\s*\)")]

    def top_level_decl(self, name: str) -> tuple[GoFile, str]:
        """``(file, text after '<name> =')`` for the package-level declaration of *name*."""
        rx = re.compile(rf"(?m)^\s*(?:var\s+|const\s+)?{re.escape(name)}\s*=\s*")
        hits = [(f, f.top_level[m.end() :]) for f in self.files for m in rx.finditer(f.top_level)]
        if len(hits) != 1:
            raise fail(f"{self.directory}: expected one declaration of {name}, found {len(hits)}")
        return hits[0]


class Resolver:
    """Evaluates the few Go idioms the reference uses to define model lists."""

    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree
        self._pkgs: dict[str, GoPackage] = {}
        self._lists: dict[tuple[str, str], list[str]] = {}
        self._maps: dict[tuple[str, str], list[str]] = {}

    def package(self, directory: str) -> GoPackage:
        if directory not in self._pkgs:
            self._pkgs[directory] = GoPackage(self.tree, directory)
        return self._pkgs[directory]

    def import_dir(self, gofile: GoFile, alias: str) -> str:
        if alias in gofile.imports:
            return gofile.imports[alias]
        for key, directory in gofile.imports.items():
            if key.startswith("\0") and self.package(directory).name == alias:
                return directory
        raise fail(f"{gofile.path}: unknown package identifier {alias!r}")

    def qualified(self, gofile: GoFile, pkg: GoPackage, ident: str) -> tuple[str, str]:
        if "." in ident:
            alias, name = ident.split(".", 1)
            return self.import_dir(gofile, alias), name
        return pkg.directory, ident

    # -- string slices ---------------------------------------------------------------

    def string_list(self, directory: str, name: str) -> list[str]:
        key = (directory, name)
        if key not in self._lists:
            self._lists[key] = self._eval_string_list(directory, name)
        return list(self._lists[key])

    def _eval_string_list(self, directory: str, name: str) -> list[str]:
        pkg = self.package(directory)
        gofile, rest = pkg.top_level_decl(name)
        what = f"{directory}.{name}"
        if rest.startswith("[]string{"):
            open_idx = rest.index("{")
            value = parse_string_slice_body(
                rest[open_idx + 1 : matching_brace(rest, open_idx)], what
            )
        else:
            am = re.match(r"([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)?)\s*\n", rest)
            if am is None:
                raise fail(f"{what}: unsupported initialiser {rest[:60]!r}")
            value = self.string_list(*self.qualified(gofile, pkg, am.group(1)))
        return self._apply_list_inits(pkg, name, value)

    def _apply_list_inits(self, pkg: GoPackage, name: str, value: list[str]) -> list[str]:
        n = re.escape(name)
        assign = re.compile(rf"^\s*{n}\s*=")
        replace = re.compile(rf"^\s*{n}\s*=\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\s*$")
        extend = re.compile(rf"^\s*{n}\s*=\s*append\(\s*{n}\s*,\s*([\w.]+)\s*\.\.\.\s*\)\s*$")
        suffix = re.compile(
            rf"^\s*{n}\s*=\s*append\(\s*{n}\s*,\s*{n}\[(\w+)\]\s*\+\s*({_GO_STRING})\s*\)\s*$"
        )
        for file_ in pkg.files:
            for fn in file_.funcs:
                if not re.fullmatch(r"func\s+init\s*\(\s*\)", fn.header):
                    continue
                body = fn.body
                for line in body.splitlines():
                    if not assign.match(line):
                        continue
                    if m := replace.match(line):
                        value = self.string_list(*self.qualified(file_, pkg, m.group(1)))
                    elif m := extend.match(line):
                        value = value + self.string_list(*self.qualified(file_, pkg, m.group(1)))
                    elif m := suffix.match(line):
                        # num := len(X); for i := 0; i < num; i++ { X = append(X, X[i]+"sfx") }
                        idx = re.escape(m.group(1))
                        loop = re.search(
                            rf"(\w+)\s*:=\s*len\(\s*{n}\s*\)\s*\n\s*for\s+{idx}\s*:=\s*0\s*;"
                            rf"\s*{idx}\s*<\s*\1\s*;\s*{idx}\+\+\s*\{{",
                            body,
                        )
                        if loop is None:
                            raise fail(
                                f"{pkg.directory}: unrecognised loop around {line.strip()!r}"
                            )
                        sfx = go_string_value(m.group(2))
                        value = value + [v + sfx for v in value]
                    else:
                        raise fail(f"{pkg.directory}: unsupported init statement {line.strip()!r}")
        return value

    # -- maps whose keys are model names -----------------------------------------------

    def map_keys(self, directory: str, name: str) -> list[str]:
        """Keys of a ``map[string]...`` in *declaration* order (Go iterates maps randomly)."""
        key = (directory, name)
        if key not in self._maps:
            self._maps[key] = self._eval_map_keys(directory, name)
        return list(self._maps[key])

    def _eval_map_keys(self, directory: str, name: str) -> list[str]:
        pkg = self.package(directory)
        _, rest = pkg.top_level_decl(name)
        mm = re.match(r"map\[string\][\w.]+\{", rest)
        if mm is None:
            raise fail(f"{directory}.{name}: not a map[string]T literal")
        open_idx = mm.end() - 1
        keys = parse_string_map_keys(
            rest[open_idx + 1 : matching_brace(rest, open_idx)], f"{directory}.{name}"
        )
        n = re.escape(name)
        fill = re.compile(
            rf"for\s+(\w+)\s*:=\s*range\s+([\w.]+)\s*\{{\s*{n}\[\1\]\s*=\s*[\w.]+\s*\}}"
        )
        for file_ in pkg.files:
            for fn in file_.funcs:
                if not re.fullmatch(r"func\s+init\s*\(\s*\)", fn.header):
                    continue
                for m in fill.finditer(fn.body):
                    keys += self.map_keys(*self.qualified(file_, pkg, m.group(2)))
                others = re.sub(fill, "", fn.body)
                if re.search(rf"\b{n}\s*(\[[^\]]*\]\s*)?=", others):
                    raise fail(f"{directory}: unsupported init assignment to {name}")
        return list(dict.fromkeys(keys))

    def string_const(self, directory: str, name: str) -> str:
        _, rest = self.package(directory).top_level_decl(name)
        m = re.match(_GO_STRING, rest)
        if m is None:
            raise fail(f"{directory}.{name}: not a string constant")
        return go_string_value(m.group(0))


# ---------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelTypeRow:
    id: int
    name: str  # Go constant in relay/channeltype
    label: str  # UI label (web/default)
    base_url: str  # channeltype.ChannelBaseURLs[id]
    api_type: str  # adaptor package that GetAdaptor(ToAPIType(id)) returns
    channel_name: str  # that adaptor's GetChannelName() after Init(ChannelType=id)


@dataclass(frozen=True)
class Reference:
    """Everything ``render`` needs; all other tables are derived from it."""

    commit: str
    channel_types: tuple[ChannelTypeRow, ...]
    #: channel name -> model list, in first-use order (catalogue sources first)
    adaptor_models: Mapping[str, tuple[str, ...]]
    #: adaptors whose GetModelList() returns nil (JSON null) rather than a list
    nil_adaptors: frozenset[str]
    #: channel names whose lists make up the catalogue, in the reference's order
    catalogue_sources: tuple[str, ...]
    #: channel type ids present in the GET /api/models map
    model_types: tuple[int, ...]


@dataclass
class AdaptorInfo:
    package: str
    name_kind: str  # "fixed" | "compatible"
    fixed_name: str = ""
    list_kind: str = "fixed"  # "fixed" | "nil" | "compatible"
    fixed_list: tuple[str, ...] = ()


class Extractor:
    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree
        self.go = Resolver(tree)

    def _src(self, path: str) -> str:
        return strip_go_comments(self.tree.read(path))

    # channel types -------------------------------------------------------------------

    def channel_type_names(self) -> list[str]:
        names = parse_iota_block(self._src(CHANNELTYPE_DEFINE), CHANNELTYPE_DEFINE)
        if names[-1] != "Dummy":
            raise fail(f"{CHANNELTYPE_DEFINE}: last constant is {names[-1]}, expected Dummy")
        return names[:-1]

    def api_type_names(self) -> list[str]:
        names = parse_iota_block(self._src(APITYPE_DEFINE), APITYPE_DEFINE)
        if names[-1] != "Dummy":
            raise fail(f"{APITYPE_DEFINE}: last constant is {names[-1]}, expected Dummy")
        return names[:-1]

    def base_urls(self, count: int) -> list[str]:
        src = self._src(CHANNELTYPE_URL)
        m = re.search(r"ChannelBaseURLs\s*=\s*\[\]string\{", src)
        if m is None:
            raise fail(f"{CHANNELTYPE_URL}: ChannelBaseURLs not found")
        urls = parse_string_slice_body(
            src[m.end() : matching_brace(src, m.end() - 1)], CHANNELTYPE_URL
        )
        if len(urls) != count:
            raise fail(f"{CHANNELTYPE_URL}: {len(urls)} URLs for {count} channel types")
        return urls

    def to_api_type(self, type_names: list[str]) -> dict[str, str]:
        """Channel type const -> API type const (``ToAPIType``)."""
        src = self._src(CHANNELTYPE_HELPER)
        dm = re.search(r"apiType\s*:=\s*apitype\.(\w+)", src)
        if dm is None:
            raise fail(f"{CHANNELTYPE_HELPER}: default api type not found")
        mapping = dict.fromkeys(type_names, dm.group(1))
        cases = re.findall(r"case\s+([\w\s,]+?):\s*apiType\s*=\s*apitype\.(\w+)", src)
        if not cases:
            raise fail(f"{CHANNELTYPE_HELPER}: no cases found")
        for consts, api in cases:
            for const in (c.strip() for c in consts.split(",")):
                if const not in mapping:
                    raise fail(f"{CHANNELTYPE_HELPER}: unknown channel type {const}")
                mapping[const] = api
        return mapping

    def adaptor_packages(self) -> dict[str, str]:
        """API type const -> adaptor package directory (``relay.GetAdaptor``)."""
        gofile = parse_go_file(RELAY_ADAPTOR, self.tree.read(RELAY_ADAPTOR))
        (fn,) = [f for f in gofile.funcs if re.match(r"func\s+GetAdaptor\b", f.header)]
        out: dict[str, str] = {}
        for api, alias in re.findall(
            r"case\s+apitype\.(\w+):\s*return\s*&(\w+)\.Adaptor\{\}", fn.body
        ):
            out[api] = self.go.import_dir(gofile, alias)
        return out

    def ui_labels(self) -> dict[int, str]:
        src = self.tree.read(UI_CHANNELS)
        labels: dict[int, str] = {}
        for m in re.finditer(
            r"\{\s*key:\s*(\d+),\s*text:\s*'((?:[^'\\]|\\.)*)',\s*value:\s*(\d+)", src
        ):
            if m.group(1) != m.group(3):
                raise fail(f"{UI_CHANNELS}: key {m.group(1)} != value {m.group(3)}")
            tid = int(m.group(1))
            if tid in labels:
                raise fail(f"{UI_CHANNELS}: duplicate key {tid}")
            labels[tid] = m.group(2).replace("\\'", "'")
        if not labels:
            raise fail(f"{UI_CHANNELS}: no channel options found")
        return labels

    # adaptors ------------------------------------------------------------------------

    def compatible(
        self,
    ) -> tuple[list[str], dict[str, tuple[str, tuple[str, ...]]], tuple[str, tuple[str, ...]]]:
        """``(CompatibleChannels, {type const: (name, list)}, default (name, list))``."""
        gofile = parse_go_file(COMPATIBLE_GO, self.tree.read(COMPATIBLE_GO))
        cm = re.search(r"CompatibleChannels\s*=\s*\[\]int\{([^}]*)\}", gofile.top_level)
        if cm is None:
            raise fail(f"{COMPATIBLE_GO}: CompatibleChannels not found")
        channels = re.findall(r"channeltype\.(\w+)", cm.group(1))
        if len(channels) != len([x for x in cm.group(1).split(",") if x.strip()]):
            raise fail(f"{COMPATIBLE_GO}: unexpected CompatibleChannels element")
        (fn,) = [
            f for f in gofile.funcs if re.match(r"func\s+GetCompatibleChannelMeta\b", f.header)
        ]
        rx = re.compile(
            rf"(case\s+channeltype\.(\w+)|default)\s*:\s*return\s+({_GO_STRING})\s*,\s*([\w.]+)"
        )
        table: dict[str, tuple[str, tuple[str, ...]]] = {}
        default: tuple[str, tuple[str, ...]] | None = None
        pkg = self.go.package("relay/adaptor/openai")
        for m in rx.finditer(fn.body):
            name = go_string_value(m.group(3))
            models = tuple(self.go.string_list(*self.go.qualified(gofile, pkg, m.group(4))))
            if m.group(2) is None:
                default = (name, models)
            else:
                table[m.group(2)] = (name, models)
        if default is None or len(re.findall(r"\bcase\b|\bdefault\b", fn.body)) != len(table) + 1:
            raise fail(f"{COMPATIBLE_GO}: unrecognised GetCompatibleChannelMeta")
        return channels, table, default

    def adaptor_info(self, directory: str) -> AdaptorInfo:
        pkg = self.go.package(directory)
        info = AdaptorInfo(package=pkg.name, name_kind="fixed")
        body = " ".join(pkg.method("GetChannelName").body.split())
        if m := re.fullmatch(rf"return ({_GO_STRING})", body):
            info.fixed_name = go_string_value(m.group(1))
        elif m := re.fullmatch(r"return (\w+)", body):
            info.fixed_name = self.go.string_const(directory, m.group(1))
        elif re.fullmatch(
            r"(\w+), _ := GetCompatibleChannelMeta\(a\.ChannelType\) return \1", body
        ):
            info.name_kind = "compatible"
        else:
            raise fail(f"{directory}: unrecognised GetChannelName body {body!r}")
        body = " ".join(pkg.method("GetModelList").body.split())
        if body == "return nil":
            info.list_kind = "nil"
        elif m := re.fullmatch(r"return (\w+)", body):
            info.fixed_list = tuple(self.go.string_list(directory, m.group(1)))
        elif m := re.fullmatch(r"(\w+) = (\w+) return", body):
            info.fixed_list = tuple(self.go.string_list(directory, m.group(2)))
        elif re.fullmatch(
            r"_, (\w+) := GetCompatibleChannelMeta\(a\.ChannelType\) return \1", body
        ):
            info.list_kind = "compatible"
        elif m := re.fullmatch(
            r"for (\w+) := range (\w+) \{ (\w+) = append\(\3, \1\) \} return", body
        ):
            # Go ranges over a map in random order; declaration order is used instead.
            info.fixed_list = tuple(self.go.map_keys(directory, m.group(2)))
        else:
            raise fail(f"{directory}: unrecognised GetModelList body {body!r}")
        return info

    # controller/model.go -------------------------------------------------------------

    def controller_rules(self) -> tuple[str, str, int]:
        """``(skipped api type, skipped compatible channel, first type id of /api/models)``."""
        src = " ".join(self._src(CONTROLLER_MODEL).split())
        m1 = re.search(
            r"for i := 0; i < apitype\.Dummy; i\+\+ \{ if i == apitype\.(\w+) \{ continue \}"
            r" adaptor := relay\.GetAdaptor\(i\) channelName := adaptor\.GetChannelName\(\)"
            r" modelNames := adaptor\.GetModelList\(\)",
            src,
        )
        m2 = re.search(
            r"for _, channelType := range openai\.CompatibleChannels \{ if channelType =="
            r" channeltype\.(\w+) \{ continue \} channelName, channelModelList :="
            r" openai\.GetCompatibleChannelMeta\(channelType\)",
            src,
        )
        m3 = re.search(
            r"for i := (\d+); i < channeltype\.Dummy; i\+\+ \{ adaptor :="
            r" relay\.GetAdaptor\(channeltype\.ToAPIType\(i\)\) meta := &meta\.Meta\{"
            r" ChannelType: i, \} adaptor\.Init\(meta\) channelId2Models\[i\] ="
            r" adaptor\.GetModelList\(\)",
            src,
        )
        # Behaviour that oneapi/relay/catalog/__init__.py reproduces; fail if it changed.
        fingerprints = [
            "for _, model := range models { modelsMap[model.Id] = model }",  # last wins
            "if _, ok := modelSet[model.Id]; ok { modelSet[model.Id] = false"
            " availableOpenAIModels = append(availableOpenAIModels, model) }",  # dups kept
            'OwnedBy: "custom",',
            '"data": models,',
            "Created: 1626777600,",
            'Id: "modelperm-LwHkVFn8AcMItP432fKKDIKJ",',
        ]
        missing = [fp for fp in fingerprints if fp not in src]
        if m1 is None or m2 is None or m3 is None or missing:
            raise fail(f"{CONTROLLER_MODEL}: catalogue assembly changed ({missing or 'loops'})")
        return m1.group(1), m2.group(1), int(m3.group(1))

    # everything ----------------------------------------------------------------------

    def extract(self) -> Reference:
        type_names = self.channel_type_names()
        type_id = {name: i for i, name in enumerate(type_names)}
        api_names = self.api_type_names()
        urls = self.base_urls(len(type_names))
        to_api = self.to_api_type(type_names)
        packages = self.adaptor_packages()
        missing = [a for a in api_names if a not in packages]
        if missing:
            raise fail(f"{RELAY_ADAPTOR}: no adaptor for api types {missing}")
        infos = {api: self.adaptor_info(packages[api]) for api in api_names}
        compat_channels, compat_table, compat_default = self.compatible()
        for const in [*compat_channels, *compat_table]:
            if const not in type_id:
                raise fail(f"{COMPATIBLE_GO}: unknown channel type {const}")
        labels = self.ui_labels()
        skip_api, skip_compat, first_model_type = self.controller_rules()

        def meta(info: AdaptorInfo, channel_type: int) -> tuple[str, tuple[str, ...] | None]:
            """``(GetChannelName(), GetModelList())`` after ``Init(ChannelType=channel_type)``."""
            compat = compat_table.get(type_names[channel_type], compat_default)
            name = compat[0] if info.name_kind == "compatible" else info.fixed_name
            if info.list_kind == "nil":
                return name, None
            return name, compat[1] if info.list_kind == "compatible" else info.fixed_list

        adaptor_models: dict[str, tuple[str, ...]] = {}
        nil_adaptors: set[str] = set()

        def record(name: str, models: tuple[str, ...] | None) -> None:
            value = () if models is None else models
            if name in adaptor_models and adaptor_models[name] != value:
                raise fail(f"channel name {name!r} is used with two different model lists")
            if models is None:
                nil_adaptors.add(name)
            elif name in nil_adaptors:
                raise fail(f"channel name {name!r} has both a nil and a non-nil model list")
            adaptor_models.setdefault(name, value)

        # 1. the catalogue: un-initialised adaptors per API type (ChannelType is the zero
        #    value 0), minus the skipped one, then the OpenAI-compatible channels.
        sources: list[str] = []
        for api in api_names:
            if api == skip_api:
                continue
            name, models = meta(infos[api], 0)
            record(name, models)
            sources.append(name)
        for const in compat_channels:
            if const == skip_compat:
                continue
            name, models = compat_table.get(const, compat_default)
            record(name, models)
            sources.append(name)

        # 2. channel types (GET /api/models starts at first_model_type)
        rows: list[ChannelTypeRow] = []
        for i, const in enumerate(type_names):
            info = infos[to_api[const]]
            name, models = meta(info, i)
            record(name, models)
            if i == 0:
                label = labels.get(0, UNKNOWN_TYPE_LABEL)
            elif i in labels:
                label = labels[i]
            else:
                raise fail(f"{UI_CHANNELS}: no label for channel type {i} ({const})")
            rows.append(ChannelTypeRow(i, const, label, urls[i], info.package, name))
        extra = sorted(set(labels) - set(range(len(type_names))))
        if extra:
            raise fail(f"{UI_CHANNELS}: labels for unknown channel types {extra}")

        return Reference(
            commit=self.tree.commit,
            channel_types=tuple(rows),
            adaptor_models=adaptor_models,
            nil_adaptors=frozenset(nil_adaptors),
            catalogue_sources=tuple(sources),
            model_types=tuple(range(first_model_type, len(type_names))),
        )


def extract(mirror: Path = DEFAULT_MIRROR, rev: str = DEFAULT_REV) -> Reference:
    return Extractor(GitTree(mirror, rev)).extract()


# ---------------------------------------------------------------------------
# Derivation and rendering
# ---------------------------------------------------------------------------


def channel_type_models(ref: Reference) -> dict[int, tuple[str, ...] | None]:
    """The GET /api/models map: type id -> the list its initialised adaptor returns."""
    by_id = {row.id: row for row in ref.channel_types}
    out: dict[int, tuple[str, ...] | None] = {}
    for tid in ref.model_types:
        name = by_id[tid].channel_name
        out[tid] = None if name in ref.nil_adaptors else ref.adaptor_models[name]
    return out


def catalogue(ref: Reference) -> list[tuple[str, str]]:
    """The reference's ``models`` slice: every (id, owner) pair, duplicates included."""
    return [(m, src) for src in ref.catalogue_sources for m in ref.adaptor_models[src]]


def display_width(text: str) -> int:
    """Columns *text* occupies (ruff's E501 counts wide CJK characters as two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _s(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _tuple_lines(items: Sequence[str], indent: str) -> list[str]:
    if not items:
        return []
    return [f"{indent}{_s(x)}," for x in items]


def render(ref: Reference) -> str:
    out: list[str] = []
    w = out.append
    cat = catalogue(ref)
    ctm = channel_type_models(ref)
    w('"""Channel types and built-in model catalogue of the reference implementation.')
    w("")
    w("GENERATED FILE - DO NOT EDIT.  Regenerate with:")
    w("")
    w("    .venv/bin/python scripts/gen_catalog.py")
    w("")
    w("and verify with ``scripts/gen_catalog.py --check``.  Source: songquanpeng/one-api@")
    w(f"{ref.commit}")
    w("(relay/channeltype/*.go, relay/apitype, relay/adaptor.go, relay/adaptor/*/ model lists,")
    w("relay/adaptor/openai/compatible.go, controller/model.go, web/default channel labels).")
    w("")
    w("Lists the reference builds by ranging over a Go map (the AWS adaptor's) are in map")
    w("declaration order here; the reference's own order for them is random per process.")
    w('"""')
    w("")
    w("from typing import Final")
    w("")
    w(f"REFERENCE_COMMIT: Final = {_s(ref.commit)}")
    w("")
    w("#: (id, Go constant, UI label, default base URL, adaptor package, channel name).")
    w("#: The channel name is what the adaptor's GetChannelName() returns for that type; it")
    w("#: keys ADAPTOR_MODELS and is the ``owned_by`` of the adaptor's catalogue entries.")
    w("CHANNEL_TYPES: Final[tuple[tuple[int, str, str, str, str, str], ...]] = (")
    for r in ref.channel_types:
        fields = [
            str(r.id),
            _s(r.name),
            _s(r.label),
            _s(r.base_url),
            _s(r.api_type),
            _s(r.channel_name),
        ]
        line = f"    ({', '.join(fields)}),"
        if display_width(line) <= LINE_LIMIT:
            w(line)
        else:
            w("    (")
            out.extend(f"        {f}," for f in fields)
            w("    ),")
    w(")")
    w("")
    w("#: Channel name -> model list (GetModelList()), catalogue sources first.")
    w("ADAPTOR_MODELS: Final[dict[str, tuple[str, ...]]] = {")
    for name, models in ref.adaptor_models.items():
        if len(models) <= 1:
            w(f"    {_s(name)}: ({''.join(_s(m) + ',' for m in models)}),")
            continue
        w(f"    {_s(name)}: (")
        out.extend(_tuple_lines(models, "        "))
        w("    ),")
    w("}")
    w("")
    w("#: Adaptors whose GetModelList() returns nil: their list is JSON ``null``.")
    nil_items = ", ".join(_s(x) for x in sorted(ref.nil_adaptors))
    w(f"NIL_MODEL_LIST_ADAPTORS: Final[frozenset[str]] = frozenset({{{nil_items}}})")
    w("")
    w("#: Channel names whose model lists make up the catalogue, in catalogue order.")
    w("CATALOGUE_SOURCES: Final[tuple[str, ...]] = (")
    out.extend(_tuple_lines(ref.catalogue_sources, "    "))
    w(")")
    w("")
    w("#: GET /api/models: channel type id -> default model list (None = JSON null).")
    w("CHANNEL_TYPE_MODELS: Final[dict[int, tuple[str, ...] | None]] = {")
    by_id = {row.id: row for row in ref.channel_types}
    for tid, type_models in ctm.items():
        if type_models is None:
            w(f"    {tid}: None,")
        else:
            w(f"    {tid}: ADAPTOR_MODELS[{_s(by_id[tid].channel_name)}],")
    w("}")
    w("")
    w("#: The reference's catalogue (``models`` in controller/model.go): (id, owned_by) for")
    w("#: every model of every CATALOGUE_SOURCES list, in order, duplicates included.")
    w("CATALOGUE_ORDER: Final[tuple[tuple[str, str], ...]] = (")
    for mid, owner in cat:
        w(f"    ({_s(mid)}, {_s(owner)}),")
    w(")")
    w("")
    return "\n".join(out)


def counts(ref: Reference) -> dict[str, int]:
    cat = catalogue(ref)
    return {
        "types": len(ref.channel_types),
        "adaptors": len(ref.adaptor_models),
        "catalogue": len(cat),
        "distinct": len({m for m, _ in cat}),
        "type_lists": len(ref.model_types),
    }


def reference_from_module(module: ModuleType) -> Reference:
    """Rebuild the :class:`Reference` from a generated module (no mirror needed)."""
    rows = tuple(ChannelTypeRow(*row) for row in module.CHANNEL_TYPES)
    return Reference(
        commit=module.REFERENCE_COMMIT,
        channel_types=rows,
        adaptor_models=dict(module.ADAPTOR_MODELS),
        nil_adaptors=frozenset(module.NIL_MODEL_LIST_ADAPTORS),
        catalogue_sources=tuple(module.CATALOGUE_SOURCES),
        model_types=tuple(module.CHANNEL_TYPE_MODELS),
    )


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help="bare git mirror")
    parser.add_argument("--rev", default=DEFAULT_REV, help="revision to read (default HEAD)")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the output is stale")
    args = parser.parse_args(None if argv is None else list(argv))

    try:
        ref = extract(args.mirror, args.rev)
    except (SourceLayoutError, subprocess.CalledProcessError) as exc:
        detail: Any = getattr(exc, "stderr", b"") or b""
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        print(f"error: {exc} {detail}".rstrip(), file=sys.stderr)
        return 2
    text = render(ref)
    summary = ", ".join(f"{k}={v}" for k, v in counts(ref).items())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date ({summary})", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date ({summary})")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({summary})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
