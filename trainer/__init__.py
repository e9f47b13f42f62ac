"""Local fine-tuning of MobileNetV2-MSCA-PFR: data, leak-free splits, fit, evaluation, promotion.

Runs as its own process (``python -m trainer``) so the GUI stays responsive and a crash or kill
can never leave a half-registered model. Imports ``engine`` only; never Qt.
"""

__all__: list[str] = []
