"""``tocsin follow`` and the followed-feeds file: trust is configured, a bad entry is refused whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tocsin.cli import main
from tocsin.config import Settings, SettingsError
from tocsin.demo import ensure_demo
from tocsin.follow.config import FollowConfigError, load_follows
from tocsin.regions import default_region_set
from tocsin.runtime import Hub
from tocsin.trust.note import Signer

HUB_URL = "https://a.example/feeds/alerts.atom"


def follow(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["follow", *args, "--data-dir", str(data_dir)])


def test_follow_writes_a_hub_with_its_keys_and_a_cap_feed(tmp_path: Path) -> None:
    root, log = Signer.generate("hub-a-root").verifier(), Signer.generate("a.example/log").verifier()
    (tmp_path / "log.pub").write_text(log.vkey + "\n")
    result = follow(tmp_path, HUB_URL, "--name", "hub-a", "--registry-root", root.vkey,
                    "--log-key", str(tmp_path / "log.pub"))
    assert result.exit_code == 0, result.output
    assert follow(tmp_path, "https://alerts.example/cap.atom").exit_code == 0
    hub, cap = load_follows(tmp_path / "follows.toml")
    assert (hub.name, hub.kind, hub.origin, hub.api_base) == ("hub-a", "tocsin", "a.example/log",
                                                              "https://a.example")
    assert hub.registry_root == root and hub.log_key == log
    assert (cap.name, cap.kind, cap.registry_root) == ("alerts.example", "cap", None)


@pytest.mark.parametrize(("args", "message"), [
    (("--registry-root", "nonsense"), "not a verifier key"),
    (("--log-key", Signer.generate("l").verifier().vkey), "registry_root and log_key"),
    (("--interval", "0.1"), "interval_secs must be"),
    (("--cert", "/nonexistent.pem"), "certificate"),
])
def test_a_bad_entry_is_refused_and_nothing_is_written(tmp_path: Path, args: tuple[str, ...],
                                                       message: str) -> None:
    result = follow(tmp_path, HUB_URL, *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "follows.toml").exists()


def test_a_name_is_followed_once(tmp_path: Path) -> None:
    assert follow(tmp_path, HUB_URL, "--name", "x").exit_code == 0
    again = follow(tmp_path, "https://b.example/feed.atom", "--name", "x")
    assert again.exit_code == 2 and "already followed" in again.output


def test_a_bad_follows_file_stops_the_hub_at_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo=True)
    registry = ensure_demo(settings.data_dir, default_region_set())
    (settings.data_dir / "follows.toml").write_text(
        '[[feed]]\nname = "hub-a"\nurl = "https://a.example/feeds/alerts.atom"\nkind = "tocsin"\n')
    with pytest.raises(SettingsError, match="registry_root and log_key"):
        Hub(settings, registry_bytes=registry.read_bytes(), registry_path=registry)
    assert not settings.db_path.exists()  # refused before anything was written
    assert not (settings.data_dir / "relayed.sqlite3").exists()
    with pytest.raises(FollowConfigError, match="unknown field"):
        (tmp_path / "f.toml").write_text('[[feed]]\nname = "x"\nurl = "https://x.example/"\ntrust = "me"\n')
        load_follows(tmp_path / "f.toml")


def test_follow_once_polls_now_prints_the_verdicts_and_writes_nothing(tmp_path: Path) -> None:
    from tests.cap.conftest import SAMPLES

    from tocsin.testing import serve_asgi

    from .servers import cap_feed_app

    nws = SAMPLES / "valid-1.2" / "us-nws_multiple-polygons-update.xml"
    app = cap_feed_app({"nws.xml": nws.read_bytes()}, {"plain": ["nws.xml"]})
    env = {"TOCSIN_FOLLOW_ALLOWED_HOSTS": "127.0.0.1"}
    with serve_asgi(app) as url:
        good = CliRunner().invoke(main, ["follow", f"{url}/plain.atom", "--once", "--data-dir",
                                         str(tmp_path)], env=env)
        bad = CliRunner().invoke(main, ["follow", f"{url}/malformed.atom", "--once", "--data-dir",
                                        str(tmp_path)], env=env)
        private = CliRunner().invoke(main, ["follow", f"{url}/plain.atom", "--once", "--data-dir",
                                            str(tmp_path)])  # 127.0.0.1 not allowed: SSRF rule
    assert good.exit_code == 0 and "relayed, unverified: Hurricane Warning" in good.output, good.output
    assert bad.exit_code == 1 and "feed refused: feed_malformed" in bad.output, bad.output
    assert private.exit_code == 1 and "feed_address_refused" in private.output, private.output
    assert not (tmp_path / "follows.toml").exists() and not (tmp_path / "relayed.sqlite3").exists()


def test_a_feed_url_with_a_password_is_refused(tmp_path: Path) -> None:
    """Fetches refuse user info in a URL, and the refusal names the URL: a password in a feed
    URL would be shown to the public at ``/api/v1/follows`` poll after poll. It is refused when
    the feed is added (an API key in the query is allowed, and never shown)."""
    result = follow(tmp_path, "https://reader:s3cret@alerts.example/cap.atom")
    assert result.exit_code == 2 and "user info" in result.output and "s3cret" not in result.output, \
        result.output
    assert not (tmp_path / "follows.toml").exists()
