"""The fine-tuning recipe as a form: its defaults and choices come from the engine's RECIPE
(through desktop.services.training), the same ones the trainer's command line offers."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.services.training import BALANCING, MONITORS, RECIPE, SCHEDULES

DEVICES = ("auto", "cpu", "cuda")


def _combo(choices: tuple[str, ...], current: str) -> QComboBox:
    combo = QComboBox()
    combo.addItems(list(choices))
    combo.setCurrentText(current)
    return combo


class RecipeForm(QGroupBox):
    """Main settings in one row, the rest behind "Advanced"; ``values()`` for the trainer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Settings (the recipe's defaults)", parent)
        outer = QVBoxLayout(self)
        main = QHBoxLayout()
        self.epochs = QSpinBox(minimum=1, maximum=500, value=RECIPE.epochs)
        self.epochs.setToolTip("Upper limit; training stops early when validation stops improving")
        self.freeze = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=RECIPE.freeze)
        self.freeze.setToolTip("Fraction of the backbone kept frozen")
        self.lr = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1.0, singleStep=1e-5)
        self.lr.setValue(RECIPE.lr)
        self.batch = QSpinBox(minimum=1, maximum=512, value=RECIPE.batch_size)
        self.device = _combo(DEVICES, "auto")
        self.augment = QCheckBox("Augmentation", checked=True)
        for label, widget in (("Epochs", self.epochs), ("Frozen", self.freeze),
                              ("Learning rate", self.lr), ("Batch", self.batch),
                              ("Device", self.device)):  # fmt: skip
            main.addWidget(QLabel(label))
            main.addWidget(widget)
        main.addWidget(self.augment)
        main.addStretch(1)
        outer.addLayout(main)
        self.advanced_toggle = QCheckBox("Advanced")
        self.advanced = self._build_advanced()
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self.advanced.setVisible)
        outer.addWidget(self.advanced_toggle)
        outer.addWidget(self.advanced)

    def _build_advanced(self) -> QGroupBox:
        widget = QGroupBox("Advanced settings")
        form = QFormLayout(widget)
        r = RECIPE
        self.patience = QSpinBox(minimum=1, maximum=200, value=r.patience)
        self.weight_decay = QDoubleSpinBox(
            decimals=6, maximum=1.0, singleStep=1e-4, value=r.weight_decay
        )
        self.val_fraction = QDoubleSpinBox(
            minimum=0.05, maximum=0.5, singleStep=0.05, value=r.val_fraction
        )
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=r.seed)
        self.schedule = _combo(SCHEDULES, r.schedule)
        self.monitor = _combo(MONITORS, r.monitor)
        self.balance = _combo(BALANCING, r.balance)
        self.input_size = QSpinBox(minimum=0, maximum=1024, value=0, specialValueText="model's")
        self.threads = QSpinBox(minimum=0, maximum=256, value=0, specialValueText="automatic")
        self.name = QLineEdit(placeholderText="finetune-<date>")
        self.decision = QComboBox()
        self.decision.addItem("every label (cross-fitting)", "auto")
        self.decision.addItem("a held-out gate (uses the settings above)", "gate")
        self.decision.setToolTip(
            "Cross-fitting: a fine-tune of the active model on the case store's labels re-fits "
            "the head on every label and decides on all of them (the epochs, freezing, learning "
            "rate and validation share apply to the held-out gate recipe only)"
        )
        self.init = QComboBox()
        self.init.addItem("the active model", "auto")
        self.init.addItem("the ImageNet backbone (new head)", "imagenet")
        for label, field in (
            ("Early-stopping patience (epochs)", self.patience),
            ("Best model by (validation)", self.monitor),
            ("Weight decay", self.weight_decay),
            ("Validation fraction (new split only)", self.val_fraction),
            ("Seed", self.seed),
            ("Learning-rate schedule", self.schedule),
            ("Class balancing", self.balance),
            ("Input size (pixels)", self.input_size),
            ("CPU threads", self.threads),
            ("Model name", self.name),
            ("Start from", self.init),
            ("Decide with", self.decision),
        ):
            form.addRow(label, field)
        return widget

    def set_values(self, values: dict[str, Any]) -> None:
        """Show a recipe kept from last time (unknown keys and bad values are skipped)."""
        spins = {"epochs": self.epochs, "freeze": self.freeze, "lr": self.lr,
                 "batch_size": self.batch, "patience": self.patience,
                 "weight_decay": self.weight_decay, "val_fraction": self.val_fraction,
                 "seed": self.seed, "input_size": self.input_size, "threads": self.threads}  # fmt: skip
        for key, spin in spins.items():
            value = values.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                spin.setValue(value)  # type: ignore[attr-defined]
            elif value is None and key in ("weight_decay", "input_size", "threads"):
                spin.setValue(0)  # type: ignore[attr-defined]
        for key, combo in (("device", self.device), ("schedule", self.schedule),
                           ("monitor", self.monitor), ("balance", self.balance)):  # fmt: skip
            if isinstance(values.get(key), str) and combo.findText(values[key]) >= 0:
                combo.setCurrentText(values[key])
        for key, combo in (("init", self.init), ("decision", self.decision)):
            if combo.findData(values.get(key)) >= 0:
                combo.setCurrentIndex(combo.findData(values.get(key)))
        if isinstance(values.get("augment"), bool):
            self.augment.setChecked(values["augment"])

    def values(self) -> dict[str, Any]:
        """The settings, by the trainer's option names (None: the trainer's own default)."""
        return {
            "epochs": self.epochs.value(),
            "freeze": round(self.freeze.value(), 4),
            "lr": self.lr.value(),
            "batch_size": self.batch.value(),
            "device": self.device.currentText(),
            "augment": self.augment.isChecked(),
            "patience": self.patience.value(),
            "weight_decay": self.weight_decay.value() or None,
            "val_fraction": self.val_fraction.value(),
            "seed": self.seed.value(),
            "schedule": self.schedule.currentText(),
            "monitor": self.monitor.currentText(),
            "balance": self.balance.currentText(),
            "input_size": self.input_size.value() or None,
            "threads": self.threads.value() or None,
            "name": self.name.text().strip() or None,
            "init": self.init.currentData(),
            "decision": self.decision.currentData(),
        }
