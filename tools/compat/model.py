"""Data shared by the collector (our code) and the checker (Home Assistant's code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class CallInfo:
    """How we call something: enough to check it against a signature."""

    positional: int = 0
    keywords: tuple[str, ...] = ()
    star_args: bool = False
    star_kwargs: bool = False
    satisfied: tuple[str, ...] = ()  # parameters our subclass supplies (its own fields)
    passes_hass_first: bool = False  # first positional argument is `hass` / `x.hass`


@dataclass(frozen=True)
class Step:
    """One step of an access chain starting at a `homeassistant` module.

    kinds: `attr` (attribute read), `store` (attribute assignment), `call`, `instance`
    (the value is an instance of the class before it, e.g. from a type annotation),
    `optattr` (an attribute we set ourselves that Home Assistant may also declare: follow
    HA's declared type if it has one, and say nothing if it has not), `init` (constructing
    our subclass runs the HA base's constructor).
    """

    kind: str
    name: str = ""
    call: CallInfo | None = None


@dataclass(frozen=True)
class Chain:
    """`homeassistant.x.y` module, then steps; or `bases`: the HA base classes of our class.

    A chain rooted at `bases` comes from `self.attr` (or `super().attr`) inside one of our
    classes that inherits from Home Assistant classes; each base is a chain itself.
    """

    module: str = ""
    bases: tuple[Chain, ...] = ()
    steps: tuple[Step, ...] = ()

    def extend(self, *steps: Step) -> Chain:
        """Return this chain with more steps."""
        return Chain(self.module, self.bases, self.steps + steps)

    def label(self) -> str:
        """Readable, version-independent name of what the chain reaches."""
        if self.bases:
            names = sorted({b.label().rsplit(".", 1)[-1] for b in self.bases})
            head = names[0] if len(names) == 1 else "(" + "|".join(names) + ")"
            if len(self.bases) == 1:
                head = self.bases[0].label()
        else:
            head = self.module
        text = head
        for i, step in enumerate(self.steps):
            if step.kind in {"attr", "store", "optattr"}:
                text += "." + step.name
            elif step.kind == "call" and i != len(self.steps) - 1:
                text += "()"
            elif step.kind == "init":
                text += ".__init__"
        return text


@dataclass(frozen=True)
class Usage:
    """One place in our code that reaches into Home Assistant."""

    chain: Chain
    file: str
    line: int


class Status(StrEnum):
    """Result of checking one symbol in one Home Assistant version."""

    OK = "ok"
    MISSING = "missing"
    INCOMPATIBLE = "incompatible"
    DEPRECATED = "deprecated"
    UNKNOWN = "unknown"  # could not be resolved statically (dynamic or external)


@dataclass
class Finding:
    """The check of one symbol (a chain prefix) in one version."""

    status: Status
    detail: str = ""


@dataclass
class Row:
    """One symbol of the report with its usages and the findings per version."""

    label: str
    usages: list[Usage] = field(default_factory=list)
    findings: dict[str, Finding] = field(default_factory=dict)
