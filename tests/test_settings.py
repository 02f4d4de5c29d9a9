"""Settings: two modes from one parser; every bad value stops start-up with one line naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from settings import Settings, SettingsError, read_dotenv

ROOT = Path(__file__).resolve().parents[1]
PROD = {"MicrosoftAppId": "app", "MicrosoftAppPassword": "pw", "MicrosoftAppTenantId": "t",
        "COSMOS_ENDPOINT": "https://acct.documents.azure.com:443/", "COSMOS_KEY": "a2V5"}


def test_local_mode_needs_nothing(tmp_path):
    s = Settings.from_env({"DATA_DIR": str(tmp_path)})
    assert s.local and s.storage == "sqlite" and s.port == 3978 and s.host == "127.0.0.1"
    assert s.sqlite_path == tmp_path / "lotsenbot.sqlite3"


def test_production_mode_defaults_to_cosmos_and_single_tenant():
    s = Settings.from_env(PROD)
    assert not s.local and s.storage == "cosmos" and s.app_type == "SingleTenant" and s.host == "0.0.0.0"
    assert "pw" not in repr(s) and "a2V5" not in repr(s)


@pytest.mark.parametrize("env, names", [
    ({**PROD, "MicrosoftAppTenantId": ""}, "MicrosoftAppTenantId"),
    ({**PROD, "MicrosoftAppPassword": ""}, "MicrosoftAppPassword"),
    ({**PROD, "MicrosoftAppType": "MultiTenant"}, "MicrosoftAppType"),
    ({**PROD, "MicrosoftAppType": "UserAssignedMSI"}, "MicrosoftAppPassword"),
    ({**PROD, "COSMOS_ENDPOINT": ""}, "COSMOS_ENDPOINT"),
    ({**PROD, "COSMOS_ENDPOINT": "http://x"}, "COSMOS_ENDPOINT"),
    ({**PROD, "COSMOS_KEY": ""}, "COSMOS_KEY"),
    ({**PROD, "COSMOS_VERIFY_TLS": "false"}, "COSMOS_VERIFY_TLS"),
    ({"MicrosoftAppPassword": "pw"}, "MicrosoftAppId"),
    ({"PORT": "abc"}, "PORT"), ({"PORT": "70000"}, "PORT"),
    ({"ANSWER_CONFIDENCE": "1.5"}, "ANSWER_CONFIDENCE"),
    ({"SUGGEST_CONFIDENCE": "0.8", "ANSWER_CONFIDENCE": "0.6"}, "SUGGEST_CONFIDENCE"),
    ({"STORAGE": "mongo"}, "STORAGE"), ({"COSMOS_VERIFY_TLS": "vielleicht"}, "COSMOS_VERIFY_TLS"),
    ({"SEND_RATE_PER_SECOND": "0"}, "SEND_RATE_PER_SECOND"),
    ({"AUTH_CA_BUNDLE": "/nope/ca.pem"}, "AUTH_CA_BUNDLE"),
])
def test_bad_settings_name_the_variable(env, names):
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    assert names in str(err.value)
    assert "\n" not in str(err.value)


def test_managed_identity_needs_no_password():
    s = Settings.from_env({**PROD, "MicrosoftAppType": "UserAssignedMSI", "MicrosoftAppPassword": ""})
    assert s.app_type == "UserAssignedMSI"


def test_dotenv_is_read_and_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text('# Kommentar\nPORT=4000\nexport BOT_NAME="Lotse"\nLOG_LEVEL=DEBUG\n')
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    s = Settings.from_env(dotenv=env_file)
    assert s.port == 4000 and s.bot_name == "Lotse" and s.log_level == "ERROR"
    assert read_dotenv(tmp_path / "missing") == {}
    env_file.write_text("kein gleichheitszeichen\n")
    with pytest.raises(SettingsError):
        read_dotenv(env_file)


def test_settings_are_frozen():
    s = Settings.from_env({})
    with pytest.raises(Exception):
        s.port = 1  # type: ignore[misc]


def test_start_up_with_a_bad_setting_prints_one_line_and_exits(tmp_path):
    proc = subprocess.run([sys.executable, "app.py"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PORT": "nope", "DATA_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "PORT" in proc.stderr and "Traceback" not in proc.stderr
