"""Model commands of ``poxscreen``: ``info`` and ``import`` (model files), ``models`` (the
versions registered in the case store: list, add, activate, rollback, discard).

torch and SQLAlchemy are imported inside the handlers so ``poxscreen --help`` stays instant.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli.common import WHO_ENV, add_db, err, guarded, who


def cmd_info(args: argparse.Namespace) -> int:
    """Print a model file's metadata as JSON (no torch: the header is enough)."""
    import json

    from engine.modelmeta import ModelFileError, read_meta

    try:
        meta = read_meta(args.model)
    except ModelFileError as exc:
        err(str(exc))
        return 2
    import dataclasses

    print(json.dumps(dataclasses.asdict(meta), indent=2))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Turn the authors' .pth state dict into a model file the app can use."""
    from engine.checkpoint import ModelFileError, import_state_dict, save_model

    try:
        model, meta = import_state_dict(args.pth, classes=args.classes, padding=args.padding)
    except ModelFileError as exc:
        err(str(exc))
        return 2
    stored = save_model(args.out, model, meta)
    print(f"Imported {args.pth} -> {args.out} ({stored.version})")
    return 0


def cmd_models(args: argparse.Namespace, store: Any) -> int:
    """List, register, activate, roll back or discard versions (``add`` also exports ONNX)."""
    if args.action == "add":
        # copied into the store's model folder once its weights are checked: the registry never
        # points at a file elsewhere (a USB stick, a run folder)
        # --activate goes through the same checks as `models activate` (classes, records,
        # reason): a model that lost a class is registered but never made active
        info = store.add_model_file(args.ref, activate=False if args.activate else None)
        print(f"registered {info.version}{'  (active)' if info.active else ''}")
        from engine.onnx_export import try_export  # torch: export the fast screening graph now

        graph, note = try_export(info.path or args.ref)
        print(f"screening graph: {graph}" if graph else f"note: {note}")
        if args.activate and not info.active:
            args.ref, args.action = info.content_hash, "activate"
            return _activate(args, store)
        return 0
    if args.action in ("activate", "rollback"):
        return _activate(args, store)
    if args.action == "discard":
        info = store.discard_model(args.ref)
        print(f"discarded {info.version} (its file in the store's model folder is deleted)")
        return 0
    models = store.models()
    if not models:
        print("no models registered yet (screening registers the model it uses)")
    for m in models:
        mark = "*" if m.active else " "
        when = m.created_at.astimezone().strftime("%Y-%m-%d")
        parent = f"  parent {m.parent_hash[:12]}" if m.parent_hash else ""
        print(f"{mark} {m.name}@{m.content_hash[:12]}  {when}  {m.path or '(no file)'}{parent}")
    return 0


def _activate(args: argparse.Namespace, store: Any) -> int:
    """Activate (or roll back to) a version; one its records advise against needs --reason,
    which is recorded with who and when, and the model is marked while in use."""
    from engine.activation import activate_checked, active_marks

    rollback = args.action == "rollback"
    info = activate_checked(
        store, args.ref, who=who(args) or "unknown", reason=args.reason or "", rollback=rollback
    )
    print(f"{'rolled back; ' if rollback else ''}active model: {info.version}")
    for mark in active_marks(store):
        print(f"marked {mark.word}: {mark.why}")
    return 0


def _models_checked(args: argparse.Namespace) -> int:
    """``models activate|add`` need a reference; only ``list`` opens the store read-only."""
    if args.action in ("activate", "add", "discard") and not args.ref:
        err(f"models {args.action} needs a {'file' if args.action == 'add' else 'model'}")
        return 2
    return guarded(cmd_models, writes=args.action != "list")(args)


def register_files(subparsers: Any) -> None:
    """Add ``info`` and ``import``: the commands on model files."""
    p = subparsers.add_parser("info", help="show a model file's metadata")
    p.add_argument("model")
    p.set_defaults(func=cmd_info)

    p = subparsers.add_parser("import", help="import an authors' .pth state dict into a model file")
    p.add_argument("pth")
    p.add_argument("out")
    p.add_argument("--classes", nargs="+", default=None)
    p.add_argument("--padding", choices=("symmetric", "tf"), default="symmetric")
    p.set_defaults(func=cmd_import)


def register_versions(subparsers: Any) -> None:
    """Add ``models``: the versions registered in the case store."""
    p = subparsers.add_parser(
        "models", help="list, add, activate, roll back or discard model versions"
    )
    p.add_argument(
        "action",
        choices=("list", "activate", "rollback", "add", "discard"),
        nargs="?",
        default="list",
    )
    p.add_argument(
        "ref",
        nargs="?",
        help="activate, discard: hash, hash prefix or name; rollback: that version (default: "
        "the active model's parent); add: model file",
    )
    p.add_argument("--activate", action="store_true", help="add: make it the active model")
    p.add_argument(
        "--reason",
        help="activate, rollback: why a model its records advise against (worse, never "
        "compared, no out-of-scope guard) is used anyway; recorded with who and when",
    )
    p.add_argument("--who", help=f"who activates (default: ${WHO_ENV} or the login name)")
    add_db(p)
    p.set_defaults(func=_models_checked)
