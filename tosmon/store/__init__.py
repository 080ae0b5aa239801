"""Evidence and versions on disk (`files`), read back by date (`history`), and the clause
memory kept beside them (`memory`)."""
