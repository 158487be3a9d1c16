"""The live table of recordings, keyed by recording id and updated as a diff."""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import datetime
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from whisperops.console.rows import (
    COLUMNS,
    MARK,
    WIDE_TERMINAL,
    cell,
    is_stuck_soon,
    row_values,
)
from whisperops.schemas import RecordingListItem


class RecordingsTable(DataTable):
    """One row per recording, its row key the recording id.

    A refresh touches only what changed (rows that vanished, cells whose text
    changed, rows that are new), so the cursor and scroll position survive it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        for column in COLUMNS:
            self.add_column(column.upper(), key=column)
        self.shown: dict[str, tuple[str, ...]] = {}  # row key -> the plain text of its cells
        self.wide: bool | None = None

    def show(
        self,
        rows: Sequence[RecordingListItem],
        now: datetime,
        width: int,
        stuck_threshold_sec: float | None = None,
        marked: Container[int] = (),
    ) -> None:
        """Make the table show ``rows`` in this order, sized for a terminal ``width`` wide.

        Rows whose id is in ``marked`` show the mark; processing rows silent for half
        of ``stuck_threshold_sec`` are highlighted with the time left until the sweep.
        """
        selected = self.selected_key()
        wide = width >= WIDE_TERMINAL
        if wide != self.wide:
            # Column widths only ever grow: start afresh when the cells get narrower.
            self.clear()
            self.shown.clear()
            self.wide = wide
        wanted = [str(row.id) for row in rows]
        with self.app.batch_update():
            for key in self.shown.keys() - set(wanted):
                self.remove_row(key)
                del self.shown[key]
            for row in rows:
                key = str(row.id)
                values = row_values(row, now, width, stuck_threshold_sec, row.id in marked)
                self._show_row(key, values)
            current = [row.key.value for row in self.ordered_rows]
            if current != wanted:
                position = {key: index for index, key in enumerate(wanted)}
                self.sort("id", key=lambda cells: position[cells[0].plain.lstrip(MARK + " ")])
            if selected in self.shown:
                self.move_cursor(row=self.get_row_index(selected), scroll=False)

    def _show_row(self, key: str, values: tuple[str, ...]) -> None:
        old = self.shown.get(key)
        warn = is_stuck_soon(values)
        if old is None:
            cells = (cell(c, v, warn) for c, v in zip(COLUMNS, values, strict=True))
            self.add_row(*cells, key=key)
        elif old != values:
            # A row turning stuck-soon (or back) restyles cells whose text is unchanged.
            restyle = warn != is_stuck_soon(old)
            for column, before, after in zip(COLUMNS, old, values, strict=True):
                if before != after or restyle:
                    # The id column widens for a mark ("● 12"); the others keep their width.
                    widen = column == "id"
                    self.update_cell(key, column, cell(column, after, warn), update_width=widen)
        self.shown[key] = values

    def selected_key(self) -> str | None:
        """The row key (recording id as text) under the cursor, or None if the table is empty."""
        if self.row_count == 0:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
