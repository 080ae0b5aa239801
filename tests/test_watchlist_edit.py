"""Commands that add to the watchlist keep every byte the user wrote, and refuse what the loader would refuse."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tosmon.errors import ConfigError
from tosmon.watchlist import load_watchlist, parse_watchlist
from tosmon.watchlist_edit import add_documents, renamed_watchlist, write_watchlist

BLOCK = """\
# My watchlist — café, 音楽: keep these comments!
defaults:
  accept_language: en   # English pages

services:
  # Music
  SoundCloud:
    Terms of Service:
      url: 'https://soundcloud.com/terms-of-use'   # single quotes on purpose
      remove:
      - ".cookie-banner"
    Privacy Policy:
      url: https://soundcloud.com/pages/privacy

  # Video
  YouTube:
    Terms of Service:
      url: "https://www.youtube.com/t/terms"

  # Bandcamp: to do
  # Bandcamp:
  #   Terms of Service:

schedule: "0 4 * * *"   # nightly
"""


def test_new_document_goes_at_the_end_of_its_service_and_nothing_else_moves(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(BLOCK, encoding="utf-8")
    add_documents(
        path,
        {
            "SoundCloud": {
                "Community Guidelines": {"url": "https://soundcloud.com/community", "select": ["main"]}
            }
        },
    )
    added = (
        "    Community Guidelines:\n"
        "      url: https://soundcloud.com/community\n"
        "      select:\n"
        "      - main\n"
    )
    at = BLOCK.index("\n", BLOCK.index("pages/privacy")) + 1
    assert path.read_text(encoding="utf-8") == BLOCK[:at] + added + BLOCK[at:]
    ids = [d.id for d in load_watchlist(path).documents]
    assert ids[:3] == [
        "SoundCloud/Terms of Service",
        "SoundCloud/Privacy Policy",
        "SoundCloud/Community Guidelines",
    ]


def test_new_service_goes_at_the_end_of_services_before_trailing_comments(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(BLOCK, encoding="utf-8")
    add_documents(
        path,
        {"Écoute: radio": {"Terms of Service": {"url": "https://ecoute.example/cgu", "fetcher": "browser"}}},
    )
    added = (
        "  'Écoute: radio':\n"
        "    Terms of Service:\n"
        "      url: https://ecoute.example/cgu\n"
        "      fetcher: browser\n"
    )
    at = BLOCK.index("\n", BLOCK.index("youtube.com/t/terms")) + 1
    assert path.read_text(encoding="utf-8") == BLOCK[:at] + added + BLOCK[at:]
    document = load_watchlist(path).documents[-1]
    assert (document.id, document.fetcher) == ("Écoute: radio/Terms of Service", "browser")


def test_documents_of_the_last_service_and_new_services_keep_their_order(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(BLOCK, encoding="utf-8")
    add_documents(
        path,
        {
            "Vimeo": {"Terms of Service": {"url": "https://vimeo.com/terms"}},
            "YouTube": {"Privacy Policy": {"url": "https://policies.google.com/privacy"}},
            "Twitch": {"Terms of Service": {"url": "https://twitch.tv/terms"}},
        },
    )
    assert [d.id for d in load_watchlist(path).documents][2:] == [
        "YouTube/Terms of Service",
        "YouTube/Privacy Policy",
        "Vimeo/Terms of Service",
        "Twitch/Terms of Service",
    ]
    assert path.read_text(encoding="utf-8").endswith(
        "twitch.tv/terms\n\n  # Bandcamp: to do\n" + BLOCK.split("# Bandcamp: to do\n")[1]
    )


def test_flow_style_watchlist_stays_flow_style(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    text = 'services: {A: {ToS: {url: "https://a.example/tos"}}, B: {ToS: {url: https://b.example/tos},}}  # flow\n'
    path.write_text(text, encoding="utf-8")
    add_documents(
        path,
        {
            "A": {"Privacy": {"url": "https://a.example/privacy"}},
            "C": {"ToS": {"url": "https://c.example/tos", "remove": ["nav", "footer"]}},
        },
    )
    assert path.read_text(encoding="utf-8") == (
        "services: {A: {ToS: {url: \"https://a.example/tos\"}, Privacy: {url: 'https://a.example/privacy'}}, "
        "B: {ToS: {url: https://b.example/tos},}, C: {ToS: {url: 'https://c.example/tos', remove: [nav, footer]}}}  # flow\n"
    )
    assert [d.id for d in load_watchlist(path).documents] == ["A/ToS", "A/Privacy", "B/ToS", "C/ToS"]


def test_indentation_and_crlf_line_endings_of_the_file_are_followed(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    text = "services:\r\n    A:\r\n        ToS:\r\n            url: https://a.example/tos\r\n            select:\r\n                - main\r\n"
    path.write_bytes(text.encode())
    add_documents(path, {"A": {"Privacy": {"url": "https://a.example/p", "select": ["article", "#legal"]}}})
    assert path.read_bytes().decode() == text + (
        "        Privacy:\r\n"
        "            url: https://a.example/p\r\n"
        "            select:\r\n"
        "                - article\r\n"
        "                - '#legal'\r\n"
    )


def test_range_selectors_and_combined_pages_are_written_as_the_loader_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text("services:\n  A:\n    ToS:\n      url: https://a.example/tos\n", encoding="utf-8")
    add_documents(
        path,
        {
            "A": {
                "Privacy": {
                    "url": "https://a.example/p",
                    "select": [{"startBefore": "#terms", "endBefore": "footer"}],
                },
                "Rules": {
                    "combine": [
                        {"url": "https://a.example/r/1"},
                        {"url": "https://a.example/r/2", "select": "article"},
                    ]
                },
            }
        },
    )
    privacy, rules = load_watchlist(path).documents[1:]
    assert privacy.select[0].start_before == "#terms" and privacy.select[0].end_before == "footer"
    assert [p.url for p in rules.parts] == ["https://a.example/r/1", "https://a.example/r/2"]
    assert rules.parts[1].select == ("article",)


def test_document_already_in_the_watchlist_is_refused_and_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(BLOCK, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        add_documents(path, {"YouTube": {"Terms of Service": {"url": "https://www.youtube.com/other"}}})
    assert str(caught.value) == (
        f"{path}:17:5: YouTube/Terms of Service is already in the watchlist: give the new document another name, "
        "or remove or rename (`tosmon rename`) the one there"
    )
    assert path.read_text(encoding="utf-8") == BLOCK


def test_entry_the_loader_would_refuse_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(BLOCK, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        add_documents(path, {"YouTube": {"Privacy Policy": {"url": "policies.google.com/privacy"}}})
    assert str(caught.value) == (
        f'{path}:20:12: services.YouTube."Privacy Policy".url: expected an http(s) URL, found '
        "'policies.google.com/privacy' (in the edited watchlist; nothing was written)"
    )
    assert path.read_text(encoding="utf-8") == BLOCK
    assert [p.name for p in tmp_path.iterdir()] == ["watchlist.yaml"]  # no temporary file left behind


def test_missing_watchlist_is_created_with_the_document(tmp_path: Path) -> None:
    path = tmp_path / "new" / "watchlist.yaml"
    add_documents(path, {"A": {"Terms of Service": {"url": "https://a.example/tos"}}})
    watchlist = load_watchlist(path)
    assert [(d.id, d.url) for d in watchlist.documents] == [("A/Terms of Service", "https://a.example/tos")]
    assert path.read_text(encoding="utf-8").endswith(
        "services:\n  A:\n    Terms of Service:\n      url: https://a.example/tos\n"
    )


def test_edit_keeps_the_file_permissions(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(BLOCK, encoding="utf-8")
    os.chmod(path, 0o600)
    add_documents(path, {"A": {"ToS": {"url": "https://a.example/tos"}}})
    assert path.stat().st_mode & 0o777 == 0o600


def test_file_without_final_newline_gets_one_before_the_new_entry(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text("services:\n  A:\n    ToS:\n      url: https://a.example/tos  # end", encoding="utf-8")
    add_documents(path, {"A": {"Privacy": {"url": "https://a.example/p"}}})
    assert path.read_text(encoding="utf-8") == (
        "services:\n  A:\n    ToS:\n      url: https://a.example/tos  # end\n    Privacy:\n      url: https://a.example/p\n"
    )


def test_rename_within_a_service_changes_only_the_key(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(BLOCK, encoding="utf-8")
    text = renamed_watchlist(path, ("SoundCloud", "Privacy Policy"), ("SoundCloud", "Privacy: EU"))
    assert text == BLOCK.replace("    Privacy Policy:\n", "    'Privacy: EU':\n")
    assert path.read_text(encoding="utf-8") == BLOCK  # not written until asked
    write_watchlist(path, text)
    assert "SoundCloud/Privacy: EU" in {d.id for d in load_watchlist(path).documents}


def test_rename_to_a_new_service_moves_the_entry_and_drops_an_emptied_service(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(BLOCK, encoding="utf-8")
    text = renamed_watchlist(path, ("YouTube", "Terms of Service"), ("Google", "YouTube Terms"))
    youtube = '  YouTube:\n    Terms of Service:\n      url: "https://www.youtube.com/t/terms"\n'
    google = '  Google:\n    YouTube Terms:\n      url: "https://www.youtube.com/t/terms"\n'
    assert text == BLOCK.replace(youtube, google)
    assert [d.id for d in parse_watchlist(text, path).documents][-1] == "Google/YouTube Terms"


def test_rename_refuses_to_move_out_of_a_flow_style_service(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text("services: {A: {ToS: {url: https://a.example/t}, P: {url: https://a.example/p}}}\n")
    with pytest.raises(ConfigError) as caught:
        renamed_watchlist(path, ("A", "P"), ("B", "P"))
    assert str(caught.value) == (
        f"{path}:1:49: cannot move a document between services written in flow style ({{...}}); "
        "move it by hand, then run `tosmon rename` again to move its history"
    )
    renamed = renamed_watchlist(path, ("A", "P"), ("A", "Privacy"))
    assert (
        renamed == "services: {A: {ToS: {url: https://a.example/t}, Privacy: {url: https://a.example/p}}}\n"
    )


def test_edits_made_at_the_same_time_are_all_kept(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(BLOCK, encoding="utf-8")

    def add(n: int) -> None:
        for k in range(5):
            add_documents(path, {f"Service {n}": {f"Doc {k}": {"url": f"https://s{n}.example/{k}"}}})

    threads = [threading.Thread(target=add, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = {d.id for d in load_watchlist(path).documents}
    assert {f"Service {n}/Doc {k}" for n in range(6) for k in range(5)} <= ids


NAMES = st.sampled_from(
    ["Terms", "Privacy Policy", "Règles: EU", "'quoted'", "a#b", "ToS 2", "音楽", "- dash", "yes"]
)
COMMENTS = st.sampled_from(["", "\n", "# a comment\n", "\n# Next up\n", "  # indented comment\n"])


@st.composite
def watchlists(draw: st.DrawFn) -> tuple[str, dict[str, list[str]]]:
    """A valid watchlist written in one of many styles, and the documents it holds."""
    step = draw(st.sampled_from([2, 4]))
    services = draw(
        st.dictionaries(NAMES, st.lists(NAMES, min_size=1, max_size=3, unique=True), min_size=1, max_size=4)
    )
    text = draw(COMMENTS) + "services:" + draw(st.sampled_from(["", "  # the list"])) + "\n"
    for n, (service, documents) in enumerate(services.items()):
        key = yaml.safe_dump(service, default_flow_style=True).removesuffix("\n...\n").strip()
        if draw(st.booleans()):  # flow style
            entries = ", ".join(
                f"{yaml.safe_dump(d, default_flow_style=True).removesuffix(chr(10) + '...' + chr(10)).strip()}: "
                f"{{url: 'https://s{n}.example/{i}'}}"
                for i, d in enumerate(documents)
            )
            text += " " * step + f"{key}: {{{entries}}}\n"
        else:
            text += " " * step + f"{key}:\n"
            for i, document in enumerate(documents):
                doc_key = yaml.safe_dump(document, default_flow_style=True).removesuffix("\n...\n").strip()
                text += " " * 2 * step + f"{doc_key}:" + draw(st.sampled_from(["", "  # note"])) + "\n"
                text += " " * 3 * step + f"url: https://s{n}.example/{i}\n"
                text += draw(COMMENTS)
        text += draw(COMMENTS)
    text += draw(st.sampled_from(["", "schedule: '0 4 * * *'\n", "# the end\n"]))
    return text, services


def shared(a: str, b: str) -> int:
    """How many characters two strings have in common at their start."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


