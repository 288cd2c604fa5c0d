"""Helpers shared by an exercise's public and hidden suites, one module per exercise (or, for
an exercise with several ideas to them, a package named after it with one module per idea)."""
