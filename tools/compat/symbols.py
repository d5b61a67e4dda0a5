"""Collect what our integration uses from `homeassistant`, by static analysis of its sources.

Every reach into Home Assistant becomes a `Usage`: a chain that starts at a `homeassistant.*`
module (or at the Home Assistant base classes of one of our classes, for `self.x` and
`super().x`) followed by attribute reads, stores and calls. Local variables and parameters
are followed through their type annotations and simple assignments (best effort), so
`hass.config_entries.async_reload(...)` with `hass: HomeAssistant` resolves to
`HomeAssistant.config_entries.async_reload` when the checker walks Home Assistant's sources.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .hasource import (
    ROOT_PACKAGE,
    Binding,
    absolute_import,
    bind_block,
    target_names,
    union_members,
    walk_block,
)
from .model import CallInfo, Chain, Step, Usage

HA_FREE_SUBPACKAGE = "engine"


@dataclass(frozen=True)
class LocalClass:
    """A class defined in our integration."""

    module: OurModule
    node: ast.ClassDef

    @property
    def name(self) -> str:
        """Class name."""
        return self.node.name


@dataclass(frozen=True)
class LocalInstance:
    """An instance of one of our classes (`super_of`: `super()` inside that class)."""

    cls: LocalClass
    super_of: bool = False
    is_class: bool = False


@dataclass(frozen=True)
class LocalMethod:
    """A method of one of our classes, bound to an instance."""

    cls: LocalClass
    node: ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class LocalModule:
    """One of our modules."""

    module: OurModule


@dataclass(frozen=True, eq=False)
class GenericChain:
    """A generic Home Assistant class with our type arguments, e.g. `ConfigEntry[OurData]`."""

    chain: Chain
    args: tuple[ast.expr, ...]
    module: OurModule


Value = Chain | GenericChain | LocalInstance | LocalMethod | LocalModule | LocalClass | None

# Attributes of generic HA classes typed by a type parameter: (class, attribute) -> index.
# Following them to our own class lets `entry.runtime_data.x` and `self.coordinator.x` resolve.
GENERIC_ATTRS: dict[str, dict[str, int]] = {
    "ConfigEntry": {"runtime_data": 0},
    "CoordinatorEntity": {"coordinator": 0},
    "DataUpdateCoordinator": {"data": 0},
}


# Attributes Home Assistant's base classes declare (with a type) that integrations assign.
HA_DECLARED_ATTRS = {"entity_description", "hass", "platform", "registry_entry", "config_entry"}


def _generic_name(chain: Chain) -> str:
    steps = [s for s in chain.steps if s.kind != "instance"]
    return steps[-1].name if steps and steps[-1].kind == "attr" else ""


@dataclass(eq=False)
class OurModule:
    """A parsed module of our integration."""

    key: str  # dotted, relative to the package; "" for the package's __init__
    path: Path
    tree: ast.Module
    is_package: bool
    dotted: str
    names: dict[str, Binding] = field(default_factory=dict)

    def absolute(self, level: int, module: str | None) -> str:
        """Absolute module name of a relative import."""
        return absolute_import(self.dotted, self.is_package, level, module)


def _is_ha(module: str) -> bool:
    return module == ROOT_PACKAGE or module.startswith(ROOT_PACKAGE + ".")


def call_info(call: ast.Call, *, drop_keywords: frozenset[str] = frozenset()) -> CallInfo:
    """How a call passes its arguments."""
    star_args = any(isinstance(a, ast.Starred) for a in call.args)
    positional = sum(1 for a in call.args if not isinstance(a, ast.Starred))
    keywords = tuple(
        k.arg for k in call.keywords if k.arg is not None and k.arg not in drop_keywords
    )
    star_kwargs = any(k.arg is None for k in call.keywords)
    first = call.args[0] if call.args else None
    hass_first = first is not None and (
        (isinstance(first, ast.Name) and first.id == "hass")
        or (isinstance(first, ast.Attribute) and first.attr == "hass")
    )
    return CallInfo(positional, keywords, star_args, star_kwargs, passes_hass_first=hass_first)


class Collector:
    """Walk our package and record every usage of Home Assistant."""

    def __init__(self, package_dir: Path, repo_root: Path | None = None) -> None:
        """Prepare to walk `package_dir`; paths are reported relative to `repo_root`."""
        self.package_dir = package_dir.resolve()
        self.repo_root = (repo_root or self.package_dir.parents[1]).resolve()
        rel = self.package_dir.relative_to(self.repo_root)
        self.dotted = ".".join(rel.parts)
        self.modules: dict[str, OurModule] = {}
        self.usages: list[Usage] = []
        self.errors: list[str] = []
        self._evaluating: set[int] = set()
        self._pending: list[Chain] = []
        self._quiet = 0
        self._module: OurModule | None = None
        self._guarded: frozenset[str] = frozenset()

    # ---------------------------------------------------------------------------- loading

    def run(self) -> list[Usage]:
        """Parse every module, check the HA-free engine, collect usages."""
        for path in sorted(self.package_dir.rglob("*.py")):
            rel = path.relative_to(self.package_dir)
            if rel.parts[0] == HA_FREE_SUBPACKAGE:
                self._check_ha_free(path)
                continue
            parts = list(rel.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            key = ".".join(parts)
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except SyntaxError as err:
                self.errors.append(f"{self._rel(path)}:{err.lineno}: syntax error: {err.msg}")
                continue
            dotted = ".".join([self.dotted, *parts]) if parts else self.dotted
            module = OurModule(key, path, tree, is_package, dotted)
            bind_block(tree.body, module.names, module.absolute)
            self.modules[key] = module
        for module in self.modules.values():
            self._walk_module(module)
        return self.usages

    def _rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.repo_root))
        except ValueError:
            return str(path)

    def _check_ha_free(self, path: Path) -> None:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError as err:
            self.errors.append(f"{self._rel(path)}:{err.lineno}: syntax error: {err.msg}")
            return
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) in {"importlib.import_module", "__import__"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names = [str(node.args[0].value)]
            for name in names:
                if _is_ha(name):
                    self.errors.append(
                        f"{self._rel(path)}:{getattr(node, 'lineno', 0)}: engine imports {name} "
                        "(the engine must not import Home Assistant)"
                    )

    # ---------------------------------------------------------------------------- names

    def _local_module(self, dotted: str) -> OurModule | None:
        if dotted == self.dotted:
            return self.modules.get("")
        if dotted.startswith(self.dotted + "."):
            return self.modules.get(dotted[len(self.dotted) + 1 :])
        return None

    def module_name(self, module: OurModule, name: str, depth: int = 0) -> Value:
        """Evaluate a module-level name of one of our modules."""
        binding = module.names.get(name)
        if binding is None or depth > 20:
            return None
        if binding.kind == "import":
            target = binding.import_module
            if _is_ha(target):
                chain = Chain(module=target)
                if binding.import_name is not None:
                    chain = chain.extend(Step("attr", binding.import_name))
                return chain
            if binding.import_name is None:
                local = self._local_module(target)
                return LocalModule(local) if local else None
            local = self._local_module(target)
            if local is not None and binding.import_name in local.names:
                return self.module_name(local, binding.import_name, depth + 1)
            sub = self._local_module(f"{target}.{binding.import_name}")
            return LocalModule(sub) if sub else None
        if binding.kind == "class":
            assert isinstance(binding.node, ast.ClassDef)
            return LocalClass(module, binding.node)
        if binding.kind in {"typealias", "assign"}:
            if binding.kind == "assign" and binding.annotation is not None:
                return self.type_of(module, binding.annotation, {})
            if binding.value is not None and id(binding.value) not in self._evaluating:
                self._evaluating.add(id(binding.value))
                self._quiet += 1
                try:
                    if binding.kind == "typealias" or isinstance(binding.value, ast.Subscript):
                        return self._type_value(module, binding.value, {})
                    return self.evaluate(module, binding.value, {})
                finally:
                    self._quiet -= 1
                    self._evaluating.discard(id(binding.value))
        return None

    def _type_value(self, module: OurModule, expr: ast.expr, env: dict[str, Value]) -> Value:
        """Return a type alias's value: the class it names (type args kept for GENERIC_ATTRS)."""
        if isinstance(expr, ast.Subscript):
            base = self._type_value(module, expr.value, env)
            if isinstance(base, Chain) and _generic_name(base) in GENERIC_ATTRS:
                args = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
                return GenericChain(base, tuple(args), module)
            return base
        return self.evaluate(module, expr, env)

    def type_of(
        self, module: OurModule, annotation: ast.expr | None, env: dict[str, Value]
    ) -> Value:
        """Return the value an annotation describes: an instance of an HA or local class."""
        if annotation is None:
            return None
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
            members = [
                m
                for m in union_members(annotation)
                if not (isinstance(m, ast.Constant) and m.value is None)
            ]
            return self.type_of(module, members[0], env) if len(members) == 1 else None
        if isinstance(annotation, ast.Subscript):
            head = ast.unparse(annotation.value).rsplit(".", 1)[-1]
            if head in {"Optional", "Final", "ClassVar", "Annotated"}:
                inner = annotation.slice
                if isinstance(inner, ast.Tuple):
                    inner = inner.elts[0]
                return self.type_of(module, inner, env)
        target = self._type_value(module, annotation, env)
        if isinstance(target, GenericChain):
            if target.chain.steps and target.chain.steps[-1].kind == "instance":
                return target
            return GenericChain(target.chain.extend(Step("instance")), target.args, target.module)
        if isinstance(target, Chain):
            if target.steps and target.steps[-1].kind == "instance":
                return target
            return target.extend(Step("instance"))
        if isinstance(target, LocalClass):
            return LocalInstance(target)
        return None

    # ---------------------------------------------------------------------------- classes

    def local_bases(self, cls: LocalClass) -> tuple[list[LocalClass], list[Chain]]:
        """Our bases and Home Assistant bases of one of our classes."""
        ours: list[LocalClass] = []
        theirs: list[Chain] = []
        for base in cls.node.bases:
            value = self._type_value(cls.module, base, {})
            if isinstance(value, LocalClass):
                ours.append(value)
            elif isinstance(value, GenericChain):
                theirs.append(value.chain)
            elif isinstance(value, Chain):
                theirs.append(value)
        return ours, theirs

    def is_open(self, cls: LocalClass) -> bool:
        """Return whether a class in our hierarchy has a base outside HA and us (a library mixin).

        An attribute we do not find may then come from there, so we do not guess.
        """
        for current in self.local_mro(cls):
            for base in current.node.bases:
                head = base.value if isinstance(base, ast.Subscript) else base
                if ast.unparse(head).rsplit(".", 1)[-1] in _NEUTRAL_BASES:
                    continue
                if self._type_value(current.module, base, {}) is None:
                    return True
        return False

    def defined_below(self, cls: LocalClass, name: str) -> bool:
        """Return whether one of our subclasses of `cls` defines `name` (an abstract-ish mixin)."""
        return any(
            c != cls and cls in self.local_mro(c) and _local_member(c.node, name) is not None
            for c in self.local_classes()
        )

    def local_mro(self, cls: LocalClass) -> list[LocalClass]:
        """Our classes in a class's hierarchy, depth first (good enough for lookups)."""
        order: list[LocalClass] = []

        def visit(current: LocalClass) -> None:
            if current in order or len(order) > 50:
                return
            order.append(current)
            for base in self.local_bases(current)[0]:
                visit(base)

        visit(cls)
        return order

    def ha_bases(self, cls: LocalClass) -> tuple[Chain, ...]:
        """All Home Assistant bases reachable through our class hierarchy, in order."""
        result: list[Chain] = []
        seen: set[LocalClass] = set()

        def visit(current: LocalClass) -> None:  # bases in declaration order, depth first
            if current in seen or len(seen) > 50:
                return
            seen.add(current)
            for base in current.node.bases:
                value = self._type_value(current.module, base, {})
                if isinstance(value, LocalClass):
                    visit(value)
                elif isinstance(value, GenericChain | Chain):
                    chain = value.chain if isinstance(value, GenericChain) else value
                    if chain not in result:
                        result.append(chain)

        visit(cls)
        return tuple(result)

    def local_classes(self) -> list[LocalClass]:
        """Every top-level class of our modules."""
        return [
            LocalClass(module, stmt)
            for module in self.modules.values()
            for stmt in walk_block(module.tree.body)
            if isinstance(stmt, ast.ClassDef)
        ]

    def attr_chains(self, cls: LocalClass, name: str) -> list[Chain]:
        """`_attr_x` set in `cls`: checked on the HA bases of the concrete classes using it.

        A mixin may set `_attr_native_value` while only its subclasses add `SensorEntity`, so
        the check goes to the leaves of our class tree below `cls` (or `cls` itself).
        """
        below = [c for c in self.local_classes() if c != cls and cls in self.local_mro(c)]
        leaves = [c for c in below if not any(c != d and c in self.local_mro(d) for d in below)]
        if self.is_open(cls) or any(self.is_open(leaf) for leaf in leaves):
            return []
        family = {*self.local_mro(cls), *below}
        if any(_reads_self_attr(c.node, name) for c in family):
            return []  # we read it ourselves: our own attribute (e.g. an entity platform's base)
        bases: list[Chain] = []
        for leaf in leaves or [cls]:  # known if any concrete class's HA bases know it
            bases += [b for b in self.ha_bases(leaf) if b not in bases]
        return [Chain(bases=tuple(bases)).extend(Step("store", name))] if bases else []

    def member(
        self, cls: LocalClass, name: str
    ) -> tuple[LocalClass, ast.AST, ast.expr | None] | None:
        """Where one of our classes (or our bases) defines `name`: (class, node, annotation)."""
        for current in self.local_mro(cls):
            found = _local_member(current.node, name)
            if found is not None:
                return current, found[0], found[1]
        return None

    def is_dataclass(self, cls: LocalClass) -> bool:
        """Return whether the class (ours) is decorated with `@dataclass`."""
        for deco in cls.node.decorator_list:
            text = ast.unparse(deco.func if isinstance(deco, ast.Call) else deco)
            if text.split(".")[-1] == "dataclass":
                return True
        return False

    def dataclass_fields(self, cls: LocalClass) -> set[str]:
        """Annotated class-level names of our classes in the hierarchy.

        They are fields when the hierarchy is dataclass-like (HA's EntityDescription makes
        every subclass a dataclass through its metaclass, even without `@dataclass`).
        """
        fields: set[str] = set()
        for current in self.local_mro(cls):
            for stmt in current.node.body:
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and "ClassVar" not in ast.unparse(stmt.annotation)
                ):
                    fields.add(stmt.target.id)
        return fields

    # ---------------------------------------------------------------------------- evaluation

    def evaluate(self, module: OurModule, node: ast.expr, env: dict[str, Value]) -> Value:
        """Evaluate an expression to a chain or one of our objects (None: unknown)."""
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            return self.module_name(module, node.id)
        if isinstance(node, ast.Await):
            return self.evaluate(module, node.value, env)
        if isinstance(node, ast.Attribute):
            base = self.evaluate(module, node.value, env)
            store = isinstance(node.ctx, ast.Store | ast.Del)
            return self.attribute(base, node.attr, store=store)
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "super" and "__class__" in env:
                cls = env["__class__"]
                if isinstance(cls, LocalInstance):
                    return LocalInstance(cls.cls, super_of=True)
                return None
            func = self.evaluate(module, node.func, env)
            return self.call(func, node)
        return None

    def attribute(self, base: Value, name: str, *, store: bool = False) -> Value:
        """`base.name`."""
        kind = "store" if store else "attr"
        if isinstance(base, GenericChain):
            index = GENERIC_ATTRS.get(_generic_name(base.chain), {}).get(name)
            is_instance = bool(base.chain.steps) and base.chain.steps[-1].kind == "instance"
            if index is not None and is_instance and index < len(base.args):
                self._note(base.chain.extend(Step(kind, name)))
                return self.type_of(base.module, base.args[index], {})
            base = base.chain
        if isinstance(base, Chain):
            return base.extend(Step(kind, name))
        if isinstance(base, LocalModule):
            return self.module_name(base.module, name)
        if isinstance(base, LocalClass):
            base = LocalInstance(base, is_class=True)
        if isinstance(base, LocalInstance):
            cls = base.cls
            found = None
            if base.super_of:
                for parent in self.local_mro(cls)[1:]:
                    local = _local_member(parent.node, name)
                    if local is not None:
                        found = (parent, local[0], local[1])
                        break
            else:
                found = self.member(cls, name)
            bases = self.ha_bases(cls)
            if found is not None:
                owner, node, annotation = found
                if name.startswith("_attr_") and bases:
                    # an `_attr_` name only works if Home Assistant's base reads it
                    chains = self.attr_chains(cls, name)
                    for extra in chains[1:]:
                        self._note(extra)
                    return chains[0] if chains else None
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    if _is_property(node):
                        if base.is_class:  # the property object itself, not its value
                            return None
                        return self.type_of(owner.module, node.returns, {})
                    return LocalMethod(owner, node)
                if isinstance(node, ast.ClassDef):
                    return LocalClass(owner.module, node)
                if annotation is not None:
                    return self.type_of(owner.module, annotation, {})
                value = _assigned_value(node)
                result: Value = None
                if value is not None and id(value) not in self._evaluating:
                    self._evaluating.add(id(value))
                    self._quiet += 1
                    try:
                        env = {} if node in owner.node.body else self._method_env(owner, node)
                        result = self.evaluate(owner.module, value, env)
                    finally:
                        self._quiet -= 1
                        self._evaluating.discard(id(value))
                if isinstance(result, LocalInstance):
                    return result
                if name in HA_DECLARED_ATTRS and bases:
                    # HA's base declares its type (e.g. NumberEntity.entity_description);
                    # the value we assign is often typed as something more general
                    return Chain(bases=bases).extend(Step("optattr", name))
                return result if isinstance(result, Chain | GenericChain) else None
            if bases and (self.is_open(cls) or self.defined_below(cls, name)):
                return None
            if bases:
                chain = Chain(bases=bases).extend(Step(kind, name))
                typed = self._generic_base_attr(cls, name)
                if typed is not None:
                    self._note(chain)
                    return typed
                return chain
        return None

    def _generic_base_attr(self, cls: LocalClass, name: str) -> Value:
        """`self.coordinator` typed by our base `CoordinatorEntity[OurCoordinator]`."""
        for current in self.local_mro(cls):
            for base in current.node.bases:
                value = self._type_value(current.module, base, {})
                if isinstance(value, GenericChain):
                    index = GENERIC_ATTRS.get(_generic_name(value.chain), {}).get(name)
                    if index is not None and index < len(value.args):
                        return self.type_of(value.module, value.args[index], {})
        return None

    def _note(self, chain: Chain) -> None:
        """Record a chain we step past (into our own types) while evaluating."""
        if not self._quiet:
            self._pending.append(chain)

    def call(self, func: Value, node: ast.Call) -> Value:
        """`func(...)`."""
        if isinstance(func, GenericChain):
            func = func.chain
        if isinstance(func, Chain):
            return func.extend(Step("call", call=call_info(node)))
        if isinstance(func, LocalClass):
            bases = self.ha_bases(func)
            has_init = any(_local_member(c.node, "__init__") for c in self.local_mro(func))
            if bases and not has_init:
                fields = frozenset(self.dataclass_fields(func))
                info = call_info(node, drop_keywords=fields)
                if fields:  # positionals may fill our own fields: do not count them
                    star_args = info.star_args or info.positional > 0
                    info = CallInfo(
                        info.positional, info.keywords, star_args, info.star_kwargs, tuple(fields)
                    )
                flavour = "dataclass" if self.is_dataclass(func) else ""
                self._note(Chain(bases=bases).extend(Step("init", flavour, info)))
            return LocalInstance(func)
        if isinstance(func, LocalMethod):
            return self.type_of(func.cls.module, func.node.returns, {})
        return None

    # ---------------------------------------------------------------------------- walking

    def _method_env(self, cls: LocalClass, node: ast.AST) -> dict[str, Value]:
        for stmt in cls.node.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                n is node for n in ast.walk(stmt)
            ):
                return self._function_env(cls.module, stmt, {}, cls)
        return {}

    def _function_env(
        self,
        module: OurModule,
        func: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
        outer: dict[str, Value],
        cls: LocalClass | None,
    ) -> dict[str, Value]:
        env = dict(outer)
        args = func.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        if args.vararg:
            params.append(args.vararg)
        if args.kwarg:
            params.append(args.kwarg)
        decorators = (
            {ast.unparse(d).split(".")[-1] for d in func.decorator_list}
            if not isinstance(func, ast.Lambda)
            else set()
        )
        for index, param in enumerate(params):
            env[param.arg] = None
            if index == 0 and cls is not None and "staticmethod" not in decorators:
                if "classmethod" in decorators:
                    env[param.arg] = cls
                else:
                    env[param.arg] = LocalInstance(cls)
                continue
            if param.annotation is not None:
                env[param.arg] = self.type_of(module, param.annotation, outer)
        if cls is not None:
            env["__class__"] = LocalInstance(cls)
        if isinstance(func, ast.Lambda):
            return env
        assigned: dict[str, list[ast.AST]] = {}
        for node in _own_nodes(func.body):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    for name in target_names(target):
                        assigned.setdefault(name, []).append(node)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                assigned.setdefault(node.target.id, []).append(node)
            elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                for name in target_names(node.target):
                    assigned.setdefault(name, []).extend([node, node])
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                for name in target_names(node.optional_vars):
                    assigned.setdefault(name, []).extend([node, node])
            elif isinstance(node, ast.NamedExpr):
                assigned.setdefault(node.target.id, []).append(node)
        self._quiet += 1
        try:
            self._assign_env(module, env, assigned)
        finally:
            self._quiet -= 1
        return env

    def _assign_env(
        self, module: OurModule, env: dict[str, Value], assigned: dict[str, list[ast.AST]]
    ) -> None:
        for name, nodes in assigned.items():
            env[name] = None
            if len(nodes) != 1:
                continue
            node = nodes[0]
            if isinstance(node, ast.AnnAssign):
                env[name] = self.type_of(module, node.annotation, env)
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ) or isinstance(node, ast.NamedExpr):
                env[name] = self.evaluate(module, node.value, env)

    def _walk_module(self, module: OurModule) -> None:
        self._module = module
        self._visit_block(module.tree.body, {}, None)

    def _visit_block(
        self, body: list[ast.stmt], env: dict[str, Value], cls: LocalClass | None
    ) -> None:
        for stmt in body:
            self._visit_stmt(stmt, env, cls)

    def _visit_stmt(self, stmt: ast.stmt, env: dict[str, Value], cls: LocalClass | None) -> None:
        module = self._module
        assert module is not None
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            self._record_import(module, stmt)
            return
        if isinstance(stmt, ast.ClassDef):
            for expr in [*stmt.decorator_list, *stmt.bases, *(k.value for k in stmt.keywords)]:
                self._visit_expr(expr, env)
            local = LocalClass(module, stmt)
            for name in _class_level_attr_names(stmt):
                for chain in self.attr_chains(local, name):
                    self._record(chain, stmt)
            for inner in stmt.body:
                self._visit_stmt(inner, env, local)
            return
        if isinstance(stmt, ast.If | ast.While) or (
            isinstance(stmt, ast.Assert) and stmt.test is not None
        ):
            self._visit_expr(stmt.test, env)
            narrowed, guarded = self._narrow(module, stmt.test, env)
            before = self._guarded
            self._guarded = before | guarded
            try:
                if isinstance(stmt, ast.Assert):
                    env.update(narrowed)  # an assert narrows the rest of the block
                    return
                self._visit_block(stmt.body, {**env, **narrowed}, cls)
            finally:
                self._guarded = before
            self._visit_block(stmt.orelse, env, cls)
            return
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            for expr in stmt.decorator_list:
                self._visit_expr(expr, env)
            for arg in [
                *stmt.args.posonlyargs,
                *stmt.args.args,
                *stmt.args.kwonlyargs,
                stmt.args.vararg,
                stmt.args.kwarg,
            ]:
                if arg is not None and arg.annotation is not None:
                    self._visit_expr(arg.annotation, env)
            for default in [
                *stmt.args.defaults,
                *(d for d in stmt.args.kw_defaults if d is not None),
            ]:
                self._visit_expr(default, env)
            if stmt.returns is not None:
                self._visit_expr(stmt.returns, env)
            inner_env = self._function_env(module, stmt, env if cls is None else {}, cls)
            self._visit_block(stmt.body, inner_env, None)
            return
        for node in ast.iter_child_nodes(stmt):
            if isinstance(node, ast.stmt):
                self._visit_stmt(node, env, cls)
            elif isinstance(node, ast.expr):
                self._visit_expr(node, env)
            else:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        self._visit_stmt(child, env, cls)
                    elif isinstance(child, ast.expr):
                        self._visit_expr(child, env)
                    else:
                        for grandchild in ast.walk(child):
                            if isinstance(grandchild, ast.stmt):
                                self._visit_stmt(grandchild, env, cls)
                            elif isinstance(grandchild, ast.expr):
                                self._visit_expr(grandchild, env)

    def _narrow(
        self, module: OurModule, test: ast.expr, env: dict[str, Value]
    ) -> tuple[dict[str, Value], frozenset[str]]:
        """`isinstance(x, C)` gives x the type C; `hasattr(x, "a")` guards attribute a."""
        narrowed: dict[str, Value] = {}
        guarded: set[str] = set()
        tests = (
            test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
        )
        for item in tests:
            if not (isinstance(item, ast.Call) and isinstance(item.func, ast.Name)):
                continue
            if item.func.id == "isinstance" and len(item.args) == 2:
                target, kind = item.args
                if isinstance(target, ast.Name) and not isinstance(kind, ast.Tuple):
                    self._quiet += 1
                    try:
                        narrowed[target.id] = self.type_of(module, kind, env)
                    finally:
                        self._quiet -= 1
            elif item.func.id == "hasattr" and len(item.args) == 2:
                name = item.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    guarded.add(name.value)
        return narrowed, frozenset(guarded)

    def _record_import(self, module: OurModule, stmt: ast.Import | ast.ImportFrom) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if _is_ha(alias.name):
                    self._record(Chain(module=alias.name), stmt)
            return
        target = module.absolute(stmt.level, stmt.module)
        if _is_ha(target):
            for alias in stmt.names:
                if alias.name != "*":
                    self._record(Chain(module=target).extend(Step("attr", alias.name)), stmt)

    def _visit_expr(self, expr: ast.expr, env: dict[str, Value]) -> None:
        """Record the maximal chains in an expression, then visit what is left inside."""
        module = self._module
        assert module is not None
        if isinstance(expr, ast.Lambda):
            lambda_env = self._function_env(module, expr, env, None)
            self._visit_expr(expr.body, lambda_env)
            return
        if isinstance(expr, ast.Name | ast.Attribute | ast.Call | ast.Subscript | ast.Await):
            self._pending = []
            value = self.evaluate(module, expr, env)
            for pending in self._pending:
                self._record(pending, expr)
            self._pending = []
            if isinstance(value, GenericChain):
                value = value.chain
            if isinstance(value, Chain):
                self._record(value, expr)
            for inner in _sub_expressions(expr):
                self._visit_expr(inner, env)
            return
        for child in ast.iter_child_nodes(expr):
            if isinstance(child, ast.expr):
                self._visit_expr(child, env)
            elif isinstance(child, ast.comprehension | ast.keyword | ast.arg):
                for sub in ast.iter_child_nodes(child):
                    if isinstance(sub, ast.expr):
                        self._visit_expr(sub, env)

    def _record(self, chain: Chain, node: ast.AST) -> None:
        assert self._module is not None
        if any(step.name in self._guarded for step in chain.steps if step.kind == "attr"):
            return  # inside `if hasattr(x, "name")`: the code expects it may be missing
        self.usages.append(Usage(chain, self._rel(self._module.path), getattr(node, "lineno", 0)))


