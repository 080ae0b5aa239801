"""From a fetched page to the text tosmon compares: HTML (`html`), PDF (`pdf`), and the
normalisation both share (`text`)."""
