"""tools.compat: the symbol collector, the checker and the command, on small fake trees.

No network: Home Assistant's sources here are a few fake modules written to tmp_path, and the
"wheels" are zips of them placed in the cache where the downloader looks first.
"""

from __future__ import annotations

from pathlib import Path
import textwrap
import zipfile

import pytest

from tools.compat import __main__ as cli, hafetch
from tools.compat.check import check_chain, check_usages
from tools.compat.hafetch import IndexUnreachableError, Version
from tools.compat.hasource import SourceTree, UnparsableSourceError
from tools.compat.model import CallInfo, Chain, Row, Status, Step
from tools.compat.symbols import collect


def write(root: Path, files: dict[str, str]) -> Path:
    """Write dedented `files` (relative path -> text) below `root`; return `root`."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


FAKE_HA = {
    "homeassistant/__init__.py": "",
    "homeassistant/helpers/__init__.py": "",
    "homeassistant/helpers/frame.py": """
        def report_usage(what, *, breaks_in_ha_version=None):
            pass
    """,
    "homeassistant/helpers/deprecation.py": """
        def deprecated_function(replacement, *, breaks_in_ha_version=None):
            def wrap(func):
                return func
            return wrap
    """,
    "homeassistant/const.py": """
        from functools import partial
        from typing import Final

        from .helpers.deprecation import DeprecatedConstant, check_if_deprecated_constant

        NEW_STATE: Final = "new"
        _DEPRECATED_OLD_STATE: Final = DeprecatedConstant("old", "NEW_STATE", "2025.10")

        __getattr__ = partial(check_if_deprecated_constant, module_globals=globals())
    """,
    "homeassistant/data_entry_flow.py": """
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from .core import HomeAssistant

        class FlowHandler:
            hass: "HomeAssistant"

            def async_show_form(self, *, step_id=None, data_schema=None, errors=None):
                return {}

            def async_abort(self, *, reason, description_placeholders=None):
                return {}
    """,
    "homeassistant/config_entries.py": """
        from .data_entry_flow import FlowHandler
        from .helpers.frame import report_usage

        class ConfigEntry[_DataT]:
            runtime_data: _DataT

            def __init__(self, *, title: str) -> None:
                self.title = title

            def async_on_unload(self, func) -> None:
                pass

        class ConfigEntries:
            def async_entries(self, domain=None) -> list[ConfigEntry]:
                return []

        class ConfigFlow(FlowHandler):
            def async_create_entry(self, *, title, data):
                return {}

        class OptionsFlowWithConfigEntry(FlowHandler):
            def __init__(self, config_entry):
                report_usage("inherits from OptionsFlowWithConfigEntry", breaks_in_ha_version="2025.12")
    """,
    "homeassistant/core.py": """
        from .config_entries import ConfigEntries
        from .helpers.deprecation import deprecated_function
        from .helpers.frame import report_usage

        UNDEFINED = object()

        def callback(func):
            return func

        class HomeAssistant:
            def __init__(self) -> None:
                self.config_entries = ConfigEntries()

            def async_add_job(self, target, *args):
                report_usage("calls `async_add_job`, which is deprecated")

            def async_create_task(self, target, name=None, *, eager_start=True):
                return None

            def async_legacy(self, value, legacy=None):
                if legacy is not None:
                    report_usage("passing legacy is deprecated")

            def async_guarded(self, entry):
                if entry.state == "loaded":
                    report_usage("called at the wrong time")

        @deprecated_function("new_helper")
        def old_helper(hass):
            pass

        # Deprecated: use new_helper, will be removed in 2026.1
        def commented_helper(hass):
            pass

        def new_helper(hass):
            pass

        class Coordinator:
            def __init__(self, hass, *, name, config_entry=UNDEFINED):
                if config_entry is UNDEFINED:
                    report_usage("relies on ContextVar, pass the config entry")
                self.hass = hass
    """,
    "homeassistant/components/__init__.py": "",
    "homeassistant/components/sensor/__init__.py": """
        from enum import StrEnum

        from homeassistant.helpers.entity import Entity

        class SensorDeviceClass(StrEnum):
            BATTERY = "battery"

        class SensorEntity(Entity):
            _attr_native_value: int | None = None
    """,
    "homeassistant/helpers/oauth.py": """
        from abc import ABC, abstractmethod

        from .deprecation import deprecated_hass_argument

        class AbstractImplementation(ABC):
            @abstractmethod
            def name(self) -> str: ...

        def get_implementation() -> AbstractImplementation:
            raise NotImplementedError

        def magic(func):
            return func

        @deprecated_hass_argument(breaks_in_ha_version="2026.10")
        def extract_ids(service_call, expand_group=True):
            pass

        @magic
        def decorated(a):
            pass
    """,
    "homeassistant/util/__init__.py": "",
    "homeassistant/util/frozen_dataclass_compat.py": """
        class FrozenOrThawed(type):
            pass
    """,
    "homeassistant/helpers/entity.py": """
        from ..util.frozen_dataclass_compat import FrozenOrThawed

        class EntityDescription(metaclass=FrozenOrThawed, frozen_or_thawed=True):
            key: str
            name: str | None = None
            translation_key: str | None = None

        class Entity:
            _attr_name: str | None = None
            entity_description: EntityDescription

            def async_write_ha_state(self) -> None:
                pass
    """,
}

OUR_CODE = {
    "custom_components/demo/__init__.py": """
        from homeassistant.config_entries import ConfigEntry
        from homeassistant.const import NEW_STATE, OLD_STATE
        from homeassistant.core import HomeAssistant, callback, old_helper, commented_helper, Gone
        import homeassistant.core as ha_core

        from .coordinator import DemoData

        type DemoConfigEntry = ConfigEntry[DemoData]

        async def async_setup_entry(hass: HomeAssistant, entry: DemoConfigEntry) -> bool:
            hass.async_add_job(print)
            hass.async_create_task(print(), "name", eager_start=True)
            hass.async_create_task(print(), nope=1)
            hass.async_legacy(1)
            hass.async_legacy(1, legacy=True)
            for other in hass.config_entries.async_entries("demo"):
                other.async_on_unload(print)
            entry.runtime_data.store.flush()
            entry.runtime_data.coordinator.hass.async_add_job(print)
            old_helper(hass)
            commented_helper(hass)
            ha_core.new_helper(hass)
            return NEW_STATE != OLD_STATE
    """,
    "custom_components/demo/coordinator.py": """
        from dataclasses import dataclass

        from homeassistant.core import Coordinator, HomeAssistant

        class DemoCoordinator(Coordinator):
            def __init__(self, hass: HomeAssistant, entry) -> None:
                super().__init__(hass, name="demo", config_entry=entry)

        class QuietCoordinator(Coordinator):
            def __init__(self, hass: HomeAssistant) -> None:
                super().__init__(hass, name="quiet")

        @dataclass
        class DemoData:
            store: object
            coordinator: DemoCoordinator
    """,
    "custom_components/demo/config_flow.py": """
        from homeassistant.config_entries import ConfigFlow, OptionsFlowWithConfigEntry

        class DemoFlow(ConfigFlow, domain="demo"):
            async def async_step_user(self, user_input=None):
                if user_input:
                    return self.async_create_entry(title="x", data=user_input)
                self.hass.async_add_job(print)
                return self.async_show_form(step_id="user", bogus_kw=1)

        class DemoOptions(OptionsFlowWithConfigEntry):
            pass
    """,
    "custom_components/demo/sensor.py": """
        from collections.abc import Callable
        from dataclasses import dataclass

        from homeassistant.helpers.entity import Entity, EntityDescription

        @dataclass(frozen=True, kw_only=True)
        class DemoDescription(EntityDescription):
            value_fn: Callable[[int], int]

        GOOD = DemoDescription(key="a", translation_key="a", value_fn=abs)
        BAD = DemoDescription(key="b", value_fn=abs, icon="mdi:x")

        class DemoEntity(Entity):
            _attr_name = "x"
            _attr_unknown_thing = 1

            def update(self) -> None:
                self.async_write_ha_state()
                self.async_missing_method()
    """,
    "custom_components/demo/engine/__init__.py": """
        import json
    """,
}


@pytest.fixture
def ha_tree(tmp_path: Path) -> SourceTree:
    """Return the fake Home Assistant sources."""
    return SourceTree.from_dir(write(tmp_path / "ha", FAKE_HA), "fake")


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """Write our fake integration and return its package folder."""
    write(tmp_path / "repo", OUR_CODE)
    return tmp_path / "repo" / "custom_components" / "demo"


def check(package: Path, tree: SourceTree) -> dict[str, Row]:
    """Collect the package's usages (asserting no errors) and check them against `tree`."""
    usages, errors = collect(package)
    assert errors == []
    rows: dict[str, Row] = {}
    check_usages(tree, usages, "fake", rows)
    return rows


