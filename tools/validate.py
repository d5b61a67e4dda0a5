"""`python -m tools.validate`: hassfest-style checks of the nina_session integration folder.

Home Assistant's own validator (`script/hassfest`) lives only in the core repository; the
`homeassistant` wheel does not ship it. What the wheel does ship is used where it helps: the
`Manifest` TypedDict in `homeassistant/loader.py` (allowed manifest keys, integration types),
the core `strings.json` files (for `[%key:...%]` references) and the list of integrations
(for manifest dependencies). Everything else here substitutes for hassfest's checks:

- manifest.json: required keys, values, key order (domain, name, then alphabetical)
- strings.json == translations/en.json, and the structure of strings.json
- config-flow steps, errors and aborts used in config_flow.py exist in strings.json
- device trigger types (device_trigger.py *TRIGGER_TYPES) under device_automation.trigger_type
- entity translation keys (and enum sensor states, event types) exist under entity.<platform>
- exception and repair-issue translation keys exist, with matching {placeholders}
- services.yaml fields match strings.json services.<service>.fields, and services.py
- icons.json keys exist (entities, services)
- quality_scale.yaml lists every rule with done/todo/exempt (and a comment when exempt)
- brand/icon.png exists (a warning: shown by Home Assistant 2026.3+ and HACS)

Exit status 1 when an error was found; warnings alone do not fail.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
import importlib.util
import json
from pathlib import Path
import re
import sys
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO / "custom_components" / "nina_session"

IOT_CLASSES = (
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
)
FALLBACK_INTEGRATION_TYPES = (
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
    "virtual",
)
FALLBACK_MANIFEST_KEYS = (
    "after_dependencies",
    "bluetooth",
    "codeowners",
    "config_flow",
    "dependencies",
    "dhcp",
    "disabled",
    "documentation",
    "domain",
    "homekit",
    "import_executor",
    "integration_type",
    "iot_class",
    "is_built_in",
    "issue_tracker",
    "loggers",
    "mqtt",
    "name",
    "overwrites_built_in",
    "quality_scale",
    "requirements",
    "single_config_entry",
    "ssdp",
    "usb",
    "version",
    "zeroconf",
)
REQUIRED_MANIFEST_KEYS = (
    "domain",
    "name",
    "codeowners",
    "config_flow",
    "dependencies",
    "documentation",
    "integration_type",
    "iot_class",
    "requirements",
    "version",
)
# Quality scale rules, bronze to platinum (see /work/shared/style.md).
QUALITY_RULES = (
    "action-setup",
    "appropriate-polling",
    "brands",
    "common-modules",
    "config-flow-test-coverage",
    "config-flow",
    "dependency-transparency",
    "docs-actions",
    "docs-high-level-description",
    "docs-installation-instructions",
    "docs-removal-instructions",
    "entity-event-setup",
    "entity-unique-id",
    "has-entity-name",
    "runtime-data",
    "test-before-configure",
    "test-before-setup",
    "unique-config-entry",
    "config-entry-unloading",
    "log-when-unavailable",
    "entity-unavailable",
    "action-exceptions",
    "reauthentication-flow",
    "parallel-updates",
    "test-coverage",
    "integration-owner",
    "docs-installation-parameters",
    "docs-configuration-parameters",
    "entity-translations",
    "entity-device-class",
    "devices",
    "entity-category",
    "entity-disabled-by-default",
    "discovery",
    "stale-devices",
    "diagnostics",
    "exception-translations",
    "icon-translations",
    "reconfiguration-flow",
    "dynamic-devices",
    "discovery-update-info",
    "repair-issues",
    "docs-use-cases",
    "docs-supported-devices",
    "docs-supported-functions",
    "docs-data-update",
    "docs-known-limitations",
    "docs-troubleshooting",
    "docs-examples",
    "async-dependency",
    "inject-websession",
    "strict-typing",
)
QUALITY_STATUSES = ("done", "todo", "exempt")
STRINGS_TOP_LEVEL = {
    "title",
    "config",
    "options",
    "config_subentries",
    "entity",
    "entity_component",
    "exceptions",
    "services",
    "issues",
    "device_automation",
    "selector",
    "system_health",
    "conversation",
    "application_credentials",
    "common",
    "state",
    "device",
}
FLOW_STEP_KEYS = {
    "title",
    "description",
    "data",
    "data_description",
    "sections",
    "menu_options",
    "menu_option_descriptions",
    "submit",
}
FLOW_KEYS = {
    "flow_title",
    "step",
    "error",
    "abort",
    "progress",
    "create_entry",
    "initiate_flow",
    "entry_type",
}
ENTITY_KEYS = {"name", "state", "state_attributes", "unit_of_measurement", "fields"}
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z0-9_]+)\}(?!\})")
KEY_REFERENCE = re.compile(r"\[%key:([^%]+)%\]")
# Abort reasons Home Assistant's flow helpers use without us naming them.
IMPLIED_ABORTS = {
    "_abort_if_unique_id_configured": "already_configured",
    "async_update_reload_and_abort": "reconfigure_successful",
}


@dataclass
class Report:
    """Collected errors and warnings."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def error(self, where: str, message: str) -> None:
        """Record an error."""
        self.errors.append(f"{where}: {message}")

    def warn(self, where: str, message: str) -> None:
        """Record a warning."""
        self.warnings.append(f"{where}: {message}")


# --------------------------------------------------------------------------------------------
# What the installed homeassistant package offers


