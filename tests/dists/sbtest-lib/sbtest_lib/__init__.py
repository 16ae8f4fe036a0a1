"""A plain library (no provider) the test providers require."""

VERSION = "1.5.0"