@settings(
    deadline=None,
    max_examples=120,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(watchlist=watchlists(), service=NAMES, document=NAMES)
def test_adding_a_document_is_one_insertion_and_keeps_every_other_byte(
    tmp_path: Path, watchlist: tuple[str, dict[str, list[str]]], service: str, document: str
) -> None:
    text, services = watchlist
    path = tmp_path / "watchlist.yaml"
    path.write_text(text, encoding="utf-8")
    before = [d.id for d in load_watchlist(path).documents]
    if document in services.get(service, []):
        with pytest.raises(ConfigError):
            add_documents(path, {service: {document: {"url": "https://new.example/"}}})
        assert path.read_text(encoding="utf-8") == text
        return
    add_documents(path, {service: {document: {"url": "https://new.example/", "select": ["main", "#x"]}}})
    after = path.read_text(encoding="utf-8")
    prefix, suffix = shared(text, after), shared(text[::-1], after[::-1])
    assert len(after) > len(text) and min(prefix, len(text)) + min(suffix, len(text)) >= len(text)
    documents = load_watchlist(path).documents
    added = next(d for d in documents if d.id == f"{service}/{document}")
    assert (added.url, added.select) == ("https://new.example/", ("main", "#x"))
    ids = [d.id for d in documents]
    assert [i for i in ids if i != added.id] == before
    place = [i for i, d in enumerate(documents) if d.service == service]
    assert ids.index(added.id) == place[-1]  # at the end of its service
