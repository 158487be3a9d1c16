from datetime import UTC, datetime

from whisperops.models import Status
from whisperops.schemas import RecordingDetail, RecordingListItem

NOW = datetime(2026, 11, 30, 12, 0, 0)

BASE = {
    "id": 7,
    "file_name": "call.wav",
    "status": Status.QUEUED,
    "created_at": NOW,
    "updated_at": NOW,
}
DETAIL = {**BASE, "file_path": "/in/call.wav", "sha256": "ab" * 32, "size_bytes": 10}


def test_list_item_step_fields_are_optional_and_serialized_as_null() -> None:
    item = RecordingListItem(**BASE)
    assert item.processing_step is None
    assert item.processing_step_started_at is None
    dumped = item.model_dump(mode="json")
    assert dumped["processing_step"] is None
    assert dumped["processing_step_started_at"] is None


def test_detail_step_fields_are_optional_and_serialized_as_null() -> None:
    detail = RecordingDetail(**DETAIL)
    dumped = detail.model_dump(mode="json")
    assert "processing_step" in dumped and dumped["processing_step"] is None
    assert "processing_step_started_at" in dumped and dumped["processing_step_started_at"] is None


def test_step_fields_carry_values_as_utc() -> None:
    started = datetime(2026, 11, 30, 11, 58, 0)
    for schema, fields in ((RecordingListItem, BASE), (RecordingDetail, DETAIL)):
        item = schema(
            **{**fields, "status": Status.PROCESSING},
            processing_step="transcribe",
            processing_step_started_at=started,
        )
        assert item.processing_step == "transcribe"
        assert item.processing_step_started_at == started.replace(tzinfo=UTC)
        dumped = item.model_dump(mode="json")
        assert dumped["processing_step"] == "transcribe"
        assert dumped["processing_step_started_at"] == "2026-11-30T11:58:00Z"
        assert dumped["status"] == "processing"
