"""irisin's FIT reader: a columnar decoder (``decode_fit``) and the canonical mapping (``read_fit``)."""

from ingest.fit.decode import Column, DecodedFit, MessageTable, decode_fit

__all__ = ["Column", "DecodedFit", "MessageTable", "decode_fit"]
