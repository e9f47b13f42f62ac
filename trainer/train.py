"""One training run, start to finish: data -> split -> start model -> BN -> fit -> calibrate ->
evaluate -> model file + report -> registration (last, and only with a complete model file).

Run folder contents: ``split.json`` (the images of each split, by SHA-256), ``best.safetensors``
(rewritten at each improvement), ``model.safetensors`` (the final, calibrated model),
``report.json`` and PNG figures (training curves; confusion matrix, ROC, PR and reliability for
each evaluated split). A file named ``STOP`` in the run folder stops the run cleanly.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from engine.checkpoint import ModelMeta
from engine.device import DeviceChoice, select_device
from engine.paths import user_data_dir
from engine.recipe import ADAPT, BN_MODES, DECISION, RECIPE, AdaptRecipe, DecisionRule
from engine.training import new_run_dir
from trainer.bn import freeze_backbone, frozen_block_count, recalibrate_bn, reestimate_bn
from trainer.class_plan import (
    MIN_LABELS_PER_CLASS,
    ClassPlan,
    check_enough,
    count_lines,
    label_counts,
    parent_classes,
    plan_classes,
)
from trainer.data import DataError, Sample, Skipped, TrainDataset
from trainer.final_model import deliver
from trainer.fit import FitConfig, FitResult, fit, seed_everything
from trainer.initial_model import start_model
from trainer.prepare import Prepared, SplitRequest, gather, prepare
from trainer.progress import Reporter, StopControl, StoppedEarly
from trainer.splits import DEFAULT_THRESHOLD

BN_IMAGES = 512
BN_CHUNK = 32  # images per forward pass while BatchNorm statistics are re-estimated
EVAL_BATCH_MIN = 32  # evaluation batches are at least this big (no gradients: memory is cheap)


@dataclass
class TrainOptions:
    """Everything ``python -m trainer train`` can set (see its --help)."""

    data_dirs: list[Path] = field(default_factory=list)
    from_store: bool = False
    lab_only: bool = False  # the store's photos of lab-confirmed visits only
    db: str | None = None
    register: bool = True
    init: str = "auto"
    classes: list[str] | None = None
    out: Path | None = None
    split_file: Path | None = None
    val_fraction: float = RECIPE.val_fraction
    gate_fraction: float = RECIPE.gate_fraction
    test_fraction: float = RECIPE.test_fraction
    hash_threshold: int = DEFAULT_THRESHOLD
    freeze: float = RECIPE.freeze
    bn: str = RECIPE.bn
    augment: bool = True
    augmentation: str = "standard"  # or "phone" (see trainer.data.train_transform)
    device: str = "auto"
    input_size: int | None = None
    name: str | None = None
    promote_metric: str = RECIPE.promote_metric
    force_promote: bool = False
    min_delta: float = RECIPE.min_delta
    activate: bool = True
    stop_file: Path | None = None
    fit: FitConfig = field(default_factory=FitConfig)
    decision: str = "auto"  # "cross-fit", "gate", or auto (see trainer.clinic_run.use_cross_fit)
    rule: DecisionRule = DECISION
    adapt: AdaptRecipe = ADAPT


def stamp() -> str:
    """A UTC time stamp that sorts as text (run folder and model names)."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def default_run_dir() -> Path:
    """Where a run goes when no ``--out`` is given: a new folder, taken atomically, so two
    trainings started in the same second never share one."""
    return new_run_dir(user_data_dir() / "training")


def prepare_bn(
    model: torch.nn.Module, mode: str, train_set: TrainDataset, seed: int, device: torch.device
) -> str:
    """Make BatchNorm fit for training mode before anything is frozen; returns what was done.

    "preserve" (pretrained starts): re-estimate statistics keeping the eval function, so the
    ImageNet features survive training mode. "recalibrate" (random starts): plain statistics
    update. Uses up to 512 augmented training images, seeded.
    """
    if mode == "none":
        return "none"
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(train_set), generator=gen)[:BN_IMAGES].tolist()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        batches = [
            torch.stack([train_set[i][0] for i in idx[j : j + BN_CHUNK]])
            for j in range(0, len(idx), BN_CHUNK)
        ]
    if mode == "recalibrate":
        recalibrate_bn(model, batches, device=device)
    else:
        reestimate_bn(model, batches, device=device)
    return mode


