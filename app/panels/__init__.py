"""Dockable panels of the main window (each installed by one method of :class:`app.main_window.MainWindow`)."""
