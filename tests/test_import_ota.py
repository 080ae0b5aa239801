"""`tosmon import-ota`: Open Terms Archive declarations become watchlist entries that record what OTA records.

What "faithful" means, checked field by field for every declared document by `differences()` below,
on the entry as tosmon's own watchlist loader reads it:

- URLs: the document's `fetch`, or each page of its `combine` in order, is the entry's `url`, or the
  `url` of the same page of its `combine:`;
- select: each page keeps exactly OTA's `select` (CSS selectors and ranges, same order; a page inherits
  the document's, as in OTA), and every selector runs in tosmon's engine;
- remove: OTA's `remove`, then the `remove` selectors that stand for its filters;
- browser: a page is fetched with `fetcher: browser` exactly when OTA executes its scripts
  (`executeClientScripts` on the page, or else on the document); the others are not rendered first;
- filters: every OTA filter of the page has an equivalent (tosmon/sources/ota_filters.yaml: tosmon's own
  normalisation, `remove` selectors or `ignore` patterns, each shown at work on an example page
  below), and the page's `ignore` is exactly those patterns.

Each declared document is then *faithful* (imported, no difference), *refused* (not imported, with a
reason on stderr) or *silently different* (imported with a difference). The target, on the 988
declarations of ../shared/ota-declarations, collection by collection: >= 98 % faithful, no silent
difference, every refused document with its reason. `test_the_shared_declarations_import_faithfully`
prints the figures (`pytest -s -k shared_declarations_import`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tosmon.errors import ExitCode
from tosmon.extract.html import apply_ignore, extract, selector_problem
from tosmon.models import Document, Part, RangeSelector, Selector
from tosmon.sources.ota import (
    Imported,
    convert,
    filter_table,
    import_declarations,
    query_param_patterns,
    to_yaml,
)
from tosmon.watchlist import RANGE_KEYS, load_watchlist

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "ota-declarations"
COLLECTIONS = ("contrib", "pga", "genai-eu")
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/ota-declarations is not here")


# -- what faithful means --------------------------------------------------------------------------


def _pages(declaration: dict[str, object]) -> list[dict[str, object]]:
    """OTA's pages of a document, each with the settings it inherits from the document."""
    if "combine" in declaration:
        base = {k: v for k, v in declaration.items() if k != "combine"}
        return [{**base, **page} for page in declaration["combine"]]  # type: ignore[attr-defined]
    return [declaration]


