"""The widget's and the console's message catalogues: every language has every English key (and no stray
ones), each string the widget writes in English is the English catalogue's, and the catalogues are
served to embedding sites with the widget's CORS rule."""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask import Flask

from console.widget_i18n import CATALOGUES, WIDGET_LOCALES

STATIC = Path(__file__).resolve().parents[1] / "console" / "static"


def _catalogue(name: str) -> dict[str, str]:
    return dict(json.loads((CATALOGUES / name).read_text(encoding="utf-8")))


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_every_widget_catalogue_has_every_english_key() -> None:
    english = _catalogue("widget.en.json")
    assert set(WIDGET_LOCALES) == {"en", "de", "fr", "es"}
    for lang in WIDGET_LOCALES:
        strings = _catalogue(f"widget.{lang}.json")
        assert set(strings) == set(english), (lang, set(english) ^ set(strings))
        for key, text in strings.items():
            assert isinstance(text, str) and text.strip(), (lang, key)
            assert _placeholders(text) == _placeholders(english[key]), (lang, key)
        if lang != "en":
            assert strings["send"] != english["send"], lang  # translated, not copied


# tx("key", "English"), localizeDefault(el, "key", "English"), localize(el, "key", "English"),
# localizeAttr(el, "attribute", "key", "English") and localizeNotice("key", "English"): each names a
# catalogue key and its English fallback.
CALL = re.compile(r'(?:\btx\(|\blocalizeNotice\(|\blocalizeDefault\(\w+, |\blocalize(?:Attr)?\(.*?, (?:"[\w-]+", )?)'
                  r'"([a-z_]+)",\s*"((?:[^"\\]|\\.)*)"')
FRONT_ENDS = ("webchat_render.js", "widget.js", "hosted_chat.js")  # the renderer and the two pages using it


def test_the_widget_and_the_hosted_page_write_the_english_catalogue() -> None:
    """Every string the customer's two front ends write in English is the English catalogue's, and every
    catalogue string is used by one of them."""
    english = _catalogue("widget.en.json")
    calls = [c for name in FRONT_ENDS for c in CALL.findall((STATIC / name).read_text(encoding="utf-8"))]
    assert len({k for k, _ in calls}) >= 45
    for key, text in calls:
        assert key in english, key
        assert english[key] == json.loads(f'"{text}"'), key
    assert {k for k, _ in calls} == set(english)  # and no catalogue string is unused
    assert "FEEDBACK_TEXT" not in (STATIC / "widget.js").read_text(encoding="utf-8")  # one set of strings


def test_the_feedback_strings_are_translated() -> None:
    """The pre-chat form and the rating speak each language (setLocale and the hosted page pick them)."""
    english = _catalogue("widget.en.json")
    for lang in ("de", "fr", "es"):
        strings = _catalogue(f"widget.{lang}.json")
        for key in ("prechat_title", "prechat_start", "rating_title", "rating_send", "rating_thanks", "ended"):
            assert strings[key] != english[key], (lang, key)
    assert _catalogue("widget.de.json")["rating_title"] == "Wie war dieser Chat?"


def test_the_console_catalogue_covers_what_the_about_panel_says() -> None:
    english = _catalogue("console.en.json")
    source = (STATIC / "console_about.js").read_text(encoding="utf-8")
    for key, text in re.findall(r'\btr\("([a-z_.]+)",\s*"([^"]*)"\)', source):
        assert english.get(key) == text, key


def test_the_catalogues_are_served_to_other_sites(app: Flask) -> None:
    client = app.test_client()
    r = client.get("/webchat/i18n/de.json", headers={"Origin": "https://shop.example.com"})
    assert r.status_code == 200 and r.get_json()["locale"] == "de"
    assert r.get_json()["strings"]["send"] == "Senden"
    assert r.headers.get("Access-Control-Allow-Origin") in ("*", "https://shop.example.com")
    bad = client.get("/webchat/i18n/xx.json")
    assert bad.status_code == 404 and bad.get_json()["error"]["code"] == "unknown_locale"
    assert client.get("/webchat/i18n/..%2Fconsole.en.json").status_code == 404