def status(rows: dict[str, Row], label: str) -> Status:
    """Return the status of the row `label` in the fake release."""
    assert label in rows, sorted(rows)
    return rows[label].findings["fake"].status


# -------------------------------------------------------------------------------- collector


def test_collector_records_imports_attribute_chains_and_calls(package: Path) -> None:
    """Test that imports, attribute chains through typed parameters and calls are collected."""
    usages, errors = collect(package)
    assert errors == []
    labels = {u.chain.label() for u in usages}
    assert "homeassistant.config_entries.ConfigEntry" in labels
    assert "homeassistant.core.HomeAssistant.async_add_job" in labels
    assert "homeassistant.core.HomeAssistant.config_entries.async_entries" in labels
    # `for other in ...` is not followed, but the typed parameter and the module alias are
    assert "homeassistant.core.new_helper" in labels
    by_label = {u.chain.label(): u for u in usages}
    call = by_label["homeassistant.core.HomeAssistant.async_create_task"].chain.steps[-1]
    assert call.kind == "call"
    assert call.call is not None
    assert call.call.positional in {1, 2}


def test_collector_resolves_self_through_ha_bases(package: Path) -> None:
    """Test that `self.` chains resolve through the HA base classes, `_attr_` names included."""
    usages, _ = collect(package)
    chains = [u.chain for u in usages if u.chain.bases]
    labels = {c.label() for c in chains}
    assert "homeassistant.config_entries.ConfigFlow.async_show_form" in labels
    assert "homeassistant.config_entries.ConfigFlow.hass.async_add_job" in labels
    assert "homeassistant.helpers.entity.Entity.async_write_ha_state" in labels
    # class-level _attr_ names must exist in the HA base
    assert "homeassistant.helpers.entity.Entity._attr_unknown_thing" in labels