def run_training(
    opts: TrainOptions, reporter: Reporter | None = None, stop: StopControl | None = None
) -> dict[str, Any]:
    """Train, evaluate, write the model and the report, and (optionally) register it."""
    reporter = reporter or Reporter()
    opts.fit.validate()
    if opts.bn not in BN_MODES:
        raise ValueError(f"bn mode must be one of {BN_MODES}, got {opts.bn!r}")
    if not opts.data_dirs and not opts.from_store:
        raise DataError("no training data: give --data DIR and/or --from-store")
    run_dir = Path(opts.out) if opts.out else default_run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    stop = stop or StopControl(opts.stop_file or run_dir / "STOP")
    if stop.stop_file is not None:  # a stop file left by an earlier run in this folder is stale
        stop.stop_file.unlink(missing_ok=True)
    reporter.emit("run", run_dir=run_dir, stop_file=stop.stop_file, pid=os.getpid())
    store = None
    if opts.from_store or opts.register:
        from trainer.sources import open_store

        store = open_store(opts.db)
    deterministic = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    try:
        return _run(opts, reporter, stop, run_dir, store)
    except Exception as exc:
        if store is not None and opts.register and not isinstance(exc, StoppedEarly):
            store.record_failed_training(  # a note for the GUI's history; never a model
                {
                    "data_dirs": [str(d) for d in opts.data_dirs],
                    "from_store": opts.from_store,
                    "init": opts.init,
                    "run_dir": str(run_dir),
                },
                {},
                f"{type(exc).__name__}: {exc}\n",
            )
        raise
    finally:  # leave the process as found (matters when called in-process, e.g. tests)
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        if store is not None:
            store.close()


def _run(
    opts: TrainOptions, reporter: Reporter, stop: StopControl, run_dir: Path, store: Any
) -> dict[str, Any]:
    from trainer.sources import current_model_path, store_split_path

    t0 = time.monotonic()
    cfg = opts.fit
    seed_everything(cfg.seed)
    choice = select_device(opts.device)
    device = choice.device
    early, unusable = _parent_in_use(opts, store)
    samples, skipped, per_source, plan = _gather_labelled(
        opts, store, reporter, early[0] if early else None
    )
    if unusable is not None:  # said after the labels, which may have a plainer problem
        raise unusable
    current = early or current_model_path(store, opts.init)
    model, meta, start_desc = start_model(
        opts.init, plan.classes, cfg.seed, active_path=current[0], input_size=opts.input_size
    )
    parent_hash = meta.content_hash or None
    if _cross_fits(opts, plan, len(samples)):
        return _run_clinic(opts, reporter, stop, run_dir, store, samples, plan, (model, meta),
                           start_desc, current, t0)  # fmt: skip
    model.to(device)
    record = opts.split_file or (store_split_path(store) if opts.from_store else None)
    data = _prepare_data(opts, samples, skipped, per_source, meta, record, run_dir, reporter, stop)
    _announce_start(reporter, run_dir, choice, data, cfg, start_desc)
    bn_mode = _prepare_model(model, opts, data, device, reporter, stop)
    params = _run_params(opts, model, meta, start_desc, parent_hash, bn_mode, device)
    data_summary = _data_summary(per_source, data, record)
    params.update(plan.training_params())
    ck_meta = _checkpoint_meta(meta, opts, parent_hash, params, start_desc)
    result = _fit_best(model, data, cfg, device, run_dir, ck_meta, reporter, stop)
    report = deliver(
        model=model,
        ck_meta=ck_meta,
        data=data,
        result=result,
        run_dir=run_dir,
        device=device,
        reporter=reporter,
        store=store,
        current=current,
        register=opts.register,
        promote_metric=opts.promote_metric,
        force_promote=opts.force_promote,
        params=params,
        data_summary=data_summary,
        min_delta=opts.min_delta,
        activate=opts.activate,
    )
    _announce_done(reporter, result, report, run_dir, t0)
    return report