@dataclass
class HomeAssistantInfo:
    """Facts read (not imported) from the installed `homeassistant` package, if any."""

    root: Path | None
    version: str = ""
    manifest_keys: tuple[str, ...] = FALLBACK_MANIFEST_KEYS
    integration_types: tuple[str, ...] = FALLBACK_INTEGRATION_TYPES
    source: str = "built-in lists"

    @classmethod
    def find(cls) -> HomeAssistantInfo:
        """Locate the package without importing it."""
        spec = importlib.util.find_spec("homeassistant")
        if spec is None or not spec.submodule_search_locations:
            return cls(None)
        root = Path(next(iter(spec.submodule_search_locations)))
        info = cls(root)
        const = root / "const.py"
        if const.is_file():
            text = const.read_text(encoding="utf-8")
            major = re.search(r"^MAJOR_VERSION: Final = (\d+)", text, re.MULTILINE)
            minor = re.search(r"^MINOR_VERSION: Final = (\d+)", text, re.MULTILINE)
            patch = re.search(r'^PATCH_VERSION: Final = "([^"]+)"', text, re.MULTILINE)
            if major and minor and patch:
                info.version = f"{major[1]}.{minor[1]}.{patch[1]}"
        loader = root / "loader.py"
        if loader.is_file():
            tree = ast.parse(loader.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.ClassDef) and node.name == "Manifest":
                    keys = []
                    for stmt in node.body:
                        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                            keys.append(stmt.target.id)
                            if stmt.target.id == "integration_type":
                                values = [
                                    n.value
                                    for n in ast.walk(stmt.annotation)
                                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                                ]
                                if values:
                                    info.integration_types = tuple(sorted(values))
                    if keys:
                        info.manifest_keys = tuple(sorted(keys))
                        info.source = f"homeassistant {info.version} loader.Manifest"
        return info

    def has_integration(self, domain: str) -> bool | None:
        """Whether a core integration exists (None when HA is not installed)."""
        if self.root is None:
            return None
        return (self.root / "components" / domain).is_dir()

    def strings_reference(self, path: str) -> bool | None:
        """Whether a `[%key:...%]` reference resolves in HA's strings (None: cannot tell)."""
        if self.root is None:
            return None
        parts = path.split("::")
        if parts[0] == "common":
            file = self.root / "strings.json"
            keys = parts
        elif parts[0] == "component" and len(parts) > 2:
            file = self.root / "components" / parts[1] / "strings.json"
            keys = parts[2:]
        else:
            return None
        if not file.is_file():
            return False
        node: Any = json.loads(file.read_text(encoding="utf-8"))
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                return False
            node = node[key]
        return True


def hassfest_available() -> bool:
    """Return whether HA's own hassfest can be imported here (it ships only in the HA repo)."""
    try:
        return importlib.util.find_spec("script.hassfest") is not None
    except (ImportError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# Our Python sources: string constants and enums, resolved across modules


class Sources:
    """The integration's modules (engine included, for enums), parsed once."""

    def __init__(self, package_dir: Path) -> None:
        """Parse every module of the package; those with syntax errors are left out."""
        self.package_dir = package_dir
        self.dotted = f"{package_dir.parent.name}.{package_dir.name}"
        self.trees: dict[str, ast.Module] = {}
        self.paths: dict[str, Path] = {}
        for path in sorted(package_dir.rglob("*.py")):
            rel = path.relative_to(package_dir).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            key = ".".join(parts)
            try:
                self.trees[key] = ast.parse(path.read_text(encoding="utf-8"))
            except SyntaxError:
                continue
            self.paths[key] = path

    def platform_modules(self) -> Iterator[tuple[str, ast.Module]]:
        """Top-level modules (one per HA concept)."""
        for key, tree in self.trees.items():
            if key and "." not in key:
                yield key, tree

    def _binding(self, module: str, name: str, depth: int = 0) -> tuple[str, ast.AST] | None:
        """Return (module, node) defining `name` in `module`, following `from .x import name`."""
        tree = self.trees.get(module)
        if tree is None or depth > 10:
            return None
        for stmt in _statements(tree.body):
            if isinstance(stmt, ast.ClassDef) and stmt.name == name:
                return module, stmt
            if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in stmt.targets
            ):
                return module, stmt.value
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and stmt.target.id == name
                and stmt.value is not None
            ):
                return module, stmt.value
            if isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    if (alias.asname or alias.name) == name:
                        target = self._import_target(module, stmt)
                        if target is not None:
                            return self._binding(target, alias.name, depth + 1)
        return None

    def _import_target(self, module: str, stmt: ast.ImportFrom) -> str | None:
        if stmt.level == 0:
            name = stmt.module or ""
            if name.startswith(self.dotted + "."):
                return name[len(self.dotted) + 1 :]
            return None
        is_package = self.paths.get(module, Path()).name == "__init__.py"
        parts = module.split(".") if module else []
        if not is_package:
            parts = parts[:-1]
        if stmt.level > 1:
            parts = parts[: -(stmt.level - 1)]
        if stmt.module:
            parts.append(stmt.module)
        return ".".join(parts)

    def strings(self, module: str, expr: ast.AST | None, depth: int = 0) -> list[str] | None:
        """Return a constant expression's strings (list, tuple, enum values...); None if unknown."""
        if expr is None or depth > 10:
            return None
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return [expr.value]
        if isinstance(expr, ast.List | ast.Tuple | ast.Set):
            values: list[str] = []
            for elt in expr.elts:
                item = self.strings(module, elt, depth + 1)
                if item is None:
                    return None
                values += item
            return values
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
            if (
                expr.func.id in {"list", "tuple", "sorted", "set", "frozenset"}
                and len(expr.args) == 1
            ):
                return self.strings(module, expr.args[0], depth + 1)
            return None
        if (
            isinstance(expr, ast.ListComp | ast.SetComp | ast.GeneratorExp)
            and len(expr.generators) == 1
        ):
            return self.strings(module, expr.generators[0].iter, depth + 1)
        if isinstance(expr, ast.Name):
            found = self._binding(module, expr.id)
            if found is None:
                return None
            where, node = found
            if isinstance(node, ast.ClassDef):
                return self._enum_values(node)
            return self.strings(where, node, depth + 1)
        if isinstance(expr, ast.Attribute):
            base = expr.value
            if expr.attr == "value":
                return self.strings(module, base, depth + 1)
            if isinstance(base, ast.Name):
                found = self._binding(module, base.id)
                if found is not None and isinstance(found[1], ast.ClassDef):
                    for stmt in found[1].body:
                        if isinstance(stmt, ast.Assign) and any(
                            isinstance(t, ast.Name) and t.id == expr.attr for t in stmt.targets
                        ):
                            return self.strings(found[0], stmt.value, depth + 1)
        return None

    @staticmethod
    def _enum_values(node: ast.ClassDef) -> list[str] | None:
        values = [
            stmt.value.value
            for stmt in node.body
            if isinstance(stmt, ast.Assign)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ]
        return values or None


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for stmt in body:
        if isinstance(stmt, ast.If):
            yield from _statements(stmt.body)
            yield from _statements(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from _statements(stmt.body)
        else:
            yield stmt


def _call_name(call: ast.Call) -> str:
    return ast.unparse(call.func).rsplit(".", 1)[-1]


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _placeholder_keys(expr: ast.expr | None) -> set[str] | None:
    """Keys of a `{"a": ...}` / `dict(a=...)` placeholder argument; None if not literal."""
    if isinstance(expr, ast.Dict):
        keys = {
            k.value for k in expr.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)
        }
        return keys if len(keys) == len(expr.keys) else None
    if isinstance(expr, ast.Call) and _call_name(expr) == "dict" and not expr.args:
        return {k.arg for k in expr.keywords if k.arg is not None}
    return None