def test_collector_follows_runtime_data_into_our_types(package: Path) -> None:
    """Test that entry.runtime_data is followed into our own types and their HA bases."""
    usages, _ = collect(package)
    labels = {u.chain.label() for u in usages}
    assert "homeassistant.config_entries.ConfigEntry.runtime_data" in labels
    # entry.runtime_data is our DemoData; its coordinator subclasses HA's Coordinator
    assert "homeassistant.core.Coordinator.hass.async_add_job" in labels
    assert not any("store.flush" in label for label in labels)


def test_collector_checks_our_dataclass_description_against_ha_fields(package: Path) -> None:
    """Test that our dataclass description's own fields are left out of the HA init check."""
    usages, _ = collect(package)
    inits = [u.chain for u in usages if u.chain.steps and u.chain.steps[-1].kind == "init"]
    assert inits
    for chain in inits:
        info = chain.steps[-1].call
        assert info is not None
        assert "value_fn" not in info.keywords  # our own field, not HA's


def test_collector_flags_homeassistant_imports_in_the_engine(tmp_path: Path) -> None:
    """Test that a Home Assistant import in the engine is an error."""
    pkg = write(
        tmp_path,
        {
            "custom_components/x/__init__.py": "",
            "custom_components/x/engine/bad.py": "def f():\n    from homeassistant.core import HomeAssistant\n",
        },
    )
    _, errors = collect(pkg / "custom_components" / "x")
    assert len(errors) == 1
    assert "engine/bad.py:2" in errors[0]
    assert "homeassistant.core" in errors[0]


