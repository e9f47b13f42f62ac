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

from desktop.services.i18n import N_, _
from desktop.services.training import BALANCING, MONITORS, RECIPE, SCHEDULES

DEVICES = ("auto", "cpu", "cuda")
#: The recipe's choices in words (the trainer's option values stay the combo boxes' data).
CHOICE_WORDS = {
    "auto": N_("auto"),
    "constant": N_("constant"),
    "plateau": N_("plateau"),
    "cosine": N_("cosine"),
    "macro_f1": N_("macro_f1"),
    "accuracy": N_("accuracy"),
    "val_loss": N_("val_loss"),
    "sampler": N_("sampler"),
    "loss": N_("loss"),
    "none": N_("none"),
}


def _combo(choices: tuple[str, ...], current: str) -> QComboBox:
    """The trainer's option values as data, shown in the user's language."""
    combo = QComboBox()
    for choice in choices:
        combo.addItem(_(CHOICE_WORDS[choice]) if choice in CHOICE_WORDS else choice, choice)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    return combo


class RecipeForm(QGroupBox):
    """Main settings in one row, the rest behind "Advanced"; ``values()`` for the trainer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_("Settings (the recipe's defaults)"), parent)
        outer = QVBoxLayout(self)
        main = QHBoxLayout()
        self.epochs = QSpinBox(minimum=1, maximum=500, value=RECIPE.epochs)
        self.epochs.setToolTip(
            _("Upper limit; training stops early when validation stops improving")
        )
        self.freeze = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=RECIPE.freeze)
        self.freeze.setToolTip(_("Fraction of the backbone kept frozen"))
        self.lr = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1.0, singleStep=1e-5)
        self.lr.setValue(RECIPE.lr)
        self.batch = QSpinBox(minimum=1, maximum=512, value=RECIPE.batch_size)
        self.device = _combo(DEVICES, "auto")
        self.augment = QCheckBox(_("Augmentation"), checked=True)
        for label, widget in ((N_("Epochs"), self.epochs), (N_("Frozen"), self.freeze),
                              (N_("Learning rate"), self.lr), (N_("Batch"), self.batch),
                              (N_("Device"), self.device)):  # fmt: skip
            main.addWidget(QLabel(_(label)))
            main.addWidget(widget)
        main.addWidget(self.augment)
        main.addStretch(1)
        outer.addLayout(main)
        self.advanced_toggle = QCheckBox(_("Advanced"))
        self.advanced = self._build_advanced()
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self.advanced.setVisible)
        outer.addWidget(self.advanced_toggle)
        outer.addWidget(self.advanced)

    def _build_advanced(self) -> QGroupBox:
        widget = QGroupBox(_("Advanced settings"))
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
        self.input_size = QSpinBox(minimum=0, maximum=1024, value=0, specialValueText=_("model's"))
        self.threads = QSpinBox(minimum=0, maximum=256, value=0, specialValueText=_("automatic"))
        self.name = QLineEdit(placeholderText=_("finetune-<date>"))
        self.decision = QComboBox()
        self.decision.addItem(_("every label (cross-fitting)"), "auto")
        self.decision.addItem(_("a held-out gate (uses the settings above)"), "gate")
        self.decision.setToolTip(
            _(
                "Cross-fitting: a fine-tune of the active model on the case store's labels "
                "re-fits the head on every label and decides on all of them (the epochs, "
                "freezing, learning rate and validation share apply to the held-out gate recipe "
                "only)"
            )
        )
        self.init = QComboBox()
        self.init.addItem(_("the active model"), "auto")
        self.init.addItem(_("the ImageNet backbone (new head)"), "imagenet")
        for label, field in (
            (N_("Early-stopping patience (epochs)"), self.patience),
            (N_("Best model by (validation)"), self.monitor),
            (N_("Weight decay"), self.weight_decay),
            (N_("Validation fraction (new split only)"), self.val_fraction),
            (N_("Seed"), self.seed),
            (N_("Learning-rate schedule"), self.schedule),
            (N_("Class balancing"), self.balance),
            (N_("Input size (pixels)"), self.input_size),
            (N_("CPU threads"), self.threads),
            (N_("Model name"), self.name),
            (N_("Start from"), self.init),
            (N_("Decide with"), self.decision),
        ):
            form.addRow(_(label), field)
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
            if isinstance(values.get(key), str) and combo.findData(values[key]) >= 0:
                combo.setCurrentIndex(combo.findData(values[key]))
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
            "device": self.device.currentData(),
            "augment": self.augment.isChecked(),
            "patience": self.patience.value(),
            "weight_decay": self.weight_decay.value() or None,
            "val_fraction": self.val_fraction.value(),
            "seed": self.seed.value(),
            "schedule": self.schedule.currentData(),
            "monitor": self.monitor.currentData(),
            "balance": self.balance.currentData(),
            "input_size": self.input_size.value() or None,
            "threads": self.threads.value() or None,
            "name": self.name.text().strip() or None,
            "init": self.init.currentData(),
            "decision": self.decision.currentData(),
        }