def _cross_fits(opts: TrainOptions, plan: ClassPlan, n: int) -> bool:
    from trainer.clinic_run import use_cross_fit

    if plan.deliberate:  # a changed class list cannot be compared photo by photo
        return opts.decision == "cross-fit"
    return use_cross_fit(opts.decision, opts.from_store, opts.data_dirs, opts.init, n, opts.rule)


def _run_clinic(
    opts: TrainOptions,
    reporter: Reporter,
    stop: StopControl,
    run_dir: Path,
    store: Any,
    samples: list[Sample],
    plan: ClassPlan,
    start: tuple[torch.nn.Module, ModelMeta],
    start_desc: str,
    current: tuple[Path | None, bool],
    t0: float,
) -> dict[str, Any]:
    """The clinic fine-tune: cross-fitted decision, final head on every label (CPU: seconds)."""
    from trainer.clinic_run import deliver_clinic, fit_for_clinic, load_in_use
    from trainer.sources import clinic_photo_files

    model, meta = start
    parent_hash = meta.content_hash or None
    k = opts.rule.folds
    reporter.emit(
        "start", run_dir=run_dir, device="cpu", device_reason="cached backbone features",
        classes=meta.classes, n_train=len(samples), n_val=0, n_gate=0, n_test=0,
        epochs=k + 1, steps=1, start_model=start_desc, skipped=0, method="cross-fit",
    )  # fmt: skip
    reporter.say(f"start: {start_desc}; {len(samples)} labels, {k}-fold cross-fitting, then all")
    in_use = load_in_use(current[0], parent_hash) if opts.init not in ("auto", "active") else None
    fit = fit_for_clinic(
        model.cpu(), meta, samples, in_use, reporter, stop, recipe=opts.adapt, rule=opts.rule,
        force=opts.force_promote, hash_threshold=opts.hash_threshold,
        clinic_photos=clinic_photo_files(store, opts.adapt),
    )  # fmt: skip
    params = {
        "init": start_desc, "parent": parent_hash, "method": "cross-fit", "device": "cpu",
        "input_size": meta.input_size, **{f"adapt_{k}": v for k, v in dataclasses.asdict(opts.adapt).items()},
        **{f"rule_{k}": v for k, v in dataclasses.asdict(opts.rule).items()}, **plan.training_params(),
    }  # fmt: skip
    ck_meta = _checkpoint_meta(meta, opts, parent_hash, params, start_desc)
    summary = {"sources": {"store": len(samples)}, "classes": list(meta.classes)}
    report = deliver_clinic(
        fit, ck_meta, params, summary, run_dir, store, current[0], reporter,
        register=opts.register, activate=opts.activate,
    )  # fmt: skip
    registered = report.get("registered")
    reporter.emit(
        "done", status="finished", model=report["model"], report=run_dir / "report.json",
        version=report["version"], metrics={k: v["metrics"] for k, v in report["splits"].items()},
        registered=registered is not None, registration=registered,
        activated=bool(registered and registered["activated"]), promotion=report["promotion"],
        elapsed_s=round(time.monotonic() - t0, 1),
    )  # fmt: skip
    for line in [fit.decision.reason, *fit.decision.plain]:
        reporter.say(line)
    return report


def _parent_in_use(
    opts: TrainOptions, store: Any
) -> tuple[tuple[Path | None, bool] | None, DataError | None]:
    """The model in use, looked up before the labels only when it is the parent (its classes
    are the run's); a model in use that cannot be started from is returned, not raised."""
    from trainer.sources import current_model_path

    if opts.init not in ("auto", "active"):
        return None, None
    try:
        return current_model_path(store, opts.init), None
    except DataError as exc:
        return None, exc


