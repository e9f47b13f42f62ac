"""A clinic fine-tune decided by cross-fitting (trainer.crossfit, trainer.decision).

Every label both decides and trains: k fold models give each labelled photo an out-of-fold
answer to compare with the model in use, then the final model is the same recipe fitted on all
the labels. The backbone is the parent's, so the parent's out-of-scope guard still applies (its
features are unchanged) and only the head's weights change in the ONNX graph.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.checkpoint import ModelMeta, load_model, load_model_and_guard, save_model
from engine.onnx_export import try_export
from engine.recipe import ADAPT, DECISION, AdaptRecipe, DecisionRule
from trainer.adapt import (
    BN_PHOTOS,
    FeatureCache,
    adapted_backbone,
    cache_features,
    fit_head,
    head_logits,
)
from trainer.calibration import fit_temperature
from trainer.crossfit import assign_folds, cross_fit
from trainer.data import Decoded, Sample, Skipped, cache_size_for, decode_samples
from trainer.decision import ReferenceCheck, decide_on_clinic_photos, scored
from trainer.mpox_point import mpox_offset, raise_mpox, shift_mpox
from trainer.plots import write_json
from trainer.progress import Reporter, StopControl
from trainer.promote import Decision
from trainer.splits import group_near_duplicates, phash_pair

__all__ = ["ClinicFit", "reference_check", "trained_photos", "use_cross_fit"]


@dataclasses.dataclass
class ClinicFit:
    """What a cross-fitted clinic fine-tune produced, before it is saved and registered."""

    model: nn.Module
    meta: ModelMeta
    decision: Decision
    temperature: float
    shas: list[str]
    skipped: list[Skipped]
    counts: dict[str, int]
    compared: dict[str, dict[str, Any]]  # "candidate"/"active": figures on the compared photos
    bn_share: float = 0.0  # how far the backbone's BatchNorm statistics moved to the clinic's
    mpox_offset: float = 0.0  # added to the final model's Mpox logit (trainer.mpox_point)
    bn_photos: str = ""  # whose photos moved the BatchNorm statistics, in words


def use_cross_fit(decision: str, from_store: bool, data_dirs: Sequence[Path], init: str, n: int,
                  rule: DecisionRule = DECISION) -> bool:  # fmt: skip
    """Cross-fitting decides a fine-tune of the model in use on the store's labels, up to
    ``rule.crossfit_max`` labels; folders, other starts and large label sets use the gate."""
    if decision != "auto":
        return decision == "cross-fit"
    return from_store and not data_dirs and init in ("auto", "active") and n <= rule.crossfit_max


def trained_photos(meta: ModelMeta | None) -> set[str]:
    """SHA-256 of the photos ``meta``'s model was trained on, where recorded: a clinic
    fine-tune lists them; the shipped model's recorded split names its training part."""
    if meta is None:
        return set()
    recorded = (meta.training or {}).get("trained_sha256")
    if recorded:
        return set(recorded)
    from engine import paths
    from engine.modelmeta import read_meta

    shipped = paths.default_model_path()
    split = shipped.parent / "msid_split.json"
    try:
        if read_meta(shipped).content_hash != meta.content_hash:
            return set()
        parts = json.loads(split.read_text(encoding="utf-8"))["splits"]
    except (OSError, ValueError, KeyError):
        return set()
    return {e["sha256"] for e in parts.get("train", [])}


def _decode(samples: Sequence[Sample], meta: ModelMeta) -> tuple[list[Decoded], list[Skipped]]:
    return decode_samples(samples, cache_size_for(meta), phash_pair)


def reference_check(
    parent: nn.Module,
    candidate: nn.Module,
    meta: ModelMeta,
    active: nn.Module | None,
    recipe: AdaptRecipe = ADAPT,
) -> ReferenceCheck:
    """Macro-F1 of the candidate and of the model in use (``active``; None: the parent is the
    model in use) on the shipped reference set, through the parent's backbone once."""
    from sklearn.metrics import f1_score

    from engine.reference import ReferenceSetError, reference_set

    try:
        photos = reference_set()
    except ReferenceSetError as exc:
        return ReferenceCheck(None, None, problem=str(exc))
    idx = {c: i for i, c in enumerate(meta.classes)}
    keep = [Sample(path=p, label=c, sha256="", source="reference") for p, c in photos if c in idx]
    decoded, _ = _decode(keep, meta)
    if not decoded:
        return ReferenceCheck(
            None, None, problem="it holds no photo of the model's classes", applicable=False
        )
    y = np.array([idx[d.sample.label] for d in decoded])
    one = dataclasses.replace(recipe, views=1)
    feats = cache_features(parent, decoded, y, meta, recipe=one).features[:, 0]
    scorer = active if active is not None else parent
    base = (
        feats
        if active is None
        else cache_features(active, decoded, y, meta, recipe=one).features[:, 0]
    )

    def f1(model: nn.Module, f: torch.Tensor) -> float:
        pred = head_logits(model, f, one).argmax(1).numpy()
        return float(f1_score(y, pred, average="macro", labels=np.unique(y), zero_division=0))

    return ReferenceCheck(f1(candidate, feats), f1(scorer, base), n=len(y))


