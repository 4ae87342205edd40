"""Reference tests: every schedule family against the library or paper that defines it."""