def _gather_labelled(
    opts: TrainOptions, store: Any, reporter: Reporter, active_path: Path | None
) -> tuple[list[Sample], list[Skipped], dict[str, int], ClassPlan]:
    """The run's labelled images and its classes: the parent's, always (``--classes`` changes
    them on purpose); a fresh start needs labels of at least two classes to learn."""
    reporter.emit("stage", stage="scan", message="finding labelled images")
    parent = parent_classes(opts.init, active_path)
    wanted = plan_classes(parent, opts.classes, []).classes if parent else opts.classes
    samples, skipped, per_source = gather(
        opts.data_dirs, store if opts.from_store else None, wanted, opts.lab_only
    )
    labels = [s.label for s in samples]
    plan = plan_classes(parent, opts.classes, labels)
    if parent is None and len(plan.classes) < 2:
        from trainer.data import too_few_classes

        raise too_few_classes(plan.classes, skipped)
    counts = label_counts(plan, labels)
    lines = count_lines(plan, counts)
    reporter.emit(
        "classes",
        classes=plan.classes,
        counts=counts,
        min_labels=MIN_LABELS_PER_CLASS,
        changes=plan.changes,
        lines=lines,
    )
    summary = "; ".join(([plan.note()] if plan.changes else []) + lines)
    reporter.emit("stage", stage="classes", message=f"labels per class: {summary}")
    for line in ([plan.note()] if plan.changes else []) + lines:
        reporter.say(line)
    check_enough(plan, counts, skipped)
    return samples, skipped, per_source, plan


def _prepare_data(
    opts: TrainOptions,
    samples: list[Sample],
    skipped: list[Skipped],
    per_source: dict[str, int],
    meta: ModelMeta,
    record: Path | None,
    run_dir: Path,
    reporter: Reporter,
    stop: StopControl,
) -> Prepared:
    """Decode and split the images as the options ask, recording the split in ``record``."""
    cfg = opts.fit
    request = SplitRequest(
        record,
        opts.val_fraction,
        opts.test_fraction,
        cfg.seed,
        opts.hash_threshold,
        gate_fraction=opts.gate_fraction,
    )
    return prepare(
        samples,
        skipped,
        per_source,
        meta,
        request,
        run_dir,
        reporter,
        stop=stop,
        augment=opts.augment,
        augmentation=opts.augmentation,
        eval_batch=max(cfg.batch_size, EVAL_BATCH_MIN),
    )


def _announce_start(
    reporter: Reporter,
    run_dir: Path,
    choice: DeviceChoice,
    data: Prepared,
    cfg: FitConfig,
    start_desc: str,
) -> None:
    """Emit the ``start`` event (sizes, device, start model) and its line for people."""
    n_train = len(data.train_set)
    steps = n_train // cfg.batch_size + (n_train % cfg.batch_size > 1)
    reporter.emit(
        "start",
        run_dir=run_dir,
        device=str(choice.device),
        device_reason=choice.reason,
        classes=data.classes,
        n_train=n_train,
        n_val=len(data.parts["val"]),
        n_gate=len(data.parts["gate"]),
        n_test=len(data.parts["test"]),
        counts=data.counts,
        epochs=cfg.epochs,
        steps=steps,
        start_model=start_desc,
        skipped=len(data.skipped),
    )
    reporter.say(
        f"start: {start_desc}; device {choice}; train {n_train}, "
        f"val {len(data.parts['val'])}, gate {len(data.parts['gate'])}, "
        f"test {len(data.parts['test'])}"
    )