def test_python_syntax_minimum(tmp_path: Path) -> None:
    """Test that the Python syntax floor follows the newest syntax used."""
    write(tmp_path, {"a.py": "x = 1\n"})
    assert cli.python_syntax_minimum(tmp_path) <= (3, 9)
    write(tmp_path, {"b.py": "type Alias = int\n"})
    assert cli.python_syntax_minimum(tmp_path) == (3, 12)


# -------------------------------------------------------------------------------- checker


def test_present_symbols_are_ok(package: Path, ha_tree: SourceTree) -> None:
    """Test that symbols present in the release are OK."""
    rows = check(package, ha_tree)
    assert status(rows, "homeassistant.config_entries.ConfigEntry") is Status.OK
    assert (
        status(rows, "homeassistant.core.HomeAssistant.config_entries.async_entries") is Status.OK
    )
    assert status(rows, "homeassistant.config_entries.ConfigEntry.runtime_data") is Status.OK
    assert status(rows, "homeassistant.core.new_helper") is Status.OK
    assert status(rows, "homeassistant.helpers.entity.Entity.async_write_ha_state") is Status.OK
    assert status(rows, "homeassistant.helpers.entity.Entity._attr_name") is Status.OK


def test_missing_symbols(package: Path, ha_tree: SourceTree) -> None:
    """Test that symbols absent from the release are MISSING."""
    rows = check(package, ha_tree)
    assert status(rows, "homeassistant.core.Gone") is Status.MISSING
    assert (
        status(rows, "homeassistant.helpers.entity.Entity.async_missing_method") is Status.MISSING
    )
    assert status(rows, "homeassistant.helpers.entity.Entity._attr_unknown_thing") is Status.MISSING


def test_deprecated_constant(package: Path, ha_tree: SourceTree) -> None:
    """Test that a DeprecatedConstant is found deprecated, its replacement OK."""
    rows = check(package, ha_tree)
    assert status(rows, "homeassistant.const.NEW_STATE") is Status.OK
    finding = rows["homeassistant.const.OLD_STATE"].findings["fake"]
    assert finding.status is Status.DEPRECATED
    assert "DeprecatedConstant" in finding.detail


def test_report_usage_in_body_is_deprecated(package: Path, ha_tree: SourceTree) -> None:
    """Test that a report_usage call in a function's body deprecates it, also through the MRO."""
    rows = check(package, ha_tree)
    finding = rows["homeassistant.core.HomeAssistant.async_add_job"].findings["fake"]
    assert finding.status is Status.DEPRECATED
    assert "report_usage" in finding.detail
    # reached through self.hass on a ConfigFlow subclass (MRO: ConfigFlow -> FlowHandler)
    assert (
        status(rows, "homeassistant.config_entries.ConfigFlow.hass.async_add_job")
        is Status.DEPRECATED
    )


def test_conditional_report_depends_on_the_arguments_we_pass(
    tmp_path: Path, ha_tree: SourceTree
) -> None:
    """Test that a report guarded by an argument counts only when we pass that argument."""
    write(
        tmp_path,
        {
            "custom_components/a/__init__.py": """
                from homeassistant.core import HomeAssistant
                def f(hass: HomeAssistant) -> None:
                    hass.async_legacy(1)
                    hass.async_guarded(object())
            """,
            "custom_components/b/__init__.py": """
                from homeassistant.core import HomeAssistant
                def f(hass: HomeAssistant) -> None:
                    hass.async_legacy(1, legacy=True)
            """,
        },
    )
    clean = check(tmp_path / "custom_components" / "a", ha_tree)
    used = check(tmp_path / "custom_components" / "b", ha_tree)
    assert status(clean, "homeassistant.core.HomeAssistant.async_legacy") is Status.OK
    # a guard on the state of an argument (entry.state) is not about what we pass
    assert status(clean, "homeassistant.core.HomeAssistant.async_guarded") is Status.OK
    assert status(used, "homeassistant.core.HomeAssistant.async_legacy") is Status.DEPRECATED


