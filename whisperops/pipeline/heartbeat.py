"""The heartbeat: keeps a running recording's updated_at (and estimate) fresh, so the
sweep can tell a busy worker from a lost one."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from whisperops.db import database_proxy
from whisperops.health.service_errors import Outage, database_error
from whisperops.models import Step
from whisperops.ops.attempt import Fenced
from whisperops.pipeline.job_state import JobState

log = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    """Refreshes updated_at (and the progress estimate) while a step runs."""

    def __init__(self, state: JobState, interval: float) -> None:
        super().__init__(name=f"heartbeat-{state.recording.id}", daemon=True)
        self.state = state
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        outage = Outage(f"Heartbeat of {self.state.who}: the database", log)
        while not self.stopping.wait(self.interval):
            try:
                # Its own connection, closed after each beat: the job's thread holds another.
                with database_proxy.connection_context():
                    self.state.fence.update(**progress_fields(self.state))
            except Fenced:
                self.state.fenced.set()
                return
            except Exception as exc:  # a DB blip must not kill the heartbeat
                if database_error(exc, self.state.settings.database_url.get_secret_value()) is None:
                    log.warning("Heartbeat write failed for %s", self.state.who, exc_info=True)
                else:  # one line when it goes, one when it is back
                    outage.down(exc)
            else:
                outage.up()

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def progress_fields(state: JobState) -> dict:
    """The estimate's columns while transcribing; nothing in the other steps."""
    if state.step != Step.TRANSCRIBE or state.estimator is None:
        return {}
    estimate = state.estimator.estimate()
    finish = None  # from now, by the database's clock: FencedRecording.update reads it
    if estimate.remaining_sec is not None:
        finish = timedelta(seconds=estimate.remaining_sec)
    return {"progress_ratio": round(estimate.ratio, 4), "estimated_finish_at": finish}