def _selectors(value: object) -> tuple[Selector, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(
        RangeSelector(**{RANGE_KEYS[k]: v for k, v in item.items()}) if isinstance(item, dict) else item
        for item in items
    )


def _filter_equivalent(filters: object) -> tuple[tuple[Selector, ...], tuple[str, ...]] | None:
    """The `remove` selectors and `ignore` patterns that do what OTA's filters do; None if some cannot."""
    items = filters if isinstance(filters, list) else [filters]
    names = {f for f in items if isinstance(f, str)}
    remove: list[Selector] = []
    ignore: list[str] = []
    for item in items:
        if isinstance(item, dict) and "removeQueryParams" in item:
            ignore.extend(query_param_patterns([p for p in item["removeQueryParams"] if not _tracking(p)]))
            continue
        name = item if isinstance(item, str) else next(iter(item))
        rule = filter_table().get(name)
        if rule is None or "refuse" in rule or ("moot_with" in rule and rule["moot_with"] not in names):
            return None
        remove.extend(_selectors(rule.get("remove", [])) if "remove" in rule else ())
        ignore.extend(rule.get("ignore", []))
    return tuple(remove), tuple(ignore)


def _tracking(param: str) -> bool:
    from tosmon.extract.html import TRACKING_PARAMS

    return bool(TRACKING_PARAMS.match(param))


def _runs(selector: Selector) -> bool:
    parts = [selector] if isinstance(selector, str) else [v for v in vars(selector).values() if v]
    return all(selector_problem(css) is None for css in parts)


def differences(declaration: dict[str, object], document: Document) -> list[str]:
    """How an imported document differs from OTA's declaration of it (nothing, when faithful)."""
    pages = _pages(declaration)
    parts = document.parts or (Part(document.url, document.select, document.remove, document.ignore),)
    if len(parts) != len(pages):
        return [f"{len(parts)} page(s) instead of {len(pages)}"]
    found = []
    for i, (page, part) in enumerate(zip(pages, parts, strict=True)):
        where = f"page {i + 1}: " if len(pages) > 1 else ""
        equivalent = _filter_equivalent(page.get("filter", []))
        if equivalent is None:
            found.append(f"{where}OTA filters {page['filter']} have no equivalent")
            continue
        remove, ignore = equivalent
        expected = {
            "url": page["fetch"],
            "select": _selectors(page["select"]) if "select" in page else (),
            "remove": (_selectors(page["remove"]) if "remove" in page else ()) + remove,
            "ignore": ignore,
            "browser": bool(page.get("executeClientScripts", False)),
        }
        actual = {
            "url": part.url,
            "select": part.select,
            "remove": part.remove,
            "ignore": part.ignore,
            "browser": (part.fetcher or document.fetcher) == "browser",
        }
        found += [
            f"{where}{key}: {actual[key]!r}, OTA: {expected[key]!r}"
            for key in expected
            if actual[key] != expected[key]
        ]
        found += [f"{where}{s!r} does not run" for s in part.select + part.remove if not _runs(s)]
    return found


def audit(
    imported: Imported, declarations: dict[str, dict[str, object]], watchlist: Path
) -> dict[str, list[str]]:
    """Every declared document (by id) sorted into faithful, refused or silently different."""
    watchlist.write_text(to_yaml(imported), encoding="utf-8")
    loaded = {d.id: d for d in load_watchlist(watchlist).documents}
    refused = {d.id: d.refused for d in imported.refused}
    outcome: dict[str, list[str]] = {
        "faithful": [],
        "refused": [],
        "refused without a reason": [],
        "different": [],
    }
    for document_id, declaration in declarations.items():
        if document_id in loaded:
            found = differences(declaration, loaded[document_id])
            outcome["different" if found else "faithful"].append(f"{document_id}: {'; '.join(found)}")
        elif refused.get(document_id):
            outcome["refused"].append(f"{document_id}: {refused[document_id]}")
        else:
            outcome["refused without a reason"].append(document_id)
    return outcome


def shared_declarations(collection: str) -> dict[str, dict[str, object]]:
    declarations = {}
    for file in sorted((SHARED / collection).glob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        for name, declaration in data["terms"].items():
            declarations[f"{data['name']}/{name}"] = declaration
    return declarations


# -- every selector form OTA uses runs in tosmon's engine -----------------------------------------

PAGE = """<html><body>
<nav>Menu</nav>
<div id="legal">
  <p class="my-6 mb-16">First paragraph.</p>
  <div class="my-6 mb-16">First block.</div>
  <p class="my-6 mb-16">Second paragraph.</p>
  <div class="my-6 mb-16 xl:sticky">Second block.</div>
</div>
<ol><li>One</li><span>stray</span><li>Two</li></ol>
<p><a href="/terms--espanol" title="es">Términos</a> <a href="https://example.org/doc.pdf">PDF</a></p>
<section data-kind="main terms"><h2 id="start">Terms</h2><p>Clause 1.</p><p>Clause 2.</p><h2 id="end">Annex</h2><p>Annex text.</p></section>
<footer>Footer</footer>
</body></html>"""

SELECTOR_FORMS = [
    ("element and id", "#legal > p", "First paragraph.\nSecond paragraph."),
    ("attribute =", '[data-kind="main terms"] > p:first-of-type', "Clause 1."),
    ("attribute *=", 'a[href*="espanol"]', "[Términos](https://example.org/terms--espanol)"),
    ("attribute ^=", 'a[href^="https://"]', "[PDF](https://example.org/doc.pdf)"),
    ("attribute $=", "a[href$='.pdf']", "[PDF](https://example.org/doc.pdf)"),
    ("attribute ~=", "[data-kind~=terms] > h2", "## Terms\n## Annex"),
    ("attribute present", "a[title]", "[Términos](https://example.org/terms--espanol)"),
    (
        "unquoted value starting with --",
        "a[href$=--espanol]",
        "[Términos](https://example.org/terms--espanol)",
    ),
    ("escaped class", r".xl\:sticky", "Second block."),
    (":nth-child()", "#legal > :nth-child(2)", "First block."),
    (":nth-last-child(-n+2)", "#legal > :nth-last-child(-n+2)", "Second paragraph.\nSecond block."),
    (
        ":first-child / :last-child",
        "#legal > :first-child, #legal > :last-child",
        "First paragraph.\nSecond block.",
    ),
    (":nth-of-type() on an element", "#legal > div:nth-of-type(2)", "Second block."),
    (":nth-of-type() on a class", "#legal .my-6.mb-16:nth-of-type(2)", "Second paragraph.\nSecond block."),
    (":nth-last-of-type()", "#legal > :nth-last-of-type(2)", "First paragraph.\nFirst block."),
    (":first-of-type on a class", "#legal > .my-6:first-of-type", "First paragraph.\nFirst block."),
    (":last-of-type", "section > :last-of-type", "## Annex\nAnnex text."),
    (":not()", "ol > *:not(li)", "stray"),
    (":has()", "section:has(> #start) > p:nth-of-type(3)", "Annex text."),
    ("combinators + and ~", "#start + p, #end ~ p", "Clause 1.\nAnnex text."),
]


@pytest.mark.parametrize(("form", "css", "text"), SELECTOR_FORMS, ids=[f[0] for f in SELECTOR_FORMS])
def test_every_selector_form_ota_uses_selects_what_a_browser_selects(form: str, css: str, text: str) -> None:
    assert selector_problem(css) is None
    assert extract(PAGE.encode(), select=(css,), base_url="https://example.org/") == text + "\n"


@given(
    tags=st.lists(st.sampled_from(["p", "div", "span"]), min_size=1, max_size=12),
    a=st.integers(-3, 3),
    b=st.integers(-3, 6),
    pseudo=st.sampled_from(["nth-of-type", "nth-last-of-type"]),
)
def test_of_type_on_any_element_agrees_with_cssselects_own_on_a_named_element(
    tags: list[str], a: int, b: int, pseudo: str
) -> None:
    import lxml.html

    from tosmon.extract.html import _xpath

    root = lxml.html.fromstring(
        "<div id=x>" + "".join(f"<{t}>{i}</{t}>" for i, t in enumerate(tags)) + "</div>"
    )
    series = f"{a}n{b:+d}"
    anywhere = [e.text for e in _xpath(f"#x > :{pseudo}({series})")(root) if e.tag == "p"]
    named = [e.text for e in _xpath(f"#x > p:{pseudo}({series})")(root)]
    assert anywhere == named


RANGES = [
    ({"startBefore": "#start", "endBefore": "#end"}, "## Terms\nClause 1.\nClause 2."),
    ({"startAfter": "#start", "endBefore": "#end"}, "Clause 1.\nClause 2."),
    ({"startBefore": "#start", "endAfter": "#end"}, "## Terms\nClause 1.\nClause 2.\n## Annex"),
    ({"startAfter": "#start", "endAfter": "#end"}, "Clause 1.\nClause 2.\n## Annex"),
]


@pytest.mark.parametrize(("bounds", "text"), RANGES, ids=[",".join(r[0]) for r in RANGES])
def test_ranges_select_and_remove_between_their_anchors(bounds: dict[str, str], text: str) -> None:
    entry = convert({"fetch": "https://example.org/", "select": ["section"], "remove": [bounds]})
    assert isinstance(entry, dict) and entry["remove"] == [bounds]
    (selector,) = _selectors(bounds)
    assert extract(PAGE.encode(), select=(selector,)) == text + "\n"
    kept = extract(PAGE.encode(), select=("section",), remove=(selector,))
    assert all(line not in kept.splitlines() for line in text.splitlines())


# -- OTA's filters, carried over ------------------------------------------------------------------

EXAMPLES = {name: rule for name, rule in filter_table().items() if "example" in rule}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_carried_over_filter_does_what_otas_filter_does(name: str) -> None:
    notes: list[str] = []
    entry = convert(
        {"fetch": "https://example.org/page", "select": "body", "filter": [name]}, "Example", notes
    )
    assert isinstance(entry, dict), entry
    assert notes and notes[0].startswith(f"OTA filter {name}")
    example = EXAMPLES[name]["example"]
    text = extract(
        f"<html><body>{example['html']}</body></html>".encode(),
        base_url="https://example.org/page",
        select=_selectors(entry["select"]),
        remove=_selectors(entry.get("remove", [])),
    )
    assert apply_ignore(text, tuple(entry.get("ignore", []))) == example["text"] + "\n"


def test_every_filter_of_the_table_is_carried_over_or_refused_with_a_reason() -> None:
    for name, rule in filter_table().items():
        assert rule.get("does") and rule.get("source"), name
        ways = {"tosmon", "remove", "ignore", "moot_with", "refuse"} & set(rule)
        assert len(ways - {"remove", "ignore"}) <= 1 and ways, name
        if ways & {"tosmon", "remove", "ignore"}:
            assert name in EXAMPLES, f"{name}: add an example showing it at work"


def test_query_parameters_tosmon_does_not_drop_itself_become_ignore_patterns() -> None:
    entry = convert(
        {
            "fetch": "https://example.org/",
            "select": "p",
            "filter": [{"removeQueryParams": ["utm_source", "sig"]}],
        }
    )
    assert isinstance(entry, dict)
    html = b'<p><a href="https://example.org/a?sig=1&amp;x=2&amp;utm_source=y">A</a> <a href="/b?sig=3">B</a></p>'
    text = extract(html, base_url="https://example.org/", select=("p",))
    assert (
        apply_ignore(text, tuple(entry["ignore"]))
        == "[A](https://example.org/a?x=2) [B](https://example.org/b)\n"
    )


def test_a_filter_that_only_drops_tracking_parameters_needs_nothing() -> None:
    notes: list[str] = []
    entry = convert(
        {"fetch": "https://example.org/", "select": "p", "filter": [{"removeQueryParams": ["utm_source"]}]},
        "Example",
        notes,
    )
    assert entry == {"url": "https://example.org/", "select": ["p"]}
    assert notes == [
        "OTA filter removeQueryParams ['utm_source']: tosmon drops these tracking parameters itself"
    ]


def test_a_filter_tosmon_cannot_run_refuses_the_document_saying_what_to_do() -> None:
    reason = convert(
        {"fetch": "https://example.org/", "select": "p", "filter": ["rewriteEverything"]}, "Example"
    )
    assert reason == (
        "OTA filter `rewriteEverything` (JavaScript in Example.filters.js) has no tosmon equivalent: "
        "read it, then add the document by hand with `remove` selectors or `ignore` patterns doing the same"
    )
    reason = convert({"fetch": "https://example.org/", "select": "p", "filter": ["replaceDaysAgo"]}, "Yuka")
    assert isinstance(reason, str) and reason.startswith("OTA filter `replaceDaysAgo` (replaces ")


# -- documents: browser, combine, inheritance -----------------------------------------------------

DECLARATION = {
    "name": "Example",
    "terms": {
        "Terms of Service": {
            "fetch": "https://example.com/terms",
            "select": [".terms", {"startBefore": "#a", "endBefore": "footer"}],
            "remove": ".ad",
            "executeClientScripts": True,
        },
        "Privacy Policy": {
            "select": "main",
            "remove": [".banner"],
            "executeClientScripts": True,
            "combine": [
                {"fetch": "https://example.com/p1"},
                {"fetch": "https://example.com/p2", "select": "article"},
                {"fetch": "https://example.com/p3", "executeClientScripts": False, "filter": ["removeLinks"]},
            ],
        },
        "Trackers Policy": {
            "fetch": "https://example.com/cookies",
            "select": "main",
            "filter": ["removeTrackingIDs"],
        },
        "Community Guidelines": {"fetch": "https://example.com/rules", "select": "main["},
        "Brand Guidelines": {
            "fetch": "https://example.com/brand",
            "select": "main",
            "filter": ["movePolicy"],
        },
    },
}


@pytest.fixture
def declared(tmp_path: Path) -> Path:
    path = tmp_path / "Example.json"
    path.write_text(json.dumps(DECLARATION), encoding="utf-8")
    return path


def _load(tosmon, declared: Path, tmp_path: Path) -> dict[str, Document]:
    outcome = tosmon("import-ota", declared)
    assert outcome.code == ExitCode.OK
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(outcome.stdout, encoding="utf-8")
    return {d.name: d for d in load_watchlist(watchlist).documents}


def test_a_page_ota_renders_with_scripts_is_fetched_in_a_browser(
    tosmon, declared: Path, tmp_path: Path
) -> None:
    terms = _load(tosmon, declared, tmp_path)["Terms of Service"]
    assert terms.fetcher == "browser"
    assert terms.select == (".terms", RangeSelector(start_before="#a", end_before="footer"))
    assert terms.remove == (".ad",)


def test_a_combined_document_keeps_each_pages_own_settings(tosmon, declared: Path, tmp_path: Path) -> None:
    policy = _load(tosmon, declared, tmp_path)["Privacy Policy"]
    ignore = tuple(filter_table()["removeLinks"]["ignore"])
    assert policy.parts == (
        Part("https://example.com/p1", ("main",), (".banner",), (), "browser"),
        Part("https://example.com/p2", ("article",), (".banner",), (), "browser"),
        Part("https://example.com/p3", ("main",), (".banner",), ignore, None),
    )
    assert policy.fetcher != "browser"  # the third page is fetched without scripts, as OTA does
    assert differences(DECLARATION["terms"]["Privacy Policy"], policy) == []


def test_a_combined_document_writes_shared_settings_once() -> None:
    entry = convert(
        {
            "select": "main",
            "executeClientScripts": True,
            "combine": [{"fetch": "https://example.com/1"}, {"fetch": "https://example.com/2"}],
        }
    )
    assert entry == {
        "combine": [{"url": "https://example.com/1"}, {"url": "https://example.com/2"}],
        "select": ["main"],
        "fetcher": "browser",
    }


def test_a_filter_of_a_combined_document_applies_to_every_page_and_is_noted_once(tmp_path: Path) -> None:
    path = tmp_path / "Example.json"
    pages = [{"fetch": "https://example.com/1"}, {"fetch": "https://example.com/2"}]
    declaration = {"select": "main", "filter": ["removeLinks"], "combine": pages}
    path.write_text(json.dumps({"name": "Example", "terms": {"Terms": declaration}}), encoding="utf-8")

    (document,) = import_declarations([path]).documents

    assert document.notes == (
        "OTA filter removeLinks (removes every link's target, keeping its text): as `ignore`",
    )
    assert document.entry is not None and document.entry["ignore"] == filter_table()["removeLinks"]["ignore"]


def test_import_ota_says_on_stderr_what_was_not_converted_and_why(tosmon, declared: Path) -> None:
    outcome = tosmon("import-ota", declared)
    stderr = outcome.stderr.splitlines()
    assert any(
        line.startswith(
            f"not converted: {declared}: Example/Community Guidelines: `select`: the CSS selector 'main[' cannot be run: "
        )
        for line in stderr
    )
    assert (
        f"not converted: {declared}: Example/Brand Guidelines: OTA filter `movePolicy` (JavaScript in "
        "Example.filters.js) has no tosmon equivalent: read it, then add the document by hand with `remove` "
        "selectors or `ignore` patterns doing the same" in stderr
    )
    assert (
        f"note: {declared}: Example/Trackers Policy: OTA filter removeTrackingIDs (removes the `h` parameter "
        "(a per-request signature) from links): as `ignore`" in stderr
    )
    assert stderr[-1] == "converted 3 documents; 2 not converted"


def test_a_document_declared_in_two_files_is_imported_once(tosmon, declared: Path, tmp_path: Path) -> None:
    other = tmp_path / "more" / "Example.json"
    other.parent.mkdir()
    other.write_text(
        json.dumps({"name": "Example", "terms": {"Trackers Policy": {"fetch": "https://example.com/c2"}}})
    )
    outcome = tosmon("import-ota", declared, other)
    assert (
        f"not converted: {other}: Example/Trackers Policy: also declared in {declared}, which was imported; "
        "import one of the two declarations at a time" in outcome.stderr.splitlines()
    )
    assert "https://example.com/c2" not in outcome.stdout


def test_import_ota_with_nothing_convertible_fails(tosmon, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    outcome = tosmon("import-ota", path)
    assert outcome.code == ExitCode.USAGE
    assert outcome.stderr.splitlines()[-1] == "Error: no declaration could be converted"
    assert outcome.stderr.startswith(f"not converted: {path}: not valid JSON: ")


# -- --into: adding to a watchlist -----------------------------------------------------------------

MINE = """\
# my watchlist: what I watch, and why
schedule: "0 4 * * *"

services:
  # the one that started it all
  Example:
    Trackers Policy:   # set by hand, keep it
      url: https://example.com/my-cookies
  Other:
    Terms:
      url: https://example.org/terms
# the end
"""


def test_import_ota_into_a_watchlist_keeps_it_and_refuses_documents_it_already_has(
    tosmon, declared: Path, tmp_path: Path
) -> None:
    watchlist = tmp_path / "mine.yaml"
    watchlist.write_text(MINE, encoding="utf-8")

    outcome = tosmon("import-ota", "--into", watchlist, declared)

    assert outcome.code == ExitCode.OK
    assert outcome.stdout == ""
    stderr = outcome.stderr.splitlines()
    assert (
        f"not added: Example/Trackers Policy: already in {watchlist}; remove or rename it there to import it again"
        in stderr
    )
    assert stderr[-1] == f"added 2 documents to {watchlist}; 1 already there, 2 not converted"
    text = watchlist.read_text(encoding="utf-8")
    lines = iter(text.splitlines())
    assert all(line in lines for line in MINE.splitlines())  # every line kept, in its order
    documents = {d.id: d for d in load_watchlist(watchlist).documents}
    assert list(documents) == [
        "Example/Trackers Policy",
        "Example/Terms of Service",
        "Example/Privacy Policy",
        "Other/Terms",
    ]
    assert documents["Example/Trackers Policy"].url == "https://example.com/my-cookies"
    assert differences(DECLARATION["terms"]["Privacy Policy"], documents["Example/Privacy Policy"]) == []


def test_import_ota_into_a_missing_watchlist_starts_one(tosmon, declared: Path, tmp_path: Path) -> None:
    watchlist = tmp_path / "new.yaml"

    assert tosmon("import-ota", "--into", watchlist, declared).code == ExitCode.OK

    assert [d.name for d in load_watchlist(watchlist).documents] == [
        "Terms of Service",
        "Privacy Policy",
        "Trackers Policy",
    ]


def test_import_ota_into_an_invalid_watchlist_changes_nothing(tosmon, declared: Path, tmp_path: Path) -> None:
    watchlist = tmp_path / "broken.yaml"
    watchlist.write_text(
        "services:\n  Example:\n    Terms:\n      ur: https://example.com/\n", encoding="utf-8"
    )
    before = watchlist.read_bytes()

    outcome = tosmon("import-ota", "--into", watchlist, declared)

    assert outcome.code == ExitCode.CONFIG
    assert f"{watchlist}:4:7: services.Example.Terms.ur: unknown key 'ur'" in outcome.stderr
    assert watchlist.read_bytes() == before


# -- the shared declarations ----------------------------------------------------------------------

FORMS = {  # what a declaration uses -> a test of it over every shared declaration that does
    "untyped :nth-of-type()": lambda d: re.search(r"(^|[\s>.#\]])[\w.#\\:-]*[.#][\w-]+:nth-of-type", d),
    ":first-of-type": lambda d: ":first-of-type" in d,
    ":nth-child()": lambda d: ":nth-child(" in d,
    ":not()": lambda d: ":not(" in d,
    "attribute selectors": lambda d: re.search(r"\[[\w-]+[~^$*]?=", d),
    "ranges": lambda d: '"startBefore"' in d or '"startAfter"' in d,
    "endAfter ranges": lambda d: '"endAfter"' in d,
    "combine": lambda d: '"combine"' in d,
    "executeClientScripts on the document": lambda d: re.search(r'^\{"[^{]*"executeClientScripts": true', d),
    "executeClientScripts on a page": lambda d: re.search(r'"combine": \[.*"executeClientScripts": true', d),
    "filters": lambda d: '"filter"' in d,
}


def _uses(form: str) -> Iterator[tuple[str, str, dict[str, object]]]:
    for collection in COLLECTIONS:
        for document_id, declaration in shared_declarations(collection).items():
            if FORMS[form](json.dumps(declaration)):
                yield collection, document_id, declaration


@needs_shared
@pytest.mark.parametrize("form", sorted(FORMS))
def test_shared_declarations_using_each_form_import_faithfully_or_are_refused_with_a_reason(
    form: str, tmp_path: Path
) -> None:
    uses = list(_uses(form))
    assert uses, f"no shared declaration uses {form}"
    for collection in COLLECTIONS:
        mine = {d: decl for c, d, decl in uses if c == collection}
        if not mine:
            continue
        imported = import_declarations([SHARED / collection])
        imported.documents = [d for d in imported.documents if d.id in mine]
        outcome = audit(imported, mine, tmp_path / f"{collection}.yaml")
        assert outcome["different"] == [] and outcome["refused without a reason"] == [], outcome
        # the form itself never makes a document refused: only a filter that has no equivalent does
        assert all(": OTA filter `" in line for line in outcome["refused"]), outcome["refused"]
        assert outcome["faithful"]


@needs_shared
def test_importing_two_collections_that_declare_the_same_document_keeps_the_first(tmp_path: Path) -> None:
    imported = import_declarations([SHARED / "contrib" / "Facebook.json", SHARED / "pga" / "Facebook.json"])
    twice = [d for d in imported.refused if d.refused and d.refused.startswith("also declared in ")]
    assert twice and all(d.file == SHARED / "pga" / "Facebook.json" for d in twice)
    assert {d.id for d in twice} <= {d.id for d in imported.converted}


@needs_shared
def test_the_shared_declarations_import_faithfully(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = []
    for collection in COLLECTIONS:
        declarations = shared_declarations(collection)
        outcome = audit(
            import_declarations([SHARED / collection]), declarations, tmp_path / f"{collection}.yaml"
        )
        total = len(declarations)
        faithful = len(outcome["faithful"])
        rows.append(
            f"{collection:9} {total:4} documents: {faithful:4} faithful ({100 * faithful / total:.1f} %), "
            f"{len(outcome['refused']):3} refused with a reason, {len(outcome['different'])} silently different, "
            f"{len(outcome['refused without a reason'])} refused without a reason"
        )
        assert outcome["different"] == [], outcome["different"][:5]
        assert outcome["refused without a reason"] == []
        assert faithful >= 0.98 * total, rows[-1]
    with capsys.disabled():
        print("\n" + "\n".join(rows))
    assert sum(len(shared_declarations(c)) for c in COLLECTIONS) == 988


def test_import_ota_of_a_folder_without_declarations_names_it(tosmon, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a declaration\n", encoding="utf-8")

    outcome = tosmon("import-ota", tmp_path)

    assert outcome.code == ExitCode.USAGE
    assert f"not converted: {tmp_path}: no declaration (*.json) in this folder" in outcome.stderr
