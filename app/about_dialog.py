"""Help ▸ About: the app's name and icon over the same first-run report as ``everscape doctor``.

Showing the report in the app means a user who never opens a terminal can still see which device
renders and why, where their files are, and copy all of it into a bug report with one click.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.icon import application_icon
from engine.diagnostics import format_report, system_report


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Everscape")
        self.report_text = format_report(system_report())
        header = QHBoxLayout()
        icon = QLabel()
        icon.setPixmap(application_icon().pixmap(64, 64))
        header.addWidget(icon)
        header.addWidget(QLabel("<b>Everscape</b><br>Explore, paint and export endless generated landscapes."), 1)
        self.report = QPlainTextEdit(self.report_text)
        self.report.setReadOnly(True)
        self.report.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.report.setFont(QFont("monospace"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("&Copy report", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_report)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.report, 1)
        layout.addWidget(buttons)
        self.resize(760, 420)

    def copy_report(self) -> None:
        """Put the report on the clipboard, ready to paste into a bug report."""
        QGuiApplication.clipboard().setText(self.report_text)


def show_about(parent: QWidget) -> AboutDialog:
    dialog = AboutDialog(parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
