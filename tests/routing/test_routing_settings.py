"""The pilot-routing settings: defaults, checks, and one clear line per mistake."""

from __future__ import annotations

import pytest

from settings import ROOT, Settings, SettingsError

PRODUCTION = {"MicrosoftAppId": "app", "MicrosoftAppPassword": "secret", "MicrosoftAppTenantId": "tenant",
              "STORAGE": "sqlite"}


def test_defaults_in_local_mode_seed_the_fictional_sample():
    s = Settings.from_env({})
    assert (s.escalation_timeout_hours, s.escalation_max_candidates, s.business_hours, s.business_timezone) == (
        4.0, 3, "Mo-Fr 08:00-16:00", "Europe/Berlin")
    assert s.pilots_file == ROOT / "routing" / "sample_pilots.yaml"
    assert s.graph_base_url == "https://graph.microsoft.com" and s.admin_aad_ids == ()
    assert s.request_retention_days == 180


def test_production_never_seeds_sample_pilots_unless_told():
    assert Settings.from_env(PRODUCTION).pilots_file is None


def test_values_are_read_and_normalised(tmp_path):
    seed = tmp_path / "p.yaml"
    seed.write_text("pilots: []\n")
    s = Settings.from_env({"ADMIN_AAD_IDS": " AAA-1 , bbb-2,", "PILOTS_CHANNEL_ID": "19:x@thread.tacv2",
                           "PILOTS_TEAM_ID": "19:t@thread.tacv2", "ESCALATION_TIMEOUT_HOURS": "2.5",
                           "ESCALATION_MAX_CANDIDATES": "5", "BUSINESS_HOURS": "Mo-Do 07:30-16:00; Fr 07:30-12:00",
                           "GRAPH_BASE_URL": "http://127.0.0.1:1234/", "PILOTS_FILE": str(seed),
                           "REQUEST_RETENTION_DAYS": "30"})
    assert s.admin_aad_ids == ("aaa-1", "bbb-2")
    assert (s.pilots_channel_id, s.pilots_team_id) == ("19:x@thread.tacv2", "19:t@thread.tacv2")
    assert (s.escalation_timeout_hours, s.escalation_max_candidates) == (2.5, 5)
    assert s.graph_base_url == "http://127.0.0.1:1234" and s.pilots_file == seed and s.request_retention_days == 30


@pytest.mark.parametrize("env, names", [
    ({"BUSINESS_HOURS": "immer"}, "BUSINESS_HOURS"),
    ({"BUSINESS_TIMEZONE": "Europe/Atlantis"}, "BUSINESS_TIMEZONE"),
    ({"ESCALATION_TIMEOUT_HOURS": "0"}, "ESCALATION_TIMEOUT_HOURS"),
    ({"ESCALATION_MAX_CANDIDATES": "drei"}, "ESCALATION_MAX_CANDIDATES"),
    ({"PILOTS_FILE": "/nirgends/pilots.yaml"}, "PILOTS_FILE"),
    ({**PRODUCTION, "GRAPH_BASE_URL": "http://graph.example"}, "GRAPH_BASE_URL"),
])
def test_mistakes_name_the_variable(env, names):
    with pytest.raises(SettingsError, match=names):
        Settings.from_env(env)