def test_leaving_out_an_argument_can_be_deprecated(package: Path, ha_tree: SourceTree) -> None:
    """Test that a report guarded on a missing argument counts only when we leave it out."""
    usages, _ = collect(package)
    by_file: dict[str, Status] = {}
    for usage in usages:
        if usage.chain.label() == "homeassistant.core.Coordinator.__init__":
            rows: dict[str, Row] = {}
            check_usages(ha_tree, [usage], "fake", rows)
            by_file[f"{usage.line}"] = (
                rows["homeassistant.core.Coordinator.__init__"].findings["fake"].status
            )
    # DemoCoordinator passes config_entry, QuietCoordinator does not
    assert sorted(by_file.values()) == [Status.DEPRECATED, Status.OK]


def test_deprecated_hass_argument_only_when_we_pass_hass(
    tmp_path: Path, ha_tree: SourceTree
) -> None:
    """Test that a deprecated `hass` argument counts only when we pass it."""
    call = "extract_ids(hass, call)"
    for name, code, expected in (
        ("old", call, Status.DEPRECATED),
        ("new", "extract_ids(call)", Status.OK),
    ):
        write(
            tmp_path,
            {
                f"custom_components/{name}/__init__.py": f"""
                    from homeassistant.helpers.oauth import extract_ids
                    def f(hass, call) -> None:
                        {code}
                """
            },
        )
        rows = check(tmp_path / "custom_components" / name, ha_tree)
        assert status(rows, "homeassistant.helpers.oauth.extract_ids") is expected


def test_deprecation_decorator_and_comment(package: Path, ha_tree: SourceTree) -> None:
    """Test that a deprecation decorator or comment marks a function deprecated."""
    rows = check(package, ha_tree)
    decorated = rows["homeassistant.core.old_helper"].findings["fake"]
    assert decorated.status is Status.DEPRECATED
    assert "deprecated_function" in decorated.detail
    commented = rows["homeassistant.core.commented_helper"].findings["fake"]
    assert commented.status is Status.DEPRECATED
    assert "comment" in commented.detail


def test_deprecated_base_class_init(package: Path, ha_tree: SourceTree) -> None:
    """Test that subclassing a base whose constructor reports is deprecated."""
    rows = check(package, ha_tree)
    assert (
        status(rows, "homeassistant.config_entries.OptionsFlowWithConfigEntry") is Status.DEPRECATED
    )


def test_incompatible_keyword_arguments(package: Path, ha_tree: SourceTree) -> None:
    """Test that unknown keywords, dataclass-like fields included, are INCOMPATIBLE."""
    rows = check(package, ha_tree)
    show_form = rows["homeassistant.config_entries.ConfigFlow.async_show_form"].findings["fake"]
    assert show_form.status is Status.INCOMPATIBLE
    assert "bogus_kw" in show_form.detail
    create_task = rows["homeassistant.core.HomeAssistant.async_create_task"].findings["fake"]
    assert create_task.status is Status.INCOMPATIBLE
    assert "nope" in create_task.detail
    # dataclass-like EntityDescription: `icon` is not one of its fields, value_fn is ours
    description = rows["homeassistant.helpers.entity.EntityDescription.__init__"].findings["fake"]
    assert description.status is Status.INCOMPATIBLE
    assert "icon" in description.detail
    assert "value_fn" not in description.detail


def test_signature_check_counts_positionals_and_required(ha_tree: SourceTree) -> None:
    """Test that the signature check counts positionals, keyword-only and required parameters."""

    def row_for(info: CallInfo) -> Status:
        chain = Chain(module="homeassistant.core").extend(
            Step("attr", "HomeAssistant"),
            Step("instance"),
            Step("attr", "async_create_task"),
            Step("call", call=info),
        )
        return check_chain(ha_tree, chain)[-1][1].status

    assert row_for(CallInfo(positional=2)) is Status.OK
    assert row_for(CallInfo(positional=3)) is Status.INCOMPATIBLE  # eager_start is keyword-only
    assert row_for(CallInfo(positional=0)) is Status.INCOMPATIBLE  # target is required
    assert row_for(CallInfo(positional=0, star_args=True)) is Status.OK


