"""Helpers shared by an exercise's public and hidden suites, one module per exercise."""
