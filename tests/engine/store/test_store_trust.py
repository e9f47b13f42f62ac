"""The store keeps the guard's and the quality check's results: out-of-scope pictures stay out of
class counts, and "check photo" joins the referral flag so nothing drops out of triage."""

from __future__ import annotations

from engine.referral import ReferralRule
from engine.store import ReviewFilter, Store
from tests.engine.store.conftest import CLASSES, MODEL_A, fake_result


def _record(store: Store) -> dict[str, dict]:
    run = store.begin_run("/clinic", {}, MODEL_A, model_meta={"classes": CLASSES})
    results = {
        "plain": fake_result(
            0, top="Normal", confidence=0.95, scope_score=0.4, out_of_scope=False, quality_issues=""
        ),
        "screenshot": fake_result(
            1,
            top="Monkeypox",
            confidence=0.9,
            scope_score=3.2,
            out_of_scope=True,
            quality_issues="",
        ),
        "blurry": fake_result(
            2,
            top="Normal",
            confidence=0.97,
            scope_score=0.8,
            out_of_scope=False,
            quality_issues="blurry;too dark",
        ),
        "old": fake_result(3, top="Measles", confidence=0.99),  # screened before the checks
    }
    store.record_results(run, list(results.values()))
    store.finish_run(run, "finished")
    return results


def test_results_are_kept_and_shown_in_the_queue(store: Store) -> None:
    results = _record(store)
    items = {i.sha256: i for i in store.review_queue(ReviewFilter()).items}
    shot = items[results["screenshot"]["sha256"]]
    assert (shot.scope_score, shot.out_of_scope, shot.quality_issues) == (3.2, True, "")
    assert shot.check_photo
    blurry = items[results["blurry"]["sha256"]]
    assert blurry.quality_issues == "blurry;too dark" and blurry.check_photo
    old = items[results["old"]["sha256"]]
    assert (old.scope_score, old.out_of_scope, old.quality_issues) == (None, None, None)
    assert not old.check_photo and not items[results["plain"]["sha256"]].check_photo


def test_out_of_scope_pictures_stay_out_of_class_counts(store: Store) -> None:
    _record(store)
    assert store.class_counts() == {"Normal": 2, "Measles": 1}  # the "Mpox" screenshot is not
    assert store.class_counts(ReviewFilter(out_of_scope=True)) == {"Monkeypox": 1}
    assert store.count(ReviewFilter(check_photo=True)) == 2


def test_check_photo_joins_the_referral_flag(store: Store) -> None:
    results = _record(store)
    store.set_referral_rule(ReferralRule(min_confidence=0.0, mpox_above=1.0), who="dr a")
    referred = {i.sha256 for i in store.review_queue(ReviewFilter(referral=True)).items}
    assert referred == {results["screenshot"]["sha256"], results["blurry"]["sha256"]}


def test_a_resumed_screening_reports_the_stored_checks(store: Store) -> None:
    results = _record(store)
    checks = store.stored_checks(MODEL_A, [r["sha256"] for r in results.values()])
    assert checks[results["screenshot"]["sha256"]] == (3.2, True, "")
    assert checks[results["old"]["sha256"]] == (None, None, None)


def test_the_csv_export_carries_the_checks(store: Store, tmp_path) -> None:
    import csv

    results = _record(store)
    out = tmp_path / "export.csv"
    store.export_csv(out)
    with open(out, newline="", encoding="utf-8") as fh:
        rows = {r["sha256"]: r for r in csv.DictReader(fh)}
    shot = rows[results["screenshot"]["sha256"]]
    assert (shot["out_of_scope"], float(shot["scope_score"])) == ("1", 3.2)
    assert rows[results["blurry"]["sha256"]]["quality_issues"] == "blurry;too dark"
    assert rows[results["old"]["sha256"]]["out_of_scope"] == ""


def test_cases_for_export_and_print_carry_the_check_photo_referral(store: Store) -> None:
    from engine.cases import collect_cases
    from engine.report.layout import _check_photo

    results = _record(store)
    store.set_referral_rule(ReferralRule(min_confidence=0.0, mpox_above=1.0), who="dr a")
    cases = {c.sha256: c for c in collect_cases(store, ReviewFilter()).cases}
    shot, blurry = cases[results["screenshot"]["sha256"]], cases[results["blurry"]["sha256"]]
    assert shot.referral and shot.check_photo and blurry.referral
    assert not cases[results["plain"]["sha256"]].referral
    assert "not a skin photo?" in _check_photo(shot) and "blurry;too dark" in _check_photo(blurry)
    assert _check_photo(cases[results["old"]["sha256"]]) == ""
