"""Reports: the export dialog (CSV, class folders) and the printed case report."""
