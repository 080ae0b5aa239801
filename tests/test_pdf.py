"""Terms published as PDFs: stored raw as evidence, their text extracted with its structure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tosmon.errors import ExtractError
from tosmon.extract.html import extract
from tosmon.extract.pdf import pdf_text

CASES = yaml.safe_load((Path(__file__).parent / "data" / "pdf_text.yaml").read_text(encoding="utf-8"))
FONTS = {"regular": "F1", "bold": "F2"}


def make_pdf(pages: list[list[list[object]]]) -> bytes:
    """A minimal PDF drawing each [size, weight, x, y, text] line with a standard font; a page
    given as the string "scan" is painted with a grey rectangle and no text, as a scanned page is."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the pages are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    kids = []
    for page in pages:
        if page == "scan":
            stream = b"0.6 g 40 40 515 760 re f"
        else:
            stream = b"\n".join(
                b"BT /%s %g Tf %g %g Td (%s) Tj ET"
                % (
                    FONTS[str(weight)].encode(),
                    size,
                    x,
                    y,
                    str(text).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("cp1252"),
                )
                for size, weight, x, y, text in page
            )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>" % (len(objects))
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_pdf_text_keeps_headings_paragraphs_and_lists(case: dict) -> None:
    assert pdf_text(make_pdf(case["pages"])) == case["expected"]


def test_pdf_served_as_octet_stream_is_still_read_as_a_pdf() -> None:
    body = make_pdf([[[11, "regular", 72, 760, "Terms served with the wrong content type."]]])
    assert (
        extract(body, content_type="application/octet-stream")
        == "Terms served with the wrong content type.\n"
    )


def test_scanned_pdf_without_text_is_an_error() -> None:
    with pytest.raises(ExtractError, match=r"^the PDF has no extractable text \(a scanned image\?\)$"):
        pdf_text(make_pdf(["scan", "scan"]))


def test_damaged_pdf_is_an_error_naming_the_problem() -> None:
    body = make_pdf([[[11, "regular", 72, 760, "Cut short."]]])
    with pytest.raises(ExtractError, match=r"^unreadable PDF: "):
        pdf_text(body[:40])


SCOPE = "These terms apply to every account and every upload, wherever you live."


def _pdf_terms(*paragraphs: str) -> bytes:
    lines: list[list[object]] = [[18, "bold", 72, 780, "Terms of Use"]]
    for i, paragraph in enumerate(paragraphs):
        lines.append([11, "regular", 72, 750 - 24 * i, paragraph])
    return make_pdf([lines])


def test_check_stores_the_pdf_raw_and_flags_a_new_training_clause(
    httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    first = _pdf_terms("You keep the rights to your content.", SCOPE)
    second = _pdf_terms(
        "You keep the rights to your content.",
        SCOPE,
        "We may use your content to train our artificial intelligence models.",
    )
    served = {"body": first}
    httpserver.expect_request("/terms.pdf").respond_with_handler(
        lambda request: Response(served["body"], content_type="application/pdf")
    )
    watchlist = watchlist_file(
        f"services:\n  Example:\n    Terms of Use:\n      url: {httpserver.url_for('/terms.pdf')}\n"
    )

    outcome = tosmon("check", "--watchlist", watchlist, "--json")
    assert json.loads(outcome.stdout)["documents"][0]["status"] == "new", outcome.stdout
    raw = watchlist.parent / "snapshots" / "Example" / "Terms-of-Use" / "raw"
    assert [p.read_bytes() for p in raw.glob("*.pdf")] == [first]
    versions = watchlist.parent / "snapshots" / "Example" / "Terms-of-Use" / "versions"
    assert [p.read_text() for p in versions.glob("*.md")] == [
        f"# Terms of Use\nYou keep the rights to your content.\n{SCOPE}\n"
    ]

    served["body"] = second
    outcome = tosmon("check", "--watchlist", watchlist, "--json")
    result = json.loads(outcome.stdout)["documents"][0]
    assert result["status"] == "changed"
    assert "training" in [f["category"] for f in result["flags"]]
    assert sorted(p.read_bytes() for p in raw.glob("*.pdf")) == sorted([first, second])


def test_check_reports_a_scanned_pdf_as_an_error_and_records_no_version(
    httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    httpserver.expect_request("/scan.pdf").respond_with_data(
        make_pdf(["scan"]), content_type="application/pdf"
    )
    watchlist = watchlist_file(
        f"services:\n  Example:\n    Terms:\n      url: {httpserver.url_for('/scan.pdf')}\n"
    )

    outcome = tosmon("check", "--watchlist", watchlist, "--json")

    result = json.loads(outcome.stdout)["documents"][0]
    assert (outcome.code, result["status"]) == (3, "error")
    assert result["error"].startswith(
        "the PDF has no extractable text (a scanned image?); the page is kept as evidence (raw/"
    )
    assert not list((watchlist.parent / "snapshots" / "Example" / "Terms" / "versions").iterdir())
