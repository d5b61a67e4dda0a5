"""A static model of one Home Assistant release's sources (a wheel or a directory).

Nothing here imports Home Assistant: modules are parsed with `ast` on demand, names are
resolved through their imports, classes through their bases (C3 order), and every object
carries the nodes needed to judge its signature and deprecation.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
import importlib
from pathlib import Path
import re
import sys
from typing import Any
import zipfile

ROOT_PACKAGE = "homeassistant"

# PEP 758 (Python 3.14): `except A, B:` without parentheses, which HA 2026.x uses and the
# Python running this check (3.13) cannot parse. Same meaning as `except (A, B):`; `as` needs
# the parentheses in 3.14 too, so a bare list ends at the colon.
_BARE_EXCEPT_LIST = re.compile(
    r"^([ \t]*except\*?[ \t]+)(?!\()([^:#\n]*,[^:#\n]*?)[ \t]*:", re.MULTILINE
)


class UnparsableSourceError(RuntimeError):
    """A release's module that this Python cannot parse, even with the known rewrites."""


def parse_source(text: str, path: str) -> ast.Module:
    """Parse a module written for this Python or a newer one (rewrites in place, same lines)."""
    try:
        return ast.parse(text, filename=path)
    except SyntaxError:
        rewritten = _BARE_EXCEPT_LIST.sub(r"\1(\2):", text)
        try:
            return ast.parse(rewritten, filename=path)
        except SyntaxError as err:
            # Never "missing": a module we cannot read is a check we cannot make.
            raise UnparsableSourceError(
                f"cannot parse {path} (line {err.lineno}: {err.msg}); "
                "run the check with a newer Python"
            ) from err


# --------------------------------------------------------------------------------------------
# Source trees


def absolute_import(dotted: str, is_package: bool, level: int, module: str | None) -> str:
    """Return the absolute module an import names from module `dotted` (`from ..x import`)."""
    if level == 0:
        return module or ""
    parts = dotted.split(".")
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: -(level - 1)]
    return ".".join([*parts, module] if module else parts)


class SourceTree:
    """Python sources of the `homeassistant` package, read lazily by module name."""

    def __init__(self, reader: Callable[[str], str | None], label: str) -> None:
        """Read sources with `reader` (relative path -> text, None if absent)."""
        self._reader = reader
        self.label = label
        self._modules: dict[str, ModuleInfo | None] = {}
        self.metadata: dict[str, str] = {}
        self.requires_dist: list[str] = []  # the wheel's Requires-Dist lines, as written

    @classmethod
    def from_dir(cls, root: Path, label: str = "") -> SourceTree:
        """Read the sources below `root` (which contains the `homeassistant/` folder)."""

        def read(rel: str) -> str | None:
            path = root / rel
            return path.read_text(encoding="utf-8") if path.is_file() else None

        return cls(read, label or str(root))

    @classmethod
    def from_wheel(cls, wheel: Path, label: str = "") -> SourceTree:
        """Read the sources inside a wheel straight from the zip (nothing is unpacked)."""
        archive = zipfile.ZipFile(wheel)
        names = set(archive.namelist())

        def read(rel: str) -> str | None:
            if rel not in names:
                return None
            return archive.read(rel).decode("utf-8")

        tree = cls(read, label or wheel.name)
        for name in names:
            if name.endswith(".dist-info/METADATA"):
                text = archive.read(name).decode("utf-8")
                for line in text.splitlines():
                    key, _, value = line.partition(": ")
                    if key in {"Version", "Requires-Python"}:
                        tree.metadata[key] = value.strip()
                    elif key == "Requires-Dist":
                        tree.requires_dist.append(value.strip())
                    if not line:
                        break
        return tree

    def text(self, rel: str) -> str | None:
        """Return the text of one file of the release (relative path), None if absent."""
        return self._reader(rel)

    def module(self, name: str) -> ModuleInfo | None:
        """Return the parsed module `name` (dotted), or None if the release has no such module."""
        if name not in self._modules:
            self._modules[name] = self._load(name)
        return self._modules[name]

    def _load(self, name: str) -> ModuleInfo | None:
        rel = name.replace(".", "/")
        for path, is_pkg in ((rel + ".py", False), (rel + "/__init__.py", True)):
            text = self._reader(path)
            if text is not None:
                tree = parse_source(text, f"{self.label}:{path}")
                return ModuleInfo(self, name, path, tree, text.splitlines(), is_pkg)
        return None


# --------------------------------------------------------------------------------------------
# Modules and their top-level names


@dataclass
class Binding:
    """What a top-level (or class-level) name is bound to."""

    kind: str  # class | func | assign | import | typealias
    node: ast.AST
    defs: list[ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=list)
    value: ast.expr | None = None
    annotation: ast.expr | None = None
    import_module: str = ""
    import_name: str | None = None


