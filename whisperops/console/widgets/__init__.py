"""The console's own widgets: the recordings table, the status lines, the search field."""

from whisperops.console.widgets.recordings_table import RecordingsTable
from whisperops.console.widgets.search_bar import SearchBar
from whisperops.console.widgets.status_bar import Banner, StatusBar

__all__ = ["Banner", "RecordingsTable", "SearchBar", "StatusBar"]
