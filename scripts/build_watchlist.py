"""Build the shipped watchlist.yaml from Open Terms Archive's declarations.

    .venv/bin/python scripts/build_watchlist.py ../shared/ota-declarations > watchlist.yaml

Every document OTA declares for the services below is imported as `tosmon import-ota` imports it (same
URLs, selectors, browser rendering and filters); the source file of each service is named in a
comment. A document OTA does not declare (or declares with a filter tosmon cannot carry over) is
kept from the hand-written list below only with the reason its URL can be trusted, marked as not
verified by OTA. When the collections move on, update COLLECTIONS and run the script again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tosmon.sources.ota import dump, import_declarations

# folder -> (GitHub repository, commit, date, licence), as in ota-declarations/README.md
COLLECTIONS = {
    "contrib": ("OpenTermsArchive/contrib-declarations", "0b10dd654ea5", "2026-02-05", "EUPL-1.2"),
    "pga": ("OpenTermsArchive/pga-declarations", "005c571d2e82", "2026-07-02", "AGPL-3.0"),
    "genai-eu": ("OpenTermsArchive/genai-eu-declarations", "b95bd2186005", "2026-07-10", "AGPL-3.0"),
}

# (section, [(service, OTA declaration file or None)]); a service in two collections is taken from
# the more recent one (pga or genai-eu rather than contrib).
SECTIONS = [
    (
        "Music",
        [
            ("SoundCloud", "contrib/SoundCloud.json"),
            ("Spotify", "pga/Spotify.json"),
            ("Bandcamp", "contrib/Bandcamp.json"),
            ("Deezer", None),
        ],
    ),
    (
        "Video",
        [
            ("YouTube", "pga/YouTube.json"),
            ("TikTok", "pga/TikTok.json"),
            ("Vimeo", "contrib/Vimeo.json"),
            ("Twitch", "pga/Twitch.json"),
            ("Dailymotion", "contrib/Dailymotion.json"),
        ],
    ),
    (
        "Images and art",
        [
            ("Instagram", "pga/Instagram.json"),
            ("Pinterest", "pga/Pinterest.json"),
            ("Flickr", "contrib/Flickr.json"),
            ("DeviantArt", "contrib/DeviantArt.json"),
            ("ArtStation", "contrib/ArtStation.json"),
            ("Adobe", None),
            ("Canva", None),
            ("Shutterstock", None),
        ],
    ),
    (
        "Writing and publishing",
        [
            ("Medium", None),
            ("Substack", "contrib/Substack.json"),
            ("WordPress.com", "contrib/WordPress.com.json"),
            ("Tumblr", "pga/Tumblr.json"),
            ("Quora", "pga/Quora.json"),
            ("Reddit", "pga/Reddit.json"),
            ("Wattpad", None),
        ],
    ),
    (
        "Social networks",
        [
            ("Facebook", "pga/Facebook.json"),
            ("X", "pga/X.json"),
            ("LinkedIn", "pga/LinkedIn.json"),
            ("Threads", "pga/Threads.json"),
            ("Bluesky", "pga/Bluesky.json"),
            ("Mastodon.social", None),
        ],
    ),
    (
        "Cloud storage and productivity",
        [
            ("Google", "contrib/Google.json"),
            ("Google Drive", "contrib/Google Drive.json"),
            ("Microsoft", "contrib/Microsoft.json"),
            ("Dropbox", None),
            ("Box", None),
            ("Zoom", "contrib/Zoom.json"),
            ("Slack", None),
            ("Grammarly", "contrib/Grammarly.json"),
        ],
    ),
    (
        "Developer communities",
        [
            ("GitHub", "contrib/GitHub.json"),
            ("Stack Overflow", "contrib/Stack Overflow.json"),
        ],
    ),
    (
        "AI assistants (OTA's names: Claude.ai is Anthropic's Claude, Google Generative AI Services\n"
        "  # is Gemini, Vibe is Mistral AI's; Meta AI, Grok and Microsoft Copilot are the AI services of\n"
        "  # Facebook/Instagram, X and Microsoft)",
        [
            ("ChatGPT", "genai-eu/ChatGPT.json"),
            ("Claude.ai", "genai-eu/Claude.ai.json"),
            ("Google Generative AI Services", "genai-eu/Google Generative AI Services.json"),
            ("Vibe", "genai-eu/Vibe.json"),
            ("Perplexity", "genai-eu/Perplexity.json"),
            ("Meta AI", "genai-eu/Meta AI.json"),
            ("Grok", "genai-eu/Grok.json"),
            ("Microsoft Copilot", "genai-eu/Microsoft Copilot.json"),
        ],
    ),
]

OWN_PAGE = "the service's own legal page, on its own domain (from tosmon's first draft)"
# (service, document) -> (url, why the URL can be trusted): documents OTA does not declare
UNVERIFIED = {
    ("SoundCloud", "Privacy Policy"): ("https://soundcloud.com/pages/privacy", OWN_PAGE),
    ("Deezer", "Terms of Service"): ("https://www.deezer.com/legal/cgu", OWN_PAGE),
    ("Deezer", "Privacy Policy"): ("https://www.deezer.com/legal/personal-datas", OWN_PAGE),
    ("Adobe", "Terms of Service"): ("https://www.adobe.com/legal/terms.html", OWN_PAGE),
    ("Adobe", "Privacy Policy"): ("https://www.adobe.com/privacy/policy.html", OWN_PAGE),
    ("Canva", "Terms of Service"): ("https://www.canva.com/policies/terms-of-use/", OWN_PAGE),
    ("Canva", "Privacy Policy"): ("https://www.canva.com/policies/privacy-policy/", OWN_PAGE),
    ("Shutterstock", "Terms of Service"): ("https://www.shutterstock.com/terms", OWN_PAGE),
    ("Shutterstock", "Privacy Policy"): ("https://www.shutterstock.com/privacy", OWN_PAGE),
    ("Medium", "Terms of Service"): (
        "https://policy.medium.com/medium-terms-of-service-9db0094a1e0f",
        "Medium's own policy site, policy.medium.com (from tosmon's first draft)",
    ),
    ("Medium", "Privacy Policy"): (
        "https://policy.medium.com/medium-privacy-policy-f03bf92035c9",
        "Medium's own policy site, policy.medium.com (from tosmon's first draft)",
    ),
    ("Wattpad", "Terms of Service"): (
        "https://policies.wattpad.com/terms/",
        "Wattpad's own policy site, policies.wattpad.com (from tosmon's first draft)",
    ),
    ("Mastodon.social", "Terms of Service"): (
        "https://mastodon.social/terms-of-service",
        "the server's own page, at the path every Mastodon 4 server uses",
    ),
    ("Mastodon.social", "Privacy Policy"): (
        "https://mastodon.social/privacy-policy",
        "the server's own page, at the path every Mastodon 4 server uses",
    ),
    ("Microsoft", "Terms of Service"): (
        "https://www.microsoft.com/en-us/servicesagreement",
        "OTA declares it with JavaScript filters tosmon cannot run (they drop other services' modules "
        "by their names); the whole agreement is watched",
    ),
    ("Microsoft", "Privacy Policy"): (
        "https://privacy.microsoft.com/en-us/privacystatement",
        "OTA declares it with JavaScript filters tosmon cannot run (they drop other services' modules "
        "by their names); the whole statement is watched",
    ),
    ("Dropbox", "Terms of Service"): ("https://www.dropbox.com/terms", OWN_PAGE),
    ("Dropbox", "Privacy Policy"): ("https://www.dropbox.com/privacy", OWN_PAGE),
    ("Box", "Terms of Service"): ("https://www.box.com/legal/termsofservice", OWN_PAGE),
    ("Box", "Privacy Policy"): ("https://www.box.com/legal/privacypolicy", OWN_PAGE),
    ("Slack", "Terms of Service"): (
        "https://slack.com/main-services-agreement",
        "Slack's Main Services Agreement, on slack.com (from tosmon's first draft)",
    ),
    ("Slack", "Privacy Policy"): ("https://slack.com/trust/privacy/privacy-policy", OWN_PAGE),
}


def _document(name: str, entry: dict[str, object]) -> list[str]:
    return ["    " + line for line in dump({name: entry}).splitlines()]


HEADER = """\
# tosmon watchlist: the legal documents of platforms where creators publish their work, and of the AI
# services that may learn from it. tosmon fetches each document on the schedule, extracts its text and
# records a new version when it changes, flagging new AI, model-training and licensing clauses.
#
# Built from Open Terms Archive's declarations (credit: "Open Terms Archive contributors"), which say
# where each document is, which parts of the page are the document (select/remove), whether the page
# must be rendered in a browser (fetcher: browser) and how it is cleaned (filters, carried over as
# remove selectors or ignore patterns):
{collections}
# Each service names the declaration file it comes from. The few documents OTA does not declare are
# kept from tosmon's first draft and marked "not verified by OTA", with why their URL can be trusted;
# they use tosmon's default extraction (no selectors) until someone checks the page.
#
# Built by scripts/build_watchlist.py from a checkout of the three collections' declarations.
# To refresh: run it again on newer declarations, or add documents OTA has declared since with
#   tosmon import-ota --into watchlist.yaml PATH/TO/declarations/Service.json
# (documents already here are left as they are and said so).
#
# Layout: services -> <service> -> <document type> -> settings (see the README, "The watchlist").
"""


def build(declarations: Path) -> tuple[str, int, int]:
    """The watchlist's text, and how many documents come from OTA and how many are unverified."""
    collections = "\n".join(
        f"#   {folder}: github.com/{repository} at {commit} ({date}), licence {licence}"
        for folder, (repository, commit, date, licence) in COLLECTIONS.items()
    )
    lines = [HEADER.format(collections=collections).rstrip("\n"), ""]
    lines += ["defaults:", "  accept_language: en", 'schedule: "0 4 * * *"', "", "services:"]
    from_ota = unverified = 0
    for section, services in SECTIONS:
        lines += ["", f"  # {section}"]
        for service, source in services:
            documents: list[tuple[str, dict[str, object], str | None]] = []
            if source is not None:
                imported = import_declarations([declarations / source])
                if imported.unreadable:
                    raise SystemExit(f"{source}: {imported.unreadable}")
                documents += [(d.name, d.entry, None) for d in imported.converted]  # type: ignore[misc]
                for refused in imported.refused:
                    if (service, refused.name) not in UNVERIFIED:
                        print(f"left out: {service}/{refused.name}: {refused.refused}", file=sys.stderr)
            for (owner, name), (url, why) in UNVERIFIED.items():
                if owner == service:
                    documents.append((name, {"url": url}, why))
            lines.append(f"  {service}:" + (f"  # from Open Terms Archive {source}" if source else ""))
            for name, entry, why in documents:
                if why is None:
                    from_ota += 1
                else:
                    unverified += 1
                    lines.append(f"    # not verified by OTA: {why}")
                lines += _document(name, entry)
    return "\n".join(lines) + "\n", from_ota, unverified


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    text, from_ota, unverified = build(Path(sys.argv[1]))
    sys.stdout.write(text)
    print(f"{from_ota} documents from OTA, {unverified} not verified by OTA", file=sys.stderr)


if __name__ == "__main__":
    main()
