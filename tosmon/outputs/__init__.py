"""What a run tells: reports (`report`), notifications and e-mail (`notify`), feeds, exports,
the static site and digests."""
