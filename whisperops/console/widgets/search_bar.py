"""The file-name search field: Enter applies what is typed, Escape clears it."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input


class SearchBar(Input):
    """Submits its text on Enter; Escape submits an empty search (show everything)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_search", "Clear search", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="search file names; Enter to apply, Esc to clear", id=id)

    async def action_clear_search(self) -> None:
        self.value = ""
        await self.action_submit()
