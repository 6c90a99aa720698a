"""Version of the Garmin Connect export reader family, recorded in the manifest for every file it decides.

Bump it by one with any change that reads a file differently; ``ingest.versions``
says what then happens (files not read whole are tried again).
"""

READER_VERSION = 3
"""3: the birth year of ``user_profile.json`` (skipped before)."""
