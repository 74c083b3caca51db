"""The archives read into answer units: text, archive files, authors, units, passages."""
