"""The Audit view: the audit trail filtered by who, kind and date, exported as CSV, with the
readers' agreement (desktop.audit.dialog.AuditDialog)."""