def fit_for_clinic(
    parent: nn.Module,
    meta: ModelMeta,
    samples: Sequence[Sample],
    active: tuple[nn.Module, ModelMeta] | None,
    reporter: Reporter,
    stop: StopControl,
    *,
    recipe: AdaptRecipe = ADAPT,
    rule: DecisionRule = DECISION,
    force: bool = False,
    hash_threshold: int = 10,
    clinic_photos: Sequence[Path] = (),
) -> ClinicFit:
    """Cache features, cross-fit, decide, fit the final head on every label. ``active``: the
    model in use when it is not ``parent`` (None: it is); ``clinic_photos``: see ``_bn_pool``."""
    classes = list(meta.classes)
    idx = {c: i for i, c in enumerate(classes)}
    reporter.emit("stage", stage="decode", message=f"reading {len(samples)} labelled photos")
    decoded, skipped = _decode(samples, meta)
    y = np.array([idx[d.sample.label] for d in decoded], dtype=int)
    groups = group_near_duplicates([d.hashes for d in decoded], hash_threshold)
    stop.check("before the features")
    backbone, cache, words = _features(parent, decoded, y, meta, recipe, clinic_photos, reporter)
    in_use = active if active is not None or backbone is parent else (parent, meta)
    active_logits = _active_logits(cache, decoded, y, meta, in_use)
    in_use_meta = active[1] if active is not None else meta
    shas = [d.sample.sha256 for d in decoded]
    trained = trained_photos(in_use_meta)
    include = np.array([s not in trained for s in shas], dtype=bool)
    folds = assign_folds(y, groups, rule.folds, rule.seed)
    k = int(folds.max()) + 1

    def on_fold(i: int, n: int) -> None:
        reporter.emit("stage", stage="crossfit", message=f"fold model {i} of {n} fitted")
        stop.check(f"after fold {i}")

    oof = cross_fit(backbone, cache, len(classes), folds, recipe=recipe, on_fold=on_fold)
    offset = mpox_offset(y[include], oof[include], active_logits[include], classes)
    offset = offset if rule.keep_mpox else 0.0
    oof = shift_mpox(oof, classes, offset)
    reporter.emit("stage", stage="final", message=f"fitting the final model on all {len(y)} labels")
    final = fit_head(backbone, cache, len(classes), recipe=recipe)
    raise_mpox(final, classes, offset)
    reporter.emit("stage", stage="reference", message="checking the reference set")
    ref = reference_check(backbone, final, meta, in_use[0] if in_use is not None else None, recipe)
    decision = decide_on_clinic_photos(
        y[include], oof[include], active_logits[include], classes, ref,
        active_version=in_use_meta.version, active_hash=in_use_meta.content_hash,
        excluded=int((~include).sum()), folds=k, rule=rule, force=force, mpox_offset=offset,
    )  # fmt: skip
    counts = {c: int((y == i).sum()) for c, i in idx.items()}
    compared = {"candidate": scored(y[include], oof[include], classes),
                "active": scored(y[include], active_logits[include], classes)}  # fmt: skip
    t = fit_temperature(oof, y)
    moved = recipe.bn_share if backbone is not parent else 0.0
    return ClinicFit(
        final, meta, decision, t, shas, skipped, counts, compared, moved, offset, words
    )


def _features(
    parent: nn.Module,
    decoded: list[Decoded],
    y: np.ndarray,
    meta: ModelMeta,
    recipe: AdaptRecipe,
    clinic_photos: Sequence[Path],
    reporter: Reporter,
) -> tuple[nn.Module, FeatureCache, str]:
    """The backbone (BatchNorms moved towards the clinic's photos), every labelled photo's
    cached views through it, and whose photos moved the statistics, in words."""
    reporter.emit(
        "stage", stage="features", message=f"backbone features, {recipe.views} views each"
    )
    pool, pool_words = _bn_pool(decoded, clinic_photos, recipe)
    backbone = adapted_backbone(parent, pool, meta, recipe)
    return backbone, cache_features(backbone, decoded, y, meta, recipe=recipe), pool_words


def _bn_pool(
    decoded: list[Decoded], clinic_photos: Sequence[Path], recipe: AdaptRecipe
) -> tuple[Sequence[Decoded | Path], str]:
    """The photos the backbone's BatchNorm statistics are measured on, and that in words:
    ``clinic_photos`` (the store's recent photos, labelled or not) when ``recipe.bn_pool`` is
    "clinic" and there are any, else the labelled photos."""
    if recipe.bn_pool == "clinic" and clinic_photos:
        n = len(clinic_photos)
        words = f"{min(n, BN_PHOTOS)} of the clinic's {n} most recent photos, labelled or not"
        return list(clinic_photos), words
    return decoded, "the clinic's labelled photos"


def _active_logits(
    cache: FeatureCache,
    decoded: Sequence[Decoded],
    y: np.ndarray,
    meta: ModelMeta,
    active: tuple[nn.Module, ModelMeta] | None,
) -> np.ndarray:
    """The model in use's logits on each photo's plain view (the parent's, cached, when the
    parent is the model in use and the features are its own)."""
    if active is None:
        return cache.parent[:, 0].double().numpy()
    one = dataclasses.replace(ADAPT, views=1, train_blocks=0)
    return cache_features(active[0], decoded, y, meta, recipe=one).parent[:, 0].double().numpy()


