"""The screens pushed over the table: a recording's detail and the confirmation dialogs."""
