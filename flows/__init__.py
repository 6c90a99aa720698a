"""Prefect 3 flows over the pipeline steps of ``pipeline.jobs``: the only package that imports Prefect.

* ``flows.nightly.nightly_flow(study_dir)``: new inbox files, touched weeks, scores, warehouse.
* ``flows.backfill.backfill_flow(study_dir, participants, since, until, source_dir)``: resumable cohort reprocessing.
* ``flows.rescore.rescore_flow(study_dir)``: recompute from the lake after a configuration change.
* ``flows.serve.build_deployment(study_dir)`` / ``flows.serve.serve(study_dir)``: the scheduled nightly deployment.

Each flow returns a dict (``summary`` markdown, file counts, run id, ...) and
ends ``Completed``, with a warning message when files were partial,
quarantined or could not be read.
"""
