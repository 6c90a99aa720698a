"""The version of this reader family, recorded in the manifest for every file it decides.

Bump ``READER_VERSION`` (by one) in the same commit as a change that makes
this family read a file differently: a file it skipped, quarantined or read
only in part may now be read (more). The next nightly then reads those
files again by itself (``ingest.versions``). Files it read whole are not
re-read.
"""

READER_VERSION = 3
"""3: the birth year of the account ``Profile.csv`` (not read before)."""
