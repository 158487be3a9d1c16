"""The console's screens and widgets on their own: Escape, self-loading detail, the table diff."""

from __future__ import annotations

from datetime import timedelta

from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from tests.console.conftest import NOW, frozen_now
from tests.console.test_console import make_app, select, table_ids, wait_for
from whisperops.config import Settings
from whisperops.console.screens.detail import DetailScreen
from whisperops.console.screens.dialogs import ConfirmScreen, FailScreen
from whisperops.console.widgets import RecordingsTable
from whisperops.models import Recording, Status
from whisperops.schemas import RecordingListItem


async def test_escape_closes_detail_dialogs_and_search(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    app = make_app(console_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one(RecordingsTable).row_count == 6)
        main = app.screen
        await select(pilot, app, recordings["done"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is main)

        await select(pilot, app, recordings["failed"])
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is main)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FailScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is main)

        await pilot.press("slash", *"call", "enter")
        await wait_for(pilot, lambda: table_ids(app) == [recordings["done"]])
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(table_ids(app)) == 6)
        assert isinstance(app.focused, RecordingsTable)
        assert not app.query_one("#search").display
    # Escape on a dialog answers "no": nothing changed.
    assert Recording.get_by_id(recordings["failed"]).status is Status.FAILED


async def test_detail_screen_loads_its_own_data(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    """Pushed on a bare App (no ConsoleApp to call back into), it still shows the recording."""
    done = recordings["done"]

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(DetailScreen(done, console_settings, frozen_now))

    app = Host()
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        body = app.screen.query_one("#detail-body", Static)
        await wait_for(pilot, lambda: "Steps:" in str(body.render()))
        text = str(body.render())
        assert f"Recording #{done}" in text and "call-0042.wav" in text
        assert "agent: Hello." in text
        # ctrl+r reads again: a change made meanwhile shows up.
        Recording.update(error_message="checked by hand").where(Recording.id == done).execute()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "checked by hand" in str(body.render()))


async def test_detail_screen_says_when_the_recording_is_gone(
    console_settings: Settings, recordings: dict[str, int]
) -> None:
    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(DetailScreen(9999, console_settings, frozen_now))

    app = Host()
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        body = app.screen.query_one("#detail-body", Static)
        await wait_for(pilot, lambda: "Loading" not in str(body.render()))
        assert "9999" in str(body.render())


def _item(recording_id: int, file_name: str, **fields) -> RecordingListItem:
    return RecordingListItem.model_validate(
        {
            "id": recording_id,
            "file_name": file_name,
            "status": Status.QUEUED,
            "retry_count": 0,
            "created_at": NOW - timedelta(hours=1),
            "updated_at": NOW - timedelta(minutes=1),
            **fields,
        }
    )


async def test_recordings_table_applies_a_keyed_diff_and_keeps_the_cursor() -> None:
    class Host(App):
        def compose(self) -> ComposeResult:
            yield RecordingsTable()

    app = Host()
    async with app.run_test(size=(160, 24)) as pilot:
        table = app.query_one(RecordingsTable)
        table.show([_item(1, "a.wav"), _item(2, "b.wav"), _item(3, "c.wav")], NOW, 160)
        table.move_cursor(row=table.get_row_index("2"))
        await pilot.pause()
        kept = table.get_row("3")
        # 1 vanishes, 2 changes status and moves first, 3 stays as it was, 4 is new.
        table.show(
            [_item(2, "b.wav", status=Status.PROCESSING), _item(3, "c.wav"), _item(4, "d.wav")],
            NOW,
            160,
        )
        await pilot.pause()
        assert [row.key.value for row in table.ordered_rows] == ["2", "3", "4"]
        assert table.get_cell("2", "status").plain == "processing"
        # Untouched rows keep their very cells: nothing was rebuilt for them.
        assert all(a is b for a, b in zip(table.get_row("3"), kept, strict=True))
        assert table.selected_key() == "2"
        assert table.cursor_row == 0
