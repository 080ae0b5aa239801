"""tosmon: watch the terms of service of online platforms and flag new AI, training and licensing clauses.

The pipeline, one module per stage::

    watchlist -> fetch (browser) -> extract (pdf, text) -> health -> store (memory) -> diff -> flag
              -> report -> notify (mail, channels, outbox)

`check` runs the pipeline once over a watchlist; `variants` compares a document's regional and language
variants after it; `schedule` runs it on cron expressions (`cron`); `cli` drives it all. `memory` is each
document's clause memory (wording it carried, so a restored clause is not news); `trial` fetches a page
once without recording it (`tosmon add`, `tosmon extract`); `watchlist_edit` edits watchlist.yaml keeping
every byte the user wrote. Looking back: `history` (timelines, and pages of the past recorded through
the health guards), `backfill` (web archives), `otaversions` and `ota` (Open Terms Archive imports),
`digest`, `feed`, `export` and `site` (ways to share what was found). `demo` is the offline demonstration.
"""

__version__ = "0.1.0"
