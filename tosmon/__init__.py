"""tosmon: watch the terms of service of online platforms and flag new AI, training and licensing clauses.

The pipeline, one module or package per stage::

    watchlist -> fetch -> extract -> health -> store -> diff -> flag -> outputs

- `watchlist` reads watchlist.yaml (`cron` parses its schedules; `watchlist_edit` edits it keeping every
  byte the user wrote); `models` and `errors` are the plain data and the exceptions the stages share.
- `fetch/`: getting a page, over HTTP (`http`) or in Chromium (`browser`) for pages that need scripts.
- `extract/`: from a page to the text tosmon compares: HTML (`html`), PDF (`pdf`), the normalisation
  both share (`text`).
- `health`: is the page the document, or a challenge, an error page, a broken or doubled rendering?
- `store/`: evidence and versions on disk (`files`), read back by date (`history`), and each document's
  clause memory (`memory`: wording it carried lately, so a restored clause is not news).
- `diff`: clause by clause, what changed; `flag/`: which changes matter (`rules`, reading the taxonomy,
  `taxonomy.yaml`).
- `outputs/`: what a run tells: `report`, `notify` (e-mail and channels, with an outbox), `feed`,
  `export`, `site`, `digest`.

`check` runs the pipeline once over a watchlist; `variants` compares a document's regional and language
variants after it; `schedule` runs it on cron expressions; `trial` fetches a page once without recording
it (`tosmon add`, `tosmon extract`). `sources/` brings history from elsewhere: web archives (`backfill`),
Open Terms Archive's declarations (`ota`) and versions (`otaversions`). `demo` is the offline
demonstration; `cli/` parses arguments and prints, and is the only part that imports click or rich.
"""

__version__ = "0.1.0"