def parent_guard(
    parent_path: Path | None, bn_share: float = 0.0, bn_photos: str = "the clinic's photos"
) -> tuple[Any, dict[str, Any]]:
    """The parent's guard and the note recorded with it (the backbone's weights are the
    parent's; its BatchNorm statistics moved ``bn_share`` towards ``bn_photos``)."""
    if parent_path is None:
        return None, {"unavailable": "the parent model has no file to take a guard from"}
    try:
        _, _, guard = load_model_and_guard(parent_path)
    except Exception as exc:  # an unreadable parent file: the model is marked guard-less
        return None, {"unavailable": f"the parent's guard could not be read ({exc})"}
    if guard is None:
        return None, {"unavailable": "the parent model has no out-of-scope guard"}
    if bn_share > 0:
        why = (
            "the backbone's weights are the parent's; its BatchNorm statistics moved "
            f"{bn_share:.0%} of the way towards {bn_photos}"
        )
        return guard, {"source": "parent", "why": why}
    return guard, {"source": "parent", "why": "the backbone is the parent's, unchanged"}


def load_in_use(path: Path | None, parent_hash: str | None) -> tuple[nn.Module, ModelMeta] | None:
    """The model in use when it is not the parent (None when it is, or when unreadable)."""
    if path is None:
        return None
    model, meta = load_model(path)
    return None if meta.content_hash == parent_hash else (model, meta)


def deliver_clinic(
    fit: ClinicFit,
    ck_meta: ModelMeta,
    params: dict[str, Any],
    data_summary: dict[str, Any],
    run_dir: Path,
    store: Any,
    parent_path: Path | None,
    reporter: Reporter,
    *,
    register: bool = True,
    activate: bool = True,
) -> dict[str, Any]:
    """Save the final model (its file first, atomically), its graph and report; register last."""
    guard, note = parent_guard(parent_path, fit.bn_share, fit.bn_photos)
    checks = fit.decision.checks
    params = {**params, "method": "cross-fit", "folds": checks.get("folds")}
    meta = dataclasses.replace(
        ck_meta,
        temperature=fit.temperature,
        guard=note,
        metrics={"cross-fit": fit.decision.details},
        training={**params, "temperature": fit.temperature, "trained_sha256": sorted(fit.shas),
                  "label_counts": fit.counts, "mpox_offset": fit.mpox_offset,
                  "batchnorm_photos": fit.bn_photos if fit.bn_share else None},
    )  # fmt: skip
    reporter.emit("stage", stage="save", message="writing the model and the report")
    model_path = run_dir / "model.safetensors"
    meta = save_model(model_path, fit.model, meta, guard=guard)
    reporter.emit("stage", stage="export", message="exporting the screening graph (ONNX)")
    template_dirs = [] if store is None else [Path(store.models_dir)]
    graph, graph_note = try_export(
        model_path, model=fit.model, meta=meta, template_dirs=template_dirs
    )
    if graph_note:
        reporter.emit("stage", stage="export", message=graph_note)
    cm = {m: v["candidate"] for m, v in fit.decision.details.items()}
    report = _report(fit, meta, params, data_summary, run_dir, model_path, graph, store)
    write_json(run_dir / "report.json", report)
    if register and store is not None:
        from trainer.promote import register_trained

        reporter.emit("stage", stage="register", message="registering the model version")
        report["registered"] = register_trained(
            store, model_path, meta, fit.decision, params=params,
            data_summary={**data_summary, "trained_sha256": sorted(fit.shas)},
            metrics={"cross-fit": cm, "promotion_metric": "accuracy"}, status="finished",
            log=f"cross-fit; {fit.decision.reason}\n", activate=activate,
        )  # fmt: skip
        write_json(run_dir / "report.json", report)
    return report


def _report(
    fit: ClinicFit,
    meta: ModelMeta,
    params: dict[str, Any],
    data_summary: dict[str, Any],
    run_dir: Path,
    model_path: Path,
    graph: Path | None,
    store: Any,
) -> dict[str, Any]:
    """The run's ``report.json`` (before registration): both models on the compared photos."""
    return {
        "kind": "training",
        "status": "finished",
        "run_dir": str(run_dir),
        "model": str(model_path),
        "version": meta.version,
        "content_hash": meta.content_hash,
        "classes": list(meta.classes),
        "params": params,
        "data": {**data_summary, "counts": fit.counts, "skipped": len(fit.skipped)},
        "temperature": fit.temperature,
        "skipped": [s.__dict__ for s in fit.skipped],
        "splits": {"cross-fit": {"metrics": fit.compared["candidate"]}},
        "model_in_use": {
            "version": fit.decision.active_version,
            "cross-fit": fit.compared["active"],
            "registered": store is not None,
        },
        "promotion": dataclasses.asdict(fit.decision),
        "registered": None,
        "graph": str(graph) if graph else None,
    }
