"""A tool module beside the suite: imported without PYTHONPATH, shipped to the runners; typos."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from voxray.actors.errors import ConfigError, ToolSpecError
from voxray.actors.tools.spec import build_tool_spec
from voxray.evals.runner import plan_runs
from voxray.evals.suite import load_suite

TOOLS = '''
def room_price(room: str) -> dict[str, object]:
    """Price of a hotel room per night.

    Args:
        room: the room type.
    """
    return {"room": room, "price_eur": 120}
'''

SUITE = """
name: hotel
scenarios:
  - name: price
    agent: {tools: [REF]}
    turns: [{text: How much is a double room}]
"""


@pytest.fixture
def fresh_modules() -> Iterator[None]:
    # Each test writes its own module under a name no other test imports; forget it after.
    before = set(sys.modules)
    path = list(sys.path)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("hotel_tools", "hotel_pkg")):
            del sys.modules[name]
    assert sys.path == path, "loading a suite must not leave its folder on sys.path"


def _suite(folder: Path, ref: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hotel.yaml"
    path.write_text(SUITE.replace("REF", ref))
    return path


@pytest.mark.usefixtures("fresh_modules")
def test_a_module_beside_the_suite_loads_and_is_shipped_to_the_runners(tmp_path: Path) -> None:
    folder = tmp_path / "suites"
    suite_path = _suite(folder, "hotel_tools_a:room_price")
    (folder / "hotel_tools_a.py").write_text(TOOLS)
    (spec,) = load_suite(suite_path).scenarios[0].agent.tools
    assert spec.name == "room_price"
    assert spec.description == "Price of a hotel room per night."
    # The runners (on any node) import the same file through Ray's runtime_env.
    assert spec.runtime_env == {"py_modules": [str((folder / "hotel_tools_a.py").resolve())]}


@pytest.mark.usefixtures("fresh_modules")
def test_a_package_beside_the_suite_is_shipped_as_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "suites"
    suite_path = _suite(folder, "hotel_pkg_b.prices:room_price")
    (folder / "hotel_pkg_b").mkdir()
    (folder / "hotel_pkg_b" / "__init__.py").write_text("")
    (folder / "hotel_pkg_b" / "prices.py").write_text(TOOLS)
    (spec,) = load_suite(suite_path).scenarios[0].agent.tools
    assert spec.runtime_env == {"py_modules": [str((folder / "hotel_pkg_b").resolve())]}


@pytest.mark.usefixtures("fresh_modules")
def test_a_tool_default_beside_the_suite_loads_too(tmp_path: Path) -> None:
    folder = tmp_path / "suites"
    (folder).mkdir()
    (folder / "hotel_tools_c.py").write_text(TOOLS)
    path = folder / "hotel.yaml"
    path.write_text(
        "name: hotel\ndefaults: {agent: {tools: [hotel_tools_c:room_price]}}\n"
        "scenarios: [{name: price, turns: [{text: hi}]}]\n"
    )
    (spec,) = load_suite(path).scenarios[0].agent.tools
    assert spec.runtime_env is not None


def test_installed_tools_are_not_shipped() -> None:
    spec = build_tool_spec("voxray.examples.tools:get_weather", search_path=Path.cwd())
    assert spec.runtime_env is None


@pytest.mark.usefixtures("fresh_modules")
def test_a_missing_module_names_the_folder_it_looked_in(tmp_path: Path) -> None:
    suite_path = _suite(tmp_path, "hotel_tools_missing:room_price")
    with pytest.raises(ConfigError, match=r"module not found: .*\(nor in .*\)"):
        load_suite(suite_path)


def test_a_misspelt_tool_function_gets_a_did_you_mean() -> None:
    with pytest.raises(ToolSpecError) as caught:
        build_tool_spec("voxray.examples.tools:get_wether")
    assert "'get_wether' not found in voxray.examples.tools; did you mean 'get_weather'?" in str(
        caught.value
    )


def test_a_far_off_name_lists_the_functions_there() -> None:
    with pytest.raises(ToolSpecError) as caught:
        build_tool_spec("voxray.examples.tools:forecast")
    assert "it has: " in str(caught.value)
    assert "get_weather" in str(caught.value) and "lookup_order" in str(caught.value)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_cluster", "fresh_modules")
def test_a_shipped_module_imports_in_a_runner_started_by_another_actor(tmp_path: Path) -> None:
    # The tool pool's keeper (an actor) starts the runners: Ray refuses local paths there, so
    # the driver uploads them; a runner on any node then imports the suite's own file.
    import ray
    from voxray.evals.tool_modules import ship_tool_modules

    folder = tmp_path / "suites"
    suite_path = _suite(folder, "hotel_tools_d:room_price")
    (folder / "hotel_tools_d.py").write_text(TOOLS)
    suite = load_suite(suite_path)
    runs = plan_runs(suite.model_copy(update={"repeat": 2}), suite.scenarios, set())
    shipped = ship_tool_modules(runs)
    assert shipped[0].spec is shipped[1].spec  # the repeats share one upload
    (spec,) = shipped[0].spec.agent.tools
    assert spec.runtime_env is not None
    (uri,) = spec.runtime_env["py_modules"]
    assert uri.startswith("gcs://"), uri
    again = ship_tool_modules(shipped)
    assert all(a is b for a, b in zip(again, shipped, strict=True))  # nothing local is left

    @ray.remote(num_cpus=0)
    class Runner:
        def call(self, ref: str) -> object:
            from voxray.actors.tools.spec import load_tool

            return load_tool(ref).function("double")

    @ray.remote(num_cpus=0)
    class Keeper:
        def start_and_call(self, runtime_env: dict[str, object], ref: str) -> object:
            runner = Runner.options(runtime_env=runtime_env).remote()
            return ray.get(runner.call.remote(ref))

    keeper = Keeper.remote()
    try:
        result = ray.get(keeper.start_and_call.remote(spec.runtime_env, spec.ref), timeout=120)
    finally:
        ray.kill(keeper)
    assert result == {"room": "double", "price_eur": 120}


def test_runs_without_local_modules_are_returned_as_they_are() -> None:
    from voxray.evals.tool_modules import ship_tool_modules

    suite = load_suite("smoke")
    runs = plan_runs(suite, suite.scenarios, set())
    assert all(a is b for a, b in zip(ship_tool_modules(runs), runs, strict=True))
