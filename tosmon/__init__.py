"""tosmon: watch the terms of service of online platforms and flag new AI, training and licensing clauses.

The pipeline, one module per stage::

    watchlist -> fetch (browser) -> extract (pdf) -> health -> store -> diff -> flag -> report -> notify

`check` runs the pipeline once over a watchlist; `schedule` runs it on cron expressions; `cli` drives
it all. Looking back: `history` (timelines), `backfill` (web archives), `otaversions` and `ota`
(Open Terms Archive imports), `digest`, `feed`, `export` and `site` (ways to share what was found).
`demo` is the offline demonstration.
"""

__version__ = "0.1.0"
