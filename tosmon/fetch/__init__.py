"""Fetching a page: over HTTP (`http`), in Chromium (`browser`) for pages that need scripts."""
