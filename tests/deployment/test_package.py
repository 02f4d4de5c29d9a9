"""The Teams app package: zip layout, manifest values, icons, safe JSON, and the error line."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

from deployment import build_package, make_icons, png
from deployment.build_package import PackageError, build, main, render, validate

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7a8b"
PRODUCTION = {
    "MicrosoftAppId": APP_ID, "MicrosoftAppTenantId": "8c1f0e2a-1111-4222-8333-944455556666",
    "MicrosoftAppPassword": "geheim", "STORAGE": "sqlite", "PUBLIC_BASE_URL": "https://lotsenbot.stadt.example/",
}
SCHEMA = "https://developer.microsoft.com/en-us/json-schemas/teams/v1.30/MicrosoftTeams.schema.json"


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def built(tmp_path: Path) -> tuple[dict, dict[str, bytes]]:
    files = read_zip(build(tmp_path / "lotsenbot.zip", env=PRODUCTION).path)
    return json.loads(files["manifest.json"]), files


def test_zip_holds_manifest_and_icons_at_root(built) -> None:
    _, files = built
    assert sorted(files) == ["color.png", "manifest.json", "outline.png"]


def test_manifest_values(built) -> None:
    manifest, _ = built
    assert manifest["$schema"] == SCHEMA and manifest["manifestVersion"] == "1.30"
    assert manifest["id"] == str(uuid.uuid5(build_package.TEAMS_APP_NAMESPACE, APP_ID))
    assert manifest["name"] == {"short": "Lotsenbot", "full": "Lotsenbot – Ihre Hilfe für digitale Werkzeuge"}
    assert manifest["developer"] == {
        "name": "Stadtverwaltung – CDO-Büro", "websiteUrl": "https://lotsenbot.stadt.example",
        "privacyUrl": "https://lotsenbot.stadt.example/datenschutz",
        "termsOfUseUrl": "https://lotsenbot.stadt.example/nutzungsbedingungen"}
    assert manifest["validDomains"] == ["lotsenbot.stadt.example"]
    assert manifest["localizationInfo"] == {"defaultLanguageTag": "de-de"}
    assert "Digitallots*innen" in manifest["description"]["full"]
    assert "Vernetzungsveranstaltungen" in manifest["description"]["full"]
    (bot,) = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert bot["supportsFiles"] is False and bot["isNotificationOnly"] is False
    assert [entry["scopes"] for entry in bot["commandLists"]] == [["personal"], ["team", "groupChat"]]
    personal, shared = ([c["title"] for c in entry["commands"]] for entry in bot["commandLists"])
    assert personal[:2] == ["hilfe", "lots*in fragen"] and "veranstaltungen" in shared


def test_every_advertised_command_is_routed_by_the_bot(built, tmp_path) -> None:
    """A command Teams offers in its menu must reach its handler, not the knowledge base."""
    from app import PARTS, create_app
    from tests.fakes.harness import local_settings

    manifest, _ = built
    router = create_app(local_settings(tmp_path))[PARTS]["router"]
    titles = {c["title"] for entry in manifest["bots"][0]["commandLists"] for c in entry["commands"]}
    for title in titles:
        command, _ = router.match(title)
        assert command is not None, f"manifest command {title!r} is not in the routing table"


def test_icons_have_teams_sizes_and_white_outline(built) -> None:
    _, files = built
    assert png.size(files["color.png"]) == (192, 192)
    assert png.size(files["outline.png"]) == (32, 32)
    outline = png.decode_rgba(files["outline.png"])
    assert {pixel[:3] for pixel in outline} == {(255, 255, 255)}
    assert {pixel[3] for pixel in outline} == {0, 255}
    assert len({pixel[:3] for pixel in png.decode_rgba(files["color.png"])}) > 5


def test_committed_icons_match_the_generator(tmp_path: Path) -> None:
    for written in make_icons.write_icons(tmp_path):
        assert written.read_bytes() == (make_icons.ICON_DIR / written.name).read_bytes()


def test_rebuild_is_identical_and_teams_app_id_can_be_set(tmp_path: Path) -> None:
    first = build(tmp_path / "a.zip", env=PRODUCTION).path.read_bytes()
    assert build(tmp_path / "b.zip", env=PRODUCTION).path.read_bytes() == first
    chosen = "0f0e0d0c-0b0a-4909-8807-060504030201"
    package = build(tmp_path / "c.zip", env={**PRODUCTION, "TEAMS_APP_ID": chosen, "TEAMS_APP_VERSION": "2.3.4"})
    assert (package.manifest["id"], package.manifest["version"]) == (chosen, "2.3.4")


def test_user_values_with_quotes_and_backslashes_stay_valid_json(tmp_path: Path) -> None:
    name = 'Lo"ts\\en {{ x }}\n'
    base = 'https://lotsen.stadt.example/pfad"mit\\zeichen'
    package = build(tmp_path / "p.zip", env={**PRODUCTION, "BOT_NAME": name, "PUBLIC_BASE_URL": base})
    manifest = json.loads(read_zip(package.path)["manifest.json"])
    assert manifest["name"]["short"] == name.strip()
    assert manifest["developer"]["privacyUrl"] == base + "/datenschutz"
    assert manifest["validDomains"] == ["lotsen.stadt.example"]


def test_template_refuses_values_without_json_filter() -> None:
    assert render('{"a": {{ v | json }}}', {"v": 'x"y'}) == '{"a": "x\\"y"}'
    with pytest.raises(PackageError, match="json"):
        render('{"a": "{{ v }}"}', {"v": "x"})
    with pytest.raises(PackageError, match="undefined"):
        render('{"a": {{ missing | json }}}', {})


def test_missing_app_id_fails_with_one_line(tmp_path: Path, capsys) -> None:
    out = tmp_path / "p.zip"
    assert main(["--out", str(out)], env={"PUBLIC_BASE_URL": "https://lotsen.stadt.example"}) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "MicrosoftAppId fehlt" in error and "--app-id" in error
    assert not out.exists()


def test_dev_build_with_app_id_flag_and_example_urls(tmp_path: Path, capsys) -> None:
    out = tmp_path / "dev.zip"
    assert main(["--out", str(out), "--app-id", APP_ID], env={}) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert "Beispiel-Adressen" in captured.err
    manifest = json.loads(read_zip(out)["manifest.json"])
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["developer"]["websiteUrl"].startswith("https://beispiel.example.com/")
    assert manifest["validDomains"] == []


@pytest.mark.parametrize("env, message", [
    ({**PRODUCTION, "MicrosoftAppId": "keine-guid"}, "MicrosoftAppId='keine-guid'"),
    ({**PRODUCTION, "TEAMS_APP_ID": "123"}, "TEAMS_APP_ID='123'"),
    ({**PRODUCTION, "TEAMS_APP_VERSION": "1.0"}, "version='1.0'"),
    ({**PRODUCTION, "BOT_NAME": "L" * 31}, "name.short"),
    ({**PRODUCTION, "PUBLIC_BASE_URL": "http://lotsen.stadt.example"}, "https://"),
    ({**PRODUCTION, "MicrosoftAppTenantId": ""}, "MicrosoftAppTenantId fehlt"),
])
def test_bad_settings_fail_with_a_clear_line(tmp_path: Path, capsys, env: dict, message: str) -> None:
    assert main(["--out", str(tmp_path / "p.zip")], env=env) == 1
    error = capsys.readouterr().err
    assert error.startswith("Fehler: ") and error.count("\n") == 1 and message in error


def _icons() -> dict[str, bytes]:
    return {name: (make_icons.ICON_DIR / name).read_bytes() for name in ("color.png", "outline.png")}


@pytest.mark.parametrize("change, message", [
    (lambda m, i: m.pop("accentColor"), "accentColor fehlt"),
    (lambda m, i: m["description"].update(short="x" * 81), "description.short"),
    (lambda m, i: m["bots"][0]["commandLists"][0]["commands"][0].update(title="x" * 33), "Befehlstitel"),
    (lambda m, i: m["bots"][0].update(botId="not-a-guid"), "botId"),
    (lambda m, i: m.update(validDomains=["https://lotsen.stadt.example/pfad"]), "validDomains"),
    (lambda m, i: m.update(manifestVersion="1.17"), "manifestVersion"),
    (lambda m, i: i.update({"color.png": i["outline.png"]}), "32×32 Pixel, erwartet 192×192"),
    (lambda m, i: i.update({"outline.png": png.encode_rgba(32, 32, bytes((255, 0, 0, 255)) * 1024)}), "weiße"),
    (lambda m, i: i.pop("outline.png"), "fehlt im Paket"),
])
def test_validation_names_the_problem(built, change, message: str) -> None:
    manifest, icons = copy.deepcopy(built[0]), _icons()
    validate(manifest, icons)
    change(manifest, icons)
    with pytest.raises(PackageError, match=message):
        validate(manifest, icons)


def test_module_entry_point_exit_code(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "deployment.build_package", "--out", str(tmp_path / "p.zip")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("Fehler: MicrosoftAppId fehlt") and result.stderr.count("\n") == 1