def _prepare_model(
    model: torch.nn.Module,
    opts: TrainOptions,
    data: Prepared,
    device: torch.device,
    reporter: Reporter,
    stop: StopControl,
) -> str:
    """Set BatchNorm up for training, then freeze the backbone; returns the BN mode used."""
    bn_mode = opts.bn
    if bn_mode == "auto":
        bn_mode = "recalibrate" if opts.init == "random" else "preserve"
    reporter.emit("stage", stage="bn", message=f"BatchNorm statistics: {bn_mode}")
    stop.check("before training")
    prepare_bn(model, bn_mode, data.train_set, opts.fit.seed, device)
    freeze_backbone(model, opts.freeze)
    return bn_mode


def _run_params(
    opts: TrainOptions,
    model: torch.nn.Module,
    meta: ModelMeta,
    start_desc: str,
    parent_hash: str | None,
    bn_mode: str,
    device: torch.device,
) -> dict[str, Any]:
    """How the model was trained, as recorded in its file, the report and the store."""
    return {
        "init": start_desc,
        "parent": parent_hash,
        "freeze": opts.freeze,
        "frozen_blocks": frozen_block_count(len(list(model.features.children())), opts.freeze),
        "bn": bn_mode,
        "augment": opts.augment,
        "augmentation": opts.augmentation,
        "device": str(device),
        "input_size": meta.input_size,
        **{f"fit_{k}": v for k, v in dataclasses.asdict(opts.fit).items()},
    }


def _data_summary(
    per_source: dict[str, int], data: Prepared, record: Path | None
) -> dict[str, Any]:
    """What the run was trained and validated on (the split's members by SHA-256 included)."""
    return {
        "sources": per_source,
        "classes": data.classes,
        "counts": data.counts,
        "skipped": len(data.skipped),
        "split_file": str(record) if record else None,
        "split_seed": data.split.seed,
        "split_added": data.added,
        "val_sha256": data.split.members("val"),
        "gate_sha256": data.split.members("gate"),
    }


def _checkpoint_meta(
    meta: ModelMeta,
    opts: TrainOptions,
    parent_hash: str | None,
    params: dict[str, Any],
    start_desc: str,
) -> ModelMeta:
    """The metadata the best checkpoint is written with (metrics and temperature come later)."""
    return dataclasses.replace(
        meta,
        name=opts.name or f"finetune-{stamp()}",
        parent=parent_hash,
        trained=True,
        training=params,
        metrics={},
        temperature=1.0,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        description=f"fine-tuned from {start_desc}",
    )


def _fit_best(
    model: torch.nn.Module,
    data: Prepared,
    cfg: FitConfig,
    device: torch.device,
    run_dir: Path,
    ck_meta: ModelMeta,
    reporter: Reporter,
    stop: StopControl,
) -> FitResult:
    """Train, then load the best validated state into ``model`` (an error when there is none)."""
    result = fit(
        model,
        data.train_set,
        data.train_set.targets,
        data.val_loader,
        data.classes,
        cfg,
        device,
        run_dir,
        ck_meta,
        reporter,
        stop,
    )
    if result.best_state is None:
        raise StoppedEarly(f"stopped ({stop.reason}) before any epoch was validated; nothing kept")
    if result.status == "stopped":
        reporter.emit("stopping", reason=result.stop_reason)
    model.load_state_dict(result.best_state)
    model.eval()
    return result


def _announce_done(
    reporter: Reporter, result: FitResult, report: dict[str, Any], run_dir: Path, t0: float
) -> None:
    """Emit the final ``done`` event: status, model, metrics and what registration did."""
    registered = report.get("registered")
    reporter.emit(
        "done",
        status=result.status,
        model=report["model"],
        report=run_dir / "report.json",
        version=report["version"],
        metrics={k: v["metrics"] for k, v in _brief(report).items()},
        registered=registered is not None,
        registration=registered,
        activated=bool(registered and registered["activated"]),
        promotion=report["promotion"],
        elapsed_s=round(time.monotonic() - t0, 1),
    )


def _brief(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    keys = ("n", "accuracy", "macro_f1", "weighted_f1", "mcc", "ece", "nll")
    return {
        name: {"metrics": {k: sec["metrics"].get(k) for k in keys}}
        for name, sec in report["splits"].items()
    }