HEURISTICS_CODE = {
    "custom_components/h/__init__.py": """
        from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
        from homeassistant.helpers.entity import Entity
        from homeassistant.helpers.oauth import decorated, get_implementation

        class Mixin(Entity):
            _attr_native_value = 1  # only the SensorEntity leaf below reads it

        class Ours(Mixin, SensorEntity):
            pass

        class Special:
            extra = 1

        def f(entity: Entity, thing: Special | Entity) -> None:
            if hasattr(entity, "maybe_there"):
                entity.maybe_there()
            if isinstance(thing, Special):
                print(thing.extra)
            print(SensorDeviceClass.BATTERY.value)
            print(get_implementation().client_id)
            decorated(1, unknown_kw=2)
            entity.really_missing()
    """,
}


def test_heuristics_keep_false_alarms_out(tmp_path: Path, ha_tree: SourceTree) -> None:
    """Test that guards, narrowing, mixins and unknown decorators raise no false alarms."""
    write(tmp_path, HEURISTICS_CODE)
    rows = check(tmp_path / "custom_components" / "h", ha_tree)
    labels = set(rows)
    assert not any("maybe_there" in label for label in labels)  # hasattr guard
    assert not any(label.endswith(".extra") for label in labels)  # isinstance narrowing
    assert (
        status(rows, "homeassistant.components.sensor.SensorDeviceClass.BATTERY.value") is Status.OK
    )
    assert status(rows, "(Entity|SensorEntity)._attr_native_value") is Status.OK
    abstract = rows["homeassistant.helpers.oauth.get_implementation().client_id"].findings["fake"]
    assert abstract.status is Status.UNKNOWN
    assert status(rows, "homeassistant.helpers.oauth.decorated") is Status.OK  # unknown decorator
    # and a real miss is still a miss
    assert status(rows, "homeassistant.helpers.entity.Entity.really_missing") is Status.MISSING


# -------------------------------------------------------------------------------- command


def make_wheel(
    cache: Path, version: str, tree: dict[str, str], requires_python: str = ">=3.13"
) -> None:
    """Write a fake homeassistant wheel of `tree` into the cache, where download looks first."""
    wheel = hafetch.wheel_path(cache, hafetch.Version.parse(version) or Version(0, 0, 0))
    wheel.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in tree.items():
            archive.writestr(name, textwrap.dedent(text))
        archive.writestr(
            f"homeassistant-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: homeassistant\nVersion: {version}\n"
            f"Requires-Python: {requires_python}\n\nbody\n",
        )


