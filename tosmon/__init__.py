"""tosmon: watch the terms of service of online platforms and flag new AI, training and licensing clauses.

The pipeline, one module per stage::

    watchlist -> fetch -> extract -> store -> diff -> flag -> report -> notify
                                (check runs them in order; schedule runs check; cli drives it all)
"""

__version__ = "0.1.0"