# --------------------------------------------------------------------------------------------
# Translation key usages in our code


@dataclass
class KeyUse:
    """A translation key our code uses."""

    kind: str  # entity | exception | issue
    key: str
    where: str
    platform: str = ""
    placeholders: set[str] | None = None


@dataclass
class _Forwarder:
    """A helper like `_invalid(key, **placeholders)` that builds a translated exception."""

    kind: str
    key_index: int
    key_name: str
    placeholder_kwargs: bool


def collect_key_uses(src: Sources, report: Report) -> list[KeyUse]:
    """translation_key=... uses: entity descriptions, exceptions, repair issues."""
    uses: list[KeyUse] = []
    forwarders: dict[str, _Forwarder] = {}
    for module, tree in src.trees.items():
        if module.startswith("engine"):
            continue
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            params = [a.arg for a in func.args.args]
            for call in ast.walk(func):
                if not isinstance(call, ast.Call):
                    continue
                key = _keyword(call, "translation_key")
                if isinstance(key, ast.Name) and key.id in params:
                    placeholders = _keyword(call, "translation_placeholders")
                    kwarg = func.args.kwarg.arg if func.args.kwarg else None
                    forwarders[func.name] = _Forwarder(
                        _key_kind(call),
                        params.index(key.id),
                        key.id,
                        kwarg is not None
                        and placeholders is not None
                        and any(
                            isinstance(n, ast.Name) and n.id == kwarg
                            for n in ast.walk(placeholders)
                        ),
                    )
    for module, tree in src.trees.items():
        if module.startswith("engine"):
            continue
        rel = _rel(src.paths[module])
        # equipment_sensor.py holds descriptions of the sensor platform (and so on).
        platform = module.removeprefix("equipment_") if "." not in module else ""
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _call_name(node)
                if name in forwarders:
                    fwd = forwarders[name]
                    arg = (
                        node.args[fwd.key_index]
                        if len(node.args) > fwd.key_index
                        else _keyword(node, fwd.key_name)
                    )
                    values = src.strings(module, arg)
                    where = f"{rel}:{node.lineno}"
                    if values is None:
                        report.notes.append(
                            f"{where}: translation key passed to {name}() is not a constant"
                        )
                        continue
                    holders = (
                        {k.arg for k in node.keywords if k.arg} if fwd.placeholder_kwargs else None
                    )
                    uses += [KeyUse(fwd.kind, v, where, placeholders=holders) for v in values]
                    continue
                key_expr = _keyword(node, "translation_key")
                if key_expr is None:
                    continue
                where = f"{rel}:{node.lineno}"
                values = src.strings(module, key_expr)
                if values is None:
                    if not (isinstance(key_expr, ast.Name) and name not in forwarders):
                        report.notes.append(f"{where}: translation_key is not a constant")
                    continue
                kind = _key_kind(node)
                holders = _placeholder_keys(_keyword(node, "translation_placeholders"))
                for value in values:
                    use = KeyUse(kind, value, where, platform if kind == "entity" else "", holders)
                    if kind == "entity":
                        use.placeholders = None
                        use = _entity_use_details(src, module, node, use, uses)
                    uses.append(use)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    attr = (
                        target.attr
                        if isinstance(target, ast.Attribute)
                        else getattr(target, "id", "")
                    )
                    if attr == "_attr_translation_key" and node.value is not None:
                        values = src.strings(module, node.value)
                        for value in values or []:
                            uses.append(KeyUse("entity", value, f"{rel}:{node.lineno}", platform))
    return uses


def _entity_use_details(
    src: Sources, module: str, call: ast.Call, use: KeyUse, uses: list[KeyUse]
) -> KeyUse:
    """Enum sensor options and event types become required state translations."""
    device_class = _keyword(call, "device_class")
    options = _keyword(call, "options")
    if device_class is not None and ast.unparse(device_class).endswith(".ENUM"):
        values = src.strings(module, options) if options is not None else None
        if values is None:
            uses.append(KeyUse("note", use.key, f"{use.where}: enum sensor options not constant"))
        else:
            uses += [KeyUse("state", f"{use.key}.{v}", use.where, use.platform) for v in values]
    event_types = _keyword(call, "event_types")
    if event_types is not None:
        values = src.strings(module, event_types)
        if values is not None:
            uses += [
                KeyUse("event_type", f"{use.key}.{v}", use.where, use.platform) for v in values
            ]
    return use