def walk_block(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a block, descending into if/try/with (not into defs or classes)."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            yield from walk_block(stmt.body)
            yield from walk_block(stmt.orelse)
        elif isinstance(stmt, ast.Try | ast.TryStar):
            yield from walk_block(stmt.body)
            for handler in stmt.handlers:
                yield from walk_block(handler.body)
            yield from walk_block(stmt.orelse)
            yield from walk_block(stmt.finalbody)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            yield from walk_block(stmt.body)
        else:
            yield stmt


def bind_block(
    body: list[ast.stmt], into: dict[str, Binding], resolve: Callable[[int, str | None], str]
) -> list[str]:
    """Fill `into` from a block; return modules imported with `*`."""
    stars: list[str] = []
    for stmt in walk_block(body):
        if isinstance(stmt, ast.ClassDef):
            into[stmt.name] = Binding("class", stmt)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            old = into.get(stmt.name)
            defs = [*old.defs, stmt] if old and old.kind == "func" else [stmt]
            into[stmt.name] = Binding("func", stmt, defs=defs)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                for name in target_names(target):
                    into[name] = Binding("assign", stmt, value=stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            into[stmt.target.id] = Binding(
                "assign", stmt, value=stmt.value, annotation=stmt.annotation
            )
        elif isinstance(stmt, ast.TypeAlias) and isinstance(stmt.name, ast.Name):
            into[stmt.name.id] = Binding("typealias", stmt, value=stmt.value)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    into[alias.asname] = Binding("import", stmt, import_module=alias.name)
                else:
                    top = alias.name.split(".")[0]
                    into[top] = Binding("import", stmt, import_module=top)
        elif isinstance(stmt, ast.ImportFrom):
            base = resolve(stmt.level, stmt.module)
            for alias in stmt.names:
                if alias.name == "*":
                    stars.append(base)
                    continue
                into[alias.asname or alias.name] = Binding(
                    "import", stmt, import_module=base, import_name=alias.name
                )
    return stars


def target_names(target: ast.expr) -> Iterator[str]:
    """Names bound by an assignment target (tuples unpacked)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for elt in target.elts:
            yield from target_names(elt)


class ModuleInfo:
    """One parsed module: its top-level names and the lines (for comments)."""

    def __init__(
        self,
        tree_src: SourceTree,
        name: str,
        path: str,
        tree: ast.Module,
        lines: list[str],
        is_package: bool,
    ) -> None:
        """Bind the module's top-level names."""
        self.src = tree_src
        self.name = name
        self.path = path
        self.tree = tree
        self.lines = lines
        self.is_package = is_package
        self.names: dict[str, Binding] = {}
        self.stars = bind_block(tree.body, self.names, self.absolute)

    def absolute(self, level: int, module: str | None) -> str:
        """Absolute module name of a (possibly relative) import in this module."""
        return absolute_import(self.name, self.is_package, level, module)

    def has_dynamic_getattr(self) -> bool:
        """Return whether the module has a real `__getattr__` (not the deprecated-constant one)."""
        binding = self.names.get("__getattr__")
        if binding is None:
            return False
        if binding.kind == "assign" and binding.value is not None:
            return "check_if_deprecated_constant" not in ast.unparse(binding.value)
        return True


# --------------------------------------------------------------------------------------------
# Objects a chain can reach


@dataclass(frozen=True)
class ModuleObj:
    """A module."""

    module: ModuleInfo


@dataclass(frozen=True)
class ClassObj:
    """A class defined in Home Assistant's sources."""

    module: ModuleInfo
    node: ast.ClassDef

    @property
    def qualname(self) -> str:
        """Dotted name."""
        return f"{self.module.name}.{self.node.name}"


@dataclass(frozen=True)
class InstanceObj:
    """An instance of a class (of several bases, for `self` in our subclasses)."""

    classes: tuple[ClassObj, ...]
    externals: tuple[ExternalObj, ...] = ()


@dataclass(frozen=True)
class FuncObj:
    """A function or method (all same-named defs, for overloads and property setters)."""

    module: ModuleInfo
    defs: tuple[ast.FunctionDef | ast.AsyncFunctionDef, ...]
    owner: ClassObj | None = None
    bound: bool = False


@dataclass(frozen=True)
class ValueObj:
    """A constant, variable or attribute, typed by its annotation where it has one."""

    module: ModuleInfo
    node: ast.AST
    annotation: ast.expr | None = None
    owner: ClassObj | None = None


@dataclass(frozen=True)
class ExternalObj:
    """Something outside Home Assistant (stdlib or a third-party package)."""

    module: str
    name: str = ""

    @property
    def is_stdlib(self) -> bool:
        """True for the standard library (we may import it to look attributes up)."""
        top = self.module.split(".")[0]
        return top in sys.stdlib_module_names or top == "builtins"

    def runtime(self) -> Any:
        """Import the object itself (stdlib only); None when that fails."""
        if not self.is_stdlib:
            return None
        parts = [*self.module.split("."), *(self.name.split(".") if self.name else [])]
        for cut in range(len(parts), 0, -1):  # longest importable prefix, then attributes
            try:
                obj: Any = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for part in parts[cut:]:
                    obj = getattr(obj, part)
            except AttributeError:
                return None
            return obj
        return None


Obj = ModuleObj | ClassObj | InstanceObj | FuncObj | ValueObj | ExternalObj


@dataclass
class Lookup:
    """Result of looking a name up: the object, and the deprecation found on the way."""

    obj: Obj | None
    deprecated: str = ""
    unknown: str = ""  # why we cannot tell (dynamic attribute, third-party base)


# --------------------------------------------------------------------------------------------
# Name resolution


_MODULE_DUNDERS = {
    "__name__",
    "__file__",
    "__doc__",
    "__spec__",
    "__loader__",
    "__package__",
    "__dict__",
}


def resolve_module_attr(mod: ModuleInfo, name: str, _seen: frozenset[str] = frozenset()) -> Lookup:
    """Look `name` up in a module: definitions, re-exports, submodules, deprecated constants."""
    key = f"{mod.name}:{name}"
    if key in _seen:
        return Lookup(None, unknown="import cycle")
    seen = _seen | {key}
    if name in _MODULE_DUNDERS or (name == "__path__" and mod.is_package):
        return Lookup(ValueObj(mod, mod.tree))
    deprecated_binding = mod.names.get("_DEPRECATED_" + name)
    binding = mod.names.get(name)
    if binding is not None:
        found = binding_obj(mod, binding, seen)
        if deprecated_binding is not None and found.obj is not None:
            found.deprecated = found.deprecated or _deprecated_constant_reason(deprecated_binding)
        return found
    sub = mod.src.module(f"{mod.name}.{name}")
    if sub is not None:
        return Lookup(ModuleObj(sub), deprecated=_module_deprecation(sub))
    if deprecated_binding is not None and deprecated_binding.value is not None:
        reason = _deprecated_constant_reason(deprecated_binding)
        value = deprecated_binding.value
        inner: Obj | None = ValueObj(mod, deprecated_binding.node)
        if isinstance(value, ast.Call) and value.args:
            target = eval_expr(mod, value.args[0], None)
            inner = target or inner
        return Lookup(inner, deprecated=reason)
    for star in mod.stars:
        star_mod = mod.src.module(star)
        if star_mod is not None:
            found = resolve_module_attr(star_mod, name, seen)
            if found.obj is not None:
                return found
    if mod.has_dynamic_getattr():
        return Lookup(None, unknown=f"{mod.name} has a dynamic __getattr__")
    return Lookup(None)


def _deprecated_constant_reason(binding: Binding) -> str:
    value = binding.value
    if isinstance(value, ast.Call):
        func = ast.unparse(value.func).rsplit(".", 1)[-1]
        if func.startswith(("Deprecated", "DeferredDeprecated")):
            args = ", ".join(ast.unparse(a) for a in value.args[1:])
            return f"{func}({args}) at line {getattr(binding.node, 'lineno', 0)}"
    return f"_DEPRECATED_ alias at line {getattr(binding.node, 'lineno', 0)}"


def _module_deprecation(mod: ModuleInfo) -> str:
    doc = ast.get_docstring(mod.tree) or ""
    first = doc.split("\n\n")[0]
    if _mentions_deprecation(first):
        return f"module docstring: {first.strip()[:80]}"
    return ""


def binding_obj(mod: ModuleInfo, binding: Binding, seen: frozenset[str] = frozenset()) -> Lookup:
    """Return the object a module-level binding stands for."""
    if binding.kind == "class":
        assert isinstance(binding.node, ast.ClassDef)
        return Lookup(ClassObj(mod, binding.node))
    if binding.kind == "func":
        return Lookup(FuncObj(mod, tuple(binding.defs)))
    if binding.kind == "import":
        return resolve_import(mod.src, binding.import_module, binding.import_name, seen)
    if binding.kind == "typealias" and binding.value is not None:
        obj = eval_expr(mod, binding.value, None)
        return Lookup(obj or ValueObj(mod, binding.node))
    # assignment: an alias of a class/function (X = Y) resolves to its target
    if binding.value is not None and isinstance(binding.value, ast.Name | ast.Attribute):
        target = eval_expr(mod, binding.value, None)
        if isinstance(target, ClassObj | FuncObj | ModuleObj):
            return Lookup(target)
    return Lookup(ValueObj(mod, binding.node, binding.annotation))


def resolve_import(
    src: SourceTree, module: str, name: str | None, seen: frozenset[str] = frozenset()
) -> Lookup:
    """Resolve `import module` (name None) or `from module import name`."""
    if module != ROOT_PACKAGE and not module.startswith(ROOT_PACKAGE + "."):
        return Lookup(ExternalObj(module, name or ""))
    mod = src.module(module)
    if mod is None:
        return Lookup(None)
    if name is None:
        return Lookup(ModuleObj(mod))
    return resolve_module_attr(mod, name, seen)


def eval_expr(mod: ModuleInfo, expr: ast.expr, owner: ClassObj | None) -> Obj | None:
    """Evaluate a name-like expression (Name, Attribute, Subscript) in a module."""
    if isinstance(expr, ast.Name):
        binding = mod.names.get(expr.id)
        if binding is None:
            if hasattr(builtins, expr.id):
                return ExternalObj("builtins", expr.id)
            return None
        return binding_obj(mod, binding).obj
    if isinstance(expr, ast.Attribute):
        base = eval_expr(mod, expr.value, owner)
        if isinstance(base, ModuleObj):
            return resolve_module_attr(base.module, expr.attr).obj
        if isinstance(base, ClassObj):
            return class_attr(base, expr.attr, instance=False).obj
        if isinstance(base, ExternalObj):
            return ExternalObj(base.module, f"{base.name}.{expr.attr}".strip("."))
        return None
    if isinstance(expr, ast.Subscript):
        return eval_expr(mod, expr.value, owner)
    return None


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def union_members(node: ast.expr) -> list[ast.expr]:
    """Split a union: `A | B | None` -> [A, B, None]."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return [*union_members(node.left), *union_members(node.right)]
    return [node]


def eval_type(mod: ModuleInfo, annotation: ast.expr | None, owner: ClassObj | None) -> Obj | None:
    """Return the instance an annotation describes (best effort; None if not a plain class)."""
    if annotation is None:
        return None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        members = [m for m in union_members(annotation) if not _is_none(m)]
        return eval_type(mod, members[0], owner) if len(members) == 1 else None
    if isinstance(annotation, ast.Subscript):
        head = ast.unparse(annotation.value).rsplit(".", 1)[-1]
        if head in {"Optional", "Final", "ClassVar", "Annotated"}:
            inner = annotation.slice
            if isinstance(inner, ast.Tuple):
                inner = inner.elts[0]
            return eval_type(mod, inner, owner)
        return eval_type(mod, annotation.value, owner)
    if isinstance(annotation, ast.Name) and annotation.id == "Self" and owner is not None:
        return InstanceObj((owner,))
    target = eval_expr(mod, annotation, owner)
    if isinstance(target, ClassObj):
        return InstanceObj((target,))
    if isinstance(target, ExternalObj):
        return ExternalObj(target.module, target.name)
    return None


# --------------------------------------------------------------------------------------------
# Classes


def class_bases(cls: ClassObj) -> tuple[list[ClassObj], list[ExternalObj]]:
    """Home Assistant bases and external bases of a class, in order."""
    ours: list[ClassObj] = []
    external: list[ExternalObj] = []
    for base in cls.node.bases:
        obj = eval_expr(cls.module, base, None)
        if isinstance(obj, ClassObj):
            ours.append(obj)
        elif isinstance(obj, ExternalObj) and obj.name not in {"Generic", "Protocol", "object"}:
            if obj.name == "TypedDict":
                obj = ExternalObj("builtins", "dict")
            elif obj.name == "NamedTuple":
                obj = ExternalObj("builtins", "tuple")
            external.append(obj)
    return ours, external


def mro(classes: tuple[ClassObj, ...]) -> tuple[list[ClassObj], list[ExternalObj]]:
    """C3 linearisation of Home Assistant classes (external bases collected apart)."""
    externals: list[ExternalObj] = []
    cache: dict[str, list[ClassObj]] = {}

    def linearize(cls: ClassObj, depth: int = 0) -> list[ClassObj]:
        if cls.qualname in cache:
            return cache[cls.qualname]
        if depth > 50:
            return [cls]
        bases, ext = class_bases(cls)
        for item in ext:
            if item not in externals:
                externals.append(item)
        seqs = [linearize(b, depth + 1) for b in bases] + [list(bases)]
        result = [cls, *_merge(seqs)]
        cache[cls.qualname] = result
        return result

    seqs = [linearize(c) for c in classes]  # our flattened bases are no order constraint
    return _merge(seqs), externals


def _merge(seqs: list[list[ClassObj]]) -> list[ClassObj]:
    result: list[ClassObj] = []
    seqs = [list(s) for s in seqs if s]
    while seqs:
        for seq in seqs:
            head = seq[0]
            if not any(head in s[1:] for s in seqs):
                break
        else:  # inconsistent hierarchy: fall back to depth-first order
            head = seqs[0][0]
        result.append(head)
        seqs = [[c for c in s if c != head] for s in seqs]
        seqs = [s for s in seqs if s]
    return result


@dataclass
class Member:
    """A class member: where it is defined and what it is."""

    owner: ClassObj
    name: str
    defs: list[ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=list)
    node: ast.AST | None = None
    annotation: ast.expr | None = None
    nested: ast.ClassDef | None = None
    value: ast.expr | None = None
    func: ast.FunctionDef | ast.AsyncFunctionDef | None = None


def class_members(cls: ClassObj) -> dict[str, Member]:
    """Members declared in a class body, plus `self.x` assignments in its methods."""
    members: dict[str, Member] = {}
    for stmt in walk_block(cls.node.body):
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            member = members.get(stmt.name)
            if member is None or not member.defs:
                member = members[stmt.name] = Member(cls, stmt.name)
            member.defs.append(stmt)
            member.node = member.node or stmt
        elif isinstance(stmt, ast.ClassDef):
            members[stmt.name] = Member(cls, stmt.name, node=stmt, nested=stmt)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            members[stmt.target.id] = Member(
                cls, stmt.target.id, node=stmt, annotation=stmt.annotation
            )
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                for name in target_names(target):
                    if name not in members:
                        members[name] = Member(cls, name, node=stmt)
    for stmt in cls.node.body:
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(stmt):
            targets: list[tuple[ast.expr, ast.expr | None]] = []
            if isinstance(node, ast.Assign):
                targets = [(t, None) for t in node.targets]
            elif isinstance(node, ast.AnnAssign):
                targets = [(node.target, node.annotation)]
            elif isinstance(node, ast.AugAssign):
                targets = [(node.target, None)]
            for target, annotation in targets:
                elts = target.elts if isinstance(target, ast.Tuple) else [target]
                for elt in elts:
                    if (
                        isinstance(elt, ast.Attribute)
                        and isinstance(elt.value, ast.Name)
                        and elt.value.id == "self"
                    ):
                        old = members.get(elt.attr)
                        value = getattr(node, "value", None) if elt is target else None
                        if old is None:
                            members[elt.attr] = Member(
                                cls,
                                elt.attr,
                                node=node,
                                annotation=annotation,
                                value=value,
                                func=stmt,
                            )
                        elif old.annotation is None and annotation is not None and not old.defs:
                            old.annotation = annotation
    return members


_MEMBER_CACHE: dict[tuple[int, str], dict[str, Member]] = {}


def _members(cls: ClassObj) -> dict[str, Member]:
    key = (id(cls.module), cls.qualname)
    if key not in _MEMBER_CACHE:
        _MEMBER_CACHE[key] = class_members(cls)
    return _MEMBER_CACHE[key]


def is_enum(externals: list[ExternalObj]) -> bool:
    """Return whether a class hierarchy has an `enum` base (body assignments are members)."""
    return any(e.module == "enum" for e in externals)


def class_attr(
    target: ClassObj | InstanceObj, name: str, *, instance: bool, store: bool = False
) -> Lookup:
    """Look an attribute up through the class hierarchy (instance attributes included)."""
    roots = target.classes if isinstance(target, InstanceObj) else (target,)
    order, externals = mro(roots)
    if isinstance(target, InstanceObj):
        externals = [*externals, *(e for e in target.externals if e not in externals)]
    for cls in order:
        member = _members(cls).get(name)
        if member is None:
            continue
        deprecated = _enum_member_deprecation(cls, name)
        if member.nested is not None:
            return Lookup(ClassObj(cls.module, member.nested), deprecated=deprecated)
        if member.defs:
            func = FuncObj(cls.module, tuple(member.defs), owner=cls, bound=instance)
            prop = _property_def(member.defs, setter=store)
            if prop is not None:
                deprecated = deprecated or function_deprecation(func, prop, None)
                return Lookup(
                    eval_type(cls.module, prop.returns, cls)
                    or ValueObj(cls.module, prop, prop.returns, cls),
                    deprecated=deprecated,
                )
            return Lookup(func, deprecated=deprecated)
        assert member.node is not None
        deprecated = deprecated or _comment_deprecation(cls.module, member.node)
        if member.annotation is None and is_enum(externals) and member.node in cls.node.body:
            return Lookup(InstanceObj((cls,)), deprecated=deprecated)
        typed = eval_type(cls.module, member.annotation, cls) or _inferred_type(member)
        return Lookup(
            typed or ValueObj(cls.module, member.node, member.annotation, cls),
            deprecated=deprecated,
        )
    if name.startswith("__") and name.endswith("__"):
        if _runtime_has(object, name) or _runtime_has(type, name):
            return Lookup(ExternalObj("builtins", f"object.{name}"))
        return Lookup(None, unknown=f"special attribute {name}")
    if any(_is_abstract(c) for c in order) or any(e.name in {"ABC", "Protocol"} for e in externals):
        return Lookup(None, unknown="abstract type: the object may be a subclass with it")
    for ext in [*externals, ExternalObj("builtins", "object")]:
        runtime = ext.runtime()
        if runtime is None:
            if not ext.is_stdlib:
                return Lookup(None, unknown=f"may come from external base {ext.module}.{ext.name}")
            continue
        if _runtime_has(runtime, name):
            return Lookup(ExternalObj(ext.module, f"{ext.name}.{name}"))
    real = [e for e in externals if e.name not in {"object", "Enum", "StrEnum", "IntEnum"}]
    if real:  # instance attributes of a stdlib base are invisible on its class
        return Lookup(
            None, unknown=f"may be an instance attribute of {real[0].module}.{real[0].name}"
        )
    return Lookup(None)


def _is_abstract(cls: ClassObj) -> bool:
    """ABC base, ABCMeta metaclass or an @abstractmethod."""
    if any(ast.unparse(b).split(".")[-1] in {"ABC", "Protocol"} for b in cls.node.bases):
        return True
    if any(k.arg == "metaclass" and "ABCMeta" in ast.unparse(k.value) for k in cls.node.keywords):
        return True
    return any(
        isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(ast.unparse(d).split(".")[-1] == "abstractmethod" for d in stmt.decorator_list)
        for stmt in cls.node.body
    )


def _runtime_has(obj: Any, name: str) -> bool:
    """hasattr, also for class attributes that raise on the class (Enum.value, .name)."""
    if hasattr(obj, name):
        return True
    return any(name in getattr(klass, "__dict__", {}) for klass in getattr(obj, "__mro__", ()))


def _inferred_type(member: Member) -> Obj | None:
    """Type of an unannotated `self.x = value`: a parameter's annotation or a constructor call."""
    value = member.value
    if value is None:
        return None
    if isinstance(value, ast.Name) and member.func is not None:
        args = member.func.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            if arg.arg == value.id:
                return eval_type(member.owner.module, arg.annotation, member.owner)
        return None
    if isinstance(value, ast.Call):
        target = eval_expr(member.owner.module, value.func, member.owner)
        if target is None and isinstance(value.func, ast.Name) and member.func is not None:
            target = _function_local_import(member.owner.module, member.func, value.func.id)
        if isinstance(target, ClassObj):
            return InstanceObj((target,))
    return None


def _function_local_import(
    mod: ModuleInfo, func: ast.FunctionDef | ast.AsyncFunctionDef, name: str
) -> Obj | None:
    """`from .x import Name` inside a function (HA does that against import cycles)."""
    for node in ast.walk(func):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    target = mod.absolute(node.level, node.module)
                    return resolve_import(mod.src, target, alias.name).obj
    return None


def _property_def(
    defs: list[ast.FunctionDef | ast.AsyncFunctionDef], *, setter: bool
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in defs:
        names = [ast.unparse(d) for d in node.decorator_list]
        if setter and any(n.endswith(".setter") for n in names):
            return node
        if not setter and any(
            n.split(".")[-1] in {"property", "cached_property", "under_cached_property"}
            for n in names
        ):
            return node
    if setter and any(_property_def(defs, setter=False) is d for d in defs):
        return _property_def(defs, setter=False)
    return None


def _enum_member_deprecation(cls: ClassObj, name: str) -> str:
    for keyword in cls.node.keywords:
        if keyword.arg == "deprecated" and isinstance(keyword.value, ast.Dict):
            for key in keyword.value.keys:
                if isinstance(key, ast.Constant) and key.value == name:
                    return f"{cls.node.name}.{name} listed in EnumWithDeprecatedMembers deprecated="
    return ""


_FIELD_CLASS_DECORATORS = {"dataclass", "s", "attrs", "define", "frozen", "mutable"}
_HARMLESS_CLASS_DECORATORS = {"final", "total_ordering", "unique", "runtime_checkable"}


def _decorator_names(cls: ClassObj) -> list[str]:
    return [
        ast.unparse(d.func if isinstance(d, ast.Call) else d).split(".")[-1]
        for d in cls.node.decorator_list
    ]


def is_dataclass_like(cls: ClassObj) -> bool:
    """`@dataclass`, `@attr.s`, HA's `FrozenOrThawed` metaclass, a NamedTuple or a TypedDict."""
    if any(name in _FIELD_CLASS_DECORATORS for name in _decorator_names(cls)):
        return True
    for keyword in cls.node.keywords:
        if keyword.arg == "frozen_or_thawed" or (
            keyword.arg == "metaclass" and "FrozenOrThawed" in ast.unparse(keyword.value)
        ):
            return True
    return any(ast.unparse(b).split(".")[-1] in {"NamedTuple", "TypedDict"} for b in cls.node.bases)


def hierarchy_is_dataclass_like(cls: ClassObj) -> bool:
    """Return whether the class or one of its Home Assistant bases is dataclass-like."""
    return any(is_dataclass_like(c) for c in mro((cls,))[0])


@dataclass
class Signature:
    """Parameters of a callable as far as a call check needs them."""

    positional: list[str]
    keyword_only: list[str]
    required: set[str]
    varargs: bool
    varkw: bool
    node: ast.AST | None = None


def function_signature(
    node: ast.FunctionDef | ast.AsyncFunctionDef, *, drop_first: bool
) -> Signature:
    """Signature of a def; `drop_first` for a bound method (self/cls)."""
    args = node.args
    positional = [a.arg for a in [*args.posonlyargs, *args.args]]
    defaults = len(args.defaults)
    required = set(positional[: len(positional) - defaults] if defaults else positional)
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if default is None:
            required.add(arg.arg)
    if drop_first and positional:
        required.discard(positional[0])
        positional = positional[1:]
    return Signature(
        positional,
        [a.arg for a in args.kwonlyargs],
        required,
        args.vararg is not None,
        args.kwarg is not None,
        node,
    )


def constructor_signature(cls: ClassObj | tuple[ClassObj, ...]) -> Signature | None:
    """Return what calling the class accepts: its `__init__`, or its (dataclass-like) fields.

    A tuple stands for a class of ours with those Home Assistant bases (in MRO order).
    """
    roots = cls if isinstance(cls, tuple) else (cls,)
    order, externals = mro(roots)
    node = roots[0].node
    for current in order:
        names = _decorator_names(current)
        if any(n not in _FIELD_CLASS_DECORATORS | _HARMLESS_CLASS_DECORATORS for n in names):
            return None  # a decorator we do not know may make its own __init__
    if any(is_dataclass_like(c) for c in order):
        for current in order:
            if is_dataclass_like(current):
                break
            init = _members(current).get("__init__")
            if init is not None and init.defs:
                return _init_signature(init.defs)
        fields: list[str] = []
        required: set[str] = set()
        for klass in reversed(order):
            total = not any(
                k.arg == "total" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in klass.node.keywords
            )
            for stmt in klass.node.body:
                if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                    continue
                text = ast.unparse(stmt.annotation)
                if "ClassVar" in text or "KW_ONLY" in text:
                    continue
                name = stmt.target.id
                if name not in fields:
                    fields.append(name)
                head = text.split("[", 1)[0].rsplit(".", 1)[-1]
                no_default = stmt.value is None or _field_without_default(stmt.value)
                is_required = (no_default and total and head != "NotRequired") or (
                    head == "Required"
                )
                if is_required:
                    required.add(name)
                else:
                    required.discard(name)
        return Signature(fields, [], required, False, False, node)
    for current in order:
        init = _members(current).get("__init__")
        if init is not None and init.defs:
            return _init_signature(init.defs)
    if externals:
        return None
    return Signature([], [], set(), False, False, None)


def _field_without_default(value: ast.expr) -> bool:
    """`field()` / `attr.ib()` without a default."""
    if not isinstance(value, ast.Call):
        return False
    if ast.unparse(value.func).split(".")[-1] not in {"field", "ib", "attrib"}:
        return False
    return not any(
        k.arg in {"default", "default_factory", "factory"} or k.arg is None for k in value.keywords
    )


def _init_signature(defs: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> Signature:
    real = [d for d in defs if not _is_overload(d)] or defs
    return function_signature(real[-1], drop_first=True)


def _is_overload(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(ast.unparse(d).split(".")[-1] == "overload" for d in node.decorator_list)


_TRANSPARENT_DECORATORS = {
    "callback",
    "staticmethod",
    "classmethod",
    "property",
    "cached_property",
    "under_cached_property",
    "override",
    "final",
    "abstractmethod",
    "overload",
    "bind_hass",
    "cache",
    "lru_cache",
    "wraps",
    "deprecated_function",
    "deprecated_class",
    "deprecated_substitute",
    "deprecated_hass_argument",
    "deprecated",
}


def callable_signatures(func: FuncObj) -> list[Signature]:
    """Signatures of a function object (one per overload)."""
    defs = [d for d in func.defs if not _is_overload(d)] or list(func.defs)
    defs = [
        d for d in defs if not any(ast.unparse(x).endswith(".setter") for x in d.decorator_list)
    ]
    result = []
    for node in defs or func.defs:
        decorators = {
            ast.unparse(d.func if isinstance(d, ast.Call) else d).split(".")[-1]
            for d in node.decorator_list
        }
        if decorators - _TRANSPARENT_DECORATORS:
            continue  # a decorator we do not know may change the signature
        drop = False
        if func.owner is not None and "staticmethod" not in decorators:
            drop = func.bound or "classmethod" in decorators
        result.append(function_signature(node, drop_first=drop))
    return result


# --------------------------------------------------------------------------------------------
# Deprecation


_REPORT_FUNCS = {
    "report_usage",
    "report",
    "_report_deprecated",
    "_print_deprecation_warning",
}
_DEPRECATION_DECORATORS = {
    "deprecated_class",
    "deprecated_function",
    "deprecated_substitute",
    "deprecated",
    "deprecated_hass_argument",
}


# Says that the thing itself is deprecated ("Log key as deprecated" does not).
_DEPRECATION_RE = re.compile(
    r"\b(is|are|now|been) deprecated\b|\bdeprecated[,:;.]|"
    r"\bdeprecated (since|in|as of|and will)\b|\bdeprecation\b|\bwill be removed in\b|"
    r"\bscheduled for removal\b|\bwill stop working in\b",
    re.IGNORECASE,
)


def _mentions_deprecation(text: str) -> bool:
    return _DEPRECATION_RE.search(text) is not None


def _report_call_text(call: ast.Call) -> str:
    parts = [
        node.value
        for node in ast.walk(call)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    return " ".join(" ".join(parts).split())


def _is_report_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = ast.unparse(node.func).split(".")[-1]
    if name in _REPORT_FUNCS:
        return True
    if name == "warn":
        text = ast.unparse(node)
        return "DeprecationWarning" in text
    return False


def _param_state(sig_node: ast.FunctionDef | ast.AsyncFunctionDef, call: Any) -> dict[str, bool]:
    """Which parameters our call passes (True) or leaves at their default (False)."""
    args = sig_node.args
    positional = [a.arg for a in [*args.posonlyargs, *args.args]]
    passed: dict[str, bool] = dict.fromkeys(positional + [a.arg for a in args.kwonlyargs], False)
    if positional and positional[0] in {"self", "cls"}:
        positional = positional[1:]
        passed.pop("self", None)
        passed.pop("cls", None)
    if call is None:
        return passed
    for name in positional[: call.positional]:
        passed[name] = True
    for name in call.keywords:
        passed[name] = True
    return passed


def _condition_triggered(test: ast.expr, passed: dict[str, bool]) -> bool | None:
    """Whether our call takes the branch guarded by `test`.

    Only tests on whether an argument was given count: `p`, `not p`, `p is None`,
    `p is not UNDEFINED` (and `and`/`or` of them). Anything else (the content of an argument,
    `entry.state`, runtime state) gives None: it cannot be judged statically.
    """
    if isinstance(test, ast.BoolOp):
        results = [_condition_triggered(v, passed) for v in test.values]
        if isinstance(test.op, ast.And):
            if any(r is False for r in results):
                return False
            return True if all(r is True for r in results) else None
        if any(r is True for r in results):
            return True
        return False if all(r is False for r in results) else None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _condition_triggered(test.operand, passed)
        return None if inner is None else not inner
    if isinstance(test, ast.Name):
        return passed.get(test.id)
    if (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id in passed
        and len(test.ops) == 1
    ):
        right = ast.unparse(test.comparators[0])
        default_like = right in {"None", "UNDEFINED", "_SENTINEL", "SENTINEL"} or (
            right.isupper() and right.isidentifier()
        )
        if not default_like:
            return None
        given = passed[test.left.id]
        if isinstance(test.ops[0], ast.Is | ast.Eq):
            return not given
        if isinstance(test.ops[0], ast.IsNot | ast.NotEq):
            return given
    return None


def _report_calls(
    body: list[ast.stmt], guards: tuple[ast.expr, ...] = ()
) -> Iterator[tuple[ast.Call, tuple[ast.expr, ...]]]:
    """Yield the deprecation report calls in a function body, with the if-tests guarding them."""
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(stmt, ast.If):
            yield from _report_calls(stmt.body, (*guards, stmt.test))
            yield from _report_calls(stmt.orelse, (*guards, ast.UnaryOp(ast.Not(), stmt.test)))
            continue
        blocks: list[list[ast.stmt]] = []
        if isinstance(stmt, ast.Try | ast.TryStar):
            blocks = [stmt.body, stmt.orelse, stmt.finalbody]
            for handler in stmt.handlers:  # an exception path: runtime state, not our call
                yield from _report_calls(handler.body, (*guards, ast.Name("<except>")))
        elif isinstance(stmt, ast.With | ast.AsyncWith | ast.For | ast.AsyncFor | ast.While):
            blocks = (
                [stmt.body, stmt.orelse]
                if not isinstance(stmt, ast.With | ast.AsyncWith)
                else [stmt.body]
            )
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                yield from _report_calls(case.body, (*guards, ast.Name("<match>")))
            continue
        if blocks:
            loop = isinstance(stmt, ast.For | ast.AsyncFor | ast.While)
            extra = (ast.Name("<loop>"),) if loop else ()
            for block in blocks:
                yield from _report_calls(block, guards + extra)
            continue
        for node in ast.walk(stmt):
            if _is_report_call(node):
                assert isinstance(node, ast.Call)
                yield node, guards


def function_deprecation(
    func: FuncObj, node: ast.FunctionDef | ast.AsyncFunctionDef | None, call: Any
) -> str:
    """Why calling (or reading) this function is deprecated for our call; '' if it is not."""
    defs = (
        [node]
        if node is not None
        else [d for d in func.defs if not _is_overload(d)] or list(func.defs)
    )
    for fdef in defs:
        for deco in fdef.decorator_list:
            name = ast.unparse(deco.func if isinstance(deco, ast.Call) else deco).split(".")[-1]
            if name == "deprecated_hass_argument":
                # only passing hass (first, or as keyword) is deprecated
                if call is not None and (call.passes_hass_first or "hass" in call.keywords):
                    return f"@{ast.unparse(deco)[:70]}: hass is no longer passed"
                continue
            if name in _DEPRECATION_DECORATORS:
                return f"@{ast.unparse(deco)[:70]} at line {fdef.lineno}"
        doc = ast.get_docstring(fdef) or ""
        if _mentions_deprecation(doc.split("\n\n")[0]):
            return f"docstring: {' '.join(doc.split())[:80]}"
        comment = _preceding_comment(func.module, fdef)
        if comment and _mentions_deprecation(comment):
            return f"comment: {comment[:80]}"
        passed = _param_state(fdef, call)
        for report, guards in _report_calls(fdef.body):
            if call is None and guards:
                continue  # no call to judge the guard by: only unconditional reports count
            text = _report_call_text(report)
            triggered: bool | None = True
            for guard in guards:
                state = _condition_triggered(guard, passed)
                if state is False:
                    triggered = False
                    break
                if state is None:
                    triggered = None
            if triggered is True:
                return f"{ast.unparse(report.func)}() at line {report.lineno}: {text[:90]}"
    return ""


def _preceding_comment(mod: ModuleInfo, node: ast.AST) -> str:
    """Comment lines right above a definition (above its decorators), and a trailing one."""
    start = getattr(node, "lineno", 0)
    decorators = getattr(node, "decorator_list", [])
    if decorators:
        start = min(start, *(d.lineno for d in decorators))
    lines: list[str] = []
    index = start - 2
    while index >= 0 and mod.lines[index].strip().startswith("#"):
        lines.insert(0, mod.lines[index].strip().lstrip("#").strip())
        index -= 1
    if 0 < start <= len(mod.lines) and "#" in mod.lines[start - 1]:
        tail = mod.lines[start - 1].split("#", 1)[1].strip()
        if not tail.startswith(("type:", "noqa", "pylint")):
            lines.append(tail)
    return " ".join(lines)


def _comment_deprecation(mod: ModuleInfo, node: ast.AST) -> str:
    comment = _preceding_comment(mod, node)
    if comment and _mentions_deprecation(comment):
        return f"comment: {comment[:80]}"
    return ""


def class_deprecation(cls: ClassObj, call: Any = None) -> str:
    """Why using (subclassing, instantiating) a class is deprecated; '' if it is not."""
    for deco in cls.node.decorator_list:
        name = ast.unparse(deco.func if isinstance(deco, ast.Call) else deco).split(".")[-1]
        if name in _DEPRECATION_DECORATORS:
            return f"@{ast.unparse(deco)[:70]} at line {cls.node.lineno}"
    doc = ast.get_docstring(cls.node) or ""
    if _mentions_deprecation(doc.split("\n\n")[0]):
        return f"docstring: {' '.join(doc.split())[:80]}"
    comment = _comment_deprecation(cls.module, cls.node)
    if comment:
        return comment
    members = _members(cls)
    for special, this_call in (("__init__", call), ("__init_subclass__", None)):
        member = members.get(special)
        if member is not None and member.defs:
            func = FuncObj(cls.module, tuple(member.defs), owner=cls, bound=True)
            reason = function_deprecation(func, None, this_call)
            if reason:
                return f"{special}: {reason}"
    return ""