_NEUTRAL_BASES = {"Generic", "Protocol", "ABC", "object", "Exception"}


def _sub_expressions(expr: ast.expr) -> Iterator[ast.expr]:
    """Arguments, subscripts and other non-chain parts of a chain expression."""
    node: ast.expr = expr
    while True:
        if isinstance(node, ast.Await | ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            yield from node.args
            yield from (k.value for k in node.keywords)
            node = node.func
        elif isinstance(node, ast.Subscript):
            yield node.slice
            yield node.value
            return
        else:
            if not isinstance(node, ast.Name):
                yield node
            return


def _own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Nodes of a function body, not descending into nested functions, classes or lambdas."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(
            child
            for child in ast.iter_child_nodes(node)
            if not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
            )
        )


def _is_property(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        ast.unparse(d).split(".")[-1] in {"property", "cached_property"}
        for d in node.decorator_list
    )


def _assigned_value(node: ast.AST) -> ast.expr | None:
    if isinstance(node, ast.Assign | ast.AnnAssign):
        return node.value
    return None


def _local_member(cls: ast.ClassDef, name: str) -> tuple[ast.AST, ast.expr | None] | None:
    """(node, annotation) where a class body or one of its methods (`self.name =`) defines name."""
    found: tuple[ast.AST, ast.expr | None] | None = None
    for stmt in walk_block(cls.body):
        if (
            isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and stmt.name == name
        ):
            return stmt, None
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and stmt.target.id == name
        ):
            return stmt, stmt.annotation
        if isinstance(stmt, ast.Assign) and any(name in target_names(t) for t in stmt.targets):
            found = (stmt, None)
    if found is not None:
        return found
    for stmt in cls.body:
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(stmt):
            if isinstance(node, ast.AnnAssign) and _is_self_attr(node.target, name):
                return node, node.annotation
            if isinstance(node, ast.Assign) and any(
                _is_self_attr(elt, name)
                for target in node.targets
                for elt in (target.elts if isinstance(target, ast.Tuple) else [target])
            ):
                found = found or (node, None)
    return found


def _reads_self_attr(cls: ast.ClassDef, name: str) -> bool:
    """Return whether a method of the class reads `self.<name>`."""
    return any(
        isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Load)
        and _is_self_attr(node, name)
        for stmt in cls.body
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(stmt)
    )


def _is_self_attr(node: ast.expr, name: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == name
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def _class_level_attr_names(cls: ast.ClassDef) -> list[str]:
    """`_attr_*` names set in a class body: Home Assistant must know them."""
    names: list[str] = []
    for stmt in walk_block(cls.body):
        targets: list[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = list(stmt.targets)
        elif isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        names.extend(
            name for target in targets for name in target_names(target) if name.startswith("_attr_")
        )
    return names


def collect(package_dir: Path, repo_root: Path | None = None) -> tuple[list[Usage], list[str]]:
    """All usages of Home Assistant in our package, and errors (engine importing HA)."""
    collector = Collector(package_dir, repo_root)
    usages = collector.run()
    return usages, collector.errors