def _key_kind(call: ast.Call) -> str:
    name = _call_name(call)
    if "issue" in name.lower():
        return "issue"
    if _keyword(call, "translation_domain") is not None or name.endswith(
        ("Error", "Exception", "NotReady", "Failed", "Invalid")
    ):
        return "exception"
    if "Selector" in name:
        return "selector"
    return "entity"


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Config flow


@dataclass
class FlowUses:
    """Steps, errors and aborts a flow class uses."""

    section: str  # config | options
    steps: dict[str, str] = field(default_factory=dict)  # step -> where
    errors: dict[str, str] = field(default_factory=dict)
    aborts: dict[str, str] = field(default_factory=dict)
    placeholders: dict[str, tuple[set[str], str]] = field(default_factory=dict)


def collect_flow_uses(src: Sources) -> list[FlowUses]:
    """Collect what config_flow.py's flow classes show: step ids, error and abort keys."""
    tree = src.trees.get("config_flow")
    if tree is None:
        return []
    rel = _rel(src.paths["config_flow"])
    functions = {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    flows: list[FlowUses] = []
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        bases = " ".join(ast.unparse(b) for b in cls.bases)
        if "OptionsFlow" in bases:
            flow = FlowUses("options")
        elif "ConfigFlow" in bases or "config_entries.ConfigFlow" in bases:
            flow = FlowUses("config")
        else:
            continue
        for node in ast.walk(cls):
            if isinstance(node, ast.Call):
                name = _call_name(node)
                where = f"{rel}:{node.lineno}"
                if name in {"async_show_form", "async_show_menu", "async_show_progress"}:
                    step = src.strings("config_flow", _keyword(node, "step_id"))
                    for value in step or []:
                        flow.steps.setdefault(value, where)
                        holders = _placeholder_keys(_keyword(node, "description_placeholders"))
                        flow.placeholders[value] = (holders or set(), where)
                elif name == "async_abort":
                    for value in src.strings("config_flow", _keyword(node, "reason")) or []:
                        flow.aborts.setdefault(value, where)
                elif name in IMPLIED_ABORTS:
                    reason = _keyword(node, "reason")
                    values = src.strings("config_flow", reason) if reason is not None else None
                    flow.aborts.setdefault((values or [IMPLIED_ABORTS[name]])[0], where)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Subscript) and ast.unparse(target.value) == "errors":
                        for value in _error_values(src, node.value, functions, cls):
                            flow.errors.setdefault(value, f"{rel}:{node.lineno}")
                    if (
                        isinstance(target, ast.Name)
                        and target.id == "errors"
                        and isinstance(node.value, ast.Dict)
                    ):
                        for item in node.value.values:
                            for text in src.strings("config_flow", item) or []:
                                flow.errors.setdefault(text, f"{rel}:{node.lineno}")
        flows.append(flow)
    return flows


def _error_values(
    src: Sources,
    value: ast.expr,
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
    cls: ast.ClassDef,
) -> list[str]:
    """`errors[...] = "x"`, or `= error` where `error := await probe(...)` returns literals."""
    direct = src.strings("config_flow", value)
    if direct is not None:
        return direct
    if not isinstance(value, ast.Name):
        return []
    results: list[str] = []
    for node in ast.walk(cls):
        source: ast.expr | None = None
        if (isinstance(node, ast.NamedExpr) and node.target.id == value.id) or (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == value.id for t in node.targets)
        ):
            source = node.value
        if isinstance(source, ast.Await):
            source = source.value
        if isinstance(source, ast.Call):
            func = functions.get(_call_name(source))
            if func is not None:
                for ret in ast.walk(func):
                    if isinstance(ret, ast.Return):
                        results += src.strings("config_flow", ret.value) or []
    return results


# --------------------------------------------------------------------------------------------
# The checks


def _load_json(path: Path, report: Report) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        report.error(_rel(path), f"invalid JSON: {err}")
        return None


def _load_yaml(path: Path, report: Report) -> Any:
    if not path.is_file():
        return None
    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - only in the HA venv

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        report.error(_rel(path), f"invalid YAML: {err}")
        return None


def check_manifest(package_dir: Path, ha: HomeAssistantInfo, report: Report) -> dict[str, Any]:
    """Check manifest.json: keys, values, order."""
    path = package_dir / "manifest.json"
    where = _rel(path)
    manifest = _load_json(path, report)
    if manifest is None:
        if not path.is_file():
            report.error(where, "missing")
        return {}
    if not isinstance(manifest, dict):
        report.error(where, "must be a JSON object")
        return {}
    _check_manifest_keys(manifest, ha, where, report)
    _check_manifest_values(manifest, package_dir, ha, where, report)
    _check_version(manifest.get("version"), where, report)
    return manifest


def _check_manifest_keys(
    manifest: dict[str, Any], ha: HomeAssistantInfo, where: str, report: Report
) -> None:
    """Check that the required keys are there, none is unknown, and they are in order."""
    for key in REQUIRED_MANIFEST_KEYS:
        if key not in manifest:
            report.error(where, f"missing required key {key!r}")
    for key in manifest:
        if key not in ha.manifest_keys:
            report.error(where, f"unknown key {key!r} (not in {ha.source})")
    expected = [k for k in ("domain", "name") if k in manifest]
    expected += sorted(k for k in manifest if k not in {"domain", "name"})
    if list(manifest) != expected:
        report.error(where, f"keys must be ordered domain, name, then alphabetically: {expected}")


