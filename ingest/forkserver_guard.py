"""Imported by the multiprocessing fork server only: it ends with the process that started it.

The reader pool starts its workers through a fork server. When the run that
owns it is killed, the fork server (and through it every idle worker, which
waits on the server's pipes) would live on; naming this module in
``set_forkserver_preload`` makes the server watch its parent from the start.
Importing it anywhere else would make that process exit with its parent, so
nothing else imports it.
"""

from __future__ import annotations

from ingest.worker_process import exit_when_parent_gone

exit_when_parent_gone()
