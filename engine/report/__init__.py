"""The printable case report (PDF): a cover page, then one block per image.

Qt-free so that ``poxscreen report --run N --out report.pdf`` and the desktop's "Print report..."
make the same file. Cover: date, clinic, selection, model version and its validation figures,
device, counts per predicted class, referrals, disagreements, unreadable files and the "screening
aid, not a diagnosis" notice. Each image: thumbnail, Grad-CAM overlay, predicted class with every
probability, the clinician's label, who, when and note, the referral flag, file name and SHA-256
prefix. Pictures are small JPEG thumbnails, never the originals.

The package by concern: ``options`` (what a caller asks for and gets back), ``pictures``
(thumbnails and overlays), ``styles`` (fonts and markup), ``layout`` (the reportlab flowables)
and ``writer`` (collect, draw, write atomically). Each imports only the ones before it.
"""

from engine.report.options import NOTICE, ReportOptions, ReportSummary
from engine.report.pictures import ReportCancelled
from engine.report.writer import build_pdf, write_report

__all__ = [
    "NOTICE",
    "ReportCancelled",
    "ReportOptions",
    "ReportSummary",
    "build_pdf",
    "write_report",
]
