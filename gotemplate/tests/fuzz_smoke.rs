//! Replays the render fuzz target on stable: templates of every construct and every input the
//! fuzzer once crashed on (`tests/fuzz-regressions/`) render or fail, never panic.

use gotemplate::fuzzing::render;

#[test]
fn templates_of_every_construct_render_or_fail() {
    let ok = [
        "{{ range $k, $v := .Objects }}{{ $k.Kind }}{{ range $v }}{{ .OldValue }}{{ end }}{{ end }}",
        "{{ .Who }} {{ .Values.k }} {{ toJson .List }} {{ .Objects | toString | sha256sum }}",
        "{{ define \"x\" }}{{ . }}{{ end }}{{ template \"x\" .List }}",
    ];
    for t in ok {
        assert!(render(t.as_bytes()).is_some(), "{t}");
    }
    let failing = [
        "{{ .Nope }}",
        "{{ index .List 9 }}",
        "{{ toJson .Objects | fail }}",
    ];
    for t in failing {
        assert!(render(t.as_bytes()).is_none(), "{t}");
    }
}

#[test]
fn past_fuzz_findings_do_not_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let data = std::fs::read(entry.path()).unwrap_or_default();
        let _ = render(&data);
    }
}