def _check_manifest_values(
    manifest: dict[str, Any],
    package_dir: Path,
    ha: HomeAssistantInfo,
    where: str,
    report: Report,
) -> None:
    """Check the manifest's values (all but the version)."""
    if manifest.get("domain") not in {None, package_dir.name}:
        report.error(
            where, f"domain {manifest.get('domain')!r} does not match folder {package_dir.name!r}"
        )
    if "iot_class" in manifest and manifest["iot_class"] not in IOT_CLASSES:
        report.error(
            where, f"iot_class {manifest['iot_class']!r} is not one of {', '.join(IOT_CLASSES)}"
        )
    if "integration_type" in manifest and manifest["integration_type"] not in ha.integration_types:
        report.error(
            where,
            f"integration_type {manifest['integration_type']!r} is not one of "
            f"{', '.join(ha.integration_types)}",
        )
    if "config_flow" in manifest:
        if not isinstance(manifest["config_flow"], bool):
            report.error(where, "config_flow must be true or false")
        elif manifest["config_flow"] != (package_dir / "config_flow.py").is_file():
            report.error(where, "config_flow does not match the presence of config_flow.py")
    for key in ("codeowners", "requirements", "dependencies", "after_dependencies", "loggers"):
        value = manifest.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            report.error(where, f"{key} must be a list of strings")
    for owner in manifest.get("codeowners") or []:
        if isinstance(owner, str) and not owner.startswith("@"):
            report.error(where, f"codeowner {owner!r} must start with @")
    for key in ("documentation", "issue_tracker"):
        value = manifest.get(key)
        if value is not None and not (isinstance(value, str) and value.startswith("https://")):
            report.error(where, f"{key} must be an https:// URL")
    for requirement in manifest.get("requirements") or []:
        if isinstance(requirement, str) and "==" not in requirement:
            report.warn(where, f"requirement {requirement!r} is not pinned with ==")
    for key in ("dependencies", "after_dependencies"):
        for domain in manifest.get(key) or []:
            if isinstance(domain, str) and ha.has_integration(domain) is False:
                report.error(where, f"{key}: no Home Assistant integration {domain!r}")


def _check_version(version: Any, where: str, report: Report) -> None:
    if version is None:
        return
    if not isinstance(version, str):
        report.error(where, "version must be a string")
        return
    try:
        # Optional: HA's own version parser, present in the HA venv.
        from awesomeversion import AwesomeVersion, AwesomeVersionStrategy  # noqa: PLC0415
        from awesomeversion.exceptions import AwesomeVersionException  # noqa: PLC0415
    except ImportError:
        if not re.fullmatch(r"\d+(\.\d+)*([.-]?[A-Za-z0-9.]+)?", version):
            report.error(where, f"version {version!r} is not a valid version")
        return
    strategies = [
        AwesomeVersionStrategy.CALVER,
        AwesomeVersionStrategy.SEMVER,
        AwesomeVersionStrategy.SIMPLEVER,
        AwesomeVersionStrategy.BUILDVER,
        AwesomeVersionStrategy.PEP440,
    ]
    try:
        AwesomeVersion(version, ensure_strategy=strategies)
    except AwesomeVersionException:
        report.error(where, f"version {version!r} is not a valid version")