def test_main_prints_table_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test that the command prints the table and summary and fails on a missing symbol."""
    write(
        tmp_path / "repo",
        {
            "custom_components/demo/__init__.py": """
                from homeassistant.core import HomeAssistant, callback
                def f(hass: HomeAssistant) -> None:
                    hass.async_create_task(print())
            """,
        },
    )
    cache = tmp_path / "cache"
    newer = dict(FAKE_HA)
    newer["homeassistant/core.py"] = FAKE_HA["homeassistant/core.py"].replace(
        "def callback", "def _callback"
    )
    make_wheel(cache, "2025.4.4", FAKE_HA)
    make_wheel(cache, "2026.2.3", newer)
    monkeypatch.setattr(cli, "all_versions", lambda: [Version(2025, 4, 4), Version(2026, 2, 3)])
    code = cli.main(
        ["--package", str(tmp_path / "repo/custom_components/demo"), "--cache", str(cache)]
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 1
    assert out[-1] == "compat: 5 symbols, 1 missing, 0 deprecated (2025.4.4 -> 2026.2.3)"
    table = "\n".join(out)
    assert "homeassistant.core.callback" in table
    assert "MISSING in 2026.2.3: homeassistant.core.callback" in table


def test_main_skips_when_the_index_is_unreachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test that the command skips with status 0 when the package index is unreachable."""
    write(tmp_path / "repo", {"custom_components/demo/__init__.py": "import homeassistant.core\n"})

    def unreachable() -> list[Version]:
        raise IndexUnreachableError("Temporary failure in name resolution")

    monkeypatch.setattr(cli, "all_versions", unreachable)
    code = cli.main(
        ["--package", str(tmp_path / "repo/custom_components/demo"), "--cache", str(tmp_path)]
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert out == [
        "compat: skipped (package index unreachable: Temporary failure in name resolution)"
    ]


def test_python_floor_of_a_release_below_our_syntax_is_incompatible(tmp_path: Path) -> None:
    """Test that a release allowing a Python older than our syntax needs is INCOMPATIBLE."""
    write(tmp_path, {"custom_components/d/__init__.py": "type X = int\n"})
    wheel_dir = tmp_path / "cache"
    make_wheel(wheel_dir, "2024.1.0", FAKE_HA, requires_python=">=3.11.0")
    tree = SourceTree.from_wheel(hafetch.wheel_path(wheel_dir, Version(2024, 1, 0)))
    rows = cli.check_versions([], {"2024.1.0": tree}, cli.python_syntax_minimum(tmp_path))
    finding = rows[cli.PYTHON_SYNTAX_LABEL].findings["2024.1.0"]
    assert finding.status is Status.INCOMPATIBLE
    assert "3.12" in finding.detail


class FakeRunner:
    """A Runner stand-in where every release from `first_good` on has everything."""

    def __init__(self, first_good: Version) -> None:
        """Set the first release without failures."""
        self.first_good = first_good
        self.asked: list[Version] = []

    def fails(self, version: Version) -> list[str]:
        """Record the release asked about; return its failures."""
        self.asked.append(version)
        return [] if version >= self.first_good else ["x (missing)"]


def test_binary_search_finds_the_first_release_with_everything() -> None:
    """Test that the binary search finds the first good release in few steps, or None."""
    candidates = [Version(2024, m, 0) for m in range(1, 13)] + [Version(2025, 4, 4)]
    runner = FakeRunner(Version(2024, 7, 0))
    assert cli.search_minimum(runner, candidates) == Version(2024, 7, 0)  # type: ignore[arg-type]
    assert len(runner.asked) <= 6
    assert cli.search_minimum(FakeRunner(Version(2030, 1, 0)), candidates) is None  # type: ignore[arg-type]


# -------------------------------------------------------------------------------- index


def test_versions_and_months() -> None:
    """Test release parsing, first-of-month selection and X.Y.x resolution."""
    versions = [
        Version.parse(v) for v in ["2025.4.4", "2025.4.0", "2025.5.1", "2025.5.0b3", "0.118.5"]
    ]
    real = sorted(v for v in versions if v is not None)
    assert [str(v) for v in real] == ["2025.4.0", "2025.4.4", "2025.5.1"]
    assert [str(v) for v in hafetch.first_of_each_month(real)] == ["2025.4.0", "2025.5.1"]
    available = [Version(2026, 1, 0), Version(2026, 1, 3), Version(2026, 2, 0)]
    assert cli.resolve_requested("2026.1.x", available) == Version(2026, 1, 3)
    assert cli.resolve_requested("2025.4.4", available) == Version(2025, 4, 4)


def test_python_314_except_lists_are_read_and_unparsable_modules_fail_loudly(
    tmp_path: Path,
) -> None:
    """Test that PEP 758 `except A, B:` parses on our Python, and other syntax raises, never MISSING."""
    write(
        tmp_path,
        {
            "homeassistant/__init__.py": "",
            "homeassistant/core.py": """
                def callback(func):
                    try:
                        return func
                    except KeyError, ValueError:
                        return None
            """,
            "homeassistant/future.py": "x = t'template {strings}' if True else lambda: (yield)\n"
            "match = 1 +\n",
        },
    )
    tree = SourceTree.from_dir(tmp_path, "fake")
    core = tree.module("homeassistant.core")
    assert core is not None and "callback" in core.names
    with pytest.raises(UnparsableSourceError, match=r"homeassistant/future\.py"):
        tree.module("homeassistant.future")
