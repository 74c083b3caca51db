"""What every way in shares: the request contract, search-and-log, the query log, rate limits, health."""
