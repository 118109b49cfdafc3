//! Replays the request fuzz target on stable: a few requests of every kind (list with
//! selectors, create, JSON / strategic patches, server-side apply, delete) and every input
//! the fuzzer once crashed on (`tests/fuzz-regressions/`) get a status, never a panic.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandbox::fuzzing::request;

fn req(method: u8, content_type: u8, uri: &str, body: &str) -> Vec<u8> {
    let mut data = vec![method, content_type];
    data.extend_from_slice(uri.as_bytes());
    data.push(0);
    data.extend_from_slice(body.as_bytes());
    data
}

#[test]
fn requests_of_every_kind_get_a_status() {
    let cases = [
        (
            req(
                0,
                0,
                "/api/v1/namespaces/default/configmaps?labelSelector=a%3Db,c!%3Dd&fieldSelector=metadata.name%3Dx",
                "",
            ),
            200,
        ),
        (
            req(
                1,
                0,
                "/api/v1/namespaces/default/configmaps",
                r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"}}"#,
            ),
            201,
        ),
        (
            req(
                3,
                2,
                "/api/v1/namespaces/default/configmaps/c",
                r#"[{"op":"add","path":"/data/x","value":"y"}]"#,
            ),
            200,
        ),
        (
            req(
                3,
                2,
                "/api/v1/namespaces/default/configmaps/c",
                r#"[{"op":"remove","path":"/nope/0"}]"#,
            ),
            422,
        ),
        (
            req(
                3,
                4,
                "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=f&force=true",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}, {name: d, image: i}]}}}\n",
            ),
            201,
        ),
        (
            req(
                3,
                3,
                "/apis/apps/v1/namespaces/default/deployments/web",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","$patch":"delete"}]}}}}"#,
            ),
            200,
        ),
        (
            req(
                0,
                0,
                "/api/v1/namespaces/default/configmaps?labelSelector=%3D%3D%3D",
                "",
            ),
            400,
        ),
        (
            req(
                4,
                0,
                "/api/v1/namespaces/default/configmaps/c?propagationPolicy=Foreground",
                "",
            ),
            200,
        ),
    ];
    for (data, status) in cases {
        assert_eq!(
            request(&data),
            Some(status),
            "{}",
            String::from_utf8_lossy(&data)
        );
    }
    // Garbage protobuf is refused, whatever the kind.
    let garbage = request(&req(
        1,
        6,
        "/api/v1/namespaces/default/configmaps",
        "\u{0}\u{1}garbage",
    ));
    assert!(
        garbage.is_some_and(|s| (400..500).contains(&s)),
        "{garbage:?}"
    );
    assert_eq!(
        request(&req(0, 0, "/api/v1/configmaps?watch=true", "")),
        None
    );
}

#[test]
fn inputs_the_fuzzer_found_get_a_status() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let data = std::fs::read(entry.path()).unwrap();
        let _ = request(&data);
    }
}
