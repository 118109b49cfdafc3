//! Table tests for condition bookkeeping.

use super::*;

fn at(seconds: i64) -> Time {
    Time(jiff::Timestamp::from_second(seconds).unwrap())
}

fn cond(type_: &str, status: Status, reason: &str) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: status.as_str().to_string(),
        reason: reason.to_string(),
        message: format!("{type_} message"),
        observed_generation: Some(1),
        last_transition_time: at(0),
    }
}

#[test]
fn same_status_keeps_last_transition_time_but_updates_the_rest() {
    let mut conds = vec![cond(types::READY, Status::False, reasons::FAILED)];
    set(
        &mut conds,
        types::READY,
        Status::False,
        "Other",
        "new message",
        2,
        &at(100),
    );
    let ready = get(&conds, types::READY).unwrap();
    assert_eq!(ready.last_transition_time, at(0));
    assert_eq!(ready.reason, "Other");
    assert_eq!(ready.message, "new message");
    assert_eq!(ready.observed_generation, Some(2));
}

#[test]
fn status_change_moves_last_transition_time() {
    let mut conds = vec![cond(types::READY, Status::False, reasons::FAILED)];
    set(
        &mut conds,
        types::READY,
        Status::True,
        reasons::SUCCEEDED,
        "ok",
        2,
        &at(100),
    );
    assert_eq!(
        get(&conds, types::READY).unwrap().last_transition_time,
        at(100)
    );
}

#[test]
fn ready_is_listed_first_and_the_rest_by_type() {
    let mut conds = Vec::new();
    for t in [
        types::STALLED,
        types::ARTIFACT_IN_STORAGE,
        types::READY,
        types::FETCH_FAILED,
    ] {
        set(&mut conds, t, Status::True, "R", "m", 1, &at(1));
    }
    let order: Vec<_> = conds.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(
        order,
        ["Ready", "ArtifactInStorage", "FetchFailed", "Stalled"]
    );
}

#[test]
fn stalled_sets_ready_false_with_the_same_reason_and_drops_reconciling() {
    let mut conds = vec![cond(types::RECONCILING, Status::True, reasons::PROGRESSING)];
    mark_stalled(&mut conds, reasons::URL_INVALID, "bad url", 3, &at(5));
    assert!(get(&conds, types::RECONCILING).is_none());
    let ready = get(&conds, types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "URLInvalid")
    );
    assert!(is_true(&conds, types::STALLED));
}

#[test]
fn ready_summary_follows_the_declared_priority() {
    use Status::*;
    let table: Vec<(Vec<Condition>, Status, &str)> = vec![
        (vec![], Unknown, reasons::PROGRESSING),
        (
            vec![cond(types::ARTIFACT_IN_STORAGE, True, reasons::SUCCEEDED)],
            True,
            reasons::SUCCEEDED,
        ),
        (
            vec![
                cond(types::ARTIFACT_IN_STORAGE, True, reasons::SUCCEEDED),
                cond(types::FETCH_FAILED, True, reasons::GIT_OPERATION_FAILED),
            ],
            False,
            reasons::GIT_OPERATION_FAILED,
        ),
        (
            vec![
                cond(types::ARTIFACT_OUTDATED, True, reasons::NEW_REVISION),
                cond(
                    types::STORAGE_OPERATION_FAILED,
                    True,
                    reasons::ARCHIVE_OPERATION_FAILED,
                ),
            ],
            False,
            reasons::ARCHIVE_OPERATION_FAILED,
        ),
        (
            vec![
                cond(types::ARTIFACT_IN_STORAGE, True, reasons::SUCCEEDED),
                cond(types::SOURCE_VERIFIED, False, reasons::VERIFICATION_ERROR),
            ],
            False,
            reasons::VERIFICATION_ERROR,
        ),
        (
            vec![
                cond(types::ARTIFACT_IN_STORAGE, True, reasons::SUCCEEDED),
                cond(types::RECONCILING, True, reasons::PROGRESSING),
            ],
            Unknown,
            reasons::PROGRESSING,
        ),
        (
            vec![
                cond(types::FETCH_FAILED, True, reasons::GIT_OPERATION_FAILED),
                cond(types::STALLED, True, reasons::URL_INVALID),
            ],
            False,
            reasons::URL_INVALID,
        ),
        (
            vec![cond(types::FETCH_FAILED, False, reasons::SUCCEEDED)],
            Unknown,
            reasons::PROGRESSING,
        ),
    ];
    for (i, (mut conds, status, reason)) in table.into_iter().enumerate() {
        summarize_ready(&mut conds, &SOURCE_SUMMARY, 7, &at(9));
        let ready = get(&conds, types::READY).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            (status.as_str(), reason),
            "case {i}"
        );
        assert_eq!(ready.observed_generation, Some(7), "case {i}");
    }
}

#[test]
fn finish_follows_kstatus() {
    let start = || {
        vec![
            cond(types::READY, Status::False, reasons::FAILED),
            cond(types::RECONCILING, Status::True, reasons::PROGRESSING),
            cond(types::STALLED, Status::True, reasons::URL_INVALID),
        ]
    };
    let mut conds = start();
    assert!(finish(&mut conds, Outcome::Success));
    assert!(get(&conds, types::RECONCILING).is_none() && get(&conds, types::STALLED).is_none());

    let mut conds = start();
    assert!(finish(&mut conds, Outcome::Stalled));
    assert!(get(&conds, types::RECONCILING).is_none() && is_true(&conds, types::STALLED));

    let mut conds = start();
    assert!(!finish(&mut conds, Outcome::Retrying));
    assert_eq!(
        get(&conds, types::RECONCILING).unwrap().reason,
        reasons::PROGRESSING_WITH_RETRY
    );
    assert!(get(&conds, types::STALLED).is_none());
}

#[test]
fn a_failure_stalls_or_keeps_reconciling_with_retry() {
    let mut retrying = vec![cond(types::RECONCILING, Status::True, reasons::PROGRESSING)];
    let outcome = mark_failed(
        &mut retrying,
        "AuthenticationFailed",
        "denied",
        false,
        1,
        &at(1),
    );
    assert_eq!(outcome, Outcome::Retrying);
    assert!(is_false(&retrying, types::READY));
    assert_eq!(
        get(&retrying, types::RECONCILING).unwrap().reason,
        reasons::PROGRESSING
    );
    let mut fresh = Vec::new();
    mark_failed(
        &mut fresh,
        "AuthenticationFailed",
        "denied",
        false,
        1,
        &at(1),
    );
    assert_eq!(
        get(&fresh, types::RECONCILING).unwrap().reason,
        reasons::PROGRESSING_WITH_RETRY
    );
    let mut stalled = vec![cond(types::RECONCILING, Status::True, reasons::PROGRESSING)];
    let outcome = mark_failed(&mut stalled, "InvalidPolicy", "bad range", true, 1, &at(1));
    assert_eq!(outcome, Outcome::Stalled);
    assert!(is_true(&stalled, types::STALLED) && is_false(&stalled, types::READY));
    assert!(get(&stalled, types::RECONCILING).is_none());
}