def _walk_strings(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk_strings(value, f"{path}.{key}" if path else str(key))
    else:
        yield path, node


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else key
            if key not in a:
                return f"{sub} only in translations/en.json"
            if key not in b:
                return f"{sub} missing from translations/en.json"
            diff = _first_difference(a[key], b[key], sub)
            if diff:
                return diff
        return ""
    return "" if a == b else f"{path} differs"


def check_strings(package_dir: Path, ha: HomeAssistantInfo, report: Report) -> dict[str, Any]:
    """Check strings.json's structure, and that translations/en.json is identical to it."""
    path = package_dir / "strings.json"
    where = _rel(path)
    strings = _load_json(path, report)
    if strings is None:
        if not path.is_file():
            report.error(where, "missing")
        return {}
    if not isinstance(strings, dict):
        report.error(where, "must be a JSON object")
        return {}
    _check_translations(package_dir, strings, report)
    for key in strings:
        if key not in STRINGS_TOP_LEVEL:
            report.error(where, f"unknown top-level key {key!r}")
    for section in ("config", "options"):
        _check_flow_strings(strings, section, where, report)
    _check_entity_strings(strings, where, report)
    for key, entry in (strings.get("exceptions") or {}).items():
        if not isinstance(entry, dict) or set(entry) != {"message"}:
            report.error(where, f'exceptions.{key} must be {{"message": ...}}')
    for key, entry in (strings.get("issues") or {}).items():
        if not isinstance(entry, dict) or "title" not in entry:
            report.error(where, f"issues.{key} needs a title")
        elif "description" not in entry and "fix_flow" not in entry:
            report.error(where, f"issues.{key} needs a description (or a fix_flow)")
    for key_path, value in _walk_strings(strings):
        _check_string_value(key_path, value, strings, package_dir.name, ha, where, report)
    return strings


def _check_translations(package_dir: Path, strings: dict[str, Any], report: Report) -> None:
    """Check en.json against strings.json, other languages' keys, and stray strings*.json."""
    english = _load_json(package_dir / "translations" / "en.json", report)
    if english is None:
        report.error(
            _rel(package_dir / "translations" / "en.json"), "missing (a copy of strings.json)"
        )
    elif english != strings:
        report.error(
            _rel(package_dir / "translations" / "en.json"),
            f"differs from strings.json ({_first_difference(strings, english)})",
        )
    for other in sorted((package_dir / "translations").glob("*.json")):
        if other.name == "en.json":
            continue
        data = _load_json(other, report)
        known = {p for p, _ in _walk_strings(strings)}
        for key, _ in _walk_strings(data or {}):
            if key not in known:
                report.warn(_rel(other), f"{key} is not in strings.json")
    for extra in sorted(package_dir.glob("strings*.json")):
        if extra.name != "strings.json":
            report.warn(
                _rel(extra), "Home Assistant reads only strings.json and translations/*.json"
            )


def _check_flow_strings(strings: dict[str, Any], section: str, where: str, report: Report) -> None:
    """Check the `config` or `options` section: its keys and each step's."""
    flow = strings.get(section)
    if flow is None:
        return
    if not isinstance(flow, dict):
        report.error(where, f"{section} must be an object")
        return
    for key in flow:
        if key not in FLOW_KEYS:
            report.error(where, f"{section}.{key}: unknown key")
    for step_id, step in (flow.get("step") or {}).items():
        if not isinstance(step, dict):
            report.error(where, f"{section}.step.{step_id} must be an object")
            continue
        for key in step:
            if key not in FLOW_STEP_KEYS:
                report.error(where, f"{section}.step.{step_id}.{key}: unknown key")
        data = step.get("data") or {}
        for field_name in step.get("data_description") or {}:
            if field_name not in data:
                report.error(
                    where,
                    f"{section}.step.{step_id}.data_description.{field_name} has no data entry",
                )
        for field_name in data:
            if field_name not in (step.get("data_description") or {}):
                report.warn(
                    where, f"{section}.step.{step_id}.data.{field_name} has no data_description"
                )


def _check_entity_strings(strings: dict[str, Any], where: str, report: Report) -> None:
    """Check that every `entity.<platform>.<key>` is an object with known keys."""
    for platform, entities in (strings.get("entity") or {}).items():
        for key, entry in (entities or {}).items():
            if not isinstance(entry, dict):
                report.error(where, f"entity.{platform}.{key} must be an object")
                continue
            for sub in entry:
                if sub not in ENTITY_KEYS:
                    report.error(where, f"entity.{platform}.{key}.{sub}: unknown key")


def _check_string_value(
    key_path: str,
    value: Any,
    strings: dict[str, Any],
    domain: str,
    ha: HomeAssistantInfo,
    where: str,
    report: Report,
) -> None:
    """Check one leaf: a non-empty trimmed string whose [%key:...%] references resolve."""
    if not isinstance(value, str):
        if not isinstance(value, dict | list):
            report.error(where, f"{key_path} must be a string")
        return
    if not value.strip():
        report.error(where, f"{key_path} is empty")
    elif value != value.strip():
        report.error(where, f"{key_path} has leading or trailing whitespace")
    for reference in KEY_REFERENCE.findall(value):
        if reference.startswith(f"component::{domain}::"):
            inner = reference.split("::")[2:]
            node: Any = strings
            for part in inner:
                node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                report.error(where, f"{key_path}: reference [%key:{reference}%] does not resolve")
        elif ha.strings_reference(reference) is False:
            report.error(
                where,
                f"{key_path}: reference [%key:{reference}%] not in Home Assistant's strings",
            )


def _lookup(strings: dict[str, Any], dotted: Sequence[str]) -> Any:
    node: Any = strings
    for part in dotted:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _placeholders(text: Any) -> set[str]:
    if not isinstance(text, str):
        return set()
    return set(PLACEHOLDER.findall(KEY_REFERENCE.sub("", text)))


def check_code_keys(src: Sources, strings: dict[str, Any], report: Report) -> list[KeyUse]:
    """Keys our code uses exist in strings.json, with consistent placeholders."""
    where = _rel(src.package_dir / "strings.json")
    uses = collect_key_uses(src, report)
    entity_platforms = set((strings.get("entity") or {}).keys())
    for use in uses:
        if use.kind == "note":
            report.notes.append(use.where)
        elif use.kind == "exception":
            entry = _lookup(strings, ["exceptions", use.key])
            if entry is None:
                report.error(
                    use.where,
                    f"exception translation_key {use.key!r} not in strings.json exceptions",
                )
                continue
            _compare_placeholders(
                use, _placeholders(entry.get("message")), f"exceptions.{use.key}", report
            )
        elif use.kind == "issue":
            entry = _lookup(strings, ["issues", use.key])
            if entry is None:
                report.error(
                    use.where, f"issue translation_key {use.key!r} not in strings.json issues"
                )
                continue
            in_text = _placeholders(entry.get("title")) | _placeholders(entry.get("description"))
            _compare_placeholders(use, in_text, f"issues.{use.key}", report)
        elif use.kind == "entity":
            platforms = (
                [use.platform]
                if use.platform in entity_platforms or use.platform
                else sorted(entity_platforms)
            )
            if not any(_lookup(strings, ["entity", p, use.key]) is not None for p in platforms):
                report.error(
                    use.where,
                    f"entity translation_key {use.key!r} not under "
                    f"entity.{use.platform or '<platform>'} in strings.json",
                )
        elif use.kind == "selector":
            if _lookup(strings, ["selector", use.key]) is None:
                report.error(use.where, f"selector translation_key {use.key!r} not under selector")
        elif use.kind in {"state", "event_type"}:
            key, value = use.key.split(".", 1)
            path = ["entity", use.platform, key, "state", value]
            if use.kind == "event_type":
                path = [
                    "entity",
                    use.platform,
                    key,
                    "state_attributes",
                    "event_type",
                    "state",
                    value,
                ]
            if _lookup(strings, path) is None:
                report.error(use.where, f"{'.'.join(path)} missing from strings.json")
    used_exceptions = {u.key for u in uses if u.kind == "exception"}
    literals = _string_literals(src)
    for key in strings.get("exceptions") or {}:
        if key not in used_exceptions and key not in literals:
            report.warn(where, f"exceptions.{key} is not used in the code")
    for key in strings.get("issues") or {}:
        if key not in {u.key for u in uses if u.kind == "issue"} and key not in literals:
            report.warn(where, f"issues.{key} is not used in the code")
    return uses


def _string_literals(src: Sources) -> set[str]:
    found: set[str] = set()
    for module, tree in src.trees.items():
        if module.startswith("engine"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def _compare_placeholders(use: KeyUse, in_strings: set[str], label: str, report: Report) -> None:
    if use.placeholders is None:
        return
    missing = in_strings - use.placeholders
    if missing:
        report.error(
            use.where, f"{label} needs placeholders {sorted(missing)} that the code does not pass"
        )
    unused = use.placeholders - in_strings
    if unused:
        report.warn(use.where, f"{label}: placeholders {sorted(unused)} are passed but not used")


def check_flows(src: Sources, strings: dict[str, Any], report: Report) -> None:
    """Check that the steps, errors and aborts of config_flow.py exist in strings.json."""
    for flow in collect_flow_uses(src):
        for step, where in flow.steps.items():
            entry = _lookup(strings, [flow.section, "step", step])
            if entry is None:
                report.error(where, f"{flow.section}.step.{step} missing from strings.json")
                continue
            holders, _ = flow.placeholders.get(step, (set(), where))
            needed = _placeholders(entry.get("description")) | _placeholders(entry.get("title"))
            if needed - holders:
                report.error(
                    where,
                    f"{flow.section}.step.{step} uses {sorted(needed - holders)} but the form "
                    "passes no such description_placeholders",
                )
        for error, where in flow.errors.items():
            if _lookup(strings, [flow.section, "error", error]) is None:
                report.error(where, f"{flow.section}.error.{error} missing from strings.json")
        for reason, where in flow.aborts.items():
            if _lookup(strings, [flow.section, "abort", reason]) is None:
                report.error(where, f"{flow.section}.abort.{reason} missing from strings.json")


def check_device_triggers(src: Sources, strings: dict[str, Any], report: Report) -> None:
    """Trigger types of device_trigger.py are translated under device_automation.trigger_type."""
    tree = src.trees.get("device_trigger")
    if tree is None:
        return
    rel = _rel(src.paths["device_trigger"])
    for stmt in _statements(tree.body):
        target: ast.expr | None = stmt.target if isinstance(stmt, ast.AnnAssign) else None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
        if not (isinstance(target, ast.Name) and target.id.endswith("TRIGGER_TYPES")):
            continue
        values = src.strings("device_trigger", getattr(stmt, "value", None))
        for value in values or []:
            if _lookup(strings, ["device_automation", "trigger_type", value]) is None:
                report.error(
                    f"{rel}:{stmt.lineno}",
                    f"device_automation.trigger_type.{value} missing from strings.json",
                )


#: Calls that register a service, and where the service name is among their arguments.
_SERVICE_NAME_ARG = {
    "async_register": 1,  # hass.services.async_register(DOMAIN, name, ...)
    "async_register_admin_service": 2,  # helpers.service: (hass, DOMAIN, name, ...)
    "async_register_entity_service": 0,  # platform.async_register_entity_service(name, ...)
}


def registered_services(src: Sources) -> dict[str, str]:
    """Service names the code registers (plain, admin-only and entity services)."""
    found: dict[str, str] = {}
    for module, tree in src.trees.items():
        if module.startswith("engine"):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            position = _SERVICE_NAME_ARG.get(_call_name(node) or "")
            if position is None or len(node.args) <= position:
                continue
            for value in src.strings(module, node.args[position]) or []:
                found[value] = f"{_rel(src.paths[module])}:{node.lineno}"
    return found


def check_services(
    package_dir: Path, src: Sources, strings: dict[str, Any], report: Report
) -> dict[str, Any]:
    """services.yaml, strings.json services and services registered in code agree."""
    path = package_dir / "services.yaml"
    where = _rel(path)
    services = _load_yaml(path, report) or {}
    if not isinstance(services, dict):
        report.error(where, "must be a mapping of services")
        return {}
    translated = strings.get("services") or {}
    for name, raw_spec in services.items():
        spec = raw_spec or {}
        entry = translated.get(name)
        if entry is None:
            report.error(where, f"service {name!r} missing from strings.json services")
            continue
        for key in ("name", "description"):
            if key not in entry:
                report.error(_rel(package_dir / "strings.json"), f"services.{name}.{key} missing")
        fields = _service_fields(spec)
        translated_fields = entry.get("fields") or {}
        for field_name in fields:
            if field_name not in translated_fields:
                report.error(
                    where, f"{name}.{field_name} missing from strings.json services.{name}.fields"
                )
            elif not {"name", "description"} <= set(translated_fields[field_name]):
                report.error(
                    _rel(package_dir / "strings.json"),
                    f"services.{name}.fields.{field_name} needs name and description",
                )
        for field_name in translated_fields:
            if field_name not in fields:
                report.error(
                    _rel(package_dir / "strings.json"),
                    f"services.{name}.fields.{field_name} is not a field in services.yaml",
                )
    for name in translated:
        if name not in services:
            report.error(
                _rel(package_dir / "strings.json"), f"services.{name} is not in services.yaml"
            )
    registered = registered_services(src)
    for name, at in registered.items():
        if name not in services:
            report.error(at, f"service {name!r} is registered but not described in services.yaml")
    if registered:
        for name in services:
            if name not in registered:
                report.error(
                    where, f"service {name!r} is described but never registered in the code"
                )
    return services


def _service_fields(spec: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in (spec.get("fields") or {}).items():
        if isinstance(value, dict) and "fields" in value and "selector" not in value:
            fields.update(value["fields"] or {})  # a collapsible section
        else:
            fields[key] = value
    return fields


def check_icons(
    package_dir: Path,
    strings: dict[str, Any],
    services: dict[str, Any],
    uses: list[KeyUse],
    report: Report,
) -> None:
    """icons.json: entity keys and services exist; every service has an icon."""
    path = package_dir / "icons.json"
    where = _rel(path)
    icons = _load_json(path, report)
    if icons is None:
        if services or strings.get("entity"):
            report.warn(where, "missing (icon-translations)")
        return
    for platform, entities in (icons.get("entity") or {}).items():
        for key, entry in (entities or {}).items():
            if _lookup(strings, ["entity", platform, key]) is None and not any(
                u.kind == "entity" and u.key == key for u in uses
            ):
                report.error(where, f"entity.{platform}.{key} is not a translation key of ours")
            for state in (entry or {}).get("state") or {}:
                states = _lookup(strings, ["entity", platform, key, "state"])
                if (
                    states is not None
                    and state not in states
                    and platform not in {"binary_sensor", "switch"}
                ):
                    report.error(
                        where, f"entity.{platform}.{key}.state.{state} is not a translated state"
                    )
            for icon_path, value in _walk_strings(entry):
                if isinstance(value, str) and not value.startswith("mdi:"):
                    report.error(
                        where, f"entity.{platform}.{key}.{icon_path}: {value!r} is not an mdi: icon"
                    )
    icon_services = icons.get("services") or {}
    for name in icon_services:
        if name not in services:
            report.error(where, f"services.{name} is not in services.yaml")
    for name in services:
        if name not in icon_services:
            report.error(where, f"services.{name} has no icon")


def check_quality_scale(package_dir: Path, report: Report) -> None:
    """quality_scale.yaml lists every rule with a status (exempt needs a comment)."""
    path = package_dir / "quality_scale.yaml"
    where = _rel(path)
    data = _load_yaml(path, report)
    if data is None:
        if not path.is_file():
            report.error(where, "missing")
        return
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, dict):
        report.error(where, "needs a top-level 'rules:' mapping")
        return
    for rule in QUALITY_RULES:
        if rule not in rules:
            report.error(where, f"rule {rule!r} missing")
    for rule, value in rules.items():
        if rule not in QUALITY_RULES:
            report.error(where, f"unknown rule {rule!r}")
        status = value if isinstance(value, str) else (value or {}).get("status")
        comment = None if isinstance(value, str) else (value or {}).get("comment")
        if status not in QUALITY_STATUSES:
            report.error(where, f"{rule}: status {status!r} is not one of done/todo/exempt")
        if status == "exempt" and not (isinstance(comment, str) and comment.strip()):
            report.error(where, f"{rule}: exempt needs a comment saying why")


def check_brand(package_dir: Path, report: Report) -> None:
    """Since HA 2026.3 a custom integration ships brand/icon.png (HACS shows it too)."""
    icon = package_dir / "brand" / "icon.png"
    if not icon.is_file():
        report.warn(
            _rel(icon), "missing (Home Assistant 2026.3+ shows a custom integration's own icon)"
        )
    elif icon.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        report.error(_rel(icon), "is not a PNG file")


def check_config_schema(package_dir: Path, report: Report) -> None:
    """Refuse an `async_setup`/`setup` without a module-level `CONFIG_SCHEMA` (hassfest rule).

    hassfest reads `__init__.py` without running it, so a schema made on first access (a
    module `__getattr__`) or inside a function or an `if`/`try` does not count.
    """
    path = package_dir / "__init__.py"
    if not path.is_file():
        return
    body = ast.parse(path.read_text(encoding="utf-8")).body
    has_setup = any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name in ("setup", "async_setup")
        for node in body
    )
    assigned = set()
    for node in body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        assigned |= {target.id for target in targets if isinstance(target, ast.Name)}
    schemas = {"CONFIG_SCHEMA", "PLATFORM_SCHEMA", "PLATFORM_SCHEMA_BASE"}
    if has_setup and not assigned & schemas:
        report.error(
            _rel(path),
            "defines async_setup but assigns no CONFIG_SCHEMA at module level "
            "(e.g. cv.config_entry_only_config_schema(DOMAIN))",
        )


def validate(package_dir: Path, ha: HomeAssistantInfo | None = None) -> Report:
    """Run every check on an integration folder."""
    ha = ha or HomeAssistantInfo.find()
    report = Report()
    check_manifest(package_dir, ha, report)
    strings = check_strings(package_dir, ha, report)
    src = Sources(package_dir)
    uses = check_code_keys(src, strings, report)
    check_flows(src, strings, report)
    check_device_triggers(src, strings, report)
    services = check_services(package_dir, src, strings, report)
    check_icons(package_dir, strings, services, uses, report)
    check_quality_scale(package_dir, report)
    check_brand(package_dir, report)
    check_config_schema(package_dir, report)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.validate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--package", type=Path, default=PACKAGE_DIR, help="integration folder")
    parser.add_argument("--verbose", action="store_true", help="also print notes")
    args = parser.parse_args(argv)
    ha = HomeAssistantInfo.find()
    if hassfest_available():
        print("validate: hassfest is importable here; run it too (python -m script.hassfest)")
    else:
        print(
            "validate: hassfest is not in the homeassistant wheel (script/hassfest lives only in "
            "the core repository); these checks substitute for it. Manifest keys from "
            f"{ha.source}."
        )
    report = validate(args.package, ha)
    for line in report.errors:
        print(f"ERROR {line}")
    for line in report.warnings:
        print(f"WARNING {line}")
    if args.verbose:
        for line in report.notes:
            print(f"NOTE {line}")
    counts = f"{len(report.errors)} errors, {len(report.warnings)} warnings"
    print(f"validate: {counts} ({_rel(args.package)})")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
