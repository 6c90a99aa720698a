"""The demo study taken through the nightly's steps without Prefect, for the slow end-to-end tests."""

from __future__ import annotations

from pathlib import Path

from config import Study, open_study
from ingest.pipeline import Ingestor
from pipeline.demo.generate import DemoStudy, generate_demo
from pipeline.jobs import derive, inbox_items, ingest_item, lake_of, publish


def build_demo_study(root: Path) -> tuple[DemoStudy, Study]:
    """Generate the demo study at ``root``, then ingest its inbox, derive and publish.

    Every inbox item goes through one ``Ingestor`` (one manifest read for all of
    them, as the flows do); re-reading the manifest per item made this
    quadratic in the demo's 340 items.
    """
    demo = generate_demo(root)
    study = open_study(root)
    lake = lake_of(study)
    ingestor = Ingestor(study, lake)
    for item in inbox_items(study):
        ingest_item(study, item, lake, ingestor)
    derive(study)
    publish(study)
    return demo, study
