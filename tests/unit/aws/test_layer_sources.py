"""The SwanLayer carries the project's modules the Lambda functions run, and nothing else:
sam/layer/sources.py follows their imports; a function imported from that tree alone starts.
(tests/integration/test_sam.py checks the same on what `sam build` builds.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_support import function_environment
from layer_support import ROOT, cold_starts, forbidden, sources

FOLDERS = {
    "UpdateButtonStatusFunction": "update_button_status",
    "ExpireCountdownFunction": "expire_countdown",
    "RegisterDeviceFunction": "register_device",
}


@pytest.fixture(scope="module")
def layer(tmp_path_factory):
    """The layer's python/ tree as the Makefile copies it (sources only)."""
    target = tmp_path_factory.mktemp("layer") / "python"
    assert sources().main([str(ROOT), str(target)]) == 0
    return target


def copied(layer):
    return sorted(path.relative_to(layer) for path in layer.rglob("*") if path.is_file())


def test_the_layer_carries_the_handlers_and_what_they_import(layer):
    files = {str(path) for path in copied(layer)}
    for needed in (
        "swan/__init__.py",
        "swan/handlers/__init__.py",
        "swan/handlers/push.py",
        "swan/handlers/expire.py",
        "swan/handlers/register.py",
        "swan/handlers/wiring.py",
        "swan/core/countdown.py",
        "swan/adapters/iotdata.py",
        "swan/adapters/history_dynamo.py",
        "swan/settings.py",
    ):
        assert needed in files


def test_the_layer_carries_nothing_of_the_stand_in_bench_deploy_commands_or_device(layer):
    files = copied(layer)
    assert forbidden(files) == []
    assert not [path for path in files if path.suffix != ".py"]


def test_every_function_starts_from_the_layer_alone(layer):
    functions = {
        logical_id: ROOT / "sam" / "functions" / folder / "app.py"
        for logical_id, folder in FOLDERS.items()
    }
    loaded = cold_starts(layer, functions, function_environment())
    assert "swan.handlers.push" in loaded
    assert "swan.handlers.register" in loaded
    outside = {name: file for name, file in loaded.items() if not file.startswith(str(layer))}
    assert outside == {}
    assert sorted(name for name in loaded if name.startswith(("swan.local", "device"))) == []


def test_a_module_the_layer_lacks_stops_a_cold_start(layer, tmp_path):
    """The check above can fail: without the shadow adapter, the push function cannot start."""
    trimmed = tmp_path / "python"
    for path in copied(layer):
        if path != Path("swan/adapters/iotdata.py"):
            (trimmed / path).parent.mkdir(parents=True, exist_ok=True)
            (trimmed / path).write_bytes((layer / path).read_bytes())
    app = ROOT / "sam" / "functions" / "update_button_status" / "app.py"
    with pytest.raises(AssertionError, match=r"swan\.adapters\.iotdata"):
        cold_starts(trimmed, {"UpdateButtonStatusFunction": app}, function_environment())


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_imports_are_followed_at_module_level_in_functions_and_relatively(tmp_path):
    write(tmp_path, "sam/functions/one/app.py", "from swan.handlers import push\n")
    write(tmp_path, "swan/__init__.py", "")
    write(tmp_path, "swan/handlers/__init__.py", "")
    write(
        tmp_path,
        "swan/handlers/push.py",
        "import json\n"
        "from swan.core.rules import decide\n"
        "def later():\n"
        "    import swan.adapters.store\n"
        "from . import wiring\n",
    )
    write(tmp_path, "swan/handlers/wiring.py", "from ..settings import Settings\n")
    write(tmp_path, "swan/core/__init__.py", "")
    write(tmp_path, "swan/core/rules.py", "")
    write(tmp_path, "swan/adapters/store.py", "")
    write(tmp_path, "swan/settings.py", "")
    write(tmp_path, "swan/unused.py", "")
    assert [str(path) for path in sources().layer_files(tmp_path)] == [
        "swan/__init__.py",
        "swan/adapters/store.py",
        "swan/core/__init__.py",
        "swan/core/rules.py",
        "swan/handlers/__init__.py",
        "swan/handlers/push.py",
        "swan/handlers/wiring.py",
        "swan/settings.py",
    ]


def test_imports_only_for_the_type_checker_are_left_out(tmp_path):
    write(tmp_path, "sam/functions/one/app.py", "import swan.handler\n")
    write(tmp_path, "swan/__init__.py", "")
    write(
        tmp_path,
        "swan/handler.py",
        "import typing\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from swan.local import stack\n"
        "else:\n"
        "    from swan import runtime\n"
        "if typing.TYPE_CHECKING:\n"
        "    import device.pi\n",
    )
    write(tmp_path, "swan/runtime.py", "")
    write(tmp_path, "swan/local/__init__.py", "")
    write(tmp_path, "swan/local/stack.py", "")
    write(tmp_path, "device/__init__.py", "")
    write(tmp_path, "device/pi.py", "")
    assert [str(path) for path in sources().layer_files(tmp_path)] == [
        "swan/__init__.py",
        "swan/handler.py",
        "swan/runtime.py",
    ]


def test_the_script_lists_or_copies_and_refuses_other_arguments(capsys):
    script = sources()
    assert script.main([str(ROOT)]) == 0
    assert "swan/handlers/push.py\n" in capsys.readouterr().out
    assert script.main([]) == 2
    assert "usage" in capsys.readouterr().err
