"""Adversarial harness for issue 15: every area of the issue tried, one table of figures.

Each area module builds real-shaped inputs, damages them in seeded ways and
runs them through the same code a study run uses; it returns one
``AreaFigures`` row. ``python -m bench.adversarial`` prints the table:

    area | cases | crashes | good records lost | impossible values counted | outcomes

*crashes* are exceptions that escaped the code under test (a reader, the
ingest pipeline, a flow). *good records lost* are records of the undamaged
input that the damage did not touch (rows before a FIT file's damage, sibling
files, good members of an archive, a kill's clean-run rows) and that did not
land unchanged. *impossible values counted* are samples and timestamps left
out and counted in a file's notes.
"""
