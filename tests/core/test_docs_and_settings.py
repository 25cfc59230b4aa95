import json
import re
import subprocess
import sys
from inspect import signature
from pathlib import Path

from synthts_core import hookspecs
from synthts_core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _hook_names():
    return [n for n in dir(hookspecs) if n.startswith("register_")]


def test_every_hook_is_documented_with_its_signature():
    doc = (ROOT / "docs" / "plugin_hooks.md").read_text()
    assert _hook_names(), "no hooks found"
    for name in _hook_names():
        params = ", ".join(
            f"{p.name}: {p.annotation}" for p in signature(getattr(hookspecs, name)).parameters.values()
        )
        assert f"## {name}" in doc, f"hook {name} is not documented"
        assert f"{name}({params}) -> None" in doc, f"signature of {name} is not documented"


def test_settings_from_environment_and_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SYNTHTS_API_PORT=9123\nSYNTHTS_DISABLE_PLUGINS=a, b\n")
    monkeypatch.setenv("SYNTHTS_DATA_DIR", str(tmp_path / "d"))
    s = Settings()
    assert s.api_port == 9123 and s.disable_plugins == ["a", "b"]
    assert s.storage_uri == f"sqlite:///{tmp_path / 'd' / 'synthts.db'}"
    monkeypatch.setenv("SYNTHTS_API_PORT", "9999")
    assert Settings().api_port == 9999  # environment wins over .env


def test_config_command_masks_secrets(tmp_path):
    env = {"SYNTHTS_API_TOKEN": "hunter2", "SYNTHTS_MONGO_PASSWORD": "pw",
           "SYNTHTS_STORAGE": "mongodb://u:secretpw@localhost:27017/db",
           "SYNTHTS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "synthts_core.cli", "config", "--json"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "hunter2" not in out.stdout and "secretpw" not in out.stdout
    data = json.loads(out.stdout)
    assert data["api_token"] == "********"
    assert data["storage"] == "mongodb://u:********@localhost:27017/db"
    assert re.search(r"synthts\.db|mongodb", json.dumps(data))


def test_readme_documents_every_setting():
    from synthts_core.settings import describe_settings

    readme = (ROOT / "README.md").read_text()
    missing = [r["env"] for r in describe_settings() if f"`{r['env']}`" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"
