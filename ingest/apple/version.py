"""Version of the Apple Health reader family, recorded in the manifest for every file it decides.

Bump it by one with any change that reads a file differently; ``ingest.versions``
says what then happens (files not read whole are tried again).
"""

READER_VERSION = 2
