"""irisin's FIT reader.

* ``decode_fit(data, messages=None) -> DecodedFit``: the columnar decoder.
  ``DecodedFit[name]`` is a ``MessageTable`` of one message type in file order:
  ``columns`` maps field names to ``Column(values, valid)`` numpy pairs,
  ``time``/``time_valid`` hold each row's resolved time (FIT seconds), and
  ``to_arrow()`` gives an Arrow table with nulls. ``status`` is ``ok``,
  ``partial`` (``reason``, ``damage_offset``) or ``not_fit``. Never raises for
  bad bytes.
* ``read_fit(data, ctx) -> ReadResult``: the ``ingest.contract`` reader mapping
  monitoring and activity files to the canonical tables.
* ``FitWriter``: a small writer for tests and the demo generator.

Modules: ``scan`` (record headers, one pass), ``decode`` (per-definition numpy
decoding and profile processing), ``timestamps``, ``crc``, ``basetypes``,
``profile`` (from fitparse / garmin_fit_sdk), ``file_info``, ``monitoring``,
``activity``, ``local_offset``, ``reader``, ``writer``.
"""

from ingest.fit.decode import Column, DecodedFit, MessageTable, decode_fit
from ingest.fit.reader import read_fit
from ingest.fit.writer import FitWriter

__all__ = ["Column", "DecodedFit", "FitWriter", "MessageTable", "decode_fit", "read_fit"]
